//! The event path: one NinjaOne activity (a webhook delivery) decided by the same planner a
//! pass uses, for that one alert, and executed by the same code.
//!
//! # Exactly once
//! - **Within one process**, deliveries of one alert take turns (a per-alert async lock), so
//!   a repeated or concurrent duplicate delivery sees the record the first one wrote (the
//!   `creating` record is stored before the create, the `open` record after it) and creates
//!   nothing. An applied pass waits for the deliveries in hand and holds new ones until it
//!   ends, so a pass never decides from a listing a delivery is about to change.
//! - **Out of order**, by `activityTime`: the latest RESET of each alert is remembered (in
//!   this process, the last few thousand alerts), and a TRIGGERED no later than it — a late
//!   retry of a trigger already resolved, or a trigger its reset overtook — is
//!   [`DeliveryOutcome::Ignored`]: no ticket for a condition that has reset. A stale
//!   TRIGGERED of an open ticket writes no note either
//!   ([`digest_matches`](crate::plan::digest_matches) orders by time). What the memory
//!   misses (a restart in between), the next pass resolves.
//! - **Across restarts**, the store's records and the look-before-create by correlation id
//!   (one ServiceNow query) make a redelivery adopt what an earlier, interrupted one created.
//! - **Limits**: deliveries handled by several processes for one alert at the same moment,
//!   or a delivery in one process racing a pass in another, are not serialised: both may
//!   find no record and no ticket and create one each. Run the receiver and the passes in
//!   one process (as `orgsync serve` does), or route each integration's deliveries to one
//!   process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as SyncMutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use futures_util::lock::{Mutex, OwnedMutexGuard};

use super::IncidentRouter;
use super::pass::{listed_rows, split};
use super::report::{AlertOutcome, IncidentReport, TicketOutcome};
use crate::engine::webhook::{Delivery, DeliveryOutcome};
use crate::engine::{ApplyMode, FailureKind, SyncError};
use crate::model::activity::{Activity, StatusCode};
use crate::model::{
    Alert, AlertUid, Device, IntegrationMode, OrganizationId, SyncConfig, TicketKind, TicketRecord,
    TicketRecordState,
};
use crate::plan::{
    ListedTicket, ListedTickets, RouteDecision, RoutingIndex, TicketInputs, TicketListing,
    digest_matches, plan_tickets, route,
};
use crate::ports::{ApiError, IncidentQuery, Listing, PageRequest, Remote, collect_all};

/// Who may touch which alert's records right now (in this process).
#[derive(Default)]
pub(crate) struct EventGate {
    state: SyncMutex<GateState>,
    /// Held by an applied pass for its whole run.
    pass: Arc<Mutex<()>>,
}

#[derive(Default)]
struct GateState {
    pass_running: bool,
    alerts: HashMap<AlertUid, Arc<Mutex<()>>>,
    /// Resolves made by deliveries since the last applied pass (the resolve guard's count).
    resolves: usize,
    /// The latest RESET seen of each alert (by `activityTime`), so a TRIGGERED older than it
    /// — a late retry, or a trigger the reset overtook — creates nothing. At most
    /// [`RESETS_KEPT`] alerts, the oldest resets forgotten first.
    resets: HashMap<AlertUid, DateTime<Utc>>,
}

/// How many alerts' latest resets an [`EventGate`] remembers (a few hundred KiB at most).
const RESETS_KEPT: usize = 4096;

impl std::fmt::Debug for EventGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("EventGate")
            .field("pass_running", &state.pass_running)
            .field("alerts_in_hand", &state.alerts.len())
            .finish_non_exhaustive()
    }
}

/// One delivery's turn at one alert.
pub(crate) struct AlertTurn<'g> {
    gate: &'g EventGate,
    uid: AlertUid,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for AlertTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut state = self.gate.lock();
        if state
            .alerts
            .get(&self.uid)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            state.alerts.remove(&self.uid);
        }
    }
}

