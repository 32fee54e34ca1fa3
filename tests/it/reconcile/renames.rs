//! Renames and removals, and the deletion guard.

use super::*;

#[test]
fn renaming_either_side_keeps_the_mapping_and_reports_drift() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    let snow = FakeServiceNow::builder().companies(3).build();
    let full = EngineOptions::builder().report(ReportDetail::Full).build();
    let w = world(ninja, snow, full, IntegrationMode::Active);
    w.run();
    let before: Vec<SyncConfig> = w.configs();
    let second = w.company_named(&customer_name(2));

    w.ninja.rename_organization(id(1), "Contoso Dental Group");
    w.snow.rename_company(&second, "Fabrikam Legal LLP");
    // A rename that normalises to the same name is no drift.
    w.ninja
        .rename_organization(id(3), customer_name(3).to_uppercase());
    w.reset_counts();
    let report = w.run();

    assert_eq!(report.remote_writes, 0);
    assert_eq!(w.snow.faults().writes(), 0);
    let mapping = |configs: &[SyncConfig]| -> Vec<(OrganizationId, Option<SysId>, SyncStatus)> {
        configs
            .iter()
            .map(|c| (c.organization(), c.company().cloned(), c.status()))
            .collect()
    };
    let after = w.configs();
    assert_eq!(
        mapping(&after),
        mapping(&before),
        "same companies, same statuses"
    );
    // Only the names as last seen were written.
    let names: Vec<(Option<&str>, Option<&str>)> = after
        .iter()
        .map(|c| (c.organization_name(), c.company_name()))
        .collect();
    let upper = customer_name(3).to_uppercase();
    assert_eq!(
        names,
        vec![
            (
                Some("Contoso Dental Group"),
                Some(customer_name(1).as_str())
            ),
            (Some(customer_name(2).as_str()), Some("Fabrikam Legal LLP")),
            (Some(upper.as_str()), Some(customer_name(3).as_str())),
        ]
    );
    let drift: Vec<(OrganizationId, &str, &SysId, &str)> = report
        .plan
        .as_ref()
        .expect("the plan (ReportDetail::Full)")
        .drift
        .iter()
        .map(|d| {
            (
                d.organization,
                d.organization_name.as_str(),
                &d.company,
                d.company_name.as_str(),
            )
        })
        .collect();
    let first = w.company_named(&customer_name(1));
    assert_eq!(
        drift,
        vec![
            (
                id(1),
                "Contoso Dental Group",
                &first,
                customer_name(1).as_str()
            ),
            (
                id(2),
                customer_name(2).as_str(),
                &second,
                "Fabrikam Legal LLP"
            ),
        ]
    );
    // The renames were written once; the next pass writes nothing.
    w.run();
    assert_eq!(w.configs(), after, "an idle pass writes nothing");
}

#[test]
fn a_pass_refreshes_names_and_writes_a_rename_once() {
    let ninja = FakeNinjaOne::builder().organizations(2).build();
    let snow = FakeServiceNow::builder().companies(2).build();
    let w = active(ninja, snow);
    w.run();
    let first = w.config(id(1));
    assert_eq!(
        first.organization_name(),
        Some(customer_name(1).as_str()),
        "the adopting pass keeps the organization's name"
    );
    assert_eq!(first.company_name(), Some(customer_name(1).as_str()));

    // An idle pass: no remote request beyond the listings, nothing written.
    w.reset_counts();
    w.run();
    assert_eq!(w.config(id(1)), first, "nothing changed, nothing written");
    assert_eq!(w.snow.faults().writes(), 0);

    let company = w.company_named(&customer_name(1));
    w.snow.rename_company(&company, "Contoso Dental (renamed)");
    w.ninja.rename_organization(id(1), "Contoso Group");
    w.run();
    let renamed = w.config(id(1));
    assert_eq!(renamed.organization_name(), Some("Contoso Group"));
    assert_eq!(renamed.company_name(), Some("Contoso Dental (renamed)"));
    assert_eq!(
        renamed.version(),
        first.version() + 1,
        "one write for both names"
    );
    assert_eq!(renamed.status(), SyncStatus::Active);
    let untouched = w.config(id(2));

    w.run();
    assert_eq!(w.config(id(1)), renamed, "the rename is not written again");
    assert_eq!(w.config(id(2)), untouched);
}

