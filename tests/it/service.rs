//! The `OrganizationSync` service API: permissions (the `Actor` table), modes, validation of
//! manual adds, the status flow of edits, CI mappings, edits racing a pass, and what refusals say.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
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
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{ConfigStore, StoreError, WriteBatch};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{
    FakeNinjaOne, FakeServiceNow, customer_name, fixed_time, standard_roles,
};
use serde_json::{Value, json};

// ---- harness ----

fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).expect("a valid organization id")
}

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

/// Both fakes, a store, a manual clock and the service over them.
struct World {
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    store: MemoryStore,
    sync: OrganizationSync,
    admin: Actor,
}

impl World {
    /// Organizations 1..=3 with the standard roles; companies 1..=3 (same names), a company
    /// named [`GLOBEX`] and, with Customer Service Management, the account [`INITECH`]; the
    /// CI mapping "servers" (Windows Server); the store in `mode`.
    fn new(mode: IntegrationMode) -> Self {
        let ninja = FakeNinjaOne::builder()
            .organizations(3)
            .roles_standard()
            .build();
        let snow = FakeServiceNow::builder()
            .companies(3)
            .company(GLOBEX, true)
            .customer_service_management(true)
            .customer_account(INITECH)
            .build();
        Self::with(ninja, snow, mode)
    }

    fn with(ninja: FakeNinjaOne, snow: FakeServiceNow, mode: IntegrationMode) -> Self {
        let store = MemoryStore::new();
        let world = Self::over(ninja, snow, store.clone(), Arc::new(store));
        block_on(async {
            world.store.set_mode(mode).await.expect("set the mode");
            world
                .store
                .put_ci_mapping(mapping("servers", &[9]))
                .await
                .expect("store a CI mapping");
        });
        world
    }