/// An applied pass's turn: no delivery runs while it lives.
pub(crate) struct PassTurn<'g> {
    gate: &'g EventGate,
    held: Vec<OwnedMutexGuard<()>>,
    pass: Option<OwnedMutexGuard<()>>,
}

impl Drop for PassTurn<'_> {
    fn drop(&mut self) {
        self.held.clear();
        {
            let mut state = self.gate.lock();
            state.pass_running = false;
            state.resolves = 0;
            state.alerts.retain(|_, m| Arc::strong_count(m) > 1);
        }
        drop(self.pass.take());
    }
}

impl EventGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the alert's turn (after any pass in progress).
    pub(crate) async fn enter(&self, uid: &AlertUid) -> AlertTurn<'_> {
        loop {
            let mutex = {
                let mut state = self.lock();
                if state.pass_running {
                    None
                } else {
                    Some(Arc::clone(state.alerts.entry(uid.clone()).or_default()))
                }
            };
            match mutex {
                Some(mutex) => {
                    let guard = mutex.lock_owned().await;
                    return AlertTurn {
                        gate: self,
                        uid: uid.clone(),
                        guard: Some(guard),
                    };
                }
                None => drop(Arc::clone(&self.pass).lock_owned().await),
            }
        }
    }

    /// Waits for the deliveries in hand and holds new ones until the turn is dropped.
    pub(crate) async fn pass_turn(&self) -> PassTurn<'_> {
        let pass = Arc::clone(&self.pass).lock_owned().await;
        let in_hand: Vec<Arc<Mutex<()>>> = {
            let mut state = self.lock();
            state.pass_running = true;
            state.alerts.values().cloned().collect()
        };
        let mut held = Vec::with_capacity(in_hand.len());
        for mutex in in_hand {
            held.push(mutex.lock_owned().await);
        }
        PassTurn {
            gate: self,
            held,
            pass: Some(pass),
        }
    }

    /// Reserves one resolve under the guard's `limit`; `false` when the guard would hold it.
    fn reserve_resolve(&self, limit: usize) -> bool {
        let mut state = self.lock();
        if state.resolves >= limit {
            return false;
        }
        state.resolves += 1;
        true
    }

    /// Remembers that `uid` reset at `at` (keeping the latest).
    fn note_reset(&self, uid: &AlertUid, at: DateTime<Utc>) {
        let mut state = self.lock();
        if !state.resets.contains_key(uid)
            && state.resets.len() >= RESETS_KEPT
            && let Some(oldest) = state
                .resets
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(uid, _)| uid.clone())
        {
            state.resets.remove(&oldest);
        }
        let latest = state.resets.entry(uid.clone()).or_insert(at);
        *latest = (*latest).max(at);
    }

    /// The latest reset remembered of `uid`.
    fn reset_at(&self, uid: &AlertUid) -> Option<DateTime<Utc>> {
        self.lock().resets.get(uid).copied()
    }

    fn release_resolve(&self) {
        let mut state = self.lock();
        state.resolves = state.resolves.saturating_sub(1);
    }
}

/// What one event costs remotely, counted as the calls are made.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    servicenow: usize,
    ninjaone: usize,
}

fn outcome_of(line: AlertOutcome) -> DeliveryOutcome {
    let ticket = line.ticket.clone();
    let number = line.number.clone();
    match line.outcome {
        TicketOutcome::Created => match ticket {
            Some(ticket) => DeliveryOutcome::Created { ticket, number },
            None => DeliveryOutcome::Other(TicketOutcome::Created),
        },
        TicketOutcome::Adopted { .. } | TicketOutcome::Unchanged => {
            DeliveryOutcome::AlreadyTicketed { ticket, number }
        }
        TicketOutcome::Noted => DeliveryOutcome::Noted { ticket, number },
        TicketOutcome::Resolved => DeliveryOutcome::Resolved { ticket, number },
        TicketOutcome::Held { reason } => DeliveryOutcome::Held { reason },
        TicketOutcome::Skipped { reason } => DeliveryOutcome::Skipped { reason },
        other => DeliveryOutcome::Other(other),
    }
}

