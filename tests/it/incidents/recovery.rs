//! Incidents after crashes, lost stores and failed listings.

use super::*;

#[test]
fn a_crash_between_create_and_record_does_not_duplicate() {
    for k in [0, 1, 3, 7] {
        let w = world(2, 3, 8);
        let router = w.router().options(EngineOptions::builder().concurrency(3));
        w.faults.stall_after_writes(k);
        let crashed = router.run_once(ApplyMode::Apply).now_or_never();
        assert!(crashed.is_none(), "k={k}: the pass should be stuck");
        assert_eq!(w.snow.all_incidents().len(), k);
        let records = block_on(w.store.ticket_records()).unwrap();
        assert_eq!(records.len(), 8, "the creating records were written first");
        assert!(
            records
                .iter()
                .all(|r| r.state == TicketRecordState::Creating)
        );
        w.faults.clear_faults();
        let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
        assert_eq!((report.adopted, report.created), (k, 8 - k), "k={k}");
        assert_eq!(w.snow.all_incidents().len(), 8);
        assert!(w.incident_counts().values().all(|n| *n == 1));
    }
}

#[test]
fn a_create_that_committed_then_timed_out_is_adopted_not_repeated() {
    let w = world(1, 1, 3);
    let router = w.router();
    w.faults
        .commit_then_fail(ServiceNowMethod::CreateIncident, 1, ApiErrorKind::Transient);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.failed), (2, 1));
    assert_eq!(w.snow.all_incidents().len(), 3);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.adopted, report.created, report.remote_writes),
        (1, 0, 0)
    );
    assert_eq!(w.snow.all_incidents().len(), 3);
}

#[test]
fn a_lost_store_adopts_every_ticket() {
    let w = world(1, 2, 4);
    block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    let fresh = support::world(1, 2, 0);
    // Same remote sides, empty store with the same configurations.
    let w2 = support::World::builder()
        .ninja(w.ninja.clone())
        .snow(w.snow.clone())
        .store(fresh.store.clone())
        .clock(w.clock.clone())
        .faults(w.faults.clone())
        .build();
    w2.edit(1, |c| {
        c.set_company(Some(w.snow.all_companies()[0].sys_id.clone()));
    });
    let report = block_on(w2.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.adopted, report.created, report.remote_writes),
        (4, 0, 0)
    );
}

#[test]
fn a_failed_or_incomplete_listing_creates_and_resolves_nothing() {
    let w = world(1, 1, 2);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let uid = w
        .ninja
        .raise_alert(w.ninja.all_devices()[0].id, "disk full", fixed_time())
        .unwrap();
    w.ninja.clear_alert(&w.ninja.all_alerts()[0].uid);
    w.faults
        .fail_next(ServiceNowMethod::Incidents, 1, ApiErrorKind::Transient);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.created, report.resolved, report.remote_writes),
        (0, 0, 0)
    );
    assert!(report.unknown >= 2, "{report:?}");
    assert!(!report.listing_problems.is_empty());
    assert!(matches!(
        report.next_run,
        ninjaone_servicenow::engine::NextRun::At(_)
    ));
    assert!(
        report
            .outcomes_of(&uid)
            .all(|o| matches!(o.outcome, TicketOutcome::Unknown { .. }))
    );
    // The alert listing fails: nothing at all happens.
    w.faults
        .fail_next(NinjaOneMethod::Alerts, 1, ApiErrorKind::Transient);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.remote_writes, report.outcomes.len()), (0, 0));
    // Then it converges.
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.resolved), (1, 1));
}
