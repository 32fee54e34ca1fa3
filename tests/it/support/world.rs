//! One test world for every engine test: both fakes, a memory store, a manual clock, the actor and the engines over them, from one builder.
//!
//! `World::builder().organizations(10).companies(5).mode(IntegrationMode::Active).build()`:
//! each variant a test module needs is a builder option, not a copy of the harness. The
//! accessors here are the ones more than one topic reads; a topic's own helpers stay in its
//! module as an `impl World` block.

#![allow(dead_code, clippy::unused_self)] // each test module uses the part it needs; `settings` reads as the world's

use std::sync::Arc;

use super::setup::Setup;
use chrono::{DateTime, Utc};
use futures::executor::block_on;
use ninjaone_servicenow::clock::{Clock, ManualClock};
use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, OrganizationSync, Report, StoppedReport, SyncError,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    AuditEntry, AuditFilter, CiMapping, IntegrationMode, OrganizationId, SyncConfig, SyncStatus,
    SysId,
};
use ninjaone_servicenow::ports::{ConfigStore, Ports, ServiceNowApi};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::ids::org;
use ninjaone_servicenow::testing::{
    FakeNinjaOne, FakeNinjaOneBuilder, FakeServiceNow, FakeServiceNowBuilder, Faults,
    customer_name, fixed_time,
};

/// The integration id of the incident router's default settings.
pub const INTEGRATION: &str = "test";

/// Both fakes, the store, the clock, the administrator and the organization sync over them;
/// the incident router is built on demand ([`World::router`]).
pub struct World {
    pub ninja: FakeNinjaOne,
    pub snow: FakeServiceNow,
    /// What the engines store in (or what `engine_store` wraps).
    pub store: MemoryStore,
    pub clock: ManualClock,
    /// The one fault view both fakes share, with [`WorldBuilder::shared_faults`]; otherwise a
    /// view of its own that neither fake reports to (use `ninja.faults()` / `snow.faults()`).
    pub faults: Faults,
    pub admin: Actor,
    /// The plan policy and engine options both engines are built with.
    pub setup: Setup,
    pub sync: OrganizationSync,
    engine_store: Arc<dyn ConfigStore>,
}

/// How [`WorldBuilder::build`] puts the integration in a mode.
enum SetMode {
    /// Through the service, by the administrator (audited).
    Engine(IntegrationMode),
    /// Straight into the store (no audit entry).
    Store(IntegrationMode),
}

/// Options of a [`World`]; see [`World::builder`].
pub struct WorldBuilder {
    ninja: FakeNinjaOneBuilder,
    snow: FakeServiceNowBuilder,
    ninja_fake: Option<FakeNinjaOne>,
    snow_fake: Option<FakeServiceNow>,
    store: Option<MemoryStore>,
    engine_store: Option<Arc<dyn ConfigStore>>,
    shared_faults: bool,
    faults: Option<Faults>,
    clock: ManualClock,
    setup: Setup,
    admin: String,
    mode: Option<SetMode>,
    ci_mappings: Vec<CiMapping>,
    incident_configs: bool,
}

impl World {
    /// No organizations, no companies, the default setup, the clock at `fixed_time()`, the
    /// administrator "alice", the mode left as the store starts.
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            ninja: FakeNinjaOne::builder(),
            snow: FakeServiceNow::builder(),
            ninja_fake: None,
            snow_fake: None,
            store: None,
            engine_store: None,
            shared_faults: false,
            faults: None,
            clock: ManualClock::new(fixed_time()),
            setup: Setup::default(),
            admin: "alice".to_owned(),
            mode: None,
            ci_mappings: Vec::new(),
            incident_configs: false,
        }
    }
}

impl WorldBuilder {
    /// `n` organizations named `customer_name(1..=n)`.
    pub fn organizations(mut self, n: usize) -> Self {
        self.ninja = self.ninja.organizations(n);
        self
    }

    /// `n` companies named like organizations `1..=n`.
    pub fn companies(mut self, n: usize) -> Self {
        self.snow = self.snow.companies(n);
        self
    }

    /// The standard device roles in NinjaOne.
    pub fn roles_standard(mut self) -> Self {
        self.ninja = self.ninja.roles_standard();
        self
    }

    /// `k` devices in each organization.
    pub fn devices_per_organization(mut self, k: usize) -> Self {
        self.ninja = self.ninja.devices_per_organization(k);
        self
    }

    /// `n` alerts spread over the devices.
    pub fn alerts(mut self, n: usize) -> Self {
        self.ninja = self.ninja.alerts(n);
        self
    }

    /// Any other seeding of the ServiceNow fake.
    pub fn snow_with(
        mut self,
        seed: impl FnOnce(FakeServiceNowBuilder) -> FakeServiceNowBuilder,
    ) -> Self {
        self.snow = seed(self.snow);
        self
    }

    /// A NinjaOne fake built by the test (the seeding options above are then ignored for it).
    pub fn ninja(mut self, ninja: FakeNinjaOne) -> Self {
        self.ninja_fake = Some(ninja);
        self
    }

