//! The engine: the [`OrganizationSync`] service (the API behind an "Organization Sync" screen,
//! with permission checks and an audit trail) and its reconcile pass
//! ([`OrganizationSync::run_once`]).
//!
//! A pass takes a snapshot of both sides through the ports (whole-list paging, never a request
//! per organization), [`plan`](crate::plan::plan)s, and applies the plan:
//!
//! 1. every change that needs no remote write (new configurations mapped by name, activations,
//!    failures, tombstones) and every configuration about to get a company is written to the
//!    store in one batch — the latter as `in_queue`, before any remote write;
//! 2. companies are created with bounded concurrency ([`EngineOptions::concurrency`]); a rate limit
//!    halves it for the rest of the pass, and a rate limit at concurrency 1 defers the rest;
//! 3. results are written in batches of [`EngineOptions::store_batch`] as they come.
//!
//! Several workers can share a pass through a [`WorkQueue`](crate::ports::WorkQueue): see
//! [`OrganizationSync::plan_work`] and [`OrganizationSync::run_worker`].
//!
//! The engine never sleeps: backoff is a `next_attempt_at` on a configuration and a
//! [`NextRun`] hint in the [`Report`]. A crash or a dropped future at any point leaves
//! configurations `in_queue` without a company; the next pass looks for a company of that name
//! before it creates one, so a company is never created twice.

mod actor;
mod cmdb;
mod directory;
mod error;
pub mod incidents;
mod options;
mod outcome;
mod pass;
pub(crate) mod report;
mod seen;
mod service;
mod templates;
mod throttle;
pub mod webhook;
mod worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

pub use actor::{Actor, Visibility};
pub use cmdb::{CiBatchFailure, CiDiverged, CiFailure, CiPartial, CiPlannedLine, CiReport};
pub use directory::{
    AddDialog, AddableOrganization, CompanyDirectory, DEFAULT_DIRECTORY_MAX_AGE, DirectoryKind,
    DirectoryMatch,
};
pub use error::{AddRefusal, CredentialsRefused, ErrorChain, Problem, StoppedReport, SyncError};
pub use options::{EngineOptions, EngineOptionsBuilder};
pub use outcome::{ApplyMode, FailureKind, NextRun, ReportDetail, Stop};
pub use report::{OrganizationOutcome, Outcome, Report};
pub use service::{Added, ConfigChanges, ConfigDraft};
pub use webhook::{
    Delivery, DeliveryOutcome, ReceiverOptions, ReceiverOptionsBuilder, Refusal, WebhookReceiver,
    WebhookSecret,
};
pub use worker::{WorkPlan, WorkerOptions, WorkerOptionsBuilder, WorkerReport};

use crate::clock::Clock;
use crate::model::{AuditAction, AuditEntry, OrganizationId, SyncConfig};
use crate::plan::Policy;
use crate::ports::{ConfigStore, NinjaOneApi, Ports, ServiceNowApi};

/// The actor name the engine records in the audit log for what a pass does.
pub const SYSTEM_ACTOR: &str = "system:sync";

