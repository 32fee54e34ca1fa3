//! The ServiceNow HTTP client against a local server: key paging, the contract's encoded-query
//! terms only, the error envelope, HTML and broken bodies, retries (GET and PATCH yes, a POST
//! create never after an unknown failure), Customer Service Management detection, cases,
//! identification and reconciliation, Basic auth and the OAuth password grant with refresh.

use crate::support::http_server as support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ninjaone_servicenow::engine::{ErrorChain, SyncError};
use ninjaone_servicenow::http::{EncodedQuery, Secret, ServiceNowClient, ServiceNowConfig};
use ninjaone_servicenow::model::{
    CaseState, CaseUpdate, CiItem, CiOperation, CiSourceInfo, CorrelationId, IncidentState,
    IncidentUpdate, Level, NewCase, NewCompany, NewIncident, SysId,
};
use ninjaone_servicenow::ports::{
    ApiErrorKind, IncidentQuery, PageRequest, Remote, ServiceNowApi, collect_all,
};
use serde_json::json;
use support::{Reply, Request, Server, base64, fast};

const PASSWORD: &str = "sn-password-for-tests-77";
const COMPANY_FIELDS: &str =
    "sys_id,name,customer,vendor,manufacturer,parent,sys_created_on,sys_updated_on";

fn basic(server: &Server) -> ServiceNowClient {
    ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
            .unwrap()
            .options(fast()),
    )
    .unwrap()
}

fn sys_id(n: u32) -> String {
    format!("{:032x}", u64::from(n) * 7919)
}

fn sid(n: u32) -> SysId {
    sys_id(n).parse().unwrap()
}

fn envelope(status: u16, message: &str, detail: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": message, "detail": detail}, "status": "failure"}),
    )
}

/// The contract's encoded-query terms, checked independently of the crate's own parser: each
/// term one of five shapes, in the contract's order, none twice.
fn contract_query(q: &str) -> bool {
    let mut rank = 0;
    for term in q.split('^') {
        let this = if let Some(v) = term.strip_prefix("correlation_idSTARTSWITH") {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c))
            {
                return false;
            }
            1
        } else if let Some(v) = term.strip_prefix("sys_created_on>=") {
            let shape = v.len() == 19
                && v.char_indices().all(|(i, c)| match i {
                    4 | 7 => c == '-',
                    10 => c == ' ',
                    13 | 16 => c == ':',
                    _ => c.is_ascii_digit(),
                });
            if !shape {
                return false;
            }
            2
        } else if term == "id=com.sn_customerservice" {
            3
        } else if let Some(v) = term.strip_prefix("sys_id>") {
            if v.len() != 32
                || !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            {
                return false;
            }
            4
        } else if term == "ORDERBYsys_id" {
            5
        } else {
            return false;
        };
        if this <= rank {
            return false;
        }
        rank = this;
    }
    true
}

/// A tenant with `count` companies, paging by key; every query is checked and kept.
fn tenant(count: u32, queries: Arc<Mutex<Vec<String>>>) -> Server {
    Server::start(move |r: &Request| {
        if let Some(q) = r.param("sysparm_query") {
            queries.lock().unwrap().push(q.clone());
            if !contract_query(&q) {
                return envelope(400, "Invalid query", &q);
            }
        }
        let after = r.param("sysparm_query").and_then(|q| {
            q.split('^')
                .find_map(|t| t.strip_prefix("sys_id>").map(str::to_owned))
        });
        let limit: usize = r
            .param("sysparm_limit")
            .map_or(10_000, |l| l.parse().unwrap());
        match r.path.as_str() {
            "/api/now/table/core_company" => {
                let rows: Vec<_> = (1..=count)
                    .map(|n| json!({"sys_id": sys_id(n), "name": format!("Company {n}"), "customer": "true", "parent": ""}))
                    .filter(|row| after.as_deref().is_none_or(|a| row["sys_id"].as_str().unwrap() > a))
                    .take(limit)
                    .collect();
                Reply::json(200, json!({"result": rows}))
            }
            "/api/now/table/incident" | "/api/now/table/sn_customerservice_case" => {
                let rows: Vec<_> = (1..=3)
                    .map(|n| json!({"sys_id": sys_id(n), "number": format!("X{n}"), "state": "1", "correlation_id": format!("ninjaone:acme:alert:{n}")}))
                    .filter(|row| after.as_deref().is_none_or(|a| row["sys_id"].as_str().unwrap() > a))
                    .take(limit)
                    .collect();
                Reply::json(200, json!({"result": rows}))
            }
            "/api/now/table/v_plugin" => Reply::json(
                200,
                json!({"result": [{"id": "com.sn_customerservice", "active": "active"}]}),
            ),
            "/api/now/table/customer_account" => Reply::json(200, json!({"result": []})),
            _ => envelope(404, "No Record found", "Record doesn't exist"),
        }
    })
}

