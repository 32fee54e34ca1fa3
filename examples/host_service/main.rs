//! A host service that embeds the library from its documentation: its own tables
//! ([`tables`]), a [`ConfigStore`](ninjaone_servicenow::ports::ConfigStore) over them
//! ([`store`]), and the "Organization Sync" screen and "Add organization" dialog built from the
//! service API ([`screen`]), each step printed with the remote requests it made.
//!
//! ```text
//! cargo run --example host_service --features test-util
//! cargo test --example host_service --features test-util
//! ```
//!
//! The tenant: 10 NinjaOne organizations, 10,000 ServiceNow companies (the first ten named as
//! the organizations). Four are added by hand through the dialog's suggestions and one pass runs;
//! then the screen is listed and the dialog opened cold, warm, and searched per keystroke.

mod screen;
mod store;
mod tables;

use std::error::Error;

use ninjaone_servicenow::model::SyncStatus;

use screen::{Host, open_add_dialog, organization_sync_screen};

/// Organizations in NinjaOne.
const ORGANIZATIONS: usize = 10;
/// Companies in ServiceNow.
const COMPANIES: usize = 10_000;
/// Organizations added before the screen is shown.
const ADDED: usize = 4;
/// What the person has typed into the company search box, at a few of the keystrokes.
const TYPED: [&str; 5] = [
    "f",
    "fab",
    "fabrikam",
    "fabrikam legal",
    "fabrikam legal 0002",
];

