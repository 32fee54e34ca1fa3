//! The fake server's shared state: tokens, queued faults, the request log, auth checks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;

use super::http1::{Request, Response};
use super::{Api, LoggedRequest, RegisteredWebhook, ServerFault, ninjaone, servicenow};
use crate::ports::{ApiError, ApiErrorKind};
use crate::testing::rng::SplitMix64;
use crate::testing::{FakeNinjaOne, FakeServiceNow};

/// Credentials and token settings of a [`FakeServer`].
#[derive(Debug, Clone)]
pub(super) struct Auth {
    pub(super) ninjaone_client_id: String,
    pub(super) ninjaone_client_secret: String,
    pub(super) servicenow_username: String,
    pub(super) servicenow_password: String,
    pub(super) servicenow_client_id: String,
    pub(super) servicenow_client_secret: String,
    /// Whether `/oauth_token.do` grants `client_credentials` (off by default, as on a real
    /// instance until its administrator enables it).
    pub(super) servicenow_client_credentials: bool,
    pub(super) token_lifetime: Duration,
    /// The scopes the NinjaOne API application may ask for.
    pub(super) ninjaone_scopes: Vec<String>,
}

#[derive(Debug)]
pub(super) struct Token {
    pub(super) api: Api,
    pub(super) expires: Instant,
    pub(super) revoked: bool,
}

#[derive(Debug, Default)]
pub(super) struct ServerState {
    pub(super) tokens: HashMap<String, Token>,
    pub(super) refresh_tokens: Vec<String>,
    pub(super) token_counter: u64,
    pub(super) log: Vec<LoggedRequest>,
    pub(super) faults: BTreeMap<Api, VecDeque<ServerFault>>,
    /// The scopes each NinjaOne access token was issued with.
    pub(super) scopes: HashMap<String, String>,
    /// What `PUT /v2/webhook` registered last (`DELETE` clears it).
    pub(super) webhook: Option<RegisteredWebhook>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) ninjaone: FakeNinjaOne,
    pub(super) servicenow: FakeServiceNow,
    pub(super) auth: Auth,
    /// Added to every answer (the builder's `latency`).
    pub(super) latency: Duration,
    pub(super) state: Mutex<ServerState>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues an access token for `api`.
    pub(super) fn issue_token(&self, api: Api) -> String {
        let mut state = self.lock();
        state.token_counter += 1;
        let token = format!(
            "fake-{}-access-{:06}-{:08x}",
            api_key(api),
            state.token_counter,
            mix(state.token_counter)
        );
        state.tokens.insert(
            token.clone(),
            Token {
                api,
                // A host-chosen lifetime, but saturating all the same (`Duration::MAX` means
                // "never expires" here, not a panic).
                expires: Instant::now()
                    .checked_add(self.auth.token_lifetime)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400)),
                revoked: false,
            },
        );
        token
    }

    /// Issues a NinjaOne access token with `scope` (space separated).
    pub(super) fn issue_scoped_token(&self, scope: &str) -> String {
        let token = self.issue_token(Api::NinjaOne);
        self.lock().scopes.insert(token.clone(), scope.to_owned());
        token
    }

    /// The scopes of the NinjaOne token `request` carries, when the server issued it.
    pub(super) fn token_scope(&self, request: &Request) -> Option<String> {
        let token = request
            .header("authorization")
            .and_then(|v| strip_scheme(v, "bearer"))?;
        self.lock().scopes.get(token).cloned()
    }

    /// Issues a ServiceNow refresh token.
    pub(super) fn issue_refresh_token(&self) -> String {
        let mut state = self.lock();
        state.token_counter += 1;
        let token = format!(
            "fake-servicenow-refresh-{:06}-{:08x}",
            state.token_counter,
            mix(state.token_counter.rotate_left(17))
        );
        state.refresh_tokens.push(token.clone());
        token
    }

    pub(super) fn knows_refresh_token(&self, token: &str) -> bool {
        self.lock().refresh_tokens.iter().any(|t| t == token)
    }

    /// Whether `request` carries `Authorization: Bearer <a live token of api>`.
    pub(super) fn bearer_ok(&self, api: Api, request: &Request) -> bool {
        let Some(token) = request
            .header("authorization")
            .and_then(|v| strip_scheme(v, "bearer"))
        else {
            return false;
        };
        self.lock()
            .tokens
            .get(token)
            .is_some_and(|t| t.api == api && !t.revoked && Instant::now() < t.expires)
    }

    pub(super) fn take_fault(&self, api: Api) -> Option<ServerFault> {
        self.lock()
            .faults
            .get_mut(&api)
            .and_then(VecDeque::pop_front)
    }

    pub(super) async fn answer(&self, api: Api, request: &Request) -> Response {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let fault = self.take_fault(api);
        let mut response = match &fault {
            Some(ServerFault::TooManyRequests { retry_after }) => {
                let mut r = error_response(
                    api,
                    429,
                    "Too Many Requests",
                    "the fake server was told to rate-limit this request",
                );
                r.retry_after = *retry_after;
                return r;
            }
            Some(ServerFault::Status(status)) => {
                return error_response(
                    api,
                    *status,
                    "Server error",
                    "the fake server was told to fail this request",
                );
            }
            Some(ServerFault::Html) => {
                return Response::raw(200, "text/html;charset=UTF-8", HIBERNATING_PAGE);
            }
            Some(ServerFault::Truncated) | None => match api {
                Api::NinjaOne => ninjaone::route(self, request).await,
                Api::ServiceNow => servicenow::route(self, request).await,
            },
        };
        if fault == Some(ServerFault::Truncated) {
            response.truncate = true;
        }
        response
    }
}

