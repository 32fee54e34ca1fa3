//! ServiceNow model: real-shaped Table API rows, loose values, per-row errors.

use ninjaone_servicenow::model::{
    CiClass, CiItem, CiItemResult, CiOperation, CiSourceInfo, Company, CorrelationId,
    CustomerAccount, Incident, IncidentState, IncidentUpdate, Level, NewCompany, NewIncident,
    SysId, decode_rows,
};

fn result(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/servicenow/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    value["result"].take()
}

fn sys(s: &str) -> SysId {
    s.parse().unwrap()
}

#[test]
fn companies_decode_loose_values_and_one_bad_row_costs_only_that_row() {
    let (companies, rejected) = decode_rows::<Company>(result("companies.json"));
    assert_eq!(companies.len(), 4);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].index, 3);
    assert!(rejected[0].message.contains("SysId"), "{}", rejected[0]);

    let country = &companies[0];
    assert!(country.customer && !country.vendor);
    assert_eq!(country.parent, None);
    assert_eq!(
        country.created_on.unwrap().to_rfc3339(),
        "2024-01-15T09:30:00+00:00"
    );
    // Upper-case sys_ids are normalised; references in link form keep their value.
    assert_eq!(companies[1].sys_id, sys("81fd65ecac1d55eb42a426568fc87a63"));
    assert_eq!(
        companies[1].parent.as_deref(),
        Some("0c43f35d4f5a1200c0a8016a9310c7d5")
    );
    // A reference we do not rely on is kept raw, even when it is not a sys_id.
    assert_eq!(companies[2].parent.as_deref(), Some("not-a-sys-id-at-all"));
    assert!(companies[2].vendor && !companies[2].manufacturer);
    // A JSON boolean is accepted too.
    assert!(companies[3].customer);
    let again: Vec<Company> =
        serde_json::from_value(serde_json::to_value(&companies).unwrap()).unwrap();
    assert_eq!(again, companies);
}

#[test]
fn customer_accounts_decode() {
    let (accounts, rejected) = decode_rows::<CustomerAccount>(result("customer_accounts.json"));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(accounts[0].number.as_deref(), Some("ACCT0001001"));
    assert_eq!(accounts[0].account_code, None);
    assert!(accounts[1].partner);
    assert_eq!(
        accounts[1].parent.as_deref(),
        Some("b3e5a1c2d4f60718293a4b5c6d7e8f91")
    );
    let again: Vec<CustomerAccount> =
        serde_json::from_value(serde_json::to_value(&accounts).unwrap()).unwrap();
    assert_eq!(again, accounts);
}

#[test]
fn incidents_decode_states_levels_and_references() {
    let (incidents, rejected) = decode_rows::<Incident>(result("incidents.json"));
    assert!(rejected.is_empty(), "{rejected:?}");
    let open = &incidents[0];
    assert_eq!(open.state, IncidentState::New);
    assert_eq!(open.company, Some(sys("0c43f35d4f5a1200c0a8016a9310c7d5")));
    assert_eq!((open.account.as_ref(), open.cmdb_ci.as_ref()), (None, None));
    assert_eq!(
        (open.urgency, open.impact),
        (Some(Level::High), Some(Level::Medium))
    );
    assert_eq!(open.close_code, None);

    let resolved = &incidents[1];
    assert_eq!(resolved.state, IncidentState::Resolved);
    assert!(resolved.state.is_finished());
    assert_eq!(
        resolved.company,
        Some(sys("81fd65ecac1d55eb42a426568fc87a63"))
    );
    assert_eq!(
        resolved.cmdb_ci,
        Some(sys("ef43c6d40a0a0b5700c77f9bf387afe3"))
    );
    assert_eq!(resolved.close_code.as_deref(), Some("Solved (Permanently)"));
    assert_eq!(resolved.description, "");

    let custom = &incidents[2];
    assert_eq!(custom.state, IncidentState::Other(42));
    assert_eq!(
        (custom.urgency, custom.impact),
        (None, Some(Level::Other(4)))
    );
    assert_eq!(
        (custom.correlation_id.as_ref(), custom.created_on),
        (None, None)
    );

    let again: Vec<Incident> =
        serde_json::from_value(serde_json::to_value(&incidents).unwrap()).unwrap();
    assert_eq!(again, incidents);
}

#[test]
fn a_reference_we_rely_on_must_be_a_sys_id() {
    let row =
        serde_json::json!([{"sys_id": "9d385017c611228701d22104cc95c371", "company": "Acme Corp"}]);
    let (ok, rejected) = decode_rows::<Incident>(row);
    assert!(ok.is_empty());
    assert!(rejected[0].message.contains("SysId"), "{}", rejected[0]);
}

