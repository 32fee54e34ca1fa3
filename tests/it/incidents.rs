//! The incident router end to end against the fakes: one incident per alert across passes,
//! person-finished tickets never reopened or recreated, cleared alerts resolved exactly once,
//! crash injection, request counts, cases, listing failures, and the configuration states whose
//! tickets are left alone.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::collections::BTreeSet;

use chrono::TimeDelta;
use futures::FutureExt;
use futures::executor::block_on;
use ninjaone_servicenow::engine::incidents::IncidentReport;
use ninjaone_servicenow::engine::incidents::{IncidentSettings, SkipReason, TicketOutcome};
use ninjaone_servicenow::engine::{
    ApplyMode, EngineOptions, ErrorChain, Stop, StoppedReport, SyncError,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    AlertUid, CaseState, FilterRefusal, IncidentState, IntegrationMode, Level, MinSeverity,
    Priority, Severity, SysId, TicketRecordState, TicketTemplate,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{
    ApiErrorKind, ConfigStore, IncidentQuery, PageRequest, Remote, ServiceNowApi,
};
use ninjaone_servicenow::testing::fixed_time;

use crate::support::incident_world as support;
use support::{INTEGRATION, world};

#[test]
fn two_passes_create_each_incident_once_with_the_company() {
    let w = world(3, 2, 12);
    let router = w.router();
    let first = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (first.alerts, first.created, first.remote_writes),
        (12, 12, 12)
    );
    let incidents = w.snow.all_incidents();
    assert_eq!(incidents.len(), 12);
    let companies = w.snow.all_companies();
    let devices = w.ninja.all_devices();
    for alert in w.ninja.all_alerts() {
        let correlation = format!("ninjaone:{INTEGRATION}:alert:{}", alert.uid);
        let incident = incidents
            .iter()
            .find(|i| i.correlation_id.as_deref() == Some(correlation.as_str()))
            .expect("one incident per alert");
        let device = devices
            .iter()
            .find(|d| Some(d.id) == alert.device_id)
            .unwrap();
        let company = &companies[device.organization_id.get() as usize - 1];
        assert_eq!(incident.company.as_ref(), Some(&company.sys_id));
        assert_eq!(incident.correlation_display.as_deref(), Some("NinjaOne"));
        assert!(incident.short_description.starts_with(&device.name()));
        assert!(incident.description.contains(alert.uid.as_str()));
    }
    let records = block_on(w.store.ticket_records()).unwrap();
    assert_eq!(records.len(), 12);
    assert!(
        records
            .iter()
            .all(|r| r.state == TicketRecordState::Open && r.ticket.is_some())
    );

    w.faults.reset_counts();
    let second = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((second.created, second.remote_writes), (0, 0));
    assert_eq!(w.faults.writes(), 0);
    assert!(w.incident_counts().values().all(|n| *n == 1));
}

#[test]
fn request_counts_are_paged_and_never_per_alert() {
    // 5 organizations × 8 devices = 40 devices, 60 alerts; pages of 7.
    let w = world(5, 8, 60);
    let router = w.router().options(EngineOptions::builder().page_size(7));
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.created, 60);
    assert_eq!(w.faults.calls(NinjaOneMethod::Alerts), 1);
    assert_eq!(w.faults.calls(NinjaOneMethod::Devices), 40usize.div_ceil(7)); // 40 is not a multiple of 7
    assert_eq!(w.faults.calls(NinjaOneMethod::OrganizationDevices), 0);
    assert_eq!(w.faults.calls(ServiceNowMethod::Incidents), 1); // nothing of ours existed yet
    assert_eq!(w.faults.calls(ServiceNowMethod::CreateIncident), 60);
    assert_eq!(w.faults.writes(), 60);

    // Second pass: 60 incidents listed in pages of 7, zero writes.
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.remote_writes, 0);
    assert_eq!(w.faults.calls(NinjaOneMethod::Alerts), 1);
    assert_eq!(w.faults.calls(ServiceNowMethod::Incidents), 60 / 7 + 1);
    assert_eq!(w.faults.writes(), 0);
    assert_eq!(w.faults.total_calls(), 1 + 40usize.div_ceil(7) + 60 / 7 + 1);
}

