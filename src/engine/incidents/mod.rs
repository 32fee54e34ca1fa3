//! The incident router: NinjaOne's open alerts become ServiceNow incidents (or Customer
//! Service Management cases) of the mapped company, exactly once, and are resolved when the
//! alert clears.
//!
//! - [`route`] decides, purely, whether an alert becomes a ticket ([`RouteDecision`]) or why
//!   not ([`SkipReason`]).
//! - The configuration's ticket template (or the default;
//!   [`TicketTemplate`](crate::model::TicketTemplate)) fills the ticket's assignment group,
//!   caller, category, subcategory and contact type, and its filter decides whether an alert
//!   makes a ticket at all ([`SkipReason::Filtered`]).
//! - [`plan_tickets`](crate::plan::plan_tickets) makes every other decision, purely: create,
//!   adopt, note a re-trigger, resolve, hold for the resolve guard, skip — and why.
//! - [`IncidentRouter::run_once`] runs one pass over the ports, the store and the clock the
//!   [`OrganizationSync`](crate::engine::OrganizationSync) uses, and returns an
//!   [`IncidentReport`].
//!
//! Every ticket carries `correlation_id = ninjaone:<integration-id>:alert:<uid>`; the
//! integration id is [`IncidentSettings`]' and keeps two integrations on one ServiceNow apart.
//! ServiceNow does not enforce unique correlation ids: deduplication is this module's job,
//! through the store's alert → ticket records ([`TicketRecord`](crate::model::TicketRecord))
//! and by looking tickets up by correlation id before creating one.
//!
//! # What a pass does
//!
//! | the alert is | its record | the ticket found by correlation id | the pass |
//! | --- | --- | --- | --- |
//! | open, routed | none | none (complete listing) | records `creating`, then creates |
//! | open | none or `creating` | any state | adopts it (`open` or `finished_elsewhere`) |
//! | open, routed | `creating` | none (complete listing) | creates again (the first never committed) |
//! | open | `open` | finished or gone | records `finished_elsewhere`: never reopened, never recreated |
//! | open | `finished_elsewhere` | — | nothing |
//! | open, message or `updateTime` changed since the ticket was written | `open` | open | adds one work note with the new message (recorded before it is sent) |
//! | gone | `open` (or adopted) | open | resolves it once (state 6 with close code and notes; a case: Resolved with resolution code and notes), removes the record — unless the pass would resolve more than the resolve guard allows: then it resolves none and holds them all for [`IncidentRouter::approve_resolves`] |
//! | gone | any | finished or gone | removes the record |
//! | gone | `open`, configuration inactive | — | leaves the ticket, keeps the record (resolved after a resume) |
//! | gone | `open`, configuration deleted | — | leaves the ticket, removes the record |
//!
//! Incidents of configurations that turn inactive or deleted are left as they are: the pass
//! creates nothing new for them (the alert is skipped as not active) and resolves nothing of
//! theirs; an inactive configuration's records are kept, so resuming it lets a later pass
//! resolve what cleared meanwhile.
//!
//! # Webhook deliveries
//! [`IncidentRouter::handle_activity`] decides one NinjaOne activity (a webhook delivery, see
//! [`engine::webhook`](crate::engine::webhook)) with the same planner, for that one alert: a
//! `TRIGGERED` activity is routed and created (look-before-create by correlation id, the
//! `creating` record first) or noted; a `RESET` is confirmed with NinjaOne's device alerts and
//! resolved. The pass stays the safety net for anything a lost or repeated delivery left.
//!
//! Exactly once: within one process, deliveries of one alert take turns and an applied pass
//! waits for the deliveries in hand (and holds new ones) until it ends; across restarts the
//! records and the look-before-create adopt what an interrupted delivery created. Deliveries
//! for one alert handled by several processes at once, or racing a pass in another process,
//! are not serialised and may each create a ticket: run the receiver and the passes in one
//! process per integration id (as `orgsync serve` does).
mod events;
pub(crate) mod pass;
pub(super) mod report;
mod settings;

use std::sync::Arc;

pub use crate::plan::{RouteDecision, RoutingIndex, SkipReason, UrgencyImpactTable, route};
pub(crate) use events::unfinished;
pub use report::{AlertOutcome, IncidentReport, TicketOutcome};
pub use settings::{
    IncidentSettings, IncidentSettingsBuilder, InvalidIntegrationId, MAX_INTEGRATION_ID_LEN,
};

use crate::clock::Clock;
use crate::engine::outcome::ApplyMode;
use crate::engine::{Actor, EngineOptions, SyncError};
use crate::model::{AuditAction, AuditEntry, CiRecord, Device, SyncConfig};
use crate::ports::{ConfigStore, NinjaOneApi, Ports, ServiceNowApi};

