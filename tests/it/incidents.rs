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
    Priority, Severity, TicketRecordState, TicketTemplate,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{
    ApiErrorKind, ConfigStore, IncidentQuery, PageRequest, Remote, ServiceNowApi,
};
use ninjaone_servicenow::testing::fixed_time;
use ninjaone_servicenow::testing::ids::sys_id;

use crate::support::incident_world as support;
use support::{INTEGRATION, world};

mod integrations_and_cases;
mod one_router;
mod recovery;
mod resolve_guard;
mod retriggers;
mod stops_and_skips;
mod ticket_templates;

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
