//! A tenant for the incident router's tests: fakes of both sides, a memory store with one
//! active configuration per organization (mapped to the company of the same name, incidents
//! allowed), a manual clock and a router.

#![allow(dead_code, clippy::unused_self)] // each test file uses its own part

use std::sync::Arc;

use chrono::TimeDelta;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    IntegrationMode, OrganizationId, SyncConfig, SyncStatus, SysId, TicketKind,
};
use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, Faults, fixed_time};

pub const INTEGRATION: &str = "test";

pub struct World {
    pub ninja: FakeNinjaOne,
    pub snow: FakeServiceNow,
    pub store: Arc<MemoryStore>,
    pub clock: ManualClock,
    pub faults: Faults,
}

/// `orgs` organizations with `devices` devices each and `alerts` alerts spread over the
/// devices; every organization has an active configuration that allows incidents.
pub fn world(orgs: usize, devices: usize, alerts: usize) -> World {
    let faults = Faults::new();
    let ninja = FakeNinjaOne::builder()
        .organizations(orgs)
        .roles_standard()
        .devices_per_organization(devices)
        .alerts(alerts)
        .faults(faults.clone())
        .build();
    let snow = FakeServiceNow::builder()
        .companies(orgs)
        .faults(faults.clone())
        .build();
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(fixed_time() + TimeDelta::hours(1));
    let w = World {
        ninja,
        snow,
        store,
        clock,
        faults,
    };
    futures::executor::block_on(async {
        w.store
            .set_mode(IntegrationMode::Inactive)
            .await
            .expect("mode");
        let companies = w.snow.all_companies();
        for (i, company) in companies.iter().enumerate() {
            let org = OrganizationId::new(u32::try_from(i + 1).unwrap()).unwrap();
            w.store
                .write_config(config(
                    org,
                    Some(company.sys_id.clone()),
                    SyncStatus::Active,
                    true,
                ))
                .await
                .expect("config");
        }
    });
    w
}

/// A configuration of `org` in `status` (reached through the status machine).
pub fn config(
    org: OrganizationId,
    company: Option<SysId>,
    status: SyncStatus,
    allow: bool,
) -> SyncConfig {
    let now = fixed_time();
    let mut c = SyncConfig::new(org, company, now);
    c.set_allow_incidents(allow);
    let events: &[SyncEvent] = match status {
        SyncStatus::Pending => &[],
        SyncStatus::InQueue => &[SyncEvent::Enqueue],
        SyncStatus::Active => &[SyncEvent::Enqueue, SyncEvent::Succeeded],
        SyncStatus::Inactive => &[SyncEvent::Deactivate],
        SyncStatus::Deleted => &[SyncEvent::Delete],
        other => panic!("no way to seed {other:?} yet"),
    };
    for event in events {
        c.apply(*event, Some("test"), now).expect("transition");
    }
    assert_eq!(c.status(), status);
    c
}

impl World {
    pub fn settings(&self) -> IncidentSettings {
        IncidentSettings::new(INTEGRATION).expect("valid id")
    }

    pub fn router(&self) -> IncidentRouter {
        self.router_with(self.settings())
    }

    pub fn router_with(&self, settings: IncidentSettings) -> IncidentRouter {
        IncidentRouter::new(
            Ports::new(
                Arc::new(self.ninja.clone()),
                Arc::new(self.snow.clone()),
                self.store.clone(),
                Arc::new(self.clock.clone()),
            ),
            settings,
        )
    }

    /// Rewrites organization `org`'s configuration with `change`.
    pub fn edit(&self, org: u32, change: impl FnOnce(&mut SyncConfig)) {
        futures::executor::block_on(async {
            let org = OrganizationId::new(org).unwrap();
            let mut c = self.store.config(org).await.unwrap().expect("configured");
            change(&mut c);
            self.store.write_config(c).await.expect("saved");
        });
    }

    /// Maps a customer account to organization `org` and switches it to cases.
    pub fn use_cases(&self, org: u32) -> SysId {
        let account = self.snow.add_customer_account(format!("Account of {org}"));
        let id = account.clone();
        self.edit(org, |c| {
            c.set_customer_account(Some(id));
            c.set_tickets(TicketKind::Case);
        });
        account
    }

    /// Correlation ids of every incident, with how many incidents carry each.
    pub fn incident_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for i in self.snow.all_incidents() {
            *counts
                .entry(i.correlation_id.unwrap_or_default())
                .or_insert(0) += 1;
        }
        counts
    }
}
