//! The in-memory fakes behave like the real APIs: paging, fault injection, counts, Customer
//! Service Management, incidents and the Identification and Reconciliation API.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::TimeDelta;
use futures::executor::block_on;
use ninjaone_servicenow::model::{
    CiItem, CiOperation, CorrelationId, DeviceRoleId, IncidentState, IncidentUpdate, Level,
    NewCompany, NewIncident, OrganizationId, SysId,
};
use ninjaone_servicenow::ports::{
    ApiErrorKind, Cursor, IncidentQuery, NinjaOneApi, PageRequest, ServiceNowApi, collect_all,
};
use ninjaone_servicenow::testing::{
    FakeNinjaOne, FakeServiceNow, Faults, customer_name, fixed_time,
};

fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).unwrap()
}

fn new_company(name: &str) -> NewCompany {
    NewCompany {
        name: name.to_owned(),
        customer: true,
    }
}

fn new_incident(correlation: &str) -> NewIncident {
    NewIncident {
        short_description: "Disk almost full".into(),
        description: "C: has 2% free".into(),
        company: None,
        account: None,
        cmdb_ci: None,
        correlation_id: correlation.parse().unwrap(),
        correlation_display: "NinjaOne".into(),
        urgency: Level::Medium,
        impact: Level::Low,
        assignment_group: None,
        caller_id: None,
        category: None,
        subcategory: None,
        contact_type: None,
    }
}

fn ci(class: &str, values: &[(&str, &str)]) -> CiItem {
    CiItem {
        class_name: class.parse().unwrap(),
        values: values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        internal_id: Some("item".into()),
        source: None,
    }
}

#[test]
fn organizations_page_every_record_exactly_once() {
    for (n, page, pages) in [(25, 10, 3), (30, 10, 4), (0, 10, 1), (1, 1, 2), (7, 100, 1)] {
        let ninja = FakeNinjaOne::builder().organizations(n).build();
        let listing = block_on(collect_all(PageRequest::first(page), 100, |r| {
            ninja.organizations(r)
        }))
        .unwrap();
        let ids: Vec<u32> = listing.items.iter().map(|o| o.id.get()).collect();
        let expected: Vec<u32> = (1..=u32::try_from(n).unwrap()).collect();
        assert_eq!(ids, expected, "n={n} page={page}");
        // An exact multiple of the page size ends with one empty page, as the real API does.
        assert_eq!(listing.pages, pages, "n={n} page={page}");
        assert_eq!(ninja.faults().calls(NinjaOneMethod::Organizations), pages);
    }
}

#[test]
fn the_cursor_is_the_last_id_and_bad_cursors_are_errors() {
    let ninja = FakeNinjaOne::builder().organizations(5).build();
    let first = block_on(ninja.organizations(PageRequest::first(2))).unwrap();
    assert_eq!(first.next, Some(Cursor::new("2")));
    let after_gap =
        block_on(ninja.organizations(PageRequest::first(2).next(Cursor::new("4")))).unwrap();
    assert_eq!(after_gap.items.len(), 1);
    assert_eq!(after_gap.next, None);
    for bad in ["x", "-1", "99999999999"] {
        let err = block_on(ninja.organizations(PageRequest::first(2).next(Cursor::new(bad))))
            .unwrap_err();
        assert_eq!(err.kind(), ApiErrorKind::Other, "{bad}");
    }
}

#[test]
fn devices_page_and_filter_by_organization() {
    let ninja = FakeNinjaOne::builder()
        .organizations(4)
        .roles_standard()
        .devices_per_organization(5)
        .build();
    let all = block_on(collect_all(PageRequest::first(3), 100, |r| {
        ninja.devices(r)
    }))
    .unwrap();
    assert_eq!(all.items.len(), 20);
    let unique: BTreeSet<u32> = all.items.iter().map(|d| d.id.get()).collect();
    assert_eq!(unique.len(), 20);
    let second = block_on(collect_all(PageRequest::first(2), 100, |r| {
        ninja.organization_devices(org(2), r)
    }))
    .unwrap();
    assert_eq!(second.items.len(), 5);
    assert!(second.items.iter().all(|d| d.organization_id == org(2)));
    // 5 devices in pages of 2: 2 + 2 + 1.
    assert_eq!(second.pages, 3);
    let roles = block_on(ninja.device_roles()).unwrap();
    assert!(roles.next.is_none());
    let server = roles.items.iter().find(|r| r.id.get() == 9).unwrap();
    assert_eq!(server.name, "Windows Server");
    assert_eq!(server.node_class.as_str(), "WINDOWS_SERVER");
}

