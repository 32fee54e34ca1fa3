//! Configuration items: the sync pass pushes the devices of active configurations with CI
//! mappings into the CMDB — request counts, values, unchanged devices, skips, per-item errors,
//! failed batches, dry runs, record upkeep.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::setup::Setup;
use futures::executor::block_on;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, CiReport, ConfigDraft, EngineOptions, FailureKind, NextRun, OrganizationSync,
    Report, Stop, StoppedReport, SyncError,
};
use ninjaone_servicenow::model::{
    CiMapping, CiOperation, CiRecord, Device, DeviceId, DeviceRoleId, IntegrationMode,
    OrganizationId, SyncStatus, SysId,
};
use ninjaone_servicenow::plan::{CiSkipReason, CmdbSettings, Policy};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{ApiErrorKind, ConfigStore, Remote, ServiceNowApi};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, customer_name, fixed_time};

// ---- harness ----

/// Devices per organization: one of each standard role (1, 2, 9, 10, 11, 13, 15).
const PER_ORG: usize = 7;
/// Of those, mapped by [`all_mapping`]: roles 1, 2, 9, 11, 13 (10 Mac and 15 Linux
/// Workstation are not).
const MAPPED_PER_ORG: usize = 5;

fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).expect("a valid organization id")
}

fn role(n: u32) -> DeviceRoleId {
    DeviceRoleId::new(n).expect("a valid role id")
}

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

struct World {
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    store: MemoryStore,
    sync: OrganizationSync,
    admin: Actor,
}

impl World {
    /// `orgs` organizations with [`PER_ORG`] devices each, the same companies, the mapping
    /// "all", inactive mode (organizations are added by hand).
    fn new(orgs: usize, setup: impl Into<Setup>) -> Self {
        let setup = setup.into();
        let ninja = FakeNinjaOne::builder()
            .organizations(orgs)
            .roles_standard()
            .devices_per_organization(PER_ORG)
            .build();
        let snow = FakeServiceNow::builder().companies(orgs).build();
        let store = MemoryStore::new();
        let sync = OrganizationSync::new(Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::new(store.clone()),
            Arc::new(ManualClock::new(fixed_time())),
        ))
        .policy(setup.policy)
        .options(setup.options);
        let admin = Actor::administrator("alice");
        block_on(async {
            sync.set_mode(&admin, IntegrationMode::Inactive)
                .await
                .expect("set the mode");
            store
                .put_ci_mapping(all_mapping())
                .await
                .expect("store a mapping");
        });
        Self {
            ninja,
            snow,
            store,
            sync,
            admin,
        }
    }

    /// The sys_id of the company named after organization `n`.
    fn company(&self, n: u32) -> SysId {
        let name = customer_name(n as usize);
        self.snow
            .all_companies()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.sys_id)
            .expect("the organization's company exists")
    }

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

    /// A pass's report; a stop by refused credentials is an `Err` carrying it.
    fn pass(&self, mode: ApplyMode) -> Report {
        match block_on(self.sync.run_once(mode)) {
            Ok(report) => report,
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                other => panic!("a sync report, not {other:?}"),
            },
            Err(err) => panic!("a pass: {err}"),
        }
    }

    fn run(&self) -> Report {
        self.pass(ApplyMode::Apply)
    }

    fn records(&self) -> Vec<CiRecord> {
        block_on(self.store.ci_records()).expect("read the CI records")
    }

    fn record(&self, device: DeviceId) -> Option<CiRecord> {
        self.records().into_iter().find(|r| r.device == device)
    }

    fn reset_counts(&self) {
        self.ninja.faults().reset_counts();
        self.snow.faults().reset_counts();
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

// ---- request counts and values ----

#[test]
fn devices_are_listed_in_pages_and_sent_in_batches_with_the_company() {
    let w = World::new(12, policy(10, 25));
    w.add_all(12);
    w.reset_counts();

    let report = w.run();
    let ci = cmdb(&report);
    let devices = 12 * PER_ORG; // 84
    let items = 12 * MAPPED_PER_ORG; // 60
    // Tenant-wide paging of the detailed listing, once: ceil(84 / 10) pages; never per
    // organization or device.
    assert_eq!(w.listing_calls(), devices.div_ceil(10));
    assert_eq!(w.ninja.faults().calls(NinjaOneMethod::Devices), 0);
    assert_eq!(
        w.ninja.faults().calls(NinjaOneMethod::OrganizationDevices),
        0
    );
    // Every device is new: one dry run per batch first, then one write per batch: ceil(60 / 25).
    assert_eq!(w.dry_run_calls(), items.div_ceil(25));
    assert_eq!((ci.dry_runs, ci.checked), (3, items));
    // Nothing would update an existing CI, so no owner is read.
    assert_eq!(
        (
            w.snow.faults().calls(ServiceNowMethod::CiOwners),
            ci.owner_queries
        ),
        (0, 0)
    );
    assert_eq!(w.reconcile_calls(), items.div_ceil(25));
    assert_eq!(ci.batches, 3);
    assert_eq!(ci.devices_listed, devices);
    assert_eq!(ci.organizations, 12);
    assert_eq!((ci.to_send, ci.sent, ci.inserted), (items, items, items));
    assert_eq!((ci.updated, ci.no_change, ci.unchanged), (0, 0, 0));
    assert_eq!(
        ci.skipped,
        BTreeMap::from([(CiSkipReason::UnmappedRole, 12 * 2)])
    );
    assert!(ci.failed.is_empty() && ci.failed_batches.is_empty());
    assert_eq!(ci.data_source, "NinjaOne");
    assert_eq!(report.remote_writes, 3);
    assert!(report.stop.is_none());

    // Every CI carries its organization's company and the data source, and the values the
    // device has.
    let cis = w.snow.cis();
    assert_eq!(cis.len(), items);
    let devices_by_name: BTreeMap<String, Device> = w
        .ninja
        .all_devices()
        .into_iter()
        .map(|d| (d.name(), d))
        .collect();
    for stored in &cis {
        let name = &stored.values["name"];
        let device = &devices_by_name[name];
        let company = w.company(device.organization_id.get());
        assert_eq!(stored.values["company"], company.as_str(), "{name}");
        assert_eq!(stored.data_source, "NinjaOne");
        assert_eq!(
            Some(&stored.values["host_name"]),
            device.system_name.as_ref()
        );
        assert_eq!(Some(&stored.values["fqdn"]), device.dns_name.as_ref());
        // The details NinjaOne's own CMDB sync fills, in ServiceNow's units.
        let detail = w
            .ninja
            .device_detailed_row(device.id)
            .expect("a detailed row");
        let serial = detail["system"]["serialNumber"]
            .as_str()
            .or_else(|| detail["serviceTag"].as_str())
            .expect("a serial");
        assert_eq!(stored.values["serial_number"], serial, "{name}");
        let bytes = detail["memory"]["capacity"]
            .as_u64()
            .or_else(|| detail["memorySize"].as_u64())
            .expect("memory");
        assert_eq!(stored.values["ram"], (bytes / (1024 * 1024)).to_string());
        assert!(
            !stored.values.contains_key("manufacturer"),
            "a reference is never a name"
        );
    }

    // The records carry the CI sys_ids the CMDB gave, for the incident router's cmdb_ci.
    let records = w.records();
    assert_eq!(records.len(), items);
    for record in &records {
        let device = w
            .ninja
            .all_devices()
            .into_iter()
            .find(|d| d.id == record.device)
            .expect("a recorded device exists");
        let stored = cis
            .iter()
            .find(|c| Some(&c.sys_id) == record.sys_id.as_ref())
            .expect("the record's sys_id is a CI");
        assert_eq!(stored.values["name"], device.name());
        assert_eq!(stored.class_name, record.class);
        assert_eq!(record.organization, device.organization_id);
    }
}

#[test]
fn the_data_source_is_configurable() {
    let settings = CmdbSettings::builder().data_source("NinjaOne RMM");
    let w = World::new(1, Policy::builder().cmdb(settings).build());
    w.add_all(1);
    let report = w.run();
    assert_eq!(cmdb(&report).data_source, "NinjaOne RMM");
    assert_eq!(cmdb(&report).sent, MAPPED_PER_ORG);
    assert!(w.snow.cis().iter().all(|c| c.data_source == "NinjaOne RMM"));
}

#[test]
fn a_blank_data_source_sends_nothing_and_says_so() {
    let settings = CmdbSettings::builder().data_source("  ");
    let w = World::new(1, Policy::builder().cmdb(settings).build());
    w.add_all(1);
    let report = w.run();
    let problem = cmdb(&report).problem.as_deref().expect("a problem");
    assert!(problem.contains("data source is blank"), "{problem}");
    // The fix names the setter where it is (the builder), not the getter.
    assert!(
        problem.contains("set CmdbSettingsBuilder::data_source"),
        "{problem}"
    );
    assert_eq!(w.reconcile_calls(), 0);
    assert!(w.records().is_empty());
}

// ---- nothing sent twice ----

#[test]
fn a_second_pass_sends_nothing() {
    let w = World::new(4, policy(10, 100));
    w.add_all(4);
    w.run();
    w.reset_counts();

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.reconcile_calls(), 0);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(report.remote_writes, 0);
    assert_eq!((ci.to_send, ci.sent, ci.batches), (0, 0, 0));
    // A steady pass makes no dry run either, and reads no owner.
    assert_eq!((w.dry_run_calls(), ci.dry_runs), (0, 0));
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CiOwners), 0);
    assert_eq!(ci.unchanged, 4 * MAPPED_PER_ORG);
    // The device listing is still one paged walk: ceil(28 / 10).
    assert_eq!(w.listing_calls(), 3);
}

