//! One incident pass: read both sides, decide per alert and per record, write the store,
//! create and resolve tickets, record the results.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::IncidentRouter;
use super::report::{AlertOutcome, IncidentReport, TicketOutcome};
use super::route::{RouteDecision, RoutingIndex, TicketBody, route};
use crate::engine::throttle::{Throttle, after, credentials};
use crate::engine::{ApplyMode, FailureKind, NextRun, Stop, SyncError};
use crate::model::{
    Alert, AlertUid, Case, CaseState, CaseUpdate, Device, Incident, IncidentState, IncidentUpdate,
    IntegrationMode, OrganizationId, SyncConfig, SyncStatus, SysId, TicketKind, TicketRecord,
    TicketRecordState, TicketTemplate,
};
use crate::ports::{
    ApiError, ApiErrorKind, IncidentQuery, Listing, PageRequest, StoreErrorKind, collect_all,
};

/// A ticket found in a listing.
#[derive(Debug, Clone)]
struct Found {
    correlation: String,
    sys_id: SysId,
    number: Option<String>,
    kind: TicketKind,
    finished: bool,
    state: String,
    created_on: Option<DateTime<Utc>>,
}

impl Found {
    /// An incident of this integration (its correlation id starts with `prefix`).
    fn incident(i: Incident, prefix: &str) -> Option<Self> {
        let correlation = i.correlation_id.filter(|c| c.starts_with(prefix))?;
        Some(Self {
            correlation,
            finished: i.state.is_finished(),
            state: i.state.to_string(),
            sys_id: i.sys_id,
            number: i.number,
            kind: TicketKind::Incident,
            created_on: i.created_on,
        })
    }

    /// A case of this integration.
    fn case(c: Case, prefix: &str) -> Option<Self> {
        let correlation = c.correlation_id.filter(|id| id.starts_with(prefix))?;
        Some(Self {
            correlation,
            finished: c.state.is_finished(),
            state: c.state.to_string(),
            sys_id: c.sys_id,
            number: c.number,
            kind: TicketKind::Case,
            created_on: c.created_on,
        })
    }

    fn name(&self) -> String {
        self.number
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.kind.as_str(), self.sys_id))
    }
}

/// This integration's tickets of one kind, by correlation id; or why they are not known.
#[derive(Debug, Default)]
struct Listed {
    by_correlation: HashMap<String, Vec<Found>>,
    /// `None`: complete (or not needed); `Some(reason)`: failed, incomplete or not listed.
    unknown: Option<String>,
}

impl Listed {
    fn not_listed(reason: &str) -> Self {
        Self {
            by_correlation: HashMap::new(),
            unknown: Some(reason.to_owned()),
        }
    }

    fn from_listing(listing: Listing<Found>, what: &str) -> Self {
        let unknown = (!listing.is_complete()).then(|| {
            format!(
                "{} ServiceNow {what} could not be decoded, so an alert's ticket may be among them",
                listing.rejected.len()
            )
        });
        let mut by_correlation: HashMap<String, Vec<Found>> = HashMap::new();
        for found in listing.items {
            by_correlation
                .entry(found.correlation.clone())
                .or_default()
                .push(found);
        }
        for tickets in by_correlation.values_mut() {
            tickets.sort_by(|a, b| (a.created_on, &a.sys_id).cmp(&(b.created_on, &b.sys_id)));
        }
        Self {
            by_correlation,
            unknown,
        }
    }
}

/// Both listings.
#[derive(Debug)]
struct Tickets {
    incidents: Listed,
    cases: Listed,
}

impl Tickets {
    fn of(&self, kind: TicketKind) -> &Listed {
        match kind {
            TicketKind::Incident => &self.incidents,
            TicketKind::Case => &self.cases,
        }
    }