impl IncidentRouter {
    /// Handles one NinjaOne activity (a webhook delivery) as a pass would handle its alert;
    /// see [`engine::webhook`](crate::engine::webhook) for the receiver in front of it.
    ///
    /// - `TRIGGERED`: routes the alert built from the payload
    ///   ([`Activity::to_alert`]; its device and organization from the `device` expansion,
    ///   else the store's record, else a lookup in NinjaOne's device listing), looks for a
    ///   ticket with its correlation id (one ServiceNow query), records `creating`, creates,
    ///   records `open` — the planner's decision for that one alert. A trigger for an alert
    ///   with a ticket adds one work note when the message changed (recorded before it is
    ///   sent) and writes nothing when it did not.
    /// - `RESET`: asks NinjaOne for the device's open alerts; while the alert is among them,
    ///   nothing is resolved ([`DeliveryOutcome::StillOpen`]); else resolves through the
    ///   planner's rules and the resolve guard (deliveries since the last applied pass count
    ///   against [`IncidentSettings::resolve_guard`](super::IncidentSettings) like one pass;
    ///   beyond it the resolve is left to the pass, [`DeliveryOutcome::Held`]).
    /// - A `TRIGGERED` whose `activityTime` is no later than the alert's last `RESET` seen
    ///   here is [`DeliveryOutcome::Ignored`] (out of order; see the [module](super) docs).
    /// - Any other activity is [`DeliveryOutcome::Ignored`], and so is everything while the
    ///   integration is disabled.
    ///
    /// # Guarantees
    /// The records written are those a pass would write, so a pass afterwards has nothing to
    /// do for the alert. At most one ticket per alert within one process (see the
    /// [module](super) docs, "Exactly once", for the limits across processes). A trigger of a
    /// known device costs at most two ServiceNow requests (query, create) and no NinjaOne
    /// request.
    ///
    /// # Errors
    /// [`SyncError::Store`] when the store cannot be read or written; [`SyncError::Remote`]
    /// when a read the decision needs failed (NinjaOne's device alerts, the device lookup,
    /// the ticket query): nothing was written, and a redelivery or the next pass decides.
    pub async fn handle_activity(&self, activity: &Activity) -> Result<Delivery, SyncError> {
        let uid = activity.series_uid().clone();
        let code = activity.status_code().clone();
        let ignored = |reason: String| {
            Delivery::new(
                uid.clone(),
                code.clone(),
                DeliveryOutcome::Ignored { reason },
            )
        };
        if !activity.is_condition() {
            let kind = activity
                .activity_type()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Ok(ignored(format!("a {kind} activity, not a condition's")));
        }
        if !matches!(code, StatusCode::Triggered | StatusCode::Reset) {
            return Ok(ignored(format!(
                "status {code}: only TRIGGERED and RESET change tickets"
            )));
        }
        let mode = self
            .store
            .mode()
            .await
            .map_err(SyncError::store("could not read the integration mode"))?;
        if mode == IntegrationMode::Disabled {
            return Ok(ignored("the integration is disabled".to_owned()));
        }
        let _turn = self.events.enter(&uid).await;
        let at = activity.activity_time();
        if code == StatusCode::Reset
            && let Some(at) = at
        {
            self.events.note_reset(&uid, at);
        } else if let (Some(at), Some(reset)) = (at, self.events.reset_at(&uid))
            && at <= reset
        {
            // Out of order: the condition reset after this trigger fired.
            return Ok(ignored(format!(
                "a trigger of {at} arrived after the alert's reset of {reset}: nothing to create"
            )));
        }
        // A point read: what a delivery reads must not grow with the tickets made.
        let record = self
            .store
            .ticket_record(&uid)
            .await
            .map_err(SyncError::store("could not read the alert's ticket record"))?;
        let mut cost = Cost::default();
        let outcome = if code == StatusCode::Triggered {
            self.triggered(activity, record, &mut cost).await?
        } else {
            self.reset(activity, record, &mut cost).await?
        };
        let mut delivery = Delivery::new(uid, code, outcome);
        delivery.servicenow_requests = cost.servicenow;
        delivery.ninjaone_requests = cost.ninjaone;
        Ok(delivery)
    }