#[test]
fn new_records_encode_the_way_the_table_api_expects() {
    let body = serde_json::to_value(NewCompany {
        name: "Solution Logique".into(),
        customer: true,
    })
    .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"name": "Solution Logique", "customer": "true"})
    );

    let incident = NewIncident {
        short_description: "Disk C: below 5% free on DC01".into(),
        description: "Source: CONDITION".into(),
        company: Some(sys("0c43f35d4f5a1200c0a8016a9310c7d5")),
        account: None,
        cmdb_ci: None,
        correlation_id: "ninjaone:acme:alert:7d3a1c2e".parse().unwrap(),
        correlation_display: "NinjaOne".into(),
        urgency: Level::High,
        impact: Level::Medium,
        assignment_group: None,
        caller_id: None,
        category: None,
        subcategory: None,
        contact_type: None,
    };
    let body = serde_json::to_value(&incident).unwrap();
    assert_eq!(body["company"], "0c43f35d4f5a1200c0a8016a9310c7d5");
    assert_eq!(body["urgency"], "1");
    assert_eq!(body["impact"], "2");
    assert!(body.get("account").is_none() && body.get("cmdb_ci").is_none());

    let resolve = IncidentUpdate {
        state: Some(IncidentState::Resolved),
        close_code: Some("Solved (Permanently)".into()),
        close_notes: Some("Alert cleared in NinjaOne".into()),
        work_notes: None,
    };
    assert_eq!(
        serde_json::to_value(&resolve).unwrap(),
        serde_json::json!({"state": "6", "close_code": "Solved (Permanently)", "close_notes": "Alert cleared in NinjaOne"})
    );
}

#[test]
fn identify_reconcile_results_surface_per_item_errors() {
    let mut body = result("identify_reconcile.json");
    let items: Vec<CiItemResult> = serde_json::from_value(body["items"].take()).unwrap();
    assert_eq!(items[0].operation, Some(CiOperation::Insert));
    assert_eq!(
        items[0].sys_id,
        Some(sys("ef43c6d40a0a0b5700c77f9bf387afe3"))
    );
    assert_eq!(items[0].internal_id.as_deref(), Some("ninjaone-device-8"));
    assert_eq!(items[1].operation, Some(CiOperation::NoChange));
    assert!(items[1].errors.is_empty());
    assert_eq!(
        (items[2].operation.as_ref(), items[2].sys_id.as_ref()),
        (None, None)
    );
    assert_eq!(items[2].errors[0].kind, "MISSING_MATCHING_ATTRIBUTES");

    let item = CiItem {
        class_name: "cmdb_ci_win_server".parse().unwrap(),
        values: [("name".to_owned(), "DC01".to_owned())]
            .into_iter()
            .collect(),
        internal_id: Some("ninjaone-device-8".into()),
        source: None,
    };
    assert_eq!(
        serde_json::to_value(&item).unwrap(),
        serde_json::json!({"className": "cmdb_ci_win_server", "values": {"name": "DC01"}, "internal_id": "ninjaone-device-8"})
    );
    let keyed = CiItem {
        source: Some(CiSourceInfo::new("NinjaOne", "8")),
        ..item
    };
    assert_eq!(
        serde_json::to_value(&keyed).unwrap()["sys_object_source_info"],
        serde_json::json!({"source_name": "NinjaOne", "source_native_key": "8"})
    );
}

#[test]
fn validated_strings_refuse_query_metacharacters() {
    for bad in [
        "",
        "Cmdb_ci",
        "cmdb_ci_server^ORname=x",
        "1cmdb",
        "cmdb ci",
        &"a".repeat(81),
    ] {
        assert!(bad.parse::<CiClass>().is_err(), "{bad:?}");
    }
    for custom in [
        "cmdb_ci_win_server",
        "u_cmdb_ci_kiosk",
        "x_acme_cmdb_ci_fridge",
    ] {
        assert!(custom.parse::<CiClass>().is_ok(), "{custom}");
    }
    for bad in [
        "",
        "a=b",
        "a^b",
        "javascript:gs.log(1)",
        "a b",
        &"a".repeat(101),
    ] {
        assert!(bad.parse::<CorrelationId>().is_err(), "{bad:?}");
    }
    let err = "x^NQname=Acme"
        .repeat(40)
        .parse::<CorrelationId>()
        .unwrap_err();
    assert!(err.to_string().len() < 160, "{err}");
}

#[test]
fn malformed_rows_are_errors_not_panics() {
    for bad in [
        r#"{"sys_id":"0c43f35d4f5a1200c0a8016a9310c7d5","customer":"maybe"}"#,
        r#"{"sys_id":"0c43f35d4f5a1200c0a8016a9310c7d5","sys_created_on":"15/01/2024"}"#,
        r#"{"sys_id":"0c43f35d4f5a1200c0a8016a9310c7d5","parent":42}"#,
        r#"{"name":"no sys_id"}"#,
        r#"{"sys_id":null}"#,
        r#"{"sys_id":"0c43f35d4f5a1200c0a8016a9310c7d5""#,
    ] {
        assert!(serde_json::from_str::<Company>(bad).is_err(), "{bad}");
    }
    let (rows, rejected) = decode_rows::<Company>(serde_json::json!({"not": "an array"}));
    assert!(rows.is_empty());
    assert_eq!(rejected.len(), 1);
}