    /// The service over `service_store`, which is (or wraps) `store`.
    fn over(
        ninja: FakeNinjaOne,
        snow: FakeServiceNow,
        store: MemoryStore,
        service_store: Arc<dyn ConfigStore>,
    ) -> Self {
        let sync = OrganizationSync::new(Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            service_store,
            Arc::new(ManualClock::new(fixed_time())),
        ));
        Self {
            ninja,
            snow,
            store,
            sync,
            admin: Actor::administrator("alice"),
        }
    }

    fn company_named(&self, name: &str) -> SysId {
        self.snow
            .all_companies()
            .into_iter()
            .find(|c| c.name == name)
            .map_or_else(|| panic!("no company named {name:?}"), |c| c.sys_id)
    }

    /// Company `i` (named like organization `i`).
    fn company(&self, i: u32) -> SysId {
        self.company_named(&customer_name(i as usize))
    }

    fn account(&self) -> SysId {
        self.company_named(INITECH)
    }

    /// Writes a configuration of organization `n` mapped to company `n` in `status` straight
    /// to the store (no audit entry).
    fn seed(&self, n: u32, status: SyncStatus) -> SyncConfig {
        let now = fixed_time();
        let mut config = SyncConfig::new(org(n), Some(self.company(n)), now);
        let events: &[(SyncEvent, Option<&str>)] = match status {
            SyncStatus::Pending => &[],
            SyncStatus::InQueue => &[(SyncEvent::Enqueue, None)],
            SyncStatus::Active => &[(SyncEvent::Enqueue, None), (SyncEvent::Succeeded, None)],
            SyncStatus::Inactive => &[(SyncEvent::Deactivate, Some("paused by zoe"))],
            SyncStatus::Deleted => &[(SyncEvent::Delete, Some("deleted by zoe"))],
            other => panic!("no way to seed {other:?} yet"),
        };
        for (event, note) in events {
            config.apply(*event, *note, now).expect("an allowed event");
        }
        // With the names a pass would have seen, so an idle pass has nothing to write.
        let mut parts = config.into_parts();
        parts.organization_name = Some(customer_name(n as usize));
        parts.company_name = Some(customer_name(n as usize));
        let config = SyncConfig::from_parts(parts).expect("valid parts");
        block_on(self.store.write_config(config)).expect("seed a configuration")
    }

    fn config(&self, n: u32) -> Option<SyncConfig> {
        block_on(self.store.config(org(n))).expect("read a configuration")
    }

    fn stored(&self, n: u32) -> SyncConfig {
        self.config(n)
            .unwrap_or_else(|| panic!("organization {n} has a configuration"))
    }

    fn audit(&self) -> Vec<AuditEntry> {
        block_on(self.store.audit(&AuditFilter::all())).expect("read the audit log")
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

    fn remote_calls(&self) -> usize {
        self.ninja.faults().total_calls() + self.snow.faults().total_calls()
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

// ---- 1. the permission matrix ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    SetMode,
    Add(u32),
    Update(u32),
    Pause(u32),
    Resume(u32),
    Delete(u32),
    Restore(u32),
    List,
    Get(u32),
    Audit,
    AuditOf(u32),
    CiMappings,
    PutCiMapping,
    DeleteCiMapping,
    ApproveDeletions,
}

/// Columns: administrator; technician with the permission seeing organization 1; technician
/// with the permission seeing all; technician without the permission seeing all.
const MATRIX: &[(Act, [bool; 4])] = &[
    (Act::SetMode, [true, false, false, false]),
    (Act::Add(1), [true, true, true, false]),
    (Act::Add(2), [true, false, true, false]),
    (Act::Update(1), [true, true, true, false]),
    (Act::Update(2), [true, false, true, false]),
    (Act::Pause(1), [true, true, true, false]),
    (Act::Pause(2), [true, false, true, false]),
    (Act::Resume(1), [true, true, true, false]),
    (Act::Resume(2), [true, false, true, false]),
    (Act::Delete(1), [true, true, true, false]),
    (Act::Delete(2), [true, false, true, false]),
    (Act::Restore(1), [true, true, true, false]),
    (Act::Restore(2), [true, false, true, false]),
    (Act::List, [true, true, true, false]),
    (Act::Get(1), [true, true, true, false]),
    (Act::Get(2), [true, false, true, false]),
    (Act::Audit, [true, true, true, false]),
    (Act::AuditOf(2), [true, false, true, false]),
    (Act::CiMappings, [true, true, true, false]),
    (Act::PutCiMapping, [true, false, false, false]),
    (Act::DeleteCiMapping, [true, false, false, false]),
    (Act::ApproveDeletions, [true, false, false, false]),
];

fn matrix_actors() -> [Actor; 4] {
    [
        Actor::administrator("alice"),
        Actor::technician("bob")
            .with_integration_permission()
            .seeing([org(1)]),
        Actor::technician("carol")
            .with_integration_permission()
            .seeing_all(),
        Actor::technician("dave").seeing_all(),
    ]
}

/// What an allowed act returned.
enum Done {
    Changed,
    Added(Box<Added>),
    Configs(Vec<SyncConfig>),
    Config(Option<Box<SyncConfig>>),
    Audit(Vec<AuditEntry>),
    Mappings(Vec<CiMapping>),
    Report(Box<Report>),
}

/// The audit action and organization an act is recorded under.
fn recorded_as(act: Act) -> (AuditAction, Option<OrganizationId>) {
    let read = AuditAction::Other("read".to_owned());
    match act {
        Act::SetMode => (AuditAction::SetMode, None),
        Act::Add(n) => (AuditAction::AddConfig, Some(org(n))),
        Act::Update(n) => (AuditAction::UpdateConfig, Some(org(n))),
        Act::Pause(n) => (AuditAction::PauseConfig, Some(org(n))),
        Act::Resume(n) => (AuditAction::ResumeConfig, Some(org(n))),
        Act::Delete(n) => (AuditAction::DeleteConfig, Some(org(n))),
        Act::Restore(n) => (AuditAction::RestoreConfig, Some(org(n))),
        Act::Get(n) | Act::AuditOf(n) => (read, Some(org(n))),
        Act::List | Act::Audit | Act::CiMappings => (read, None),
        Act::PutCiMapping => (AuditAction::SetCiMapping, None),
        Act::DeleteCiMapping => (AuditAction::DeleteCiMapping, None),
        Act::ApproveDeletions => (AuditAction::ApproveDeletions, None),
    }
}

/// Inactive mode; organizations 1 and 2 configured (active), except that the act's own
/// organization is unconfigured for an add, paused for a resume, deleted for a restore; the CI
/// mappings "servers" and "legacy"; audit entries about organization 1, organization 2 and none.
fn matrix_world(act: Act) -> World {
    let world = World::new(IntegrationMode::Inactive);
    for n in [1, 2] {
        let status = match act {
            Act::Add(m) if m == n => continue,
            Act::Resume(m) if m == n => SyncStatus::Inactive,
            Act::Restore(m) if m == n => SyncStatus::Deleted,
            _ => SyncStatus::Active,
        };
        world.seed(n, status);
    }
    block_on(async {
        world
            .store
            .put_ci_mapping(mapping("legacy", &[1]))
            .await
            .expect("store a CI mapping");
        let at = fixed_time();
        let seeded = vec![
            AuditEntry::applied(at, "system:sync", AuditAction::StatusChange)
                .for_organization(org(1)),
            AuditEntry::applied(at, "system:sync", AuditAction::StatusChange)
                .for_organization(org(2)),
            AuditEntry::applied(at, "zoe", AuditAction::SetMode),
        ];
        world.store.append_audit(seeded).await.expect("seed audit");
    });
    world
}

fn perform(world: &World, actor: &Actor, act: Act) -> Result<Done, SyncError> {
    let sync = &world.sync;
    block_on(async {
        Ok(match act {
            Act::SetMode => {
                sync.set_mode(actor, IntegrationMode::Active).await?;
                Done::Changed
            }
            Act::Add(n) => Done::Added(Box::new(
                sync.add(actor, ConfigDraft::new(org(n), world.company(n)))
                    .await?,
            )),
            Act::Update(n) => {
                let changes = ConfigChanges::new().allow_incidents(true);
                sync.update(actor, org(n), changes).await?;
                Done::Changed
            }
            Act::Pause(n) => sync.pause(actor, org(n)).await.map(|_| Done::Changed)?,
            Act::Resume(n) => sync.resume(actor, org(n)).await.map(|_| Done::Changed)?,
            Act::Delete(n) => sync.delete(actor, org(n)).await.map(|_| Done::Changed)?,
            Act::Restore(n) => sync.restore(actor, org(n)).await.map(|_| Done::Changed)?,
            Act::List => Done::Configs(sync.list(actor).await?),
            Act::Get(n) => Done::Config(sync.get(actor, org(n)).await?.map(Box::new)),
            Act::Audit => Done::Audit(sync.audit(actor, &AuditFilter::all()).await?),
            Act::AuditOf(n) => Done::Audit(
                sync.audit(actor, &AuditFilter::all().organization(org(n)))
                    .await?,
            ),
            Act::CiMappings => Done::Mappings(sync.ci_mappings(actor).await?),
            Act::PutCiMapping => {
                sync.put_ci_mapping(actor, mapping("workstations", &[1, 2]))
                    .await?;
                Done::Changed
            }
            Act::DeleteCiMapping => {
                assert!(
                    sync.delete_ci_mapping(actor, &mapping_name("legacy"))
                        .await?
                );
                Done::Changed
            }
            Act::ApproveDeletions => Done::Report(Box::new(sync.approve_deletions(actor).await?)),
        })
    })
}

/// The statuses an allowed configuration act moves between (`None`: no configuration).
fn status_change(act: Act) -> Option<(Option<&'static str>, &'static str)> {
    match act {
        Act::Add(_) => Some((None, "pending")),
        Act::Update(_) => Some((Some("active"), "pending")),
        Act::Pause(_) => Some((Some("active"), "inactive")),
        Act::Resume(_) => Some((Some("inactive"), "pending")),
        Act::Delete(_) => Some((Some("active"), "deleted")),
        Act::Restore(_) => Some((Some("deleted"), "pending")),
        _ => None,
    }
}

fn check_refused(
    world: &World,
    actor: &Actor,
    act: Act,
    before: &State,
    result: Result<Done, SyncError>,
) {
    let Err(err) = result else {
        panic!("{} may not {act:?}, yet it was allowed", actor.name());
    };
    match &err {
        SyncError::PermissionDenied {
            actor: who,
            act: what,
            reason,
        } => {
            assert_eq!(who, actor.name(), "{err}");
            assert!(!what.is_empty() && !reason.is_empty(), "{err}");
        }
        other => panic!(
            "{} doing {act:?}: expected PermissionDenied, got {other:?}",
            actor.name()
        ),
    }
    assert!(err.is_refusal(), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(actor.name()),
        "names the actor: {message}"
    );
    let (action, organization) = recorded_as(act);
    assert_refusal_recorded(world, before, actor.name(), &action, organization, &err);
    assert_eq!(world.remote_calls(), 0, "a refusal calls no API: {message}");
}

fn check_allowed_change(world: &World, actor: &Actor, act: Act, before: &State) {
    let after = world.state();
    assert_eq!(
        after.audit.len(),
        before.audit.len() + 1,
        "{act:?}: one audit entry"
    );
    let entry = after.audit.last().expect("an entry");
    let (action, organization) = recorded_as(act);
    assert_eq!(entry.actor, actor.name(), "{entry:?}");
    assert_eq!(entry.action, action, "{entry:?}");
    assert_eq!(entry.organization, organization, "{entry:?}");
    assert_eq!(entry.outcome, AuditOutcome::Applied, "{entry:?}");
    if let Some((from, to)) = status_change(act) {
        let n = organization.expect("a configuration act").get();
        assert_eq!(status_of(entry.before.as_ref()), from, "{entry:?}");
        assert_eq!(status_of(entry.after.as_ref()), Some(to), "{entry:?}");
        let stored = world.stored(n);
        assert_eq!(
            json!(stored.status()).as_str(),
            Some(to),
            "the audit's after state is what was stored"
        );
        let other = if n == 1 { 2 } else { 1 };
        assert_eq!(
            world.config(other),
            before
                .configs
                .iter()
                .find(|c| c.organization() == org(other))
                .cloned(),
            "{act:?} left the other organization alone"
        );
        return;
    }
    assert_eq!(
        after.configs, before.configs,
        "{act:?} changed no configuration"
    );
    match act {
        Act::SetMode => {
            assert_eq!(after.mode, IntegrationMode::Active);
            assert_eq!(entry.before, Some(json!({ "mode": "inactive" })));
            assert_eq!(entry.after, Some(json!({ "mode": "active" })));
        }
        Act::PutCiMapping => {
            assert!(
                after
                    .mappings
                    .iter()
                    .any(|m| m.name().as_str() == "workstations")
            );
            assert_eq!(entry.before, None);
            assert_eq!(
                entry.after.as_ref().map(|a| a["name"].clone()),
                Some(json!("workstations"))
            );
        }
        Act::DeleteCiMapping => {
            assert!(after.mappings.iter().all(|m| m.name().as_str() != "legacy"));
            assert_eq!(entry.before, Some(json!({ "name": "legacy" })));
            assert_eq!(entry.after, None);
        }
        other => panic!("not a change: {other:?}"),
    }
}

fn check_allowed_read(world: &World, actor: &Actor, act: Act, before: &State, done: &Done) {
    assert_eq!(
        &world.state(),
        before,
        "{act:?} by {} changed nothing",
        actor.name()
    );
    let sees_only_1 = actor.name() == "bob";
    match (act, done) {
        (Act::List, Done::Configs(configs)) => {
            let orgs: Vec<u32> = configs.iter().map(|c| c.organization().get()).collect();
            let expected: &[u32] = if sees_only_1 { &[1] } else { &[1, 2] };
            assert_eq!(orgs, expected, "{} lists", actor.name());
        }
        (Act::Get(n), Done::Config(config)) => {
            assert_eq!(config.as_ref().map(|c| c.organization()), Some(org(n)));
        }
        (Act::Audit, Done::Audit(entries)) => {
            let orgs: Vec<Option<u32>> = entries
                .iter()
                .map(|e| e.organization.map(OrganizationId::get))
                .collect();
            let expected: &[Option<u32>] = if sees_only_1 {
                &[Some(1), None]
            } else {
                &[Some(1), Some(2), None]
            };
            assert_eq!(orgs, expected, "{} reads the audit log", actor.name());
        }
        (Act::AuditOf(n), Done::Audit(entries)) => {
            assert!(!entries.is_empty());
            assert!(entries.iter().all(|e| e.organization == Some(org(n))));
        }
        (Act::CiMappings, Done::Mappings(mappings)) => {
            let names: Vec<&str> = mappings.iter().map(|m| m.name().as_str()).collect();
            assert_eq!(names, ["legacy", "servers"]);
        }
        (Act::ApproveDeletions, Done::Report(report)) => {
            assert_eq!(report.apply_mode, ApplyMode::Apply);
            assert_eq!(report.approved_by, None, "nothing was held");
        }
        (act, _) => panic!("unexpected result for {act:?}"),
    }
}

#[test]
fn permission_matrix_follows_the_actor_table() {
    let mut checked = 0;
    for &(act, allowed) in MATRIX {
        for (actor, allowed) in matrix_actors().iter().zip(allowed) {
            let world = matrix_world(act);
            let before = world.state();
            let result = perform(&world, actor, act);
            if allowed {
                let done = result.unwrap_or_else(|err| {
                    panic!("{} may {act:?}, yet was refused: {err}", actor.name())
                });
                match &done {
                    Done::Changed => check_allowed_change(&world, actor, act, &before),
                    Done::Added(added) => {
                        check_allowed_change(&world, actor, act, &before);
                        let n = added.config.organization().get();
                        assert_eq!(world.config(n).as_ref(), Some(&added.config));
                        assert!(added.confirmation.contains(&format!("Organization {n}")));
                    }
                    _ => check_allowed_read(&world, actor, act, &before, &done),
                }
            } else {
                check_refused(&world, actor, act, &before, result);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, MATRIX.len() * 4);
}

#[test]
fn refused_reasons_say_why() {
    let world = matrix_world(Act::List);
    let [_, bob, carol, dave] = matrix_actors();
    let cases: [(&Actor, Act, &str); 4] = [
        (&bob, Act::Pause(2), "they may not see organization 2"),
        (
            &carol,
            Act::SetMode,
            "only system administrators may do this",
        ),
        (
            &dave,
            Act::List,
            "they do not have the integration permission",
        ),
        (&bob, Act::Get(2), "they may not see organization 2"),
    ];
    for (actor, act, why) in cases {
        let Err(err) = perform(&world, actor, act) else {
            panic!("{act:?} should be refused");
        };
        let message = err.to_string();
        assert!(message.contains(why), "{message}");
        let AuditOutcome::Refused(reason) = world.last_audit().outcome else {
            panic!("a refusal is recorded as refused");
        };
        assert!(
            reason.contains(actor.name()) && reason.contains(why),
            "{reason}"
        );
    }
}

// ---- 2. modes ----

#[test]
fn can_add_only_in_inactive_mode() {
    let world = World::new(IntegrationMode::Disabled);
    for (mode, expected) in [
        (IntegrationMode::Disabled, false),
        (IntegrationMode::Inactive, true),
        (IntegrationMode::Active, false),
    ] {
        block_on(world.sync.set_mode(&world.admin, mode)).expect("set the mode");
        assert_eq!(block_on(world.sync.mode()).expect("mode"), mode);
        assert_eq!(
            block_on(world.sync.can_add(&world.admin)).expect("can_add"),
            expected,
            "{mode}"
        );
    }
}

#[test]
fn can_add_needs_the_integration_permission_and_is_a_question_that_audits_nothing() {
    let world = World::new(IntegrationMode::Inactive);
    let before = world.audit().len();
    let viewer = Actor::technician("dave");
    let permitted = Actor::technician("erin")
        .with_integration_permission()
        .seeing_all();
    assert!(block_on(world.sync.can_add(&permitted)).expect("can_add"));
    // A screen asks on every view: each answer is a refusal, none is an audit entry.
    for _ in 0..3 {
        let Err(err) = block_on(world.sync.can_add(&viewer)) else {
            panic!("an actor without the integration permission may not add");
        };
        let SyncError::PermissionDenied { actor, reason, .. } = &err else {
            panic!("not a permission refusal: {err:?}");
        };
        assert_eq!(actor, "dave");
        assert!(
            reason.contains("they do not have the integration permission"),
            "{reason}"
        );
    }
    assert_eq!(
        world.audit().len(),
        before,
        "can_add wrote to the audit log"
    );
    // The act itself is still refused and audited.
    let Err(err) = block_on(
        world
            .sync
            .add(&viewer, ConfigDraft::new(org(1), world.company(1))),
    ) else {
        panic!("an actor without the integration permission may not add");
    };
    assert!(matches!(err, SyncError::PermissionDenied { .. }), "{err:?}");
    let entry = world.last_audit();
    assert_eq!(entry.actor, "dave");
    assert_eq!(entry.action, AuditAction::AddConfig);
    assert!(matches!(entry.outcome, AuditOutcome::Refused(_)));
}

#[test]
fn add_is_refused_outside_inactive_mode() {
    for (mode, refusal, says) in [
        (
            IntegrationMode::Active,
            AddRefusal::AutomaticSyncOn,
            "automatic sync is on",
        ),
        (
            IntegrationMode::Disabled,
            AddRefusal::IntegrationDisabled,
            "the integration is disabled",
        ),
    ] {
        let world = World::new(mode);
        let before = world.state();
        let draft = ConfigDraft::new(org(2), world.company(2));
        let err = block_on(world.sync.add(&world.admin, draft)).expect_err("add is refused");
        assert!(
            matches!(err, SyncError::AddRefused(r) if r == refusal),
            "{mode}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(says), "{mode}: {message}");
        assert!(
            message.contains("cannot be added by hand"),
            "{mode}: {message}"
        );
        assert_refusal_recorded(
            &world,
            &before,
            "alice",
            &AuditAction::AddConfig,
            Some(org(2)),
            &err,
        );
        assert_eq!(
            world.remote_calls(),
            0,
            "{mode}: nothing was checked remotely"
        );
    }
}

#[test]
fn set_mode_is_audited_with_before_and_after() {
    let world = World::new(IntegrationMode::Disabled);
    block_on(world.sync.set_mode(&world.admin, IntegrationMode::Inactive)).expect("inactive");
    block_on(world.sync.set_mode(&world.admin, IntegrationMode::Active)).expect("active");
    let entries = world.audit();
    let modes: Vec<(Option<Value>, Option<Value>)> = entries
        .iter()
        .map(|e| {
            assert_eq!(e.actor, "alice");
            assert_eq!(e.action, AuditAction::SetMode);
            assert_eq!(e.organization, None);
            assert_eq!(e.outcome, AuditOutcome::Applied);
            (e.before.clone(), e.after.clone())
        })
        .collect();
    assert_eq!(
        modes,
        [
            (
                Some(json!({ "mode": "disabled" })),
                Some(json!({ "mode": "inactive" }))
            ),
            (
                Some(json!({ "mode": "inactive" })),
                Some(json!({ "mode": "active" }))
            ),
        ]
    );
    assert_eq!(world.remote_calls(), 0);
}

#[test]
fn edits_work_in_every_mode() {
    let bob = Actor::technician("bob")
        .with_integration_permission()
        .seeing_all();
    for mode in [
        IntegrationMode::Active,
        IntegrationMode::Inactive,
        IntegrationMode::Disabled,
    ] {
        let world = World::new(mode);
        world.seed(1, SyncStatus::Active);
        let sync = &world.sync;
        block_on(async {
            let changes = ConfigChanges::new().allow_incidents(true);
            let steps = [
                (
                    "update",
                    sync.update(&bob, org(1), changes).await,
                    SyncStatus::Pending,
                ),
                (
                    "pause",
                    sync.pause(&bob, org(1)).await,
                    SyncStatus::Inactive,
                ),
                (
                    "resume",
                    sync.resume(&bob, org(1)).await,
                    SyncStatus::Pending,
                ),
                (
                    "delete",
                    sync.delete(&bob, org(1)).await,
                    SyncStatus::Deleted,
                ),
                (
                    "restore",
                    sync.restore(&bob, org(1)).await,
                    SyncStatus::Pending,
                ),
            ];
            for (what, result, status) in steps {
                let config = result.unwrap_or_else(|err| panic!("{what} in {mode} mode: {err}"));
                assert_eq!(config.status(), status, "{what} in {mode} mode");
            }
        });
        assert_eq!(world.stored(1).version(), 6, "{mode}: five saved edits");
        assert_eq!(world.snow.faults().writes(), 0, "{mode}: no remote write");
    }
}

// ---- 3. validation of a manual add ----

#[test]
fn add_lists_every_problem_at_once_without_customer_service_management() {
    let ninja = FakeNinjaOne::builder()
        .organizations(3)
        .roles_standard()
        .build();
    let snow = FakeServiceNow::builder().companies(3).build();
    let world = World::with(ninja, snow, IntegrationMode::Inactive);
    assert!(
        standard_roles().iter().all(|r| r.id.get() != 77),
        "role 77 is one NinjaOne lacks"
    );
    // Stored earlier, naming a role NinjaOne no longer has.
    block_on(world.store.put_ci_mapping(mapping("retired", &[9, 77]))).expect("store");
    let before = world.state();
    let draft = ConfigDraft::new(org(99), unknown_sys_id())
        .customer_account(unknown_sys_id())
        .ci_mapping(mapping_name("nowhere"))
        .ci_mapping(mapping_name("retired"))
        .ci_mapping(mapping_name("servers"));
    let err = block_on(world.sync.add(&world.admin, draft)).expect_err("an invalid draft");
    let SyncError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    let expected = [
        Problem::UnknownOrganization(org(99)),
        Problem::UnknownCompany(unknown_sys_id()),
        Problem::CustomerServiceManagementMissing,
        Problem::UnknownMapping(mapping_name("nowhere")),
        Problem::UnknownRole {
            mapping: mapping_name("retired"),
            role: DeviceRoleId::new(77).expect("a valid role id"),
        },
    ];
    assert_eq!(problems.len(), expected.len(), "{err}");
    for problem in &expected {
        assert!(problems.contains(problem), "{problem:?} missing from {err}");
    }
    let message = err.to_string();
    assert!(message.starts_with("nothing was saved: "), "{message}");
    for problem in &expected {
        assert!(message.contains(&problem.to_string()), "{message}");
    }
    assert!(
        message.contains("Customer Service Management, which is not installed"),
        "{message}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::AddConfig,
        Some(org(99)),
        &err,
    );
    assert!(world.state().configs.is_empty(), "nothing saved");
}

#[test]
fn add_reports_a_taken_company_and_an_unknown_account() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Active);
    let before = world.state();
    let draft = ConfigDraft::new(org(2), world.company(1)).customer_account(unknown_sys_id());
    let err = block_on(world.sync.add(&world.admin, draft)).expect_err("an invalid draft");
    let SyncError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    let expected = [
        Problem::CompanyTaken {
            company: world.company(1),
            organization: org(1),
        },
        Problem::UnknownAccount(unknown_sys_id()),
    ];
    assert_eq!(problems.len(), expected.len(), "{err}");
    for problem in &expected {
        assert!(problems.contains(problem), "{problem:?} missing from {err}");
    }
    let message = err.to_string();
    assert!(
        message.contains("is already mapped to organization 1"),
        "{message}"
    );
    assert!(
        message.contains("there is no customer account"),
        "{message}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::AddConfig,
        Some(org(2)),
        &err,
    );
    assert_eq!(world.config(2), None, "nothing saved");
}

#[test]
fn a_company_held_only_by_a_deleted_config_is_free() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Deleted);
    let draft = ConfigDraft::new(org(2), world.company(1));
    let added = block_on(world.sync.add(&world.admin, draft)).expect("the company is free");
    assert_eq!(added.config.company(), Some(&world.company(1)));
}