    async fn triggered(
        &self,
        activity: &Activity,
        record: Option<TicketRecord>,
        cost: &mut Cost,
    ) -> Result<DeliveryOutcome, SyncError> {
        let alert = activity.to_alert();
        if let Some(record) = &record {
            let unchanged = record
                .alert_digest
                .as_deref()
                .is_some_and(|stored| digest_matches(stored, &alert));
            if record.state != TicketRecordState::Open
                && record.state != TicketRecordState::Creating
                || record.state == TicketRecordState::Open && unchanged
            {
                // A repeat, or a ticket finished elsewhere: what a pass would leave alone.
                return Ok(DeliveryOutcome::AlreadyTicketed {
                    ticket: record.ticket.clone(),
                    number: record.number.clone(),
                });
            }
        }
        let devices = self
            .device_of(activity, record.as_ref(), cost)
            .await?
            .into_iter()
            .collect::<Vec<_>>();
        // Only the configurations the decision looks at: the device's organization (routing)
        // and the record's (a cleared record's status), by key.
        let organizations: Vec<OrganizationId> = devices
            .iter()
            .map(|d| d.organization_id)
            .chain(record.as_ref().map(|r| r.organization))
            .collect();
        let configs = self
            .store
            .configs_of(&organizations)
            .await
            .map_err(SyncError::store("could not read the configurations"))?;
        let templates = self
            .store
            .ticket_templates()
            .await
            .map_err(SyncError::store("could not read the ticket templates"))?;
        let ci_records = self.ci_record(devices.first()).await;
        let organization = devices.first().map(|d| d.organization_id);
        let config = organization.and_then(|o| configs.iter().find(|c| c.organization() == o));
        let uses_cases = config.is_some_and(|c| c.tickets() == TicketKind::Case)
            || record.as_ref().is_some_and(|r| r.kind == TicketKind::Case);
        let csm = self.csm(uses_cases, cost).await?;
        let index = RoutingIndex::new(&self.settings, &devices, &configs, &ci_records, csm)
            .with_templates(&templates);
        if record.is_none()
            && let RouteDecision::Skip(reason) = route(&alert, &index)
        {
            // Nothing to look up: a pass writes nothing for a skipped alert without a record.
            return Ok(DeliveryOutcome::Skipped { reason });
        }
        let Some(correlation) = record
            .as_ref()
            .map(|r| r.correlation_id.clone())
            .or_else(|| index.correlation_id(&alert.uid))
        else {
            return Ok(DeliveryOutcome::Ignored {
                reason: "the alert's uid does not fit a correlation id".to_owned(),
            });
        };
        let listing = self.tickets_of(&correlation, uses_cases, csm, cost).await?;
        self.execute(
            std::slice::from_ref(&alert),
            record,
            &configs,
            &index,
            &listing,
            cost,
        )
        .await
    }

