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
//!
//! The [`triggered`] and [`reset`] paths are modules of their own; [`gate`] keeps the
//! per-alert turns and the memory of resets.

mod gate;
mod reset;
mod triggered;

use std::collections::BTreeMap;

use super::IncidentRouter;
use super::pass::split;
use super::report::{AlertOutcome, IncidentReport, TicketOutcome};
use crate::engine::SyncError;
use crate::engine::outcome::{ApplyMode, FailureKind};
use crate::engine::webhook::{Delivery, DeliveryOutcome};
use crate::model::activity::{Activity, StatusCode};
use crate::model::{Alert, AlertUid, IntegrationMode, SyncConfig, TicketKind, TicketRecord};
use crate::plan::{ListedTickets, RoutingIndex, TicketInputs, TicketListing, plan_tickets};
use crate::ports::{ApiError, IncidentQuery, PageRequest, Remote};

pub(crate) use gate::EventGate;

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
        let first = PageRequest::first(self.options.page_size);
        let max_pages = self.options.max_pages;
        let listing = self
            .listed_tickets(TicketKind::Incident, &query, first.clone(), max_pages)
            .await
            .map_err(remote_query("incidents"))?;
        cost.servicenow += listing.pages.max(1);
        let incidents = ListedTickets::from_listing(listing, "incidents");
        let cases = if !uses_cases {
            ListedTickets::none()
        } else if csm == Some(true) {
            let listing = self
                .listed_tickets(TicketKind::Case, &query, first, max_pages)
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