#[test]
fn the_listing_is_bounded_by_the_oldest_alert_minus_the_margin() {
    let w = world(1, 1, 1);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    // An incident of this integration created long before any open alert is not listed, so
    // it is neither adopted nor resolved.
    w.snow.set_now(fixed_time() - TimeDelta::days(30));
    let old = ninjaone_servicenow::model::NewIncident {
        short_description: "old".into(),
        description: String::new(),
        company: None,
        account: None,
        cmdb_ci: None,
        correlation_id: format!("ninjaone:{INTEGRATION}:alert:ancient")
            .parse()
            .unwrap(),
        correlation_display: "NinjaOne".into(),
        urgency: Level::Low,
        impact: Level::Low,
        assignment_group: None,
        caller_id: None,
        category: None,
        subcategory: None,
        contact_type: None,
    };
    block_on(w.snow.create_incident(&old)).unwrap();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    // Compact by default: the one unchanged ticket is counted, not listed.
    assert_eq!((report.outcomes.len(), report.unchanged), (0, 1));
    assert_eq!(report.remote_writes, 0);
}

#[test]
fn a_person_resolving_an_incident_while_the_alert_is_open_gets_no_new_one() {
    let w = world(1, 1, 2);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let incident = w.snow.all_incidents()[0].clone();
    w.snow
        .set_incident_state(&incident.sys_id, IncidentState::Resolved);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (
            report.finished_elsewhere,
            report.created,
            report.remote_writes
        ),
        (1, 0, 0)
    );
    for _ in 0..3 {
        let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
        assert_eq!((report.created, report.remote_writes), (0, 0));
    }
    assert_eq!(w.snow.all_incidents().len(), 2);
    let after = w.snow.all_incidents();
    assert_eq!(after[0].state, IncidentState::Resolved, "never reopened");
    // The alert clears: the record of the finished incident is pruned, nothing is written.
    let uid = w.ninja.all_alerts()[0].uid.clone();
    w.ninja.clear_alert(&uid);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.pruned, report.resolved, report.remote_writes),
        (1, 0, 0)
    );
}

#[test]
fn a_cleared_alert_resolves_exactly_its_incident_once() {
    let w = world(2, 2, 6);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let cleared = w.ninja.all_alerts()[3].uid.clone();
    w.ninja.clear_alert(&cleared);
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.remote_writes), (1, 1));
    assert_eq!(w.faults.calls(ServiceNowMethod::UpdateIncident), 1);
    let correlation = format!("ninjaone:{INTEGRATION}:alert:{cleared}");
    for incident in w.snow.all_incidents() {
        let ours = incident.correlation_id.as_deref() == Some(correlation.as_str());
        assert_eq!(
            incident.state == IncidentState::Resolved,
            ours,
            "{incident:?}"
        );
        if ours {
            assert_eq!(incident.close_code.as_deref(), Some("Solved (Permanently)"));
            assert!(incident.close_notes.is_some());
        }
    }
    assert_eq!(block_on(w.store.ticket_records()).unwrap().len(), 5);
    w.faults.reset_counts();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.remote_writes), (0, 0));
    assert_eq!(w.faults.calls(ServiceNowMethod::UpdateIncident), 0);
}

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
    let w2 = support::World {
        ninja: w.ninja.clone(),
        snow: w.snow.clone(),
        store: fresh.store.clone(),
        clock: w.clock.clone(),
        faults: w.faults.clone(),
    };
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