#[test]
fn a_changed_device_is_sent_again_alone() {
    let w = World::new(3, policy(100, 100));
    w.add_all(3);
    w.run();
    let before = w.records();

    // A new DNS name: not part of the identity, so no dry run; the CMDB finds the CI by the
    // source key and updates it.
    let mut moved = w.device_with_role(2, 9);
    moved.dns_name = Some("srv.new-domain.test".to_owned());
    w.ninja.put_device(moved.clone());
    w.reset_counts();
    let report = w.run();
    assert_eq!(w.reconcile_calls(), 1);
    assert_eq!(w.dry_run_calls(), 0);
    let ci = cmdb(&report);
    assert_eq!((ci.sent, ci.updated, ci.inserted), (1, 1, 0));
    assert_eq!(ci.unchanged, 3 * MAPPED_PER_ORG - 1);
    let old = before
        .iter()
        .find(|r| r.device == moved.id)
        .expect("recorded before");
    let new = w.record(moved.id).expect("still recorded");
    assert_eq!(new.sys_id, old.sys_id, "the same CI");
    assert_ne!(new.fingerprint, old.fingerprint);

    // More RAM: sent again, no dry run (the identity is the same).
    w.ninja.set_device_details(
        moved.id,
        serde_json::json!({"system": {"serialNumber": format!("NJ{:08}", moved.id.get())},
                           "memory": {"capacity": 137_438_953_472_u64}}),
    );
    w.reset_counts();
    let report = w.run();
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 1));
    assert_eq!(cmdb(&report).updated, 1);
    let stored = w
        .snow
        .ci(new.sys_id.as_ref().expect("a CI"))
        .expect("the CI");
    assert_eq!(stored.values["ram"], "131072");

    // And then nothing again.
    w.reset_counts();
    w.run();
    assert_eq!(w.reconcile_calls(), 0);
}

// ---- skips ----

