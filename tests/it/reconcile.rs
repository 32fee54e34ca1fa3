//! The reconcile pass of `OrganizationSync` (what one pass does): request counts, name matching,
//! renames, removals, the deletion guard, unknown listings, modes, Customer Service Management,
//! dry runs and refused credentials.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::setup::Setup;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::executor::block_on;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, ConfigDraft, EngineOptions, ErrorChain, FailureKind, NextRun,
    OrganizationSync, Outcome, Report, ReportDetail, Stop, StoppedReport, SyncError,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{
    Alert, AuditAction, AuditFilter, AuditOutcome, Company, Device, DeviceRole, IntegrationMode,
    Organization, OrganizationDetailed, OrganizationId, RowError, SyncConfig, SyncStatus, SysId,
};
use ninjaone_servicenow::plan::{
    Decision, Observed, Plan, Policy, Snapshot, UnmatchedPolicy, plan,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{
    ApiError, ApiErrorKind, ConfigStore, NinjaOneApi, Page, PageRequest, Remote,
};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, customer_name, fixed_time};

// ---- harness ----

fn id(n: u32) -> OrganizationId {
    OrganizationId::new(n).expect("a valid organization id")
}

fn index(n: usize) -> OrganizationId {
    id(u32::try_from(n).expect("a small index"))
}

/// Both fakes, a store, a manual clock and the service over them.
struct World {
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    store: MemoryStore,
    sync: OrganizationSync,
    admin: Actor,
}

impl World {
    fn new(
        ninja: FakeNinjaOne,
        snow: FakeServiceNow,
        setup: impl Into<Setup>,
        mode: IntegrationMode,
    ) -> Self {
        Self::with_api(Arc::new(ninja.clone()), ninja, snow, setup, mode)
    }

    fn active(ninja: FakeNinjaOne, snow: FakeServiceNow) -> Self {
        Self::new(ninja, snow, Policy::default(), IntegrationMode::Active)
    }

    /// `api` is what the service calls; `ninja` is the fake behind it.
    fn with_api(
        api: Arc<dyn NinjaOneApi>,
        ninja: FakeNinjaOne,
        snow: FakeServiceNow,
        setup: impl Into<Setup>,
        mode: IntegrationMode,
    ) -> Self {
        let setup = setup.into();
        let store = MemoryStore::new();
        let clock = ManualClock::new(fixed_time());
        let sync = OrganizationSync::new(Ports::new(
            api,
            Arc::new(snow.clone()),
            Arc::new(store.clone()),
            Arc::new(clock),
        ))
        .policy(setup.policy)
        .options(setup.options);
        let admin = Actor::administrator("a");
        block_on(sync.set_mode(&admin, mode)).expect("set the mode");
        Self {
            ninja,
            snow,
            store,
            sync,
            admin,
        }
    }

    fn run(&self) -> Report {
        block_on(self.sync.run_once(ApplyMode::Apply)).expect("a pass")
    }

    /// A pass that must stop on refused credentials: the `Err`'s report.
    fn run_refused(&self) -> Report {
        match block_on(self.sync.run_once(ApplyMode::Apply)) {
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                other => panic!("a sync report, not {other:?}"),
            },
            other => panic!("expected SyncError::CredentialsRefused, got {other:?}"),
        }
    }

    fn configs(&self) -> Vec<SyncConfig> {
        block_on(self.store.configs()).expect("read the configurations")
    }

    fn config(&self, org: OrganizationId) -> SyncConfig {
        block_on(self.store.config(org))
            .expect("read a configuration")
            .unwrap_or_else(|| panic!("organization {org} has a configuration"))
    }

    fn has_config(&self, org: OrganizationId) -> bool {
        block_on(self.store.config(org))
            .expect("read a configuration")
            .is_some()
    }

    fn audit_len(&self) -> usize {
        block_on(self.store.audit(&AuditFilter::all()))
            .expect("read the audit log")
            .len()
    }

    fn reset_counts(&self) {
        self.ninja.faults().reset_counts();
        self.snow.faults().reset_counts();
    }

    /// Companies in ServiceNow with exactly this name.
    fn companies_named(&self, name: &str) -> Vec<SysId> {
        self.snow
            .all_companies()
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.sys_id)
            .collect()
    }

    /// The only company with exactly this name.
    fn company_named(&self, name: &str) -> SysId {
        let found = self.companies_named(name);
        assert_eq!(found.len(), 1, "exactly one company is named {name:?}");
        found.into_iter().next().expect("one company")
    }
}

