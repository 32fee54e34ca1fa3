//! CI identity: source key, serial, and the takeover guard.

use super::*;

#[test]
fn a_renamed_device_keeps_its_ci() {
    let w = world(1, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
    let w = world(1, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
    let w = world(30, policy(50, 40));
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
    let w = world(1, policy(100, 100));
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
    let w = world(1, policy(100, 100));
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
