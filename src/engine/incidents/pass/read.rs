//! The pass's reads: NinjaOne's alerts and devices, the CSM detection and this
//! integration's tickets by correlation-id prefix, then the plan.

use std::collections::BTreeMap;

use crate::engine::incidents::IncidentRouter;
use crate::engine::incidents::report::IncidentReport;
use crate::engine::outcome::{NextRun, Stop};
use crate::engine::throttle::{after, credentials};
use crate::model::{
    Alert, AlertUid, Device, SyncConfig, SyncStatus, TicketKind, TicketRecord, TicketRecordState,
    TicketTemplate,
};
use crate::plan::{
    ListedTicket, ListedTickets, RoutingIndex, TicketInputs, TicketListing, TicketPlan,
    plan_tickets,
};
use crate::ports::{ApiError, IncidentQuery, Listing, PageRequest, Remote, collect_all};

/// Whether a problem with a read stops the pass (credentials) or only leaves things unknown.
fn read_failure(api: Remote, what: &str, err: &ApiError) -> Result<String, Stop> {
    if err.kind().is_auth() {
        tracing::error!(error = %err, "{api} refused the integration's credentials");
        return Err(credentials(api, err));
    }
    tracing::warn!(error = %err, "could not list {what}");
    Ok(format!("could not list {api}'s {what}: {err}"))
}

impl IncidentRouter {
    /// Reads alerts, devices and tickets and plans. `Ok(None)`: nothing can be decided (the
    /// alert listing failed).
    pub(super) async fn read_and_plan(
        &self,
        configs: &[SyncConfig],
        templates: &[TicketTemplate],
        records: &BTreeMap<AlertUid, TicketRecord>,
        routable: bool,
        report: &mut IncidentReport,
    ) -> Result<Option<TicketPlan>, Stop> {
        let now = self.clock.now();
        let retry_at = || after(now, self.options.retry.initial);
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
                    .push(read_failure(Remote::NinjaOne, "alerts", &err)?);
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
        let first = PageRequest::first(self.options.page_size);
        let max_pages = self.options.max_pages;
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
                        .push(read_failure(Remote::NinjaOne, "devices", &err)?);
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
                        Remote::ServiceNow,
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
        let first = PageRequest::first(self.options.page_size);
        let max_pages = self.options.max_pages;
        let retry_at = after(self.clock.now(), self.options.retry.initial);
        let incidents = self
            .listed_tickets(TicketKind::Incident, &query, first.clone(), max_pages)
            .await;
        let incidents = match incidents {
            Ok(listing) => ListedTickets::from_listing(listing, "incidents"),
            Err(err) => {
                let problem = read_failure(Remote::ServiceNow, "incidents", &err)?;
                report.next_run = report.next_run.min(NextRun::At(retry_at));
                ListedTickets::not_listed(&problem)
            }
        };
        let cases = if !uses_cases {
            ListedTickets::none()
        } else if csm == Some(true) {
            let listing = self
                .listed_tickets(TicketKind::Case, &query, first, max_pages)
                .await;
            match listing {
                Ok(listing) => ListedTickets::from_listing(listing, "cases"),
                Err(err) => {
                    let problem = read_failure(Remote::ServiceNow, "cases", &err)?;
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

    /// This integration's tickets of `kind` that `query` selects, every page from `first` (at
    /// most `max_pages`), rows of anyone else's dropped ([`listed_rows`]): the pass's listing
    /// and a delivery's lookup by correlation id.
    pub(in crate::engine::incidents) async fn listed_tickets(
        &self,
        kind: TicketKind,
        query: &IncidentQuery,
        first: PageRequest,
        max_pages: usize,
    ) -> Result<Listing<ListedTicket>, ApiError> {
        let prefix = self.settings.prefix().as_str();
        collect_all(first, max_pages, |p| async move {
            match kind {
                TicketKind::Incident => self
                    .snow
                    .incidents(query, p)
                    .await
                    .map(|page| listed_rows(page, prefix, ListedTicket::incident)),
                TicketKind::Case => self
                    .snow
                    .cases(query, p)
                    .await
                    .map(|page| listed_rows(page, prefix, ListedTicket::case)),
            }
        })
        .await
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