    /// A ServiceNow fake built by the test (the seeding options above are then ignored for it).
    pub fn snow(mut self, snow: FakeServiceNow) -> Self {
        self.snow_fake = Some(snow);
        self
    }

    /// The world's store (another world's, say); the engines store in it unless
    /// [`engine_store`](Self::engine_store) says otherwise.
    pub fn store(mut self, store: MemoryStore) -> Self {
        self.store = Some(store);
        self
    }

    /// What the engines store in, which is (or wraps) the world's `store`.
    pub fn engine_store(mut self, engine_store: Arc<dyn ConfigStore>) -> Self {
        self.engine_store = Some(engine_store);
        self
    }

    /// Both fakes report to one `Faults` (the world's `faults`).
    pub fn shared_faults(mut self) -> Self {
        self.shared_faults = true;
        self
    }

    /// The world's `faults` is `faults` (which fakes passed with [`ninja`](Self::ninja) and
    /// [`snow`](Self::snow) already report to); fakes built here report to it too.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self.shared_faults = true;
        self
    }

    /// The manual clock starts at `start`.
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.clock = ManualClock::new(start);
        self
    }

    /// The world reads `clock` (another world's, say).
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = clock;
        self
    }

    /// The plan policy and the engine options (either converts into a [`Setup`]).
    pub fn setup(mut self, setup: impl Into<Setup>) -> Self {
        self.setup = setup.into();
        self
    }

    /// The administrator's name.
    pub fn admin(mut self, name: &str) -> Self {
        name.clone_into(&mut self.admin);
        self
    }

    /// The administrator sets `mode` through the service (an audit entry).
    pub fn mode(mut self, mode: IntegrationMode) -> Self {
        self.mode = Some(SetMode::Engine(mode));
        self
    }

    /// `mode` is written straight into the store (no audit entry).
    pub fn stored_mode(mut self, mode: IntegrationMode) -> Self {
        self.mode = Some(SetMode::Store(mode));
        self
    }

    /// A CI mapping in the store.
    pub fn ci_mapping(mut self, mapping: CiMapping) -> Self {
        self.ci_mappings.push(mapping);
        self
    }

    /// Organization `i` gets an active configuration mapped to company `i` (in the order
    /// ServiceNow lists them) that allows incidents.
    pub fn incident_configs(mut self) -> Self {
        self.incident_configs = true;
        self
    }

    /// The world, with the mode, mappings and configurations asked for in the store.
    pub fn build(self) -> World {
        let faults = self.faults.unwrap_or_default();
        let (ninja, snow) = if self.shared_faults {
            (
                self.ninja.faults(faults.clone()),
                self.snow.faults(faults.clone()),
            )
        } else {
            (self.ninja, self.snow)
        };
        let ninja = self.ninja_fake.unwrap_or_else(|| ninja.build());
        let snow = self.snow_fake.unwrap_or_else(|| snow.build());
        let store = self.store.unwrap_or_default();
        let engine_store = self.engine_store.unwrap_or_else(|| Arc::new(store.clone()));
        let clock = self.clock;
        let sync = OrganizationSync::new(Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::clone(&engine_store),
            Arc::new(clock.clone()),
        ))
        .policy(self.setup.policy.clone())
        .options(self.setup.options.clone());
        let world = World {
            ninja,
            snow,
            store,
            clock,
            faults,
            admin: Actor::administrator(&self.admin),
            setup: self.setup,
            sync,
            engine_store,
        };
        let seeds = self.mode.is_some() || !self.ci_mappings.is_empty() || self.incident_configs;
        if seeds {
            block_on(async {
                match self.mode {
                    Some(SetMode::Engine(mode)) => world
                        .sync
                        .set_mode(&world.admin, mode)
                        .await
                        .expect("set the mode"),
                    Some(SetMode::Store(mode)) => {
                        world.store.set_mode(mode).await.expect("set the mode");
                    }
                    None => {}
                }
                for mapping in self.ci_mappings {
                    world
                        .store
                        .put_ci_mapping(mapping)
                        .await
                        .expect("store a CI mapping");
                }
                if self.incident_configs {
                    for (i, company) in world.snow.all_companies().iter().enumerate() {
                        let n = u32::try_from(i + 1).expect("a small index");
                        world
                            .store
                            .write_config(config(
                                org(n),
                                Some(company.sys_id.clone()),
                                SyncStatus::Active,
                                true,
                            ))
                            .await
                            .expect("seed a configuration");
                    }
                }
            });
        }
        world
    }
}

/// A configuration of `org` in `status` (reached through the status machine, each step noted
/// "test").
pub fn config(
    org: OrganizationId,
    company: Option<SysId>,
    status: SyncStatus,
    allow_incidents: bool,
) -> SyncConfig {
    let now = fixed_time();
    let mut c = SyncConfig::new(org, company, now);
    c.set_allow_incidents(allow_incidents);
    walk(&mut c, status, |_| Some("test"), now);
    c
}

