//! The `OrganizationSync` service API: permissions (the `Actor` table), modes, validation of
//! manual adds, the status flow of edits, CI mappings, edits racing a pass, and what refusals say.

use ninjaone_servicenow::testing::ids::org;
use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod, StoreMethod, Verdict};
use std::sync::{Arc, Mutex, PoisonError};

use futures::executor::block_on;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{
    Actor, AddRefusal, Added, ApplyMode, ConfigChanges, ConfigDraft, DirectoryMatch, FailureKind,
    OrganizationSync, Outcome, Problem, Report, SyncError,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    AuditAction, AuditEntry, AuditFilter, AuditOutcome, CiMapping, CiMappingName, DeviceRoleId,
    IntegrationMode, OrganizationId, SyncConfig, SyncStatus, SysId, TicketTemplate,
    TicketTemplateName,
};
use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{
    FakeNinjaOne, FakeServiceNow, customer_name, fixed_time, standard_roles,
};

use crate::support::world::{World, walk};
use serde_json::{Value, json};

mod ci_mappings;
mod manual_add;
mod modes;
mod permissions;
mod racing_a_pass;
mod refusals;
mod screen_rows;
mod status_flow;
mod ticket_templates;

// ---- harness ----

fn mapping_name(name: &str) -> CiMappingName {
    name.parse().expect("a valid CI mapping name")
}

/// A CI mapping sending each of `roles` to a generic computer class.
fn mapping(name: &str, roles: &[u32]) -> CiMapping {
    let mut mapping = CiMapping::new(mapping_name(name));
    for &role in roles {
        mapping.set_rule(
            DeviceRoleId::new(role).expect("a valid role id"),
            "cmdb_ci_computer".parse().expect("a valid CI class"),
        );
    }
    mapping
}

/// A sys_id no fake row has (the fakes count up from 1).
fn unknown_sys_id() -> SysId {
    "ffffffffffffffffffffffffffffff01"
        .parse()
        .expect("a valid sys_id")
}

const GLOBEX: &str = "Globex Holdings";
const INITECH: &str = "Initech Account";

/// Organizations 1..=3 with the standard roles; companies 1..=3 (same names), a company
/// named [`GLOBEX`] and, with Customer Service Management, the account [`INITECH`]; the
/// CI mapping "servers" (Windows Server); the store in `mode`.
fn world(mode: IntegrationMode) -> World {
    world_with(
        FakeNinjaOne::builder()
            .organizations(3)
            .roles_standard()
            .build(),
        FakeServiceNow::builder()
            .companies(3)
            .company(GLOBEX, true)
            .customer_service_management(true)
            .customer_account(INITECH)
            .build(),
        mode,
    )
}

/// The service over `ninja` and `snow`, `mode` and the CI mapping "servers" written straight
/// to the store.
fn world_with(ninja: FakeNinjaOne, snow: FakeServiceNow, mode: IntegrationMode) -> World {
    World::builder()
        .ninja(ninja)
        .snow(snow)
        .stored_mode(mode)
        .ci_mapping(mapping("servers", &[9]))
        .build()
}

impl World {
    /// Writes a configuration of organization `n` mapped to company `n` in `status` straight
    /// to the store (no audit entry).
    fn seed(&self, n: u32, status: SyncStatus) -> SyncConfig {
        let now = fixed_time();
        let mut config = SyncConfig::new(org(n), Some(self.company(n)), now);
        walk(
            &mut config,
            status,
            |event| match event {
                SyncEvent::Deactivate => Some("paused by zoe"),
                SyncEvent::Delete => Some("deleted by zoe"),
                _ => None,
            },
            now,
        );
        // With the names a pass would have seen, so an idle pass has nothing to write.
        let mut parts = config.into_parts();
        parts.organization_name = Some(customer_name(n as usize));
        parts.company_name = Some(customer_name(n as usize));
        let config = SyncConfig::from_parts(parts).expect("valid parts");
        block_on(self.store.write_config(config)).expect("seed a configuration")
    }

    fn last_audit(&self) -> AuditEntry {
        self.audit().pop().expect("an audit entry")
    }

    fn state(&self) -> State {
        block_on(async {
            State {
                configs: self.store.configs().await.expect("configs"),
                mode: self.store.mode().await.expect("mode"),
                mappings: self.store.ci_mappings().await.expect("mappings"),
                audit: self.store.audit(&AuditFilter::all()).await.expect("audit"),
            }
        })
    }
}

/// What the store holds, to compare before and after an act.
#[derive(Debug, Clone, PartialEq)]
struct State {
    configs: Vec<SyncConfig>,
    mode: IntegrationMode,
    mappings: Vec<CiMapping>,
    audit: Vec<AuditEntry>,
}

/// Asserts `entry` records `actor` being refused `action` for `organization`, with `err`'s
/// message as the reason.
fn assert_refused_entry(
    entry: &AuditEntry,
    actor: &str,
    action: &AuditAction,
    organization: Option<OrganizationId>,
    err: &SyncError,
) {
    assert_eq!(entry.actor, actor, "{entry:?}");
    assert_eq!(&entry.action, action, "{entry:?}");
    assert_eq!(entry.organization, organization, "{entry:?}");
    assert_eq!(
        entry.outcome,
        AuditOutcome::Refused(err.to_string()),
        "{entry:?}"
    );
}

/// Asserts that `act` was refused with an audited error and changed nothing else.
fn assert_refusal_recorded(
    world: &World,
    before: &State,
    actor: &str,
    action: &AuditAction,
    organization: Option<OrganizationId>,
    err: &SyncError,
) {
    let after = world.state();
    assert_eq!(
        after.configs, before.configs,
        "configurations changed: {err}"
    );
    assert_eq!(after.mode, before.mode, "mode changed: {err}");
    assert_eq!(
        after.mappings, before.mappings,
        "CI mappings changed: {err}"
    );
    assert_eq!(
        after.audit.len(),
        before.audit.len() + 1,
        "one audit entry per refusal: {err}"
    );
    assert_refused_entry(
        after.audit.last().expect("an entry"),
        actor,
        action,
        organization,
        err,
    );
}

fn status_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(|v| v["status"].as_str())
}

fn technician() -> Actor {
    Actor::technician("bob")
        .with_integration_permission()
        .seeing_all()
}
