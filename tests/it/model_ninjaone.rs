//! NinjaOne model: real-shaped fixtures, omitted fields, unknown values, malformed input.

use ninjaone_servicenow::model::{
    Alert, ChassisType, Device, DeviceId, DeviceRole, DeviceRoleId, NodeApprovalMode, NodeClass,
    Organization, OrganizationDetailed, Priority, Severity, decode_rows,
};

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/ninjaone/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn organizations_decode_with_omitted_and_unknown_fields() {
    let (orgs, rejected) = decode_rows::<Organization>(fixture("organizations.json"));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(orgs.len(), 4);
    assert_eq!(orgs[0].tags, vec!["gold".to_owned()]);
    // Real responses omit empty fields.
    assert_eq!(orgs[1].description, None);
    assert!(orgs[1].tags.is_empty());
    // Numeric strings are ids; names are free text, kept verbatim.
    assert_eq!(orgs[2].id.get(), 3);
    assert_eq!(orgs[2].name, "Zed^NQname=Acme");
    assert_eq!(orgs[2].node_approval_mode, Some(NodeApprovalMode::Manual));
    // Unknown enum values are kept, never mapped onto a known one.
    assert_eq!(
        orgs[3].node_approval_mode,
        Some(NodeApprovalMode::Other("QUARANTINE".into()))
    );
}

#[test]
fn detailed_organization_has_locations_and_policies() {
    let org: OrganizationDetailed =
        serde_json::from_value(fixture("organization_detailed.json")).unwrap();
    assert_eq!(org.organization.name, "Solution Logique");
    assert_eq!(org.locations.len(), 2);
    assert_eq!(org.locations[0].name, "Montréal HQ");
    assert_eq!(org.policies[0].node_role_id.get(), 9);
    assert_eq!(org.policies[0].policy_id.get(), 43);
    let again: OrganizationDetailed =
        serde_json::from_value(serde_json::to_value(&org).unwrap()).unwrap();
    assert_eq!(again, org);
}

#[test]
fn roles_keep_unknown_classes_and_parse_epoch_floats() {
    let (roles, rejected) = decode_rows::<DeviceRole>(fixture("roles.json"));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(roles[0].node_class, NodeClass::WindowsServer);
    assert_eq!(roles[0].chassis_type, Some(ChassisType::Unknown));
    assert_eq!(roles[0].created.unwrap().timestamp(), 1_600_000_000);
    assert_eq!(roles[1].created.unwrap().timestamp_subsec_millis(), 500);
    assert_eq!(roles[2].parent_id.map(DeviceRoleId::get), Some(9));
    assert_eq!(
        roles[3].node_class,
        NodeClass::Other("IOT_APPLIANCE".into())
    );
    assert_eq!(roles[3].node_class.to_string(), "IOT_APPLIANCE");
    assert_eq!(
        roles[3].chassis_type,
        Some(ChassisType::Other("WALL_MOUNTED".into()))
    );
    assert_eq!(roles[3].created, None);
}

#[test]
fn known_strings_never_land_in_other() {
    for class in [
        "WINDOWS_SERVER",
        "NMS_NETWORK_MANAGEMENT_AGENT",
        "MANAGED_DEVICE",
    ] {
        let parsed: NodeClass = class.parse().unwrap();
        assert!(!matches!(parsed, NodeClass::Other(_)), "{class}");
        assert_eq!(parsed.as_str(), class);
    }
}

#[test]
fn devices_decode_float_timestamps_and_string_ids() {
    let (devices, rejected) = decode_rows::<Device>(fixture("devices.json"));
    assert!(rejected.is_empty(), "{rejected:?}");
    let esx = &devices[0];
    assert_eq!(esx.parent_device_id.map(DeviceId::get), Some(6));
    assert_eq!(esx.created.unwrap().timestamp_subsec_micros(), 892_432);
    assert_eq!(esx.last_contact.unwrap().timestamp_subsec_millis(), 744);
    assert_eq!(esx.name(), "192.168.50.43");
    assert_eq!(devices[1].organization_id.get(), 2);
    assert!(devices[1].offline);
    // An empty display name falls back to the system name.
    assert_eq!(devices[2].name(), "FRONTDESK-PC");
    let again: Vec<Device> =
        serde_json::from_value(serde_json::to_value(&devices).unwrap()).unwrap();
    assert_eq!(again, devices);
}

