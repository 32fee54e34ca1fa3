//! Unit tests of the CI planner: classes, values, skips, digests and removals.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::*;
use crate::machine::SyncEvent;
use crate::model::{
    CiClass, CiItem, CiMapping, CiRecord, DetailedDevice, Device, DeviceDetails, DeviceId,
    DeviceRoleId, NodeClass, OrganizationId, SyncConfig, SyncStatus, SysId,
};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time")
}

fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).expect("a valid id")
}

fn company(n: u32) -> SysId {
    format!("{n:032x}").parse().expect("a valid sys_id")
}

fn role(n: u32) -> DeviceRoleId {
    DeviceRoleId::new(n).expect("a valid role")
}

fn mapping(name: &str, rules: &[(u32, &str)]) -> CiMapping {
    let mut m = CiMapping::new(name.parse().expect("a valid name"));
    for (r, class) in rules {
        m.set_rule(role(*r), class.parse().expect("a valid class"));
    }
    m
}

fn config(n: u32, status: SyncStatus, mappings: &[&str]) -> SyncConfig {
    let mut c = SyncConfig::new(org(n), Some(company(n)), now());
    c.set_ci_mappings(mappings.iter().map(|m| m.parse().expect("a valid name")));
    let events: &[SyncEvent] = match status {
        SyncStatus::Pending => &[],
        SyncStatus::InQueue => &[SyncEvent::Enqueue],
        SyncStatus::Active => &[SyncEvent::Enqueue, SyncEvent::Succeeded],
        SyncStatus::Inactive => &[SyncEvent::Deactivate],
        SyncStatus::Deleted => &[SyncEvent::Delete],
    };
    for e in events {
        c.apply(*e, None, now()).expect("an allowed transition");
    }
    assert_eq!(c.status(), status);
    c
}

fn device(id: u32, org_id: u32, role_id: Option<u32>, name: &str) -> DetailedDevice {
    DetailedDevice::new(plain(id, org_id, role_id, name), DeviceDetails::default())
}

fn plain(id: u32, org_id: u32, role_id: Option<u32>, name: &str) -> Device {
    Device {
        id: DeviceId::new(id).expect("a valid id"),
        parent_device_id: None,
        organization_id: org(org_id),
        location_id: None,
        node_class: NodeClass::WindowsServer,
        node_role_id: role_id.map(role),
        role_policy_id: None,
        approval_status: None,
        offline: false,
        display_name: None,
        system_name: Some(name.to_owned()),
        dns_name: Some(format!("{}.example.test", name.to_lowercase())),
        created: None,
        last_contact: None,
        last_update: None,
    }
}

fn record_of(planned: &PlannedCi) -> CiRecord {
    CiRecord::new(
        planned.device,
        planned.organization,
        planned.item.class_name.clone(),
        Some(company(999)),
        planned.fingerprint.clone(),
        now(),
    )
    .with_identity(planned.identity.clone())
}

#[test]
fn values_and_ids_of_a_mapped_device() {
    let configs = [config(1, SyncStatus::Active, &["servers"])];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let plan = plan_cis(
        &configs,
        &mappings,
        &[device(5, 1, Some(9), "SRV-1")],
        true,
        &[],
        "NinjaOne",
    );
    assert_eq!(plan.organizations, 1);
    let [planned] = plan.items.as_slice() else {
        panic!("one item: {plan:?}");
    };
    assert_eq!(planned.item.class_name.as_str(), "cmdb_ci_win_server");
    assert_eq!(
        planned.item.internal_id.as_deref(),
        Some("ninjaone-device-5")
    );
    let values: Vec<(&str, &str)> = planned
        .item
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let company = company(1);
    assert_eq!(
        values,
        [
            ("company", company.as_str()),
            ("fqdn", "srv-1.example.test"),
            ("host_name", "SRV-1"),
            ("name", "SRV-1"),
        ]
    );
    assert_eq!(planned.known, None);
}

#[test]
fn only_active_configurations_with_mappings_are_considered() {
    let configs = [
        config(1, SyncStatus::Pending, &["servers"]),
        config(2, SyncStatus::InQueue, &["servers"]),
        config(3, SyncStatus::Inactive, &["servers"]),
        config(4, SyncStatus::Deleted, &["servers"]),
        config(5, SyncStatus::Active, &[]),
        config(6, SyncStatus::Active, &["servers"]),
    ];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let devices: Vec<DetailedDevice> = (1..=7)
        .map(|n| device(n, n, Some(9), &format!("D{n}")))
        .collect();
    let plan = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
    assert_eq!(plan.organizations, 1);
    let sent: Vec<u32> = plan.items.iter().map(|p| p.device.get()).collect();
    assert_eq!(sent, [6]);
    assert!(plan.skipped.is_empty());
}