/// The report inside the `Err` of a pass stopped by `remote`'s refused credentials.
fn refused(result: Result<IncidentReport, SyncError>, remote: Remote) -> IncidentReport {
    match result {
        Err(SyncError::CredentialsRefused(refused)) => {
            assert_eq!(refused.remote, remote);
            match refused.report {
                StoppedReport::Incidents(report) => *report,
                other => panic!("an incident report, not {other:?}"),
            }
        }
        other => panic!("expected SyncError::CredentialsRefused, got {other:?}"),
    }
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

#[test]
fn two_integrations_on_one_servicenow_never_touch_each_other() {
    let w = world(1, 1, 2);
    let a = w.router_with(IncidentSettings::new("alpha").unwrap());
    block_on(a.run_once(ApplyMode::Apply)).unwrap();
    // The second integration has its own store (and its own id).
    let other = support::world(1, 1, 0);
    other.edit(1, |c| {
        c.set_company(Some(w.snow.all_companies()[0].sys_id.clone()));
    });
    let b = ninjaone_servicenow::engine::incidents::IncidentRouter::new(
        Ports::new(
            std::sync::Arc::new(w.ninja.clone()),
            std::sync::Arc::new(w.snow.clone()),
            other.store.clone(),
            std::sync::Arc::new(w.clock.clone()),
        ),
        IncidentSettings::new("alpha-2").unwrap(),
    );
    let report = block_on(b.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.adopted), (2, 0));
    w.ninja.clear_alert(&w.ninja.all_alerts()[0].uid);
    let report = block_on(b.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.resolved, 1);
    let resolved: Vec<_> = w
        .snow
        .all_incidents()
        .into_iter()
        .filter(|i| i.state == IncidentState::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1);
    assert!(
        resolved[0]
            .correlation_id
            .as_deref()
            .unwrap()
            .starts_with("ninjaone:alpha-2:alert:")
    );
}

#[test]
fn urgency_and_impact_follow_the_table() {
    let w = world(1, 1, 0);
    let device = w.ninja.all_devices()[0].id;
    let uid = w.ninja.raise_alert(device, "down", fixed_time()).unwrap();
    let mut alert = w.ninja.all_alerts()[0].clone();
    alert.severity = Some(Severity::Critical);
    alert.priority = Some(Priority::Medium);
    w.ninja.add_alert(alert);
    block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    let incident = &w.snow.all_incidents()[0];
    assert!(
        incident
            .correlation_id
            .as_deref()
            .unwrap()
            .ends_with(uid.as_str())
    );
    assert_eq!(
        (incident.urgency, incident.impact),
        (Some(Level::Medium), Some(Level::High))
    );
}

#[test]
fn cases_end_to_end() {
    let w = world(2, 1, 0);
    w.snow.set_customer_service_management(true);
    let account = w.use_cases(1);
    let devices = w.ninja.all_devices();
    let on_case_org = w
        .ninja
        .raise_alert(devices[0].id, "backup failed", fixed_time())
        .unwrap();
    let on_incident_org = w
        .ninja
        .raise_alert(devices[1].id, "cpu", fixed_time())
        .unwrap();
    let router = w.router();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.created, 2);
    let cases = w.snow.all_cases();
    assert_eq!((cases.len(), w.snow.all_incidents().len()), (1, 1));
    assert_eq!(cases[0].account.as_ref(), Some(&account));
    assert!(
        cases[0]
            .correlation_id
            .as_deref()
            .unwrap()
            .ends_with(on_case_org.as_str())
    );
    // Second pass: nothing; a closed case with the alert open is not recreated.
    w.snow.set_case_state(&cases[0].sys_id, CaseState::Closed);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.finished_elsewhere, report.remote_writes), (1, 0));
    // The incident's alert clears: resolved. Reopen the case by hand, clear its alert:
    // the record was finished elsewhere, so nothing is written.
    w.ninja.clear_alert(&on_incident_org);
    w.ninja.clear_alert(&on_case_org);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.resolved, report.pruned, report.remote_writes),
        (1, 1, 1)
    );
    // A new alert on the case organization: a case, resolved with a resolution code on clear.
    let next = w
        .ninja
        .raise_alert(devices[0].id, "again", fixed_time())
        .unwrap();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    w.ninja.clear_alert(&next);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.resolved, 1);
    let case = w.snow.all_cases().pop().unwrap();
    assert_eq!(case.state, CaseState::Resolved);
    assert_eq!(case.resolution_code.as_deref(), Some("Solution provided"));
    assert!(case.close_notes.is_some());
}

#[test]
fn cases_without_customer_service_management_are_skipped_and_the_fake_refuses_them() {
    let w = world(1, 1, 1);
    w.use_cases(1);
    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        report.skip_reasons.get("cases_need_customer_service"),
        Some(&1)
    );
    assert_eq!(w.faults.calls(ServiceNowMethod::Cases), 0);
    let query = IncidentQuery::with_prefix("ninjaone:".parse().unwrap());
    let err = block_on(w.snow.cases(&query, PageRequest::first(10))).unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
}

