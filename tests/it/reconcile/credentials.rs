//! Refused credentials, compact reports and errors a host cannot miss.

use super::*;

#[test]
fn refused_credentials_on_a_create_stop_the_pass_and_fail_no_configuration() {
    let w = world(
        FakeNinjaOne::builder().organizations(5).build(),
        FakeServiceNow::new(),
        EngineOptions::builder().concurrency(1).build(),
        IntegrationMode::Active,
    );
    w.snow.faults().fail_next(
        ServiceNowMethod::CreateCompany,
        1,
        ApiErrorKind::Unauthorized,
    );

    let report = w.run_refused();
    match &report.stop {
        Some(Stop::Credentials { api, .. }) => assert_eq!(*api, Remote::ServiceNow),
        other => panic!("expected a credentials stop, got {other:?}"),
    }
    assert_eq!(
        w.snow.faults().calls(ServiceNowMethod::CreateCompany),
        1,
        "one attempt, then stop"
    );
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(report.failed, 0);
    for config in w.configs() {
        assert_ne!(config.status(), SyncStatus::Inactive);
        assert_eq!(config.attempts(), 0);
        assert_eq!(config.company(), None);
    }

    // Credentials fixed: the next pass converges, one company each.
    let report = w.run();
    assert!(report.stop.is_none());
    assert_eq!(report.created, 5);
    assert_eq!(w.snow.all_companies().len(), 5);
    assert!(w.configs().iter().all(|c| c.status() == SyncStatus::Active));
}

#[test]
fn refused_credentials_on_a_listing_stop_the_pass_before_any_write() {
    let w = active(
        FakeNinjaOne::builder().organizations(3).build(),
        FakeServiceNow::builder().companies(2).build(),
    );
    w.run();
    w.ninja.remove_organization(id(1));
    w.ninja.add_organization("Newcomer Ltd");
    let before = w.configs();
    let audit = w.audit_len();
    w.reset_counts();
    w.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Unauthorized);

    let report = w.run_refused();
    match &report.stop {
        Some(Stop::Credentials { api, .. }) => assert_eq!(*api, Remote::NinjaOne),
        other => panic!("expected a credentials stop, got {other:?}"),
    }
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(w.configs(), before, "no status changed");
    assert_eq!(w.audit_len(), audit);
}

/// The pass on the file store a single-instance host would use: the state survives a restart,
/// and a pass after the restart has nothing to do.
#[test]
fn a_pass_on_the_json_file_store_survives_a_restart() {
    use ninjaone_servicenow::store::JsonFileStore;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("orgsync-state.json");
    let ninja = FakeNinjaOne::builder().organizations(30).build();
    let snow = FakeServiceNow::builder().companies(10).build();
    let clock = ManualClock::new(fixed_time());
    let admin = Actor::administrator("a");
    let open = || {
        let store = JsonFileStore::open(&path).expect("open the state file");
        OrganizationSync::new(Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::new(store),
            Arc::new(clock.clone()),
        ))
        .options(EngineOptions::builder().page_size(7).store_batch(4))
    };
    {
        let sync = open();
        block_on(sync.set_mode(&admin, IntegrationMode::Active)).expect("set the mode");
        let report = block_on(sync.run_once(ApplyMode::Apply)).expect("a pass");
        let counts = &report;
        assert_eq!((counts.matched, counts.created), (10, 20));
    } // the store (and its lock) is dropped: a restart

    let sync = open();
    let configs = block_on(sync.list(&admin)).expect("list");
    assert_eq!(configs.len(), 30);
    assert!(configs.iter().all(|c| c.status() == SyncStatus::Active));
    let report = block_on(sync.run_once(ApplyMode::Apply)).expect("a pass after the restart");
    assert_eq!(report.remote_writes, 0);
    assert_eq!(report.unchanged, 30);
    assert_eq!(snow.faults().writes_of(ServiceNowMethod::CreateCompany), 20);
}

#[test]
fn a_pass_records_the_names_of_a_stored_configuration_that_has_none() {
    let ninja = FakeNinjaOne::builder().organizations(1).build();
    let snow = FakeServiceNow::builder()
        .companies(1)
        .customer_service_management(true)
        .customer_account("Contoso Account")
        .build();
    let w = world(ninja, snow, Policy::default(), IntegrationMode::Inactive);
    let company = w.company_named(&customer_name(1));
    let account = w
        .snow
        .all_customer_accounts()
        .first()
        .map(|a| a.sys_id.clone())
        .expect("an account");
    // As an older version stored it: no names.
    let mut config = SyncConfig::new(id(1), Some(company), fixed_time());
    config.set_customer_account(Some(account));
    block_on(w.store.write_config(config)).expect("seed");

    w.run();
    let named = w.config(id(1));
    assert_eq!(named.status(), SyncStatus::Active);
    assert_eq!(named.organization_name(), Some(customer_name(1).as_str()));
    assert_eq!(named.company_name(), Some(customer_name(1).as_str()));
    assert_eq!(named.customer_account_name(), Some("Contoso Account"));

    w.run();
    assert_eq!(
        w.config(id(1)),
        named,
        "recorded once; the next pass writes nothing"
    );
}