fn outcome(report: &Report, org: OrganizationId) -> &Outcome {
    &report
        .outcome(org)
        .unwrap_or_else(|| panic!("the report has a line for organization {org}"))
        .outcome
}

fn reason(config: &SyncConfig) -> &str {
    config.status_reason().unwrap_or_default()
}

// ---- request counts ----

/// A full pass over `n` organizations and `c` companies (companies 1..=c match organizations
/// 1..=c), then a second pass that has nothing to do.
fn check_request_counts(n: usize, c: usize, page: u32) {
    let ninja = FakeNinjaOne::builder().organizations(n).build();
    let snow = FakeServiceNow::builder().companies(c).build();
    let w = World::new(
        ninja,
        snow,
        EngineOptions::builder().page_size(page).build(),
        IntegrationMode::Active,
    );
    let page_rows = usize::try_from(page).expect("a small page");
    let pages = |rows: usize| rows.div_ceil(page_rows);

    let report = w.run();
    let (nf, sf) = (w.ninja.faults(), w.snow.faults());
    assert!(
        nf.calls(NinjaOneMethod::Organizations) <= pages(n) + 1,
        "{:?}",
        nf.call_counts()
    );
    assert!(
        sf.calls(ServiceNowMethod::Companies) <= pages(c) + 1,
        "{:?}",
        sf.call_counts()
    );
    assert_eq!(
        nf.calls(NinjaOneMethod::Organization),
        0,
        "no per-organization read"
    );
    assert_eq!(
        sf.calls(ServiceNowMethod::Company),
        0,
        "no per-company read"
    );
    let counts = &report;
    assert_eq!((counts.matched, counts.created), (c, n - c));
    assert_eq!(sf.writes_of(ServiceNowMethod::CreateCompany), n - c);
    assert_eq!(sf.calls(ServiceNowMethod::CreateCompany), n - c);
    assert_eq!(report.remote_writes, n - c);
    assert_eq!(
        w.snow.all_companies().len(),
        n,
        "one company per organization"
    );
    let configs = w.configs();
    assert_eq!(configs.len(), n);
    assert!(configs.iter().all(|c| c.status() == SyncStatus::Active));

    // Nothing changed: nothing is written anywhere.
    let audit = w.audit_len();
    w.reset_counts();
    let again = w.run();
    assert_eq!(again.remote_writes, 0);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert!(w.snow.faults().calls(ServiceNowMethod::Companies) <= pages(n) + 1);
    assert_eq!(again.unchanged, n);
    assert_eq!(w.configs(), configs, "no configuration was written again");
    assert_eq!(w.audit_len(), audit, "no audit entry was written");
}

#[test]
fn a_pass_reads_whole_pages_and_writes_once_per_created_company() {
    check_request_counts(250, 120, 50);
}

#[test]
fn request_counts_hold_when_listings_are_exact_multiples_of_the_page() {
    check_request_counts(200, 100, 50);
    // The fakes end such a listing with one empty page, as the real APIs do: exactly +1.
    let w = World::new(
        FakeNinjaOne::builder().organizations(100).build(),
        FakeServiceNow::builder().companies(100).build(),
        EngineOptions::builder().page_size(50).build(),
        IntegrationMode::Active,
    );
    w.run();
    assert_eq!(w.ninja.faults().calls(NinjaOneMethod::Organizations), 3);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::Companies), 3);
}

// ---- matching ----

