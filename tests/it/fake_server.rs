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

mod auth_and_faults;
mod devices_and_webhooks;
mod ninjaone;
mod servicenow;

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