#[test]
fn an_idle_pass_counts_unchanged_organizations_without_listing_them() {
    let w = two_hundred();
    let report = w.run();
    assert_eq!((report.unchanged, report.organizations()), (200, 200));
    assert!(report.outcomes.is_empty(), "unchanged lines are not listed");
    assert!(report.plan.is_none(), "the plan only on request");
    assert_eq!(
        report.to_string(),
        "sync: 200 organizations, 0 created, 0 matched, 0 failed, 0 remote writes"
    );
    let json = serde_json::to_string(&report).expect("a report serialises");
    assert!(json.len() < 1_000, "{} bytes: {json}", json.len());
}

#[test]
fn full_detail_lists_unchanged_organizations_and_keeps_the_plan() {
    let w = world(
        FakeNinjaOne::builder().organizations(20).build(),
        FakeServiceNow::builder().companies(20).build(),
        EngineOptions::builder().report(ReportDetail::Full).build(),
        IntegrationMode::Active,
    );
    assert_eq!(w.run().matched, 20);
    let report = w.run();
    assert_eq!((report.unchanged, report.outcomes.len()), (20, 20));
    assert!(
        report
            .outcomes
            .iter()
            .all(|line| line.outcome == Outcome::Unchanged)
    );
    assert_eq!(report.plan.as_ref().map(|p| p.items.len()), Some(20));
}

#[test]
fn a_loop_that_only_logs_errors_sees_refused_credentials() {
    let w = active(
        FakeNinjaOne::builder().organizations(3).build(),
        FakeServiceNow::builder().companies(3).build(),
    );
    w.snow
        .faults()
        .fail_next(ServiceNowMethod::Companies, 1, ApiErrorKind::Unauthorized);
    // The host loop of the README: log errors, ignore the `Ok` reports.
    let mut logged = Vec::new();
    if let Err(err) = block_on(w.sync.run_once(ApplyMode::Apply)) {
        assert!(!err.is_refusal());
        logged.push(ErrorChain(&err).to_string());
    }
    assert_eq!(logged.len(), 1, "the dead integration is logged");
    assert!(
        logged[0].starts_with("the ServiceNow credentials were refused (unauthorized: "),
        "{}",
        logged[0]
    );
    // One fix, the one for this remote and kind, not a second general one.
    assert_eq!(
        logged[0]
            .matches("check the ServiceNow user name and password")
            .count(),
        1,
        "{}",
        logged[0]
    );
    assert!(!logged[0].contains("fix the credentials"), "{}", logged[0]);
    assert!(
        logged[0].ends_with("the pass stopped its writes and changed no status for it"),
        "{}",
        logged[0]
    );
}

#[test]
fn a_store_conflict_prints_what_failed_and_what_to_do_once() {
    let w = two_hundred();
    let stale = w.config(id(1));
    let mut fresh = stale.clone();
    fresh.set_company(None);
    block_on(w.store.write_config(fresh)).expect("a first write");
    let error = block_on(w.store.write_config(stale)).expect_err("a stale write");
    let err = SyncError::Store {
        context: "could not record organization 1's result".to_owned(),
        error,
    };
    assert!(err.store_error().is_some());
    assert_eq!(
        ErrorChain(&err).to_string(),
        "could not record organization 1's result: conflict: organization 1's configuration \
         changed meanwhile: the write expected version 1 but version 2 is stored; read the \
         configuration again and re-apply the change"
    );
}

#[test]
fn a_remote_error_without_advice_gets_the_fix_of_its_kind_once() {
    let cases = [
        (
            Remote::ServiceNow,
            ApiErrorKind::Unauthorized,
            "check the ServiceNow user name and password (and the OAuth client)",
        ),
        (
            Remote::NinjaOne,
            ApiErrorKind::Forbidden,
            "give the NinjaOne API application the scopes it needs (monitoring for reads)",
        ),
        (
            Remote::ServiceNow,
            ApiErrorKind::RateLimited { retry_after: None },
            "retry later",
        ),
    ];
    for (remote, kind, fix) in cases {
        let err = SyncError::Remote {
            remote,
            context: format!("could not list {remote}'s records"),
            error: ApiError::new(kind, "answered badly"),
        };
        let chain = ErrorChain(&err).to_string();
        assert_eq!(
            chain,
            format!("could not list {remote}'s records: {kind}: answered badly; {fix}")
        );
        // An error that says its own fix does not get a second one.
        let err = SyncError::Remote {
            remote,
            context: "could not list".to_owned(),
            error: ApiError::new(kind, "answered badly").with_advice("do this"),
        };
        assert_eq!(
            ErrorChain(&err).to_string(),
            format!("could not list: {kind}: answered badly; do this")
        );
    }
}
