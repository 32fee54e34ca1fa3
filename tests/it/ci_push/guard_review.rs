//! The review of issue 11: paths around the takeover guard.

use super::*;

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
    let w = world(2, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
    let w = world(1, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
    let w = world(1, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
