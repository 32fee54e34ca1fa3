//! What a pass does with what it cannot read: unknown, never absent.

use super::*;

#[test]
fn a_failed_organization_listing_is_unknown_never_absent() {
    let w = active(
        FakeNinjaOne::builder().organizations(5).build(),
        FakeServiceNow::builder().companies(5).build(),
    );
    w.run();
    w.ninja.remove_organization(id(2));
    w.ninja.remove_organization(id(4));
    let newcomer = w.ninja.add_organization("Newcomer Ltd").expect("an id");
    let before = w.configs();
    let audit = w.audit_len();
    w.reset_counts();
    w.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Transient);

    let report = w.run();
    assert!(report.stop.is_none());
    assert_eq!(report.unknown, 5);
    assert_eq!(report.deleted, 0);
    for n in 1..=5 {
        assert!(matches!(outcome(&report, id(n)), Outcome::Unknown { .. }));
    }
    assert_eq!(w.configs(), before, "no configuration changed");
    assert_eq!(w.audit_len(), audit);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert!(!w.has_config(newcomer));
    // The listing is worth retrying soon.
    assert!(matches!(report.next_run, NextRun::At(_)));

    // Once the listing works, the pass converges.
    let report = w.run();
    assert_eq!(report.deleted, 2);
    assert!(matches!(
        outcome(&report, newcomer),
        Outcome::Created { .. }
    ));
}

#[test]
fn an_incomplete_organization_listing_is_unknown_never_absent() {
    // The fake's first organization page carries one undecodable row while it is told to.
    let w = active(
        FakeNinjaOne::builder().organizations(4).build(),
        FakeServiceNow::builder().companies(4).build(),
    );
    w.run();
    w.ninja.remove_organization(id(2)); // the row that "failed to decode"
    w.ninja.reject_organization_rows(vec![RowError {
        index: 0,
        id_prefix: Some("2".to_owned()),
        message: "invalid type: map, expected a string at line 1 column 20".to_owned(),
    }]);
    let before = w.configs();

    let report = w.run();
    match outcome(&report, id(2)) {
        Outcome::Unknown { reason } => assert!(reason.contains("not complete"), "{reason}"),
        other => panic!("organization 2: {other}"),
    }
    assert_eq!(report.deleted, 0);
    assert_eq!(w.configs(), before);
    assert_eq!(w.snow.faults().writes(), 0);
    // A row that does not decode will not decode in a minute either: no early retry is asked
    // for (a failed listing asks for one; see the test above).
    assert_eq!(report.next_run, NextRun::Regular);

    w.ninja.reject_organization_rows(Vec::new());
    assert_eq!(outcome(&w.run(), id(2)), &Outcome::Deleted);
}

fn active_config(org: u32, company: u64, now: DateTime<Utc>) -> SyncConfig {
    let sys: SysId = format!("{company:032x}").parse().expect("sys_id");
    let mut config = SyncConfig::new(id(org), Some(sys), now);
    config
        .apply(SyncEvent::Enqueue, None, now)
        .expect("enqueue");
    config
        .apply(SyncEvent::Succeeded, None, now)
        .expect("succeed");
    config.set_version(1);
    config
}

#[test]
fn the_planner_concludes_nothing_from_an_incomplete_listing() {
    let now = fixed_time();
    let configs = [active_config(1, 1, now), active_config(2, 2, now)];
    let all_orgs = || {
        vec![
            organization(1, "Alpha"),
            organization(2, "Beta"),
            organization(3, "Gamma"),
        ]
    };
    let all_companies = || vec![company(1, "Alpha"), company(2, "Beta")];
    let policy = Policy::default();
    let run = |s: &Snapshot| plan(s, &configs, IntegrationMode::Active, &policy, now);

    // Organization 2 is not among the decoded rows: unknown, not gone.
    let orgs = Observed::Incomplete {
        items: vec![organization(1, "Alpha")],
        reason: "1 NinjaOne organizations could not be decoded".to_owned(),
    };
    let p = run(&Snapshot::new(orgs, Observed::complete(all_companies())));
    assert!(
        matches!(decision(&p, 2), Decision::Unknown { .. }),
        "{}",
        decision(&p, 2)
    );
    assert_eq!(decision(&p, 1), &Decision::Unchanged);
    assert_eq!(p.guard.removals, 0);

    // Company 2 and any company named "Gamma" may be among the rows that were not decoded or
    // listed: nothing fails, nothing is created.
    for companies in [
        Observed::Incomplete {
            items: vec![company(1, "Alpha")],
            reason: "1 ServiceNow companies could not be decoded".to_owned(),
        },
        Observed::Unavailable {
            reason: "listing ServiceNow companies failed".to_owned(),
        },
    ] {
        let p = run(&Snapshot::new(Observed::complete(all_orgs()), companies));
        assert!(
            matches!(decision(&p, 2), Decision::Unknown { .. }),
            "{}",
            decision(&p, 2)
        );
        assert!(
            matches!(decision(&p, 3), Decision::Unknown { .. }),
            "{}",
            decision(&p, 3)
        );
        assert!(p.items.iter().all(|i| !i.decision.writes_remotely()));
        assert_eq!(p.guard.removals, 0);
    }
}

#[test]
fn a_failed_company_listing_never_creates_a_company_or_fails_a_configuration() {
    let w = active(
        FakeNinjaOne::builder().organizations(3).build(),
        FakeServiceNow::builder().companies(3).build(),
    );
    w.run();
    let gone = w.company_named(&customer_name(1));
    w.snow.delete_company(&gone);
    let newcomer = w.ninja.add_organization("Newcomer Ltd").expect("an id");
    let before = w.configs();
    w.reset_counts();
    w.snow
        .faults()
        .fail_next(ServiceNowMethod::Companies, 1, ApiErrorKind::Transient);

    let report = w.run();
    assert!(matches!(outcome(&report, id(1)), Outcome::Unknown { .. }));
    assert!(matches!(
        outcome(&report, newcomer),
        Outcome::Unknown { .. }
    ));
    assert_eq!(report.failed, 0);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert_eq!(w.configs(), before, "no configuration changed");
    assert!(!w.has_config(newcomer));

    // With the listing back: the gone company deactivates, the newcomer gets one company.
    w.run();
    assert_eq!(w.config(id(1)).status(), SyncStatus::Inactive);
    assert_eq!(w.config(newcomer).status(), SyncStatus::Active);
    assert_eq!(w.companies_named("Newcomer Ltd").len(), 1);
}
