//! Ticket templates on incidents and cases.

use super::*;

fn template(name: &str, default: bool) -> TicketTemplate {
    let mut t = TicketTemplate::new(name.parse().unwrap());
    t.set_default(default);
    t
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