#[tokio::test]
async fn companies_page_by_key_with_explicit_limit_fields_and_bare_references() {
    let queries = Arc::new(Mutex::new(Vec::new()));
    let server = tenant(25, Arc::clone(&queries));
    let client = basic(&server);
    let listing = collect_all(PageRequest::first(10), 100, |p| client.companies(p))
        .await
        .unwrap();
    assert_eq!((listing.items.len(), listing.pages), (25, 3));
    assert_eq!(
        *queries.lock().unwrap(),
        [
            "ORDERBYsys_id".to_owned(),
            format!("sys_id>{}^ORDERBYsys_id", sys_id(10)),
            format!("sys_id>{}^ORDERBYsys_id", sys_id(20)),
        ]
    );
    let auth = format!(
        "Basic {}",
        base64(format!("integration:{PASSWORD}").as_bytes())
    );
    for r in server.requests() {
        assert_eq!(r.path, "/api/now/table/core_company");
        assert_eq!(r.param("sysparm_limit").as_deref(), Some("10"));
        assert_eq!(r.param("sysparm_fields").as_deref(), Some(COMPANY_FIELDS));
        assert_eq!(
            r.param("sysparm_exclude_reference_link").as_deref(),
            Some("true")
        );
        assert_eq!(r.param("sysparm_offset"), None);
        assert_eq!(r.header("authorization"), Some(auth.as_str()));
    }
    let s = client.stats();
    assert_eq!((s.requests, s.reads, s.writes, s.retries), (3, 3, 0, 0));
}

#[tokio::test]
async fn every_query_sent_is_made_only_of_the_contract_terms() {
    let queries = Arc::new(Mutex::new(Vec::new()));
    let server = tenant(7, Arc::clone(&queries));
    let client = basic(&server);
    collect_all(PageRequest::first(3), 100, |p| client.companies(p))
        .await
        .unwrap();
    let prefix: CorrelationId = "ninjaone:acme:".parse().unwrap();
    let since = Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).unwrap();
    let query = IncidentQuery::with_prefix(prefix).created_since(since);
    let incidents = collect_all(PageRequest::first(2), 100, |p| client.incidents(&query, p))
        .await
        .unwrap();
    assert_eq!(incidents.items.len(), 3);
    let cases = collect_all(PageRequest::first(2), 100, |p| client.cases(&query, p))
        .await
        .unwrap();
    assert_eq!(cases.items.len(), 3);
    assert!(client.customer_service_management().await.unwrap());
    client
        .customer_accounts(PageRequest::first(5))
        .await
        .unwrap();

    let sent = queries.lock().unwrap().clone();
    assert_eq!(sent.len(), 3 + 2 + 2 + 1 + 1);
    for q in &sent {
        assert!(contract_query(q), "not a contract query: {q}");
        assert!(EncodedQuery::parse(q).is_ok(), "{q}");
    }
    assert!(sent.contains(
        &"correlation_idSTARTSWITHninjaone:acme:^sys_created_on>=2024-05-01 08:30:00^ORDERBYsys_id"
            .to_owned()
    ));
    assert!(sent.contains(&"id=com.sn_customerservice".to_owned()));
    let plugin = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/now/table/v_plugin")
        .unwrap();
    assert_eq!(plugin.param("sysparm_fields").as_deref(), Some("id,active"));
    assert_eq!(plugin.param("sysparm_limit").as_deref(), Some("1"));
}

