//! The ServiceNow client: error envelopes, HTML and broken bodies, and which requests are retried.

use super::*;

#[tokio::test]
async fn wrong_credentials_are_unauthorized_with_the_envelope_and_no_retry() {
    let server = Server::start(|_: &Request| {
        envelope(
            401,
            "User Not Authenticated",
            "Required to provide Auth information",
        )
    });
    let client = basic(&server);
    let err = client.companies(PageRequest::first(10)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
    assert!(err.message().contains("User Not Authenticated"), "{err}");
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn html_pages_are_reported_as_such_on_any_content_type() {
    let server = Server::start(|r: &Request| {
        if r.path.ends_with("core_company") {
            Reply::text(
                200,
                "text/html; charset=utf-8",
                "<html><head><title>Instance Hibernating page</title></head></html>",
            )
        } else {
            Reply::text(200, "application/json", "  <!DOCTYPE html><html>SSO</html>")
        }
    });
    let client = basic(&server);
    for err in [
        client.companies(PageRequest::first(10)).await.unwrap_err(),
        client
            .customer_accounts(PageRequest::first(10))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
        assert!(
            err.message().contains("HTML") && err.message().contains("hibernating"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_malformed_row_is_rejected_alone_and_truncated_bodies_are_invalid() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/api/now/table/core_company" => Reply::json(
            200,
            json!({"result": [
                {"sys_id": sys_id(1), "name": "Good"},
                {"sys_id": "not-a-sys-id", "name": "Bad"},
                {"sys_id": sys_id(3), "name": "Good too", "customer": "maybe"}
            ]}),
        ),
        _ => Reply::text(200, "application/json", r#"{"result":[{"sys_id":"0c43"#),
    });
    let client = basic(&server);
    let page = client.companies(PageRequest::first(10)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.rejected.len(), 2);
    assert!(page.next.is_none());
    let err = client
        .customer_accounts(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("truncated"), "{err}");
}

fn new_company() -> NewCompany {
    NewCompany {
        name: "Acme".into(),
        customer: true,
    }
}

#[tokio::test]
async fn gets_and_patches_are_retried_after_5xx_but_a_create_never_is() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = Arc::clone(&hits);
    let server = Server::start(move |r: &Request| {
        let n = h.fetch_add(1, Ordering::SeqCst);
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", _) if n < 2 => envelope(503, "Service Unavailable", "try later"),
            ("GET", _) => Reply::json(200, json!({"result": []})),
            ("POST", _) => envelope(503, "Service Unavailable", "node restarting"),
            ("PATCH", _) if n.is_multiple_of(2) => Reply::empty(502),
            ("PATCH", _) => {
                Reply::json(200, json!({"result": {"sys_id": sys_id(1), "state": "6"}}))
            }
            _ => Reply::empty(500),
        }
    });
    let client = basic(&server);
    client.companies(PageRequest::first(10)).await.unwrap();
    assert_eq!(server.count("GET", "/api/now/table/core_company"), 3);
    assert_eq!(client.stats().retries, 2);

    let err = client.create_company(&new_company()).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    assert!(err.message().contains("node restarting"), "{err}");
    assert_eq!(server.count("POST", "/api/now/table/core_company"), 1);

    hits.store(4, Ordering::SeqCst);
    let update = IncidentUpdate {
        state: Some(IncidentState::Resolved),
        close_code: Some("Solved (Permanently)".into()),
        close_notes: Some("cleared in NinjaOne".into()),
        work_notes: None,
    };
    let incident = client.update_incident(&sid(1), &update).await.unwrap();
    assert_eq!(incident.state, IncidentState::Resolved);
    let path = format!("/api/now/table/incident/{}", sys_id(1));
    assert_eq!(server.count("PATCH", &path), 2);
    let patch = server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.json()["state"], "6");
    assert_eq!(patch.json()["close_code"], "Solved (Permanently)");
}

#[tokio::test]
async fn a_work_note_patch_is_never_re_sent_after_a_5xx_but_is_after_a_429() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = Arc::clone(&hits);
    let server = Server::start(move |r: &Request| {
        match (r.method.as_str(), h.fetch_add(1, Ordering::SeqCst)) {
            ("PATCH", 0) => Reply::empty(502),
            ("PATCH", 1) => {
                envelope(429, "Too Many Requests", "rate limit").header("Retry-After", "0")
            }
            ("PATCH", _) => {
                Reply::json(200, json!({"result": {"sys_id": sys_id(1), "state": "2"}}))
            }
            _ => Reply::empty(500),
        }
    });
    let client = basic(&server);
    let note = IncidentUpdate {
        work_notes: Some("The NinjaOne alert changed".into()),
        ..IncidentUpdate::default()
    };
    let path = format!("/api/now/table/incident/{}", sys_id(1));
    // A 502 may have appended the note: it is not sent again.
    let err = client.update_incident(&sid(1), &note).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    assert_eq!(server.count("PATCH", &path), 1);
    // A 429 was not processed: sent again, once.
    client.update_incident(&sid(1), &note).await.unwrap();
    assert_eq!(server.count("PATCH", &path), 3);
}

#[tokio::test]
async fn a_rate_limited_create_is_sent_again_because_it_was_not_processed() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = Arc::clone(&hits);
    let server = Server::start(move |r: &Request| {
        if h.fetch_add(1, Ordering::SeqCst) == 0 {
            return envelope(429, "Too Many Requests", "rate limit").header("Retry-After", "0");
        }
        let body = r.json();
        Reply::json(
            201,
            json!({"result": {"sys_id": sys_id(9), "name": body["name"], "customer": body["customer"]}}),
        )
    });
    let client = basic(&server);
    let company = client.create_company(&new_company()).await.unwrap();
    assert_eq!((company.name.as_str(), company.customer), ("Acme", true));
    assert_eq!(server.count("POST", "/api/now/table/core_company"), 2);
    let s = client.stats();
    assert_eq!((s.writes, s.retries), (2, 1));
}

#[tokio::test]
async fn a_create_that_times_out_is_not_sent_again_but_a_get_is() {
    let server = Server::start(|_: &Request| Reply::Silence(Duration::from_millis(600)));
    let client = ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
            .unwrap()
            .options(fast().timeout(Duration::from_millis(150)).max_attempts(2)),
    )
    .unwrap();
    let err = client.create_company(&new_company()).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    assert!(err.message().contains("did not answer"), "{err}");
    let err = client.company(&sid(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    // Give the silent server threads time to record the requests they received.
    for _ in 0..50 {
        if server.requests().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.count("POST", "/api/now/table/core_company"), 1);
    assert_eq!(
        server.count("GET", &format!("/api/now/table/core_company/{}", sys_id(1))),
        2
    );
}