#[test]
fn unmapped_and_roleless_devices_are_skipped_with_a_reason() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    w.ninja
        .add_device(org(1), None, "NO-ROLE-1")
        .expect("a device id");
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(
        ci.skipped,
        BTreeMap::from([
            (CiSkipReason::NoRole, 1),
            (CiSkipReason::UnmappedRole, 2 * 2),
        ])
    );
    assert_eq!(ci.skipped_total(), 5);
    assert_eq!(ci.sent, 2 * MAPPED_PER_ORG);
    // The reasons have stable snake_case names for hosts that log or store the report.
    let json = serde_json::to_value(&report).expect("the report serialises");
    assert_eq!(json["ci"]["skipped"]["unmapped_role"], 4);
    assert_eq!(json["ci"]["skipped"]["no_role"], 1);
    assert_eq!(json["ci"]["inserted"], 10);
    // Nothing of the Macs and Linux workstations reached the CMDB.
    let names: Vec<String> = w
        .snow
        .cis()
        .into_iter()
        .map(|c| c.values["name"].clone())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("MAC") && !n.starts_with("LWS")),
        "{names:?}"
    );
}

#[test]
fn a_role_two_mappings_map_differently_is_reported_not_guessed() {
    let w = World::new(1, policy(100, 100));
    block_on(async {
        w.store
            .put_ci_mapping(mapping(
                "pcs",
                &[(1, "cmdb_ci_pc_hardware"), (10, "cmdb_ci_computer")],
            ))
            .await
            .expect("store a mapping");
    });
    w.add(1, &["all", "pcs"]);
    let report = w.run();
    let ci = cmdb(&report);
    // Role 1 is "cmdb_ci_computer" in "all" and "cmdb_ci_pc_hardware" in "pcs": skipped.
    // Role 10 is only in "pcs": sent. Role 15 is in neither.
    assert_eq!(
        ci.skipped,
        BTreeMap::from([
            (CiSkipReason::UnmappedRole, 1),
            (CiSkipReason::ConflictingMappings, 1),
        ])
    );
    let [conflict] = ci.conflicts.as_slice() else {
        panic!("one conflict: {:?}", ci.conflicts);
    };
    assert_eq!((conflict.organization, conflict.role), (org(1), role(1)));
    let classes: Vec<(&str, &str)> = conflict
        .classes
        .iter()
        .map(|(m, c)| (m.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        classes,
        [("all", "cmdb_ci_computer"), ("pcs", "cmdb_ci_pc_hardware")]
    );
    assert_eq!(ci.sent, MAPPED_PER_ORG);
    let mac = w.device_with_role(1, 10);
    assert_eq!(
        w.record(mac.id).map(|r| r.class.to_string()),
        Some("cmdb_ci_computer".to_owned())
    );
}

// ---- per-item errors ----

#[test]
fn per_item_errors_are_reported_per_device_and_retried() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    let bad = w.device_with_role(2, 11);
    w.snow.reject_ci(bad.name(), "the host name is not allowed");

    let report = w.run();
    let ci = cmdb(&report);
    // The dry run already refuses the item: it is not sent.
    assert_eq!(ci.checked, 2 * MAPPED_PER_ORG);
    assert_eq!(ci.sent, 2 * MAPPED_PER_ORG - 1);
    assert_eq!(ci.inserted, 2 * MAPPED_PER_ORG - 1);
    let [failure] = ci.failed.as_slice() else {
        panic!("one failure: {:?}", ci.failed);
    };
    assert_eq!(
        (failure.device, failure.organization, failure.name.as_str()),
        (bad.id, org(2), bad.name().as_str())
    );
    assert_eq!(failure.class.as_str(), "cmdb_ci_linux_server");
    assert!(
        failure.message.contains("INVALID_INPUT_DATA")
            && failure.message.contains("the host name is not allowed"),
        "{}",
        failure.message
    );
    assert!(w.record(bad.id).is_none(), "no record for a refused item");
    assert_eq!(w.records().len(), 2 * MAPPED_PER_ORG - 1);

    // Still refused: the next pass checks that device again, and only that one; its dry run
    // fails, so it is not sent.
    w.reset_counts();
    let report = w.run();
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 0));
    assert_eq!((cmdb(&report).sent, cmdb(&report).failed.len()), (0, 1));

    // Accepted: checked and sent once more, recorded, then left alone.
    w.snow.accept_ci(&bad.name());
    let report = w.run();
    assert_eq!((cmdb(&report).sent, cmdb(&report).inserted), (1, 1));
    assert!(cmdb(&report).failed.is_empty());
    assert!(w.record(bad.id).and_then(|r| r.sys_id).is_some());
    w.reset_counts();
    w.run();
    assert_eq!(w.reconcile_calls(), 0);
}

// ---- which configurations ----

#[test]
fn only_active_configurations_are_pushed() {
    let w = World::new(4, policy(100, 100));
    w.add(1, &["all"]);
    w.add(3, &["all"]);
    w.run();
    assert_eq!(w.records().len(), 2 * MAPPED_PER_ORG);

    // 3 is paused (inactive), 2 is added but stays pending (the company listing fails, so the
    // pass cannot check it), 4 has no configuration. Each gets a new mapped device; so does 1.
    block_on(w.sync.pause(&w.admin, org(3))).expect("pause");
    w.add(2, &["all"]);
    let new: Vec<DeviceId> = (1..=4)
        .map(|n| {
            w.ninja
                .add_device(org(n), Some(role(9)), format!("NEW-SRV-{n}"))
                .expect("a device id")
        })
        .collect();
    w.snow
        .faults()
        .fail_next(ServiceNowMethod::Companies, 1, ApiErrorKind::Transient);
    w.reset_counts();

    let report = w.run();
    let statuses: Vec<Option<SyncStatus>> = (1..=4)
        .map(|n| {
            block_on(w.store.config(org(n)))
                .expect("read")
                .map(|c| c.status())
        })
        .collect();
    assert_eq!(
        statuses,
        [
            Some(SyncStatus::Active),
            Some(SyncStatus::Pending),
            Some(SyncStatus::Inactive),
            None
        ]
    );
    let ci = cmdb(&report);
    assert_eq!(ci.organizations, 1);
    assert_eq!((ci.sent, ci.unchanged), (1, MAPPED_PER_ORG));
    assert_eq!(w.reconcile_calls(), 1);
    assert!(w.record(new[0]).is_some());
    assert!(new[1..].iter().all(|d| w.record(*d).is_none()));
    // The paused organization's records are kept: its devices keep their CI for incidents,
    // and resuming it sends only what changed.
    assert_eq!(
        w.records()
            .iter()
            .filter(|r| r.organization == org(3))
            .count(),
        MAPPED_PER_ORG
    );
    assert!(
        w.snow
            .cis()
            .iter()
            .all(|c| !c.values["name"].starts_with("NEW-SRV-") || c.values["name"] == "NEW-SRV-1")
    );

    // Resumed: only the new device of 3 is sent (and 2, now active, sends everything).
    block_on(w.sync.resume(&w.admin, org(3))).expect("resume");
    w.reset_counts();
    let report = w.run();
    assert_eq!(cmdb(&report).organizations, 3);
    assert_eq!(cmdb(&report).sent, 1 + MAPPED_PER_ORG + 1);
}

