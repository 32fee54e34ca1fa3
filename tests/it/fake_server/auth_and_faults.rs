//! The fake tenant server: Basic and OAuth authentication, fault switches and fake faults as HTTP statuses.

use super::*;

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
