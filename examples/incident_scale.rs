//! The incident router at scale, against the in-memory fakes: 100 organizations with 50
//! devices each and 10,000 open alerts. Times three passes — the first (10,000 incidents
//! created), an idle one (nothing to write) and one after 1,000 alerts cleared (1,000 resolved)
//! — and prints their request counts.
//!
//! ```text
//! cargo run --release --features test-util --example incident_scale
//! ```

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::ApplyMode;
use ninjaone_servicenow::engine::incidents::{IncidentReport, IncidentRouter, IncidentSettings};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{IntegrationMode, OrganizationId, SyncConfig};
use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, Faults, fixed_time};

const ORGANIZATIONS: usize = 100;
const DEVICES_PER_ORGANIZATION: usize = 50;
const ALERTS: usize = 10_000;
const CLEARED: usize = 1_000;

fn main() -> Result<(), Box<dyn Error>> {
    futures::executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let faults = Faults::new();
    let ninja = FakeNinjaOne::builder()
        .organizations(ORGANIZATIONS)
        .roles_standard()
        .devices_per_organization(DEVICES_PER_ORGANIZATION)
        .alerts(ALERTS)
        .faults(faults.clone())
        .build();
    let snow = FakeServiceNow::builder()
        .companies(ORGANIZATIONS)
        .faults(faults.clone())
        .build();
    let store = MemoryStore::new();
    store.set_mode(IntegrationMode::Inactive).await?;
    for (i, company) in snow.all_companies().into_iter().enumerate() {
        let org = OrganizationId::new(u32::try_from(i + 1)?)?;
        let mut config = SyncConfig::new(org, Some(company.sys_id), fixed_time());
        config.set_allow_incidents(true);
        config.apply(SyncEvent::Enqueue, None, fixed_time())?;
        config.apply(SyncEvent::Succeeded, None, fixed_time())?;
        store.write_config(config).await?;
    }
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::new(store),
            Arc::new(ManualClock::new(fixed_time())),
        ),
        IncidentSettings::new("scale")?,
    );
    println!(
        "tenant: {ORGANIZATIONS} organizations, {} devices, {} open alerts; built in {:.1} ms",
        ninja.all_devices().len(),
        ninja.all_alerts().len(),
        ms(started)
    );

    let report = timed("first pass", &router, &faults).await?;
    assert_eq!(report.created, ALERTS);
    let report = timed("idle pass", &router, &faults).await?;
    assert_eq!(report.remote_writes, 0);
    for alert in ninja.all_alerts().iter().take(CLEARED) {
        ninja.clear_alert(&alert.uid);
    }
    let report = timed(&format!("{CLEARED} alerts cleared"), &router, &faults).await?;
    assert_eq!(report.resolved, CLEARED);
    println!("incidents in ServiceNow: {}", snow.all_incidents().len());
    Ok(())
}

async fn timed(
    title: &str,
    router: &IncidentRouter,
    faults: &Faults,
) -> Result<IncidentReport, Box<dyn Error>> {
    faults.reset_counts();
    let started = Instant::now();
    let report = router.run_once(ApplyMode::Apply).await?;
    let elapsed = ms(started);
    println!(
        "{title}: {elapsed:.1} ms; {} created, {} resolved, {} other lines, {} remote \
         writes; calls: alerts {}, devices {}, incidents {}, create_incident {}, update_incident {}",
        report.created,
        report.resolved,
        report.outcomes.len() - report.created - report.resolved,
        report.remote_writes,
        faults.calls(NinjaOneMethod::Alerts),
        faults.calls(NinjaOneMethod::Devices),
        faults.calls(ServiceNowMethod::Incidents),
        faults.calls(ServiceNowMethod::CreateIncident),
        faults.calls(ServiceNowMethod::UpdateIncident),
    );
    Ok(report)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
