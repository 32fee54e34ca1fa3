//! Re-triggered alerts.

use super::*;

#[test]
fn a_re_triggered_alert_gets_one_work_note_and_an_unchanged_pass_writes_nothing() {
    // 2 organizations × 3 devices, 6 alerts; pages of 4.
    let w = world(2, 3, 6);
    let router = w.router().options(EngineOptions::builder().page_size(4));
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let alerts = w.ninja.all_alerts();
    let incident_of = |uid: &ninjaone_servicenow::model::AlertUid| {
        let correlation = format!("ninjaone:{INTEGRATION}:alert:{uid}");
        w.snow
            .all_incidents()
            .into_iter()
            .find(|i| i.correlation_id.as_deref() == Some(correlation.as_str()))
            .expect("its incident")
    };
    let later = fixed_time() + TimeDelta::hours(2);
    assert!(
        w.ninja
            .retrigger_alert(&alerts[0].uid, "disk full: 2% left", later)
    );
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (
            report.noted,
            report.created,
            report.resolved,
            report.remote_writes
        ),
        (1, 0, 0, 1)
    );
    assert_eq!(w.faults.writes_of(ServiceNowMethod::UpdateIncident), 1);
    assert_eq!(w.snow.all_incidents().len(), 6, "never a second ticket");
    let first = incident_of(&alerts[0].uid);
    let notes = w.snow.work_notes(&first.sys_id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("disk full: 2% left"), "{}", notes[0]);
    assert_eq!(
        first.state,
        IncidentState::New,
        "a note does not change the state"
    );

    // Unchanged: no note, no write; one alert listing, the device pages, the ticket pages.
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (0, 0));
    assert_eq!(w.faults.writes(), 0);
    assert_eq!(w.faults.calls(NinjaOneMethod::Alerts), 1);
    assert_eq!(w.faults.calls(NinjaOneMethod::Devices), 6usize.div_ceil(4));
    assert_eq!(w.faults.calls(ServiceNowMethod::Incidents), 6 / 4 + 1);
    assert_eq!(w.faults.total_calls(), 1 + 6usize.div_ceil(4) + 6 / 4 + 1);

    // A change of `updateTime` alone is a re-trigger too; two alerts at once, one note each.
    let message = alerts[1].message.clone().unwrap_or_default();
    w.ninja
        .retrigger_alert(&alerts[1].uid, message, later + TimeDelta::minutes(5));
    w.ninja.retrigger_alert(
        &alerts[0].uid,
        "disk full: 1% left",
        later + TimeDelta::minutes(5),
    );
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (2, 2));
    assert_eq!(w.snow.work_notes(&first.sys_id).len(), 2);
    assert_eq!(
        w.snow.work_notes(&incident_of(&alerts[1].uid).sys_id).len(),
        1
    );
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.remote_writes, 0);
}

#[test]
fn a_note_that_committed_then_failed_or_crashed_is_never_written_twice() {
    let w = world(1, 1, 1);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let uid = w.ninja.all_alerts()[0].uid.clone();
    let incident = w.snow.all_incidents()[0].sys_id.clone();
    let at = |m: i64| fixed_time() + TimeDelta::minutes(m);

    // The PATCH commits, then its answer is lost (a timeout): counted as failed, never resent.
    w.ninja.retrigger_alert(&uid, "again (1)", at(1));
    w.faults
        .commit_then_fail(ServiceNowMethod::UpdateIncident, 1, ApiErrorKind::Transient);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.failed, report.noted), (1, 0));
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (0, 0));
    assert_eq!(w.snow.work_notes(&incident).len(), 1);

    // A crash after the record and before (or during) the PATCH: the note is lost, not doubled.
    w.ninja.retrigger_alert(&uid, "again (2)", at(2));
    w.faults.stall_after_writes(0);
    assert!(router.run_once(ApplyMode::Apply).now_or_never().is_none());
    w.faults.clear_faults();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (0, 0));
    assert_eq!(w.snow.work_notes(&incident).len(), 1);

    // Refused before it was applied (a rate limit): the next pass sends it, once.
    w.ninja.retrigger_alert(&uid, "again (3)", at(3));
    w.faults.fail_next(
        ServiceNowMethod::UpdateIncident,
        1,
        ApiErrorKind::RateLimited { retry_after: None },
    );
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (0, 0));
    w.clock.advance(TimeDelta::minutes(5));
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (1, 1));
    let notes = w.snow.work_notes(&incident);
    assert_eq!(notes.len(), 2);
    assert!(notes[1].contains("again (3)"));
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.remote_writes, 0);
}

#[test]
fn a_re_triggered_case_gets_its_note_in_the_case_journal() {
    let w = world(1, 1, 0);
    w.snow.set_customer_service_management(true);
    w.use_cases(1);
    let uid = w
        .ninja
        .raise_alert(w.ninja.all_devices()[0].id, "backup failed", fixed_time())
        .unwrap();
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    w.ninja.retrigger_alert(
        &uid,
        "backup failed twice",
        fixed_time() + TimeDelta::hours(1),
    );
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.noted, report.remote_writes), (1, 1));
    let case = w.snow.all_cases().pop().unwrap();
    let notes = w.snow.work_notes(&case.sys_id);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("backup failed twice"));
}