#[test]
fn a_valid_add_is_pending_confirmed_audited_and_activated_by_the_next_pass() {
    let world = World::new(IntegrationMode::Inactive);
    let globex = world.company_named(GLOBEX);
    let draft = ConfigDraft::new(org(2), globex.clone())
        .customer_account(world.account())
        .ci_mapping(mapping_name("servers"))
        .allow_incidents(true);
    let added = block_on(world.sync.add(&world.admin, draft)).expect("a valid draft");
    let config = &added.config;
    assert_eq!(config.organization(), org(2));
    assert_eq!(config.status(), SyncStatus::Pending);
    assert_eq!(config.status_reason(), None);
    assert_eq!(config.company(), Some(&globex));
    assert_eq!(config.customer_account(), Some(&world.account()));
    assert_eq!(
        config.ci_mappings().iter().collect::<Vec<_>>(),
        [&mapping_name("servers")]
    );
    assert!(config.allow_incidents());
    assert_eq!(config.version(), 1);
    assert_eq!(world.config(2).as_ref(), Some(config), "returned as stored");

    let confirmation = &added.confirmation;
    assert!(confirmation.contains("Organization 2"), "{confirmation}");
    assert!(confirmation.contains(&customer_name(2)), "{confirmation}");
    assert!(confirmation.contains(GLOBEX), "{confirmation}");
    assert!(confirmation.contains(globex.as_str()), "{confirmation}");

    let entry = world.last_audit();
    assert_eq!(
        (
            entry.actor.as_str(),
            &entry.action,
            entry.organization,
            &entry.outcome
        ),
        (
            "alice",
            &AuditAction::AddConfig,
            Some(org(2)),
            &AuditOutcome::Applied
        )
    );
    assert_eq!(entry.before, None);
    assert_eq!(status_of(entry.after.as_ref()), Some("pending"));
    assert_eq!(
        entry.after.as_ref().map(|a| a["company"].clone()),
        Some(json!(globex.as_str()))
    );

    let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
    let line = report
        .outcome(org(2))
        .expect("the pass concerned organization 2");
    assert_eq!(line.outcome, Outcome::Activated, "{}", line.outcome);
    assert_eq!(world.stored(2).status(), SyncStatus::Active);
    assert_eq!(
        world.config(1),
        None,
        "inactive mode adds nothing by itself"
    );
    assert_eq!(world.snow.faults().writes(), 0, "an add creates no company");
}