#[tokio::test]
async fn a_server_that_caps_the_limit_and_says_next_is_followed() {
    let server = Server::start(|r: &Request| {
        let q = r.param("sysparm_query").unwrap();
        let after = q
            .split('^')
            .find_map(|t| t.strip_prefix("sys_id>").map(str::to_owned));
        let rows: Vec<_> = (1..=12)
            .map(|n| json!({"sys_id": sys_id(n), "name": format!("C{n}")}))
            .filter(|row| {
                after
                    .as_deref()
                    .is_none_or(|a| row["sys_id"].as_str().unwrap() > a)
            })
            .collect();
        let more = rows.len() > 5;
        let rows: Vec<_> = rows.into_iter().take(5).collect();
        let reply = Reply::json(200, json!({"result": rows}));
        if more {
            reply.header(
                "Link",
                "<https://x/api/now/table/core_company?sysparm_offset=5>;rel=\"next\"",
            )
        } else {
            reply
        }
    });
    let client = basic(&server);
    let listing = collect_all(PageRequest::first(100), 100, |p| client.companies(p))
        .await
        .unwrap();
    assert_eq!((listing.items.len(), listing.pages), (12, 3));
}

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

#[tokio::test]
async fn customer_service_management_detection() {
    for (answer, expected) in [
        (
            json!([{"id": "com.sn_customerservice", "active": "active"}]),
            true,
        ),
        (
            json!([{"id": "com.sn_customerservice", "active": "true"}]),
            true,
        ),
        (
            json!([{"id": "com.sn_customerservice", "active": "inactive"}]),
            false,
        ),
        (json!([]), false),
    ] {
        let server =
            Server::start(move |_: &Request| Reply::json(200, json!({"result": answer.clone()})));
        assert_eq!(
            basic(&server).customer_service_management().await.unwrap(),
            expected
        );
        assert_eq!(server.requests().len(), 1);
    }
    // A user who may not read v_plugin: the customer_account table is probed instead.
    let server = Server::start(|r: &Request| {
        if r.path.ends_with("v_plugin") {
            envelope(403, "Operation Failed", "ACL")
        } else {
            envelope(400, "Invalid table customer_account", "")
        }
    });
    let client = basic(&server);
    assert!(!client.customer_service_management().await.unwrap());
    let err = client
        .customer_accounts(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
    assert!(
        err.message().contains("Customer Service Management"),
        "{err}"
    );
    let err = client.customer_account(&sid(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
}

#[tokio::test]
async fn single_rows_are_none_on_404_and_errors_keep_their_envelope() {
    let server = Server::start(|r: &Request| {
        if r.path.ends_with(&sys_id(1)) {
            Reply::json(200, json!({"result": {"sys_id": sys_id(1), "name": "One"}}))
        } else if r.path.ends_with(&sys_id(2)) {
            envelope(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            )
        } else {
            envelope(400, "Invalid query", "bad term")
        }
    });
    let client = basic(&server);
    assert_eq!(client.company(&sid(1)).await.unwrap().unwrap().name, "One");
    assert_eq!(client.company(&sid(2)).await.unwrap(), None);
    let err = client.companies(PageRequest::first(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
    assert!(err.message().contains("Invalid query") && err.message().contains("bad term"));
}

#[tokio::test]
async fn groups_and_users_are_read_by_sys_id_with_their_active_flag() {
    let server = Server::start(|r: &Request| {
        if r.path == format!("/api/now/table/sys_user_group/{}", sys_id(1)) {
            Reply::json(
                200,
                json!({"result": {"sys_id": sys_id(1), "name": "Service Desk", "active": "false"}}),
            )
        } else if r.path == format!("/api/now/table/sys_user/{}", sys_id(2)) {
            Reply::json(
                200,
                json!({"result": {"sys_id": sys_id(2), "user_name": "ninjaone", "name": "NinjaOne", "active": "true"}}),
            )
        } else {
            envelope(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            )
        }
    });
    let client = basic(&server);
    let group = client.user_group(&sid(1)).await.unwrap().unwrap();
    assert_eq!((group.name.as_str(), group.active), ("Service Desk", false));
    let user = client.user(&sid(2)).await.unwrap().unwrap();
    assert_eq!(
        (user.user_name.as_deref(), user.active),
        (Some("ninjaone"), true)
    );
    assert_eq!(client.user_group(&sid(3)).await.unwrap(), None);
    assert_eq!(client.user(&sid(3)).await.unwrap(), None);
    let first = &server.requests()[0];
    assert_eq!(
        first.param("sysparm_fields").as_deref(),
        Some("sys_id,name,active")
    );
    assert_eq!(client.stats().writes, 0);
}

#[tokio::test]
async fn incidents_and_cases_are_created_and_updated_on_their_tables() {
    let server = Server::start(|r: &Request| {
        let mut row = r.json();
        row["sys_id"] = json!(sys_id(4));
        row["number"] = json!("N0001");
        if r.method == "PATCH" {
            row["short_description"] = json!("kept");
        }
        Reply::json(
            if r.method == "POST" { 201 } else { 200 },
            json!({"result": row}),
        )
    });
    let client = basic(&server);
    let incident = client
        .create_incident(&NewIncident {
            short_description: "Disk full".into(),
            description: "C: is full".into(),
            company: Some(sid(1)),
            account: None,
            cmdb_ci: None,
            correlation_id: "ninjaone:acme:alert:1".parse().unwrap(),
            correlation_display: "NinjaOne".into(),
            urgency: Level::High,
            impact: Level::Medium,
            assignment_group: Some(sid(5)),
            caller_id: Some(sid(6)),
            category: Some("hardware".into()),
            subcategory: None,
            contact_type: Some("monitoring".into()),
        })
        .await
        .unwrap();
    assert_eq!(incident.company, Some(sid(1)));
    assert_eq!(incident.urgency, Some(Level::High));
    let case = client
        .create_case(&NewCase {
            short_description: "Disk full".into(),
            description: "C: is full".into(),
            account: sid(2),
            company: None,
            cmdb_ci: None,
            correlation_id: "ninjaone:acme:alert:2".parse().unwrap(),
            correlation_display: "NinjaOne".into(),
            urgency: Level::Low,
            impact: Level::Low,
            assignment_group: None,
            category: None,
            subcategory: None,
            contact_type: None,
        })
        .await
        .unwrap();
    assert_eq!(case.account, Some(sid(2)));
    let update = CaseUpdate {
        state: Some(CaseState::Resolved),
        ..CaseUpdate::default()
    };
    let updated = client.update_case(&sid(4), &update).await.unwrap();
    assert_eq!(updated.state, CaseState::Resolved);
    let paths: Vec<_> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /api/now/table/incident".to_owned(),
            "POST /api/now/table/sn_customerservice_case".to_owned(),
            format!("PATCH /api/now/table/sn_customerservice_case/{}", sys_id(4)),
        ]
    );
    let first = &server.requests()[0];
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.json()["correlation_id"], "ninjaone:acme:alert:1");
    assert_eq!(first.json()["assignment_group"], sys_id(5));
    assert_eq!(first.json()["caller_id"], sys_id(6));
    assert_eq!(first.json()["contact_type"], "monitoring");
    assert!(
        first.json().get("subcategory").is_none(),
        "unset fields are not sent"
    );
    assert_eq!(incident.assignment_group, Some(sid(5)));
    assert_eq!(incident.category.as_deref(), Some("hardware"));
    assert_eq!(client.stats().writes, 3);
}

#[tokio::test]
async fn identification_and_reconciliation_returns_one_result_per_item() {
    let fixture = include_str!("../fixtures/servicenow/identify_reconcile.json");
    // The server always answers with the fixture's three results.
    let server = Server::start(move |_: &Request| Reply::text(200, "application/json", fixture));
    let client = basic(&server);
    let item = |class: &str, id: u32| CiItem {
        class_name: class.parse().unwrap(),
        values: BTreeMap::from([("name".to_owned(), format!("host{id}"))]),
        internal_id: Some(format!("ninjaone-device-{id}")),
        source: None,
    };
    let items = [
        item("cmdb_ci_win_server", 8),
        item("cmdb_ci_esx_server", 7),
        item("cmdb_ci_computer", 33),
    ];
    let results = client.identify_reconcile("NinjaOne", &items).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[2].errors.len(), 1);
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/api/now/identifyreconcile");
    assert_eq!(
        sent.param("sysparm_data_source").as_deref(),
        Some("NinjaOne")
    );
    assert_eq!(sent.json()["items"][0]["className"], "cmdb_ci_win_server");
    // An answer that does not match the items sent is not passed off as complete.
    let err = client
        .identify_reconcile("NinjaOne", &items[..2])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("3 results for 2 items"), "{err}");
    // Nothing to send: no request.
    assert!(
        client
            .identify_reconcile("NinjaOne", &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(client.identify_reconcile("a&b", &items).await.is_err());
    assert_eq!(server.requests().len(), 2);
}

/// `n` items as the CMDB step sends them: internal id and source key of devices 1..=n.
fn device_items(n: u32) -> Vec<CiItem> {
    (1..=n)
        .map(|id| CiItem {
            class_name: "cmdb_ci_computer".parse().unwrap(),
            values: BTreeMap::from([("name".to_owned(), format!("PC-{id}"))]),
            internal_id: Some(format!("ninjaone-device-{id}")),
            source: Some(CiSourceInfo::new("NinjaOne", id.to_string())),
        })
        .collect()
}

#[tokio::test]
async fn every_documented_identification_answer_is_read_item_by_item() {
    let fixture = include_str!("../fixtures/servicenow/identify_reconcile_shapes.json");
    let server = Server::start(move |_: &Request| Reply::text(200, "application/json", fixture));
    let client = basic(&server);
    let items = device_items(6);
    let results = client.identify_reconcile("NinjaOne", &items).await.unwrap();
    let [insert, update, no_change, partial, refused, odd] = results.as_slice() else {
        panic!("six results: {results:?}");
    };
    assert_eq!(insert.operation, Some(CiOperation::Insert));
    assert_eq!(
        insert.sys_id,
        Some("ef43c6d40a0a0b5700c77f9bf387afe3".parse().unwrap())
    );
    // `relatedSysIds` may hold nulls: they are dropped, the rest kept.
    assert_eq!(insert.related_sys_ids.len(), 1);
    assert_eq!(update.operation, Some(CiOperation::Update));
    assert!(update.sys_id.is_some() && update.related_sys_ids.is_empty());
    assert_eq!(no_change.operation, Some(CiOperation::NoChange));
    // INSERT_AS_PARTIAL: "Unknown" is no sys_id; the partial payloads and the warning are kept.
    assert_eq!(partial.operation, Some(CiOperation::InsertAsPartial));
    assert_eq!(partial.sys_id, None);
    assert_eq!(partial.partial_sys_ids.len(), 1);
    assert_eq!(partial.warnings[0].kind, "MISSING_MATCHING_ATTRIBUTES");
    // `""`: not processed, with its errors.
    assert_eq!(
        (refused.operation.as_ref(), refused.sys_id.as_ref()),
        (None, None)
    );
    assert_eq!(refused.errors[0].kind, "MULTIPLE_DUPLICATE_RECORDS");
    // An item that cannot be read is a failed item, not a failed call.
    assert_eq!(odd.internal_id.as_deref(), Some("ninjaone-device-6"));
    assert_eq!(odd.errors[0].kind, "UNREADABLE_ANSWER");
    // What was sent: the source key of every item, for identification before the rules.
    let sent = server.requests()[0].json();
    assert_eq!(
        sent["items"][3]["sys_object_source_info"],
        json!({"source_name": "NinjaOne", "source_native_key": "4"})
    );
}

#[tokio::test]
async fn item_errors_in_a_400_result_envelope_are_per_item_failures_with_servicenows_message() {
    let fixture = include_str!("../fixtures/servicenow/identify_reconcile_400.json");
    let server = Server::start(move |request: &Request| {
        match request.param("sysparm_data_source").as_deref() {
            Some("NinjaOne") => Reply::text(400, "application/json", fixture),
            // Errors for the whole payload, without items.
            Some("SCCM") => Reply::json(
                400,
                json!({"result": {"errors": [{"error": "INVALID_INPUT_DATA",
                    "message": "In payload invalid data source [SCCM] exist."}], "errorCount": 1}}),
            ),
            _ => envelope(400, "Invalid request", "no data source"),
        }
    });
    let client = basic(&server);
    let items = device_items(2);
    for results in [
        client.identify_reconcile("NinjaOne", &items).await.unwrap(),
        client
            .identify_reconcile_query("NinjaOne", &items)
            .await
            .unwrap(),
    ] {
        assert_eq!(results.len(), 2);
        for (n, result) in results.iter().enumerate() {
            assert_eq!(
                result.internal_id.as_deref(),
                Some(format!("ninjaone-device-{}", n + 1).as_str())
            );
            assert_eq!(result.errors[0].kind, "INVALID_INPUT_DATA");
            assert!(
                result.errors[0]
                    .message
                    .contains("invalid data source [NinjaOne]"),
                "{result:?}"
            );
        }
    }
    let shared = client.identify_reconcile("SCCM", &items).await.unwrap();
    assert_eq!(
        shared.len(),
        items.len(),
        "the shared errors apply to every item"
    );
    for r in &shared {
        assert_eq!(r.operation, None);
        assert_eq!(r.errors[0].kind, "INVALID_INPUT_DATA");
        assert!(r.errors[0].message.contains("[SCCM]"), "{r:?}");
    }
    // The standard error envelope stays an error of the call.
    let err = client
        .identify_reconcile("ServiceNow", &items)
        .await
        .unwrap_err();
    assert!(err.message().contains("Invalid request"), "{err}");
    // A write is never sent again after a 400; neither is the dry run.
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn the_dry_run_posts_to_query_and_ci_owners_are_one_query_by_sys_id() {
    let owner = sys_id(1);
    let other = sys_id(2);
    let (o1, o2) = (owner.clone(), other.clone());
    let server = Server::start(move |request: &Request| match request.path.as_str() {
        "/api/now/identifyreconcile/query" => Reply::json(
            200,
            json!({"result": {"items": [
                {"className": "cmdb_ci_computer", "operation": "INSERT", "sysId": "Unknown", "internal_id": "ninjaone-device-1"},
                {"className": "cmdb_ci_computer", "operation": "UPDATE", "sysId": o1, "internal_id": "ninjaone-device-2"}
            ]}}),
        ),
        "/api/now/table/cmdb_ci" => Reply::json(
            200,
            json!({"result": [
                {"sys_id": o1, "name": "DC01", "sys_class_name": "cmdb_ci_win_server", "company": o2},
                {"sys_id": o2, "name": "PC-7", "sys_class_name": "cmdb_ci_computer", "company": ""}
            ]}),
        ),
        _ => envelope(400, "unexpected", &request.path),
    });
    let client = basic(&server);
    let dry = client
        .identify_reconcile_query("NinjaOne", &device_items(2))
        .await
        .unwrap();
    assert_eq!(
        (dry[0].operation.clone(), dry[0].sys_id.clone()),
        (Some(CiOperation::Insert), None)
    );
    assert_eq!(dry[1].sys_id, Some(sid(1)));
    let owners = client.ci_owners(&[sid(1), sid(2)]).await.unwrap();
    assert_eq!(owners.len(), 2);
    assert_eq!(owners[0].company, Some(sid(2)));
    assert_eq!(owners[0].name.as_deref(), Some("DC01"));
    assert_eq!(owners[1].company, None);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].param("sysparm_data_source").as_deref(),
        Some("NinjaOne")
    );
    assert_eq!(
        requests[1].param("sysparm_query"),
        Some(format!("sys_idIN{owner},{other}"))
    );
    assert_eq!(requests[1].param("sysparm_limit").as_deref(), Some("2"));
    assert_eq!(
        requests[1].param("sysparm_fields").as_deref(),
        Some("sys_id,name,sys_class_name,company")
    );
    // A dry run writes nothing: it is not counted as a write.
    assert_eq!(client.stats().writes, 0);
}

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

/// The chain a host logs for a failed company lookup: the context, the cause and the fix, each
/// once.
fn lookup_chain(err: ninjaone_servicenow::ports::ApiError) -> String {
    let err = SyncError::Remote {
        remote: Remote::ServiceNow,
        context: format!("could not look up company {} in ServiceNow", sid(1)),
        error: err,
    };
    ErrorChain(&err).to_string()
}

/// No ": "-separated part of `chain` (a context, a cause, a fix) appears twice.
fn assert_each_part_once(chain: &str) {
    let parts: Vec<&str> = chain.split(": ").flat_map(|p| p.split("; ")).collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "{part:?} appears twice in {chain:?}"
        );
    }
}

