//! Incident routing benchmark: `cargo bench --all-features --bench incidents`.
//!
//! `incidents/route/100000`: [`route`] over 100,000 alerts of a tenant with 1,000
//! organizations (a quarter of them not routing: inactive, incidents not allowed, unmapped)
//! and 20,000 devices, 1,000 of the alerts on devices the listing does not have. Throughput is
//! decisions per second.
//!
//! `incidents/route_templated/100000`: the same with every configuration on a default ticket
//! template that filters by source type and minimum severity (alerts carry one of four source
//! types and one of five severities, or none). Putting the template's fields on a created
//! ticket's body is part of building the body, which the two route benchmarks do not measure.
//!
//! `incidents/plan_tickets/100000`: [`plan_tickets`] over the same alerts with no record and
//! an empty ticket listing — the first pass: every routed alert becomes a create with its
//! ticket body (bounded, cleaned text). Throughput is alerts planned per second.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ninjaone_servicenow::engine::incidents::{
    IncidentSettings, RouteDecision, RoutingIndex, route,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    Alert, CiRecord, Device, DeviceId, MinSeverity, NodeClass, OrganizationId, Severity,
    SyncConfig, SysId, TicketTemplate,
};
use ninjaone_servicenow::plan::{TicketDecision, TicketInputs, TicketListing, plan_tickets};

const ORGANIZATIONS: u32 = 1_000;
const DEVICES: u32 = 20_000;
const ALERTS: u32 = 100_000;

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

fn sys_id(n: u32) -> SysId {
    format!("{n:032x}").parse().expect("hex sys_id")
}

fn tenant() -> (Vec<Device>, Vec<SyncConfig>, Vec<CiRecord>, Vec<Alert>) {
    let devices: Vec<Device> = (1..=DEVICES)
        .map(|id| {
            let mut device = Device::new(
                DeviceId::new(id).expect("id"),
                OrganizationId::new(1 + id % ORGANIZATIONS).expect("id"),
                NodeClass::WindowsServer,
            );
            device.display_name = Some(format!("SRV-{id:05}"));
            device
        })
        .collect();
    let configs = (1..=ORGANIZATIONS)
        .map(|n| {
            let org = OrganizationId::new(n).expect("id");
            let mut c = SyncConfig::new(org, (n % 8 != 0).then(|| sys_id(n)), at());
            c.set_allow_incidents(n % 8 != 1);
            c.apply(SyncEvent::Enqueue, None, at()).expect("enqueue");
            if n % 8 == 2 {
                c.apply(SyncEvent::Deactivate, Some("paused"), at())
                    .expect("pause");
            } else {
                c.apply(SyncEvent::Succeeded, None, at()).expect("activate");
            }
            c
        })
        .collect();
    let cis = (1..=DEVICES)
        .step_by(2)
        .map(|id| {
            CiRecord::new(
                DeviceId::new(id).expect("id"),
                OrganizationId::new(1 + id % ORGANIZATIONS).expect("id"),
                "cmdb_ci_win_server".parse().expect("class"),
                Some(sys_id(1_000_000 + id)),
                "fp",
                at(),
            )
        })
        .collect();
    let alerts = (0..ALERTS)
        .map(|n| {
            let mut alert: Alert = serde_json::from_value(
                serde_json::json!({ "uid": format!("00000000-0000-4000-8000-{n:012x}") }),
            )
            .expect("alert");
            // 1% of the alerts are on devices the listing does not have.
            let device = if n % 100 == 0 {
                DEVICES + 1 + n
            } else {
                1 + n % DEVICES
            };
            alert.device_id = DeviceId::new(device).ok();
            alert
        })
        .collect();
    (devices, configs, cis, alerts)
}

