//! The fake tenant HTTP server (`testing::FakeServer`) against plain reqwest calls: OAuth, key
//! paging, 404s, the Table API's query rules, Customer Service Management, identifyreconcile,
//! and the fault switches.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::time::Duration;

use ninjaone_servicenow::model::IncidentState;
use ninjaone_servicenow::ports::ApiErrorKind;
use ninjaone_servicenow::testing::{
    Api, FakeNinjaOne, FakeServer, FakeServiceNow, LoggedRequest, ServerFault,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const COMPANY_FIELDS: &str =
    "sys_id,name,customer,vendor,manufacturer,parent,sys_created_on,sys_updated_on";

async fn server(orgs: usize, companies: usize, csm: bool) -> FakeServer {
    FakeServer::start(
        FakeNinjaOne::builder()
            .organizations(orgs)
            .roles_standard()
            .devices_per_organization(2)
            .build(),
        FakeServiceNow::builder()
            .companies(companies)
            .customer_account("Contoso Holdings")
            .customer_service_management(csm)
            .build(),
    )
    .await
}

async fn ninja_token(client: &Client, server: &FakeServer) -> String {
    let response = client
        .post(format!("{}/ws/oauth/token", server.ninjaone_origin()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", FakeServer::NINJAONE_CLIENT_ID),
            ("client_secret", FakeServer::NINJAONE_CLIENT_SECRET),
            ("scope", "monitoring management"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "monitoring management");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn ninja_get(
    client: &Client,
    server: &FakeServer,
    token: &str,
    path: &str,
) -> (StatusCode, Value) {
    let response = client
        .get(format!("{}{path}", server.ninjaone_origin()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn sn_get(client: &Client, server: &FakeServer, path_and_query: &str) -> (StatusCode, Value) {
    let response = client
        .get(format!("{}{path_and_query}", server.servicenow_origin()))
        .basic_auth(
            FakeServer::SERVICENOW_USERNAME,
            Some(FakeServer::SERVICENOW_PASSWORD),
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn list_path(table: &str, query: &str, limit: u32) -> String {
    format!(
        "/api/now/table/{table}?sysparm_query={}&sysparm_limit={limit}&sysparm_fields={COMPANY_FIELDS}\
         &sysparm_exclude_reference_link=true",
        url_encode(query)
    )
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn non_token(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests.iter().filter(|r| !r.is_token_request()).collect()
}

#[tokio::test]
async fn ninjaone_pages_by_key_until_a_short_page() {
    let server = server(5, 0, false).await;
    let client = Client::new();
    let token = ninja_token(&client, &server).await;
    let mut after = None;
    let mut ids = Vec::new();
    loop {
        let path = match after {
            None => "/v2/organizations?pageSize=2".to_owned(),
            Some(last) => format!("/v2/organizations?pageSize=2&after={last}"),
        };
        let (status, body) = ninja_get(&client, &server, &token, &path).await;
        assert_eq!(status, StatusCode::OK);
        let page = body.as_array().unwrap().clone();
        ids.extend(page.iter().map(|o| o["id"].as_u64().unwrap()));
        if page.len() < 2 {
            break;
        }
        after = ids.last().copied();
    }
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let log = server.requests();
    assert_eq!(log.len(), 4, "one token request and three pages: {log:?}");
    assert_eq!(log[3].query_value("after"), Some("4"));
    assert_eq!(
        server
            .ninjaone()
            .faults()
            .calls(NinjaOneMethod::Organizations),
        3
    );
    assert!(log.iter().all(|r| r.api == Api::NinjaOne && !r.is_write()));

    let (status, roles) = ninja_get(&client, &server, &token, "/v2/roles").await;
    assert_eq!(status, StatusCode::OK);
    assert!(roles.as_array().is_some_and(|r| !r.is_empty()));
    let (_, devices) = ninja_get(
        &client,
        &server,
        &token,
        "/v2/organization/2/devices?pageSize=10",
    )
    .await;
    assert_eq!(devices.as_array().map(Vec::len), Some(2));
    assert!(devices[0]["organizationId"] == 2);
    let (_, alerts) = ninja_get(&client, &server, &token, "/v2/alerts").await;
    assert!(alerts.is_array());
}

#[tokio::test]
async fn ninjaone_organization_and_its_404() {
    let server = server(3, 0, false).await;
    let client = Client::new();
    let token = ninja_token(&client, &server).await;
    let (status, body) = ninja_get(&client, &server, &token, "/v2/organization/2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], 2);
    assert_eq!(body["name"], "Fabrikam Legal 0002");
    let (status, body) = ninja_get(&client, &server, &token, "/v2/organization/99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["resultCode"], "FAILURE");
    let (status, _) = ninja_get(&client, &server, &token, "/v2/organization/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ninjaone_auth_failures() {
    let server = server(1, 0, false).await;
    let client = Client::new();
    let wrong = client
        .post(format!("{}/ws/oauth/token", server.ninjaone_origin()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", FakeServer::NINJAONE_CLIENT_ID),
            ("client_secret", "not-the-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let (status, body) = ninja_get(&client, &server, "made-up", "/v2/organizations").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["resultCode"], "FAILURE");

    let token = ninja_token(&client, &server).await;
    assert_eq!(
        ninja_get(&client, &server, &token, "/v2/roles").await.0,
        StatusCode::OK
    );
    server.expire_tokens();
    assert_eq!(
        ninja_get(&client, &server, &token, "/v2/roles").await.0,
        StatusCode::UNAUTHORIZED
    );
    let fresh = ninja_token(&client, &server).await;
    assert_eq!(
        ninja_get(&client, &server, &fresh, "/v2/roles").await.0,
        StatusCode::OK
    );
    assert_eq!(server.tokens_issued(Api::NinjaOne), 2);
    // A ServiceNow token is no NinjaOne token.
    assert!(
        server
            .issued_tokens()
            .iter()
            .all(|t| t.contains("ninjaone"))
    );
}

#[tokio::test]
async fn servicenow_pages_companies_by_sys_id() {
    let server = server(0, 5, false).await;
    let client = Client::new();
    let mut query = "ORDERBYsys_id".to_owned();
    let mut names = Vec::new();
    loop {
        let (status, body) = sn_get(&client, &server, &list_path("core_company", &query, 2)).await;
        assert_eq!(status, StatusCode::OK);
        let rows = body["result"].as_array().unwrap().clone();
        names.extend(rows.iter().map(|r| r["name"].as_str().unwrap().to_owned()));
        assert!(
            rows.iter()
                .all(|r| r["customer"] == "true" && r["parent"] == "")
        );
        if rows.len() < 2 {
            break;
        }
        let last = rows.last().unwrap()["sys_id"].as_str().unwrap();
        query = format!("sys_id>{last}^ORDERBYsys_id");
    }
    // The account extends core_company, so it is listed too.
    assert_eq!(names.len(), 6);
    assert_eq!(names[0], "Contoso Dental 0001");
    // Six rows in pages of two: three full pages and the empty one that ends the listing.
    let log = server.requests();
    assert_eq!(log.len(), 4);
    assert!(
        log[3]
            .query_value("sysparm_query")
            .unwrap()
            .starts_with("sys_id>")
    );
    assert_eq!(
        server
            .servicenow()
            .faults()
            .calls(ServiceNowMethod::Companies),
        4
    );
}

#[tokio::test]
async fn servicenow_refuses_every_query_term_outside_the_contract() {
    let server = server(0, 2, false).await;
    let client = Client::new();
    for query in [
        "name=Contoso Dental 0001^ORDERBYsys_id",
        "nameLIKEZed^NQname=Acme^ORDERBYsys_id",
        "javascript:gs.getUserID()",
        "ORDERBYname",
        "",
    ] {
        let (status, body) = sn_get(&client, &server, &list_path("core_company", query, 10)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["message"], "Invalid query", "{query}");
        assert_eq!(body["status"], "failure");
    }
    let offset = format!(
        "{}&sysparm_offset=10",
        list_path("core_company", "ORDERBYsys_id", 10)
    );
    assert_eq!(
        sn_get(&client, &server, &offset).await.0,
        StatusCode::BAD_REQUEST
    );
    let no_limit = "/api/now/table/core_company?sysparm_query=ORDERBYsys_id";
    assert_eq!(
        sn_get(&client, &server, no_limit).await.0,
        StatusCode::BAD_REQUEST
    );
    // Refused before reaching the fake.
    assert_eq!(
        server
            .servicenow()
            .faults()
            .calls(ServiceNowMethod::Companies),
        0
    );
    // The log keeps the decoded query, so a test can assert what a client sent.
    assert!(server.requests().iter().all(|r| r.status == 400));
    assert_eq!(
        server.requests()[0].query_value("sysparm_query"),
        Some("name=Contoso Dental 0001^ORDERBYsys_id")
    );
}

#[tokio::test]
async fn servicenow_single_rows_and_their_404() {
    let server = server(0, 1, false).await;
    let client = Client::new();
    let id = server.servicenow().all_companies()[0].sys_id.clone();
    let (status, body) = sn_get(
        &client,
        &server,
        &format!("/api/now/table/core_company/{id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["sys_id"], id.as_str());
    let missing = "0123456789abcdef0123456789abcdef";
    let (status, body) = sn_get(
        &client,
        &server,
        &format!("/api/now/table/core_company/{missing}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "No Record found");
    let (status, _) = sn_get(&client, &server, "/api/now/table/core_company/not-a-sys-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = sn_get(&client, &server, &list_path("no_such_table", "", 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "Invalid table no_such_table");
}

#[tokio::test]
async fn customer_service_management_absent_and_present() {
    let server = server(0, 1, false).await;
    let client = Client::new();
    let plugin = "/api/now/table/v_plugin?sysparm_query=id%3Dcom.sn_customerservice\
                  &sysparm_fields=id,active&sysparm_limit=1";
    let (status, body) = sn_get(&client, &server, plugin).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "result": [] })));
    for table in ["customer_account", "sn_customerservice_case"] {
        let (status, body) = sn_get(&client, &server, &list_path(table, "ORDERBYsys_id", 10)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({ "error": { "message": format!("Invalid table {table}"), "detail": null }, "status": "failure" })
        );
    }

    server.servicenow().set_customer_service_management(true);
    let (_, body) = sn_get(&client, &server, plugin).await;
    assert_eq!(body["result"][0]["active"], "active");
    let (status, body) = sn_get(
        &client,
        &server,
        &list_path("customer_account", "ORDERBYsys_id", 10),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"][0]["name"], "Contoso Holdings");
    assert!(
        body["result"][0]["number"]
            .as_str()
            .unwrap()
            .starts_with("ACCT")
    );
}

#[tokio::test]
async fn creates_companies_and_incidents_and_lists_incidents_by_prefix() {
    let server = server(0, 0, false).await;
    let client = Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", server.servicenow_origin()))
            .basic_auth(
                FakeServer::SERVICENOW_USERNAME,
                Some(FakeServer::SERVICENOW_PASSWORD),
            )
            .json(&body)
            .send()
    };
    let created = post(
        "/api/now/table/core_company",
        json!({ "name": "Acme", "customer": "true" }),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let company: Value = created.json().await.unwrap();
    assert_eq!(company["result"]["name"], "Acme");
    // The customer account of `server()` and the new company.
    assert_eq!(server.servicenow().all_companies().len(), 2);

    let incident = json!({
        "short_description": "Disk full", "description": "C: at 99%",
        "company": company["result"]["sys_id"], "correlation_id": "ninjaone:alert:1",
        "correlation_display": "NinjaOne", "urgency": "2", "impact": "2"
    });
    let created = post("/api/now/table/incident", incident).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let incident: Value = created.json().await.unwrap();
    let sys_id = incident["result"]["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(incident["result"]["state"], "1");

    let query =
        "correlation_idSTARTSWITHninjaone:^sys_created_on>=2023-12-31 00:00:00^ORDERBYsys_id";
    let (status, body) = sn_get(&client, &server, &list_path("incident", query, 10)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"].as_array().map(Vec::len), Some(1));
    let none_yet =
        "correlation_idSTARTSWITHninjaone:^sys_created_on>=2030-01-01 00:00:00^ORDERBYsys_id";
    let (_, body) = sn_get(&client, &server, &list_path("incident", none_yet, 10)).await;
    assert_eq!(body["result"], json!([]));

    let patched = client
        .patch(format!("{}/api/now/table/incident/{sys_id}", server.servicenow_origin()))
        .basic_auth(FakeServer::SERVICENOW_USERNAME, Some(FakeServer::SERVICENOW_PASSWORD))
        .json(&json!({ "state": "6", "close_code": "Solved (Permanently)", "close_notes": "cleared" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        server.servicenow().all_incidents()[0].state,
        IncidentState::Resolved
    );
    let gone = client
        .patch(format!(
            "{}/api/now/table/incident/0123456789abcdef0123456789abcdef",
            server.servicenow_origin()
        ))
        .basic_auth(
            FakeServer::SERVICENOW_USERNAME,
            Some(FakeServer::SERVICENOW_PASSWORD),
        )
        .json(&json!({ "state": "6" }))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(LoggedRequest::is_write)
        .collect();
    assert_eq!(writes.len(), 4);
}

#[tokio::test]
async fn identifyreconcile_answers_in_the_documented_shape() {
    let server = server(0, 0, false).await;
    let client = Client::new();
    let body = json!({ "items": [
        { "className": "cmdb_ci_win_server", "values": { "name": "srv-01", "serial_number": "S1" }, "internal_id": "ninjaone-device-8" },
        { "className": "cmdb_ci_computer", "values": { "ram": 16 }, "internal_id": "ninjaone-device-33" }
    ]});
    let response = client
        .post(format!(
            "{}/api/now/identifyreconcile?sysparm_data_source=ServiceWatch",
            server.servicenow_origin()
        ))
        .basic_auth(
            FakeServer::SERVICENOW_USERNAME,
            Some(FakeServer::SERVICENOW_PASSWORD),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let items = &answer["result"]["items"];
    assert_eq!(answer["result"]["relations"], json!([]));
    assert_eq!(items[0]["className"], "cmdb_ci_win_server");
    assert_eq!(items[0]["operation"], "INSERT");
    assert_eq!(items[0]["sysId"].as_str().map(str::len), Some(32));
    assert_eq!(items[0]["internal_id"], "ninjaone-device-8");
    assert_eq!(items[0]["errors"], json!([]));
    assert_eq!(items[0]["inputIndices"], json!([0]));
    // Neither serial nor name: a partial payload, "Unknown" sys_id, a warning, no CI.
    assert_eq!(items[1]["operation"], "INSERT_AS_PARTIAL");
    assert_eq!(items[1]["sysId"], "Unknown");
    assert_eq!(
        items[1]["warnings"][0]["error"],
        "MISSING_MATCHING_ATTRIBUTES"
    );
    assert_eq!(items[1]["partialSysIds"].as_array().map(Vec::len), Some(1));
    assert_eq!(server.servicenow().cis().len(), 1);
    assert_eq!(server.servicenow().cis()[0].data_source, "ServiceWatch");

    let post = |path: &str, source: &str| {
        client
            .post(format!(
                "{}{path}?sysparm_data_source={source}",
                server.servicenow_origin()
            ))
            .basic_auth(
                FakeServer::SERVICENOW_USERNAME,
                Some(FakeServer::SERVICENOW_PASSWORD),
            )
            .json(&body)
            .send()
    };
    // The dry run identifies without writing: the first item is found by its serial number.
    let dry = post("/api/now/identifyreconcile/query", "ServiceWatch")
        .await
        .unwrap();
    assert_eq!(dry.status(), StatusCode::OK);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(dry["result"]["items"][0]["operation"], "NO_CHANGE");
    assert_eq!(server.servicenow().cis().len(), 1);
    assert!(
        server.servicenow().partial_payloads().len() == 1,
        "the dry run kept no payload"
    );
    // An invalid data source fails every item: HTTP 400 with the item errors in a result
    // envelope, as ServiceNow answers.
    let invalid = post("/api/now/identifyreconcile", "Nope").await.unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let invalid: Value = invalid.json().await.unwrap();
    assert_eq!(invalid["result"]["errorCount"], 2);
    assert!(
        invalid["result"]["items"][1]["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid data source [Nope]")),
        "{invalid}"
    );
}

#[tokio::test]
async fn servicenow_basic_and_oauth_password_grant() {
    let server = server(0, 1, false).await;
    let client = Client::new();
    let path = list_path("core_company", "ORDERBYsys_id", 10);
    let wrong = client
        .get(format!("{}{path}", server.servicenow_origin()))
        .basic_auth(FakeServer::SERVICENOW_USERNAME, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["message"], "User Not Authenticated");
    let anonymous = client
        .get(format!("{}{path}", server.servicenow_origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let grant = |form: Vec<(&'static str, String)>| {
        client
            .post(format!("{}/oauth_token.do", server.servicenow_origin()))
            .form(&form)
            .send()
    };
    let client_fields = || {
        vec![
            ("client_id", FakeServer::SERVICENOW_CLIENT_ID.to_owned()),
            (
                "client_secret",
                FakeServer::SERVICENOW_CLIENT_SECRET.to_owned(),
            ),
        ]
    };
    let mut form = client_fields();
    form.extend([
        ("grant_type", "password".to_owned()),
        ("username", FakeServer::SERVICENOW_USERNAME.to_owned()),
        ("password", "wrong".to_owned()),
    ]);
    assert_eq!(
        grant(form).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let mut form = client_fields();
    form.extend([
        ("grant_type", "password".to_owned()),
        ("username", FakeServer::SERVICENOW_USERNAME.to_owned()),
        ("password", FakeServer::SERVICENOW_PASSWORD.to_owned()),
    ]);
    let tokens: Value = grant(form).await.unwrap().json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let with_bearer = |token: String| {
        client
            .get(format!("{}{path}", server.servicenow_origin()))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        with_bearer(access.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    server.expire_tokens();
    assert_eq!(
        with_bearer(access).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let mut form = client_fields();
    form.extend([
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh),
    ]);
    let renewed: Value = grant(form).await.unwrap().json().await.unwrap();
    let access = renewed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(with_bearer(access).await.unwrap().status(), StatusCode::OK);
    assert_eq!(server.tokens_issued(Api::ServiceNow), 2);
}

#[tokio::test]
async fn fault_switches_answer_before_the_fakes() {
    let server = server(2, 2, false).await;
    let client = Client::new();
    let path = list_path("core_company", "ORDERBYsys_id", 10);
    server.fail_next(
        Api::ServiceNow,
        1,
        &ServerFault::TooManyRequests {
            retry_after: Some(7),
        },
    );
    server.fail_next(Api::ServiceNow, 1, &ServerFault::Status(503));
    server.fail_next(Api::ServiceNow, 1, &ServerFault::Html);
    let send = || {
        client
            .get(format!("{}{path}", server.servicenow_origin()))
            .basic_auth(
                FakeServer::SERVICENOW_USERNAME,
                Some(FakeServer::SERVICENOW_PASSWORD),
            )
            .send()
    };
    let limited = send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    let unavailable = send().await.unwrap();
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = unavailable.json().await.unwrap();
    assert_eq!(body["status"], "failure");
    let html = send().await.unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text().await.unwrap().contains("hibernating"));
    assert_eq!(
        server
            .servicenow()
            .faults()
            .calls(ServiceNowMethod::Companies),
        0
    );
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        server
            .servicenow()
            .faults()
            .calls(ServiceNowMethod::Companies),
        1
    );
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 503, 200, 200]);

    // A truncated body: the declared length is not delivered.
    server.fail_next(Api::NinjaOne, 1, &ServerFault::Truncated);
    let truncated = client
        .post(format!("{}/ws/oauth/token", server.ninjaone_origin()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", FakeServer::NINJAONE_CLIENT_ID),
            ("client_secret", FakeServer::NINJAONE_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(truncated.status(), StatusCode::OK);
    assert!(truncated.bytes().await.is_err());
    // The connection is closed after a truncated answer; the next request gets a new one.
    let token = ninja_token(&client, &server).await;
    assert_eq!(
        ninja_get(&client, &server, &token, "/v2/roles").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn fake_faults_become_http_statuses() {
    let server = server(3, 0, false).await;
    let client = Client::new();
    let token = ninja_token(&client, &server).await;
    let faults = server.ninjaone().faults();
    faults.fail_next(
        NinjaOneMethod::Organizations,
        1,
        ApiErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        },
    );
    faults.fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Transient);
    faults.fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Forbidden);
    faults.fail_next(
        NinjaOneMethod::Organizations,
        1,
        ApiErrorKind::InvalidResponse,
    );
    let get = || {
        client
            .get(format!(
                "{}/v2/organizations?pageSize=10",
                server.ninjaone_origin()
            ))
            .bearer_auth(&token)
            .send()
    };
    let limited = get().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "5");
    assert_eq!(
        get().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(get().await.unwrap().status(), StatusCode::FORBIDDEN);
    let malformed = get().await.unwrap();
    assert_eq!(malformed.status(), StatusCode::OK);
    assert!(malformed.json::<Value>().await.is_err());
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);

    // A write committed before its failure: the company exists although the answer was 503.
    server.servicenow().faults().commit_then_fail(
        ServiceNowMethod::CreateCompany,
        1,
        ApiErrorKind::Transient,
    );
    let response = client
        .post(format!(
            "{}/api/now/table/core_company",
            server.servicenow_origin()
        ))
        .basic_auth(
            FakeServer::SERVICENOW_USERNAME,
            Some(FakeServer::SERVICENOW_PASSWORD),
        )
        .json(&json!({ "name": "Acme", "customer": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let names: Vec<String> = server
        .servicenow()
        .all_companies()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(names.contains(&"Acme".to_owned()), "{names:?}");
    assert_eq!(non_token(&server.requests()).len(), 6);
}

#[tokio::test]
async fn devices_detailed_serves_nested_agent_rows_and_flat_vm_host_rows_paged() {
    let server = server(2, 0, false).await;
    let host = server
        .ninjaone()
        .add_device("2".parse().unwrap(), Some("13".parse().unwrap()), "esx-01")
        .unwrap();
    let client = Client::new();
    let token = ninja_token(&client, &server).await;
    let (status, rows) =
        ninja_get(&client, &server, &token, "/v2/devices-detailed?pageSize=3").await;
    assert_eq!(status, StatusCode::OK);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "a full first page");
    let agent = &rows[0];
    assert!(agent["system"]["serialNumber"].is_string(), "{agent}");
    assert!(agent["os"]["name"].is_string() && agent["memory"]["capacity"].is_u64());
    assert!(agent["processors"][0]["clockSpeed"].is_u64());
    let macs = agent["macAddresses"].as_array().unwrap();
    assert_eq!(macs.len(), 2, "NinjaOne repeats MAC addresses");
    let last = rows[2]["id"].as_u64().unwrap();
    let (_, rest) = ninja_get(
        &client,
        &server,
        &token,
        &format!("/v2/devices-detailed?pageSize=3&after={last}"),
    )
    .await;
    let flat = rest
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == u64::from(host.get()))
        .expect("the VM host on the second page");
    assert_eq!(flat["deviceType"], "VMHost");
    assert!(flat["serviceTag"].is_string() && flat["memorySize"].is_u64());
    assert!(flat.get("system").is_none() && flat.get("os").is_none());
    assert_eq!(
        server
            .ninjaone()
            .faults()
            .calls(NinjaOneMethod::DevicesDetailed),
        2
    );
}

fn ninjaone_client(server: &FakeServer) -> ninjaone_servicenow::http::NinjaOneClient {
    use ninjaone_servicenow::http::{NinjaOneClient, NinjaOneConfig, Secret};
    NinjaOneClient::new(
        NinjaOneConfig::new(
            &server.ninjaone_origin(),
            FakeServer::NINJAONE_CLIENT_ID,
            Secret::new(FakeServer::NINJAONE_CLIENT_SECRET),
        )
        .unwrap(),
    )
    .unwrap()
}

fn registration() -> ninjaone_servicenow::http::WebhookRegistration {
    ninjaone_servicenow::http::WebhookRegistration::new(
        "https://orgsync.example.com/ninjaone/webhook",
        ninjaone_servicenow::http::Secret::new("fake-hook-secret-1234"),
    )
    .unwrap()
}

#[tokio::test]
async fn the_webhook_is_registered_with_a_management_token_read_back_and_deleted() {
    use ninjaone_servicenow::ports::{NinjaOneApi, PageRequest};
    let server = server(2, 0, false).await;
    let client = ninjaone_client(&server);
    client.register_webhook(&registration()).await.unwrap();
    client.organizations(PageRequest::first(10)).await.unwrap();
    let registered = server.webhook().expect("the registration is recorded");
    assert_eq!(
        registered.url,
        "https://orgsync.example.com/ninjaone/webhook"
    );
    assert_eq!(registered.status_codes, ["TRIGGERED", "RESET"]);
    assert_eq!(registered.expand, ["device", "organization"]);
    assert_eq!(
        registered.headers,
        [(
            "x-orgsync-webhook-secret".to_owned(),
            "fake-hook-secret-1234".to_owned()
        )]
    );
    assert_eq!(registered.scope, "management");
    // Only the webhook call carried the management token.
    for r in non_token(&server.requests()) {
        let expected = if r.path == "/v2/webhook" {
            "management"
        } else {
            "monitoring"
        };
        assert_eq!(
            r.scope.as_deref(),
            Some(expected),
            "{} {}",
            r.method,
            r.path
        );
    }
    client.delete_webhook().await.unwrap();
    assert_eq!(server.webhook(), None);
}

#[tokio::test]
async fn tokens_are_refused_outside_their_scope_and_an_app_without_management_gets_none() {
    use ninjaone_servicenow::ports::{NinjaOneApi, PageRequest};
    let server = server(2, 0, false).await;

    // A management token is refused for reads, a monitoring one for the webhook (401
    // insufficient_privileges, as NinjaOne answers); an app without the management scope
    // cannot get the token at all (400 invalid_scope).
    let http = Client::new();
    let origin = server.ninjaone_origin();
    let token = |scope: &'static str| {
        let http = http.clone();
        let origin = origin.clone();
        async move {
            let body: Value = http
                .post(format!("{origin}/ws/oauth/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", FakeServer::NINJAONE_CLIENT_ID),
                    ("client_secret", FakeServer::NINJAONE_CLIENT_SECRET),
                    ("scope", scope),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let management = token("management").await;
    let (status, body) = ninja_get(&http, &server, &management, "/v2/organizations").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("insufficient_privileges"))
    );
    let monitoring = token("monitoring").await;
    let refused = http
        .delete(format!("{origin}/v2/webhook"))
        .bearer_auth(&monitoring)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let narrow = FakeServer::builder(
        FakeNinjaOne::builder().build(),
        FakeServiceNow::builder().build(),
    )
    .ninjaone_scopes(["monitoring"])
    .start()
    .await;
    let client = ninjaone_client(&narrow);
    let err = client.register_webhook(&registration()).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden, "{err}");
    assert!(err.to_string().contains("invalid_scope"), "{err}");
    assert_eq!(narrow.webhook(), None);
    assert!(client.organizations(PageRequest::first(10)).await.is_ok());
}
