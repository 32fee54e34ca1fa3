//! CI mappings through the service.

use super::*;

#[test]
fn put_ci_mapping_checks_the_device_roles() {
    let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
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