#[test]
fn a_second_add_of_the_same_organization_is_refused() {
    let world = World::new(IntegrationMode::Inactive);
    block_on(
        world
            .sync
            .add(&world.admin, ConfigDraft::new(org(2), world.company(2))),
    )
    .expect("the first add");
    let before = world.state();
    let draft = ConfigDraft::new(org(2), world.company_named(GLOBEX)).allow_incidents(true);
    let err = block_on(world.sync.add(&world.admin, draft)).expect_err("a second add");
    assert!(
        matches!(err, SyncError::AlreadyConfigured(o) if o == org(2)),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("organization 2"), "{message}");
    assert!(message.contains("update it instead"), "{message}");
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::AddConfig,
        Some(org(2)),
        &err,
    );
}

#[test]
fn adding_a_deleted_organization_restores_it_with_the_new_values() {
    let world = World::new(IntegrationMode::Inactive);
    let sync = &world.sync;
    let first = ConfigDraft::new(org(2), world.company(2))
        .ci_mapping(mapping_name("servers"))
        .allow_incidents(true);
    block_on(sync.add(&world.admin, first)).expect("add");
    block_on(sync.delete(&world.admin, org(2))).expect("delete");
    let globex = world.company_named(GLOBEX);
    let again = ConfigDraft::new(org(2), globex.clone()).customer_account(world.account());
    let added = block_on(sync.add(&world.admin, again)).expect("add after delete");
    let config = &added.config;
    assert_eq!(config.status(), SyncStatus::Pending);
    assert_eq!(config.status_reason(), None, "the deletion reason is gone");
    assert_eq!(config.company(), Some(&globex));
    assert_eq!(config.customer_account(), Some(&world.account()));
    assert!(
        config.ci_mappings().is_empty(),
        "the new values, not the old"
    );
    assert!(!config.allow_incidents());
    assert_eq!(
        config.version(),
        3,
        "the tombstone was updated, not replaced"
    );
    let entry = world.last_audit();
    assert_eq!(entry.action, AuditAction::AddConfig);
    assert_eq!(status_of(entry.before.as_ref()), Some("deleted"));
    assert_eq!(status_of(entry.after.as_ref()), Some("pending"));
}

// ---- 4. the status flow through the service ----

fn technician() -> Actor {
    Actor::technician("bob")
        .with_integration_permission()
        .seeing_all()
}

#[test]
fn update_sends_an_active_config_back_to_pending() {
    let world = World::new(IntegrationMode::Inactive);
    let seeded = world.seed(1, SyncStatus::Active);
    let changes = ConfigChanges::new()
        .company(world.company_named(GLOBEX))
        .allow_incidents(true);
    let updated = block_on(world.sync.update(&technician(), org(1), changes)).expect("an update");
    assert_eq!(updated.status(), SyncStatus::Pending);
    assert_eq!(updated.company(), Some(&world.company_named(GLOBEX)));
    assert!(updated.allow_incidents());
    assert_eq!(updated.version(), seeded.version() + 1);
    assert_eq!(world.stored(1), updated);
    let entry = world.last_audit();
    assert_eq!(entry.action, AuditAction::UpdateConfig);
    assert_eq!(entry.actor, "bob");
    assert_eq!(status_of(entry.before.as_ref()), Some("active"));
    assert_eq!(status_of(entry.after.as_ref()), Some("pending"));
    assert_eq!(
        entry.after.as_ref().map(|a| a["allow_incidents"].clone()),
        Some(json!(true))
    );
}

#[test]
fn update_keeps_a_paused_config_inactive_with_its_reason() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Active);
    let bob = technician();
    let paused = block_on(world.sync.pause(&bob, org(1))).expect("pause");
    assert_eq!(paused.status(), SyncStatus::Inactive);
    assert_eq!(paused.status_reason(), Some("paused by bob"));
    let changes = ConfigChanges::new().ci_mappings([mapping_name("servers")]);
    let updated = block_on(world.sync.update(&world.admin, org(1), changes)).expect("update");
    assert_eq!(updated.status(), SyncStatus::Inactive);
    assert_eq!(updated.status_reason(), Some("paused by bob"));
    assert!(updated.ci_mappings().contains(&mapping_name("servers")));
    assert_eq!(updated.version(), paused.version() + 1);
}

#[test]
fn update_without_a_real_change_saves_nothing() {
    let world = World::new(IntegrationMode::Inactive);
    let seeded = world.seed(1, SyncStatus::Active);
    let audit = world.audit().len();
    let same = ConfigChanges::new()
        .company(world.company(1))
        .customer_account(None)
        .ci_mappings([])
        .allow_incidents(false);
    for changes in [ConfigChanges::new(), same] {
        let result =
            block_on(world.sync.update(&technician(), org(1), changes)).expect("an update");
        assert_eq!(result, seeded, "the stored configuration, unchanged");
        assert_eq!(world.stored(1).version(), seeded.version(), "nothing saved");
        assert_eq!(world.stored(1).status(), SyncStatus::Active, "still active");
    }
    assert_eq!(world.audit().len(), audit, "nothing to audit");
}

#[test]
fn resume_sends_a_paused_config_to_pending() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Inactive);
    let resumed = block_on(world.sync.resume(&technician(), org(1))).expect("resume");
    assert_eq!(resumed.status(), SyncStatus::Pending);
    assert_eq!(resumed.status_reason(), None, "the pause reason is cleared");
    let entry = world.last_audit();
    assert_eq!(entry.action, AuditAction::ResumeConfig);
    assert_eq!(status_of(entry.before.as_ref()), Some("inactive"));
    assert_eq!(status_of(entry.after.as_ref()), Some("pending"));
}

#[test]
fn delete_tombstones_without_touching_servicenow() {
    let world = World::new(IntegrationMode::Active);
    world.seed(1, SyncStatus::Active);
    let companies = world.snow.all_companies();
    let deleted = block_on(world.sync.delete(&technician(), org(1))).expect("delete");
    assert_eq!(deleted.status(), SyncStatus::Deleted);
    assert_eq!(deleted.status_reason(), Some("deleted by bob"));
    assert_eq!(
        deleted.company(),
        Some(&world.company(1)),
        "kept on the tombstone"
    );
    assert_eq!(world.stored(1), deleted);
    assert_eq!(world.snow.all_companies(), companies, "companies unchanged");
    assert_eq!(world.snow.faults().writes(), 0, "no remote write");
    let entry = world.last_audit();
    assert_eq!(entry.action, AuditAction::DeleteConfig);
    assert_eq!(status_of(entry.after.as_ref()), Some("deleted"));
    assert_eq!(
        entry.after.as_ref().map(|a| a["reason"].clone()),
        Some(json!("deleted by bob"))
    );
}