    /// The ticket with this correlation id: the one with `prefer`'s sys_id, else the oldest;
    /// incidents first, then cases.
    fn find(&self, correlation: &str, prefer: Option<&SysId>) -> Option<&Found> {
        let mut all = self
            .incidents
            .by_correlation
            .get(correlation)
            .into_iter()
            .chain(self.cases.by_correlation.get(correlation))
            .flatten();
        match prefer {
            Some(id) => {
                let candidates: Vec<&Found> = all.collect();
                candidates
                    .iter()
                    .find(|f| &f.sys_id == id)
                    .or(candidates.first())
                    .copied()
            }
            None => all.next(),
        }
    }
}

/// A remote write to make.
#[derive(Debug)]
enum Action {
    Create(Box<TicketBody>),
    Resolve { kind: TicketKind, ticket: SysId },
}

#[derive(Debug)]
struct Work {
    record: TicketRecord,
    action: Action,
}

impl Work {
    fn describe(&self) -> String {
        match &self.action {
            Action::Create(body) => match **body {
                TicketBody::Incident(_) => "create an incident".to_owned(),
                TicketBody::Case(_) => "create a case".to_owned(),
            },
            Action::Resolve { kind, ticket } => {
                let name = self
                    .record
                    .number
                    .clone()
                    .unwrap_or_else(|| ticket.to_string());
                format!("resolve {} {name}", kind.as_str())
            }
        }
    }
}

/// The decisions of a pass before any write.
#[derive(Debug, Default)]
struct Decided {
    put: Vec<TicketRecord>,
    remove: Vec<AlertUid>,
    work: Vec<Work>,
    lines: Vec<AlertOutcome>,
}