#[test]
fn configurations_choose_cases_only_with_an_account_and_customer_service_management() {
    use ninjaone_servicenow::engine::{
        Actor, ConfigChanges, ConfigDraft, OrganizationSync, Problem, SyncError,
    };
    use ninjaone_servicenow::model::{OrganizationId, TicketKind};
    let w = world(2, 0, 0);
    let sync = OrganizationSync::new(Ports::new(
        std::sync::Arc::new(w.ninja.clone()),
        std::sync::Arc::new(w.snow.clone()),
        w.store.clone(),
        std::sync::Arc::new(w.clock.clone()),
    ));
    let alice = Actor::administrator("alice");
    let one = OrganizationId::new(1).unwrap();
    // No account: refused with the problem named.
    let err = block_on(sync.update(&alice, one, ConfigChanges::new().tickets(TicketKind::Case)))
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &vec![Problem::CasesNeedAccount(one)]),
        "{err}"
    );
    // An account but no Customer Service Management: refused.
    let account = w.snow.add_customer_account("Acme account");
    block_on(w.store.write_config({
        let mut c = block_on(w.store.config(one)).unwrap().unwrap();
        c.set_customer_account(Some(account.clone()));
        c
    }))
    .unwrap();
    let err = block_on(sync.update(&alice, one, ConfigChanges::new().tickets(TicketKind::Case)))
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &vec![Problem::CustomerServiceManagementMissing]),
        "{err}"
    );
    // With Customer Service Management: saved.
    w.snow.set_customer_service_management(true);
    let saved =
        block_on(sync.update(&alice, one, ConfigChanges::new().tickets(TicketKind::Case))).unwrap();
    assert_eq!(saved.tickets(), TicketKind::Case);
    // Removing the account while cases are chosen is refused.
    let err = block_on(sync.update(&alice, one, ConfigChanges::new().customer_account(None)))
        .unwrap_err();
    assert!(
        err.to_string().contains("without a customer account"),
        "{err}"
    );
    // A draft asking for cases without an account is refused too.
    block_on(sync.delete(&alice, OrganizationId::new(2).unwrap())).unwrap();
    let company = w.snow.add_company("Fresh company", true);
    let draft =
        ConfigDraft::new(OrganizationId::new(2).unwrap(), company).tickets(TicketKind::Case);
    let err = block_on(sync.add(&alice, draft)).unwrap_err();
    assert!(
        matches!(&err, SyncError::Invalid(p) if p.contains(&Problem::CasesNeedAccount(OrganizationId::new(2).unwrap()))),
        "{err}"
    );
}

#[test]
fn an_alert_from_the_far_past_does_not_overflow_the_listing_window() {
    // NinjaOne's createTime is an epoch float; -8e12 s (about 251,000 BC) still decodes, and a
    // host's generous window margin must not push the window start past what chrono holds.
    let w = world(1, 1, 1);
    let mut ancient = w.ninja.all_alerts()[0].clone();
    ancient.create_time = chrono::DateTime::from_timestamp(-8_000_000_000_000, 0);
    w.ninja.clear_alert(&ancient.uid);
    w.ninja.add_alert(ancient);
    let settings = w
        .settings()
        .to_builder()
        .window_margin(TimeDelta::days(365 * 20_000));
    let report = block_on(w.router_with(settings.build()).run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.alerts, report.created), (1, 1));
}

// ---- re-triggers ----

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

// ---- the resolve guard ----

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

// ---- one router at a time ----

/// Polls `future` once: it runs until its first write stalls.
fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    future.poll(&mut cx).is_ready()
}

