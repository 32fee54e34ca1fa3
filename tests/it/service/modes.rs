//! Integration modes through the service.

use super::*;

#[test]
fn can_add_only_in_inactive_mode() {
    let world = world(IntegrationMode::Disabled);
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
    let world = world(IntegrationMode::Inactive);
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
        let world = world(mode);
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
    let world = world(IntegrationMode::Disabled);
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
        let world = world(mode);
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
        assert_eq!(
            world.config(org(1)).version(),
            6,
            "{mode}: five saved edits"
        );
        assert_eq!(world.snow.faults().writes(), 0, "{mode}: no remote write");
    }
}