#[test]
fn a_deleted_config_refuses_edits_until_restored() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Deleted);
    let bob = technician();
    let sync = &world.sync;
    let attempts: [(AuditAction, SyncEvent); 4] = [
        (AuditAction::UpdateConfig, SyncEvent::Changed),
        (AuditAction::UpdateConfig, SyncEvent::Changed),
        (AuditAction::PauseConfig, SyncEvent::Deactivate),
        (AuditAction::ResumeConfig, SyncEvent::Activate),
    ];
    for (i, (action, event)) in attempts.into_iter().enumerate() {
        let before = world.state();
        let result = block_on(async {
            match i {
                0 => {
                    let changes = ConfigChanges::new().allow_incidents(true);
                    sync.update(&bob, org(1), changes).await
                }
                1 => sync.update(&bob, org(1), ConfigChanges::new()).await,
                2 => sync.pause(&bob, org(1)).await,
                _ => sync.resume(&bob, org(1)).await,
            }
        });
        let err = result.expect_err("a deleted configuration refuses the edit");
        let SyncError::Transition(refused) = &err else {
            panic!("expected Transition, got {err:?}");
        };
        assert_eq!(
            (refused.status, refused.event),
            (SyncStatus::Deleted, event)
        );
        let message = err.to_string();
        assert!(message.contains("\"deleted\""), "{message}");
        assert_refusal_recorded(&world, &before, "bob", &action, Some(org(1)), &err);
    }
    let restored = block_on(sync.restore(&bob, org(1))).expect("restore");
    assert_eq!(restored.status(), SyncStatus::Pending);
    assert_eq!(restored.status_reason(), None);
    let entry = world.last_audit();
    assert_eq!(entry.action, AuditAction::RestoreConfig);
    assert_eq!(status_of(entry.before.as_ref()), Some("deleted"));
    assert_eq!(status_of(entry.after.as_ref()), Some("pending"));
}

#[test]
fn restore_of_a_config_that_is_not_deleted_is_refused() {
    for status in [
        SyncStatus::Pending,
        SyncStatus::InQueue,
        SyncStatus::Active,
        SyncStatus::Inactive,
    ] {
        let world = World::new(IntegrationMode::Inactive);
        world.seed(1, status);
        let before = world.state();
        let err = block_on(world.sync.restore(&technician(), org(1))).expect_err("refused");
        assert!(
            matches!(&err, SyncError::Transition(t) if t.status == status && t.event == SyncEvent::Restore),
            "{status}: {err:?}"
        );
        assert_refusal_recorded(
            &world,
            &before,
            "bob",
            &AuditAction::RestoreConfig,
            Some(org(1)),
            &err,
        );
    }
}

#[test]
fn an_active_mode_pass_does_not_bring_a_deleted_config_back() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Active);
    let deleted = block_on(world.sync.delete(&technician(), org(1))).expect("delete");
    block_on(world.sync.set_mode(&world.admin, IntegrationMode::Active)).expect("active mode");
    for _ in 0..2 {
        let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
        assert_eq!(world.stored(1), deleted, "still the same tombstone");
        if let Some(line) = report.outcome(org(1)) {
            assert_eq!(line.status, Some(SyncStatus::Deleted), "{}", line.outcome);
            assert_eq!(line.outcome, Outcome::Unchanged, "{}", line.outcome);
        }
        // The other organizations were synced, so the pass did run.
        assert_eq!(world.stored(2).status(), SyncStatus::Active);
    }
    assert_eq!(
        world.snow.all_companies().len(),
        5,
        "no company created for the deleted configuration"
    );
}

// ---- 5. CI mappings ----

#[test]
fn put_ci_mapping_checks_the_device_roles() {
    let world = World::new(IntegrationMode::Inactive);
    let before = world.state();
    let err = block_on(
        world
            .sync
            .put_ci_mapping(&world.admin, mapping("hosts", &[13, 77, 78])),
    )
    .expect_err("unknown roles");
    let SyncError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    let roles: Vec<u32> = problems
        .iter()
        .map(|p| match p {
            Problem::UnknownRole { mapping, role } => {
                assert_eq!(mapping.as_str(), "hosts");
                role.get()
            }
            other => panic!("unexpected problem {other:?}"),
        })
        .collect();
    assert_eq!(roles, [77, 78], "every unknown role, and only those");
    let message = err.to_string();
    assert!(
        message.contains("which NinjaOne does not have"),
        "{message}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::SetCiMapping,
        None,
        &err,
    );

    block_on(
        world
            .sync
            .put_ci_mapping(&world.admin, mapping("hosts", &[13])),
    )
    .expect("known roles");
    let stored = block_on(world.sync.ci_mappings(&world.admin)).expect("mappings");
    assert!(stored.contains(&mapping("hosts", &[13])));
    let entry = world.last_audit();
    assert_eq!(entry.action, AuditAction::SetCiMapping);
    assert_eq!(entry.outcome, AuditOutcome::Applied);
    assert_eq!(entry.before, None, "a new mapping");
}

#[test]
fn delete_ci_mapping_refuses_a_mapping_in_use() {
    let world = World::new(IntegrationMode::Inactive);
    let servers = mapping_name("servers");
    for (n, status) in [
        (1, SyncStatus::Active),
        (2, SyncStatus::Deleted),
        (3, SyncStatus::Inactive),
    ] {
        let mut config = world.seed(n, status);
        config.set_ci_mappings([servers.clone()]);
        block_on(world.store.write_config(config)).expect("use the mapping");
    }
    let before = world.state();
    let err = block_on(world.sync.delete_ci_mapping(&world.admin, &servers))
        .expect_err("the mapping is in use");
    let SyncError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(
        problems,
        &[Problem::MappingInUse {
            mapping: servers.clone(),
            organizations: vec![org(1), org(3)],
        }],
        "live configurations only: {err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("CI mapping \"servers\" is used by organizations 1, 3"),
        "{message}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::DeleteCiMapping,
        None,
        &err,
    );
}

#[test]
fn delete_ci_mapping_says_whether_there_was_one() {
    let world = World::new(IntegrationMode::Inactive);
    let servers = mapping_name("servers");
    assert!(block_on(world.sync.delete_ci_mapping(&world.admin, &servers)).expect("delete"));
    assert!(world.state().mappings.is_empty());
    let entry = world.last_audit();
    assert_eq!(
        (&entry.action, &entry.outcome, entry.before.clone()),
        (
            &AuditAction::DeleteCiMapping,
            &AuditOutcome::Applied,
            Some(json!({ "name": "servers" }))
        )
    );
    let audit = world.audit().len();
    assert!(
        !block_on(world.sync.delete_ci_mapping(&world.admin, &servers)).expect("delete again"),
        "there was none left"
    );
    assert_eq!(
        world.audit().len(),
        audit,
        "nothing deleted, nothing audited"
    );
}

// ---- 6. edits racing a pass ----

/// A store that, just before the first `write` it is asked for after being armed, lets a person
/// pause an organization (straight through the inner store), then delegates.
#[derive(Debug)]
struct PauseBeforeFirstWrite {
    inner: MemoryStore,
    armed: Mutex<Option<(OrganizationSync, Actor, OrganizationId)>>,
    paused: Mutex<Option<SyncConfig>>,
}

#[async_trait]
impl ConfigStore for PauseBeforeFirstWrite {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        self.inner.configs().await
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        self.inner.config(organization).await
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        let armed = self
            .armed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((person, actor, organization)) = armed {
            let paused = person
                .pause(&actor, organization)
                .await
                .expect("the person's pause");
            *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = Some(paused);
        }
        self.inner.write(batch).await
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        self.inner.mode().await
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        self.inner.set_mode(mode).await
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        self.inner.ci_mappings().await
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        self.inner.put_ci_mapping(mapping).await
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        self.inner.delete_ci_mapping(name).await
    }

    async fn ticket_templates(
        &self,
    ) -> Result<Vec<ninjaone_servicenow::model::TicketTemplate>, StoreError> {
        self.inner.ticket_templates().await
    }

    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn ninjaone_servicenow::ports::RouterGuard>>, StoreError> {
        self.inner.lock_router(integration_id).await
    }

    async fn put_ticket_template(
        &self,
        template: ninjaone_servicenow::model::TicketTemplate,
    ) -> Result<(), StoreError> {
        self.inner.put_ticket_template(template).await
    }

    async fn delete_ticket_template(
        &self,
        name: &ninjaone_servicenow::model::TicketTemplateName,
    ) -> Result<bool, StoreError> {
        self.inner.delete_ticket_template(name).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(filter).await
    }

    async fn ticket_records(
        &self,
    ) -> Result<Vec<ninjaone_servicenow::model::TicketRecord>, ninjaone_servicenow::ports::StoreError>
    {
        self.inner.ticket_records().await
    }

    async fn ticket_record(
        &self,
        alert: &ninjaone_servicenow::model::AlertUid,
    ) -> Result<
        Option<ninjaone_servicenow::model::TicketRecord>,
        ninjaone_servicenow::ports::StoreError,
    > {
        self.inner.ticket_record(alert).await
    }

    async fn write_ticket_records(
        &self,
        put: Vec<ninjaone_servicenow::model::TicketRecord>,
        remove: Vec<ninjaone_servicenow::model::AlertUid>,
    ) -> Result<(), ninjaone_servicenow::ports::StoreError> {
        self.inner.write_ticket_records(put, remove).await
    }

    async fn ci_records(
        &self,
    ) -> Result<Vec<ninjaone_servicenow::model::CiRecord>, ninjaone_servicenow::ports::StoreError>
    {
        self.inner.ci_records().await
    }

    async fn ci_record(
        &self,
        device: ninjaone_servicenow::model::DeviceId,
    ) -> Result<Option<ninjaone_servicenow::model::CiRecord>, ninjaone_servicenow::ports::StoreError>
    {
        self.inner.ci_record(device).await
    }

    async fn write_ci_records(
        &self,
        put: Vec<ninjaone_servicenow::model::CiRecord>,
        remove: Vec<ninjaone_servicenow::model::DeviceId>,
    ) -> Result<(), ninjaone_servicenow::ports::StoreError> {
        self.inner.write_ci_records(put, remove).await
    }
}