impl Decided {
    fn line(
        &mut self,
        record: Option<&TicketRecord>,
        alert: &AlertUid,
        org: Option<OrganizationId>,
        outcome: TicketOutcome,
    ) {
        self.lines.push(AlertOutcome {
            alert: alert.clone(),
            organization: record.map(|r| r.organization).or(org),
            kind: record.map(|r| r.kind),
            ticket: record.and_then(|r| r.ticket.clone()),
            number: record.and_then(|r| r.number.clone()),
            outcome,
        });
    }
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
    pub(super) async fn pass(&self, apply: ApplyMode) -> Result<IncidentReport, SyncError> {
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
            report.finish(self.clock.now());
            return Ok(report);
        }
        // Without its templates a pass would raise tickets unassigned and unfiltered: a store
        // that cannot read them fails the pass instead.
        let templates = self
            .store
            .ticket_templates()
            .await
            .map_err(SyncError::store("could not read the ticket templates"))?;
        match self
            .read_and_decide(&configs, &templates, &records, routable, &mut report)
            .await
        {
            Ok(Some(decided)) => self.apply(decided, apply, &mut report).await?,
            Ok(None) => {}
            Err(stop) => report.stop = Some(stop),
        }
        report.finish(self.clock.now());
        Ok(report)
    }

    /// Reads alerts, devices and tickets and decides. `Ok(None)`: nothing can be decided (the
    /// alert listing failed).
    async fn read_and_decide(
        &self,
        configs: &[SyncConfig],
        templates: &[TicketTemplate],
        records: &BTreeMap<AlertUid, TicketRecord>,
        routable: bool,
        report: &mut IncidentReport,
    ) -> Result<Option<Decided>, Stop> {
        let now = self.clock.now();
        let retry_at = || after(now, self.settings.retry.initial);
        let ci_records = match self.store.ci_records().await {
            Ok(records) => records,
            Err(err) => {
                if err.kind() != StoreErrorKind::Unsupported {
                    tracing::warn!(error = %err, "could not read the CI records; incidents go without cmdb_ci");
                }
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
        Ok(Some(self.decide(
            &alerts,
            alerts_complete,
            records,
            configs,
            &index,
            &tickets,
        )))
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
    ) -> Result<Tickets, Stop> {
        let unfinished = |r: &&TicketRecord| {
            matches!(
                r.state,
                TicketRecordState::Creating | TicketRecordState::Open
            )
        };
        if alerts.is_empty() && !records.values().any(|r| unfinished(&r)) {
            // Nothing to look up: no alert to route, no ticket to resolve.
            return Ok(Tickets {
                incidents: Listed::default(),
                cases: Listed::default(),
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
                .map(|oldest| oldest - self.settings.window_margin)
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
                    .map(|page| listed_rows(page, prefix, Found::incident))
            }
        })
        .await;
        let incidents = match incidents {
            Ok(listing) => Listed::from_listing(listing, "incidents"),
            Err(err) => {
                let problem = read_failure("ServiceNow", "incidents", &err)?;
                report.next_run = report.next_run.min(NextRun::At(retry_at));
                Listed::not_listed(&problem)
            }
        };
        let cases = if !uses_cases {
            Listed::default()
        } else if csm == Some(true) {
            let listing = collect_all(first, max_pages, |p| {
                let query = &query;
                async move {
                    self.snow
                        .cases(query, p)
                        .await
                        .map(|page| listed_rows(page, prefix, Found::case))
                }
            })
            .await;
            match listing {
                Ok(listing) => Listed::from_listing(listing, "cases"),
                Err(err) => {
                    let problem = read_failure("ServiceNow", "cases", &err)?;
                    report.next_run = report.next_run.min(NextRun::At(retry_at));
                    Listed::not_listed(&problem)
                }
            }
        } else {
            Listed::not_listed(
                "cases were not listed: Customer Service Management is not installed or could not be detected",
            )
        };
        for listed in [&incidents, &cases] {
            if let Some(problem) = &listed.unknown
                && !report.listing_problems.contains(problem)
            {
                report.listing_problems.push(problem.clone());
            }
        }
        Ok(Tickets { incidents, cases })
    }

    /// Decides, without I/O, what happens to each open alert and each record.
    fn decide(
        &self,
        alerts: &[Alert],
        alerts_complete: bool,
        records: &BTreeMap<AlertUid, TicketRecord>,
        configs: &[SyncConfig],
        index: &RoutingIndex,
        tickets: &Tickets,
    ) -> Decided {
        let now = self.clock.now();
        let mut d = Decided::default();
        let mut open: HashSet<&AlertUid> = HashSet::with_capacity(alerts.len());
        for alert in alerts {
            if !open.insert(&alert.uid) {
                continue; // a uid listed twice is decided once
            }
            let decision = route(alert, index);
            self.decide_open(
                alert,
                decision,
                records.get(&alert.uid),
                index,
                tickets,
                now,
                &mut d,
            );
        }
        let statuses: HashMap<OrganizationId, SyncStatus> = configs
            .iter()
            .map(|c| (c.organization(), c.status()))
            .collect();
        for record in records.values().filter(|r| !open.contains(&r.alert)) {
            if !alerts_complete {
                if matches!(
                    record.state,
                    TicketRecordState::Creating | TicketRecordState::Open
                ) {
                    let reason =
                        "NinjaOne's alert listing was incomplete: the alert may still be open"
                            .to_owned();
                    d.line(
                        Some(record),
                        &record.alert,
                        None,
                        TicketOutcome::Unknown { reason },
                    );
                }
                continue;
            }
            Self::decide_cleared(
                record,
                statuses.get(&record.organization).copied(),
                tickets,
                now,
                &mut d,
            );
        }
        d
    }

    #[allow(clippy::too_many_arguments, clippy::too_many_lines)]
    fn decide_open(
        &self,
        alert: &Alert,
        decision: RouteDecision,
        record: Option<&TicketRecord>,
        index: &RoutingIndex,
        tickets: &Tickets,
        now: DateTime<Utc>,
        d: &mut Decided,
    ) {
        let uid = &alert.uid;
        let organization = decision_organization(&decision);
        match record {
            None => {
                let correlation = self.settings.correlation_id(uid);
                let found = correlation
                    .as_ref()
                    .and_then(|c| tickets.find(c.as_str(), None));
                match (found, decision, organization, correlation) {
                    (Some(found), _, Some(org), Some(correlation)) => {
                        let mut adopted =
                            TicketRecord::creating(uid.clone(), org, found.kind, correlation, now);
                        adopt(&mut adopted, found, now);
                        let open = !found.finished;
                        d.line(Some(&adopted), uid, None, TicketOutcome::Adopted { open });
                        d.put.push(adopted);
                    }
                    (_, RouteDecision::Skip(reason), _, _) => {
                        d.line(None, uid, organization, TicketOutcome::Skipped { reason });
                    }
                    (_, decision @ RouteDecision::Create { .. }, Some(org), _) => {
                        self.plan_create(alert, &decision, None, org, index, tickets, now, d);
                    }
                    (_, RouteDecision::Create { .. }, None, _) => {
                        // A create decision always names its organization.
                    }
                }
            }
            Some(record) => match record.state {
                TicketRecordState::Creating => {
                    if let Some(found) = tickets.find(record.correlation_id.as_str(), None) {
                        let mut adopted = record.clone();
                        adopt(&mut adopted, found, now);
                        let open = !found.finished;
                        d.line(Some(&adopted), uid, None, TicketOutcome::Adopted { open });
                        d.put.push(adopted);
                    } else if let Some(reason) = &tickets.of(record.kind).unknown {
                        d.line(
                            Some(record),
                            uid,
                            None,
                            TicketOutcome::Unknown {
                                reason: reason.clone(),
                            },
                        );
                    } else {
                        match decision {
                            RouteDecision::Skip(reason) => {
                                // The create never happened and the alert no longer routes.
                                d.remove.push(uid.clone());
                                d.line(
                                    Some(record),
                                    uid,
                                    organization,
                                    TicketOutcome::Skipped { reason },
                                );
                            }
                            decision @ RouteDecision::Create { .. } => {
                                let org = organization.unwrap_or(record.organization);
                                self.plan_create(
                                    alert,
                                    &decision,
                                    Some(record),
                                    org,
                                    index,
                                    tickets,
                                    now,
                                    d,
                                );
                            }
                        }
                    }
                }
                TicketRecordState::Open => {
                    match tickets.find(record.correlation_id.as_str(), record.ticket.as_ref()) {
                        Some(found) if found.finished => {
                            let mut finished = record.clone();
                            finished.state = TicketRecordState::FinishedElsewhere;
                            finished.updated_at = now;
                            let reason = format!(
                                "{} is {} while the alert is open",
                                found.name(),
                                found.state
                            );
                            d.line(
                                Some(&finished),
                                uid,
                                None,
                                TicketOutcome::FinishedElsewhere { reason },
                            );
                            d.put.push(finished);
                        }
                        None if tickets.of(record.kind).unknown.is_none() => {
                            let mut finished = record.clone();
                            finished.state = TicketRecordState::FinishedElsewhere;
                            finished.updated_at = now;
                            let reason = "the ticket is gone from ServiceNow (deleted?) while the alert is open".to_owned();
                            d.line(
                                Some(&finished),
                                uid,
                                None,
                                TicketOutcome::FinishedElsewhere { reason },
                            );
                            d.put.push(finished);
                        }
                        // Open, or not known in this pass: nothing to do.
                        Some(_) | None => d.line(Some(record), uid, None, TicketOutcome::Unchanged),
                    }
                }
                TicketRecordState::Resolved | TicketRecordState::FinishedElsewhere => {
                    d.line(Some(record), uid, None, TicketOutcome::Unchanged);
                }
            },
        }
    }

    /// A create (or a create again, after one that never happened), when the listing of its
    /// kind is known.
    #[allow(clippy::too_many_arguments)]
    fn plan_create(
        &self,
        alert: &Alert,
        decision: &RouteDecision,
        record: Option<&TicketRecord>,
        organization: OrganizationId,
        index: &RoutingIndex,
        tickets: &Tickets,
        now: DateTime<Utc>,
        d: &mut Decided,
    ) {
        let uid = &alert.uid;
        let RouteDecision::Create {
            kind,
            correlation_id,
            ..
        } = &decision
        else {
            return;
        };
        if let Some(reason) = &tickets.of(*kind).unknown {
            let line = AlertOutcome {
                alert: uid.clone(),
                organization: Some(organization),
                kind: Some(*kind),
                ticket: None,
                number: None,
                outcome: TicketOutcome::Unknown {
                    reason: format!("not created: {reason}"),
                },
            };
            d.lines.push(line);
            return;
        }
        let Some(body) = TicketBody::build(alert, decision, index, &self.settings) else {
            return;
        };
        let mut creating = TicketRecord::creating(
            uid.clone(),
            organization,
            *kind,
            correlation_id.clone(),
            now,
        );
        if let Some(previous) = record {
            // Keep the first time: it bounds the listing window of later passes.
            creating.created_at = previous.created_at;
        }
        d.work.push(Work {
            record: creating,
            action: Action::Create(Box::new(body)),
        });
    }

    /// What happens to a record whose alert is gone.
    fn decide_cleared(
        record: &TicketRecord,
        status: Option<SyncStatus>,
        tickets: &Tickets,
        now: DateTime<Utc>,
        d: &mut Decided,
    ) {
        let uid = &record.alert;
        let mut record = record.clone();
        if record.state == TicketRecordState::Creating {
            match tickets.find(record.correlation_id.as_str(), None) {
                Some(found) => adopt(&mut record, found, now),
                None if tickets.of(record.kind).unknown.is_none() => {
                    d.remove.push(uid.clone());
                    d.line(Some(&record), uid, None, TicketOutcome::Pruned);
                    return;
                }
                None => {
                    let reason = tickets.of(record.kind).unknown.clone().unwrap_or_default();
                    d.line(Some(&record), uid, None, TicketOutcome::Unknown { reason });
                    return;
                }
            }
        }
        if record.state != TicketRecordState::Open {
            // Finished by us or by a person, and the alert is gone: nothing left to track.
            d.remove.push(uid.clone());
            d.line(Some(&record), uid, None, TicketOutcome::Pruned);
            return;
        }
        match status {
            None | Some(SyncStatus::Deleted) => {
                let reason = format!(
                    "organization {}'s sync configuration is deleted; the ticket is no longer tracked",
                    record.organization
                );
                d.remove.push(uid.clone());
                d.line(Some(&record), uid, None, TicketOutcome::Left { reason });
                return;
            }
            Some(SyncStatus::Inactive) => {
                let reason = format!(
                    "organization {}'s sync configuration is inactive; it is resolved once resumed",
                    record.organization
                );
                d.line(Some(&record), uid, None, TicketOutcome::Left { reason });
                return;
            }
            Some(_) => {}
        }
        match tickets.find(record.correlation_id.as_str(), record.ticket.as_ref()) {
            Some(found) if !found.finished => {
                let ticket = found.sys_id.clone();
                record.ticket = Some(ticket.clone());
                record.kind = found.kind;
                let kind = found.kind;
                d.work.push(Work {
                    record,
                    action: Action::Resolve { kind, ticket },
                });
            }
            Some(_) => {
                d.remove.push(uid.clone());
                d.line(Some(&record), uid, None, TicketOutcome::Pruned);
            }
            None if tickets.of(record.kind).unknown.is_none() => {
                d.remove.push(uid.clone());
                d.line(Some(&record), uid, None, TicketOutcome::Pruned);
            }
            None => {
                let reason = tickets.of(record.kind).unknown.clone().unwrap_or_default();
                d.line(Some(&record), uid, None, TicketOutcome::Unknown { reason });
            }
        }
    }

    /// Writes the decisions: phase 1 (records, before any remote write), then the remote
    /// writes with results recorded in batches.
    async fn apply(
        &self,
        mut decided: Decided,
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
                        action: work.describe(),
                    },
                ));
            }
            report.outcomes = decided.lines;
            return Ok(());
        }
        let Decided {
            mut put,
            remove,
            work,
            lines,
        } = decided;
        report.outcomes = lines;
        // Phase 1: every local change, and a `Creating` record for every create, in one batch.
        put.extend(
            work.iter()
                .filter(|w| matches!(w.action, Action::Create(_)))
                .map(|w| w.record.clone()),
        );
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

    /// Phase 2 and 3: creates and resolves with bounded concurrency, results recorded in
    /// batches as they come.
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
                work,
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
        let result = match &work.action {
            Action::Create(body) => match &**body {
                TicketBody::Incident(body) => snow
                    .create_incident(body)
                    .await
                    .map(|i| (i.sys_id, i.number)),
                TicketBody::Case(body) => {
                    snow.create_case(body).await.map(|c| (c.sys_id, c.number))
                }
            },
            Action::Resolve {
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
            Action::Resolve {
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
        };
        (work, result)
    }

    /// The result of one remote write: its line, and the record change to make.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        work: Work,
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
                let mut record = work.record;
                return match work.action {
                    Action::Create(_) => {
                        record.ticket = Some(sys_id);
                        record.number = number;
                        record.state = TicketRecordState::Open;
                        record.updated_at = now;
                        let line = record_line(&record, TicketOutcome::Created);
                        put.push(record);
                        line
                    }
                    Action::Resolve { .. } => {
                        // Resolved and the alert is gone: nothing left to track.
                        record.number = number.or(record.number);
                        remove.push(record.alert.clone());
                        record_line(&record, TicketOutcome::Resolved)
                    }
                };
            }
            Err(err) => err,
        };
        let kind = err.kind();
        if !matches!(kind, ApiErrorKind::RateLimited { .. }) && !kind.is_auth() {
            // A failure after sending may have committed: count it as a write.
            report.remote_writes += 1;
        }
        let what = work.describe();
        match kind {
            k if k.is_auth() => {
                if report.stop.is_none() {
                    tracing::error!(error = %err, "ServiceNow refused the integration's credentials");
                    report.stop = Some(credentials("ServiceNow", &err));
                }
                work_line(
                    &work,
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
                    &work,
                    TicketOutcome::Deferred {
                        until: Some(until),
                        reason: format!("rate limited: {err}"),
                    },
                )
            }
            ApiErrorKind::NotFound if matches!(work.action, Action::Resolve { .. }) => {
                // The ticket is gone: nothing left to resolve or track.
                remove.push(work.record.alert.clone());
                record_line(&work.record, TicketOutcome::Pruned)
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
                    &work,
                    TicketOutcome::Failed {
                        kind,
                        reason: format!("could not {what}: {err}"),
                    },
                )
            }
        }
    }
}