#[test]
fn names_differing_in_case_whitespace_or_width_map_to_the_existing_company() {
    let pairs = [
        ("  acme \t  CORP ", "Acme Corp"),
        ("Ｆａｂｒｉｋａｍ　Ｌｅｇａｌ", "Fabrikam Legal"),
        ("Northwind\u{00A0}\u{00A0}Traders", "northwind traders"),
        ("ﬁnance ﬁrm", "Finance Firm"),
        ("ÅNGSTRÖM\nAB", "ångström ab"),
    ];
    let ninja = FakeNinjaOne::new();
    let snow = FakeServiceNow::new();
    // Decoys that share words but not the whole name.
    for decoy in [
        "Acme",
        "Acme Corporation",
        "Fabrikam",
        "Northwind",
        "Finance",
    ] {
        snow.add_company(decoy, true);
    }
    let expected: Vec<(OrganizationId, SysId)> = pairs
        .iter()
        .map(|(org, company)| {
            let sys = snow.add_company(*company, true);
            (ninja.add_organization(*org).expect("an id"), sys)
        })
        .collect();
    let w = World::active(ninja, snow);

    let report = w.run();
    assert_eq!(
        w.snow.faults().calls(ServiceNowMethod::CreateCompany),
        0,
        "nothing created"
    );
    for (org, sys) in &expected {
        match outcome(&report, *org) {
            Outcome::Matched { company, .. } => assert_eq!(company, sys, "organization {org}"),
            other => panic!("organization {org}: {other}"),
        }
        let config = w.config(*org);
        assert_eq!(config.status(), SyncStatus::Active);
        assert_eq!(config.company(), Some(sys));
    }
}

#[test]
fn query_syntax_and_unicode_in_names_match_exactly_the_same_name() {
    let targets = [
        "Acme^Beta",
        "a=b",
        "Smith, Jones",
        "javascript:alert(1)",
        "^NQname=Other",
        "Zürich Straße 株式会社 🚀",
        "Café Crème",
    ];
    let decoys = [
        "Other",
        "Acme",
        "Beta",
        "a",
        "b",
        "Smith",
        "Jones",
        "javascript",
        "alert(1)",
        "NQname=Other",
        "name=Other",
        "Zurich Strasse",
        "株式会社",
        "Cafe Creme",
    ];
    let ninja = FakeNinjaOne::new();
    let snow = FakeServiceNow::new();
    for decoy in decoys {
        snow.add_company(decoy, true);
    }
    let expected: Vec<(OrganizationId, SysId)> = targets
        .iter()
        .map(|name| {
            let sys = snow.add_company(*name, true);
            (ninja.add_organization(*name).expect("an id"), sys)
        })
        .collect();
    // Same name in another case still maps to the same company and no other.
    let upper = ninja.add_organization("ACME^beta ").expect("an id");
    let w = World::active(ninja, snow);

    let report = w.run();
    assert_eq!(
        w.snow.faults().calls(ServiceNowMethod::CreateCompany),
        0,
        "nothing created"
    );
    assert_eq!(w.snow.all_companies().len(), targets.len() + decoys.len());
    for (org, sys) in &expected[1..] {
        assert!(
            matches!(outcome(&report, *org), Outcome::Matched { company, .. } if company == sys),
            "organization {org}: {}",
            outcome(&report, *org)
        );
        assert_eq!(w.config(*org).company(), Some(sys));
    }
    // "Acme^Beta" and "ACME^beta " share a name: neither gets the company (nor "Acme"/"Beta").
    for org in [expected[0].0, upper] {
        let config = w.config(org);
        assert_eq!(config.status(), SyncStatus::Inactive);
        assert_eq!(config.company(), None);
        assert!(
            reason(&config).contains("share the name"),
            "{}",
            reason(&config)
        );
    }
}

#[test]
fn several_companies_with_the_name_is_an_ambiguity_that_maps_nothing() {
    let ninja = FakeNinjaOne::new();
    let org = ninja.add_organization("Globex").expect("an id");
    let snow = FakeServiceNow::new();
    let first = snow.add_company("Globex", true);
    let second = snow.add_company(" GLOBEX ", false);
    snow.add_company("Globex Corporation", true);
    let w = World::active(ninja, snow);

    let report = w.run();
    assert!(matches!(
        outcome(&report, org),
        Outcome::Failed {
            kind: FailureKind::Permanent,
            ..
        }
    ));
    let config = w.config(org);
    assert_eq!(config.status(), SyncStatus::Inactive);
    assert_eq!(config.company(), None);
    for sys in [&first, &second] {
        assert!(
            reason(&config).contains(sys.as_str()),
            "{}",
            reason(&config)
        );
    }
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    // An inactive configuration waits for a person: later passes do not retry it.
    w.run();
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert_eq!(w.config(org).status(), SyncStatus::Inactive);
}

