//! The demo: Organization Sync on in-memory fakes — no network, no credentials.
//!
//! ```text
//! cargo run --example demo --features test-util
//! ```
//!
//! A managed-service provider's tenant: twelve NinjaOne organizations; a ServiceNow instance with
//! Customer Service Management that already has companies for some of them (one name twice,
//! one spelled in capitals with stray spaces). The integration first runs in inactive mode,
//! where people add organizations by hand (and are refused what their permissions forbid), then
//! in active mode, where every organization is matched or gets a company. It prints what an MSP
//! wants to read: the plan, the report, a status table, the request counts and the audit log.
//! Finally alerts are raised on a few devices and one incident pass turns them into incidents
//! of the mapped companies.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::error::Error;
use std::sync::Arc;

use ninjaone_servicenow::clock::Clock;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, ConfigChanges, ConfigDraft, EngineOptions, ErrorChain, OrganizationSync,
    Report, ReportDetail,
};
use ninjaone_servicenow::model::{
    AuditFilter, AuditOutcome, CiMapping, CiMappingName, IntegrationMode, Organization,
    OrganizationId, SysId,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, customer_name, fixed_time};

fn main() -> std::process::ExitCode {
    match futures::executor::block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The whole chain, each cause once: what failed, why, what to do.
            eprintln!("demo: {}", ErrorChain(&*err));
            std::process::ExitCode::FAILURE
        }
    }
}

fn org_id(n: u32) -> Result<OrganizationId, Box<dyn Error>> {
    Ok(OrganizationId::new(n)?)
}

async fn run() -> Result<(), Box<dyn Error>> {
    // ---- the tenant ----
    let ninja = FakeNinjaOne::builder()
        .organizations(12)
        .roles_standard()
        .devices_per_organization(3)
        .build();
    let snow = FakeServiceNow::builder()
        .companies(4) // organizations 1-4 already have companies of the same name
        .company(customer_name(6), true) // organization 6's name, twice: ambiguous
        .company(customer_name(6), false)
        .company(format!("  {}  ", customer_name(7).to_uppercase()), true) // same name, other spelling
        .customer_account("Fabrikam Legal 0002 (CSM account)")
        .customer_service_management(true)
        .build();
    let clock = ManualClock::new(fixed_time());
    let store = MemoryStore::new();
    let sync = OrganizationSync::new(Ports::new(
        Arc::new(ninja.clone()),
        Arc::new(snow.clone()),
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
    ))
    .options(
        EngineOptions::builder()
            .page_size(5)
            .report(ReportDetail::Full),
    );

    let alice = Actor::administrator("alice");
    let bob = Actor::technician("bob")
        .with_integration_permission()
        .seeing([org_id(1)?, org_id(2)?, org_id(3)?]);
    let carol = Actor::technician("carol").seeing_all();
    let orgs = ninja.all_organizations();

    println!("== The tenant");
    println!(
        "NinjaOne: {} organizations, {} devices. ServiceNow: {} companies, Customer Service \
         Management installed.",
        orgs.len(),
        ninja.all_devices().len(),
        snow.all_companies().len()
    );

    let demo = Demo {
        sync,
        ninja,
        snow,
        clock,
        alice,
        bob,
        carol,
    };
    inactive_mode(&demo).await?;
    active_mode(&demo).await?;
    people_and_renames(&demo).await?;
    print_status(&demo.sync, &demo.alice, &orgs, &demo.snow).await?;
    print_audit(&demo.sync, &demo.alice).await?;
    incidents(&demo, store).await
}

