//! The NinjaOne client: webhook registration and the management scope.

use super::*;

fn registration() -> ninjaone_servicenow::http::WebhookRegistration {
    ninjaone_servicenow::http::WebhookRegistration::new(
        "https://orgsync.example.com/ninjaone/webhook",
        Secret::new(HOOK_SECRET),
    )
    .unwrap()
}

/// A tenant whose token endpoint issues one token per scope; the webhook path takes only the
/// management token and the listing only the monitoring one, as NinjaOne checks scopes.
fn scoped_tenant() -> Server {
    Server::start(|r: &Request| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/ws/oauth/token") => match r.form_field("scope").as_deref() {
            Some("monitoring") => token_reply("tok-monitoring"),
            Some("management") => token_reply("tok-management"),
            other => panic!("unexpected scope {other:?}"),
        },
        (_, "/v2/webhook") if r.bearer() == Some("tok-management") => Reply::empty(204),
        ("GET", "/v2/organizations") if r.bearer() == Some("tok-monitoring") => {
            Reply::json(200, json!(orgs(1..=2)))
        }
        _ => Reply::json(
            401,
            json!({"error": "insufficient_privileges", "error_description": "wrong scope"}),
        ),
    })
}

#[tokio::test]
async fn registering_a_webhook_sends_the_documented_body_with_a_management_token_no_other_call_uses()
 {
    let server = scoped_tenant();
    let client = client(&server);
    let first = client.organizations(PageRequest::first(10)).await.unwrap();
    client.register_webhook(&registration()).await.unwrap();
    let again = client.organizations(PageRequest::first(10)).await.unwrap();
    client.delete_webhook().await.unwrap();
    assert_eq!((first.items.len(), again.items.len()), (2, 2));

    let requests = server.requests();
    let scopes: Vec<Option<String>> = requests
        .iter()
        .filter(|r| r.path == "/ws/oauth/token")
        .map(|r| r.form_field("scope"))
        .collect();
    assert_eq!(
        scopes,
        [Some("monitoring".to_owned()), Some("management".to_owned())],
        "one token per scope, each cached"
    );
    let put = requests
        .iter()
        .find(|r| r.method == "PUT")
        .expect("one PUT /v2/webhook");
    assert_eq!(put.path, "/v2/webhook");
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(
        put.json(),
        json!({
            "url": "https://orgsync.example.com/ninjaone/webhook",
            "activities": {"statusCode": ["TRIGGERED", "RESET"]},
            "expand": ["device", "organization"],
            "headers": [{"name": "x-orgsync-webhook-secret", "value": HOOK_SECRET}],
        })
    );
    for r in requests.iter().filter(|r| r.path != "/ws/oauth/token") {
        let expected = if r.path == "/v2/webhook" {
            "tok-management"
        } else {
            "tok-monitoring"
        };
        assert_eq!(r.bearer(), Some(expected), "{} {}", r.method, r.path);
    }
    assert_eq!(server.count("DELETE", "/v2/webhook"), 1);
    let stats = client.stats();
    assert_eq!((stats.writes, stats.token_requests), (2, 2));
}

#[tokio::test]
async fn a_management_scope_the_app_lacks_is_forbidden_naming_it_and_the_secret_never_shows() {
    // NinjaOne refuses a token request for a scope the application was not given.
    let server = Server::start(|r: &Request| match r.form_field("scope").as_deref() {
        Some("management") => Reply::json(
            400,
            json!({"error": "invalid_scope", "error_description": "Invalid scope management for client"}),
        ),
        _ => token_reply("tok"),
    });
    let err = client(&server)
        .register_webhook(&registration())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden);
    assert!(
        err.to_string().contains("allow the scope management"),
        "{err}"
    );
    assert_eq!(server.count("PUT", "/v2/webhook"), 0);

    // A token without the scope: a 401 `insufficient_privileges` is a refusal of the scope,
    // not a stale token — no new token, no second PUT — and the echoed secret is scrubbed.
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ => Reply::json(
            401,
            json!({
                "error": "insufficient_privileges",
                "error_description": format!("not allowed: {}", String::from_utf8_lossy(&r.body)),
            }),
        ),
    });
    let client = client(&server);
    let err = client.register_webhook(&registration()).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden);
    assert!(err.to_string().contains("management scope"), "{err}");
    assert!(!err.to_string().contains(HOOK_SECRET), "{err}");
    assert!(!format!("{err:?}").contains(HOOK_SECRET));
    assert_eq!(server.count("PUT", "/v2/webhook"), 1);
    assert_eq!(client.stats().token_requests, 1);
}

#[tokio::test]
async fn a_refused_webhook_registration_names_the_management_scope_as_its_one_fix() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ => Reply::json(
            403,
            json!({"resultCode": "FAILURE", "errorMessage": "Forbidden"}),
        ),
    });
    let err = client(&server)
        .register_webhook(&registration())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden);
    // The fix is advice, not part of the message: a `SyncError` or a stop built from it adds
    // no second, general one.
    assert!(
        err.advice().is_some_and(|a| a.contains("management scope")),
        "{err}"
    );
    assert!(!err.message().contains("management scope"), "{err}");
    assert_eq!(
        err.to_string().matches("management scope").count(),
        1,
        "{err}"
    );
}
