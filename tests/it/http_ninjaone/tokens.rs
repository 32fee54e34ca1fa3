//! The NinjaOne client: the token request, its renewal and refused credentials.

use super::*;

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = tenant(5);
    let client = client(&server);
    let calls = (0..16).map(|_| client.organizations(PageRequest::first(10)));
    let pages = futures::future::join_all(calls).await;
    assert!(pages.iter().all(|p| p.as_ref().unwrap().items.len() == 5));
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);
    assert_eq!(client.stats().token_requests, 1);
    assert_eq!(client.stats().reads, 16);
    // Clones share the token too.
    let clone = client.clone();
    clone.organizations(PageRequest::first(10)).await.unwrap();
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);
}

#[tokio::test]
async fn the_token_request_is_form_encoded_client_credentials() {
    let server = tenant(1);
    let client = client(&server);
    client.organizations(PageRequest::first(10)).await.unwrap();
    let token = &server.requests()[0];
    assert_eq!(
        (token.method.as_str(), token.path.as_str()),
        ("POST", "/ws/oauth/token")
    );
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // Every call this client makes is a read: it asks for the read-only scope only.
    assert_eq!(token.form_field("scope").as_deref(), Some("monitoring"));
    assert_eq!(
        token.form_field("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(token.form_field("client_id").as_deref(), Some("client-7"));
    assert_eq!(token.form_field("client_secret").as_deref(), Some(SECRET));
    let get = &server.requests()[1];
    assert_eq!(get.header("authorization"), Some("Bearer tok-1"));
    assert_eq!(get.header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("ninjaone-servicenow/"));
}

#[tokio::test]
async fn a_token_expired_mid_run_is_replaced_once_and_the_call_succeeds() {
    let issued = Arc::new(AtomicU32::new(0));
    let revoked = Arc::new(AtomicBool::new(false));
    let (i, rv) = (Arc::clone(&issued), Arc::clone(&revoked));
    let server = Server::start(move |r: &Request| {
        if r.path == "/ws/oauth/token" {
            let n = i.fetch_add(1, Ordering::SeqCst) + 1;
            rv.store(false, Ordering::SeqCst);
            return token_reply(&format!("tok-{n}"));
        }
        let current = format!("tok-{}", i.load(Ordering::SeqCst));
        if rv.load(Ordering::SeqCst) || r.bearer() != Some(current.as_str()) {
            return Reply::json(
                401,
                json!({"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
            );
        }
        Reply::json(200, json!(orgs(1..=2)))
    });
    let client = client(&server);
    client.organizations(PageRequest::first(10)).await.unwrap();
    revoked.store(true, Ordering::SeqCst);
    let page = client.organizations(PageRequest::first(10)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let s = client.stats();
    assert_eq!((s.token_requests, s.reads), (2, 3));
}

#[tokio::test]
async fn a_token_refused_twice_is_unauthorized_after_exactly_one_renewal() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ => Reply::json(
            401,
            json!({"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
        ),
    });
    let client = client(&server);
    let err = client
        .organizations(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
    assert!(err.message().contains("Invalid token"), "{err}");
    // The fix is the one every layer names for this remote and kind, kept apart from the
    // message, so a report of the error adds no second one.
    assert_eq!(
        err.advice(),
        Remote::NinjaOne.action(ApiErrorKind::Unauthorized)
    );
    assert!(!err.message().contains("check the"), "{err}");
    assert_eq!(server.count("POST", "/ws/oauth/token"), 2);
    assert_eq!(server.count("GET", "/v2/organizations"), 2);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_with_the_oauth_error_and_no_api_call() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => Reply::json(
            400,
            json!({"error": "invalid_client", "error_description": format!("Bad client credentials {SECRET}")}),
        ),
        _ => Reply::json(200, json!([])),
    });
    let client = client(&server);
    let err = client
        .organizations(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("invalid_client") && text.contains("Bad client credentials"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn any_4xx_from_the_token_endpoint_is_a_credentials_error_with_its_text() {
    // What NinjaOne really answers an unknown client, not the OAuth shape its spec promises;
    // then other 4xx shapes a token endpoint (or a gateway in front of it) may send.
    let answers = [
        (
            400,
            json!({"resultCode": "Client app not exist"}),
            "Client app not exist",
        ),
        (
            401,
            json!({"resultCode": "FAILURE", "errorMessage": "Bad token"}),
            "Bad token",
        ),
        (403, json!({"error": "access_denied"}), "access_denied"),
        (404, json!({"resultCode": "NOT_FOUND"}), "NOT_FOUND"),
        (400, json!("plain words about the client"), "plain words"),
    ];
    for (status, body, text) in answers {
        let reply = body.clone();
        let server = Server::start(move |r: &Request| match r.path.as_str() {
            "/ws/oauth/token" => Reply::json(status, reply.clone()),
            _ => Reply::json(200, json!([])),
        });
        let err = client(&server)
            .organizations(PageRequest::first(10))
            .await
            .unwrap_err();
        assert!(err.kind().is_auth(), "{status} {body}: {err}");
        assert!(err.message().contains(text), "{err}");
        assert!(
            err.advice()
                .is_some_and(|a| a.contains("client id and secret")),
            "{err}"
        );
        assert_eq!(server.requests().len(), 1, "no API call, no retry");
    }
}
