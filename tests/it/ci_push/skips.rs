//! The CI push: skips, per-item errors, which configurations, dry run.

use super::*;

#[test]
fn unmapped_and_roleless_devices_are_skipped_with_a_reason() {
    let w = world(2, policy(100, 100));
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
    let w = world(1, policy(100, 100));
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

#[test]
fn per_item_errors_are_reported_per_device_and_retried() {
    let w = world(2, policy(100, 100));
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

#[test]
fn only_active_configurations_are_pushed() {
    let w = world(4, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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
    let w = world(2, policy(100, 100));
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

#[test]
fn a_dry_run_sends_nothing_and_says_what_it_would_send() {
    let w = world(2, policy(100, 100));
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