/// A world whose service writes through a [`PauseBeforeFirstWrite`], and a second service (the
/// person's) straight over the same memory.
fn racing_world(mode: IntegrationMode) -> (World, Arc<PauseBeforeFirstWrite>, OrganizationSync) {
    let plain = World::new(mode);
    let racing = Arc::new(PauseBeforeFirstWrite {
        inner: plain.store.clone(),
        armed: Mutex::new(None),
        paused: Mutex::new(None),
    });
    let person = plain.sync.clone();
    let world = World::over(plain.ninja, plain.snow, plain.store, racing.clone());
    (world, racing, person)
}

fn arm(racing: &PauseBeforeFirstWrite, person: &OrganizationSync, who: &Actor, n: u32) {
    *racing.armed.lock().unwrap_or_else(PoisonError::into_inner) =
        Some((person.clone(), who.clone(), org(n)));
}

fn paused_during_the_pass(racing: &PauseBeforeFirstWrite) -> SyncConfig {
    racing
        .paused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .expect("the pause happened during the pass")
}

fn assert_conflict(report: &Report, n: u32) {
    let line = report.outcome(org(n)).expect("a line for the organization");
    assert!(
        matches!(
            line.outcome,
            Outcome::Failed {
                kind: FailureKind::Conflict,
                ..
            }
        ),
        "organization {n}: expected a conflict, got {}",
        line.outcome
    );
    assert_eq!(
        line.status,
        Some(SyncStatus::Inactive),
        "organization {n}: the line shows what the store holds (the person's pause)"
    );
}

#[test]
fn a_pause_between_snapshot_and_write_is_kept_over_an_activation() {
    let (world, racing, person) = racing_world(IntegrationMode::Inactive);
    for n in [1, 2] {
        let draft = ConfigDraft::new(org(n), world.company(n));
        block_on(world.sync.add(&world.admin, draft)).expect("add");
    }
    let bob = technician();
    arm(&racing, &person, &bob, 1);
    let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
    let paused = paused_during_the_pass(&racing);

    let stored = world.stored(1);
    assert_eq!(stored, paused, "the person's pause is what is stored");
    assert_eq!(stored.status(), SyncStatus::Inactive);
    assert_eq!(stored.status_reason(), Some("paused by bob"));
    assert_conflict(&report, 1);
    assert_eq!(
        world.stored(2).status(),
        SyncStatus::Active,
        "the others go on"
    );
    assert_eq!(
        report.outcome(org(2)).map(|l| &l.outcome),
        Some(&Outcome::Activated)
    );
    let claims_active = world.audit().into_iter().any(|e| {
        e.organization == Some(org(1))
            && e.actor == ninjaone_servicenow::engine::SYSTEM_ACTOR
            && status_of(e.after.as_ref()) == Some("active")
    });
    assert!(
        !claims_active,
        "no audit entry for the write that was not made"
    );

    // The next pass takes the new version: a paused configuration stays paused.
    block_on(world.sync.run_once(ApplyMode::Apply)).expect("the next pass");
    assert_eq!(world.stored(1), paused);
}

#[test]
fn a_pause_between_snapshot_and_write_is_kept_over_a_company_creation() {
    let (world, racing, person) = racing_world(IntegrationMode::Active);
    // Organization 3 has a configuration without a company, and no company of its name.
    let companies = world.snow.all_companies();
    let renamed = companies
        .iter()
        .find(|c| c.name == customer_name(3))
        .expect("company 3");
    assert!(
        world
            .snow
            .rename_company(&renamed.sys_id, "Someone Else Ltd")
    );
    let config = SyncConfig::new(org(3), None, fixed_time());
    block_on(world.store.write_config(config)).expect("seed");
    let bob = technician();
    arm(&racing, &person, &bob, 3);
    let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
    let paused = paused_during_the_pass(&racing);

    assert_eq!(
        world.stored(3),
        paused,
        "the person's pause is what is stored"
    );
    assert_eq!(paused.status_reason(), Some("paused by bob"));
    assert_conflict(&report, 3);
    assert_eq!(
        world.snow.faults().writes(),
        0,
        "no company for a paused configuration"
    );
    assert_eq!(report.remote_writes, 0);
    for n in [1, 2] {
        assert_eq!(
            world.stored(n).status(),
            SyncStatus::Active,
            "organization {n}"
        );
    }
}

// ---- 7. what refusals say ----

#[test]
fn refusals_say_what_went_wrong_and_what_to_do() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Deleted);
    world.seed(2, SyncStatus::Active);
    let sync = &world.sync;
    let admin = &world.admin;
    let dave = Actor::technician("dave").seeing_all();
    let (denied, already, not_configured, transition, add_active) = block_on(async {
        let denied = sync.set_mode(&dave, IntegrationMode::Active).await;
        let draft = ConfigDraft::new(org(2), world.company(2));
        let already = sync.add(admin, draft).await;
        let not_configured = sync.pause(admin, org(3)).await;
        let transition = sync.pause(admin, org(1)).await;
        sync.set_mode(admin, IntegrationMode::Active)
            .await
            .expect("active mode");
        let add_active = sync
            .add(admin, ConfigDraft::new(org(3), world.company(3)))
            .await;
        (denied, already, not_configured, transition, add_active)
    });
    let cases: [(Result<(), SyncError>, &[&str]); 5] = [
        (
            denied.map(drop),
            &[
                "dave may not set the integration mode to active",
                "only system administrators may do this",
            ],
        ),
        (
            already.map(drop),
            &[
                "organization 2 already has a sync configuration",
                "update it instead",
            ],
        ),
        (
            not_configured.map(drop),
            &["organization 3 has no sync configuration"],
        ),
        (
            transition.map(drop),
            &["status \"deleted\"", "cannot take the event \"deactivate\""],
        ),
        (
            add_active.map(drop),
            &["organizations cannot be added by hand: automatic sync is on"],
        ),
    ];
    for (result, phrases) in cases {
        let err = result.expect_err("a refusal");
        assert!(err.is_refusal(), "{err}");
        let message = err.to_string();
        for phrase in phrases {
            assert!(
                message.contains(phrase),
                "{message:?} should say {phrase:?}"
            );
        }
    }
    let conflict = SyncError::Conflict(org(4)).to_string();
    assert!(
        conflict.contains("nothing was saved, try again"),
        "{conflict}"
    );
    // Every refusal above was recorded with its message.
    let refused: Vec<String> = world
        .audit()
        .into_iter()
        .filter_map(|e| match e.outcome {
            AuditOutcome::Refused(reason) => Some(reason),
            AuditOutcome::Applied => None,
        })
        .collect();
    assert_eq!(refused.len(), 5, "{refused:#?}");
}

#[test]
fn resuming_an_active_config_or_deleting_a_deleted_one_saves_nothing() {
    let world = World::new(IntegrationMode::Inactive);
    let active = world.seed(1, SyncStatus::Active);
    let entries = world.audit().len();
    let resumed = block_on(world.sync.resume(&world.admin, org(1))).expect("resume");
    assert_eq!(resumed, active, "nothing changed");
    assert_eq!(world.stored(1).version(), active.version());
    assert_eq!(world.audit().len(), entries, "nothing audited");

    let deleted = block_on(world.sync.delete(&world.admin, org(1))).expect("delete");
    assert_eq!(deleted.status_reason(), Some("deleted by alice"));
    let entries = world.audit().len();
    let bob = technician();
    let again = block_on(world.sync.delete(&bob, org(1))).expect("delete again");
    assert_eq!(again, deleted, "the first reason is kept");
    assert_eq!(world.audit().len(), entries);
}

#[test]
fn refused_transitions_say_what_to_do() {
    let world = World::new(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Deleted);
    let err = block_on(world.sync.pause(&world.admin, org(1))).expect_err("refused");
    assert!(err.to_string().ends_with("; restore it first"), "{err}");
    world.seed(2, SyncStatus::Active);
    let err = block_on(world.sync.restore(&world.admin, org(2))).expect_err("refused");
    assert!(
        err.to_string()
            .ends_with("; only a deleted configuration can be restored"),
        "{err}"
    );
    let err = block_on(world.sync.pause(&world.admin, org(3))).expect_err("refused");
    assert!(err.to_string().contains("add it"), "{err}");
}

// ---- ticket templates ----

fn template_name(name: &str) -> TicketTemplateName {
    name.parse().expect("a valid ticket template name")
}

fn templates(world: &World) -> Vec<TicketTemplate> {
    block_on(world.store.ticket_templates()).expect("read the ticket templates")
}