#[test]
fn alerts_have_optional_severity_and_priority() {
    let (alerts, rejected) = decode_rows::<Alert>(fixture("alerts.json"));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(
        alerts[0].uid.as_str(),
        "50edcf11-de92-4ecb-955b-c8066488b6cc"
    );
    assert_eq!(alerts[0].severity, None);
    assert_eq!(alerts[0].source_name.as_deref(), Some(""));
    assert!(alerts[0].data.contains_key("message"));
    assert_eq!(alerts[1].severity, Some(Severity::Critical));
    assert_eq!(alerts[1].priority, Some(Priority::High));
    assert_eq!(alerts[2].device_id, None);
    assert_eq!(
        alerts[2].severity,
        Some(Severity::Other("CATASTROPHIC".into()))
    );
    let again: Vec<Alert> = serde_json::from_value(serde_json::to_value(&alerts).unwrap()).unwrap();
    assert_eq!(again, alerts);
}

#[test]
fn a_severity_of_an_undocumented_shape_is_none_not_a_lost_alert() {
    let (alerts, rejected) = decode_rows::<Alert>(serde_json::json!([
        {"uid": "a", "severity": 3, "priority": {"level": "HIGH"}},
        {"uid": "b", "severity": "", "priority": null},
        {"uid": "c", "severity": " MAJOR ", "priority": "LOW"},
    ]));
    assert!(rejected.is_empty(), "{rejected:?}");
    let levels: Vec<_> = alerts
        .iter()
        .map(|a| (a.severity.clone(), a.priority.clone()))
        .collect();
    assert_eq!(
        levels,
        [
            (None, None),
            (None, None),
            (Some(Severity::Major), Some(Priority::Low))
        ]
    );
}

#[test]
fn a_bad_id_is_an_error_for_its_row_only() {
    let page = serde_json::json!([
        {"id": 1, "name": "Good"},
        {"id": "twelve", "name": "Text id"},
        {"id": -5, "name": "Negative"},
        {"id": 2_147_483_648_u64, "name": "Too big"},
        {"id": 1.5, "name": "Fraction"},
        {"name": "No id"},
        {"id": 6, "name": "Also good"},
        "not an object"
    ]);
    let (orgs, rejected) = decode_rows::<Organization>(page);
    assert_eq!(
        orgs.iter().map(|o| o.id.get()).collect::<Vec<_>>(),
        vec![1, 6]
    );
    assert_eq!(
        rejected.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 7]
    );
    assert!(
        rejected[0].message.contains("OrganizationId"),
        "{}",
        rejected[0]
    );
    assert_eq!(rejected[0].id_prefix.as_deref(), Some("twelve"));
}

#[test]
fn malformed_timestamps_and_documents_are_errors_not_panics() {
    for bad in [
        r#"{"id":1,"organizationId":1,"nodeClass":"MAC","created":"yesterday"}"#,
        r#"{"id":1,"organizationId":1,"nodeClass":"MAC","created":1e300}"#,
        r#"{"id":1,"organizationId":1,"nodeClass":"MAC","lastContact":-1e20}"#,
        r#"{"id":1,"organizationId":1}"#,
        r#"{"id":1,"organizationId":1,"nodeClass":"MAC""#,
        "",
        "[]",
    ] {
        assert!(serde_json::from_str::<Device>(bad).is_err(), "{bad}");
    }
    assert!(serde_json::from_str::<Alert>(r#"{"uid":"a^b"}"#).is_err());
    assert!(serde_json::from_str::<Alert>(r#"{"uid":""}"#).is_err());
}