#[test]
fn organizations_sharing_a_name_get_no_company() {
    for with_company in [false, true] {
        let ninja = FakeNinjaOne::new();
        let a = ninja.add_organization("Initech").expect("an id");
        let b = ninja.add_organization("  INITECH").expect("an id");
        let other = ninja
            .add_organization("Vandelay Industries")
            .expect("an id");
        let snow = FakeServiceNow::new();
        let existing = with_company.then(|| snow.add_company("Initech", true));
        let w = World::active(ninja, snow);

        w.run();
        for org in [a, b] {
            let config = w.config(org);
            assert_eq!(
                config.status(),
                SyncStatus::Inactive,
                "company exists: {with_company}"
            );
            assert_eq!(config.company(), None);
            let why = reason(&config);
            assert!(why.contains("share the name"), "{why}");
            assert!(
                why.contains(&a.to_string()) && why.contains(&b.to_string()),
                "{why}"
            );
        }
        // Only the unrelated organization got a company; never two "Initech"s.
        assert_eq!(
            w.snow.faults().writes_of(ServiceNowMethod::CreateCompany),
            1
        );
        assert_eq!(w.config(other).status(), SyncStatus::Active);
        let initechs = w.companies_named("Initech");
        assert_eq!(initechs, existing.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn a_company_mapped_to_one_organization_is_not_given_to_another_of_the_same_name() {
    let ninja = FakeNinjaOne::new();
    let a = ninja.add_organization("Umbrella").expect("an id");
    let snow = FakeServiceNow::new();
    let umbrella = snow.add_company("Umbrella", true);
    let w = World::active(ninja, snow);
    w.run();
    assert_eq!(w.config(a).company(), Some(&umbrella));

    let b = w.ninja.add_organization("UMBRELLA").expect("an id");
    w.run();
    let config = w.config(b);
    assert_eq!(config.status(), SyncStatus::Inactive);
    assert_eq!(config.company(), None);
    assert_eq!(
        w.config(a).company(),
        Some(&umbrella),
        "A keeps its company"
    );
    assert_eq!(w.config(a).status(), SyncStatus::Active);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
}

#[test]
fn a_company_held_by_a_renamed_organization_is_not_taken_by_a_new_one() {
    let ninja = FakeNinjaOne::new();
    let a = ninja.add_organization("Umbrella").expect("an id");
    let snow = FakeServiceNow::new();
    let umbrella = snow.add_company("Umbrella", true);
    let w = World::active(ninja, snow);
    w.run();
    w.ninja.rename_organization(a, "Umbrella Holdings");
    let b = w.ninja.add_organization("Umbrella").expect("an id");

    let report = w.run();
    let config = w.config(b);
    assert_eq!(config.status(), SyncStatus::Inactive);
    assert_eq!(config.company(), None);
    let why = reason(&config);
    assert!(
        why.contains(umbrella.as_str()) && why.contains(&a.to_string()),
        "{why}"
    );
    assert_eq!(w.config(a).company(), Some(&umbrella));
    assert_eq!(w.config(a).status(), SyncStatus::Active);
    assert_eq!(report.remote_writes, 0);
    assert_eq!(w.companies_named("Umbrella"), vec![umbrella]);
}

#[test]
fn leave_unmapped_creates_nothing_and_says_why() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    let snow = FakeServiceNow::builder().companies(1).build();
    let w = World::new(
        ninja,
        snow,
        Policy::builder()
            .unmatched(UnmatchedPolicy::LeaveUnmapped)
            .build(),
        IntegrationMode::Active,
    );

    let report = w.run();
    assert_eq!(report.matched, 1);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert_eq!(w.snow.all_companies().len(), 1);
    for n in [2, 3] {
        let config = w.config(id(n));
        assert_eq!(config.status(), SyncStatus::Inactive);
        assert_eq!(config.company(), None);
        assert!(
            reason(&config).contains("no ServiceNow company is named"),
            "{}",
            reason(&config)
        );
    }
}

// ---- renames and removals ----

#[test]
fn renaming_either_side_keeps_the_mapping_and_reports_drift() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    let snow = FakeServiceNow::builder().companies(3).build();
    let full = EngineOptions::builder().report(ReportDetail::Full).build();
    let w = World::new(ninja, snow, full, IntegrationMode::Active);
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
    let w = World::active(ninja, snow);
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
    let w = World::active(
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
    let w = World::active(
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

// ---- deletion guard ----

/// 200 organizations mapped to 200 companies, all active.
fn two_hundred() -> World {
    let w = World::active(
        FakeNinjaOne::builder().organizations(200).build(),
        FakeServiceNow::builder().companies(200).build(),
    );
    assert_eq!(w.run().matched, 200);
    w
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

// ---- unknown, never absent ----

#[test]
fn a_failed_organization_listing_is_unknown_never_absent() {
    let w = World::active(
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

/// A NinjaOne whose organization listing can be made to carry one row that failed to decode.
#[derive(Debug)]
struct RejectingNinja {
    inner: FakeNinjaOne,
    reject: AtomicBool,
}

#[async_trait]
impl NinjaOneApi for RejectingNinja {
    async fn organizations(&self, request: PageRequest) -> Result<Page<Organization>, ApiError> {
        let first = request.after().is_none();
        let page = self.inner.organizations(request).await?;
        if first && self.reject.load(Ordering::SeqCst) {
            return Ok(page.with_rejected(vec![RowError {
                index: 0,
                id_prefix: Some("2".to_owned()),
                message: "invalid type: map, expected a string at line 1 column 20".to_owned(),
            }]));
        }
        Ok(page)
    }

    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError> {
        self.inner.organization(id).await
    }

    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
        self.inner.device_roles().await
    }

    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError> {
        self.inner.devices(page).await
    }

    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError> {
        self.inner.organization_devices(organization, page).await
    }

    async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
        self.inner.alerts().await
    }

    async fn device_alerts(
        &self,
        device: ninjaone_servicenow::model::DeviceId,
    ) -> Result<Vec<Alert>, ApiError> {
        self.inner.device_alerts(device).await
    }

    async fn devices_detailed(
        &self,
        page: ninjaone_servicenow::ports::PageRequest,
    ) -> Result<
        ninjaone_servicenow::ports::Page<ninjaone_servicenow::model::DetailedDevice>,
        ninjaone_servicenow::ports::ApiError,
    > {
        self.inner.devices_detailed(page).await
    }
}

#[test]
fn an_incomplete_organization_listing_is_unknown_never_absent() {
    // The fake never rejects rows itself, so a thin wrapper adds one undecodable row.
    let ninja = FakeNinjaOne::builder().organizations(4).build();
    let api = Arc::new(RejectingNinja {
        inner: ninja.clone(),
        reject: AtomicBool::new(false),
    });
    let w = World::with_api(
        api.clone(),
        ninja,
        FakeServiceNow::builder().companies(4).build(),
        Policy::default(),
        IntegrationMode::Active,
    );
    w.run();
    w.ninja.remove_organization(id(2)); // the row that "failed to decode"
    api.reject.store(true, Ordering::SeqCst);
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

    api.reject.store(false, Ordering::SeqCst);
    assert_eq!(outcome(&w.run(), id(2)), &Outcome::Deleted);
}

fn organization(n: u32, name: &str) -> Organization {
    serde_json::from_value(serde_json::json!({ "id": n, "name": name })).expect("organization")
}

fn company(n: u64, name: &str) -> Company {
    serde_json::from_value(serde_json::json!({ "sys_id": format!("{n:032x}"), "name": name }))
        .expect("company")
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

fn decision(p: &Plan, org: u32) -> &Decision {
    &p.items
        .iter()
        .find(|i| i.organization == id(org))
        .unwrap_or_else(|| panic!("an item for organization {org}"))
        .decision
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
    let w = World::active(
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

// ---- modes ----

#[test]
fn disabled_mode_makes_no_remote_call_and_changes_nothing() {
    // A new store is disabled.
    let fresh = World::new(
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
    let w = World::active(
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
    let w = World::new(
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

// ---- Customer Service Management ----

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
    let w = World::new(
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
    let w = World::new(
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

// ---- dry run ----

#[test]
fn a_dry_run_returns_the_plan_and_writes_nothing() {
    let w = World::new(
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

// ---- refused credentials ----

#[test]
fn refused_credentials_on_a_create_stop_the_pass_and_fail_no_configuration() {
    let w = World::new(
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
    let w = World::active(
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
    let w = World::new(ninja, snow, Policy::default(), IntegrationMode::Inactive);
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
// ---- compact reports, errors a host cannot miss ----

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
    let w = World::new(
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
    let w = World::active(
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
