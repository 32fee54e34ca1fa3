//! Reading ServiceNow's answers: the `result` envelope, and the error bodies of the Table API
//! and of the token endpoint.

use serde_json::Value;

use crate::http::call::{Reply, reply_kind, text_snippet};
use crate::http::secret::Scrubber;
use crate::model::wire::json_type;
use crate::ports::{ApiError, ApiErrorKind};

use super::SERVICE;
use super::cmdb::ire_item_errors;

/// The `result` of a success envelope; an error envelope on a 2xx is an error too.
pub(super) fn result(value: Value, what: &str) -> Result<Value, ApiError> {
    match value {
        Value::Object(mut map) => {
            if let Some(result) = map.remove("result") {
                return Ok(result);
            }
            if let Some(error) = map.get("error") {
                let (message, detail) = envelope_text(error, &Scrubber::default());
                return Err(ApiError::new(
                    ApiErrorKind::Other,
                    format!("ServiceNow answered {what} with an error: {message}{detail}"),
                ));
            }
            Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!("ServiceNow answered {what} with JSON that has no result"),
            ))
        }
        other => Err(ApiError::new(
            ApiErrorKind::InvalidResponse,
            format!(
                "ServiceNow answered {what} with a JSON {} instead of a result envelope",
                json_type(&other)
            ),
        )),
    }
}

/// `(message, " (detail)")` of an `error` member: the envelope's object, or an OAuth code.
pub(super) fn envelope_text(error: &Value, scrub: &Scrubber) -> (String, String) {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| scrub.clean(s, 200))
    };
    match error {
        Value::Object(map) => (
            text(map.get("message")).unwrap_or_else(|| "no message".to_owned()),
            text(map.get("detail"))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
        ),
        Value::String(code) => (scrub.clean(code, 100), String::new()),
        other => (scrub.clean(&other.to_string(), 200), String::new()),
    }
}

/// Decodes an error answer: the envelope `{"error": {"message", "detail"}, "status":
/// "failure"}`, an OAuth error `{"error", "error_description"}`, an HTML page or text.
pub(super) fn decode_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    if let Some(items) = ire_item_errors(reply, what) {
        return items;
    }
    let (kind, detail) = error_detail(reply, scrub);
    let error = ApiError::new(
        kind,
        format!("ServiceNow answered {status} to {what}: {detail}"),
    );
    // The fix for refused credentials is the one every layer names (`Remote::action`).
    match SERVICE.action(kind) {
        Some(advice) if kind.is_auth() => error.with_advice(advice),
        _ => error,
    }
}

/// The kind and the scrubbed text of an error answer.
pub(super) fn error_detail(reply: &Reply, scrub: &Scrubber) -> (ApiErrorKind, String) {
    let status = reply.status.as_u16();
    let mut kind = reply_kind(reply);
    let parsed = serde_json::from_slice::<Value>(&reply.body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let detail = match error {
        Some(error) => {
            let (message, mut detail) = envelope_text(error, scrub);
            if detail.is_empty()
                && let Some(d) = parsed
                    .as_ref()
                    .and_then(|v| v.get("error_description"))
                    .and_then(Value::as_str)
            {
                detail = format!(" ({})", scrub.clean(d, 200));
            }
            if status == 400 && message.starts_with("Invalid table") {
                kind = ApiErrorKind::NotFound;
                format!(
                    "{message}{detail}; the table does not exist on this instance (is Customer \
                     Service Management installed?)"
                )
            } else {
                format!("{message}{detail}")
            }
        }
        None => text_snippet(reply, scrub),
    };
    (kind, detail)
}

/// Decodes an answer of the token endpoint. Any 4xx but 408 and 429 is a refusal of the
/// credentials — whatever the body says (`invalid_grant`, `access_denied`, an error envelope,
/// text) and whatever the status (ServiceNow answers 401, gateways 400 or 404) — kept as
/// [`Unauthorized`](ApiErrorKind::Unauthorized) (403: `Forbidden`) with its text, so
/// [`is_auth`](ApiErrorKind::is_auth) stops the pass instead of retrying it forever.
pub(super) fn decode_token_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    if !(400..500).contains(&status) || matches!(status, 408 | 429) {
        return decode_error(reply, scrub, what);
    }
    let (_, text) = error_detail(reply, scrub);
    let kind = if status == 403 {
        ApiErrorKind::Forbidden
    } else {
        ApiErrorKind::Unauthorized
    };
    ApiError::new(
        kind,
        format!("ServiceNow refused the token request ({status} to {what}): {text}"),
    )
    .with_advice(
        "check the OAuth client id and secret (and, for the password grant, the user name and \
         password), and that the grant is enabled on the instance",
    )
}