fn decision_organization(decision: &RouteDecision) -> Option<OrganizationId> {
    use super::route::SkipReason;
    match decision {
        RouteDecision::Create { organization, .. }
        | RouteDecision::Skip(
            SkipReason::Unmapped { organization }
            | SkipReason::NotActive { organization, .. }
            | SkipReason::IncidentsNotAllowed { organization }
            | SkipReason::CasesNeedAccount { organization }
            | SkipReason::CasesNeedCustomerService { organization },
        ) => Some(*organization),
        RouteDecision::Skip(_) => None,
    }
}

/// Records a found ticket on a record: open, or finished elsewhere.
fn adopt(record: &mut TicketRecord, found: &Found, now: DateTime<Utc>) {
    record.ticket = Some(found.sys_id.clone());
    record.number.clone_from(&found.number);
    record.kind = found.kind;
    record.state = if found.finished {
        TicketRecordState::FinishedElsewhere
    } else {
        TicketRecordState::Open
    };
    record.updated_at = now;
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
    record_line(&work.record, outcome)
}

/// A page of tickets as [`Found`]s, keeping only rows whose correlation id starts with
/// `prefix`: an implementation that ignores the query cannot make this pass adopt someone
/// else's ticket.
fn listed_rows<T>(
    page: crate::ports::Page<T>,
    prefix: &str,
    found: fn(T, &str) -> Option<Found>,
) -> crate::ports::Page<Found> {
    let items = page
        .items
        .into_iter()
        .filter_map(|row| found(row, prefix))
        .collect();
    crate::ports::Page::new(items, page.next).with_rejected(page.rejected)
}
