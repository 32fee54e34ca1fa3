//! The NinjaOne side: `/ws/oauth/token` and the `/v2` endpoints the clients use (including
//! `/v2/devices-detailed`, agent rows nested and VMware hosts flat).

use serde::Serialize;
use serde_json::json;

use super::http1::{Request, Response};
use super::{Api, Shared, api_error_response};
use crate::model::{DeviceId, OrganizationId};
use crate::ports::{ApiError, Cursor, DEFAULT_PAGE_SIZE, NinjaOneApi, Page, PageRequest};

/// The token endpoint's path.
pub(super) const TOKEN_PATH: &str = "/ws/oauth/token";

pub(super) async fn route(shared: &Shared, request: &Request) -> Response {
    if request.path == TOKEN_PATH {
        return if request.method == "POST" {
            token(shared, request)
        } else {
            failure(405, "use POST for the token endpoint")
        };
    }
    if !shared.bearer_ok(Api::NinjaOne, request) {
        return failure(
            401,
            "Invalid or expired access token: request a token at /ws/oauth/token",
        );
    }
    let scope = shared.token_scope(request).unwrap_or_default();
    if request.path == super::webhook::PATH {
        return super::webhook::route(shared, request, &scope);
    }
    if request.method != "GET" {
        return failure(405, "the fake NinjaOne serves GET requests only");
    }
    if !super::webhook::has_scope(&scope, "monitoring") {
        return super::webhook::insufficient_privileges("monitoring");
    }
    let ninja = &shared.ninjaone;
    match request.segments().as_slice() {
        ["v2", "organizations"] => match page_request(request) {
            Ok(page) => items(ninja.organizations(page).await),
            Err(response) => response,
        },
        ["v2", "organization", id] => match organization_id(id) {
            Ok(id) => match ninja.organization(id).await {
                Ok(Some(found)) => Response::json(200, &json!(found)),
                Ok(None) => failure(404, &format!("organization {id} not found")),
                Err(err) => api_error_response(Api::NinjaOne, &err),
            },
            Err(response) => response,
        },
        ["v2", "organization", id, "devices"] => {
            match (organization_id(id), page_request(request)) {
                (Ok(id), Ok(page)) => items(ninja.organization_devices(id, page).await),
                (Err(response), _) | (_, Err(response)) => response,
            }
        }
        ["v2", "devices"] => match page_request(request) {
            Ok(page) => items(ninja.devices(page).await),
            Err(response) => response,
        },
        ["v2", "devices-detailed"] => match page_request(request) {
            Ok(page) => items(ninja.devices_detailed_rows(&page).await),
            Err(response) => response,
        },
        ["v2", "roles"] => items(ninja.device_roles().await),
        ["v2", "alerts"] => items(ninja.alerts().await),
        ["v2", "device", id, "alerts"] => match id.parse::<DeviceId>() {
            Ok(id) => match ninja.device_alerts(id).await {
                Ok(alerts) => Response::json(200, &json!(alerts)),
                Err(err) => api_error_response(Api::NinjaOne, &err),
            },
            Err(_) => failure(400, &format!("{id:?} is not a device id")),
        },
        _ => failure(404, &format!("no endpoint {}", request.path)),
    }
}

fn failure(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({ "resultCode": "FAILURE", "errorMessage": message }),
    )
}

/// A page's rows as a bare JSON array (NinjaOne sends no cursor: the client asks again with
/// `after` = the last id until a page is short).
fn items<T: Serialize>(result: Result<Page<T>, ApiError>) -> Response {
    match result {
        Ok(page) => Response::json(200, &json!(page.items)),
        Err(err) => api_error_response(Api::NinjaOne, &err),
    }
}

fn organization_id(text: &str) -> Result<OrganizationId, Response> {
    text.parse()
        .map_err(|_| failure(400, &format!("{text:?} is not an organization id")))
}

/// `pageSize` (default [`DEFAULT_PAGE_SIZE`]) and `after`.
fn page_request(request: &Request) -> Result<PageRequest, Response> {
    let size = match request.query_value("pageSize") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => return Err(failure(400, "pageSize must be a positive integer")),
        },
    };
    let first = PageRequest::first(size);
    Ok(match request.query_value("after") {
        Some(after) if !after.is_empty() => first.next(Cursor::new(after)),
        _ => first,
    })
}

fn token(shared: &Shared, request: &Request) -> Response {
    let form = request.form();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return Response::json(
            400,
            &json!({
                "error": "unsupported_grant_type",
                "error_description": "the fake NinjaOne issues client_credentials tokens only"
            }),
        );
    }
    let auth = &shared.auth;
    if field("client_id") != Some(auth.ninjaone_client_id.as_str()) {
        // What the real endpoint answers an unknown client, not the OAuth shape of its spec.
        return Response::json(400, &json!({ "resultCode": "Client app not exist" }));
    }
    if field("client_secret") != Some(auth.ninjaone_client_secret.as_str()) {
        return Response::json(
            401,
            &json!({ "error": "invalid_client", "error_description": "Invalid client credentials" }),
        );
    }
    let scope = field("scope").unwrap_or("monitoring").to_owned();
    if let Some(refused) = scope
        .split_whitespace()
        .find(|s| !auth.ninjaone_scopes.iter().any(|allowed| allowed == s))
    {
        // NinjaOne refuses a scope the application was not allowed instead of narrowing the
        // grant.
        return Response::json(
            400,
            &json!({
                "error": "invalid_scope",
                "error_description": format!("Invalid scope {refused} for client"),
            }),
        );
    }
    let access_token = shared.issue_scoped_token(&scope);
    Response::json(
        200,
        &json!({
            "access_token": access_token,
            "expires_in": auth.token_lifetime.as_secs(),
            "token_type": "bearer",
            "scope": scope,
        }),
    )
}
