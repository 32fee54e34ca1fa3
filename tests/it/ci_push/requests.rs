//! The CI push: request counts and values, nothing sent twice.

use super::*;

#[test]
fn devices_are_listed_in_pages_and_sent_in_batches_with_the_company() {
    let w = world(12, policy(10, 25));
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
    let w = world(1, Policy::builder().cmdb(settings).build());
    w.add_all(1);
    let report = w.run();
    assert_eq!(cmdb(&report).data_source, "NinjaOne RMM");
    assert_eq!(cmdb(&report).sent, MAPPED_PER_ORG);
    assert!(w.snow.cis().iter().all(|c| c.data_source == "NinjaOne RMM"));
}

#[test]
fn a_blank_data_source_sends_nothing_and_says_so() {
    let settings = CmdbSettings::builder().data_source("  ");
    let w = world(1, Policy::builder().cmdb(settings).build());
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

#[test]
fn a_second_pass_sends_nothing() {
    let w = world(4, policy(10, 100));
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
    let w = world(3, policy(100, 100));
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
