//! Unit tests of the pass's reads: the one ticket listing a pass and a delivery share.

use std::sync::Arc;

use crate::clock::ManualClock;
use crate::engine::ApplyMode;
use crate::engine::incidents::{IncidentRouter, IncidentSettings};
use crate::machine::SyncEvent;
use crate::model::{IntegrationMode, OrganizationId, SyncConfig, TicketKind};
use crate::ports::{ConfigStore, IncidentQuery, PageRequest, Ports};
use crate::store::MemoryStore;
use crate::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};

/// A router whose first pass created two incidents; CSM installed, no case.
async fn router_with_two_incidents() -> (IncidentRouter, FakeServiceNow) {
    let ninja = FakeNinjaOne::builder()
        .organizations(1)
        .devices_per_organization(1)
        .alerts(2)
        .build();
    let snow = FakeServiceNow::builder().companies(1).build();
    let store = MemoryStore::new();
    store.set_mode(IntegrationMode::Inactive).await.unwrap();
    let company = snow.all_companies()[0].sys_id.clone();
    let mut config = SyncConfig::new(OrganizationId::new(1).unwrap(), Some(company), fixed_time());
    config.set_allow_incidents(true);
    config
        .apply(SyncEvent::Enqueue, None, fixed_time())
        .unwrap();
    config
        .apply(SyncEvent::Succeeded, None, fixed_time())
        .unwrap();
    store.write_config(config).await.unwrap();
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(ninja),
            Arc::new(snow.clone()),
            Arc::new(store),
            Arc::new(ManualClock::new(fixed_time())),
        ),
        IncidentSettings::new("acme").unwrap(),
    );
    let report = router.run_once(ApplyMode::Apply).await.unwrap();
    assert_eq!(report.created, 2);
    snow.set_customer_service_management(true);
    (router, snow)
}

#[test]
fn the_shared_listing_reads_each_kind_from_its_own_table_every_page_and_only_this_integration() {
    futures::executor::block_on(async {
        let (router, snow) = router_with_two_incidents().await;
        let query = IncidentQuery::with_prefix(router.settings().prefix().clone());

        let before = snow.faults().total_calls();
        let incidents = router
            .listed_tickets(TicketKind::Incident, &query, PageRequest::first(1), 10)
            .await
            .unwrap();
        assert_eq!(
            incidents.items.len(),
            2,
            "both incidents, over pages of one"
        );
        assert!(
            incidents
                .items
                .iter()
                .all(|t| t.kind == TicketKind::Incident)
        );
        assert!(incidents.pages >= 2);
        assert_eq!(snow.faults().total_calls() - before, incidents.pages);

        let before = snow.faults().total_calls();
        let cases = router
            .listed_tickets(TicketKind::Case, &query, PageRequest::first(1), 10)
            .await
            .unwrap();
        assert!(
            cases.items.is_empty(),
            "the incidents are not listed as cases"
        );
        assert_eq!(snow.faults().total_calls() - before, cases.pages);

        let other = IncidentSettings::new("other").unwrap();
        let foreign = router
            .listed_tickets(
                TicketKind::Incident,
                &IncidentQuery::with_prefix(other.prefix().clone()),
                PageRequest::first(10),
                10,
            )
            .await
            .unwrap();
        assert!(
            foreign.items.is_empty(),
            "another integration's query lists none of ours"
        );
    });
}
