//! Configuration items: the sync pass pushes the devices of active configurations with CI
//! mappings into the CMDB — request counts, values, unchanged devices, skips, per-item errors,
//! failed batches, dry runs, record upkeep.

use ninjaone_servicenow::testing::ids::{org, role};
use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::setup::Setup;
use futures::executor::block_on;
use ninjaone_servicenow::engine::{
    ApplyMode, CiReport, ConfigDraft, EngineOptions, FailureKind, NextRun, Report, Stop,
};
use ninjaone_servicenow::model::{
    CiMapping, CiOperation, CiRecord, Device, DeviceId, IntegrationMode, SyncStatus, SysId,
};
use ninjaone_servicenow::plan::{CiSkipReason, CmdbSettings, Policy};
use ninjaone_servicenow::ports::{ApiErrorKind, ConfigStore, Remote, ServiceNowApi};

use crate::support::world::World;
use ninjaone_servicenow::testing::{FakeServiceNow, customer_name, fixed_time};

mod failures;
mod guard_review;
mod identity;
mod requests;
mod skips;

// ---- harness ----

/// Devices per organization: one of each standard role (1, 2, 9, 10, 11, 13, 15).
const PER_ORG: usize = 7;
/// Of those, mapped by [`all_mapping`]: roles 1, 2, 9, 11, 13 (10 Mac and 15 Linux
/// Workstation are not).
const MAPPED_PER_ORG: usize = 5;

fn mapping(name: &str, rules: &[(u32, &str)]) -> CiMapping {
    let mut m = CiMapping::new(name.parse().expect("a valid mapping name"));
    for (r, class) in rules {
        m.set_rule(role(*r), class.parse().expect("a valid class"));
    }
    m
}

/// Desktops, laptops, Windows and Linux servers and ESXi hosts; not Macs or Linux workstations.
fn all_mapping() -> CiMapping {
    mapping(
        "all",
        &[
            (1, "cmdb_ci_computer"),
            (2, "cmdb_ci_computer"),
            (9, "cmdb_ci_win_server"),
            (11, "cmdb_ci_linux_server"),
            (13, "cmdb_ci_esx_server"),
        ],
    )
}

/// `orgs` organizations with [`PER_ORG`] devices each, the same companies, the mapping
/// "all", inactive mode (organizations are added by hand).
fn world(orgs: usize, setup: impl Into<Setup>) -> World {
    World::builder()
        .organizations(orgs)
        .roles_standard()
        .devices_per_organization(PER_ORG)
        .companies(orgs)
        .setup(setup)
        .mode(IntegrationMode::Inactive)
        .ci_mapping(all_mapping())
        .build()
}

impl World {
    /// Adds a configuration for organization `n` with its company and `mappings`.
    fn add(&self, n: u32, mappings: &[&str]) {
        let draft = mappings
            .iter()
            .fold(ConfigDraft::new(org(n), self.company(n)), |draft, name| {
                draft.ci_mapping(name.parse().expect("a valid mapping name"))
            });
        block_on(self.sync.add(&self.admin, draft)).expect("add a configuration");
    }

    fn add_all(&self, orgs: u32) {
        for n in 1..=orgs {
            self.add(n, &["all"]);
        }
    }

    fn records(&self) -> Vec<CiRecord> {
        block_on(self.store.ci_records()).expect("read the CI records")
    }

    fn record(&self, device: DeviceId) -> Option<CiRecord> {
        self.records().into_iter().find(|r| r.device == device)
    }

    fn reconcile_calls(&self) -> usize {
        self.snow
            .faults()
            .calls(ServiceNowMethod::IdentifyReconcile)
    }

    fn dry_run_calls(&self) -> usize {
        self.snow
            .faults()
            .calls(ServiceNowMethod::IdentifyReconcileQuery)
    }

    fn listing_calls(&self) -> usize {
        self.ninja.faults().calls(NinjaOneMethod::DevicesDetailed)
    }

    /// The devices of organization `n`, by id.
    fn devices_of(&self, n: u32) -> Vec<Device> {
        self.ninja
            .all_devices()
            .into_iter()
            .filter(|d| d.organization_id == org(n))
            .collect()
    }

    /// A device of organization `n` with role `r`.
    fn device_with_role(&self, n: u32, r: u32) -> Device {
        self.devices_of(n)
            .into_iter()
            .find(|d| d.node_role_id == Some(role(r)))
            .expect("a device with that role")
    }
}

fn cmdb(report: &Report) -> &CiReport {
    report.ci.as_ref().expect("the pass reports its CMDB step")
}

fn policy(page: u32, batch: usize) -> (Policy, EngineOptions) {
    (
        Policy::builder()
            .cmdb(CmdbSettings::builder().batch_size(batch))
            .build(),
        EngineOptions::builder().page_size(page).build(),
    )
}

/// `"name" = name, "company" = company` (and a serial when given) for a CI added by hand.
fn ci_values(name: &str, company: &SysId, serial: Option<&str>) -> BTreeMap<String, String> {
    let mut values = BTreeMap::from([
        ("name".to_owned(), name.to_owned()),
        ("company".to_owned(), company.as_str().to_owned()),
    ]);
    if let Some(serial) = serial {
        values.insert("serial_number".to_owned(), serial.to_owned());
    }
    values
}
