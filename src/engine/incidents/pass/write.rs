//! The pass's writes: the plan split into record changes and remote writes, the records
//! saved before any remote write, then the writes with bounded concurrency and their results
//! saved in batches.

use std::collections::VecDeque;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::send::unnoted;
use crate::engine::SyncError;
use crate::engine::incidents::IncidentRouter;
use crate::engine::incidents::report::{AlertOutcome, IncidentReport, TicketOutcome};
use crate::engine::outcome::ApplyMode;
use crate::engine::throttle::Throttle;
use crate::model::{AlertUid, TicketRecord};
use crate::plan::{PlannedTicket, StoreChange, TicketBody, TicketDecision, TicketPlan};

/// A remote write to make: a planned create, note or resolve.
pub(super) type Work = PlannedTicket;

pub(super) fn describe(work: &Work) -> String {
    let name = || {
        work.number
            .clone()
            .or_else(|| work.ticket.as_ref().map(ToString::to_string))
            .unwrap_or_default()
    };
    match &work.decision {
        TicketDecision::Create(body) => match **body {
            TicketBody::Incident(_) => "create an incident".to_owned(),
            TicketBody::Case(_) => "create a case".to_owned(),
        },
        TicketDecision::Resolve { kind, .. } => format!("resolve {} {}", kind.as_str(), name()),
        TicketDecision::Note { kind, .. } => {
            format!("add a work note to {} {}", kind.as_str(), name())
        }
        other => format!("{other:?}"),
    }
}

/// The plan's record changes before any write, and its lines (writes apart).
#[derive(Debug, Default)]
pub(in crate::engine::incidents) struct Split {
    put: Vec<TicketRecord>,
    remove: Vec<AlertUid>,
    work: Vec<Work>,
    lines: Vec<AlertOutcome>,
}

pub(in crate::engine::incidents) fn split(plan: TicketPlan) -> Split {
    let mut out = Split::default();
    let reason = format!(
        "this pass would resolve {} of {} open ticket(s), more than the resolve guard's limit \
         of {}; an administrator approves them with approve_resolves",
        plan.guard.resolves, plan.guard.open, plan.guard.limit
    );
    for item in plan.items {
        match &item.store {
            StoreChange::Keep => {}
            StoreChange::Put(record) => out.put.push(record.clone()),
            StoreChange::Remove => out.remove.push(item.alert.clone()),
        }
        let outcome = match &item.decision {
            TicketDecision::Create(_)
            | TicketDecision::Note { .. }
            | TicketDecision::Resolve { .. } => {
                out.work.push(item);
                continue;
            }
            TicketDecision::Adopt { open } => TicketOutcome::Adopted { open: *open },
            TicketDecision::Held { .. } => TicketOutcome::Held {
                reason: reason.clone(),
            },
            TicketDecision::Unchanged => TicketOutcome::Unchanged,
            TicketDecision::FinishedElsewhere { reason } => TicketOutcome::FinishedElsewhere {
                reason: reason.clone(),
            },
            TicketDecision::Left { reason } => TicketOutcome::Left {
                reason: reason.clone(),
            },
            TicketDecision::Prune => TicketOutcome::Pruned,
            TicketDecision::Skip(reason) => TicketOutcome::Skipped {
                reason: reason.clone(),
            },
            TicketDecision::Unknown { reason } => TicketOutcome::Unknown {
                reason: reason.clone(),
            },
        };
        out.lines.push(work_line(&item, outcome));
    }
    out
}

