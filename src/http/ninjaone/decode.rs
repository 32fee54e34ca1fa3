//! Reading NinjaOne's answers: the client-credentials token request, JSON lists, and the
//! error bodies of the API and of the token endpoint.

use serde_json::Value;

use super::{DEFAULT_SCOPE, Inner, SERVICE, TOKEN_PATH};
use crate::http::call::{Auth, Call, DecodeError, Reply, encode_pairs, reply_kind, text_snippet};
use crate::http::secret::Scrubber;
use crate::http::token::Token;
use crate::model::wire::json_type;
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

/// One client-credentials token request for `scope`; refusals are decoded by `decode` (which
/// names the scope to allow).
pub(super) async fn request_token(
    inner: &Inner,
    scope: &str,
    decode: DecodeError,
) -> Result<Token, ApiError> {
    let form = encode_pairs([
        ("grant_type", "client_credentials"),
        ("client_id", inner.client_id.as_str()),
        ("client_secret", inner.client_secret.expose()),
        ("scope", scope),
    ]);
    let call = Call::token(TOKEN_PATH, form);
    let reply = inner.transport.send(&call, Auth::None, decode).await?;
    let value = reply.json(SERVICE, &call.describe())?;
    Token::from_response(&value, SERVICE)
}

pub(super) fn array(value: Value, what: &str) -> Result<Vec<Value>, ApiError> {
    match value {
        Value::Array(rows) => Ok(rows),
        other => Err(ApiError::new(
            ApiErrorKind::InvalidResponse,
            format!(
                "NinjaOne answered {what} with a JSON {} where a list was expected",
                json_type(&other)
            ),
        )),
    }
}

/// A short, scrubbed text for a JSON value that may be a string or an object
/// (`errorMessage` comes in both forms).
pub(super) fn message_text(value: &Value, scrub: &Scrubber) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(scrub.clean(s, 200)),
        Value::Object(map) => {
            let code = map.get("code").and_then(Value::as_str);
            let message = map.get("message").and_then(Value::as_str);
            match (code, message) {
                (Some(c), Some(m)) => Some(scrub.clean(&format!("{c}: {m}"), 200)),
                (Some(c), None) => Some(scrub.clean(c, 200)),
                (None, Some(m)) => Some(scrub.clean(m, 200)),
                (None, None) => Some(scrub.clean(&value.to_string(), 200)),
            }
        }
        other => Some(scrub.clean(&other.to_string(), 200)),
    }
}

/// Decodes an API error: `{"resultCode", "errorMessage" (string or object), "incidentId"}`, an
/// OAuth-style `{"error", "error_description"}`, plain text or nothing.
pub(super) fn decode_api_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    let (kind, detail) = api_error_detail(reply, scrub);
    let error = ApiError::new(
        kind,
        format!("NinjaOne answered {status} to {what}: {detail}"),
    );
    // The fix for refused credentials is the one every layer names (`Remote::action`).
    match Remote::NinjaOne.action(kind) {
        Some(advice) if kind.is_auth() => error.with_advice(advice),
        _ => error,
    }
}

/// The kind and the scrubbed text of an API error answer.
pub(super) fn api_error_detail(reply: &Reply, scrub: &Scrubber) -> (ApiErrorKind, String) {
    let mut kind = reply_kind(reply);
    let detail = match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Object(map)) => {
            let code = map.get("resultCode").and_then(|v| message_text(v, scrub));
            let message = map
                .get("errorMessage")
                .and_then(|v| message_text(v, scrub))
                .or_else(|| map.get("error").and_then(|v| message_text(v, scrub)));
            let description = map
                .get("error_description")
                .and_then(|v| message_text(v, scrub));
            let incident = map.get("incidentId").and_then(|v| message_text(v, scrub));
            let text = [code, message, description]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            if text.contains("insufficient_privileges") {
                kind = ApiErrorKind::Forbidden;
            }
            let text = if text.is_empty() {
                "no error message".to_owned()
            } else {
                text
            };
            match incident {
                Some(i) => format!("{text} (incident {i})"),
                None => text,
            }
        }
        _ => text_snippet(reply, scrub),
    };
    (kind, detail)
}

/// Decodes a token endpoint error: the OAuth shape `{"error": "invalid_client",
/// "error_description": ".."}` the spec promises, or what NinjaOne really sends an unknown
/// client (`{"resultCode": "Client app not exist"}`), or text. Any 4xx but 408 and 429 is a
/// refusal of the credentials ([`Unauthorized`](ApiErrorKind::Unauthorized); `Forbidden` for
/// 403 and `invalid_scope`), its text kept, so [`is_auth`](ApiErrorKind::is_auth) stops the
/// pass instead of retrying it.
pub(super) fn decode_oauth_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    oauth_error(reply, scrub, what, DEFAULT_SCOPE)
}

/// [`decode_oauth_error`] for a token request of `scope`, named in the advice of a refusal.
pub(super) fn oauth_error(reply: &Reply, scrub: &Scrubber, what: &str, scope: &str) -> ApiError {
    let status = reply.status.as_u16();
    let parsed = serde_json::from_slice::<Value>(&reply.body).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|v| v.is_string())
        .and_then(|v| message_text(v, scrub));
    let (api_kind, text) = match &code {
        Some(code) => {
            let description = parsed
                .as_ref()
                .and_then(|v| v.get("error_description"))
                .and_then(|v| message_text(v, scrub))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            (reply_kind(reply), format!("{code}{description}"))
        }
        None => api_error_detail(reply, scrub),
    };
    let refused = (400..500).contains(&status) && !matches!(status, 408 | 429);
    let kind = match code.as_deref() {
        Some("invalid_scope") => ApiErrorKind::Forbidden,
        Some("invalid_client" | "unauthorized_client" | "invalid_grant" | "access_denied") => {
            ApiErrorKind::Unauthorized
        }
        _ if refused && status == 403 => ApiErrorKind::Forbidden,
        _ if refused => ApiErrorKind::Unauthorized,
        _ => api_kind,
    };
    let error = ApiError::new(
        kind,
        format!("NinjaOne refused the token request ({status} to {what}): {text}"),
    );
    match kind {
        ApiErrorKind::Unauthorized => error.with_advice(
            "check the client id and secret of the NinjaOne API application (client \
             credentials grant)",
        ),
        ApiErrorKind::Forbidden => {
            error.with_advice(format!("allow the scope {scope} on the API application"))
        }
        _ => error,
    }
}