#[test]
fn two_concurrent_passes_on_one_memory_store_create_no_duplicate() {
    let w = world(2, 2, 8);
    let first = w.router();
    let second = w.router(); // another worker: its own router, the same store
    // The first pass is mid-way: 3 incidents created, its next write never returns.
    w.faults.stall_after_writes(3);
    let mut running = Box::pin(first.run_once(ApplyMode::Apply));
    assert!(!poll_once(running.as_mut()), "the first pass is mid-way");
    assert_eq!(w.snow.all_incidents().len(), 3);

    w.faults.reset_counts();
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert!(
        matches!(&report.stop, Some(Stop::RouterBusy { integration_id }) if integration_id == INTEGRATION),
        "{:?}",
        report.stop
    );
    assert_eq!((report.created, report.remote_writes), (0, 0));
    assert_eq!(
        w.faults.total_calls(),
        0,
        "a busy pass reads nothing remotely"
    );
    assert!(matches!(
        report.next_run,
        ninjaone_servicenow::engine::NextRun::At(_)
    ));
    assert!(
        matches!(
            &report.stop,
            Some(Stop::RouterBusy { integration_id }) if integration_id == INTEGRATION
        ),
        "{:?}",
        report.stop
    );
    // A dry run takes no lock.
    let report = block_on(second.run_once(ApplyMode::DryRun)).unwrap();
    assert_eq!((report.stop, report.remote_writes), (None, 0));

    // The first pass dies there: its lock goes with it, and the second converges.
    drop(running);
    w.faults.clear_faults();
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.stop, None);
    assert_eq!((report.adopted, report.created), (3, 5));
    assert_eq!(w.snow.all_incidents().len(), 8);
    assert!(w.incident_counts().values().all(|n| *n == 1));

    // Another integration id has a lock of its own.
    w.faults.stall_after_writes(0);
    w.ninja
        .raise_alert(w.ninja.all_devices()[0].id, "new", fixed_time())
        .unwrap();
    let mut running = Box::pin(first.run_once(ApplyMode::Apply));
    assert!(!poll_once(running.as_mut()));
    assert!(
        block_on(w.store.lock_router(INTEGRATION))
            .unwrap()
            .is_none()
    );
    let other = block_on(w.store.lock_router("other")).unwrap();
    assert!(other.is_some());
    drop(running);
    assert!(
        block_on(w.store.lock_router(INTEGRATION))
            .unwrap()
            .is_some()
    );
}

#[test]
fn threads_racing_on_one_store_create_each_incident_once() {
    let w = world(3, 3, 30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let reports = runtime.block_on(async {
        let passes: Vec<_> = (0..4)
            .map(|_| {
                let router = w.router();
                tokio::spawn(async move { router.run_once(ApplyMode::Apply).await })
            })
            .collect();
        let mut reports = Vec::new();
        for pass in passes {
            reports.push(pass.await.unwrap().unwrap());
        }
        reports
    });
    let created: usize = reports.iter().map(|r| r.created).sum();
    assert_eq!(created, 30);
    assert!(
        reports
            .iter()
            .all(|r| r.stop.is_none() || matches!(r.stop, Some(Stop::RouterBusy { .. })))
    );
    assert_eq!(w.snow.all_incidents().len(), 30);
    assert!(w.incident_counts().values().all(|n| *n == 1));
}

#[test]
fn two_routers_on_one_json_file_create_no_duplicate() {
    use std::sync::Arc;

    use ninjaone_servicenow::clock::ManualClock;
    use ninjaone_servicenow::engine::incidents::IncidentRouter;
    use ninjaone_servicenow::ports::StoreErrorKind;
    use ninjaone_servicenow::store::JsonFileStore;
    let w = world(1, 2, 6);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = Arc::new(JsonFileStore::open(&path).unwrap());
    block_on(async {
        store.set_mode(IntegrationMode::Inactive).await.unwrap();
        for config in w.store.configs().await.unwrap() {
            let mut config = config;
            config.set_version(0);
            store.write_config(config).await.unwrap();
        }
    });
    let router = |store: Arc<JsonFileStore>| {
        IncidentRouter::new(
            Ports::new(
                Arc::new(w.ninja.clone()),
                Arc::new(w.snow.clone()),
                store,
                Arc::new(ManualClock::new(fixed_time())),
            ),
            w.settings(),
        )
    };
    // A second store instance on the file (another process, or another open in this one)
    // cannot exist while the first holds the file's lock.
    assert_eq!(
        JsonFileStore::open(&path).unwrap_err().kind(),
        StoreErrorKind::Locked
    );
    // Two routers sharing the open store: one pass at a time.
    let (first, second) = (router(store.clone()), router(store.clone()));
    w.faults.stall_after_writes(2);
    let mut running = Box::pin(first.run_once(ApplyMode::Apply));
    assert!(!poll_once(running.as_mut()));
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert!(matches!(report.stop, Some(Stop::RouterBusy { .. })));
    assert_eq!(report.created, 0);
    drop(running); // the first pass dies mid-way
    w.faults.clear_faults();
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.adopted, report.created), (2, 4));
    // The file, reopened after the store is dropped, holds each record once.
    drop((first, second, store));
    let reopened = Arc::new(JsonFileStore::open(&path).unwrap());
    assert_eq!(block_on(reopened.ticket_records()).unwrap().len(), 6);
    let report = block_on(router(reopened).run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.remote_writes), (0, 0));
    assert_eq!(w.snow.all_incidents().len(), 6);
    assert!(w.incident_counts().values().all(|n| *n == 1));
}