#[test]
fn nothing_is_listed_without_active_configurations_with_mappings() {
    let w = World::new(2, policy(100, 100));
    w.add(1, &[]);
    w.add(2, &[]);
    w.reset_counts();
    let report = w.run();
    assert!(report.ci.is_none());
    assert_eq!(w.ninja.faults().calls(NinjaOneMethod::Devices), 0);
    assert_eq!(w.reconcile_calls(), 0);
}

#[test]
fn a_disabled_integration_does_nothing() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    w.run();
    block_on(w.sync.set_mode(&w.admin, IntegrationMode::Disabled)).expect("disable");
    w.ninja
        .add_device(org(1), Some(role(9)), "NEW-SRV")
        .expect("a device id");
    w.reset_counts();
    let report = w.run();
    assert!(report.ci.is_none());
    assert_eq!(w.ninja.faults().total_calls(), 0);
    assert_eq!(w.snow.faults().total_calls(), 0);
}

// ---- dry run ----

#[test]
fn a_dry_run_sends_nothing_and_says_what_it_would_send() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    w.run();
    let records = w.records();
    let cis = w.snow.cis();

    let added = w
        .ninja
        .add_device(org(2), Some(role(11)), "LNX-NEW")
        .expect("a device id");
    let mut changed = w.device_with_role(1, 9);
    changed.dns_name = Some("srv.elsewhere.test".to_owned());
    w.ninja.put_device(changed.clone());
    let gone = w.device_with_role(1, 13);
    w.ninja.remove_device(gone.id);
    w.reset_counts();

    let report = w.pass(ApplyMode::DryRun);
    assert_eq!(w.reconcile_calls(), 0);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(w.records(), records, "a dry run writes no record");
    assert_eq!(w.snow.cis(), cis);
    let ci = cmdb(&report);
    assert_eq!((ci.to_send, ci.sent, ci.batches, ci.removed), (2, 0, 0, 1));
    let planned: Vec<(DeviceId, &str, bool)> = ci
        .planned
        .iter()
        .map(|p| (p.device, p.class.as_str(), p.known.is_some()))
        .collect();
    assert_eq!(
        planned,
        [
            (changed.id, "cmdb_ci_win_server", true),
            (added, "cmdb_ci_linux_server", false)
        ]
    );

    // Applying does what the dry run said.
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!((ci.sent, ci.inserted, ci.updated, ci.removed), (2, 1, 1, 1));
    assert!(ci.planned.is_empty());
    assert!(w.record(gone.id).is_none());
}

// ---- failed batches ----

#[test]
fn a_transient_batch_failure_is_retried_by_the_next_pass() {
    let w = World::new(3, policy(100, 5));
    w.add_all(3);
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::Transient,
    );

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.reconcile_calls(), 3);
    assert_eq!((ci.batches, ci.sent, ci.inserted), (3, 10, 10));
    let [failed] = ci.failed_batches.as_slice() else {
        panic!("one failed batch: {:?}", ci.failed_batches);
    };
    assert_eq!(
        (failed.kind, failed.devices.len()),
        (FailureKind::Transient, 5)
    );
    assert!(failed.devices.iter().all(|d| w.record(*d).is_none()));
    assert_eq!(w.records().len(), 10);
    // The first backoff step (one minute by default).
    assert_eq!(
        report.next_run,
        NextRun::At(fixed_time() + Duration::from_secs(60))
    );

    w.reset_counts();
    let report = w.run();
    assert_eq!(w.reconcile_calls(), 1);
    assert_eq!((cmdb(&report).sent, cmdb(&report).inserted), (5, 5));
    assert_eq!(w.records().len(), 15);
    assert_eq!(report.next_run, NextRun::Regular);
}

#[test]
fn a_rate_limit_defers_the_rest_and_honours_retry_after() {
    let w = World::new(3, policy(100, 5));
    w.add_all(3);
    let wait = Duration::from_secs(600);
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::RateLimited {
            retry_after: Some(wait),
        },
    );

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.reconcile_calls(), 1, "no request after a rate limit");
    assert_eq!((ci.batches, ci.sent, ci.deferred), (1, 0, 10));
    assert_eq!(ci.failed_batches.len(), 1);
    assert_eq!(report.next_run, NextRun::At(fixed_time() + wait));
    assert!(w.records().is_empty());

    w.reset_counts();
    let report = w.run();
    assert_eq!(w.reconcile_calls(), 3);
    assert_eq!(cmdb(&report).sent, 15);
}

#[test]
fn a_timeout_after_commit_is_sent_again_without_a_duplicate() {
    let w = World::new(1, policy(100, 100));
    w.add_all(1);
    w.snow.faults().commit_then_fail(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::Transient,
    );
    let report = w.run();
    assert_eq!(cmdb(&report).failed_batches.len(), 1);
    assert!(w.records().is_empty());
    assert_eq!(w.snow.cis().len(), MAPPED_PER_ORG);

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(
        (ci.sent, ci.no_change, ci.inserted),
        (MAPPED_PER_ORG, MAPPED_PER_ORG, 0)
    );
    assert_eq!(w.snow.cis().len(), MAPPED_PER_ORG, "no CI twice");
    assert_eq!(w.records().len(), MAPPED_PER_ORG);
}