impl RoutingIndex {
    /// Indexes `devices`, `configs` and `ci_records` for `settings`' integration (its
    /// correlation-id prefix; see [`RoutingIndex::for_prefix`]). `csm` is whether Customer
    /// Service Management is installed (`None`: not known, so no case is created).
    #[must_use]
    pub fn new(
        settings: &IncidentSettings,
        devices: &[Device],
        configs: &[SyncConfig],
        ci_records: &[CiRecord],
        csm: Option<bool>,
    ) -> Self {
        Self::for_prefix(settings.prefix(), devices, configs, ci_records, csm)
    }
}

/// Routes NinjaOne alerts into ServiceNow tickets; see the [module](self) for the rules.
///
/// Cheap to clone (it holds `Arc`s). Any number of routers may run on one store: an applied
/// pass takes the store's lock of its integration id
/// ([`ConfigStore::lock_router`]) and a second one at
/// the same time does nothing and reports [`Stop::RouterBusy`](crate::engine::Stop::RouterBusy).
///
/// ```
/// use std::sync::Arc;
/// use ninjaone_servicenow::clock::ManualClock;
/// use ninjaone_servicenow::engine::ApplyMode;
/// use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
/// use ninjaone_servicenow::model::{IntegrationMode, OrganizationId, SyncConfig};
/// use ninjaone_servicenow::ports::ConfigStore;
/// use ninjaone_servicenow::ports::Ports;
/// use ninjaone_servicenow::store::MemoryStore;
/// use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
/// # futures::executor::block_on(async {
/// let ninja = FakeNinjaOne::builder().organizations(1).devices_per_organization(1).alerts(2).build();
/// let snow = FakeServiceNow::builder().companies(1).build();
/// let store = MemoryStore::new();
/// store.set_mode(IntegrationMode::Inactive).await?;
/// // An active configuration of organization 1 that allows incidents (as a sync pass leaves it).
/// let company = snow.all_companies()[0].sys_id.clone();
/// let mut config = SyncConfig::new(OrganizationId::new(1)?, Some(company), fixed_time());
/// config.set_allow_incidents(true);
/// # use ninjaone_servicenow::machine::SyncEvent;
/// config.apply(SyncEvent::Enqueue, None, fixed_time())?;
/// config.apply(SyncEvent::Succeeded, None, fixed_time())?;
/// store.write_config(config).await?;
///
/// let router = IncidentRouter::new(Ports::new(
///     Arc::new(ninja.clone()),
///     Arc::new(snow.clone()),
///     Arc::new(store),
///     Arc::new(ManualClock::new(fixed_time()))),
///     IncidentSettings::new("acme")?,
/// );
/// let report = router.run_once(ApplyMode::Apply).await?;
/// assert_eq!((report.created, report.remote_writes), (2, 2));
/// assert!(snow.all_incidents().iter().all(|i| i.correlation_id.as_deref().unwrap().starts_with("ninjaone:acme:alert:")));
///
/// // Nothing changed: the next pass writes nothing.
/// assert_eq!(router.run_once(ApplyMode::Apply).await?.remote_writes, 0);
///
/// // One alert clears: exactly its incident is resolved.
/// ninja.clear_alert(&ninja.all_alerts()[0].uid);
/// let report = router.run_once(ApplyMode::Apply).await?;
/// assert_eq!((report.resolved, report.remote_writes), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct IncidentRouter {
    ninja: Arc<dyn NinjaOneApi>,
    snow: Arc<dyn ServiceNowApi>,
    store: Arc<dyn ConfigStore>,
    clock: Arc<dyn Clock>,
    settings: IncidentSettings,
    options: EngineOptions,
    /// Deliveries' and passes' turns in this process (see the event path).
    events: Arc<events::EventGate>,
}

impl IncidentRouter {
    /// A router over the [`Ports`] (the two APIs, a store and a clock — the same bundle the
    /// [`OrganizationSync`](crate::engine::OrganizationSync) is built from) with `settings` (an
    /// [`IncidentSettings`] or its builder; the integration id has no default).
    #[must_use]
    pub fn new(ports: Ports, settings: impl Into<IncidentSettings>) -> Self {
        let (ninja, snow, store, clock) = ports.into_parts();
        Self {
            ninja,
            snow,
            store,
            clock,
            settings: settings.into(),
            options: EngineOptions::default(),
            events: Arc::default(),
        }
    }

    /// Replaces how passes run: concurrency, paging, store batches, report detail and the
    /// waits after a rate limit (an [`EngineOptions`] or its builder; the
    /// [`OrganizationSync`](crate::engine::OrganizationSync) takes the same type).
    #[must_use]
    pub fn options(mut self, options: impl Into<EngineOptions>) -> Self {
        self.options = options.into();
        self
    }

    /// The settings in use.
    #[must_use]
    pub fn settings(&self) -> &IncidentSettings {
        &self.settings
    }

