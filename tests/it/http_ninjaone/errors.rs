//! The NinjaOne client: API error forms, rate limits and broken bodies.

use super::*;

#[tokio::test]
async fn api_errors_decode_in_string_object_and_text_forms() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" => Reply::json(
            400,
            json!({"resultCode": "FAILURE", "errorMessage": {"code": "INVALID_PARAM", "params": {}}, "incidentId": "inc-9"}),
        ),
        "/v2/alerts" => Reply::json(
            401,
            json!({"resultCode": "FAILURE", "errorMessage": "insufficient_privileges"}),
        ),
        "/v2/devices" => Reply::text(502, "text/plain", "upstream broke\n"),
        "/v2/organization/5" => Reply::empty(404),
        "/v2/organization/6" => Reply::json(
            200,
            json!({"id": 6, "name": "Six", "locations": [], "policies": [{"nodeRoleId": 9, "policyId": 43}]}),
        ),
        _ => Reply::empty(500),
    });
    let client = client(&server);
    let err = client.device_roles().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
    assert!(
        err.message().contains("INVALID_PARAM") && err.message().contains("inc-9"),
        "{err}"
    );

    let err = client.alerts().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden, "{err}");
    // A missing scope is not fixed by a new token: no renewal.
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);

    let err = client.devices(PageRequest::first(10)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    assert!(err.message().contains("upstream broke"), "{err}");
    // A GET is retried after a 5xx: 4 attempts by default.
    assert_eq!(server.count("GET", "/v2/devices"), 4);

    let five = OrganizationId::new(5).unwrap();
    assert_eq!(client.organization(five).await.unwrap(), None);
    let six = client
        .organization(OrganizationId::new(6).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(six.policies.len(), 1);
}

#[tokio::test]
async fn rate_limits_wait_out_a_short_retry_after_and_return_a_long_one() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = Arc::clone(&hits);
    let server = Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" if h.fetch_add(1, Ordering::SeqCst) == 0 => Reply::json(
            429,
            json!({"resultCode": "FAILURE", "errorMessage": "slow down"}),
        )
        .header("Retry-After", "0"),
        "/v2/roles" => Reply::json(200, json!([])),
        _ => Reply::json(429, json!({})).header("Retry-After", "120"),
    });
    let client = client(&server);
    client.device_roles().await.unwrap();
    assert_eq!(server.count("GET", "/v2/roles"), 2);
    assert_eq!(client.stats().retries, 1);

    let err = client.alerts().await.unwrap_err();
    assert_eq!(
        err.kind(),
        ApiErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(server.count("GET", "/v2/alerts"), 1);
}

#[tokio::test]
async fn malformed_truncated_and_html_bodies_are_invalid_responses() {
    let server = Server::start(|r: &Request| {
        match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" => Reply::text(200, "application/json", r#"[{"id": 1, "name": "#),
        "/v2/alerts" => Reply::text(200, "text/html", "<html><body>Maintenance</body></html>"),
        "/v2/devices" => Reply::json(200, json!({"not": "a list"})),
        _ => Reply::Raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n[{\"id\":1"
                .to_vec(),
        ),
    }
    });
    let client = client(&server);
    let err = client.device_roles().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("truncated"), "{err}");
    let err = client.alerts().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("HTML"), "{err}");
    let err = client.devices(PageRequest::first(5)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    // A transfer cut off mid-body is a dropped connection: transient, and a GET is retried.
    let org = OrganizationId::new(1).unwrap();
    let err = client
        .organization_devices(org, PageRequest::first(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient, "{err}");
    assert_eq!(server.count("GET", "/v2/organization/1/devices"), 4);
}