#[test]
fn a_template_is_saved_only_after_servicenow_knows_its_group_and_caller() {
    let world = World::new(IntegrationMode::Inactive);
    let mut template = TicketTemplate::new(template_name("servers"));
    template.set_assignment_group(Some(unknown_sys_id()));
    template.set_caller(Some(
        "ffffffffffffffffffffffffffffff02"
            .parse()
            .expect("a sys_id"),
    ));
    template.set_category(Some("hardware".parse().expect("a value")));
    let before = world.state();
    let calls = world.snow.faults().total_calls();
    let err = block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect_err("unknown group and caller");
    let SyncError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(
        problems,
        &[
            Problem::UnknownAssignmentGroup(unknown_sys_id()),
            Problem::UnknownCaller("ffffffffffffffffffffffffffffff02".parse().unwrap()),
        ],
        "every problem at once: {err}"
    );
    assert!(err.to_string().contains("no group"), "{err}");
    assert_eq!(
        world.snow.faults().total_calls() - calls,
        2,
        "one lookup each"
    );
    assert!(templates(&world).is_empty(), "nothing saved");
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::SetTicketTemplate,
        None,
        &err,
    );

    // Inactive rows are refused too.
    let group = world.snow.add_user_group("Old Desk");
    let caller = world.snow.add_user("ninjaone.integration");
    world.snow.set_user_group_active(&group, false);
    world.snow.set_user_active(&caller, false);
    template.set_assignment_group(Some(group.clone()));
    template.set_caller(Some(caller.clone()));
    let err = block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect_err("inactive group and caller");
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &[
            Problem::InactiveAssignmentGroup(group.clone()),
            Problem::InactiveCaller(caller.clone()),
        ]),
        "{err:?}"
    );
    assert!(templates(&world).is_empty(), "nothing saved");

    world.snow.set_user_group_active(&group, true);
    world.snow.set_user_active(&caller, true);
    block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect("saved");
    assert_eq!(templates(&world), [template.clone()]);
    let entry = world.last_audit();
    assert_eq!(
        (&entry.action, &entry.outcome),
        (&AuditAction::SetTicketTemplate, &AuditOutcome::Applied)
    );
    assert_eq!(
        entry.before,
        Some(json!({"template": null, "default": null}))
    );
    assert_eq!(
        entry
            .after
            .as_ref()
            .map(|a| a["template"]["caller_id"].clone()),
        Some(json!(caller.to_string()))
    );
}

#[test]
fn a_new_default_template_takes_the_flag_and_the_audit_says_so() {
    let world = World::new(IntegrationMode::Inactive);
    for name in ["a", "b"] {
        let mut t = TicketTemplate::new(template_name(name));
        t.set_default(true);
        block_on(world.sync.put_ticket_template(&world.admin, t)).expect("saved");
    }
    let defaults: Vec<String> = templates(&world)
        .iter()
        .filter(|t| t.is_default())
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(defaults, ["b"]);
    let entry = world.last_audit();
    assert_eq!(
        (
            entry.before.as_ref().map(|b| b["default"].clone()),
            entry.after.as_ref().map(|a| a["default"].clone())
        ),
        (Some(json!("a")), Some(json!("b")))
    );
}

#[test]
fn deleting_a_template_a_configuration_names_is_refused_and_audited() {
    let world = World::new(IntegrationMode::Inactive);
    let servers = template_name("servers");
    block_on(
        world
            .sync
            .put_ticket_template(&world.admin, TicketTemplate::new(servers.clone())),
    )
    .expect("saved");
    for (n, status) in [(1, SyncStatus::Active), (2, SyncStatus::Deleted)] {
        let mut config = world.seed(n, status);
        config.set_ticket_template(Some(servers.clone()));
        block_on(world.store.write_config(config)).expect("name the template");
    }
    let before = world.state();
    let err =
        block_on(world.sync.delete_ticket_template(&world.admin, &servers)).expect_err("in use");
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &[Problem::TicketTemplateInUse {
            template: servers.clone(),
            organizations: vec![org(1)],
        }]),
        "live configurations only: {err:?}"
    );
    assert!(
        err.to_string()
            .contains("ticket template \"servers\" is used by organization 1"),
        "{err}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::DeleteTicketTemplate,
        None,
        &err,
    );
    assert_eq!(templates(&world).len(), 1, "nothing deleted");

    block_on(world.sync.update(
        &world.admin,
        org(1),
        ConfigChanges::new().ticket_template(None),
    ))
    .expect("stop naming it");
    assert!(block_on(world.sync.delete_ticket_template(&world.admin, &servers)).expect("delete"));
    assert!(!block_on(world.sync.delete_ticket_template(&world.admin, &servers)).expect("again"));
    assert!(templates(&world).is_empty());
    assert_eq!(world.last_audit().action, AuditAction::DeleteTicketTemplate);
}

#[test]
fn a_configuration_may_name_only_an_existing_template() {
    let world = World::new(IntegrationMode::Inactive);
    let draft = ConfigDraft::new(org(1), world.company(1)).ticket_template(template_name("nope"));
    let before = world.state();
    let err = block_on(world.sync.add(&world.admin, draft)).expect_err("unknown template");
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &[Problem::UnknownTicketTemplate(template_name("nope"))]),
        "{err:?}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::AddConfig,
        Some(org(1)),
        &err,
    );

    block_on(
        world
            .sync
            .put_ticket_template(&world.admin, TicketTemplate::new(template_name("servers"))),
    )
    .expect("saved");
    let draft =
        ConfigDraft::new(org(1), world.company(1)).ticket_template(template_name("servers"));
    let added = block_on(world.sync.add(&world.admin, draft)).expect("added");
    assert_eq!(
        added.config.ticket_template(),
        Some(&template_name("servers"))
    );
    assert_eq!(
        world
            .last_audit()
            .after
            .map(|a| a["ticket_template"].clone()),
        Some(json!("servers"))
    );

    let err = block_on(world.sync.update(
        &world.admin,
        org(1),
        ConfigChanges::new().ticket_template(Some(template_name("nope"))),
    ))
    .expect_err("unknown template");
    assert!(matches!(err, SyncError::Invalid(_)), "{err:?}");
    assert_eq!(
        world.stored(1).ticket_template(),
        Some(&template_name("servers")),
        "nothing saved"
    );
}

#[test]
fn technicians_read_templates_and_only_administrators_change_them() {
    let world = World::new(IntegrationMode::Inactive);
    let bob = technician();
    assert!(
        block_on(world.sync.ticket_templates(&bob))
            .expect("a technician with the permission reads")
            .is_empty()
    );
    let err = block_on(
        world
            .sync
            .put_ticket_template(&bob, TicketTemplate::new(template_name("t"))),
    )
    .expect_err("not an administrator");
    assert!(matches!(err, SyncError::PermissionDenied { .. }), "{err:?}");
    let err = block_on(world.sync.delete_ticket_template(&bob, &template_name("t")))
        .expect_err("not an administrator");
    assert!(matches!(err, SyncError::PermissionDenied { .. }), "{err:?}");
    assert_eq!(
        world.last_audit().action,
        AuditAction::DeleteTicketTemplate,
        "refusals are audited"
    );
    let stranger = Actor::technician("eve");
    assert!(block_on(world.sync.ticket_templates(&stranger)).is_err());
}

#[test]
fn a_failed_group_lookup_is_a_remote_error_and_saves_nothing() {
    let world = World::new(IntegrationMode::Inactive);
    let group = world.snow.add_user_group("Service Desk");
    world.snow.faults().fail_next(
        ServiceNowMethod::UserGroup,
        1,
        ninjaone_servicenow::ports::ApiErrorKind::Transient,
    );
    let mut template = TicketTemplate::new(template_name("servers"));
    template.set_assignment_group(Some(group.clone()));
    let before = world.state();
    let err = block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect_err("the lookup failed");
    assert!(matches!(err, SyncError::Remote { .. }), "{err:?}");
    assert!(!err.is_refusal());
    assert!(err.to_string().contains(&group.to_string()), "{err}");
    assert!(templates(&world).is_empty(), "nothing saved");
    assert_eq!(
        world.state().audit,
        before.audit,
        "a failure is not a refusal"
    );
    // Once ServiceNow answers again, the same call saves.
    block_on(world.sync.put_ticket_template(&world.admin, template)).expect("saved");
    assert_eq!(templates(&world).len(), 1);
}

// ---- screen rows, the Add dialog and the company directory ----

#[test]
fn list_and_get_return_rows_with_names_and_make_no_remote_request() {
    let w = World::new(IntegrationMode::Inactive);
    let draft = ConfigDraft::new(org(1), w.company(1))
        .customer_account(w.account())
        .ci_mapping(mapping_name("servers"))
        .allow_incidents(true);
    block_on(w.sync.add(&w.admin, draft)).expect("add organization 1");
    w.ninja.faults().reset_counts();
    w.snow.faults().reset_counts();

    let rows = block_on(w.sync.list(&w.admin)).expect("list");
    let row = block_on(w.sync.get(&w.admin, org(1)))
        .expect("get")
        .expect("organization 1 is configured");
    assert_eq!(w.remote_calls(), 0, "a list view costs no remote request");
    assert_eq!(rows, vec![row.clone()]);
    assert_eq!(row.organization(), org(1));
    assert_eq!(row.organization_name(), Some(customer_name(1).as_str()));
    assert_eq!(row.company(), Some(&w.company(1)));
    assert_eq!(row.company_name(), Some(customer_name(1).as_str()));
    assert_eq!(row.customer_account_name(), Some(INITECH));
    assert_eq!(row.status(), SyncStatus::Pending);
    assert_eq!(row.status_reason(), None);
    assert!(row.allow_incidents());
    assert!(row.ci_mappings().contains(&mapping_name("servers")));
}

#[test]
fn add_and_update_results_carry_the_names_their_checks_looked_up() {
    let w = World::new(IntegrationMode::Inactive);
    let added = block_on(w.sync.add(&w.admin, ConfigDraft::new(org(2), w.company(2))))
        .expect("add organization 2");
    assert_eq!(
        added.config.organization_name(),
        Some(customer_name(2).as_str())
    );
    assert_eq!(added.config.company_name(), Some(customer_name(2).as_str()));
    assert_eq!(added.config, w.stored(2), "the saved row, as stored");

    let globex = w.company_named(GLOBEX);
    let updated = block_on(w.sync.update(
        &w.admin,
        org(2),
        ConfigChanges::new().company(globex.clone()),
    ))
    .expect("map another company");
    assert_eq!(updated.company(), Some(&globex));
    assert_eq!(
        updated.company_name(),
        Some(GLOBEX),
        "the new company's name"
    );
    assert_eq!(
        updated.organization_name(),
        Some(customer_name(2).as_str()),
        "kept"
    );

    let calls = w.remote_calls();
    let toggled = block_on(w.sync.update(
        &w.admin,
        org(2),
        ConfigChanges::new().allow_incidents(true),
    ))
    .expect("allow incidents");
    assert_eq!(w.remote_calls(), calls, "nothing to look up");
    assert_eq!(toggled.company_name(), Some(GLOBEX), "names kept");
}

