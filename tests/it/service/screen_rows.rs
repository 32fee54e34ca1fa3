//! Screen rows, the Add dialog and the company directory.

use super::*;

#[test]
fn list_and_get_return_rows_with_names_and_make_no_remote_request() {
    let w = world(IntegrationMode::Inactive);
    let draft = ConfigDraft::new(org(1), w.company(1))
        .customer_account(w.company_named(INITECH))
        .ci_mapping(mapping_name("servers"))
        .allow_incidents(true);
    block_on(w.sync.add(&w.admin, draft)).expect("add organization 1");
    w.ninja.faults().reset_counts();
    w.snow.faults().reset_counts();

    let rows = block_on(w.sync.list(&w.admin)).expect("list");
    let row = block_on(w.sync.get(&w.admin, org(1)))
        .expect("get")
        .expect("organization 1 is configured");
    assert_eq!(w.remote_calls(), 0, "a list view costs no remote request");
    assert_eq!(rows, vec![row.clone()]);
    assert_eq!(row.organization(), org(1));
    assert_eq!(row.organization_name(), Some(customer_name(1).as_str()));
    assert_eq!(row.company(), Some(&w.company(1)));
    assert_eq!(row.company_name(), Some(customer_name(1).as_str()));
    assert_eq!(row.customer_account_name(), Some(INITECH));
    assert_eq!(row.status(), SyncStatus::Pending);
    assert_eq!(row.status_reason(), None);
    assert!(row.allow_incidents());
    assert!(row.ci_mappings().contains(&mapping_name("servers")));
}

#[test]
fn add_and_update_results_carry_the_names_their_checks_looked_up() {
    let w = world(IntegrationMode::Inactive);
    let added = block_on(w.sync.add(&w.admin, ConfigDraft::new(org(2), w.company(2))))
        .expect("add organization 2");
    assert_eq!(
        added.config.organization_name(),
        Some(customer_name(2).as_str())
    );
    assert_eq!(added.config.company_name(), Some(customer_name(2).as_str()));
    assert_eq!(added.config, w.config(org(2)), "the saved row, as stored");

    let globex = w.company_named(GLOBEX);
    let updated = block_on(w.sync.update(
        &w.admin,
        org(2),
        ConfigChanges::new().company(globex.clone()),
    ))
    .expect("map another company");
    assert_eq!(updated.company(), Some(&globex));
    assert_eq!(
        updated.company_name(),
        Some(GLOBEX),
        "the new company's name"
    );
    assert_eq!(
        updated.organization_name(),
        Some(customer_name(2).as_str()),
        "kept"
    );

    let calls = w.remote_calls();
    let toggled = block_on(w.sync.update(
        &w.admin,
        org(2),
        ConfigChanges::new().allow_incidents(true),
    ))
    .expect("allow incidents");
    assert_eq!(w.remote_calls(), calls, "nothing to look up");
    assert_eq!(toggled.company_name(), Some(GLOBEX), "names kept");
}

/// Organization 1 active on company 1, organization 2 deleted (its company 2 is free again).
fn dialog_world() -> World {
    let w = world(IntegrationMode::Inactive);
    w.seed(1, SyncStatus::Active);
    w.seed(2, SyncStatus::Deleted);
    w
}