#[test]
fn organization_detail_mutators_and_alerts() {
    let ninja = FakeNinjaOne::builder()
        .organizations(2)
        .roles_standard()
        .devices_per_organization(1)
        .alerts(2)
        .build();
    let detailed = block_on(ninja.organization(org(1))).unwrap().unwrap();
    assert_eq!(detailed.organization.name, customer_name(1));
    assert_eq!(detailed.locations.len(), 1);
    assert!(!detailed.policies.is_empty());
    assert_eq!(block_on(ninja.organization(org(9))).unwrap(), None);

    let alerts = block_on(ninja.alerts()).unwrap();
    assert_eq!((alerts.items.len(), alerts.next), (2, None));
    assert!(ninja.clear_alert(&alerts.items[0].uid));
    let device = ninja.all_devices()[0].id;
    let uid = ninja
        .raise_alert(device, "Disk full", fixed_time())
        .unwrap();
    let uids: Vec<_> = block_on(ninja.alerts())
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.uid)
        .collect();
    assert_eq!(uids, vec![alerts.items[1].uid.clone(), uid]);

    let added = ninja.add_organization("Litware Pharmacy").unwrap();
    assert_eq!(added, org(3));
    assert!(ninja.rename_organization(added, "Litware Pharmacy Group"));
    let new_device = ninja.add_device(added, None, "WS-1").unwrap();
    assert!(ninja.set_device_role(new_device, DeviceRoleId::new(9).ok()));
    assert_eq!(
        ninja.all_devices().last().unwrap().node_class.as_str(),
        "WINDOWS_SERVER"
    );
    // Deleting an organization takes its devices and their alerts with it.
    assert!(ninja.remove_organization(org(1)));
    assert!(!ninja.remove_organization(org(1)));
    assert!(
        ninja
            .all_devices()
            .iter()
            .all(|d| d.organization_id != org(1))
    );
    assert_eq!(ninja.all_organizations().len(), 2);
}

#[test]
fn call_counts_and_fail_next() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 2, ApiErrorKind::Transient)
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Unauthorized);
    let kinds: Vec<_> = (0..4)
        .map(|_| block_on(ninja.organizations(PageRequest::first(10))).map_err(|e| e.kind()))
        .map(Result::err)
        .collect();
    assert_eq!(
        kinds,
        vec![
            Some(ApiErrorKind::Transient),
            Some(ApiErrorKind::Transient),
            Some(ApiErrorKind::Unauthorized),
            None
        ]
    );
    block_on(ninja.alerts()).unwrap();
    assert_eq!(ninja.faults().calls(NinjaOneMethod::Organizations), 4);
    assert_eq!(ninja.faults().calls(NinjaOneMethod::Alerts), 1);
    assert_eq!(ninja.faults().total_calls(), 5);
    assert_eq!(ninja.faults().writes(), 0);
    ninja.faults().reset_counts();
    assert_eq!(ninja.faults().total_calls(), 0);
    // A clone shares faults and counts.
    let clone = ninja.clone();
    clone
        .faults()
        .fail_next(NinjaOneMethod::Alerts, 1, ApiErrorKind::Forbidden);
    assert_eq!(
        block_on(ninja.alerts()).unwrap_err().kind(),
        ApiErrorKind::Forbidden
    );
    assert_eq!(clone.faults().calls(NinjaOneMethod::Alerts), 1);
}

