//! The status flow of edits through the service.

use super::*;

#[test]
fn update_sends_an_active_config_back_to_pending() {
    let world = world(IntegrationMode::Inactive);
    let seeded = world.seed(1, SyncStatus::Active);
    let changes = ConfigChanges::new()
        .company(world.company_named(GLOBEX))
        .allow_incidents(true);
    let updated = block_on(world.sync.update(&technician(), org(1), changes)).expect("an update");
    assert_eq!(updated.status(), SyncStatus::Pending);
    assert_eq!(updated.company(), Some(&world.company_named(GLOBEX)));
    assert!(updated.allow_incidents());
    assert_eq!(updated.version(), seeded.version() + 1);
    assert_eq!(world.config(org(1)), updated);
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
    let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
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
        assert_eq!(
            world.config(org(1)).version(),
            seeded.version(),
            "nothing saved"
        );
        assert_eq!(
            world.config(org(1)).status(),
            SyncStatus::Active,
            "still active"
        );
    }
    assert_eq!(world.audit().len(), audit, "nothing to audit");
}

#[test]
fn resume_sends_a_paused_config_to_pending() {
    let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Active);
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
    assert_eq!(world.config(org(1)), deleted);
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
    let world = world(IntegrationMode::Inactive);
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
        let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
    world.seed(1, SyncStatus::Active);
    let deleted = block_on(world.sync.delete(&technician(), org(1))).expect("delete");
    block_on(world.sync.set_mode(&world.admin, IntegrationMode::Active)).expect("active mode");
    for _ in 0..2 {
        let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
        assert_eq!(world.config(org(1)), deleted, "still the same tombstone");
        if let Some(line) = report.outcome(org(1)) {
            assert_eq!(line.status, Some(SyncStatus::Deleted), "{}", line.outcome);
            assert_eq!(line.outcome, Outcome::Unchanged, "{}", line.outcome);
        }
        // The other organizations were synced, so the pass did run.
        assert_eq!(world.config(org(2)).status(), SyncStatus::Active);
    }
    assert_eq!(
        world.snow.all_companies().len(),
        5,
        "no company created for the deleted configuration"
    );
}