fn main() -> Result<(), Box<dyn Error>> {
    futures::executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    let host = Host::new(ORGANIZATIONS, COMPANIES);
    println!(
        "== Tenant: {ORGANIZATIONS} NinjaOne organizations, {COMPANIES} ServiceNow companies, \
         the host's own tables"
    );
    let (added, setup) = host.measure(host.add_first(ADDED)).await;
    added?;
    println!("added {ADDED} organizations and ran a pass: {setup}");
    let (paused, cost) = host.measure(host.pause_one()).await;
    println!("paused {}: {cost}", paused?);

    let (rows, cost) = host.measure(organization_sync_screen(&host)).await;
    let rows = rows?;
    println!("\n== Organization Sync screen (list: {cost})");
    println!(
        "{:<24} {:<24} {:<10} reason",
        "organization", "company", "status"
    );
    for row in &rows {
        println!(
            "{:<24} {:<24} {:<10} {}",
            row.organization_name, row.company_name, row.status, row.reason
        );
    }
    let active = host
        .store
        .with_tables(|t| t.organizations_with_status(SyncStatus::Active))?;
    let first_company = host.first_company().await?;
    let holders = host
        .store
        .with_tables(|t| t.organizations_with_company(&first_company))?;
    println!(
        "(the host's own indexes, read without the library: {} active rows; company {first_company} \
         held by organization {holders:?})",
        active.len()
    );

    host.sync.invalidate_company_directory();
    let (cold, cold_cost) = host.measure(open_add_dialog(&host)).await;
    let (view, _) = cold?;
    println!("\n== Add dialog, cold open: {cold_cost}");
    println!(
        "{} free organizations, CI mappings {:?}, {} companies to search",
        view.organizations.len(),
        view.ci_mappings,
        view.companies
    );
    for (organization, suggested) in &view.organizations {
        println!(
            "  {organization:<24} suggested: {}",
            suggested.as_deref().unwrap_or("—")
        );
    }
    let (warm, warm_cost) = host.measure(open_add_dialog(&host)).await;
    let (_, directory) = warm?;
    println!("== Add dialog, warm open: {warm_cost}");
    println!("== Company search, per keystroke:");
    for typed in TYPED {
        let (matches, cost) = host
            .measure(async { directory.search_companies(typed, 3) })
            .await;
        let names: Vec<String> = matches
            .iter()
            .map(|m| match m.taken_by() {
                Some(holder) => format!("{} (taken by {holder})", m.name()),
                None => m.name().to_owned(),
            })
            .collect();
        println!("  {typed:<20} {cost}: {}", names.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HostStore;
    use ninjaone_servicenow::model::OrganizationId;
    use ninjaone_servicenow::testing::store_contract;

    #[test]
    fn the_host_store_over_its_own_tables_passes_the_store_contract() {
        futures::executor::block_on(store_contract(&HostStore::new()));
    }

    #[test]
    fn a_row_with_an_unknown_status_reads_as_corrupt_and_is_kept() -> Result<(), Box<dyn Error>> {
        use ninjaone_servicenow::ports::{ConfigStore, StoreErrorKind};
        futures::executor::block_on(async {
            let host = Host::new(2, 2);
            host.add_first(1).await?;
            let organization = OrganizationId::new(1)?;
            host.store.with_tables_mut(|t| {
                if let Some(row) = t.sync_configs.get_mut(&organization.get()) {
                    row.status = "archived".to_owned(); // written by a newer host version
                }
            })?;
            let err = host
                .store
                .config(organization)
                .await
                .err()
                .ok_or("a corrupt row must not read")?;
            assert_eq!(err.kind(), StoreErrorKind::Corrupt);
            assert!(err.to_string().contains("archived"), "{err}");
            let kept = host.store.with_tables(|t| {
                t.sync_configs
                    .get(&organization.get())
                    .map(|r| r.status.clone())
            })?;
            assert_eq!(
                kept.as_deref(),
                Some("archived"),
                "the row is left for a person to fix"
            );
            Ok(())
        })
    }

    #[test]
    fn the_screen_and_the_add_dialog_cost_what_the_docs_say() -> Result<(), Box<dyn Error>> {
        futures::executor::block_on(async {
            let host = Host::new(ORGANIZATIONS, COMPANIES);
            host.add_first(ADDED).await?;
            let paused = host.pause_one().await?;

            // The screen: one store read, no remote request, names on every row.
            let (rows, cost) = host.measure(organization_sync_screen(&host)).await;
            let rows = rows?;
            assert_eq!(cost.total(), 0, "the list view makes no remote request");
            assert_eq!(rows.len(), ADDED);
            for row in &rows {
                assert_ne!(row.company_name, "—", "{row:?} has its company's name");
                assert!(
                    row.organization_name.contains(' '),
                    "{row:?} has its organization's name"
                );
            }
            // The rows went through the host's columns and indexes.
            let by_status = host
                .store
                .with_tables(|t| t.organizations_with_status(SyncStatus::Active))?;
            assert_eq!(
                by_status.len(),
                ADDED - 1,
                "the pass made them active, one is paused"
            );
            let paused_row = rows
                .iter()
                .find(|r| r.organization == paused)
                .ok_or("the paused row is listed")?;
            assert_eq!(paused_row.status, "inactive");
            assert_eq!(paused_row.reason, "paused by alice");
            let company = host.first_company().await?;
            let holders = host
                .store
                .with_tables(|t| t.organizations_with_company(&company))?;
            assert_eq!(holders.len(), 1, "one configuration holds {company}");

            // Cold open: 1 organization page + 1 CSM detection + 11 company pages.
            host.sync.invalidate_company_directory();
            let (cold, cost) = host.measure(open_add_dialog(&host)).await;
            let (view, _) = cold?;
            assert_eq!(cost.ninjaone, 1);
            assert_eq!(cost.servicenow, 12);
            assert_eq!(cost.total(), 13, "the docs' cold open for 10 and 10,000");
            assert_eq!(view.organizations.len(), ORGANIZATIONS - ADDED);
            assert!(
                view.organizations.iter().all(|(_, s)| s.is_some()),
                "every free organization has a company of its name: {view:?}"
            );
            assert_eq!(view.companies, COMPANIES);
            assert_eq!(view.ci_mappings, ["servers"]);

            // Warm open: the organization page only.
            let (warm, cost) = host.measure(open_add_dialog(&host)).await;
            let (_, directory) = warm?;
            assert_eq!(cost.total(), 1, "the docs' warm open");

            // Per keystroke: nothing, and the taken company is marked.
            let (matches, cost) = host
                .measure(async {
                    TYPED
                        .iter()
                        .map(|typed| directory.search_companies(typed, 3))
                        .collect::<Vec<_>>()
                })
                .await;
            assert_eq!(cost.total(), 0, "no request per keystroke");
            let last = matches.last().ok_or("no search ran")?;
            let first = last.first().ok_or("no match for the typed name")?;
            assert!(first.name().starts_with("Fabrikam"), "{first:?}");
            assert_eq!(
                first.taken_by().map(OrganizationId::get),
                Some(2),
                "organization 2 took Fabrikam Legal 0002"
            );
            Ok(())
        })
    }
}