/// Three organizations allow incidents; alerts on a few devices; one incident pass.
async fn incidents(demo: &Demo, store: MemoryStore) -> Result<(), Box<dyn Error>> {
    let Demo {
        sync,
        ninja,
        snow,
        clock,
        alice,
        ..
    } = demo;
    println!("\n== Incidents: alerts of organizations 1-3 become incidents of their companies");
    for n in 1..=3 {
        sync.update(
            alice,
            org_id(n)?,
            ConfigChanges::new().allow_incidents(true),
        )
        .await?;
    }
    clock.advance(chrono::Duration::minutes(5));
    sync.run_once(ApplyMode::Apply).await?; // the edited configurations are active again
    let devices = ninja.all_devices();
    // The first device of organizations 1, 2, 3 and 5 (which does not allow incidents).
    for (index, message) in [
        (0, "Disk C: has less than 5% free space"),
        (3, "CPU utilization above 90% for 15 minutes"),
        (6, "Windows service 'Spooler' stopped"),
        (12, "Backup job failed"),
    ] {
        let device = devices.get(index).ok_or("missing device")?;
        ninja.raise_alert(device.id, message, clock.now());
    }
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::new(store),
            Arc::new(clock.clone()),
        ),
        IncidentSettings::new("demo")?,
    );
    let report = router.run_once(ApplyMode::Apply).await?;
    println!(
        "incident pass: {} alerts, {} created, {} skipped, {} remote writes",
        report.alerts, report.created, report.skipped, report.remote_writes
    );
    for line in report
        .outcomes
        .iter()
        .filter(|l| l.outcome.label() == "skipped")
    {
        println!("  alert {}: {}", line.alert, line.outcome);
    }
    let companies = snow.all_companies();
    for incident in snow.all_incidents() {
        let company = companies
            .iter()
            .find(|c| Some(&c.sys_id) == incident.company.as_ref())
            .map_or("(no company)", |c| c.name.as_str());
        println!(
            "  {} {:<26} {}",
            incident.number.as_deref().unwrap_or("-"),
            company,
            incident.short_description
        );
    }
    let again = router.run_once(ApplyMode::Apply).await?;
    println!(
        "a second incident pass: {} created, {} remote writes",
        again.created, again.remote_writes
    );
    Ok(())
}

fn print_report(title: &str, report: &Report) {
    let c = report;
    println!(
        "\n-- {title}: {} created, {} matched, {} activated, {} unchanged, {} deferred, {} held, \
         {} failed, {} deleted, {} unknown; {} remote writes",
        c.created,
        c.matched,
        c.activated,
        c.unchanged,
        c.deferred,
        c.held,
        c.failed,
        c.deleted,
        c.unknown,
        report.remote_writes
    );
    if report.unconfigured > 0 {
        println!(
            "  ({} organizations have no configuration: inactive mode leaves them alone)",
            report.unconfigured
        );
    }
    for line in &report.outcomes {
        println!(
            "  org {:>2} {:<25} {:<9} {}",
            line.organization,
            line.organization_name.as_deref().unwrap_or("?"),
            line.status.map_or("-", |s| s.label()),
            line.outcome
        );
    }
    if let Some(stop) = &report.stop {
        println!("  stopped: {stop}");
    }
    match report.next_run.delay_from(report.finished_at) {
        Some(wait) => println!("  next run: in {} s", wait.as_secs()),
        None => println!("  next run: on the regular schedule"),
    }
}

async fn print_status(
    sync: &OrganizationSync,
    actor: &Actor,
    orgs: &[Organization],
    snow: &FakeServiceNow,
) -> Result<(), Box<dyn Error>> {
    let companies = snow.all_companies();
    println!("\n== Status");
    println!(
        "{:>3}  {:<25} {:<9} {:<27} {:<7} {:<9} {:<9} reason",
        "org", "organization", "status", "company", "account", "CI", "incidents"
    );
    for config in sync.list(actor).await? {
        let name = orgs
            .iter()
            .find(|o| o.id == config.organization())
            .map_or("?", |o| o.name.as_str());
        let company = config.company().map_or("(none)".to_owned(), |id| {
            companies
                .iter()
                .find(|c| &c.sys_id == id)
                .map_or_else(|| id.to_string(), |c| c.name.trim().to_owned())
        });
        let mappings: Vec<&str> = config
            .ci_mappings()
            .iter()
            .map(CiMappingName::as_str)
            .collect();
        println!(
            "{:>3}  {:<25} {:<9} {:<27} {:<7} {:<9} {:<9} {}",
            config.organization(),
            name,
            config.status().label(),
            company,
            if config.customer_account().is_some() {
                "yes"
            } else {
                "-"
            },
            if mappings.is_empty() {
                "-".to_owned()
            } else {
                mappings.join(",")
            },
            if config.allow_incidents() {
                "allowed"
            } else {
                "-"
            },
            config.status_reason().unwrap_or("")
        );
    }
    Ok(())
}