    async fn reset(
        &self,
        activity: &Activity,
        record: Option<TicketRecord>,
        cost: &mut Cost,
    ) -> Result<DeliveryOutcome, SyncError> {
        let Some(record) = record else {
            return Ok(DeliveryOutcome::Ignored {
                reason: "no ticket is recorded for the alert".to_owned(),
            });
        };
        if record.state != TicketRecordState::Open && record.state != TicketRecordState::Creating {
            return Ok(DeliveryOutcome::AlreadyTicketed {
                ticket: record.ticket.clone(),
                number: record.number.clone(),
            });
        }
        let Some(device) = activity.device_id() else {
            // Not a 503: NinjaOne would retry the same payload, which never names one.
            return Ok(DeliveryOutcome::Ignored {
                reason:
                    "the reset names no device, so it cannot be confirmed; the next pass decides"
                        .to_owned(),
            });
        };
        cost.ninjaone += 1;
        let open = self
            .ninja
            .device_alerts(device)
            .await
            .map_err(SyncError::remote(Remote::NinjaOne, format!(
                "could not read device {device}'s open alerts from NinjaOne to confirm the reset"
            )))?;
        if open.iter().any(|a| a.uid == record.alert) {
            return Ok(DeliveryOutcome::StillOpen);
        }
        // The guard's limit depends on how many tickets are open: the one listing a delivery
        // reads, and only for a reset NinjaOne confirmed (a trigger never reads it).
        let open_tickets = self
            .store
            .ticket_records()
            .await
            .map_err(SyncError::store(
                "could not read the alert → ticket records",
            ))?
            .iter()
            .filter(|r| r.state == TicketRecordState::Open)
            .count();
        let limit = self.settings.resolve_guard.limit(open_tickets);
        if !self.events.reserve_resolve(limit) {
            return Ok(DeliveryOutcome::Held {
                reason: format!(
                    "deliveries resolved {limit} ticket(s) since the last pass, the resolve \
                     guard's limit for {open_tickets} open ticket(s); the next pass decides, and \
                     an administrator approves what it holds"
                ),
            });
        }
        let configs: Vec<SyncConfig> = self
            .store
            .config(record.organization)
            .await
            .map_err(SyncError::store("could not read the configuration"))?
            .into_iter()
            .collect();
        let uses_cases = record.kind == TicketKind::Case;
        let result = async {
            let csm = self.csm(uses_cases, cost).await?;
            let index = RoutingIndex::new(&self.settings, &[], &configs, &[], csm);
            let listing = self
                .tickets_of(&record.correlation_id, uses_cases, csm, cost)
                .await?;
            self.execute(&[], Some(record.clone()), &configs, &index, &listing, cost)
                .await
        }
        .await;
        if !matches!(result, Ok(DeliveryOutcome::Resolved { .. })) {
            self.events.release_resolve();
        }
        result
    }

    /// Plans `alerts` (none or the one) with `record` and executes the plan as a pass does.
    async fn execute(
        &self,
        alerts: &[Alert],
        record: Option<TicketRecord>,
        configs: &[SyncConfig],
        index: &RoutingIndex,
        listing: &TicketListing,
        cost: &mut Cost,
    ) -> Result<DeliveryOutcome, SyncError> {
        let uid = alerts
            .first()
            .map(|a| a.uid.clone())
            .or_else(|| record.as_ref().map(|r| r.alert.clone()));
        let records: BTreeMap<AlertUid, TicketRecord> =
            record.into_iter().map(|r| (r.alert.clone(), r)).collect();
        let settings = &self.settings;
        let inputs = TicketInputs::new(alerts, &records, configs, index, listing)
            .texts(&settings.correlation_display, &settings.urgency_impact)
            .resolve_guard(settings.resolve_guard);
        let now = self.clock.now();
        let mut plan = plan_tickets(&inputs, now);
        plan.items.retain(|item| Some(&item.alert) == uid.as_ref());
        let mut report = IncidentReport::start(ApplyMode::Apply, now);
        self.apply(split(plan), ApplyMode::Apply, &mut report)
            .await?;
        cost.servicenow += report.remote_writes;
        // Refused credentials are an `Err` here as from a pass (`Refusal::Failed`, 503: NinjaOne
        // retries), not a deferred line a host's log would miss.
        let mut report = crate::engine::error::incident_outcome(report)?;
        Ok(match report.outcomes.pop() {
            Some(line) => outcome_of(line),
            None => DeliveryOutcome::Other(TicketOutcome::Unchanged),
        })
    }

    /// The activity's device: from the payload, else with the record's organization, else
    /// looked up in NinjaOne's device listing.
    async fn device_of(
        &self,
        activity: &Activity,
        record: Option<&TicketRecord>,
        cost: &mut Cost,
    ) -> Result<Option<Device>, SyncError> {
        if let Some(device) = activity.to_device() {
            return Ok(Some(device));
        }
        let Some(id) = activity.device_id() else {
            return Ok(None);
        };
        if let Some(record) = record {
            return Ok(minimal_device(id.get(), record.organization));
        }
        let first = PageRequest::first(self.settings.page_size);
        let pages = std::sync::atomic::AtomicUsize::new(0);
        let listing = collect_all(first, self.settings.max_pages, |p| {
            pages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.ninja.devices(p)
        })
        .await;
        cost.ninjaone += pages.into_inner();
        let listing = listing.map_err(SyncError::remote(
            Remote::NinjaOne,
            format!("could not look up device {id} in NinjaOne's device listing"),
        ))?;
        Ok(listing.items.into_iter().find(|d| d.id == id))
    }

