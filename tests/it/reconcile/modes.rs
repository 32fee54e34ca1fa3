//! Integration modes, Customer Service Management and dry runs.

use super::*;

#[test]
fn disabled_mode_makes_no_remote_call_and_changes_nothing() {
    // A new store is disabled.
    let fresh = world(
        FakeNinjaOne::builder().organizations(3).build(),
        FakeServiceNow::builder().companies(1).build(),
        Policy::default(),
        IntegrationMode::Disabled,
    );
    let report = fresh.run();
    assert_eq!(fresh.ninja.faults().total_calls(), 0);
    assert_eq!(fresh.snow.faults().total_calls(), 0);
    assert!(report.outcomes.is_empty() && report.plan.as_ref().is_none_or(|p| p.items.is_empty()));
    assert!(fresh.configs().is_empty());

    // Disabled after configurations exist: whatever changed on either side, nothing happens.
    let w = active(
        FakeNinjaOne::builder().organizations(3).build(),
        FakeServiceNow::builder().companies(3).build(),
    );
    w.run();
    block_on(w.sync.set_mode(&w.admin, IntegrationMode::Disabled)).expect("disable");
    w.ninja.remove_organization(id(1));
    w.ninja.add_organization("Newcomer Ltd");
    w.snow.delete_company(&w.company_named(&customer_name(2)));
    let before = w.configs();
    let audit = w.audit_len();
    w.reset_counts();
    let report = w.run();
    assert_eq!(w.ninja.faults().total_calls(), 0);
    assert_eq!(w.snow.faults().total_calls(), 0);
    assert_eq!(report.mode, IntegrationMode::Disabled);
    assert!(report.outcomes.is_empty());
    assert_eq!(w.configs(), before);
    assert_eq!(w.audit_len(), audit);
}

#[test]
fn inactive_mode_leaves_unconfigured_organizations_alone_and_activates_added_ones() {
    let w = world(
        FakeNinjaOne::builder().organizations(5).build(),
        FakeServiceNow::builder().companies(3).build(),
        Policy::default(),
        IntegrationMode::Inactive,
    );
    let company = w.company_named(&customer_name(2));
    let added = block_on(
        w.sync
            .add(&w.admin, ConfigDraft::new(id(2), company.clone())),
    )
    .expect("add");
    assert_eq!(added.config.status(), SyncStatus::Pending);
    w.reset_counts();

    let report = w.run();
    assert_eq!(outcome(&report, id(2)), &Outcome::Activated);
    assert_eq!(report.unconfigured, 4);
    assert_eq!(report.outcomes.len(), 1);
    let config = w.config(id(2));
    assert_eq!(config.status(), SyncStatus::Active);
    assert_eq!(config.company(), Some(&company));
    assert_eq!(w.configs().len(), 1, "no configuration for the others");
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert_eq!(w.ninja.faults().calls(NinjaOneMethod::Organization), 0);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::Company), 0);
}

#[test]
fn customer_accounts_need_customer_service_management() {
    let snow = FakeServiceNow::builder()
        .companies(3)
        .customer_account("Contoso Dental 0001 (CSM)")
        .customer_account("Fabrikam Legal 0002 (CSM)")
        .customer_service_management(true)
        .build();
    let accounts: Vec<SysId> = snow
        .all_customer_accounts()
        .into_iter()
        .map(|a| a.sys_id)
        .collect();
    let w = world(
        FakeNinjaOne::builder().organizations(3).build(),
        snow,
        Policy::default(),
        IntegrationMode::Inactive,
    );
    for (n, account) in [1, 2].into_iter().zip(&accounts) {
        let company = w.company_named(&customer_name(n));
        let draft = ConfigDraft::new(index(n), company).customer_account(account.clone());
        block_on(w.sync.add(&w.admin, draft)).expect("add");
    }
    w.reset_counts();

    let report = w.run();
    assert_eq!(outcome(&report, id(1)), &Outcome::Activated);
    assert_eq!(outcome(&report, id(2)), &Outcome::Activated);
    assert_eq!(
        w.snow
            .faults()
            .calls(ServiceNowMethod::CustomerServiceManagement),
        1
    );
    assert_eq!(
        w.snow.faults().calls(ServiceNowMethod::CustomerAccount),
        0,
        "listed, not read one by one"
    );

    w.snow.set_customer_service_management(false);
    w.reset_counts();
    w.run();
    for n in [1, 2] {
        let config = w.config(id(n));
        assert_eq!(config.status(), SyncStatus::Inactive);
        assert!(
            reason(&config).contains("Customer Service Management"),
            "{}",
            reason(&config)
        );
    }
    assert_eq!(
        w.snow
            .faults()
            .calls(ServiceNowMethod::CustomerServiceManagement),
        1
    );
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CustomerAccounts), 0);
}

#[test]
fn customer_service_management_is_not_detected_without_accounts() {
    let w = world(
        FakeNinjaOne::builder().organizations(2).build(),
        FakeServiceNow::builder()
            .companies(2)
            .customer_service_management(true)
            .build(),
        Policy::default(),
        IntegrationMode::Inactive,
    );
    let company = w.company_named(&customer_name(1));
    block_on(w.sync.add(&w.admin, ConfigDraft::new(id(1), company))).expect("add");
    w.reset_counts();
    assert_eq!(outcome(&w.run(), id(1)), &Outcome::Activated);
    assert_eq!(
        w.snow
            .faults()
            .calls(ServiceNowMethod::CustomerServiceManagement),
        0
    );
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CustomerAccounts), 0);
}

#[test]
fn a_dry_run_returns_the_plan_and_writes_nothing() {
    let w = world(
        FakeNinjaOne::builder().organizations(5).build(),
        FakeServiceNow::builder().companies(3).build(),
        EngineOptions::builder().report(ReportDetail::Full).build(),
        IntegrationMode::Active,
    );
    let audit = w.audit_len();
    let report = block_on(w.sync.run_once(ApplyMode::DryRun)).expect("a dry run");
    assert_eq!(report.apply_mode, ApplyMode::DryRun);
    assert_eq!(report.outcomes.len(), 5);
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o.outcome, Outcome::Planned { .. }))
    );
    let counts = report
        .plan
        .as_ref()
        .expect("the plan (ReportDetail::Full)")
        .counts();
    assert_eq!((counts.adopt, counts.create_company), (3, 2));
    assert_eq!(report.remote_writes, 0);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert!(w.configs().is_empty());
    assert_eq!(w.audit_len(), audit);

    // With configurations: a planned tombstone is not applied either.
    w.run();
    w.ninja.remove_organization(id(1));
    let before = w.configs();
    let audit = w.audit_len();
    w.reset_counts();
    let report = block_on(w.sync.run_once(ApplyMode::DryRun)).expect("a dry run");
    assert!(
        matches!(outcome(&report, id(1)), Outcome::Planned { decision } if decision.contains("tombstone"))
    );
    assert_eq!(w.configs(), before);
    assert_eq!(w.audit_len(), audit);
    assert_eq!(w.snow.faults().writes(), 0);
}
