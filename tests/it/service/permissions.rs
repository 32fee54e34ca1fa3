//! The permission matrix: which `Actor` may do what through the service.

use super::*;

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
    let world = world(IntegrationMode::Inactive);
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
        let stored = world.config(org(n));
        assert_eq!(
            json!(stored.status()).as_str(),
            Some(to),
            "the audit's after state is what was stored"
        );
        let other = if n == 1 { 2 } else { 1 };
        assert_eq!(
            world.try_config(org(other)),
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
                        assert_eq!(world.try_config(org(n)).as_ref(), Some(&added.config));
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
