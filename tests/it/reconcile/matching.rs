//! Matching organizations to companies.

use super::*;

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
    let w = active(ninja, snow);

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
    let w = active(ninja, snow);

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
    let w = active(ninja, snow);

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
        let w = active(ninja, snow);

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
    let w = active(ninja, snow);
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
    let w = active(ninja, snow);
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
    let w = world(
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