fn routing(c: &mut Criterion) {
    let settings = IncidentSettings::new("bench").expect("id");
    let (devices, configs, cis, alerts) = tenant();
    let index = RoutingIndex::new(&settings, &devices, &configs, &cis, Some(true));
    let creates = alerts
        .iter()
        .filter(|a| matches!(route(a, &index), RouteDecision::Create { .. }))
        .count();
    eprintln!("{creates} of {} alerts route to a create", alerts.len());
    let mut group = c.benchmark_group("incidents/route");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(u64::from(ALERTS)));
    group.bench_with_input(BenchmarkId::from_parameter(ALERTS), &alerts, |b, alerts| {
        b.iter(|| {
            let mut created = 0usize;
            for alert in alerts {
                if matches!(
                    black_box(route(alert, &index)),
                    RouteDecision::Create { .. }
                ) {
                    created += 1;
                }
            }
            created
        });
    });
    group.finish();
}

fn planning(c: &mut Criterion) {
    let settings = IncidentSettings::new("bench").expect("id");
    let (devices, configs, cis, mut alerts) = tenant();
    for (n, alert) in alerts.iter_mut().enumerate() {
        alert.message = Some(format!("Disk C: has less than 5% free space ({n})"));
        alert.subject = Some("Disk space".to_owned());
    }
    let index = RoutingIndex::new(&settings, &devices, &configs, &cis, Some(true));
    let records = std::collections::BTreeMap::new();
    let tickets = TicketListing::default();
    let inputs = TicketInputs::new(&alerts, &records, &configs, &index, &tickets);
    let creates = plan_tickets(&inputs, at())
        .items
        .iter()
        .filter(|i| matches!(i.decision, TicketDecision::Create(_)))
        .count();
    eprintln!("{creates} of {} alerts plan a create", alerts.len());
    let mut group = c.benchmark_group("incidents/plan_tickets");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(u64::from(ALERTS)));
    group.bench_with_input(BenchmarkId::from_parameter(ALERTS), &inputs, |b, inputs| {
        b.iter(|| black_box(plan_tickets(inputs, at())).items.len());
    });
    group.finish();
}

fn routing_with_templates(c: &mut Criterion) {
    let settings = IncidentSettings::new("bench").expect("id");
    let (devices, configs, cis, mut alerts) = tenant();
    let sources = [
        "CONDITION_DISK",
        "CONDITION_CPU",
        "CONDITION_MEMORY",
        "CONDITION_PING",
    ];
    let severities = [
        None,
        Some(Severity::Minor),
        Some(Severity::Moderate),
        Some(Severity::Major),
        Some(Severity::Critical),
    ];
    for (n, alert) in alerts.iter_mut().enumerate() {
        alert.source_type = sources.get(n % sources.len()).map(|s| (*s).to_owned());
        alert.severity.clone_from(&severities[n % severities.len()]);
    }
    let mut template = TicketTemplate::new("desk".parse().expect("name"));
    template.set_default(true);
    template.set_assignment_group(Some(sys_id(9_000_001)));
    template.set_caller(Some(sys_id(9_000_002)));
    template.set_category(Some("hardware".parse().expect("value")));
    template.set_contact_type(Some("monitoring".parse().expect("value")));
    template.set_source_types(sources[..3].iter().map(|s| s.parse().expect("type")));
    template.set_min_severity(Some(MinSeverity::Moderate));
    let index = RoutingIndex::new(&settings, &devices, &configs, &cis, Some(true))
        .with_templates(std::slice::from_ref(&template));
    let creates = alerts
        .iter()
        .filter(|a| matches!(route(a, &index), RouteDecision::Create { .. }))
        .count();
    eprintln!(
        "{creates} of {} templated alerts route to a create",
        alerts.len()
    );
    let mut group = c.benchmark_group("incidents/route_templated");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(u64::from(ALERTS)));
    group.bench_with_input(BenchmarkId::from_parameter(ALERTS), &alerts, |b, alerts| {
        b.iter(|| {
            let mut created = 0usize;
            for alert in alerts {
                if matches!(
                    black_box(route(alert, &index)),
                    RouteDecision::Create { .. }
                ) {
                    created += 1;
                }
            }
            created
        });
    });
    group.finish();
}

criterion_group!(benches, routing, routing_with_templates, planning);
criterion_main!(benches);