async fn print_audit(sync: &OrganizationSync, actor: &Actor) -> Result<(), Box<dyn Error>> {
    let entries = sync.audit(actor, &AuditFilter::all()).await?;
    let refused = entries
        .iter()
        .filter(|e| matches!(e.outcome, AuditOutcome::Refused(_)))
        .count();
    println!(
        "\n== Audit log: {} entries ({refused} refusals); the people's entries:",
        entries.len()
    );
    for entry in entries.iter().filter(|e| !e.actor.starts_with("system:")) {
        let what = match &entry.outcome {
            AuditOutcome::Applied => "applied".to_owned(),
            AuditOutcome::Refused(reason) => format!("refused: {reason}"),
        };
        let org = entry
            .organization
            .map_or(String::new(), |o| format!(" org {o}"));
        println!(
            "  #{:<3} {} {:<6} {:?}{org}: {what}",
            entry.seq,
            entry.at.format("%H:%M"),
            entry.actor,
            entry.action
        );
    }
    Ok(())
}

/// Everything the demo's steps share.
struct Demo {
    sync: OrganizationSync,
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    clock: ManualClock,
    alice: Actor,
    bob: Actor,
    carol: Actor,
}

impl Demo {
    fn company_of(&self, name: &str) -> Result<SysId, Box<dyn Error>> {
        Ok(self
            .snow
            .all_companies()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.sys_id)
            .ok_or_else(|| format!("no company {name:?}"))?)
    }
}

/// Inactive mode: people add organizations by hand.
async fn inactive_mode(demo: &Demo) -> Result<(), Box<dyn Error>> {
    let Demo {
        sync,
        snow,
        clock,
        alice,
        bob,
        carol,
        ..
    } = demo;
    let company_of = |name: &str| demo.company_of(name);
    println!("\n== Inactive mode: organizations are added by hand");
    sync.set_mode(alice, IntegrationMode::Inactive).await?;
    println!(
        "can_add(alice) = {} (the \"Add\" button is shown)",
        sync.can_add(alice).await?
    );
    let mut servers = CiMapping::new("servers".parse()?);
    servers.set_rule("9".parse()?, "cmdb_ci_win_server".parse()?);
    servers.set_rule("11".parse()?, "cmdb_ci_linux_server".parse()?);
    sync.put_ci_mapping(alice, servers).await?;

    let added = sync
        .add(
            alice,
            ConfigDraft::new(org_id(1)?, company_of(&customer_name(1))?)
                .ci_mapping("servers".parse()?)
                .allow_incidents(true),
        )
        .await?;
    println!("alice: {}", added.confirmation);
    let account = snow
        .all_customer_accounts()
        .first()
        .map(|a| a.sys_id.clone())
        .ok_or("no customer account")?;
    let added = sync
        .add(
            bob,
            ConfigDraft::new(org_id(2)?, company_of(&customer_name(2))?).customer_account(account),
        )
        .await?;
    println!("bob:   {}", added.confirmation);
    for (who, actor, org) in [("bob", &bob, 9), ("carol", &carol, 3)] {
        let draft = ConfigDraft::new(org_id(org)?, company_of(&customer_name(3))?);
        if let Err(refused) = sync.add(actor, draft).await {
            println!("{who}: refused: {refused}");
        }
    }
    let bad = ConfigDraft::new(org_id(3)?, company_of(&customer_name(1))?)
        .ci_mapping("workstations".parse()?);
    if let Err(refused) = sync.add(alice, bad).await {
        println!("alice: refused: {refused}");
    }

    clock.advance(chrono::Duration::minutes(5));
    let report = sync.run_once(ApplyMode::Apply).await?;
    print_report("Pass 1 (inactive mode)", &report);

    Ok(())
}