#[tokio::test]
async fn the_common_failures_print_what_failed_why_and_what_to_do_once() {
    let answers: [fn() -> Reply; 3] = [
        || {
            envelope(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            )
        },
        || envelope(403, "Operation Failed", "ACL denied"),
        || envelope(429, "Too Many Requests", "rate limit").header("Retry-After", "3600"),
    ];
    let mut chains = Vec::new();
    for reply in answers {
        let server = Server::start(move |_: &Request| reply());
        let client = ServiceNowClient::new(
            ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
                .unwrap()
                .options(fast().max_attempts(1)),
        )
        .unwrap();
        chains.push(lookup_chain(client.company(&sid(1)).await.unwrap_err()));
    }
    let server = Server::start(|_: &Request| Reply::Silence(Duration::from_millis(600)));
    let client = ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
            .unwrap()
            .options(fast().timeout(Duration::from_millis(150)).max_attempts(1)),
    )
    .unwrap();
    chains.push(lookup_chain(client.company(&sid(1)).await.unwrap_err()));
    let path = format!("GET /api/now/table/core_company/{}", sys_id(1));
    let context = format!("could not look up company {} in ServiceNow", sys_id(1));
    assert_eq!(
        chains,
        [
            format!(
                "{context}: unauthorized: ServiceNow answered 401 to {path}: User Not \
                 Authenticated (Required to provide Auth information); check the ServiceNow user \
                 name and password (and the OAuth client)"
            ),
            format!(
                "{context}: forbidden: ServiceNow answered 403 to {path}: Operation Failed (ACL \
                 denied); give the integration user the roles it needs (itil for incidents, \
                 csm_ws_integration for cases, and read and write access to the company and \
                 CMDB tables)"
            ),
            format!(
                "{context}: rate limited (retry after 3600s): ServiceNow answered 429 to {path}: \
                 Too Many Requests (rate limit); retry later"
            ),
            format!(
                "{context}: transient failure: ServiceNow did not answer {path} within 150 ms; \
                 retry later: error sending request: operation timed out"
            ),
        ]
    );
    for chain in &chains {
        assert_each_part_once(chain);
    }
}
