//! One incident pass: take the router lock, read both sides, plan with
//! [`plan_tickets`](crate::plan::plan_tickets), write the store, create, note and resolve
//! tickets, record the results.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

use super::IncidentRouter;
use super::report::{AlertOutcome, IncidentReport, TicketOutcome};
use crate::engine::throttle::{Throttle, after, credentials};
use crate::engine::{Actor, ApplyMode, FailureKind, NextRun, Stop, SyncError};
use crate::model::{
    Alert, AlertUid, AuditAction, AuditEntry, AuditFilter, CaseState, CaseUpdate, Device,
    IncidentState, IncidentUpdate, IntegrationMode, SyncConfig, SyncStatus, SysId, TicketKind,
    TicketRecord, TicketRecordState, TicketTemplate,
};
use crate::plan::{
    ListedTicket, ListedTickets, PlannedTicket, RoutingIndex, StoreChange, TicketBody,
    TicketDecision, TicketInputs, TicketListing, TicketPlan, plan_tickets,
};
use crate::ports::{ApiError, ApiErrorKind, IncidentQuery, PageRequest, collect_all};

/// The actor of the router's own audit entries.
pub(crate) const ROUTER_ACTOR: &str = "system:incident-router";

/// A remote write to make: a planned create, note or resolve.
type Work = PlannedTicket;

