//! Unit tests of the ServiceNow client's decoders.

use super::cmdb::check_data_source;
use super::errors::result;
use crate::ports::ApiErrorKind;

#[test]
fn data_sources_are_checked() {
    assert!(check_data_source("ServiceNow").is_ok());
    assert!(check_data_source("NinjaOne RMM").is_ok());
    assert!(check_data_source("").is_err());
    assert!(check_data_source("a&b=c").is_err());
}

#[test]
fn result_envelopes() {
    assert_eq!(
        result(serde_json::json!({"result": []}), "GET x").unwrap(),
        serde_json::json!([])
    );
    let e = result(
        serde_json::json!({"error": {"message": "Invalid query", "detail": null}, "status": "failure"}),
        "GET x",
    )
    .unwrap_err();
    assert!(e.message().contains("Invalid query"), "{e}");
    assert_eq!(
        result(serde_json::json!([1]), "GET x").unwrap_err().kind(),
        ApiErrorKind::InvalidResponse
    );
}
