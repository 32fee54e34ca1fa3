//! Unit tests of the fake server's helpers: base64, auth schemes, fault statuses.

use super::*;
use crate::ports::{ApiError, ApiErrorKind};

#[test]
fn base64_round_trips_known_values() {
    assert_eq!(
        base64_decode("dXNlcjpwYXNz").as_deref(),
        Some(&b"user:pass"[..])
    );
    assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
    assert_eq!(base64_decode("YWI=").as_deref(), Some(&b"ab"[..]));
    assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
    assert_eq!(base64_decode("Y"), None);
    assert_eq!(base64_decode("Y!=="), None);
}

#[test]
fn scheme_is_case_insensitive_and_needs_credentials() {
    assert_eq!(strip_scheme("Bearer abc", "bearer"), Some("abc"));
    assert_eq!(strip_scheme("bearer  abc ", "bearer"), Some("abc"));
    assert_eq!(strip_scheme("Basic abc", "bearer"), None);
    assert_eq!(strip_scheme("Bearer", "bearer"), None);
}

#[test]
fn fault_kinds_map_to_statuses() {
    let status = |kind| api_error_response(Api::ServiceNow, &ApiError::new(kind, "x")).status;
    assert_eq!(status(ApiErrorKind::NotFound), 404);
    assert_eq!(status(ApiErrorKind::Unauthorized), 401);
    assert_eq!(status(ApiErrorKind::Forbidden), 403);
    assert_eq!(status(ApiErrorKind::Transient), 503);
    assert_eq!(status(ApiErrorKind::Conflict), 409);
    assert_eq!(status(ApiErrorKind::Other), 400);
    let limited = api_error_response(
        Api::NinjaOne,
        &ApiError::new(
            ApiErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
            },
            "x",
        ),
    );
    assert_eq!((limited.status, limited.retry_after), (429, Some(7)));
    let invalid = api_error_response(
        Api::ServiceNow,
        &ApiError::new(ApiErrorKind::InvalidResponse, "x"),
    );
    assert_eq!(invalid.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&invalid.body).is_err());
}
