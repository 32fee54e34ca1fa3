//! Remote data never panics a decoder: arbitrary JSON values and arbitrary bytes, fed to every
//! type decoded from either API, give a value or an error.

use ninjaone_servicenow::model::{
    Alert, CiItemResult, Company, CustomerAccount, Device, DeviceRole, Incident, Organization,
    OrganizationDetailed, decode_rows,
};
use proptest::prelude::*;
use serde_json::Value;

/// JSON values biased towards the shapes the APIs send: objects with the fields the types read,
/// holding numbers, strings, booleans, nulls and nested references.
fn json() -> impl Strategy<Value = Value> {
    let keys = proptest::sample::select(vec![
        "id",
        "uid",
        "sys_id",
        "name",
        "organizationId",
        "nodeClass",
        "nodeRoleId",
        "created",
        "createTime",
        "customer",
        "parent",
        "state",
        "urgency",
        "impact",
        "company",
        "cmdb_ci",
        "sys_created_on",
        "severity",
        "locations",
        "policies",
        "operation",
        "sysId",
        "errors",
        "value",
        "link",
        "deviceId",
        "data",
        "tags",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9a-fA-F]{30,34}".prop_map(Value::String),
        "[ -~]{0,24}".prop_map(Value::String),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..10)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decode_everything(value: &Value) {
    let page = Value::Array(vec![value.clone(), value.clone()]);
    let _ = decode_rows::<Organization>(page.clone());
    let _ = decode_rows::<OrganizationDetailed>(page.clone());
    let _ = decode_rows::<DeviceRole>(page.clone());
    let _ = decode_rows::<Device>(page.clone());
    let _ = decode_rows::<Alert>(page.clone());
    let _ = decode_rows::<Company>(page.clone());
    let _ = decode_rows::<CustomerAccount>(page.clone());
    let _ = decode_rows::<Incident>(page.clone());
    let _ = decode_rows::<CiItemResult>(page);
    let (rows, rejected) = decode_rows::<Company>(value.clone());
    if !value.is_array() {
        assert!(rows.is_empty() && rejected.len() == 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_json_values_never_panic(value in json()) {
        decode_everything(&value);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<Organization>(&bytes);
        let _ = serde_json::from_slice::<Device>(&bytes);
        let _ = serde_json::from_slice::<Alert>(&bytes);
        let _ = serde_json::from_slice::<Company>(&bytes);
        let _ = serde_json::from_slice::<Incident>(&bytes);
    }

    #[test]
    fn rows_are_either_kept_or_rejected_never_lost(values in proptest::collection::vec(json(), 0..8)) {
        let n = values.len();
        let (rows, rejected) = decode_rows::<Incident>(Value::Array(values));
        prop_assert_eq!(rows.len() + rejected.len(), n);
        let mut indices: Vec<usize> = rejected.iter().map(|r| r.index).collect();
        indices.dedup();
        prop_assert_eq!(indices.len(), rejected.len());
    }
}
