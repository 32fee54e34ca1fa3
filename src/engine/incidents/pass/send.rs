//! One remote write of a pass (create, note or resolve an incident or a case) and how its
//! result settles: the line, the record change, the throttle and the stop.

use chrono::{DateTime, Utc};

use super::write::{Work, describe, record_line, work_line};
use crate::engine::incidents::IncidentRouter;
use crate::engine::incidents::report::{AlertOutcome, IncidentReport, TicketOutcome};
use crate::engine::outcome::{FailureKind, NextRun};
use crate::engine::throttle::{Throttle, after, credentials};
use crate::model::{
    AlertUid, CaseState, CaseUpdate, IncidentState, IncidentUpdate, SysId, TicketKind,
    TicketRecord, TicketRecordState,
};
use crate::plan::{StoreChange, TicketBody, TicketDecision};
use crate::ports::{ApiError, ApiErrorKind, Remote};

impl IncidentRouter {
    /// One remote write.
    pub(super) async fn send(
        &self,
        work: Work,
    ) -> (Work, Result<(SysId, Option<String>), ApiError>) {
        let snow = &self.snow;
        let settings = &self.settings;
        let result = match &work.decision {
            TicketDecision::Create(body) => match &**body {
                TicketBody::Incident(body) => snow
                    .create_incident(body)
                    .await
                    .map(|i| (i.sys_id, i.number)),
                TicketBody::Case(body) => {
                    snow.create_case(body).await.map(|c| (c.sys_id, c.number))
                }
            },
            TicketDecision::Resolve {
                kind: TicketKind::Incident,
                ticket,
            } => {
                let update = IncidentUpdate {
                    state: Some(IncidentState::Resolved),
                    close_code: Some(settings.incident_close_code.clone()),
                    close_notes: Some(settings.incident_close_notes.clone()),
                    work_notes: None,
                };
                snow.update_incident(ticket, &update)
                    .await
                    .map(|i| (i.sys_id, i.number))
            }
            TicketDecision::Resolve {
                kind: TicketKind::Case,
                ticket,
            } => {
                let update = CaseUpdate {
                    state: Some(CaseState::Resolved),
                    resolution_code: Some(settings.case_resolution_code.clone()),
                    close_notes: Some(settings.case_close_notes.clone()),
                    work_notes: None,
                };
                snow.update_case(ticket, &update)
                    .await
                    .map(|c| (c.sys_id, c.number))
            }
            TicketDecision::Note {
                kind: TicketKind::Incident,
                ticket,
                note,
                ..
            } => {
                let update = IncidentUpdate {
                    work_notes: Some(note.clone()),
                    ..IncidentUpdate::default()
                };
                snow.update_incident(ticket, &update)
                    .await
                    .map(|i| (i.sys_id, i.number))
            }
            TicketDecision::Note {
                kind: TicketKind::Case,
                ticket,
                note,
                ..
            } => {
                let update = CaseUpdate {
                    work_notes: Some(note.clone()),
                    ..CaseUpdate::default()
                };
                snow.update_case(ticket, &update)
                    .await
                    .map(|c| (c.sys_id, c.number))
            }
            // `split` queues only creates, notes and resolves; anything else is a bug here,
            // reported as a permanent failure of that line rather than a panic.
            other => Err(ApiError::new(
                ApiErrorKind::Other,
                format!("not a remote write: {other:?}"),
            )),
        };
        (work, result)
    }

    /// The result of one remote write: its line, and the record change to make.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle(
        &self,
        work: &Work,
        result: Result<(SysId, Option<String>), ApiError>,
        now: DateTime<Utc>,
        throttle: &mut Throttle,
        report: &mut IncidentReport,
        put: &mut Vec<TicketRecord>,
        remove: &mut Vec<AlertUid>,
    ) -> AlertOutcome {
        let err = match result {
            Ok((sys_id, number)) => {
                report.remote_writes += 1;
                return match (&work.decision, &work.store) {
                    (TicketDecision::Create(_), StoreChange::Put(creating)) => {
                        let mut record = creating.clone();
                        record.ticket = Some(sys_id);
                        record.number = number;
                        record.state = TicketRecordState::Open;
                        record.updated_at = now;
                        let line = record_line(&record, TicketOutcome::Created);
                        put.push(record);
                        line
                    }
                    (TicketDecision::Note { .. }, _) => {
                        // Recorded before it was sent.
                        let mut line = work_line(work, TicketOutcome::Noted);
                        line.number = number.or(line.number);
                        line
                    }
                    _ => {
                        // Resolved and the alert is gone: nothing left to track.
                        remove.push(work.alert.clone());
                        let mut line = work_line(work, TicketOutcome::Resolved);
                        line.number = number.or(line.number);
                        line
                    }
                };
            }
            Err(err) => err,
        };
        let kind = err.kind();
        let not_sent = matches!(kind, ApiErrorKind::RateLimited { .. }) || kind.is_auth();
        if !not_sent {
            // A failure after sending may have committed: count it as a write.
            report.remote_writes += 1;
        } else if let Some(record) = unnoted(work) {
            // Refused before it was applied: the note was not written, so the next pass
            // notes the change. (A failure that may have committed keeps the new digest: a
            // missed note rather than a duplicate.)
            put.push(record);
        }
        let what = describe(work);
        match kind {
            k if k.is_auth() => {
                if report.stop.is_none() {
                    tracing::error!(error = %err, "ServiceNow refused the integration's credentials");
                    report.stop = Some(credentials(Remote::ServiceNow, &err));
                }
                work_line(
                    work,
                    TicketOutcome::Deferred {
                        until: None,
                        reason: format!("the pass stopped: {err}"),
                    },
                )
            }
            ApiErrorKind::RateLimited { retry_after } => {
                let until = throttle.rate_limited(
                    Remote::ServiceNow,
                    &err,
                    retry_after,
                    &self.options.retry,
                    now,
                );
                report.next_run = report.next_run.min(NextRun::At(until));
                work_line(
                    work,
                    TicketOutcome::Deferred {
                        until: Some(until),
                        reason: format!("rate limited: {err}"),
                    },
                )
            }
            ApiErrorKind::NotFound if matches!(work.decision, TicketDecision::Resolve { .. }) => {
                // The ticket is gone: nothing left to resolve or track.
                remove.push(work.alert.clone());
                work_line(work, TicketOutcome::Pruned)
            }
            _ => {
                // The record keeps its state (`Creating`: the next pass looks before it
                // creates again; `Open`: it resolves again).
                let transient = kind.is_transient() || kind == ApiErrorKind::InvalidResponse;
                let kind = if transient {
                    let until = after(now, self.options.retry.initial);
                    report.next_run = report.next_run.min(NextRun::At(until));
                    FailureKind::Transient
                } else {
                    FailureKind::Permanent
                };
                tracing::warn!(error = %err, "could not {what}");
                work_line(
                    work,
                    TicketOutcome::Failed {
                        kind,
                        reason: format!("could not {what}: {err}"),
                    },
                )
            }
        }
    }
}

/// For a note that was not sent: its record with the digest it had before.
pub(super) fn unnoted(work: &Work) -> Option<TicketRecord> {
    match (&work.decision, &work.store) {
        (TicketDecision::Note { previous, .. }, StoreChange::Put(record)) => {
            let mut record = record.clone();
            record.alert_digest.clone_from(previous);
            Some(record)
        }
        _ => None,
    }
}
