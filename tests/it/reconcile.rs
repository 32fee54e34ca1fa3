//! The reconcile pass of `OrganizationSync` (what one pass does): request counts, name matching,
//! renames, removals, the deletion guard, unknown listings, modes, Customer Service Management,
//! dry runs and refused credentials.

use crate::support::setup::Setup;
use ninjaone_servicenow::testing::ids::org as id;
use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, ConfigDraft, EngineOptions, ErrorChain, FailureKind, NextRun,
    OrganizationSync, Outcome, Report, ReportDetail, Stop, StoppedReport, SyncError,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    AuditAction, AuditFilter, AuditOutcome, Company, IntegrationMode, Organization, OrganizationId,
    RowError, SyncConfig, SyncStatus, SysId,
};
use ninjaone_servicenow::plan::{
    Decision, Observed, Plan, Policy, Snapshot, UnmatchedPolicy, plan,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{ApiError, ApiErrorKind, ConfigStore, NinjaOneApi, Remote};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, customer_name, fixed_time};

mod credentials;
mod matching;
mod modes;
mod renames;
mod request_counts;
mod unknown;

// ---- harness ----

fn index(n: usize) -> OrganizationId {
    id(u32::try_from(n).expect("a small index"))
}

/// Both fakes, a store, a manual clock and the service over them.
struct World {
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    store: MemoryStore,
    sync: OrganizationSync,
    admin: Actor,
}

impl World {
    fn new(
        ninja: FakeNinjaOne,
        snow: FakeServiceNow,
        setup: impl Into<Setup>,
        mode: IntegrationMode,
    ) -> Self {
        Self::with_api(Arc::new(ninja.clone()), ninja, snow, setup, mode)
    }

    fn active(ninja: FakeNinjaOne, snow: FakeServiceNow) -> Self {
        Self::new(ninja, snow, Policy::default(), IntegrationMode::Active)
    }

    /// `api` is what the service calls; `ninja` is the fake behind it.
    fn with_api(
        api: Arc<dyn NinjaOneApi>,
        ninja: FakeNinjaOne,
        snow: FakeServiceNow,
        setup: impl Into<Setup>,
        mode: IntegrationMode,
    ) -> Self {
        let setup = setup.into();
        let store = MemoryStore::new();
        let clock = ManualClock::new(fixed_time());
        let sync = OrganizationSync::new(Ports::new(
            api,
            Arc::new(snow.clone()),
            Arc::new(store.clone()),
            Arc::new(clock),
        ))
        .policy(setup.policy)
        .options(setup.options);
        let admin = Actor::administrator("a");
        block_on(sync.set_mode(&admin, mode)).expect("set the mode");
        Self {
            ninja,
            snow,
            store,
            sync,
            admin,
        }
    }

    fn run(&self) -> Report {
        block_on(self.sync.run_once(ApplyMode::Apply)).expect("a pass")
    }

    /// A pass that must stop on refused credentials: the `Err`'s report.
    fn run_refused(&self) -> Report {
        match block_on(self.sync.run_once(ApplyMode::Apply)) {
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                other => panic!("a sync report, not {other:?}"),
            },
            other => panic!("expected SyncError::CredentialsRefused, got {other:?}"),
        }
    }

    fn configs(&self) -> Vec<SyncConfig> {
        block_on(self.store.configs()).expect("read the configurations")
    }

    fn config(&self, org: OrganizationId) -> SyncConfig {
        block_on(self.store.config(org))
            .expect("read a configuration")
            .unwrap_or_else(|| panic!("organization {org} has a configuration"))
    }

    fn has_config(&self, org: OrganizationId) -> bool {
        block_on(self.store.config(org))
            .expect("read a configuration")
            .is_some()
    }

    fn audit_len(&self) -> usize {
        block_on(self.store.audit(&AuditFilter::all()))
            .expect("read the audit log")
            .len()
    }

    fn reset_counts(&self) {
        self.ninja.faults().reset_counts();
        self.snow.faults().reset_counts();
    }

    /// Companies in ServiceNow with exactly this name.
    fn companies_named(&self, name: &str) -> Vec<SysId> {
        self.snow
            .all_companies()
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.sys_id)
            .collect()
    }

    /// The only company with exactly this name.
    fn company_named(&self, name: &str) -> SysId {
        let found = self.companies_named(name);
        assert_eq!(found.len(), 1, "exactly one company is named {name:?}");
        found.into_iter().next().expect("one company")
    }
}

fn outcome(report: &Report, org: OrganizationId) -> &Outcome {
    &report
        .outcome(org)
        .unwrap_or_else(|| panic!("the report has a line for organization {org}"))
        .outcome
}

fn reason(config: &SyncConfig) -> &str {
    config.status_reason().unwrap_or_default()
}

/// 200 organizations mapped to 200 companies, all active.
fn two_hundred() -> World {
    let w = World::active(
        FakeNinjaOne::builder().organizations(200).build(),
        FakeServiceNow::builder().companies(200).build(),
    );
    assert_eq!(w.run().matched, 200);
    w
}
fn organization(n: u32, name: &str) -> Organization {
    serde_json::from_value(serde_json::json!({ "id": n, "name": name })).expect("organization")
}
fn company(n: u64, name: &str) -> Company {
    serde_json::from_value(serde_json::json!({ "sys_id": format!("{n:032x}"), "name": name }))
        .expect("company")
}
fn decision(p: &Plan, org: u32) -> &Decision {
    &p.items
        .iter()
        .find(|i| i.organization == id(org))
        .unwrap_or_else(|| panic!("an item for organization {org}"))
        .decision
}