    /// The device's CI record (a point read), for the ticket's `cmdb_ci`.
    async fn ci_record(&self, device: Option<&Device>) -> Vec<crate::model::CiRecord> {
        let Some(device) = device else {
            return Vec::new();
        };
        match self.store.ci_record(device.id).await {
            Ok(record) => record.into_iter().collect(),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the CI records; the ticket goes without cmdb_ci");
                Vec::new()
            }
        }
    }

    async fn csm(&self, uses_cases: bool, cost: &mut Cost) -> Result<Option<bool>, SyncError> {
        if !uses_cases {
            return Ok(None);
        }
        cost.servicenow += 1;
        self.snow
            .customer_service_management()
            .await
            .map(Some)
            .map_err(SyncError::remote(
                Remote::ServiceNow,
                "could not ask ServiceNow whether Customer Service Management is installed",
            ))
    }

    /// This alert's tickets, by its correlation id (one query per kind; the planner matches
    /// the id exactly).
    async fn tickets_of(
        &self,
        correlation: &crate::model::CorrelationId,
        uses_cases: bool,
        csm: Option<bool>,
        cost: &mut Cost,
    ) -> Result<TicketListing, SyncError> {
        let query = IncidentQuery::with_prefix(correlation.clone());
        let prefix = self.settings.prefix().as_str();
        let first = PageRequest::first(self.settings.page_size);
        let max_pages = self.settings.max_pages;
        let listing: Listing<ListedTicket> = collect_all(first.clone(), max_pages, |p| {
            let query = &query;
            async move {
                self.snow
                    .incidents(query, p)
                    .await
                    .map(|page| listed_rows(page, prefix, ListedTicket::incident))
            }
        })
        .await
        .map_err(remote_query("incidents"))?;
        cost.servicenow += listing.pages.max(1);
        let incidents = ListedTickets::from_listing(listing, "incidents");
        let cases = if !uses_cases {
            ListedTickets::none()
        } else if csm == Some(true) {
            let listing: Listing<ListedTicket> = collect_all(first, max_pages, |p| {
                let query = &query;
                async move {
                    self.snow
                        .cases(query, p)
                        .await
                        .map(|page| listed_rows(page, prefix, ListedTicket::case))
                }
            })
            .await
            .map_err(remote_query("cases"))?;
            cost.servicenow += listing.pages.max(1);
            ListedTickets::from_listing(listing, "cases")
        } else {
            ListedTickets::not_listed(
                "cases were not listed: Customer Service Management is not installed or could not be detected",
            )
        };
        Ok(TicketListing::new(incidents, cases))
    }
}

fn remote_query(what: &'static str) -> impl FnOnce(ApiError) -> SyncError {
    SyncError::remote(
        Remote::ServiceNow,
        format!("could not look up the alert's {what} in ServiceNow by correlation id"),
    )
}

fn minimal_device(id: u32, organization: OrganizationId) -> Option<Device> {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "organizationId": organization.get(),
        "nodeClass": "",
    }))
    .ok()
}

/// Whether a delivery's outcome is worth NinjaOne's retry (a failure or deferral the next
/// delivery may get past).
pub(crate) fn unfinished(outcome: &DeliveryOutcome) -> bool {
    matches!(
        outcome,
        DeliveryOutcome::Other(
            TicketOutcome::Deferred { .. }
                | TicketOutcome::Unknown { .. }
                | TicketOutcome::Failed {
                    kind: FailureKind::Transient,
                    ..
                }
        )
    )
}
