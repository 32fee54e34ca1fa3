//! The resolve guard.

use super::*;

#[test]
fn the_resolve_guard_holds_an_emptied_listing_until_an_administrator_approves() {
    use ninjaone_servicenow::engine::{Actor, SyncError};
    use ninjaone_servicenow::model::{AuditAction, AuditFilter, AuditOutcome};
    let w = world(2, 4, 40);
    let router = w.router();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.created, 40);
    // The listing comes back empty (an outage, a narrowed role, the wrong tenant).
    for alert in w.ninja.all_alerts() {
        w.ninja.clear_alert(&alert.uid);
    }
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.resolved, report.held, report.remote_writes),
        (0, 40, 0)
    );
    assert!(report.needs_approval());
    assert_eq!(
        (
            report.resolve_guard.open,
            report.resolve_guard.resolves,
            report.resolve_guard.limit
        ),
        (40, 40, 10)
    );
    assert_eq!(w.faults.writes(), 0);
    assert!(
        w.snow
            .all_incidents()
            .iter()
            .all(|i| i.state == IncidentState::New)
    );
    assert_eq!(block_on(w.store.ticket_records()).unwrap().len(), 40);
    let audit = block_on(w.store.audit(&AuditFilter::all())).unwrap();
    let hold = audit
        .iter()
        .find(|e| e.action == AuditAction::HoldResolves)
        .expect("the hold is audited");
    let held = hold.after.as_ref().unwrap()["tickets"].as_array().unwrap();
    assert_eq!(held.len(), 40);
    // Still held on the next pass, and audited once while the same tickets stay held.
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.held), (0, 40));
    let holds = |w: &support::World| {
        block_on(w.store.audit(&AuditFilter::all()))
            .unwrap()
            .iter()
            .filter(|e| e.action == AuditAction::HoldResolves)
            .count()
    };
    assert_eq!(holds(&w), 1);

    // A technician may not release them: refused and audited, nothing written.
    let tech = Actor::technician("bob").with_integration_permission();
    w.faults.reset_counts();
    let err = block_on(router.approve_resolves(&tech)).unwrap_err();
    assert!(matches!(err, SyncError::PermissionDenied { .. }), "{err}");
    assert_eq!(w.faults.total_calls(), 0);
    let audit = block_on(w.store.audit(&AuditFilter::all().actor("bob"))).unwrap();
    assert!(matches!(
        audit.last().map(|e| (&e.action, &e.outcome)),
        Some((AuditAction::ApproveResolves, AuditOutcome::Refused(_)))
    ));

    // An administrator does: all 40 resolved in one pass, the approval audited.
    let alice = Actor::administrator("alice");
    let report = block_on(router.approve_resolves(&alice)).unwrap();
    assert_eq!(
        (report.resolved, report.held, report.remote_writes),
        (40, 0, 40)
    );
    assert_eq!(report.approved_by.as_deref(), Some("alice"));
    assert!(
        w.snow
            .all_incidents()
            .iter()
            .all(|i| i.state == IncidentState::Resolved)
    );
    let audit = block_on(w.store.audit(&AuditFilter::all().actor("alice"))).unwrap();
    let approval = audit
        .iter()
        .find(|e| e.action == AuditAction::ApproveResolves)
        .expect("the approval is audited");
    assert_eq!(approval.outcome, AuditOutcome::Applied);
    assert_eq!(
        approval.after.as_ref().unwrap()["tickets"]
            .as_array()
            .unwrap()
            .len(),
        40
    );
    assert!(block_on(w.store.ticket_records()).unwrap().is_empty());
}

#[test]
fn resolves_within_the_guard_go_through_and_its_threshold_is_a_setting() {
    use ninjaone_servicenow::plan::ResolveGuard;
    let w = world(1, 2, 30);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let alerts = w.ninja.all_alerts();
    // 10 of 30 is the floor: allowed.
    for alert in &alerts[..10] {
        w.ninja.clear_alert(&alert.uid);
    }
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.held), (10, 0));
    // 3 of 20 with a floor of 2 and 10 %: held; a dry run shows them held and writes nothing.
    let strict = w.router_with(
        w.settings()
            .to_builder()
            .resolve_guard(ResolveGuard::new(2, 10))
            .build(),
    );
    for alert in &alerts[10..13] {
        w.ninja.clear_alert(&alert.uid);
    }
    let report = block_on(strict.run_once(ApplyMode::DryRun)).unwrap();
    assert_eq!((report.held, report.remote_writes), (3, 0));
    let report = block_on(strict.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.held), (0, 3));
    // The default guard lets them through.
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.held), (3, 0));
}