#[test]
fn refused_credentials_stop_the_step() {
    let w = World::new(3, policy(100, 5));
    w.add_all(3);
    // Refused on the first dry run: nothing more is asked, nothing written.
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcileQuery,
        1,
        ApiErrorKind::Forbidden,
    );
    let report = w.run();
    assert!(
        matches!(&report.stop, Some(Stop::Credentials { api, .. }) if *api == Remote::ServiceNow),
        "{:?}",
        report.stop
    );
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 0));
    assert_eq!(cmdb(&report).deferred, 10);
    assert!(w.records().is_empty());

    // Refused on the first write: the rest waits.
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::Forbidden,
    );
    w.reset_counts();
    let report = w.run();
    assert!(matches!(&report.stop, Some(Stop::Credentials { .. })));
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (3, 1));
    assert_eq!(cmdb(&report).deferred, 10);
    assert!(w.records().is_empty());

    // Refused while listing devices: the step stops before sending anything.
    w.ninja.faults().fail_next(
        NinjaOneMethod::DevicesDetailed,
        1,
        ApiErrorKind::Unauthorized,
    );
    w.reset_counts();
    let report = w.run();
    assert!(
        matches!(&report.stop, Some(Stop::Credentials { api, .. }) if *api == Remote::NinjaOne),
        "{:?}",
        report.stop
    );
    assert_eq!(w.reconcile_calls(), 0);
}

#[test]
fn a_failed_device_listing_sends_nothing_and_asks_for_a_retry() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    w.run();
    w.ninja
        .add_device(org(1), Some(role(9)), "NEW-SRV")
        .expect("a device id");
    w.ninja
        .faults()
        .fail_next(NinjaOneMethod::DevicesDetailed, 1, ApiErrorKind::Transient);
    w.reset_counts();
    let report = w.run();
    let problem = cmdb(&report).problem.as_deref().expect("a problem");
    assert!(
        problem.contains("listing NinjaOne devices failed"),
        "{problem}"
    );
    assert_eq!(w.reconcile_calls(), 0);
    assert_eq!(w.records().len(), 2 * MAPPED_PER_ORG, "no record removed");
    assert_eq!(
        report.next_run,
        NextRun::At(fixed_time() + Duration::from_secs(60))
    );
    let report = w.run();
    assert_eq!(cmdb(&report).sent, 1);
}

// ---- records ----

#[test]
fn records_of_gone_devices_and_deleted_configurations_are_removed() {
    let w = World::new(3, policy(100, 100));
    w.add_all(3);
    w.run();
    let cis = w.snow.cis().len();

    let gone = w.device_with_role(1, 9);
    w.ninja.remove_device(gone.id);
    block_on(w.sync.delete(&w.admin, org(3))).expect("delete");
    w.reset_counts();
    let report = w.run();
    assert_eq!(cmdb(&report).removed, 1 + MAPPED_PER_ORG);
    assert!(w.record(gone.id).is_none());
    assert!(w.records().iter().all(|r| r.organization != org(3)));
    assert_eq!(w.records().len(), 3 * MAPPED_PER_ORG - 1 - MAPPED_PER_ORG);
    // Nothing is deleted from the CMDB.
    assert_eq!(w.snow.cis().len(), cis);
    assert_eq!(w.reconcile_calls(), 0);
}

// ---- identity: source key, serial, and the takeover guard ----

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

#[test]
fn a_renamed_device_keeps_its_ci() {
    let w = World::new(1, policy(100, 100));
    w.add_all(1);
    w.run();
    let cis = w.snow.cis().len();
    let mut renamed = w.device_with_role(1, 1);
    let before = w.record(renamed.id).expect("recorded");

    // Without a serial number only the source key can find the CI again.
    w.ninja
        .set_device_details(renamed.id, serde_json::json!({}));
    renamed.display_name = Some("Reception PC".to_owned());
    w.ninja.put_device(renamed.clone());
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    // The name is part of the identity: one dry run, which names the device's own CI, so no
    // owner is read; then one write that updates it.
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 1));
    assert_eq!((ci.checked, ci.owner_queries), (1, 0));
    assert_eq!((ci.sent, ci.updated, ci.inserted), (1, 1, 0));
    let after = w.record(renamed.id).expect("still recorded");
    assert_eq!(after.sys_id, before.sys_id, "the same CI");
    assert_eq!(w.snow.cis().len(), cis, "no second CI");
    let stored = w
        .snow
        .ci(after.sys_id.as_ref().expect("a CI"))
        .expect("the CI");
    assert_eq!(stored.values["name"], "Reception PC");

    w.reset_counts();
    w.run();
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 0));
}

