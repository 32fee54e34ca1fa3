//! The fake tenant server, NinjaOne side: paging, organizations, authentication failures.

use super::*;

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