pub(super) const HIBERNATING_PAGE: &str = "<!DOCTYPE html><html><head><title>Instance Hibernating page</title>\
</head><body><p>Your instance is hibernating. Sign in to wake it up.</p></body></html>";

pub(super) fn api_key(api: Api) -> &'static str {
    match api {
        Api::NinjaOne => "ninjaone",
        Api::ServiceNow => "servicenow",
    }
}

/// A cheap bijective scramble so tokens do not look sequential.
pub(super) fn mix(n: u64) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let low = SplitMix64::scramble(n) as u32;
    low
}

/// The credentials after `scheme ` (case-insensitive scheme).
pub(super) fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim())
        .filter(|r| !r.is_empty())
}

/// The error body of `api` with `status`.
pub(super) fn error_response(api: Api, status: u16, message: &str, detail: &str) -> Response {
    match api {
        Api::NinjaOne => Response::json(
            status,
            &json!({ "resultCode": "FAILURE", "errorMessage": format!("{message}: {detail}") }),
        ),
        Api::ServiceNow => Response::json(
            status,
            &json!({ "error": { "message": message, "detail": detail }, "status": "failure" }),
        ),
    }
}

/// The HTTP answer to a fake's error: the status the real API gives for that kind of failure.
pub(super) fn api_error_response(api: Api, err: &ApiError) -> Response {
    let detail = err.message();
    let (status, message) = match err.kind() {
        ApiErrorKind::NotFound => (404, "No Record found"),
        ApiErrorKind::Unauthorized => (401, "User Not Authenticated"),
        ApiErrorKind::Forbidden => (403, "Operation Failed"),
        ApiErrorKind::RateLimited { retry_after } => {
            let mut r = error_response(api, 429, "Too Many Requests", detail);
            r.retry_after = Some(retry_after.map_or(1, |d| d.as_secs().max(1)));
            return r;
        }
        ApiErrorKind::Transient => (503, "Service Unavailable"),
        ApiErrorKind::InvalidResponse => {
            let body = match api {
                Api::NinjaOne => r#"[{"id":1,"name":"#,
                Api::ServiceNow => r#"{"result":[{"sys_id":"#,
            };
            return Response::raw(200, "application/json;charset=UTF-8", body);
        }
        ApiErrorKind::Conflict => (409, "Conflict"),
        _ => (400, "Invalid request"),
    };
    error_response(api, status, message, detail)
}

/// Decodes standard base64 (with or without padding); `None` when malformed.
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    pub(super) fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        out.push(a);
        if chunk.len() > 2 {
            out.push(b);
        }
        if chunk.len() > 3 {
            out.push(c);
        }
    }
    Some(out)
}