#[test]
fn the_add_dialog_offers_free_organizations_with_a_suggested_company() {
    let w = dialog_world();
    let dialog = block_on(w.sync.add_dialog(&w.admin)).expect("open the dialog");

    let offered: Vec<(OrganizationId, bool, Option<SysId>)> = dialog
        .organizations()
        .iter()
        .map(|o| {
            (
                o.id(),
                o.has_deleted_config(),
                o.suggested_company().map(|c| c.sys_id().clone()),
            )
        })
        .collect();
    assert_eq!(
        offered,
        vec![
            (org(2), true, Some(w.company(2))),
            (org(3), false, Some(w.company(3))),
        ],
        "organization 1 is configured; a deleted configuration counts as free"
    );
    assert_eq!(dialog.organizations()[0].name(), customer_name(2));
    let names: Vec<&str> = dialog
        .ci_mappings()
        .iter()
        .map(|m| m.name().as_str())
        .collect();
    assert_eq!(names, vec!["servers"]);
    let first = dialog
        .directory()
        .company(&w.company(1))
        .expect("company 1 is listed");
    assert_eq!(first.taken_by(), Some(org(1)), "taken, with its holder");
    assert_eq!(
        dialog
            .directory()
            .company(&w.company(2))
            .and_then(|c| c.taken_by()),
        None
    );
    assert!(dialog.directory().customer_service_management());
    assert_eq!(
        dialog.directory().search_customer_accounts("init", 5)[0].name(),
        INITECH
    );

    // A technician sees only the organizations they may manage.
    let tech = Actor::technician("tom")
        .with_integration_permission()
        .seeing([org(3)]);
    let dialog = block_on(w.sync.add_dialog(&tech)).expect("open the dialog");
    let ids: Vec<OrganizationId> = dialog
        .organizations()
        .iter()
        .map(ninjaone_servicenow::engine::AddableOrganization::id)
        .collect();
    assert_eq!(ids, vec![org(3)]);
    let nobody = Actor::technician("nina");
    assert!(matches!(
        block_on(w.sync.add_dialog(&nobody)),
        Err(SyncError::PermissionDenied { .. })
    ));
}

#[test]
fn a_suggestion_needs_exactly_one_free_company_of_the_same_normalised_name() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    let snow = FakeServiceNow::builder()
        .companies(3)
        // A second company named like organization 2 (in another case and spacing).
        .company(format!("  {}  ", customer_name(2).to_uppercase()), true)
        .build();
    let w = world_with(ninja, snow, IntegrationMode::Inactive);
    // Organization 3's company is mapped by organization 1.
    let mut config = SyncConfig::new(org(1), Some(w.company(3)), fixed_time());
    config
        .apply(SyncEvent::Enqueue, None, fixed_time())
        .expect("enqueue");
    block_on(w.store.write_config(config)).expect("seed");

    let dialog = block_on(w.sync.add_dialog(&w.admin)).expect("open the dialog");
    let suggested: Vec<(OrganizationId, Option<&str>)> = dialog
        .organizations()
        .iter()
        .map(|o| (o.id(), o.suggested_company().map(DirectoryMatch::name)))
        .collect();
    assert_eq!(
        suggested,
        vec![(org(2), None), (org(3), None)],
        "two companies of one name, or a taken one, suggest nothing"
    );
}

#[test]
fn directory_search_puts_the_sys_id_then_prefix_then_substring_matches() {
    let snow = FakeServiceNow::builder()
        .company("Zeta ACME corp", true)
        .company("Other", true)
        .company("Acme Dental", true)
        .company("Big Acme", true)
        .company("ACME", true)
        .build();
    let w = world_with(FakeNinjaOne::new(), snow, IntegrationMode::Inactive);
    let directory = block_on(w.sync.company_directory(&w.admin)).expect("the directory");
    let calls = w.remote_calls();
    let names = |query: &str, limit: usize| -> Vec<String> {
        directory
            .search_companies(query, limit)
            .iter()
            .map(|m| m.name().to_owned())
            .collect()
    };

    assert_eq!(
        names("acme", 10),
        ["ACME", "Acme Dental", "Big Acme", "Zeta ACME corp"],
        "prefix matches in name order, then substring matches"
    );
    assert_eq!(names("acme", 2), ["ACME", "Acme Dental"], "the limit");
    assert_eq!(
        names("  ACME\u{00A0} dental ", 10),
        ["Acme Dental"],
        "normalised"
    );
    assert_eq!(names("", 2), ["ACME", "Acme Dental"], "no query: by name");
    assert_eq!(names("nothing like it", 10), Vec::<String>::new());
    let other = w.company_named("Other");
    assert_eq!(
        names(other.as_str(), 10),
        ["Other"],
        "an exact sys_id finds its company"
    );
    assert_eq!(names("acme", 0), Vec::<String>::new());
    // A query is never sent anywhere: ServiceNow-looking syntax is just text.
    assert_eq!(names("name=ACME^ORname!=x", 10), Vec::<String>::new());
    assert_eq!(w.remote_calls(), calls, "searching makes no request");
}