#[test]
fn a_name_fall_through_takes_over_another_companys_ci_without_the_guard_and_not_with_it() {
    let w = World::new(2, policy(100, 100));
    w.add(1, &["all"]);
    let (a, b) = (w.company(1), w.company(2));
    // Customer B already has a domain controller DC01 in the CMDB (another tool's CI).
    let theirs = w.snow.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values("DC01", &b, Some("B-SERIAL-9")),
    );
    // Organization A's new server is also called DC01; its serial number is new to the CMDB.
    let dc01 = w
        .ninja
        .add_device(org(1), Some(role(9)), "DC01")
        .expect("a device id");
    w.ninja.set_device_details(
        dc01,
        serde_json::json!({"system": {"serialNumber": "A-SERIAL-1"}}),
    );

    // Today's behaviour, reproduced on the fakes: the serial misses, the rule falls through to
    // the name, and B's CI is updated and moved to company A.
    let today = FakeServiceNow::new();
    let copied = today.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values("DC01", &b, Some("B-SERIAL-9")),
    );
    let item = ninjaone_servicenow::model::CiItem {
        class_name: "cmdb_ci_win_server".parse().expect("a class"),
        values: ci_values("DC01", &a, Some("A-SERIAL-1")),
        internal_id: Some(format!("ninjaone-device-{dc01}")),
        source: None,
    };
    let answer = block_on(today.identify_reconcile("NinjaOne", &[item])).expect("an answer");
    assert_eq!(answer[0].operation, Some(CiOperation::Update));
    assert_eq!(answer[0].sys_id.as_ref(), Some(&copied));
    assert_eq!(
        today.ci(&copied).expect("the CI").values["company"],
        a.as_str(),
        "taken over"
    );

    // With the guard: the dry run names B's CI, its company is read, and DC01 is not sent.
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(
        w.snow.faults().calls(ServiceNowMethod::CiOwners),
        1,
        "one owner query"
    );
    assert_eq!(ci.owner_queries, 1);
    assert_eq!(ci.skipped.get(&CiSkipReason::HeldBack), Some(&1));
    let [held] = ci.held.as_slice() else {
        panic!("one held device: {:?}", ci.held);
    };
    assert_eq!((held.device, held.name.as_str()), (dc01, "DC01"));
    for part in [
        theirs.as_str(),
        a.as_str(),
        b.as_str(),
        &customer_name(1),
        &customer_name(2),
    ] {
        assert!(held.reason.contains(part), "{part} in {}", held.reason);
    }
    let stored = w.snow.ci(&theirs).expect("B's CI");
    assert_eq!(stored.values["company"], b.as_str(), "B's CI is untouched");
    assert_eq!(stored.values["serial_number"], "B-SERIAL-9");
    // The other devices of A were written; DC01 was not.
    assert_eq!(ci.sent, MAPPED_PER_ORG);
    let record = w.record(dc01).expect("a held record");
    assert_eq!(
        (record.sys_id.as_ref(), record.held.is_some()),
        (None, true)
    );

    // Retried only after its inputs change: the next pass makes no dry run and no write.
    w.reset_counts();
    let report = w.run();
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 0));
    assert_eq!(cmdb(&report).held.len(), 1, "still reported");
    // Other values changing do not release it either.
    w.ninja.set_device_details(
        dc01,
        serde_json::json!({"system": {"serialNumber": "A-SERIAL-1"}, "memory": {"capacity": 1_073_741_824_u64}}),
    );
    w.reset_counts();
    w.run();
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 0));

    // Renamed: checked again, now a new CI of company A; B's CI still untouched.
    let mut device = w
        .ninja
        .all_devices()
        .into_iter()
        .find(|d| d.id == dc01)
        .expect("the device");
    device.display_name = Some("DC01-A".to_owned());
    w.ninja.put_device(device);
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 1));
    assert_eq!((ci.inserted, ci.held.len()), (1, 0));
    let record = w.record(dc01).expect("recorded");
    assert!(record.held.is_none() && record.sys_id.is_some());
    assert_eq!(
        w.snow.ci(&theirs).expect("B's CI").values["company"],
        b.as_str()
    );
}

#[test]
fn an_existing_ci_of_the_same_company_is_adopted_after_one_owner_query() {
    let w = World::new(1, policy(100, 100));
    w.add(1, &["all"]);
    let a = w.company(1);
    // Two of A's servers are already in the CMDB by name (entered by hand, no serial).
    let names = ["SRV-A", "SRV-B"];
    let mut existing = Vec::new();
    for name in names {
        existing.push(w.snow.add_ci(
            "cmdb_ci_win_server".parse().expect("a class"),
            ci_values(name, &a, None),
        ));
        w.ninja
            .add_device(org(1), Some(role(9)), name)
            .expect("a device id");
    }
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    // One owner query for both candidates, then one write for everything.
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CiOwners), 1);
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 1));
    assert!(ci.held.is_empty(), "{:?}", ci.held);
    assert_eq!(ci.updated, 2);
    for (name, sys_id) in names.iter().zip(&existing) {
        let device = w
            .ninja
            .all_devices()
            .into_iter()
            .find(|d| d.name() == *name)
            .expect("the device");
        assert_eq!(
            w.record(device.id).and_then(|r| r.sys_id).as_ref(),
            Some(sys_id)
        );
    }
}

#[test]
fn a_write_that_updates_another_ci_is_reported_and_the_record_not_re_pointed() {
    let w = World::new(2, policy(100, 100));
    w.add(1, &["all"]);
    w.run();
    let b = w.company(2);
    let device = w.device_with_role(1, 9);
    let recorded = w
        .record(device.id)
        .and_then(|r| r.sys_id)
        .expect("recorded");
    // Someone deletes the CI in ServiceNow, and B has a CI of the same name.
    assert!(w.snow.delete_ci(&recorded));
    let theirs = w.snow.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values(&device.name(), &b, None),
    );
    // Its serial number disappears from NinjaOne: the identity changed, so a dry run comes
    // first, and it catches the fall-through onto B's CI.
    w.ninja.set_device_details(device.id, serde_json::json!({}));
    w.reset_counts();
    let report = w.run();
    assert_eq!(w.dry_run_calls(), 1);
    assert_eq!(cmdb(&report).held.len(), 1);
    assert_eq!(
        w.snow.ci(&theirs).expect("B's CI").values["company"],
        b.as_str()
    );

    // Without an identity change the write goes straight out: when it lands on another CI than
    // the recorded one, that is reported and the record keeps its CI.
    let w = World::new(2, policy(100, 100));
    w.add(1, &["all"]);
    w.ninja
        .set_device_details(w.device_with_role(1, 9).id, serde_json::json!({}));
    w.run();
    let device = w.device_with_role(1, 9);
    let recorded = w
        .record(device.id)
        .and_then(|r| r.sys_id)
        .expect("recorded");
    assert!(w.snow.delete_ci(&recorded));
    let b = w.company(2);
    let theirs = w.snow.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values(&device.name(), &b, None),
    );
    let mut moved = device.clone();
    moved.dns_name = Some("srv.moved.test".to_owned());
    w.ninja.put_device(moved);
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 1));
    let [diverged] = ci.diverged.as_slice() else {
        panic!("one diverged write: {:?}", ci.diverged);
    };
    assert_eq!(
        (
            diverged.device,
            diverged.expected.as_ref(),
            &diverged.answered
        ),
        (device.id, Some(&recorded), &theirs)
    );
    assert!(
        diverged.message.contains(recorded.as_str()),
        "{}",
        diverged.message
    );
    let record = w.record(device.id).expect("recorded");
    assert_eq!(record.sys_id.as_ref(), Some(&recorded), "not re-pointed");
    assert!(record.held.is_some(), "held back");
    // The next pass sends nothing for it (B's CI now carries A's company: an owner check
    // would adopt it) and reports it held.
    w.reset_counts();
    let report = w.run();
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 0));
    assert_eq!(cmdb(&report).held.len(), 1);
}

