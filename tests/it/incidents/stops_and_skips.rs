//! Incident passes stopped by refused credentials, deferred by rate limits, in dry run, and skipping what does not route.

use super::*;

#[test]
fn refused_credentials_stop_the_writes() {
    let w = world(1, 1, 4);
    let router = w.router().options(EngineOptions::builder().concurrency(1));
    w.faults.fail_next(
        ServiceNowMethod::CreateIncident,
        1,
        ApiErrorKind::Unauthorized,
    );
    let report = refused(
        block_on(router.run_once(ApplyMode::Apply)),
        Remote::ServiceNow,
    );
    assert!(matches!(report.stop, Some(Stop::Credentials { .. })));
    assert_eq!(w.faults.calls(ServiceNowMethod::CreateIncident), 1);
    assert_eq!(w.snow.all_incidents().len(), 0);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.created, 4);
    // A refused read stops the pass before any write.
    w.faults
        .fail_next(NinjaOneMethod::Alerts, 1, ApiErrorKind::Forbidden);
    let report = refused(
        block_on(router.run_once(ApplyMode::Apply)),
        Remote::NinjaOne,
    );
    assert!(report.stop.is_some());
}

#[test]
fn a_loop_that_only_logs_errors_sees_refused_credentials() {
    let w = world(1, 1, 2);
    let router = w.router_with(w.settings());
    w.faults
        .fail_next(NinjaOneMethod::Alerts, 1, ApiErrorKind::Unauthorized);
    // The host loop of the README: log errors, ignore the `Ok` reports.
    let mut logged = Vec::new();
    if let Err(err) = block_on(router.run_once(ApplyMode::Apply)) {
        logged.push(ErrorChain(&err).to_string());
    }
    assert_eq!(logged.len(), 1, "the dead integration is logged");
    assert!(
        logged[0].starts_with("the NinjaOne credentials were refused ("),
        "{}",
        logged[0]
    );
}

#[test]
fn rate_limits_defer_and_the_next_pass_finishes() {
    let w = world(1, 2, 6);
    let router = w.router().options(EngineOptions::builder().concurrency(1));
    w.faults.fail_next(
        ServiceNowMethod::CreateIncident,
        1,
        ApiErrorKind::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(30)),
        },
    );
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.created, 0, "a 429 at concurrency 1 defers the rest");
    assert_eq!(w.faults.calls(ServiceNowMethod::CreateIncident), 1);
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o.outcome, TicketOutcome::Deferred { .. }))
    );
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.created, 6);
    assert!(w.incident_counts().values().all(|n| *n == 1));
}

#[test]
fn dry_run_writes_nothing_and_disabled_mode_reads_nothing() {
    let w = world(1, 1, 3);
    let router = w.router();
    let report = block_on(router.run_once(ApplyMode::DryRun)).unwrap();
    assert_eq!(report.remote_writes, 0);
    assert_eq!(report.outcomes.len(), 3);
    assert!(report.outcomes.iter().all(|o| matches!(&o.outcome, TicketOutcome::Planned { action } if action == "create an incident")));
    assert_eq!(w.faults.writes(), 0);
    assert!(block_on(w.store.ticket_records()).unwrap().is_empty());
    block_on(w.store.set_mode(IntegrationMode::Disabled)).unwrap();
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((w.faults.total_calls(), report.outcomes.len()), (0, 0));
}

#[test]
fn tickets_of_inactive_or_deleted_configurations_are_left_alone() {
    let w = world(2, 1, 2); // one alert on each organization's device
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    w.edit(1, |c| {
        c.apply(SyncEvent::Deactivate, Some("paused"), fixed_time())
            .unwrap();
    });
    w.edit(2, |c| {
        c.apply(SyncEvent::Delete, Some("deleted"), fixed_time())
            .unwrap();
    });
    for alert in w.ninja.all_alerts() {
        w.ninja.clear_alert(&alert.uid);
    }
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.remote_writes), (0, 0));
    assert!(
        w.snow
            .all_incidents()
            .iter()
            .all(|i| i.state == IncidentState::New)
    );
    let left: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, TicketOutcome::Left { .. }))
        .collect();
    assert_eq!(left.len(), 2);
    // The inactive one keeps its record and is resolved once resumed.
    assert_eq!(block_on(w.store.ticket_records()).unwrap().len(), 1);
    w.edit(1, |c| {
        c.apply(SyncEvent::Activate, None, fixed_time()).unwrap();
    });
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.resolved, 1);
}

#[test]
fn new_alerts_of_organizations_that_do_not_route_are_skipped_with_reasons() {
    let w = world(3, 1, 3);
    w.edit(1, |c| c.set_allow_incidents(false));
    w.edit(2, |c| {
        c.apply(SyncEvent::Deactivate, Some("paused"), fixed_time())
            .unwrap();
    });
    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.skipped), (1, 2));
    let reasons: BTreeSet<&str> = report.skip_reasons.keys().map(String::as_str).collect();
    assert_eq!(
        reasons,
        BTreeSet::from(["incidents_not_allowed", "not_active"])
    );
    let json = serde_json::to_value(&report).unwrap();
    for field in [
        "created",
        "resolved",
        "skipped",
        "skip_reasons",
        "failed",
        "remote_writes",
        "outcomes",
    ] {
        assert!(json.get(field).is_some(), "{field}");
    }
}
