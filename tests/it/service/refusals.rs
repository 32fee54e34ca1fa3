//! What refusals say.

use super::*;

#[test]
fn refusals_say_what_went_wrong_and_what_to_do() {
    let world = world(IntegrationMode::Inactive);
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
    let world = world(IntegrationMode::Inactive);
    let active = world.seed(1, SyncStatus::Active);
    let entries = world.audit().len();
    let resumed = block_on(world.sync.resume(&world.admin, org(1))).expect("resume");
    assert_eq!(resumed, active, "nothing changed");
    assert_eq!(world.config(org(1)).version(), active.version());
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
    let world = world(IntegrationMode::Inactive);
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
    assert!(
        matches!(err, SyncError::NotConfigured(o) if o == org(3)),
        "{err:?}"
    );
    assert!(err.to_string().contains("add it"), "{err}");
}