/// Moves a new configuration to `status` through the status machine, `note` naming each step.
pub fn walk(
    config: &mut SyncConfig,
    status: SyncStatus,
    note: impl Fn(SyncEvent) -> Option<&'static str>,
    now: DateTime<Utc>,
) {
    let events: &[SyncEvent] = match status {
        SyncStatus::Pending => &[],
        SyncStatus::InQueue => &[SyncEvent::Enqueue],
        SyncStatus::Active => &[SyncEvent::Enqueue, SyncEvent::Succeeded],
        SyncStatus::Inactive => &[SyncEvent::Deactivate],
        SyncStatus::Deleted => &[SyncEvent::Delete],
        other => panic!("no way to seed {other:?} yet"),
    };
    for event in events {
        config
            .apply(*event, note(*event), now)
            .expect("an allowed event");
    }
    assert_eq!(config.status(), status);
}

impl World {
    /// What the engines store in.
    pub fn engine_store(&self) -> Arc<dyn ConfigStore> {
        Arc::clone(&self.engine_store)
    }

    /// The ports of the world's engines.
    pub fn ports(&self) -> Ports {
        Ports::new(
            Arc::new(self.ninja.clone()),
            Arc::new(self.snow.clone()),
            self.engine_store(),
            Arc::new(self.clock.clone()),
        )
    }

    /// An organization sync over this world's clock and NinjaOne with another ServiceNow and
    /// store, and the world's policy.
    pub fn sync_over(
        &self,
        snow: Arc<dyn ServiceNowApi>,
        store: Arc<dyn ConfigStore>,
    ) -> OrganizationSync {
        OrganizationSync::new(Ports::new(
            Arc::new(self.ninja.clone()),
            snow,
            store,
            Arc::new(self.clock.clone()),
        ))
        .policy(self.setup.policy.clone())
        .options(self.setup.options.clone())
    }

    /// The incident router's default settings.
    pub fn settings(&self) -> IncidentSettings {
        IncidentSettings::new(INTEGRATION).expect("valid id")
    }

    /// An incident router with the default settings.
    pub fn router(&self) -> IncidentRouter {
        self.router_with(self.settings())
    }

    /// An incident router with `settings`.
    pub fn router_with(&self, settings: IncidentSettings) -> IncidentRouter {
        IncidentRouter::new(self.ports(), settings).options(self.setup.options.clone())
    }

    /// The clock's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A pass that must succeed.
    pub fn run(&self) -> Report {
        block_on(self.sync.run_once(ApplyMode::Apply)).expect("a pass")
    }

    /// A pass that must stop on refused credentials: the `Err`'s report.
    pub fn run_refused(&self) -> Report {
        match block_on(self.sync.run_once(ApplyMode::Apply)) {
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                other => panic!("a sync report, not {other:?}"),
            },
            other => panic!("expected SyncError::CredentialsRefused, got {other:?}"),
        }
    }

    /// A pass's report; a stop by refused credentials is an `Err` carrying it.
    pub fn pass(&self, mode: ApplyMode) -> Report {
        match block_on(self.sync.run_once(mode)) {
            Ok(report) => report,
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                other => panic!("a sync report, not {other:?}"),
            },
            Err(err) => panic!("a pass: {err}"),
        }
    }

    pub fn configs(&self) -> Vec<SyncConfig> {
        block_on(self.store.configs()).expect("read the configurations")
    }

    pub fn try_config(&self, org: OrganizationId) -> Option<SyncConfig> {
        block_on(self.store.config(org)).expect("read a configuration")
    }

    pub fn config(&self, org: OrganizationId) -> SyncConfig {
        self.try_config(org)
            .unwrap_or_else(|| panic!("organization {org} has a configuration"))
    }

    pub fn has_config(&self, org: OrganizationId) -> bool {
        self.try_config(org).is_some()
    }

    /// Rewrites organization `n`'s configuration with `change`.
    pub fn edit(&self, n: u32, change: impl FnOnce(&mut SyncConfig)) {
        let mut c = self.config(org(n));
        change(&mut c);
        block_on(self.store.write_config(c)).expect("saved");
    }

    pub fn audit(&self) -> Vec<AuditEntry> {
        block_on(self.store.audit(&AuditFilter::all())).expect("read the audit log")
    }

    pub fn audit_len(&self) -> usize {
        self.audit().len()
    }

    pub fn reset_counts(&self) {
        self.ninja.faults().reset_counts();
        self.snow.faults().reset_counts();
    }

    /// Remote calls to both sides.
    pub fn remote_calls(&self) -> usize {
        self.ninja.faults().total_calls() + self.snow.faults().total_calls()
    }

    /// Companies in ServiceNow with exactly this name.
    pub fn companies_named(&self, name: &str) -> Vec<SysId> {
        self.snow
            .all_companies()
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.sys_id)
            .collect()
    }

    /// The only company with exactly this name.
    pub fn company_named(&self, name: &str) -> SysId {
        let found = self.companies_named(name);
        assert_eq!(found.len(), 1, "exactly one company is named {name:?}");
        found.into_iter().next().expect("one company")
    }

    /// Company `n` (named like organization `n`).
    pub fn company(&self, n: u32) -> SysId {
        self.company_named(&customer_name(n as usize))
    }
}