fn describe(work: &Work) -> String {
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
struct Split {
    put: Vec<TicketRecord>,
    remove: Vec<AlertUid>,
    work: Vec<Work>,
    lines: Vec<AlertOutcome>,
}

fn split(plan: TicketPlan) -> Split {
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

/// Whether a problem with a read stops the pass (credentials) or only leaves things unknown.
fn read_failure(api: &str, what: &str, err: &ApiError) -> Result<String, Stop> {
    if err.kind().is_auth() {
        tracing::error!(error = %err, "{api} refused the integration's credentials");
        return Err(credentials(api, err));
    }
    tracing::warn!(error = %err, "could not list {what}");
    Ok(format!("could not list {api}'s {what}: {err}"))
}

impl IncidentRouter {
    pub(super) async fn pass(
        &self,
        apply: ApplyMode,
        approver: Option<&Actor>,
    ) -> Result<IncidentReport, SyncError> {
        let started = self.clock.now();
        let mut report = IncidentReport::start(apply, started);
        let mode = self
            .store
            .mode()
            .await
            .map_err(SyncError::store("could not read the integration mode"))?;
        if mode == IntegrationMode::Disabled {
            tracing::info!("the integration is disabled: no incident pass");
            report.finish(self.clock.now());
            return Ok(report);
        }
        // One router at a time: the records are read under the lock, so a second pass cannot
        // decide from records the first is about to change. A dry run writes nothing and
        // takes no lock.
        let guard = if apply == ApplyMode::Apply {
            let id = self.settings.integration_id();
            let taken = self
                .store
                .lock_router(id)
                .await
                .map_err(SyncError::store("could not take the incident router lock"))?;
            let Some(guard) = taken else {
                tracing::warn!(
                    integration = id,
                    "another incident router holds the lock: this pass does nothing"
                );
                report.stop = Some(Stop::RouterBusy {
                    integration_id: id.to_owned(),
                });
                report.next_run = NextRun::At(after(started, self.settings.retry.initial));
                report.finish(self.clock.now());
                return Ok(report);
            };
            Some(guard)
        } else {
            None
        };
        let result = self.pass_locked(apply, approver, &mut report).await;
        if let Some(guard) = guard
            && let Err(err) = guard.release().await
        {
            tracing::warn!(error = %err, "could not release the incident router lock; it ends with the session");
        }
        result?;
        report.finish(self.clock.now());
        Ok(report)
    }

    async fn pass_locked(
        &self,
        apply: ApplyMode,
        approver: Option<&Actor>,
        report: &mut IncidentReport,
    ) -> Result<(), SyncError> {
        let configs = self
            .store
            .configs()
            .await
            .map_err(SyncError::store("could not read the configurations"))?;
        let records: BTreeMap<AlertUid, TicketRecord> = self
            .store
            .ticket_records()
            .await
            .map_err(SyncError::store(
                "could not read the alert → ticket records",
            ))?
            .into_iter()
            .map(|r| (r.alert.clone(), r))
            .collect();
        let routable = configs.iter().any(|c| {
            c.status() == SyncStatus::Active && c.allow_incidents() && c.company().is_some()
        });
        if !routable && records.is_empty() {
            tracing::info!("no configuration allows incidents and no ticket is recorded");
            return Ok(());
        }
        // Without its templates a pass would raise tickets unassigned and unfiltered: a store
        // that cannot read them fails the pass instead.
        let templates = self
            .store
            .ticket_templates()
            .await
            .map_err(SyncError::store("could not read the ticket templates"))?;
        match self
            .read_and_plan(&configs, &templates, &records, routable, report)
            .await
        {
            Ok(Some(mut plan)) => {
                self.guard_resolves(&mut plan, apply, approver, report)
                    .await?;
                self.apply(split(plan), apply, report).await
            }
            Ok(None) => Ok(()),
            Err(stop) => {
                report.stop = Some(stop);
                Ok(())
            }
        }
    }

    /// The resolve guard: releases held resolves for an approver, and audits what it holds
    /// and what was approved (an applied pass only; a dry run writes nothing).
    async fn guard_resolves(
        &self,
        plan: &mut TicketPlan,
        apply: ApplyMode,
        approver: Option<&Actor>,
        report: &mut IncidentReport,
    ) -> Result<(), SyncError> {
        if !plan.needs_approval() {
            report.resolve_guard = plan.guard;
            return Ok(());
        }
        let now = self.clock.now();
        let mut entries = Vec::new();
        if let Some(actor) = approver {
            // The approval releases what was held and audited before it, never more: a
            // listing that emptied further since is held again, for a new approval.
            let audited = self.last_hold().await;
            let approved = |t: &SysId| audited.contains(t.as_str());
            let released: Vec<serde_json::Value> = plan
                .held()
                .filter(|item| held_ticket(item).is_some_and(approved))
                .map(held_json)
                .collect();
            plan.release_held_where(approved);
            if !released.is_empty() {
                report.approved_by = Some(actor.name().to_owned());
                tracing::info!(
                    approver = actor.name(),
                    resolves = released.len(),
                    "held resolves approved"
                );
                let counts = json!({
                    "open": plan.guard.open,
                    "resolves": plan.guard.resolves,
                    "limit": plan.guard.limit,
                    "tickets": released,
                });
                entries.push(
                    AuditEntry::applied(now, actor.name(), AuditAction::ApproveResolves)
                        .with_states(None, Some(counts)),
                );
            }
        }
        report.resolve_guard = plan.guard;
        if plan.needs_approval() {
            let held: Vec<serde_json::Value> = plan.held().map(held_json).collect();
            tracing::warn!(
                resolves = held.len(),
                open = plan.guard.open,
                limit = plan.guard.limit,
                "the resolve guard holds this pass's resolves until an administrator approves them"
            );
            let counts = json!({
                "open": plan.guard.open,
                "resolves": plan.guard.resolves,
                "limit": plan.guard.limit,
                "tickets": held,
            });
            let entry = AuditEntry::applied(now, ROUTER_ACTOR, AuditAction::HoldResolves)
                .with_states(None, Some(counts));
            if !self.holds_as_audited(&entry).await {
                entries.push(entry);
            }
        }
        if apply == ApplyMode::Apply && !entries.is_empty() {
            self.store
                .append_audit(entries)
                .await
                .map_err(SyncError::store("could not audit the resolve guard"))?;
        }
        Ok(())
    }

    /// The tickets of the router's last audited hold (none when its last entry is not one,
    /// or the audit log cannot be read: then nothing is approved).
    async fn last_hold(&self) -> std::collections::BTreeSet<String> {
        let filter = AuditFilter::all().actor(ROUTER_ACTOR).limit(1);
        match self.store.audit(&filter).await {
            Ok(last) => last
                .last()
                .filter(|e| e.action == AuditAction::HoldResolves)
                .and_then(|e| e.after.as_ref())
                .and_then(|after| after["tickets"].as_array())
                .map(|tickets| {
                    tickets
                        .iter()
                        .filter_map(|t| t["ticket"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the audit log; no held resolve is approved");
                std::collections::BTreeSet::new()
            }
        }
    }

    /// Whether `entry` is a hold the router's last audit entry already records (the same
    /// tickets held pass after pass): audited once, not once per pass.
    async fn holds_as_audited(&self, entry: &AuditEntry) -> bool {
        if entry.action != AuditAction::HoldResolves {
            return false;
        }
        let filter = AuditFilter::all().actor(ROUTER_ACTOR).limit(1);
        match self.store.audit(&filter).await {
            Ok(last) => last.last().is_some_and(|previous| {
                previous.action == AuditAction::HoldResolves
                    && previous.after.as_ref().map(|a| &a["tickets"])
                        == entry.after.as_ref().map(|a| &a["tickets"])
            }),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the audit log; the hold is audited again");
                false
            }
        }
    }

    /// Reads alerts, devices and tickets and plans. `Ok(None)`: nothing can be decided (the
    /// alert listing failed).
    async fn read_and_plan(
        &self,
        configs: &[SyncConfig],
        templates: &[TicketTemplate],
        records: &BTreeMap<AlertUid, TicketRecord>,
        routable: bool,
        report: &mut IncidentReport,
    ) -> Result<Option<TicketPlan>, Stop> {
        let now = self.clock.now();
        let retry_at = || after(now, self.settings.retry.initial);
        let ci_records = match self.store.ci_records().await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the CI records; incidents go without cmdb_ci");
                Vec::new()
            }
        };
        let page = match self.ninja.alerts().await {
            Ok(page) => page,
            Err(err) => {
                report
                    .listing_problems
                    .push(read_failure("NinjaOne", "alerts", &err)?);
                report.next_run = report.next_run.min(NextRun::At(retry_at()));
                return Ok(None);
            }
        };
        let alerts_complete = page.rejected.is_empty();
        if !alerts_complete {
            report.listing_problems.push(format!(
                "{} of NinjaOne's alerts could not be decoded: no ticket is resolved in this pass",
                page.rejected.len()
            ));
        }
        let alerts = page.items;
        report.alerts = alerts.len();
        let first = PageRequest::first(self.settings.page_size);
        let max_pages = self.settings.max_pages;
        let devices: Vec<Device> = if routable && !alerts.is_empty() {
            match collect_all(first.clone(), max_pages, |p| self.ninja.devices(p)).await {
                Ok(listing) => {
                    if !listing.is_complete() {
                        report.listing_problems.push(format!(
                            "{} of NinjaOne's devices could not be decoded: their alerts are skipped",
                            listing.rejected.len()
                        ));
                    }
                    listing.items
                }
                Err(err) => {
                    report
                        .listing_problems
                        .push(read_failure("NinjaOne", "devices", &err)?);
                    report.next_run = report.next_run.min(NextRun::At(retry_at()));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let uses_cases = configs.iter().any(|c| {
            c.tickets() == TicketKind::Case
                && c.status() == SyncStatus::Active
                && c.allow_incidents()
        }) || records.values().any(|r| r.kind == TicketKind::Case);
        let csm = if uses_cases {
            match self.snow.customer_service_management().await {
                Ok(installed) => Some(installed),
                Err(err) => {
                    report.listing_problems.push(read_failure(
                        "ServiceNow",
                        "Customer Service Management plugin",
                        &err,
                    )?);
                    None
                }
            }
        } else {
            None
        };
        let index = RoutingIndex::new(&self.settings, &devices, configs, &ci_records, csm)
            .with_templates(templates);
        let tickets = self
            .list_tickets(&alerts, records, uses_cases, csm, report)
            .await?;
        let settings = &self.settings;
        let inputs = TicketInputs::new(&alerts, records, configs, &index, &tickets)
            .alerts_complete(alerts_complete)
            .texts(&settings.correlation_display, &settings.urgency_impact)
            .resolve_guard(settings.resolve_guard);
        Ok(Some(plan_tickets(&inputs, self.clock.now())))
    }

    /// Lists this integration's incidents (and cases) created since the oldest open alert or
    /// unfinished record, minus the margin.
    async fn list_tickets(
        &self,
        alerts: &[Alert],
        records: &BTreeMap<AlertUid, TicketRecord>,
        uses_cases: bool,
        csm: Option<bool>,
        report: &mut IncidentReport,
    ) -> Result<TicketListing, Stop> {
        let unfinished = |r: &&TicketRecord| {
            matches!(
                r.state,
                TicketRecordState::Creating | TicketRecordState::Open
            )
        };
        if alerts.is_empty() && !records.values().any(|r| unfinished(&r)) {
            // Nothing to look up: no alert to route, no ticket to resolve.
            return Ok(TicketListing {
                incidents: ListedTickets::none(),
                cases: ListedTickets::none(),
            });
        }
        // An alert without a time and without a record could have a ticket of any age.
        let unbounded = alerts
            .iter()
            .any(|a| a.create_time.is_none() && !records.contains_key(&a.uid));
        let since = if unbounded {
            None
        } else {
            alerts
                .iter()
                .filter_map(|a| a.create_time)
                .chain(records.values().filter(unfinished).map(|r| r.created_at))
                .min()
                // `oldest` comes from NinjaOne: a time near chrono's range must not overflow.
                .map(|oldest| {
                    oldest
                        .checked_sub_signed(self.settings.window_margin)
                        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
                })
        };
        let mut query = IncidentQuery::with_prefix(self.settings.prefix().clone());
        if let Some(since) = since {
            query = query.created_since(since);
        }
        let first = PageRequest::first(self.settings.page_size);
        let max_pages = self.settings.max_pages;
        let retry_at = after(self.clock.now(), self.settings.retry.initial);
        let prefix = self.settings.prefix().as_str();
        let incidents = collect_all(first.clone(), max_pages, |p| {
            let query = &query;
            async move {
                self.snow
                    .incidents(query, p)
                    .await
                    .map(|page| listed_rows(page, prefix, ListedTicket::incident))
            }
        })
        .await;
        let incidents = match incidents {
            Ok(listing) => ListedTickets::from_listing(listing, "incidents"),
            Err(err) => {
                let problem = read_failure("ServiceNow", "incidents", &err)?;
                report.next_run = report.next_run.min(NextRun::At(retry_at));
                ListedTickets::not_listed(&problem)
            }
        };
        let cases = if !uses_cases {
            ListedTickets::none()
        } else if csm == Some(true) {
            let listing = collect_all(first, max_pages, |p| {
                let query = &query;
                async move {
                    self.snow
                        .cases(query, p)
                        .await
                        .map(|page| listed_rows(page, prefix, ListedTicket::case))
                }
            })
            .await;
            match listing {
                Ok(listing) => ListedTickets::from_listing(listing, "cases"),
                Err(err) => {
                    let problem = read_failure("ServiceNow", "cases", &err)?;
                    report.next_run = report.next_run.min(NextRun::At(retry_at));
                    ListedTickets::not_listed(&problem)
                }
            }
        } else {
            ListedTickets::not_listed(
                "cases were not listed: Customer Service Management is not installed or could not be detected",
            )
        };
        for listed in [&incidents, &cases] {
            if let Some(problem) = listed.unknown()
                && !report.listing_problems.iter().any(|p| p == problem)
            {
                report.listing_problems.push(problem.to_owned());
            }
        }
        Ok(TicketListing::new(incidents, cases))
    }

    /// Writes the plan: phase 1 (records, before any remote write: `creating` records of
    /// creates, the new digests of notes, adoptions, prunes), then the remote writes with
    /// results recorded in batches.
    async fn apply(
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
        let mut throttle = Throttle::new(self.settings.concurrency);
        let mut queue: VecDeque<Work> = work.into();
        let mut in_flight = FuturesUnordered::new();
        let mut put: Vec<TicketRecord> = Vec::new();
        let mut remove: Vec<AlertUid> = Vec::new();
        let batch = self.settings.store_batch.max(1);
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

    /// One remote write.
    async fn send(&self, work: Work) -> (Work, Result<(SysId, Option<String>), ApiError>) {
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
    fn settle(
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
                    report.stop = Some(credentials("ServiceNow", &err));
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
                    "ServiceNow",
                    &err,
                    retry_after,
                    &self.settings.retry,
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
                    let until = after(now, self.settings.retry.initial);
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

/// The ticket a held line would resolve.
fn held_ticket(item: &PlannedTicket) -> Option<&SysId> {
    match &item.decision {
        TicketDecision::Held { ticket, .. } => Some(ticket),
        _ => None,
    }
}

/// A held line as the audit records it.
fn held_json(item: &PlannedTicket) -> serde_json::Value {
    json!({
        "alert": item.alert,
        "organization": item.organization,
        "ticket": held_ticket(item).or(item.ticket.as_ref()),
        "number": item.number,
    })
}

/// For a note that was not sent: its record with the digest it had before.
fn unnoted(work: &Work) -> Option<TicketRecord> {
    match (&work.decision, &work.store) {
        (TicketDecision::Note { previous, .. }, StoreChange::Put(record)) => {
            let mut record = record.clone();
            record.alert_digest.clone_from(previous);
            Some(record)
        }
        _ => None,
    }
}

fn record_line(record: &TicketRecord, outcome: TicketOutcome) -> AlertOutcome {
    AlertOutcome {
        alert: record.alert.clone(),
        organization: Some(record.organization),
        kind: Some(record.kind),
        ticket: record.ticket.clone(),
        number: record.number.clone(),
        outcome,
    }
}

fn work_line(work: &Work, outcome: TicketOutcome) -> AlertOutcome {
    AlertOutcome {
        alert: work.alert.clone(),
        organization: work.organization,
        kind: work.kind,
        ticket: work.ticket.clone(),
        number: work.number.clone(),
        outcome,
    }
}

/// A page of tickets as [`ListedTicket`]s, keeping only rows whose correlation id starts with
/// `prefix`: an implementation that ignores the query cannot make this pass adopt someone
/// else's ticket.
fn listed_rows<T>(
    page: crate::ports::Page<T>,
    prefix: &str,
    found: fn(T, &str) -> Option<ListedTicket>,
) -> crate::ports::Page<ListedTicket> {
    let items = page
        .items
        .into_iter()
        .filter_map(|row| found(row, prefix))
        .collect();
    crate::ports::Page::new(items, page.next).with_rejected(page.rejected)
}