// ---- ticket templates ----

fn template(name: &str, default: bool) -> TicketTemplate {
    let mut t = TicketTemplate::new(name.parse().unwrap());
    t.set_default(default);
    t
}

fn sys_id(n: u8) -> SysId {
    format!("{n:032x}").parse().unwrap()
}

#[test]
fn every_template_field_lands_on_created_incidents_and_cases() {
    let w = world(3, 1, 0);
    w.snow.set_customer_service_management(true);
    let account = w.use_cases(2);
    // Organization 1 names no template: the default. Organization 2 (cases) and 3 name theirs.
    let mut desk = template("desk", true);
    desk.set_assignment_group(Some(sys_id(0xa1)));
    desk.set_caller(Some(sys_id(0xa2)));
    desk.set_category(Some("hardware".parse().unwrap()));
    desk.set_subcategory(Some("disk".parse().unwrap()));
    desk.set_contact_type(Some("monitoring".parse().unwrap()));
    let mut cases = template("cases", false);
    cases.set_assignment_group(Some(sys_id(0xb1)));
    cases.set_caller(Some(sys_id(0xb2)));
    cases.set_category(Some("1".parse().unwrap()));
    cases.set_subcategory(Some("0".parse().unwrap()));
    cases.set_contact_type(Some("web".parse().unwrap()));
    let mut network = template("network", false);
    network.set_assignment_group(Some(sys_id(0xc1)));
    for t in [desk, cases, network] {
        block_on(w.store.put_ticket_template(t)).unwrap();
    }
    w.edit(2, |c| c.set_ticket_template(Some("cases".parse().unwrap())));
    w.edit(3, |c| {
        c.set_ticket_template(Some("network".parse().unwrap()));
    });
    let devices = w.ninja.all_devices();
    for device in &devices {
        w.ninja
            .raise_alert(device.id, "disk full", fixed_time())
            .unwrap();
    }
    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.remote_writes), (3, 3));

    let incidents = w.snow.all_incidents();
    let of = |org: usize| {
        let company = &w.snow.all_companies()[org - 1].sys_id;
        incidents
            .iter()
            .find(|i| i.company.as_ref() == Some(company))
            .unwrap_or_else(|| panic!("organization {org}'s incident"))
            .clone()
    };
    let first = of(1);
    assert_eq!(
        (
            first.assignment_group,
            first.caller_id,
            first.category.as_deref(),
            first.subcategory.as_deref(),
            first.contact_type.as_deref()
        ),
        (
            Some(sys_id(0xa1)),
            Some(sys_id(0xa2)),
            Some("hardware"),
            Some("disk"),
            Some("monitoring")
        ),
        "the default template fills every field"
    );
    let third = of(3);
    assert_eq!(
        (
            third.assignment_group,
            third.caller_id,
            third.category,
            third.contact_type
        ),
        (Some(sys_id(0xc1)), None, None, None),
        "a configuration's own template wins over the default, and sets only what it has"
    );
    let case = w.snow.all_cases().pop().expect("organization 2's case");
    assert_eq!(case.account.as_ref(), Some(&account));
    assert_eq!(
        (
            case.assignment_group,
            case.category.as_deref(),
            case.subcategory.as_deref(),
            case.contact_type.as_deref()
        ),
        (Some(sys_id(0xb1)), Some("1"), Some("0"), Some("web")),
        "a case takes the fields a case has (no caller: its person is a customer contact)"
    );
    // The next pass reads the same templates and writes nothing.
    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.remote_writes, 0);
}