impl IncidentRouter {
    /// Writes the plan: phase 1 (records, before any remote write: `creating` records of
    /// creates, the new digests of notes, adoptions, prunes), then the remote writes with
    /// results recorded in batches.
    pub(in crate::engine::incidents) async fn apply(
        &self,
        mut decided: Split,
        apply: ApplyMode,
        report: &mut IncidentReport,
    ) -> Result<(), SyncError> {
        if apply == ApplyMode::DryRun {
            for line in &mut decided.lines {
                if !matches!(
                    line.outcome,
                    TicketOutcome::Unchanged
                        | TicketOutcome::Skipped { .. }
                        | TicketOutcome::Unknown { .. }
                        | TicketOutcome::Held { .. }
                ) {
                    line.outcome = TicketOutcome::Planned {
                        action: format!("record: {}", line.outcome),
                    };
                }
            }
            for work in &decided.work {
                decided.lines.push(work_line(
                    work,
                    TicketOutcome::Planned {
                        action: describe(work),
                    },
                ));
            }
            report.outcomes = decided.lines;
            return Ok(());
        }
        let Split {
            put,
            remove,
            work,
            lines,
        } = decided;
        report.outcomes = lines;
        // Phase 1: every local change, in one batch.
        if !put.is_empty() || !remove.is_empty() {
            self.store
                .write_ticket_records(put, remove)
                .await
                .map_err(SyncError::store(
                    "could not save the alert → ticket records",
                ))?;
        }
        if work.is_empty() {
            return Ok(());
        }
        self.write_remote(work, report).await
    }

    /// Phase 2 and 3: creates, notes and resolves with bounded concurrency, results recorded
    /// in batches as they come.
    async fn write_remote(
        &self,
        work: Vec<Work>,
        report: &mut IncidentReport,
    ) -> Result<(), SyncError> {
        let mut throttle = Throttle::new(self.options.concurrency);
        let mut queue: VecDeque<Work> = work.into();
        let mut in_flight = FuturesUnordered::new();
        let mut put: Vec<TicketRecord> = Vec::new();
        let mut remove: Vec<AlertUid> = Vec::new();
        let batch = self.options.store_batch.max(1);
        loop {
            while report.stop.is_none() && throttle.may_start(in_flight.len()) {
                let Some(work) = queue.pop_front() else { break };
                in_flight.push(self.send(work));
            }
            let Some((work, result)) = in_flight.next().await else {
                break;
            };
            let now = self.clock.now();
            let line = self.settle(
                &work,
                result,
                now,
                &mut throttle,
                report,
                &mut put,
                &mut remove,
            );
            tracing::info!(alert = %line.alert, outcome = %line.outcome, "ticket");
            report.outcomes.push(line);
            if put.len() + remove.len() >= batch {
                self.record(&mut put, &mut remove).await?;
            }
        }
        for work in queue {
            // A note not sent: its record takes back the digest before it, so the next pass
            // notes the change.
            if let Some(record) = unnoted(&work) {
                put.push(record);
            }
            let outcome = match (throttle.deferred(), &report.stop) {
                (Some((why, until)), _) => TicketOutcome::Deferred {
                    until: Some(*until),
                    reason: why.clone(),
                },
                (None, Some(stop)) => TicketOutcome::Deferred {
                    until: None,
                    reason: format!("the pass stopped: {stop}"),
                },
                (None, None) => TicketOutcome::Deferred {
                    until: None,
                    reason: "not attempted in this pass".to_owned(),
                },
            };
            report.outcomes.push(work_line(&work, outcome));
        }
        self.record(&mut put, &mut remove).await
    }

    async fn record(
        &self,
        put: &mut Vec<TicketRecord>,
        remove: &mut Vec<AlertUid>,
    ) -> Result<(), SyncError> {
        if put.is_empty() && remove.is_empty() {
            return Ok(());
        }
        self.store
            .write_ticket_records(std::mem::take(put), std::mem::take(remove))
            .await
            .map_err(SyncError::store(
                "could not save the results of the ticket writes",
            ))
    }
}

pub(super) fn record_line(record: &TicketRecord, outcome: TicketOutcome) -> AlertOutcome {
    AlertOutcome {
        alert: record.alert.clone(),
        organization: Some(record.organization),
        kind: Some(record.kind),
        ticket: record.ticket.clone(),
        number: record.number.clone(),
        outcome,
    }
}

pub(super) fn work_line(work: &Work, outcome: TicketOutcome) -> AlertOutcome {
    AlertOutcome {
        alert: work.alert.clone(),
        organization: work.organization,
        kind: work.kind,
        ticket: work.ticket.clone(),
        number: work.number.clone(),
        outcome,
    }
}