#[test]
fn seeded_fail_rate_is_reproducible() {
    let run = |seed: u64| {
        let sn = FakeServiceNow::builder().companies(3).build();
        sn.faults().fail_rate(seed, 0.3, ApiErrorKind::Transient);
        (0..200)
            .map(|_| block_on(sn.companies(PageRequest::first(10))).is_err())
            .collect::<Vec<bool>>()
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert_ne!(a, run(43));
    let failures = a.iter().filter(|f| **f).count();
    assert!((30..=90).contains(&failures), "{failures} of 200");

    let sn = FakeServiceNow::new();
    sn.faults()
        .fail_rate_on(ServiceNowMethod::Company, 1, 1.0, ApiErrorKind::Transient);
    assert!(block_on(sn.companies(PageRequest::first(1))).is_ok());
    let id: SysId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    assert!(block_on(sn.company(&id)).is_err());
    sn.faults().clear_faults();
    assert_eq!(block_on(sn.company(&id)).unwrap(), None);
}

#[test]
fn commit_then_fail_commits_and_errors() {
    let sn = FakeServiceNow::new();
    sn.faults()
        .commit_then_fail(ServiceNowMethod::CreateCompany, 1, ApiErrorKind::Transient);
    let err = block_on(sn.create_company(&new_company("Contoso Dental 0001"))).unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    // It happened anyway: the caller must look before creating again.
    assert_eq!(sn.all_companies().len(), 1);
    assert_eq!(sn.faults().writes(), 1);
    block_on(sn.create_company(&new_company("Contoso Dental 0001"))).unwrap();
    assert_eq!(sn.faults().writes_of(ServiceNowMethod::CreateCompany), 2);
    assert_eq!(
        sn.all_companies().len(),
        2,
        "names are not unique in ServiceNow"
    );

    // fail_next does nothing before failing.
    sn.faults()
        .fail_next(ServiceNowMethod::CreateIncident, 1, ApiErrorKind::Transient);
    assert!(block_on(sn.create_incident(&new_incident("ninjaone:a"))).is_err());
    assert!(sn.all_incidents().is_empty());
    assert_eq!(sn.faults().writes(), 2);
}

#[test]
fn companies_page_by_sys_id_including_exact_multiples() {
    for (n, page, pages) in [(12, 4, 4), (13, 4, 4), (0, 4, 1)] {
        let sn = FakeServiceNow::builder().companies(n).build();
        let listing = block_on(collect_all(PageRequest::first(page), 100, |r| {
            sn.companies(r)
        }))
        .unwrap();
        let names: Vec<String> = listing.items.iter().map(|c| c.name.clone()).collect();
        let expected: Vec<String> = (1..=n).map(customer_name).collect();
        assert_eq!(names, expected);
        assert_eq!(listing.pages, pages, "n={n}");
        let mut ids: Vec<&SysId> = listing.items.iter().map(|c| &c.sys_id).collect();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
    let sn = FakeServiceNow::builder().companies(3).build();
    let first = block_on(sn.companies(PageRequest::first(2))).unwrap();
    assert_eq!(
        first.next.as_ref().map(Cursor::as_str),
        Some(first.items[1].sys_id.as_str())
    );
    let err = block_on(sn.companies(PageRequest::first(2).next(Cursor::new("nope")))).unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
}

#[test]
fn half_the_organizations_already_have_a_company() {
    let ninja = FakeNinjaOne::builder().organizations(10).build();
    let sn = FakeServiceNow::builder().companies(5).build();
    let companies: BTreeSet<String> = sn.all_companies().into_iter().map(|c| c.name).collect();
    let mapped = ninja
        .all_organizations()
        .iter()
        .filter(|o| companies.contains(&o.name))
        .count();
    assert_eq!(mapped, 5);
}

#[test]
fn company_mutators() {
    let sn = FakeServiceNow::new();
    let id = sn.add_company("Fabrikam", true);
    assert!(sn.rename_company(&id, "Fabrikam Inc"));
    assert_eq!(
        block_on(sn.company(&id)).unwrap().unwrap().name,
        "Fabrikam Inc"
    );
    assert!(sn.delete_company(&id));
    assert!(!sn.delete_company(&id));
    assert_eq!(block_on(sn.company(&id)).unwrap(), None);
}

#[test]
fn customer_service_management_off_is_not_found() {
    let sn = FakeServiceNow::builder()
        .customer_account("Northwind")
        .build();
    assert!(!block_on(sn.customer_service_management()).unwrap());
    let err = block_on(sn.customer_accounts(PageRequest::first(10))).unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
    assert!(
        err.message().contains("invalid table customer_account"),
        "{err}"
    );
    let id = sn.all_customer_accounts()[0].sys_id.clone();
    assert_eq!(
        block_on(sn.customer_account(&id)).unwrap_err().kind(),
        ApiErrorKind::NotFound
    );

    sn.set_customer_service_management(true);
    assert!(block_on(sn.customer_service_management()).unwrap());
    let accounts = block_on(sn.customer_accounts(PageRequest::first(10))).unwrap();
    assert_eq!(accounts.items.len(), 1);
    assert_eq!(accounts.items[0].number.as_deref(), Some("ACCT0001001"));
    // A customer account extends core_company: its sys_id is a company too.
    assert_eq!(
        block_on(sn.company(&id)).unwrap().unwrap().name,
        "Northwind"
    );

    let on = FakeServiceNow::builder()
        .customer_service_management(true)
        .build();
    assert!(
        block_on(on.customer_accounts(PageRequest::first(10)))
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn incidents_by_prefix_and_since() {
    let sn = FakeServiceNow::new();
    let t0 = fixed_time();
    let a = block_on(sn.create_incident(&new_incident("ninjaone:acme:alert:1"))).unwrap();
    assert_eq!(a.number.as_deref(), Some("INC0010001"));
    assert_eq!(a.state, IncidentState::New);
    assert_eq!(a.created_on, Some(t0));
    sn.set_now(t0 + TimeDelta::hours(1));
    let b = block_on(sn.create_incident(&new_incident("ninjaone:acme:alert:2"))).unwrap();
    assert_eq!(b.number.as_deref(), Some("INC0010002"));
    block_on(sn.create_incident(&new_incident("other:system:9"))).unwrap();
    // Duplicate correlation ids are allowed, as in ServiceNow.
    block_on(sn.create_incident(&new_incident("ninjaone:acme:alert:2"))).unwrap();

    let prefix: CorrelationId = "ninjaone:acme:".parse().unwrap();
    let query = IncidentQuery::with_prefix(prefix.clone());
    let all = block_on(collect_all(PageRequest::first(2), 10, |r| {
        sn.incidents(&query, r)
    }))
    .unwrap();
    assert_eq!(all.items.len(), 3);
    // Paged in sys_id order (the order created), across correlation ids, as an index keeps it.
    let ids: Vec<_> = all.items.iter().map(|i| i.sys_id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids[..2], [a.sys_id.clone(), b.sys_id.clone()]);
    let recent = IncidentQuery::with_prefix(prefix).created_since(t0 + TimeDelta::minutes(30));
    let recent = block_on(collect_all(PageRequest::first(2), 10, |r| {
        sn.incidents(&recent, r)
    }))
    .unwrap();
    assert_eq!(recent.items.len(), 2);
    assert!(recent.items.iter().all(|i| i.created_on > Some(t0)));
    // One alert's id is a prefix of another's ("…:1" of "…:10"): both match, as in ServiceNow.
    block_on(sn.create_incident(&new_incident("ninjaone:acme:alert:10"))).unwrap();
    let one = IncidentQuery::with_prefix("ninjaone:acme:alert:1".parse().unwrap());
    let ones = block_on(collect_all(PageRequest::first(1), 10, |r| {
        sn.incidents(&one, r)
    }))
    .unwrap();
    assert_eq!(ones.items.len(), 2);
}

#[test]
fn update_incident_and_not_found() {
    let sn = FakeServiceNow::new();
    let created = block_on(sn.create_incident(&new_incident("ninjaone:x:1"))).unwrap();
    let update = IncidentUpdate {
        state: Some(IncidentState::Resolved),
        close_code: Some("Solved (Permanently)".into()),
        close_notes: Some("the alert cleared".into()),
        work_notes: Some("resolved by the integration".into()),
    };
    let updated = block_on(sn.update_incident(&created.sys_id, &update)).unwrap();
    assert_eq!(updated.state, IncidentState::Resolved);
    assert_eq!(sn.work_notes(&created.sys_id).len(), 1);
    let missing: SysId = "ffffffffffffffffffffffffffffffff".parse().unwrap();
    let err = block_on(sn.update_incident(&missing, &update)).unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
    assert_eq!(sn.faults().writes(), 2, "the failed update wrote nothing");
}

#[test]
fn identify_reconcile_insert_update_no_change_and_item_errors() {
    let sn = FakeServiceNow::new();
    sn.reject_ci("BAD-HOST", "company reference is invalid");
    let items = vec![
        ci(
            "cmdb_ci_win_server",
            &[("name", "SRV-01"), ("company", "c1")],
        ),
        ci("cmdb_ci_win_server", &[("company", "c1")]),
        ci("cmdb_ci_win_server", &[("name", "BAD-HOST")]),
        ci(
            "cmdb_ci_linux_server",
            &[("name", "LNX-01"), ("serial_number", "SN1")],
        ),
    ];
    let first = block_on(sn.identify_reconcile("NinjaOne", &items)).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first[0].operation, Some(CiOperation::Insert));
    assert!(first[0].sys_id.is_some() && first[0].errors.is_empty());
    assert_eq!(first[0].internal_id.as_deref(), Some("item"));
    // Nothing to identify it by: kept as a partial payload, no CI, as ServiceNow answers.
    assert_eq!(first[1].operation, Some(CiOperation::InsertAsPartial));
    assert_eq!(first[1].sys_id, None);
    assert_eq!(first[1].warnings[0].kind, "MISSING_MATCHING_ATTRIBUTES");
    assert_eq!(first[1].partial_sys_ids.len(), 1);
    assert_eq!(sn.partial_payloads().len(), 1);
    assert_eq!(first[2].errors[0].message, "company reference is invalid");
    assert_eq!(first[3].operation, Some(CiOperation::Insert));
    assert_eq!(sn.cis().len(), 2);

    let again = block_on(sn.identify_reconcile("NinjaOne", &items[..1])).unwrap();
    assert_eq!(again[0].operation, Some(CiOperation::NoChange));
    assert_eq!(again[0].sys_id, first[0].sys_id);

    let changed = vec![
        ci(
            "cmdb_ci_win_server",
            &[("name", "SRV-01"), ("company", "c2")],
        ),
        // Identified by serial number although renamed.
        ci(
            "cmdb_ci_linux_server",
            &[("name", "LNX-01-renamed"), ("serial_number", "SN1")],
        ),
    ];
    let third = block_on(sn.identify_reconcile("NinjaOne", &changed)).unwrap();
    assert_eq!(third[0].operation, Some(CiOperation::Update));
    assert_eq!(third[1].operation, Some(CiOperation::Update));
    assert_eq!(third[1].sys_id, first[3].sys_id);
    // Same name, other class: the hardware rule spans the hardware classes, so the name finds
    // the same CI.
    let other_class = [ci("cmdb_ci_linux_server", &[("name", "SRV-01")])];
    let fourth = block_on(sn.identify_reconcile("NinjaOne", &other_class)).unwrap();
    assert_eq!(fourth[0].sys_id, first[0].sys_id);
    assert_eq!(sn.cis().len(), 2);
    assert_eq!(
        sn.faults().writes_of(ServiceNowMethod::IdentifyReconcile),
        4
    );
    assert_eq!(
        block_on(sn.identify_reconcile("", &changed))
            .unwrap_err()
            .kind(),
        ApiErrorKind::Other
    );
}

#[test]
fn a_payload_with_two_items_of_one_serial_or_name_is_rejected_whole() {
    // ServiceNow checks the payload before identifying: two items whose criterion attributes
    // are equal reject it (DUPLICATE_PAYLOAD_RECORDS) and nothing is processed, rather than
    // the second item updating the CI the first one inserted.
    let sn = FakeServiceNow::new();
    let clones = [
        ci(
            "cmdb_ci_win_server",
            &[("name", "CLONE-A"), ("serial_number", "S1")],
        ),
        ci("cmdb_ci_computer", &[("name", "OTHER")]),
        ci(
            "cmdb_ci_win_server",
            &[("name", "CLONE-B"), ("serial_number", "S1")],
        ),
    ];
    let same_name = [
        ci("cmdb_ci_win_server", &[("name", "DC01")]),
        ci("cmdb_ci_win_server", &[("name", "DC01")]),
    ];
    for items in [&clones[..], &same_name[..]] {
        for answer in [
            block_on(sn.identify_reconcile_query("NinjaOne", items)).unwrap(),
            block_on(sn.identify_reconcile("NinjaOne", items)).unwrap(),
        ] {
            assert_eq!(answer.len(), items.len());
            for result in &answer {
                assert_eq!(result.operation, None);
                assert_eq!(
                    result.errors[0].kind, "DUPLICATE_PAYLOAD_RECORDS",
                    "{result:?}"
                );
            }
        }
    }
    assert!(sn.cis().is_empty(), "nothing was written");
}

#[test]
fn identification_matches_names_and_serials_without_case_as_servicenows_database_does() {
    // ServiceNow's string comparisons ignore case, so `dc01` finds another tool's `DC01`.
    let sn = FakeServiceNow::new();
    let theirs = sn.add_ci(
        "cmdb_ci_win_server".parse().unwrap(),
        BTreeMap::from([
            ("name".to_owned(), "DC01".to_owned()),
            ("serial_number".to_owned(), "ABC123".to_owned()),
        ]),
    );
    for item in [
        ci("cmdb_ci_win_server", &[("name", "dc01")]),
        ci(
            "cmdb_ci_win_server",
            &[("name", "x"), ("serial_number", "abc123")],
        ),
    ] {
        let answer = block_on(sn.identify_reconcile_query("NinjaOne", &[item])).unwrap();
        assert_eq!(answer[0].operation, Some(CiOperation::Update));
        assert_eq!(answer[0].sys_id.as_ref(), Some(&theirs));
    }
}

fn assert_send<T: Send>(_: T) {}

#[test]
fn trait_objects_work_and_share_state() {
    let ninja = FakeNinjaOne::builder().organizations(3).build();
    let sn = FakeServiceNow::builder().companies(1).build();
    let ninja_api: Arc<dyn NinjaOneApi> = Arc::new(ninja.clone());
    let sn_api: Arc<dyn ServiceNowApi> = Arc::new(sn.clone());
    ninja.add_organization("Coho Bakery");
    let orgs = block_on(collect_all(PageRequest::first(10), 10, |r| {
        ninja_api.organizations(r)
    }))
    .unwrap();
    assert_eq!(orgs.items.len(), 4);
    block_on(sn_api.create_company(&new_company("Coho Bakery"))).unwrap();
    assert_eq!(sn.all_companies().len(), 2);
    assert_eq!(sn.faults().writes(), 1);
    assert_send(ninja_api.organizations(PageRequest::first(1)));
    assert_send(sn_api.companies(PageRequest::first(1)));
}

#[test]
fn one_faults_can_serve_both_fakes() {
    let faults = Faults::new();
    let ninja = FakeNinjaOne::builder().faults(faults.clone()).build();
    let sn = FakeServiceNow::builder().faults(faults.clone()).build();
    block_on(ninja.alerts()).unwrap();
    block_on(sn.customer_service_management()).unwrap();
    assert_eq!(faults.total_calls(), 2);
    assert!(NinjaOneMethod::ALL.contains(&NinjaOneMethod::Organizations));
    assert!(ServiceNowMethod::ALL.contains(&ServiceNowMethod::IdentifyReconcile));
}
