//! The demo: runs on in-memory fakes, no network, no credentials.
//!
//! ```text
//! cargo run --example demo --features test-util
//! ```
//!
//! It decodes real-shaped NinjaOne and ServiceNow JSON (a malformed row is rejected on its own),
//! then walks a small tenant through what the sync will do: list both sides page by page, match
//! organizations to companies by normalised name, save one configuration per organization in a
//! store, and move each through the status machine, with an audit entry per change.

use std::collections::HashMap;
use std::error::Error;

use ninjaone_servicenow::clock::{Clock, ManualClock};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    AuditAction, AuditEntry, AuditFilter, Company, Device, IntegrationMode, Organization,
    SyncConfig, decode_rows, normalize_name,
};
use ninjaone_servicenow::ports::{
    ConfigStore, NinjaOneApi, PageRequest, ServiceNowApi, WriteBatch, collect_all,
};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};

const ACTOR: &str = "system:demo";

fn main() -> Result<(), Box<dyn Error>> {
    futures::executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    decode_real_shaped_json()?;

    println!("\n== A tenant of 12 organizations; ServiceNow already has 8 matching companies");
    let ninja = FakeNinjaOne::builder()
        .organizations(12)
        .roles_standard()
        .devices_per_organization(3)
        .build();
    let snow = FakeServiceNow::builder().companies(8).build();
    // A company whose name differs only in case and spacing still matches.
    let renamed = snow.all_companies()[0].sys_id.clone();
    let loose_name = format!("  {}  ", snow.all_companies()[0].name.to_uppercase());
    snow.rename_company(&renamed, loose_name);

    let clock = ManualClock::new(fixed_time());
    let store = MemoryStore::new();
    store.set_mode(IntegrationMode::Active).await?;

    let page = PageRequest::first(5);
    let orgs = collect_all(page.clone(), 100, |p| ninja.organizations(p)).await?;
    let companies = collect_all(page.clone(), 100, |p| snow.companies(p)).await?;
    let devices = collect_all(page, 100, |p| ninja.devices(p)).await?;
    println!(
        "listed {} organizations in {} pages, {} companies in {} pages, {} devices in {} pages",
        orgs.items.len(),
        orgs.pages,
        companies.items.len(),
        companies.pages,
        devices.items.len(),
        devices.pages
    );

    // Match locally: free text never goes into a ServiceNow query.
    let mut by_name: HashMap<String, Vec<&Company>> = HashMap::new();
    for company in &companies.items {
        by_name
            .entry(normalize_name(&company.name))
            .or_default()
            .push(company);
    }

    // Save a pending configuration per organization, in one batch with its audit entries.
    let mut batch = WriteBatch::new();
    for org in &orgs.items {
        let company = match by_name.get(&normalize_name(&org.name)).map(Vec::as_slice) {
            Some([one]) => Some(one.sys_id.clone()),
            _ => None,
        };
        let config = SyncConfig::new(org.id, company, clock.now());
        batch = batch.config(config).audit(
            AuditEntry::applied(clock.now(), ACTOR, AuditAction::AddConfig)
                .for_organization(org.id),
        );
    }
    let saved = store.write(batch).await?;
    println!("saved {} pending configurations", saved.len());

    // One pass through the status machine.
    clock.advance(chrono::Duration::minutes(1));
    let mut batch = WriteBatch::new();
    for mut config in saved {
        let before = config.status();
        config.apply(SyncEvent::Enqueue, None, clock.now())?;
        match config.company() {
            Some(_) => config.apply(SyncEvent::Succeeded, None, clock.now())?,
            None => config.apply(
                SyncEvent::FailedPermanent,
                Some("no ServiceNow company has this name; map one by hand"),
                clock.now(),
            )?,
        };
        let entry = AuditEntry::applied(clock.now(), ACTOR, AuditAction::StatusChange)
            .for_organization(config.organization())
            .with_states(
                Some(before.to_string().into()),
                Some(config.status().to_string().into()),
            );
        batch = batch.config(config).audit(entry);
    }
    store.write(batch).await?;

    print_configs(&store, &orgs.items, &companies.items, &devices.items).await?;
    show_refusals(&store, &clock).await?;

    let audit = store.audit(&AuditFilter::all()).await?;
    println!(
        "\naudit log: {} entries; remote calls: NinjaOne {}, ServiceNow {} (writes: {})",
        audit.len(),
        ninja.faults().total_calls(),
        snow.faults().total_calls(),
        snow.faults().writes()
    );
    Ok(())
}

/// What the status machine and the store refuse: a transition the table does not allow, and a
/// write from a stale copy.
async fn show_refusals(store: &MemoryStore, clock: &ManualClock) -> Result<(), Box<dyn Error>> {
    println!("\n== The machine refuses what the table refuses");
    let mut active = store
        .configs()
        .await?
        .into_iter()
        .find(|c| c.company().is_some())
        .ok_or("no active configuration")?;
    if let Err(refusal) = active.apply(SyncEvent::Restore, None, clock.now()) {
        println!("organization {}: {refusal}", active.organization());
    }

    println!("\n== A stale write is a conflict, never a lost update");
    let mut stale = active.clone();
    active.set_allow_incidents(true);
    active.apply(SyncEvent::Changed, None, clock.now())?;
    store.write_config(active).await?;
    stale.set_allow_incidents(false);
    if let Err(conflict) = store.write_config(stale).await {
        println!("{conflict}");
    }
    Ok(())
}

async fn print_configs(
    store: &MemoryStore,
    orgs: &[Organization],
    companies: &[Company],
    devices: &[Device],
) -> Result<(), Box<dyn Error>> {
    println!(
        "\n{:<4} {:<26} {:<26} {:>7}  {:<9} reason",
        "org", "organization", "company", "devices", "status"
    );
    for config in store.configs().await? {
        let org = orgs.iter().find(|o| o.id == config.organization());
        let company = config
            .company()
            .and_then(|id| companies.iter().find(|c| &c.sys_id == id));
        let device_count = devices
            .iter()
            .filter(|d| d.organization_id == config.organization())
            .count();
        println!(
            "{:<4} {:<26} {:<26} {:>7}  {:<9} {}",
            config.organization(),
            org.map_or("?", |o| o.name.as_str()),
            company.map_or("(unmapped)", |c| c.name.trim()),
            device_count,
            config.status(),
            config.status_reason().unwrap_or("")
        );
    }
    Ok(())
}

fn decode_real_shaped_json() -> Result<(), Box<dyn Error>> {
    println!("== Decoding real-shaped JSON");
    let orgs: serde_json::Value = serde_json::from_str(include_str!(
        "../tests/fixtures/ninjaone/organizations.json"
    ))?;
    let (orgs, rejected) = decode_rows::<Organization>(orgs);
    println!(
        "NinjaOne organizations: {} decoded, {} rejected; omitted fields are fine: {:?}",
        orgs.len(),
        rejected.len(),
        orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>()
    );
    let mut body: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/servicenow/companies.json"))?;
    let (companies, rejected) = decode_rows::<Company>(body["result"].take());
    println!(
        "ServiceNow companies: {} decoded, {} rejected on their own:",
        companies.len(),
        rejected.len()
    );
    for row in &rejected {
        println!("  {row}");
    }
    Ok(())
}