#[test]
fn several_mappings_agree_or_conflict() {
    let configs = [config(1, SyncStatus::Active, &["a", "b", "missing"])];
    let mappings = [
        mapping("a", &[(9, "cmdb_ci_win_server"), (1, "cmdb_ci_computer")]),
        mapping(
            "b",
            &[
                (9, "cmdb_ci_win_server"),
                (1, "cmdb_ci_pc_hardware"),
                (11, "cmdb_ci_linux_server"),
            ],
        ),
    ];
    let devices = [
        device(1, 1, Some(9), "SRV"),
        device(2, 1, Some(1), "WS-A"),
        device(3, 1, Some(1), "WS-B"),
        device(4, 1, Some(11), "LNX"),
        device(5, 1, Some(2), "LAPTOP"),
        device(6, 1, None, "NOROLE"),
    ];
    let plan = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
    let sent: Vec<(u32, &str)> = plan
        .items
        .iter()
        .map(|p| (p.device.get(), p.item.class_name.as_str()))
        .collect();
    assert_eq!(
        sent,
        [(1, "cmdb_ci_win_server"), (4, "cmdb_ci_linux_server")]
    );
    assert_eq!(
        plan.skipped,
        BTreeMap::from([
            (CiSkipReason::NoRole, 1),
            (CiSkipReason::UnmappedRole, 1),
            (CiSkipReason::ConflictingMappings, 2),
        ])
    );
    let [conflict] = plan.conflicts.as_slice() else {
        panic!("one conflict: {:?}", plan.conflicts);
    };
    assert_eq!(
        (conflict.organization, conflict.role, conflict.devices),
        (org(1), role(1), 2)
    );
    let classes: Vec<(&str, &str)> = conflict
        .classes
        .iter()
        .map(|(m, c)| (m.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        classes,
        [("a", "cmdb_ci_computer"), ("b", "cmdb_ci_pc_hardware")]
    );
}

#[test]
fn duplicate_names_are_skipped_not_merged() {
    let configs = [
        config(1, SyncStatus::Active, &["servers"]),
        config(2, SyncStatus::Active, &["servers"]),
    ];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let devices = [
        device(1, 1, Some(9), "SRV-01"),
        device(2, 2, Some(9), "srv-01 "),
        device(3, 2, Some(9), "SRV-02"),
    ];
    let plan = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
    assert_eq!(plan.items.len(), 1);
    assert_eq!(
        plan.skipped,
        BTreeMap::from([(CiSkipReason::DuplicateName, 2)])
    );
}

#[test]
fn unchanged_devices_are_not_sent_and_changes_are() {
    let configs = [config(1, SyncStatus::Active, &["servers"])];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let devices = [device(1, 1, Some(9), "A"), device(2, 1, Some(9), "B")];
    let first = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
    let records: Vec<CiRecord> = first.items.iter().map(record_of).collect();
    let again = plan_cis(&configs, &mappings, &devices, true, &records, "NinjaOne");
    assert!(again.items.is_empty());
    assert_eq!(again.unchanged, 2);

    let renamed = [device(1, 1, Some(9), "A2"), device(2, 1, Some(9), "B")];
    let plan = plan_cis(&configs, &mappings, &renamed, true, &records, "NinjaOne");
    let [changed] = plan.items.as_slice() else {
        panic!("one item: {plan:?}");
    };
    assert_eq!((changed.device.get(), changed.name()), (1, "A2"));
    assert_eq!(changed.known, Some(company(999)));

    let other_source = plan_cis(&configs, &mappings, &devices, true, &records, "SCCM");
    assert_eq!(other_source.items.len(), 2);

    // A record without a sys_id is sent again.
    let mut unknown = records.clone();
    unknown[0].sys_id = None;
    let plan = plan_cis(&configs, &mappings, &devices, true, &unknown, "NinjaOne");
    assert_eq!(plan.items.len(), 1);
}

#[test]
fn records_are_removed_for_gone_devices_and_organizations_only() {
    let configs = [
        config(1, SyncStatus::Active, &["servers"]),
        config(2, SyncStatus::Inactive, &["servers"]),
        config(3, SyncStatus::Deleted, &["servers"]),
    ];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let class: CiClass = "cmdb_ci_win_server".parse().expect("a class");
    let record = |d: u32, o: u32| {
        CiRecord::new(
            DeviceId::new(d).expect("id"),
            org(o),
            class.clone(),
            Some(company(d)),
            "x",
            now(),
        )
    };
    // 1: listed, active; 2: gone; 3: listed, inactive; 4: listed, deleted config;
    // 5: listed, no config; 6: not listed, deleted config.
    let records = [
        record(1, 1),
        record(2, 1),
        record(3, 2),
        record(4, 3),
        record(5, 4),
        record(6, 3),
    ];
    let devices = [
        device(1, 1, Some(9), "A"),
        device(3, 2, Some(9), "C"),
        device(4, 3, Some(9), "D"),
        device(5, 4, Some(9), "E"),
    ];
    let ids = |plan: &CiPlan| plan.remove.iter().map(|d| d.get()).collect::<Vec<_>>();
    let complete = plan_cis(&configs, &mappings, &devices, true, &records, "NinjaOne");
    assert_eq!(ids(&complete), [2, 4, 5, 6]);
    let incomplete = plan_cis(&configs, &mappings, &devices, false, &records, "NinjaOne");
    assert_eq!(ids(&incomplete), [4, 5, 6]);
}

#[test]
fn details_are_sent_in_servicenows_units_and_references_are_left_out() {
    let configs = [config(1, SyncStatus::Active, &["servers"])];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let row = serde_json::json!({
        "id": 5, "organizationId": 1, "nodeClass": "WINDOWS_SERVER", "nodeRoleId": 9,
        "systemName": "SRV-1",
        "system": {"manufacturer": "Dell Inc.", "model": "PowerEdge R650",
                   "serialNumber": "7XK2Q53", "domain": "corp.example"},
        "os": {"name": "Windows Server 2022 Standard", "buildNumber": "20348"},
        "memory": {"capacity": 34_359_738_368_u64},
        "processors": [{"name": "Xeon", "numCores": 16, "clockSpeed": 2_400_000_000_u64}],
        "volumes": [{"capacity": 536_870_912_000_u64}, {"capacity": 536_870_912_000_u64}],
        "ipAddresses": ["10.0.0.5"], "macAddresses": ["00:11:22:33:44:55"],
        "lastLoggedInUser": "CORP\\alice"
    });
    let device: DetailedDevice = serde_json::from_value(row).expect("a device");
    let plan = plan_cis(&configs, &mappings, &[device], true, &[], "NinjaOne");
    let values = &plan.items[0].item.values;
    let get = |k: &str| values.get(k).map(String::as_str);
    assert_eq!(get("serial_number"), Some("7XK2Q53"));
    assert_eq!(get("ram"), Some("32768"), "MB");
    assert_eq!(get("disk_space"), Some("1000"), "GB");
    assert_eq!(get("cpu_speed"), Some("2400"), "MHz");
    assert_eq!(
        (get("cpu_core_count"), get("cpu_count")),
        (Some("16"), Some("1"))
    );
    assert_eq!(get("os_version"), Some("20348"));
    assert_eq!(get("os_domain"), Some("corp.example"));
    assert_eq!(get("model_number"), Some("PowerEdge R650"));
    // References take a sys_id or nothing; addresses belong to other classes.
    for absent in [
        "manufacturer",
        "model_id",
        "assigned_to",
        "ip_address",
        "mac_address",
    ] {
        assert_eq!(get(absent), None, "{absent}");
    }
    let source = plan.items[0].item.source.as_ref().expect("a source key");
    assert_eq!(
        (
            source.source_name.as_str(),
            source.source_native_key.as_str()
        ),
        ("NinjaOne", "5")
    );
}

#[test]
fn dry_runs_are_asked_for_new_devices_and_changed_identities_only() {
    let configs = [config(1, SyncStatus::Active, &["servers"])];
    let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
    let devices = [device(1, 1, Some(9), "A"), device(2, 1, Some(9), "B")];
    let first = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
    assert!(first.items.iter().all(|p| p.check), "no CI yet");
    let records: Vec<CiRecord> = first.items.iter().map(record_of).collect();

    // RAM changed: sent, no dry run. Renamed: sent after a dry run.
    let mut more_ram = device(1, 1, Some(9), "A");
    more_ram.details.ram_bytes = Some(8 * 1024 * 1024 * 1024);
    let renamed = device(2, 1, Some(9), "B2");
    let plan = plan_cis(
        &configs,
        &mappings,
        &[more_ram, renamed],
        true,
        &records,
        "NinjaOne",
    );
    let checks: Vec<(u32, bool)> = plan
        .items
        .iter()
        .map(|p| (p.device.get(), p.check))
        .collect();
    assert_eq!(checks, [(1, false), (2, true)]);

    // A held device is skipped while its identity stays, and checked once it changes.
    let mut held = records.clone();
    held[1].sys_id = None;
    held[1].held = Some("would update CI x of company B".to_owned());
    let plan = plan_cis(&configs, &mappings, &devices, true, &held, "NinjaOne");
    assert!(plan.items.is_empty());
    assert_eq!(plan.skipped[&CiSkipReason::HeldBack], 1);
    assert_eq!(plan.held[0].reason, "would update CI x of company B");
    let renamed = [device(1, 1, Some(9), "A"), device(2, 1, Some(9), "B2")];
    let plan = plan_cis(&configs, &mappings, &renamed, true, &held, "NinjaOne");
    assert_eq!(plan.items.len(), 1);
    assert!(plan.items[0].check && plan.held.is_empty());
}

#[test]
fn fingerprints_are_stable_and_field_exact() {
    let item = |values: &[(&str, &str)]| CiItem {
        class_name: "cmdb_ci_computer".parse().expect("a class"),
        values: values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        internal_id: None,
        source: None,
    };
    let a = ci_fingerprint("NinjaOne", &item(&[("name", "ab"), ("x", "c")]));
    assert_eq!(
        a,
        ci_fingerprint("NinjaOne", &item(&[("x", "c"), ("name", "ab")]))
    );
    assert_ne!(
        a,
        ci_fingerprint("NinjaOne", &item(&[("name", "a"), ("x", "bc")]))
    );
    // Pinned (computed independently of this code), so a change of the digest, which would
    // send every device again, is deliberate.
    assert_eq!(
        ci_fingerprint("NinjaOne", &item(&[("name", "SRV")])),
        "v1:4e5ab5858aa56649"
    );
}