/// NinjaOne's ServiceNow "Organization Sync", as a service: the integration mode, one sync
/// configuration per organization with permission checks and an audit trail, and the reconcile
/// pass that keeps them in step with both sides.
///
/// Cheap to clone (it holds `Arc`s); clones share everything.
///
/// ```
/// use std::sync::Arc;
/// use ninjaone_servicenow::clock::ManualClock;
/// use ninjaone_servicenow::engine::{Actor, ApplyMode, OrganizationSync};
/// use ninjaone_servicenow::model::{IntegrationMode, SyncStatus};
/// use ninjaone_servicenow::ports::Ports;
/// use ninjaone_servicenow::store::MemoryStore;
/// use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
/// # futures::executor::block_on(async {
/// let ninja = FakeNinjaOne::builder().organizations(3).build();
/// let snow = FakeServiceNow::builder().companies(2).build(); // matches organizations 1 and 2
/// let sync = OrganizationSync::new(Ports::new(
///     Arc::new(ninja),
///     Arc::new(snow.clone()),
///     Arc::new(MemoryStore::new()),
///     Arc::new(ManualClock::new(fixed_time())),
/// ));
/// let admin = Actor::administrator("alice");
/// sync.set_mode(&admin, IntegrationMode::Active).await?;
///
/// let report = sync.run_once(ApplyMode::Apply).await?;
/// assert_eq!((report.matched, report.created), (2, 1));
/// assert_eq!(
///     report.to_string(),
///     "sync: 3 organizations, 1 created, 2 matched, 0 failed, 1 remote writes"
/// );
/// assert_eq!(snow.faults().writes(), 1);
/// assert!(sync.list(&admin).await?.iter().all(|c| c.status() == SyncStatus::Active));
///
/// // Nothing changed: the next pass writes nothing.
/// assert_eq!(sync.run_once(ApplyMode::Apply).await?.remote_writes, 0);
/// assert_eq!(snow.faults().writes(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OrganizationSync {
    ninja: Arc<dyn NinjaOneApi>,
    snow: Arc<dyn ServiceNowApi>,
    store: Arc<dyn ConfigStore>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    options: EngineOptions,
    /// The Add dialog's cached company listing, shared by clones.
    directory: Arc<directory::DirectoryCache>,
}

impl OrganizationSync {
    /// A service over the [`Ports`] (the two APIs, a store and a clock), with the default
    /// [`Policy`] and [`EngineOptions`]; [`policy`](Self::policy) and
    /// [`options`](Self::options) set others.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        let (ninja, snow, store, clock) = ports.into_parts();
        Self {
            ninja,
            snow,
            store,
            clock,
            policy: Policy::default(),
            options: EngineOptions::default(),
            directory: Arc::new(directory::DirectoryCache::new(
                directory::DEFAULT_DIRECTORY_MAX_AGE,
            )),
        }
    }

    /// Replaces the policy (a [`Policy`] or its builder). Both engines take what they need in
    /// `new` and what has a default through a bare-name `#[must_use]` setter like this one.
    #[must_use]
    pub fn policy(mut self, policy: impl Into<Policy>) -> Self {
        self.policy = policy.into();
        self
    }

    /// Replaces how passes run: concurrency, paging, store batches, report detail and retries
    /// (an [`EngineOptions`] or its builder; the [`IncidentRouter`](incidents::IncidentRouter)
    /// takes the same type).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use ninjaone_servicenow::clock::ManualClock;
    /// # use ninjaone_servicenow::store::MemoryStore;
    /// # use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
    /// use ninjaone_servicenow::engine::{EngineOptions, OrganizationSync};
    /// use ninjaone_servicenow::ports::Ports;
    /// # let ports = Ports::new(
    /// #     Arc::new(FakeNinjaOne::builder().build()),
    /// #     Arc::new(FakeServiceNow::builder().build()),
    /// #     Arc::new(MemoryStore::new()),
    /// #     Arc::new(ManualClock::new(fixed_time())),
    /// # );
    /// let sync = OrganizationSync::new(ports).options(EngineOptions::builder().concurrency(4));
    /// # let _ = sync;
    /// ```
    #[must_use]
    pub fn options(mut self, options: impl Into<EngineOptions>) -> Self {
        self.options = options.into();
        self
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// A compact, stable JSON view of a configuration for the audit log's before/after.
pub(crate) fn config_state(config: &SyncConfig) -> serde_json::Value {
    json!({
        "status": config.status(),
        "company": config.company(),
        "customer_account": config.customer_account(),
        "ci_mappings": config.ci_mappings(),
        "allow_incidents": config.allow_incidents(),
        "tickets": config.tickets(),
        "ticket_template": config.ticket_template(),
        "reason": config.status_reason(),
    })
}

/// An audit entry of the engine about one organization.
pub(crate) fn system_entry(
    at: DateTime<Utc>,
    action: AuditAction,
    organization: OrganizationId,
    before: Option<&SyncConfig>,
    after: Option<&SyncConfig>,
) -> AuditEntry {
    AuditEntry::applied(at, SYSTEM_ACTOR, action)
        .for_organization(organization)
        .with_states(before.map(config_state), after.map(config_state))
}