#[test]
fn a_template_filters_alerts_by_source_type_and_severity_and_says_why() {
    let w = world(1, 1, 0);
    let mut servers = template("servers", true);
    servers.set_source_types([
        "CONDITION_DISK".parse().unwrap(),
        "CONDITION_CPU".parse().unwrap(),
    ]);
    servers.set_min_severity(Some(MinSeverity::Major));
    block_on(w.store.put_ticket_template(servers)).unwrap();
    let device = w.ninja.all_devices()[0].id;
    let raise = |source: Option<&str>, severity: Option<Severity>| {
        let uid = w.ninja.raise_alert(device, "alert", fixed_time()).unwrap();
        let mut alert = w
            .ninja
            .all_alerts()
            .into_iter()
            .find(|a| a.uid == uid)
            .unwrap();
        alert.source_type = source.map(str::to_owned);
        alert.severity = severity;
        w.ninja.add_alert(alert);
        uid
    };
    let disk_critical = raise(Some("CONDITION_DISK"), Some(Severity::Critical));
    let cpu_without_severity = raise(Some("CONDITION_CPU"), None);
    let cpu_unknown_severity = raise(Some("CONDITION_CPU"), Some(Severity::Other("X".into())));
    let disk_minor = raise(Some("CONDITION_DISK"), Some(Severity::Minor));
    let disk_none = raise(Some("CONDITION_DISK"), Some(Severity::None));
    let event_log = raise(
        Some("CONDITION_WINDOWS_EVENT_LOG_TRIGGERED"),
        Some(Severity::Critical),
    );
    let no_source = raise(None, Some(Severity::Critical));

    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        (report.created, report.skipped, report.remote_writes),
        (3, 4, 3)
    );
    assert_eq!(report.skip_reasons.get("filtered"), Some(&4));
    let created: BTreeSet<String> = w
        .snow
        .all_incidents()
        .iter()
        .filter_map(|i| i.correlation_id.clone())
        .collect();
    let expected: BTreeSet<String> = [&disk_critical, &cpu_without_severity, &cpu_unknown_severity]
        .iter()
        .map(|uid| format!("ninjaone:{INTEGRATION}:alert:{uid}"))
        .collect();
    assert_eq!(
        created, expected,
        "alerts without a rankable severity pass the severity filter"
    );
    let filter_of = |uid: &AlertUid| {
        report
            .outcomes
            .iter()
            .find(|o| &o.alert == uid)
            .and_then(|o| match &o.outcome {
                TicketOutcome::Skipped {
                    reason: SkipReason::Filtered { filter, .. },
                } => Some(filter.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{uid} is filtered"))
    };
    assert_eq!(
        filter_of(&disk_minor),
        FilterRefusal::Severity {
            severity: Severity::Minor,
            min_severity: MinSeverity::Major
        }
    );
    assert!(matches!(
        filter_of(&disk_none),
        FilterRefusal::Severity { .. }
    ));
    assert_eq!(
        filter_of(&event_log),
        FilterRefusal::SourceType {
            source_type: Some("CONDITION_WINDOWS_EVENT_LOG_TRIGGERED".to_owned())
        }
    );
    assert_eq!(
        filter_of(&no_source),
        FilterRefusal::SourceType { source_type: None }
    );
    let json = serde_json::to_value(&report).unwrap();
    let line = json["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["alert"] == disk_minor.as_str())
        .unwrap()
        .clone();
    assert_eq!(line["outcome"], "skipped");
    assert_eq!(line["reason"]["reason"], "filtered");
    assert_eq!(line["reason"]["template"], "servers");
    assert_eq!(line["reason"]["filter"]["filter"], "severity");
    // An unchanged pass writes nothing.
    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.remote_writes), (0, 0));
}

#[test]
fn a_configuration_naming_a_template_that_is_gone_creates_nothing_and_says_so() {
    let w = world(2, 1, 2);
    w.edit(1, |c| c.set_ticket_template(Some("gone".parse().unwrap())));
    let report = block_on(w.router().run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.skipped), (1, 1));
    assert_eq!(report.skip_reasons.get("unknown_template"), Some(&1));
    let skipped = report
        .outcomes
        .iter()
        .find_map(|o| match &o.outcome {
            TicketOutcome::Skipped { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        matches!(
            &skipped,
            SkipReason::UnknownTemplate { organization, template }
                if organization.get() == 1 && template.as_str() == "gone"
        ),
        "{skipped:?}"
    );
}

#[test]
fn an_approval_releases_only_the_resolves_that_were_held_not_a_listing_that_emptied_further() {
    use ninjaone_servicenow::engine::Actor;
    use ninjaone_servicenow::model::{AuditAction, AuditFilter};
    let w = world(2, 4, 40);
    let router = w.router();
    block_on(router.run_once(ApplyMode::Apply)).unwrap();
    let alerts = w.ninja.all_alerts();
    // 15 of 40 clear: more than the limit of 10, held and audited.
    for alert in &alerts[..15] {
        w.ninja.clear_alert(&alert.uid);
    }
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.held), (0, 15));
    // Then the listing empties: the other 25 were never shown to an administrator.
    for alert in &alerts[15..] {
        w.ninja.clear_alert(&alert.uid);
    }
    let alice = Actor::administrator("alice");
    let report = block_on(router.approve_resolves(&alice)).unwrap();
    assert_eq!((report.resolved, report.held), (15, 25));
    assert!(report.needs_approval());
    let audit = block_on(w.store.audit(&AuditFilter::all())).unwrap();
    let approval = audit
        .iter()
        .find(|e| e.action == AuditAction::ApproveResolves)
        .expect("the approval is audited");
    assert_eq!(
        approval.after.as_ref().unwrap()["tickets"]
            .as_array()
            .unwrap()
            .len(),
        15
    );
    let last_hold = audit
        .iter()
        .rev()
        .find(|e| e.action == AuditAction::HoldResolves)
        .expect("the remaining resolves are held again");
    assert_eq!(
        last_hold.after.as_ref().unwrap()["tickets"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    // A second approval, of what it now saw held, releases the rest.
    let report = block_on(router.approve_resolves(&alice)).unwrap();
    assert_eq!((report.resolved, report.held), (25, 0));
    assert!(block_on(w.store.ticket_records()).unwrap().is_empty());
}

#[test]
fn an_adopted_ticket_older_than_its_record_is_still_resolved_when_its_alert_clears() {
    let w = world(1, 1, 1);
    let router = w.router();
    assert_eq!(
        block_on(router.run_once(ApplyMode::Apply)).unwrap().created,
        1
    );
    // The store is restored from before the ticket, three days later: the pass adopts it.
    let uid = w.ninja.all_alerts()[0].uid.clone();
    block_on(w.store.write_ticket_records(Vec::new(), vec![uid.clone()])).unwrap();
    w.clock.advance(chrono::Duration::days(3));
    assert_eq!(
        block_on(router.run_once(ApplyMode::Apply)).unwrap().adopted,
        1
    );
    // The alert clears: the listing window must still reach back to the ticket.
    w.ninja.clear_alert(&uid);
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.resolved, report.remote_writes), (1, 1));
    assert_eq!(w.snow.all_incidents()[0].state, IncidentState::Resolved);
}

#[test]
fn the_incident_report_reads_in_one_line_and_counts_unchanged_tickets_without_listing_them() {
    let w = world(1, 1, 4);
    let router = w.router();
    let report = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(
        report.to_string(),
        "incidents: 4 alerts, 4 created, 0 resolved, 0 failed, 4 remote writes"
    );
    let idle = block_on(router.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((idle.unchanged, idle.outcomes.len()), (4, 0));
    assert_eq!(
        idle.to_string(),
        "incidents: 4 alerts, 0 created, 0 resolved, 0 failed, 0 remote writes"
    );
    let full = EngineOptions::builder().report(ninjaone_servicenow::engine::ReportDetail::Full);
    let listed = block_on(w.router().options(full).run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((listed.unchanged, listed.outcomes.len()), (4, 4));
}
