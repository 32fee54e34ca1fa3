//! The fake tenant server: detailed devices, webhook registration and token scopes.

use super::*;

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
