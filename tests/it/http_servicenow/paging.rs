//! The ServiceNow client: paging by key and the contract query terms.

use super::*;

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
