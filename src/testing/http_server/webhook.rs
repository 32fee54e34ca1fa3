//! NinjaOne's webhook configuration: `PUT /v2/webhook` and `DELETE /v2/webhook`, for tokens
//! with the `management` scope only, as NinjaOne serves them.

use serde_json::{Value, json};

use super::Shared;
use super::http1::{Request, Response};

/// The webhook configuration's path.
pub(super) const PATH: &str = "/v2/webhook";

/// A webhook registration as the fake server received it ([`FakeServer::webhook`]).
///
/// [`FakeServer::webhook`]: super::FakeServer::webhook
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredWebhook {
    /// `url`.
    pub url: String,
    /// `activities.statusCode`.
    pub status_codes: Vec<String>,
    /// `expand`.
    pub expand: Vec<String>,
    /// `headers`, as (name, value) pairs: the secret is the value.
    pub headers: Vec<(String, String)>,
    /// The scopes of the token that registered it.
    pub scope: String,
}

/// Whether the space-separated `scopes` hold `wanted`.
pub(super) fn has_scope(scopes: &str, wanted: &str) -> bool {
    scopes.split_whitespace().any(|s| s == wanted)
}

/// What NinjaOne answers a token whose scopes do not allow the call: a 401 with
/// `insufficient_privileges` (not a 403), in its OAuth-style error body.
pub(super) fn insufficient_privileges(needed: &str) -> Response {
    Response::json(
        401,
        &json!({
            "error": "insufficient_privileges",
            "error_description": format!("this call needs a token with the {needed} scope"),
        }),
    )
}

fn bad_request(message: &str) -> Response {
    Response::json(
        400,
        &json!({ "resultCode": "FAILURE", "errorMessage": message }),
    )
}

pub(super) fn route(shared: &Shared, request: &Request, scope: &str) -> Response {
    if !matches!(request.method.as_str(), "PUT" | "DELETE") {
        return Response::json(
            405,
            &json!({ "resultCode": "FAILURE", "errorMessage": "use PUT or DELETE on /v2/webhook" }),
        );
    }
    if !has_scope(scope, "management") {
        return insufficient_privileges("management");
    }
    if request.method == "DELETE" {
        shared.lock().webhook = None;
        return Response::raw(204, "application/json", Vec::new());
    }
    match decode(&request.body, scope) {
        Ok(registration) => {
            shared.lock().webhook = Some(registration);
            Response::raw(204, "application/json", Vec::new())
        }
        Err(message) => bad_request(&message),
    }
}

/// Reads a registration body strictly: a wrong shape is what a real server would refuse.
fn decode(body: &[u8], scope: &str) -> Result<RegisteredWebhook, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let url = value
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or("url must be an http(s) URL")?
        .to_owned();
    let strings = |v: Option<&Value>, what: &str| -> Result<Vec<String>, String> {
        v.and_then(Value::as_array)
            .ok_or(format!("{what} must be a list"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{what} must hold strings"))
            })
            .collect()
    };
    let status_codes = strings(
        value.get("activities").and_then(|a| a.get("statusCode")),
        "activities.statusCode",
    )?;
    let expand = strings(value.get("expand"), "expand")?;
    let headers = value
        .get("headers")
        .and_then(Value::as_array)
        .ok_or("headers must be a list")?
        .iter()
        .map(|h| {
            match (
                h.get("name").and_then(Value::as_str),
                h.get("value").and_then(Value::as_str),
            ) {
                (Some(name), Some(value)) => Ok((name.to_owned(), value.to_owned())),
                _ => Err("each header needs a name and a value".to_owned()),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(RegisteredWebhook {
        url,
        status_codes,
        expand,
        headers,
        scope: scope.to_owned(),
    })
}
