//! The ServiceNow client: the OAuth password grant and client credentials.

use super::*;

fn oauth_client(server: &Server) -> ServiceNowClient {
    ServiceNowClient::new(
        ServiceNowConfig::oauth_password(
            &server.origin(),
            "sn-client",
            Secret::new("sn-client-secret-1234"),
            "integration",
            Secret::new(PASSWORD),
        )
        .unwrap()
        .options(fast()),
    )
    .unwrap()
}

/// An OAuth server: tokens `tok-N`; only the newest is accepted unless `revoked`; refresh
/// tokens are refused when `refuse_refresh` is set.
struct OAuthTenant {
    server: Server,
    issued: Arc<AtomicU32>,
    grants: Arc<Mutex<Vec<String>>>,
    revoked: Arc<std::sync::atomic::AtomicBool>,
    refuse_refresh: Arc<std::sync::atomic::AtomicBool>,
}

fn oauth_tenant() -> OAuthTenant {
    let issued = Arc::new(AtomicU32::new(0));
    let grants = Arc::new(Mutex::new(Vec::new()));
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refuse_refresh = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (i, g, rv, rr) = (
        Arc::clone(&issued),
        Arc::clone(&grants),
        Arc::clone(&revoked),
        Arc::clone(&refuse_refresh),
    );
    let server = Server::start(move |r: &Request| {
        if r.path == "/oauth_token.do" {
            let grant = r.form_field("grant_type").unwrap();
            g.lock().unwrap().push(grant.clone());
            assert_eq!(r.form_field("client_id").as_deref(), Some("sn-client"));
            assert_eq!(
                r.form_field("client_secret").as_deref(),
                Some("sn-client-secret-1234")
            );
            if grant == "refresh_token" {
                assert!(
                    r.form_field("refresh_token")
                        .unwrap()
                        .starts_with("refresh-")
                );
                if rr.load(Ordering::SeqCst) {
                    return Reply::json(
                        401,
                        json!({"error": "access_denied", "error_description": "refresh token expired"}),
                    );
                }
            } else {
                assert_eq!(grant, "password");
                assert_eq!(r.form_field("username").as_deref(), Some("integration"));
                assert_eq!(r.form_field("password").as_deref(), Some(PASSWORD));
            }
            let n = i.fetch_add(1, Ordering::SeqCst) + 1;
            rv.store(false, Ordering::SeqCst);
            return Reply::json(
                200,
                json!({"access_token": format!("tok-{n}"), "refresh_token": format!("refresh-{n}"), "expires_in": 1799, "token_type": "Bearer", "scope": "useraccount"}),
            );
        }
        let current = format!("tok-{}", i.load(Ordering::SeqCst));
        if rv.load(Ordering::SeqCst) || r.bearer() != Some(current.as_str()) {
            return envelope(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            );
        }
        Reply::json(
            200,
            json!({"result": [{"sys_id": sys_id(1), "name": "One"}]}),
        )
    });
    OAuthTenant {
        server,
        issued,
        grants,
        revoked,
        refuse_refresh,
    }
}

#[tokio::test]
async fn oauth_password_grant_single_flight_and_refresh_after_a_401() {
    let t = oauth_tenant();
    let client = oauth_client(&t.server);
    let pages =
        futures::future::join_all((0..12).map(|_| client.companies(PageRequest::first(5)))).await;
    assert!(pages.iter().all(|p| p.as_ref().unwrap().items.len() == 1));
    assert_eq!(*t.grants.lock().unwrap(), ["password"]);

    // The token is revoked mid-run: one refresh, and the call succeeds.
    t.revoked.store(true, Ordering::SeqCst);
    client.companies(PageRequest::first(5)).await.unwrap();
    assert_eq!(*t.grants.lock().unwrap(), ["password", "refresh_token"]);

    // A refused refresh falls back to the password grant.
    t.refuse_refresh.store(true, Ordering::SeqCst);
    t.revoked.store(true, Ordering::SeqCst);
    client.companies(PageRequest::first(5)).await.unwrap();
    assert_eq!(
        *t.grants.lock().unwrap(),
        ["password", "refresh_token", "refresh_token", "password"]
    );
    assert_eq!(t.issued.load(Ordering::SeqCst), 3);
    assert_eq!(client.stats().token_requests, 4);
}