#[test]
fn request_counts_of_a_first_and_a_steady_pass() {
    // 30 organizations x 7 devices, 150 mapped; pages of 50, batches of 40.
    let w = World::new(30, policy(50, 40));
    w.add_all(30);
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    let (devices, items) = (30 * PER_ORG, 30 * MAPPED_PER_ORG);
    // One detailed listing, ceil(210 / 50) + 0 pages (210 is not a multiple of 50).
    assert_eq!(w.listing_calls(), devices.div_ceil(50));
    // Dry runs and writes: ceil(150 / 40) each; no owner query (nothing existed).
    assert_eq!(w.dry_run_calls(), items.div_ceil(40));
    assert_eq!(w.reconcile_calls(), items.div_ceil(40));
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CiOwners), 0);
    assert_eq!((ci.dry_runs, ci.batches, ci.owner_queries), (4, 4, 0));
    assert_eq!(report.remote_writes, 4, "dry runs are not writes");

    // A steady pass: the listing only.
    w.reset_counts();
    let report = w.run();
    assert_eq!(w.listing_calls(), devices.div_ceil(50));
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (0, 0));
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CiOwners), 0);
    assert_eq!(cmdb(&report).unchanged, items);
}

#[test]
fn without_a_dry_run_new_devices_are_not_written() {
    // What a ServiceNowApi without `identify_reconcile_query` (the default body) answers.
    let w = World::new(1, policy(100, 100));
    w.add_all(1);
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcileQuery,
        1,
        ApiErrorKind::NotFound,
    );
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.reconcile_calls(), 0, "nothing written unchecked");
    let [failed] = ci.failed_batches.as_slice() else {
        panic!("one failed request: {:?}", ci.failed_batches);
    };
    assert_eq!(
        (failed.kind, failed.devices.len()),
        (FailureKind::Permanent, MAPPED_PER_ORG)
    );
    assert!(w.records().is_empty());
}

#[test]
fn a_device_whose_ci_was_deleted_gets_a_new_one_after_a_rename() {
    let w = World::new(1, policy(100, 100));
    w.add_all(1);
    w.run();
    let mut device = w.device_with_role(1, 9);
    let old = w
        .record(device.id)
        .and_then(|r| r.sys_id)
        .expect("recorded");
    assert!(w.snow.delete_ci(&old));
    device.display_name = Some("SRV-RENAMED".to_owned());
    w.ninja.put_device(device.clone());
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    // The dry run finds nothing (its CI is gone): an insert, recorded as its new CI.
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 1));
    assert_eq!((ci.inserted, ci.diverged.len(), ci.held.len()), (1, 0, 0));
    let new = w
        .record(device.id)
        .and_then(|r| r.sys_id)
        .expect("recorded");
    assert_ne!(new, old);
    assert_eq!(
        w.snow.ci(&new).expect("the new CI").values["name"],
        "SRV-RENAMED"
    );
}

// ---- review of issue 11: paths around the guard ----

/// Two devices that carry one serial number (cloned VMs, a reused board) in two organizations.
fn clones(w: &World, serial: &str) -> (DeviceId, DeviceId) {
    let a = w
        .ninja
        .add_device(org(1), Some(role(9)), "CLONE-A")
        .expect("a device id");
    let b = w
        .ninja
        .add_device(org(2), Some(role(9)), "CLONE-B")
        .expect("a device id");
    for id in [a, b] {
        w.ninja
            .set_device_details(id, serde_json::json!({"system": {"serialNumber": serial}}));
    }
    (a, b)
}

#[test]
fn devices_sharing_a_serial_number_are_skipped_not_merged_into_one_ci() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    let (a, b) = clones(&w, "CLONE-SERIAL-1");
    let report = w.run();
    let ci = cmdb(&report);
    // The rule identifies by serial first: written in one batch, the second would update the
    // first's CI and move it to its own company.
    assert_eq!(ci.skipped.get(&CiSkipReason::DuplicateSerial), Some(&2));
    assert!(w.record(a).is_none() && w.record(b).is_none());
    let mut seen = std::collections::BTreeSet::new();
    for record in w.records() {
        if let Some(id) = record.sys_id {
            assert!(seen.insert(id.clone()), "two devices recorded as CI {id}");
        }
    }
    assert!(
        w.snow
            .cis()
            .iter()
            .all(|c| c.values.get("serial_number").map(String::as_str) != Some("CLONE-SERIAL-1")),
        "no CI was written for either clone"
    );
}