#[test]
fn an_organization_gone_from_ninjaone_is_tombstoned_without_remote_writes() {
    let w = active(
        FakeNinjaOne::builder().organizations(3).build(),
        FakeServiceNow::builder().companies(3).build(),
    );
    w.run();
    assert!(w.ninja.remove_organization(id(2)));
    w.reset_counts();

    let report = w.run();
    assert_eq!(outcome(&report, id(2)), &Outcome::Deleted);
    let config = w.config(id(2));
    assert_eq!(config.status(), SyncStatus::Deleted);
    assert!(reason(&config).contains("gone"), "{}", reason(&config));
    assert_eq!(report.remote_writes, 0);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(
        w.snow.all_companies().len(),
        3,
        "nothing in ServiceNow is deleted"
    );
    assert_eq!(w.config(id(1)).status(), SyncStatus::Active);
    // The tombstone stays: later passes neither revive nor report it.
    let later = w.run();
    assert!(later.outcome(id(2)).is_none());
    assert_eq!(w.config(id(2)).status(), SyncStatus::Deleted);
}

#[test]
fn a_company_deleted_in_servicenow_deactivates_the_configuration() {
    let w = active(
        FakeNinjaOne::builder().organizations(2).build(),
        FakeServiceNow::builder().companies(2).build(),
    );
    w.run();
    let gone = w.company_named(&customer_name(1));
    assert!(w.snow.delete_company(&gone));

    let report = w.run();
    assert!(matches!(
        outcome(&report, id(1)),
        Outcome::Failed {
            kind: FailureKind::Permanent,
            ..
        }
    ));
    let config = w.config(id(1));
    assert_eq!(config.status(), SyncStatus::Inactive);
    assert!(
        reason(&config).contains("no longer exists"),
        "{}",
        reason(&config)
    );
    assert_eq!(
        w.snow.faults().calls(ServiceNowMethod::CreateCompany),
        0,
        "no replacement is created"
    );
    assert_eq!(w.config(id(2)).status(), SyncStatus::Active);
}

#[test]
fn removals_over_the_limit_are_held_until_an_administrator_approves() {
    let w = two_hundred();
    for n in 1..=30 {
        assert!(w.ninja.remove_organization(id(n * 5)));
    }
    let newcomer = w.ninja.add_organization("Brand New Co").expect("an id");
    let audit = w.audit_len();

    let report = w.run();
    assert!(report.needs_approval());
    assert_eq!((report.guard.removals, report.guard.limit), (30, 20));
    assert_eq!(report.held, 30);
    for n in 1..=30 {
        assert!(matches!(outcome(&report, id(n * 5)), Outcome::Held { .. }));
        assert_eq!(w.config(id(n * 5)).status(), SyncStatus::Active);
    }
    // The rest of the pass is applied.
    assert!(matches!(
        outcome(&report, newcomer),
        Outcome::Created { .. }
    ));
    assert_eq!(w.config(newcomer).status(), SyncStatus::Active);
    assert!(w.audit_len() > audit);

    let technician = Actor::technician("t")
        .with_integration_permission()
        .seeing_all();
    let refused = block_on(w.sync.approve_deletions(&technician));
    assert!(
        matches!(refused, Err(SyncError::PermissionDenied { .. })),
        "{refused:?}"
    );
    assert_eq!(w.config(id(5)).status(), SyncStatus::Active);

    let approved = block_on(w.sync.approve_deletions(&w.admin)).expect("approve");
    assert_eq!(approved.deleted, 30);
    assert!(!approved.needs_approval());
    assert_eq!(approved.approved_by.as_deref(), Some("a"));
    assert_eq!(approved.remote_writes, 0);
    for n in 1..=30 {
        assert_eq!(w.config(id(n * 5)).status(), SyncStatus::Deleted);
    }
    assert_eq!(w.config(id(1)).status(), SyncStatus::Active);
    let log = block_on(w.store.audit(&AuditFilter::all())).expect("audit");
    let approvals: Vec<_> = log
        .iter()
        .filter(|e| e.action == AuditAction::ApproveDeletions)
        .collect();
    assert!(
        approvals
            .iter()
            .any(|e| e.actor == "a" && e.outcome == AuditOutcome::Applied)
    );
    assert!(
        approvals
            .iter()
            .any(|e| e.actor == "t" && matches!(e.outcome, AuditOutcome::Refused(_)))
    );
}

#[test]
fn removals_within_the_limit_are_applied_without_approval() {
    for removed in [15, 20] {
        let w = two_hundred();
        for n in 1..=removed {
            assert!(w.ninja.remove_organization(id(n * 7)));
        }
        let report = w.run();
        assert!(!report.needs_approval(), "{removed} removed");
        assert_eq!(report.deleted, usize::try_from(removed).expect("small"));
        assert_eq!(report.held, 0);
        for n in 1..=removed {
            assert_eq!(w.config(id(n * 7)).status(), SyncStatus::Deleted);
        }
    }
}
