//! Two integrations on one ServiceNow, urgency and impact, cases, and the listing window.

use super::*;

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
            other.engine_store(),
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
        w.engine_store(),
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
        matches!(&err, SyncError::Invalid(p) if p.contains(&Problem::CasesNeedAccount(one))),
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