#[test]
fn two_devices_whose_dry_runs_name_one_ci_are_both_held() {
    let w = World::new(2, policy(100, 100));
    w.add(1, &["all"]);
    let a = w.company(1);
    // A's CI has the serial of one device and the name of another: each dry run names it.
    let shared = w.snow.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values("SHARED-NAME", &a, Some("SHARED-SERIAL")),
    );
    let by_serial = w
        .ninja
        .add_device(org(1), Some(role(9)), "OTHER-NAME")
        .expect("a device id");
    w.ninja.set_device_details(
        by_serial,
        serde_json::json!({"system": {"serialNumber": "SHARED-SERIAL"}}),
    );
    let by_name = w
        .ninja
        .add_device(org(1), Some(role(9)), "SHARED-NAME")
        .expect("a device id");
    w.ninja.set_device_details(
        by_name,
        serde_json::json!({"system": {"serialNumber": "OWN-SERIAL"}}),
    );
    let report = w.run();
    let ci = cmdb(&report);
    let mut held: Vec<DeviceId> = ci.held.iter().map(|h| h.device).collect();
    held.sort();
    assert_eq!(held, [by_serial, by_name]);
    for h in &ci.held {
        assert!(h.reason.contains(shared.as_str()), "{}", h.reason);
    }
    assert!(w.record(by_serial).and_then(|r| r.sys_id).is_none());
    assert!(w.record(by_name).and_then(|r| r.sys_id).is_none());
    assert_eq!(
        w.snow.ci(&shared).expect("the CI").values["name"],
        "SHARED-NAME",
        "untouched"
    );
}

#[test]
fn a_ci_without_a_company_is_not_taken_over() {
    let w = World::new(1, policy(100, 100));
    w.add(1, &["all"]);
    // Another tool's DC01, no company set: it may be any customer's.
    let values = BTreeMap::from([("name".to_owned(), "DC01".to_owned())]);
    let orphan = w
        .snow
        .add_ci("cmdb_ci_win_server".parse().expect("a class"), values);
    let dc01 = w
        .ninja
        .add_device(org(1), Some(role(9)), "DC01")
        .expect("a device id");
    let report = w.run();
    let ci = cmdb(&report);
    let [held] = ci.held.as_slice() else {
        panic!("one held device: {:?}", ci.held);
    };
    assert_eq!(held.device, dc01);
    assert!(
        held.reason.contains(orphan.as_str()) && held.reason.contains("no company"),
        "{}",
        held.reason
    );
    assert!(
        !w.snow
            .ci(&orphan)
            .expect("the CI")
            .values
            .contains_key("company")
    );
}

#[test]
fn a_held_device_moved_to_another_company_is_checked_again() {
    let w = World::new(2, policy(100, 100));
    w.add_all(2);
    let b = w.company(2);
    let theirs = w.snow.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values("DC01", &b, None),
    );
    // A's DC01 is really B's: it was enrolled in the wrong organization.
    let dc01 = w
        .ninja
        .add_device(org(1), Some(role(9)), "DC01")
        .expect("a device id");
    w.ninja.set_device_details(dc01, serde_json::json!({}));
    let report = w.run();
    assert_eq!(cmdb(&report).held.len(), 1);

    // Moved to B in NinjaOne: its company changed, so it is checked again and adopts B's CI.
    let mut device = w
        .ninja
        .all_devices()
        .into_iter()
        .find(|d| d.id == dc01)
        .expect("the device");
    device.organization_id = org(2);
    w.ninja.put_device(device);
    w.reset_counts();
    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.dry_run_calls(), 1);
    assert!(ci.held.is_empty(), "{:?}", ci.held);
    assert_eq!(
        w.record(dc01).and_then(|r| r.sys_id).as_ref(),
        Some(&theirs)
    );
}

#[test]
fn a_replacement_device_is_not_held_for_the_ci_of_the_device_it_replaces() {
    let w = World::new(1, policy(100, 100));
    w.add_all(1);
    w.run();
    // The old PC leaves NinjaOne and its replacement is enrolled under the same name, before
    // the next pass.
    let old = w.device_with_role(1, 1);
    let ci = w.record(old.id).and_then(|r| r.sys_id).expect("recorded");
    assert!(w.ninja.remove_device(old.id));
    let new = w
        .ninja
        .add_device(org(1), Some(role(1)), old.name())
        .expect("a device id");
    w.ninja.set_device_details(new, serde_json::json!({}));
    let report = w.run();
    let step = cmdb(&report);
    // The old record goes in this very pass, so it does not hold the new device back (which
    // would last until the new device's name or serial number changes).
    assert!(step.held.is_empty(), "{:?}", step.held);
    assert!(w.record(old.id).is_none());
    assert_eq!(w.record(new).and_then(|r| r.sys_id).as_ref(), Some(&ci));
}

#[test]
fn a_dry_run_of_the_pass_shows_the_devices_the_guard_would_hold() {
    let w = World::new(2, policy(100, 100));
    w.add(1, &["all"]);
    w.run();
    let records = w.records();
    let b = w.company(2);
    let theirs = w.snow.add_ci(
        "cmdb_ci_win_server".parse().expect("a class"),
        ci_values("DC01", &b, None),
    );
    let dc01 = w
        .ninja
        .add_device(org(1), Some(role(9)), "DC01")
        .expect("a device id");
    w.ninja.set_device_details(dc01, serde_json::json!({}));
    let lnx = w
        .ninja
        .add_device(org(1), Some(role(11)), "LNX-NEW")
        .expect("a device id");
    w.reset_counts();
    let report = w.pass(ApplyMode::DryRun);
    let ci = cmdb(&report);
    // Read-only checks only: the identification dry run and the owner query, no write.
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 0));
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CiOwners), 1);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(w.records(), records, "a dry run writes no record");
    // What it says is what the apply does: DC01 is not among the devices it would send.
    let planned: Vec<DeviceId> = ci.planned.iter().map(|p| p.device).collect();
    assert_eq!(planned, [lnx]);
    let [held] = ci.held.as_slice() else {
        panic!("one held device: {:?}", ci.held);
    };
    assert_eq!(held.device, dc01);
    assert!(held.reason.contains(theirs.as_str()), "{}", held.reason);

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(ci.held.len(), 1);
    assert_eq!((ci.sent, ci.inserted), (1, 1));
}