/// Active mode: every organization is synced.
async fn active_mode(demo: &Demo) -> Result<(), Box<dyn Error>> {
    let Demo {
        sync,
        ninja,
        snow,
        clock,
        alice,
        ..
    } = demo;
    let company_of = |name: &str| demo.company_of(name);
    println!("\n== Active mode: every organization is synced automatically");
    sync.set_mode(alice, IntegrationMode::Active).await?;
    let draft = ConfigDraft::new(org_id(5)?, company_of(&customer_name(1))?);
    if let Err(refused) = sync.add(alice, draft).await {
        println!("alice: add refused: {refused}");
    }
    clock.advance(chrono::Duration::minutes(5));
    let dry = sync.run_once(ApplyMode::DryRun).await?;
    println!("\n-- Dry run: the plan, nothing written");
    for item in dry.plan.iter().flat_map(|plan| &plan.items) {
        println!(
            "  org {:>2} {:<25} {}",
            item.organization,
            item.organization_name.as_deref().unwrap_or("?"),
            item.decision
        );
    }
    ninja.faults().reset_counts();
    snow.faults().reset_counts();
    let report = sync.run_once(ApplyMode::Apply).await?;
    print_report("Pass 2 (active mode)", &report);
    println!(
        "\nrequests: NinjaOne organizations x{}, ServiceNow companies x{}, companies created {}; \
         no request per organization",
        ninja.faults().calls(NinjaOneMethod::Organizations),
        snow.faults().calls(ServiceNowMethod::Companies),
        snow.faults().writes_of(ServiceNowMethod::CreateCompany)
    );

    Ok(())
}

/// A person resolves the ambiguity; renames on either side keep the mapping; an idle pass.
async fn people_and_renames(demo: &Demo) -> Result<(), Box<dyn Error>> {
    let Demo {
        sync,
        snow,
        clock,
        alice,
        ..
    } = demo;
    let company_of = |name: &str| demo.company_of(name);
    println!("\n== A person maps the ambiguous organization; a company is renamed");
    let six = org_id(6)?;
    let chosen = snow
        .all_companies()
        .into_iter()
        .find(|c| c.name == customer_name(6) && c.customer)
        .ok_or("no customer company for organization 6")?;
    sync.update(
        alice,
        six,
        ninjaone_servicenow::engine::ConfigChanges::new().company(chosen.sys_id),
    )
    .await?;
    sync.resume(alice, six).await?;
    let renamed = company_of(&customer_name(1))?;
    snow.rename_company(&renamed, "Contoso Dental Group");
    clock.advance(chrono::Duration::minutes(5));
    let report = sync.run_once(ApplyMode::Apply).await?;
    print_report("Pass 3", &report);
    for drift in report.plan.iter().flat_map(|plan| &plan.drift) {
        println!(
            "drift: organization {} is {:?} in NinjaOne, its company is {:?} in ServiceNow (kept)",
            drift.organization, drift.organization_name, drift.company_name
        );
    }

    clock.advance(chrono::Duration::minutes(5));
    let before = snow.faults().writes();
    let report = sync.run_once(ApplyMode::Apply).await?;
    println!(
        "\n== Pass 4: nothing changed, so nothing is written: {} remote writes ({} before, {} after)",
        report.remote_writes,
        before,
        snow.faults().writes()
    );

    Ok(())
}