#[test]
fn the_add_dialog_costs_its_listings_cold_only_the_organizations_warm_and_nothing_per_keystroke() {
    let ninja = FakeNinjaOne::builder().organizations(10).build();
    let snow = FakeServiceNow::builder().companies(10_000).build();
    let clock = ManualClock::new(fixed_time());
    let store = MemoryStore::new();
    block_on(store.set_mode(IntegrationMode::Active)).expect("set the mode");
    let sync = OrganizationSync::new(Ports::new(
        Arc::new(ninja.clone()),
        Arc::new(snow.clone()),
        Arc::new(store),
        Arc::new(clock.clone()),
    ))
    .directory_max_age(std::time::Duration::from_secs(600));
    let admin = Actor::administrator("alice");
    let counts = || {
        (
            ninja.faults().calls(NinjaOneMethod::Organizations),
            snow.faults().calls(ServiceNowMethod::Companies),
            snow.faults()
                .calls(ServiceNowMethod::CustomerServiceManagement),
            ninja.faults().total_calls() + snow.faults().total_calls(),
        )
    };

    // Cold: 1 organization page, 10 full company pages of 1,000 and the empty 11th, 1 CSM
    // detection.
    let dialog = block_on(sync.add_dialog(&admin)).expect("a cold open");
    assert_eq!(counts(), (1, 11, 1, 13));
    assert_eq!(dialog.directory().company_count(), 10_000);
    assert_eq!(dialog.directory().listing_requests(), 12);
    assert_eq!(dialog.organizations().len(), 10);

    // Typing: nothing.
    for typed in ["c", "co", "con", "cont", "conto", "contos", "contoso"] {
        assert!(!dialog.directory().search_companies(typed, 20).is_empty());
    }
    assert_eq!(counts().3, 13, "0 requests per keystroke");

    // Warm: the organization page only.
    clock.advance(chrono::Duration::seconds(600));
    block_on(sync.add_dialog(&admin)).expect("a warm open");
    assert_eq!(counts(), (2, 11, 1, 14));

    // Older than the maximum age: ServiceNow is listed again.
    clock.advance(chrono::Duration::seconds(1));
    block_on(sync.add_dialog(&admin)).expect("a stale open");
    assert_eq!(counts(), (3, 22, 2, 27));

    // A refresh lists again at once.
    block_on(sync.refresh_company_directory(&admin)).expect("refresh");
    assert_eq!(counts().1, 33);

    // A pass that creates a company drops the cache, so the next open lists it.
    ninja.add_organization("Brand New Org");
    block_on(sync.run_once(ApplyMode::Apply)).expect("a pass");
    assert_eq!(snow.faults().writes_of(ServiceNowMethod::CreateCompany), 1);
    let before = counts().1;
    let dialog = block_on(sync.add_dialog(&admin)).expect("open after the pass");
    assert_eq!(counts().1, before + 11, "listed again");
    assert_eq!(
        dialog.directory().search_companies("brand new", 5)[0].name(),
        "Brand New Org"
    );
}

#[test]
fn a_directory_prints_counts_not_every_company_name() {
    let snow = FakeServiceNow::builder().companies(50).build();
    let w = world_with(FakeNinjaOne::new(), snow, IntegrationMode::Inactive);
    let directory = block_on(w.sync.company_directory(&w.admin)).expect("the directory");
    let printed = format!("{directory:?}");
    assert!(printed.contains("companies: 50"), "{printed}");
    assert!(!printed.contains(&customer_name(1)), "{printed}");
    // The service's own cache prints the same way (its fakes print what they hold).
    let service = format!("{:?}", w.sync);
    let cache = service
        .split("directory: ")
        .nth(1)
        .expect("the service prints its directory cache");
    assert!(cache.contains("companies: 50"), "{cache}");
    assert!(!cache.contains(&customer_name(1)), "{cache}");
}
