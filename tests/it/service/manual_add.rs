//! Validation of a manual add.

use super::*;

#[test]
fn add_lists_every_problem_at_once_without_customer_service_management() {
    let ninja = FakeNinjaOne::builder()
        .organizations(3)
        .roles_standard()
        .build();
    let snow = FakeServiceNow::builder().companies(3).build();
    let world = world_with(ninja, snow, IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
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
    assert_eq!(world.try_config(org(2)), None, "nothing saved");
}

#[test]
fn a_company_held_only_by_a_deleted_config_is_free() {
    let world = world(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Deleted);
    let draft = ConfigDraft::new(org(2), world.company(1));
    let added = block_on(world.sync.add(&world.admin, draft)).expect("the company is free");
    assert_eq!(added.config.company(), Some(&world.company(1)));
}

#[test]
fn a_valid_add_is_pending_confirmed_audited_and_activated_by_the_next_pass() {
    let world = world(IntegrationMode::Inactive);
    let globex = world.company_named(GLOBEX);
    let draft = ConfigDraft::new(org(2), globex.clone())
        .customer_account(world.company_named(INITECH))
        .ci_mapping(mapping_name("servers"))
        .allow_incidents(true);
    let added = block_on(world.sync.add(&world.admin, draft)).expect("a valid draft");
    let config = &added.config;
    assert_eq!(config.organization(), org(2));
    assert_eq!(config.status(), SyncStatus::Pending);
    assert_eq!(config.status_reason(), None);
    assert_eq!(config.company(), Some(&globex));
    assert_eq!(
        config.customer_account(),
        Some(&world.company_named(INITECH))
    );
    assert_eq!(
        config.ci_mappings().iter().collect::<Vec<_>>(),
        [&mapping_name("servers")]
    );
    assert!(config.allow_incidents());
    assert_eq!(config.version(), 1);
    assert_eq!(
        world.try_config(org(2)).as_ref(),
        Some(config),
        "returned as stored"
    );

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
    assert_eq!(world.config(org(2)).status(), SyncStatus::Active);
    assert_eq!(
        world.try_config(org(1)),
        None,
        "inactive mode adds nothing by itself"
    );
    assert_eq!(world.snow.faults().writes(), 0, "an add creates no company");
}

#[test]
fn a_second_add_of_the_same_organization_is_refused() {
    let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
    let sync = &world.sync;
    let first = ConfigDraft::new(org(2), world.company(2))
        .ci_mapping(mapping_name("servers"))
        .allow_incidents(true);
    block_on(sync.add(&world.admin, first)).expect("add");
    block_on(sync.delete(&world.admin, org(2))).expect("delete");
    let globex = world.company_named(GLOBEX);
    let again =
        ConfigDraft::new(org(2), globex.clone()).customer_account(world.company_named(INITECH));
    let added = block_on(sync.add(&world.admin, again)).expect("add after delete");
    let config = &added.config;
    assert_eq!(config.status(), SyncStatus::Pending);
    assert_eq!(config.status_reason(), None, "the deletion reason is gone");
    assert_eq!(config.company(), Some(&globex));
    assert_eq!(
        config.customer_account(),
        Some(&world.company_named(INITECH))
    );
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