/// Organization 1 active on company 1, organization 2 deleted (its company 2 is free again).
fn dialog_world() -> World {
    let w = World::new(IntegrationMode::Inactive);
    w.seed(1, SyncStatus::Active);
    w.seed(2, SyncStatus::Deleted);
    w
}

#[test]
fn the_add_dialog_offers_free_organizations_with_a_suggested_company() {
    let w = dialog_world();
    let dialog = block_on(w.sync.add_dialog(&w.admin)).expect("open the dialog");

    let offered: Vec<(OrganizationId, bool, Option<SysId>)> = dialog
        .organizations()
        .iter()
        .map(|o| {
            (
                o.id(),
                o.has_deleted_config(),
                o.suggested_company().map(|c| c.sys_id().clone()),
            )
        })
        .collect();
    assert_eq!(
        offered,
        vec![
            (org(2), true, Some(w.company(2))),
            (org(3), false, Some(w.company(3))),
        ],
        "organization 1 is configured; a deleted configuration counts as free"
    );
    assert_eq!(dialog.organizations()[0].name(), customer_name(2));
    let names: Vec<&str> = dialog
        .ci_mappings()
        .iter()
        .map(|m| m.name().as_str())
        .collect();
    assert_eq!(names, vec!["servers"]);
    let first = dialog
        .directory()
        .company(&w.company(1))
        .expect("company 1 is listed");
    assert_eq!(first.taken_by(), Some(org(1)), "taken, with its holder");
    assert_eq!(
        dialog
            .directory()
            .company(&w.company(2))
            .and_then(|c| c.taken_by()),
        None
    );
    assert!(dialog.directory().customer_service_management());
    assert_eq!(
        dialog.directory().search_customer_accounts("init", 5)[0].name(),
        INITECH
    );

    // A technician sees only the organizations they may manage.
    let tech = Actor::technician("tom")
        .with_integration_permission()
        .seeing([org(3)]);
    let dialog = block_on(w.sync.add_dialog(&tech)).expect("open the dialog");
    let ids: Vec<OrganizationId> = dialog
        .organizations()
        .iter()
        .map(ninjaone_servicenow::engine::AddableOrganization::id)
        .collect();
    assert_eq!(ids, vec![org(3)]);
    let nobody = Actor::technician("nina");
    assert!(matches!(
        block_on(w.sync.add_dialog(&nobody)),
        Err(SyncError::PermissionDenied { .. })
    ));
}

#[test]
fn a_suggestion_needs_exactly_one_free_company_of_the_same_normalised_name() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    let snow = FakeServiceNow::builder()
        .companies(3)
        // A second company named like organization 2 (in another case and spacing).
        .company(format!("  {}  ", customer_name(2).to_uppercase()), true)
        .build();
    let w = World::with(ninja, snow, IntegrationMode::Inactive);
    // Organization 3's company is mapped by organization 1.
    let mut config = SyncConfig::new(org(1), Some(w.company(3)), fixed_time());
    config
        .apply(SyncEvent::Enqueue, None, fixed_time())
        .expect("enqueue");
    block_on(w.store.write_config(config)).expect("seed");

    let dialog = block_on(w.sync.add_dialog(&w.admin)).expect("open the dialog");
    let suggested: Vec<(OrganizationId, Option<&str>)> = dialog
        .organizations()
        .iter()
        .map(|o| (o.id(), o.suggested_company().map(DirectoryMatch::name)))
        .collect();
    assert_eq!(
        suggested,
        vec![(org(2), None), (org(3), None)],
        "two companies of one name, or a taken one, suggest nothing"
    );
}

#[test]
fn directory_search_puts_the_sys_id_then_prefix_then_substring_matches() {
    let snow = FakeServiceNow::builder()
        .company("Zeta ACME corp", true)
        .company("Other", true)
        .company("Acme Dental", true)
        .company("Big Acme", true)
        .company("ACME", true)
        .build();
    let w = World::with(FakeNinjaOne::new(), snow, IntegrationMode::Inactive);
    let directory = block_on(w.sync.company_directory(&w.admin)).expect("the directory");
    let calls = w.remote_calls();
    let names = |query: &str, limit: usize| -> Vec<String> {
        directory
            .search_companies(query, limit)
            .iter()
            .map(|m| m.name().to_owned())
            .collect()
    };

    assert_eq!(
        names("acme", 10),
        ["ACME", "Acme Dental", "Big Acme", "Zeta ACME corp"],
        "prefix matches in name order, then substring matches"
    );
    assert_eq!(names("acme", 2), ["ACME", "Acme Dental"], "the limit");
    assert_eq!(
        names("  ACME\u{00A0} dental ", 10),
        ["Acme Dental"],
        "normalised"
    );
    assert_eq!(names("", 2), ["ACME", "Acme Dental"], "no query: by name");
    assert_eq!(names("nothing like it", 10), Vec::<String>::new());
    let other = w.company_named("Other");
    assert_eq!(
        names(other.as_str(), 10),
        ["Other"],
        "an exact sys_id finds its company"
    );
    assert_eq!(names("acme", 0), Vec::<String>::new());
    // A query is never sent anywhere: ServiceNow-looking syntax is just text.
    assert_eq!(names("name=ACME^ORname!=x", 10), Vec::<String>::new());
    assert_eq!(w.remote_calls(), calls, "searching makes no request");
}

#[test]
fn the_add_dialog_costs_its_listings_cold_only_the_organizations_warm_and_nothing_per_keystroke() {
    let ninja = FakeNinjaOne::builder().organizations(10).build();
    let snow = FakeServiceNow::builder().companies(10_000).build();
    let clock = ManualClock::new(fixed_time());
    let store = MemoryStore::new();
    block_on(store.set_mode(IntegrationMode::Active)).expect("set the mode");
    let sync = OrganizationSync::new(Ports::new(
        Arc::new(ninja.clone()),
        Arc::new(snow.clone()),
        Arc::new(store),
        Arc::new(clock.clone()),
    ))
    .directory_max_age(std::time::Duration::from_secs(600));
    let admin = Actor::administrator("alice");
    let counts = || {
        (
            ninja.faults().calls(NinjaOneMethod::Organizations),
            snow.faults().calls(ServiceNowMethod::Companies),
            snow.faults()
                .calls(ServiceNowMethod::CustomerServiceManagement),
            ninja.faults().total_calls() + snow.faults().total_calls(),
        )
    };

    // Cold: 1 organization page, 10 full company pages of 1,000 and the empty 11th, 1 CSM
    // detection.
    let dialog = block_on(sync.add_dialog(&admin)).expect("a cold open");
    assert_eq!(counts(), (1, 11, 1, 13));
    assert_eq!(dialog.directory().company_count(), 10_000);
    assert_eq!(dialog.directory().listing_requests(), 12);
    assert_eq!(dialog.organizations().len(), 10);

    // Typing: nothing.
    for typed in ["c", "co", "con", "cont", "conto", "contos", "contoso"] {
        assert!(!dialog.directory().search_companies(typed, 20).is_empty());
    }
    assert_eq!(counts().3, 13, "0 requests per keystroke");

    // Warm: the organization page only.
    clock.advance(chrono::Duration::seconds(600));
    block_on(sync.add_dialog(&admin)).expect("a warm open");
    assert_eq!(counts(), (2, 11, 1, 14));

    // Older than the maximum age: ServiceNow is listed again.
    clock.advance(chrono::Duration::seconds(1));
    block_on(sync.add_dialog(&admin)).expect("a stale open");
    assert_eq!(counts(), (3, 22, 2, 27));

    // A refresh lists again at once.
    block_on(sync.refresh_company_directory(&admin)).expect("refresh");
    assert_eq!(counts().1, 33);

    // A pass that creates a company drops the cache, so the next open lists it.
    ninja.add_organization("Brand New Org");
    block_on(sync.run_once(ApplyMode::Apply)).expect("a pass");
    assert_eq!(snow.faults().writes_of(ServiceNowMethod::CreateCompany), 1);
    let before = counts().1;
    let dialog = block_on(sync.add_dialog(&admin)).expect("open after the pass");
    assert_eq!(counts().1, before + 11, "listed again");
    assert_eq!(
        dialog.directory().search_companies("brand new", 5)[0].name(),
        "Brand New Org"
    );
}

#[test]
fn a_directory_prints_counts_not_every_company_name() {
    let snow = FakeServiceNow::builder().companies(50).build();
    let w = World::with(FakeNinjaOne::new(), snow, IntegrationMode::Inactive);
    let directory = block_on(w.sync.company_directory(&w.admin)).expect("the directory");
    let printed = format!("{directory:?}");
    assert!(printed.contains("companies: 50"), "{printed}");
    assert!(!printed.contains(&customer_name(1)), "{printed}");
    // The service's own cache prints the same way (its fakes print what they hold).
    let service = format!("{:?}", w.sync);
    let cache = service
        .split("directory: ")
        .nth(1)
        .expect("the service prints its directory cache");
    assert!(cache.contains("companies: 50"), "{cache}");
    assert!(!cache.contains(&customer_name(1)), "{cache}");
}
