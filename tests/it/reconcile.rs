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
    OrganizationSync, Outcome, Report, ReportDetail, Stop, SyncError,
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
use ninjaone_servicenow::ports::{ApiError, ApiErrorKind, ConfigStore, Remote};
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, customer_name, fixed_time};

use crate::support::world::World;

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

/// The reconcile world over `ninja` and `snow`: the administrator "a" sets `mode`.
fn world(
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    setup: impl Into<Setup>,
    mode: IntegrationMode,
) -> World {
    World::builder()
        .ninja(ninja)
        .snow(snow)
        .setup(setup)
        .admin("a")
        .mode(mode)
        .build()
}

fn active(ninja: FakeNinjaOne, snow: FakeServiceNow) -> World {
    world(ninja, snow, Policy::default(), IntegrationMode::Active)
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
    let w = active(
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
