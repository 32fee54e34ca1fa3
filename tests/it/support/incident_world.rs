//! The incident router's tenant: one active configuration per organization (mapped to the company of the same name, incidents allowed), both fakes sharing one `Faults`.

#![allow(dead_code)] // each test file uses its own part

use chrono::TimeDelta;
use ninjaone_servicenow::model::{IntegrationMode, SysId, TicketKind};
use ninjaone_servicenow::testing::fixed_time;

pub use super::world::{INTEGRATION, World, config};

/// `orgs` organizations with `devices` devices each and `alerts` alerts spread over the
/// devices; every organization has an active configuration that allows incidents.
pub fn world(orgs: usize, devices: usize, alerts: usize) -> World {
    World::builder()
        .organizations(orgs)
        .roles_standard()
        .devices_per_organization(devices)
        .alerts(alerts)
        .companies(orgs)
        .shared_faults()
        .start(fixed_time() + TimeDelta::hours(1))
        .stored_mode(IntegrationMode::Inactive)
        .incident_configs()
        .build()
}

impl World {
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