    /// Runs one pass: lists NinjaOne's open alerts (one call, not paged) and the tenant's
    /// devices (paged, tenant-wide), reads the configurations and the alert → ticket and
    /// device → CI records, lists this integration's incidents (and cases, when a
    /// configuration uses them and Customer Service Management is installed) by
    /// correlation-id prefix, created since the oldest open alert or unfinished record minus
    /// [`IncidentSettings::window_margin`] — paged, never one lookup per alert — then decides
    /// and, unless [`ApplyMode::DryRun`], writes.
    ///
    /// # Guarantees
    /// - In disabled mode, or with no configuration allowing incidents and no record, nothing
    ///   is read remotely and nothing written.
    /// - At most one ticket per alert: a ticket is created only after the store records the
    ///   alert as `creating`, and only when the complete listing has no ticket with its
    ///   correlation id. A crash, a dropped future or a create that answered a timeout after
    ///   committing leaves a `creating` record; the next pass adopts the ticket it finds.
    /// - A listing that failed or came back incomplete is "unknown": nothing is created for
    ///   what it might hold and no ticket is resolved without being seen open.
    /// - A ticket finished by a person while its alert is open is never reopened or created
    ///   again; a ticket whose alert cleared is resolved once.
    /// - Creates and resolves run with at most [`EngineOptions::concurrency`] in flight; a
    ///   429 halves it and defers the ticket; a 401/403 stops starting writes
    ///   ([`Stop`](crate::engine::Stop)). A pass with nothing to change makes no remote write.
    /// - One router at a time per integration id: an applied pass holds the store's router
    ///   lock from before it reads the records to its end; a pass that cannot take it reads
    ///   and writes nothing and reports [`Stop::RouterBusy`](crate::engine::Stop::RouterBusy).
    /// - An open alert whose message or `updateTime` changed since its ticket was written gets
    ///   one work note per change; a crash or a lost answer may lose that note, never double it.
    /// - More resolves than [`IncidentSettings::resolve_guard`] allows are all held (none is
    ///   made; audited) until [`approve_resolves`](Self::approve_resolves).
    /// - The engine never sleeps: see [`IncidentReport::next_run`].
    ///
    /// # Errors
    /// - [`SyncError::CredentialsRefused`] when the integration's own credentials were refused
    ///   (401 or 403): an `Err`, never an `Ok` with a stop to notice, so a host loop that only
    ///   logs its errors logs it; the report of what the pass did until then is inside
    ///   ([`StoppedReport::Incidents`](crate::engine::StoppedReport::Incidents)).
    /// - [`SyncError::Store`] when the store cannot be read or written; the next pass
    ///   converges from what was saved.
    ///
    /// [`Stop::RouterBusy`](crate::engine::Stop::RouterBusy) stays an `Ok`: the other router is
    /// working. The report is compact by default (set with
    /// [`EngineOptionsBuilder::report`](crate::engine::EngineOptionsBuilder::report)).
    pub async fn run_once(&self, mode: ApplyMode) -> Result<IncidentReport, SyncError> {
        self.pass(mode, None)
            .await
            .and_then(crate::engine::error::incident_outcome)
    }

    /// Approves the resolves the resolve guard holds and runs a pass that applies them (and
    /// everything else), as [`OrganizationSync::approve_deletions`] does for the sync's
    /// deletion guard. System administrators only; the approval is audited
    /// ([`AuditAction::ApproveResolves`], by the
    /// actor, with the tickets it released), and so is a refusal.
    ///
    /// The approval covers what was held and audited before it, as it is now: the resolves
    /// are decided again from both sides, so an alert listing that has recovered meanwhile
    /// resolves only what really cleared; and only tickets of the router's last audited hold
    /// ([`AuditAction::HoldResolves`]) are released — resolves beyond it (a listing that
    /// emptied further since) stay held, are audited as a new hold, and need an approval of
    /// their own. With no audited hold (say, only a dry run saw them), nothing is released:
    /// this pass audits the hold, and the next approval releases it.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] for anyone else (audited; nothing is read or written
    /// remotely); as for [`run_once`](Self::run_once).
    ///
    /// [`OrganizationSync::approve_deletions`]: crate::engine::OrganizationSync::approve_deletions
    pub async fn approve_resolves(&self, actor: &Actor) -> Result<IncidentReport, SyncError> {
        if let Some(reason) = actor.admin_refusal() {
            let err = SyncError::PermissionDenied {
                actor: actor.name().to_owned(),
                act: "approve held resolves".to_owned(),
                reason,
            };
            let entry = AuditEntry::refused(
                self.clock.now(),
                actor.name(),
                AuditAction::ApproveResolves,
                err.to_string(),
            );
            if let Err(store_err) = self.store.append_audit(vec![entry]).await {
                tracing::warn!(error = %store_err, refusal = %err, "could not record a refusal in the audit log");
            }
            return Err(err);
        }
        self.pass(ApplyMode::Apply, Some(actor))
            .await
            .and_then(crate::engine::error::incident_outcome)
    }
}