#[tokio::test]
async fn oauth_wrong_password_is_unauthorized_without_secrets_in_the_error() {
    let server = Server::start(|_: &Request| {
        Reply::json(
            401,
            json!({"error": "server_error", "error_description": format!("access_denied for {PASSWORD}")}),
        )
    });
    let client = oauth_client(&server);
    let err = client.companies(PageRequest::first(5)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
    let text = format!("{err} {err:?}");
    assert!(text.contains("access_denied"), "{text}");
    assert!(
        !text.contains(PASSWORD) && !text.contains("sn-client-secret"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn any_4xx_from_the_token_endpoint_is_a_credentials_error_with_its_text() {
    let answers = [
        (
            400,
            json!({"error": "invalid_grant", "error_description": "bad credentials"}),
            "invalid_grant",
        ),
        (
            401,
            json!({"error": "server_error", "error_description": "access_denied"}),
            "access_denied",
        ),
        (
            403,
            json!({"error": {"message": "Client credentials grant disabled", "detail": null}}),
            "grant disabled",
        ),
        (
            404,
            json!({"error": {"message": "Not found", "detail": "no such endpoint"}}),
            "no such endpoint",
        ),
    ];
    for (status, body, text) in answers {
        let reply = body.clone();
        let server = Server::start(move |_: &Request| Reply::json(status, reply.clone()));
        let client = oauth_client(&server);
        let err = client.companies(PageRequest::first(5)).await.unwrap_err();
        assert!(err.kind().is_auth(), "{status} {body}: {err}");
        assert!(err.message().contains(text), "{err}");
        assert!(err.message().contains("token request"), "{err}");
        assert_eq!(server.requests().len(), 1, "no API call, no retry");
    }
}

fn client_credentials_client(server: &Server) -> ServiceNowClient {
    ServiceNowClient::new(
        ServiceNowConfig::oauth_client_credentials(
            &server.origin(),
            "sn-client",
            Secret::new("sn-client-secret-1234"),
        )
        .unwrap()
        .options(fast()),
    )
    .unwrap()
}

#[tokio::test]
async fn client_credentials_are_one_grant_for_many_callers_and_one_more_after_a_401() {
    let issued = Arc::new(AtomicU32::new(0));
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (i, rv) = (Arc::clone(&issued), Arc::clone(&revoked));
    let server = Server::start(move |r: &Request| {
        if r.path == "/oauth_token.do" {
            assert_eq!(
                r.form_field("grant_type").as_deref(),
                Some("client_credentials")
            );
            assert_eq!(r.form_field("client_id").as_deref(), Some("sn-client"));
            assert_eq!(
                r.form_field("client_secret").as_deref(),
                Some("sn-client-secret-1234")
            );
            assert_eq!(r.form_field("username"), None);
            assert_eq!(r.form_field("password"), None);
            let n = i.fetch_add(1, Ordering::SeqCst) + 1;
            rv.store(false, Ordering::SeqCst);
            // No refresh token: the client grants again.
            return Reply::json(
                200,
                json!({"access_token": format!("cc-{n}"), "expires_in": 1799, "token_type": "Bearer"}),
            );
        }
        let current = format!("cc-{}", i.load(Ordering::SeqCst));
        if rv.load(Ordering::SeqCst) || r.bearer() != Some(current.as_str()) {
            return envelope(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            );
        }
        Reply::json(
            200,
            json!({"result": [{"sys_id": sys_id(1), "name": "One"}]}),
        )
    });
    let client = client_credentials_client(&server);
    let pages =
        futures::future::join_all((0..12).map(|_| client.companies(PageRequest::first(5)))).await;
    assert!(pages.iter().all(|p| p.as_ref().unwrap().items.len() == 1));
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    revoked.store(true, Ordering::SeqCst);
    client.companies(PageRequest::first(5)).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    assert_eq!(client.stats().token_requests, 2);
    assert!(format!("{client:?}").contains("oauth client credentials"));
    assert!(!format!("{client:?}").contains("sn-client-secret"));
}
