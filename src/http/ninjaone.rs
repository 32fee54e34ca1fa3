//! [`NinjaOneClient`]: the NinjaOne public API v2 over HTTP.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::call::{Auth, Body, Call, DecodeError, Reply, encode_pairs, reply_kind, text_snippet};
use super::error::ConfigError;
use super::options::HttpOptions;
use super::origin::ninjaone_origin;
use super::retry::{ClientStats, Counted, Replay};
use super::secret::{Scrubber, Secret};
use super::token::{Token, TokenCache};
use super::transport::Transport;
use super::webhook::WebhookRegistration;
use crate::model::{
    Alert, DetailedDevice, Device, DeviceId, DeviceRole, Organization, OrganizationDetailed,
    OrganizationId, decode_rows,
};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind, Cursor, NinjaOneApi, Page, PageRequest};

const SERVICE: Remote = Remote::NinjaOne;
const TOKEN_PATH: &str = "/ws/oauth/token";
/// The scope asked for by default: read-only, enough for every call of [`NinjaOneApi`].
const DEFAULT_SCOPE: &str = "monitoring";
/// The scope of the webhook calls (`PUT`/`DELETE /v2/webhook`), asked for only by them, with a
/// token of its own.
const MANAGEMENT_SCOPE: &str = "management";
/// The webhook configuration's path.
const WEBHOOK_PATH: &str = "/v2/webhook";

/// How to reach and authenticate to NinjaOne: a region or origin, and the client credentials of
/// a machine-to-machine API application. `Debug` shows no secret.
///
/// ```
/// use ninjaone_servicenow::http::{NinjaOneConfig, Secret};
/// let config = NinjaOneConfig::new("eu", "my-client-id", Secret::new("my-secret"))?;
/// assert_eq!(config.origin().as_str(), "https://eu.ninjarmm.com/");
/// assert!(!format!("{config:?}").contains("my-secret"));
/// // Plain http only on loopback, for local testing.
/// assert!(NinjaOneConfig::new("http://ninja.example.com", "id", Secret::new("s")).is_err());
/// # Ok::<(), ninjaone_servicenow::http::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct NinjaOneConfig {
    origin: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    options: HttpOptions,
}

impl NinjaOneConfig {
    /// `base`: a region key (`us` or `app`, `eu`, `oc`, `ca`, `us2`, `fed`) or an origin (https,
    /// or http on a loopback host).
    ///
    /// # Errors
    /// [`ConfigError`] when the origin is refused or a credential is empty.
    pub fn new(
        base: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self, ConfigError> {
        let origin = ninjaone_origin(base)?;
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(ConfigError::EmptyCredential { what: "client id" });
        }
        if client_secret.is_empty() {
            return Err(ConfigError::EmptyCredential {
                what: "client secret",
            });
        }
        Ok(Self {
            origin,
            client_id,
            client_secret,
            scope: DEFAULT_SCOPE.to_owned(),
            options: HttpOptions::default(),
        })
    }

    /// The OAuth scopes, space separated; default `"monitoring"` (read-only), which is all
    /// [`NinjaOneApi`] needs: every call it makes is a read. Ask for more (`management`) only
    /// for calls of your own that write.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        scope.trim().clone_into(&mut self.scope);
        self
    }

    /// Transport options.
    #[must_use]
    pub fn options(mut self, options: impl Into<HttpOptions>) -> Self {
        self.options = options.into();
        self
    }

    /// The origin requests go to.
    pub fn origin(&self) -> &Url {
        &self.origin
    }
}

/// The NinjaOne public API v2 ([`NinjaOneApi`]) over HTTP.
///
/// OAuth2 client credentials at `/ws/oauth/token`; the token is cached, replaced five minutes
/// before it expires, fetched by one caller at a time however many need it, and fetched again
/// once when a request is answered 401. Listings page with `pageSize`/`after`: one
/// [`PageRequest`] is one request, and the cursor is the last id of the page. Clones share the
/// connection pool, the token, the concurrency limit and the counters.
///
/// Needs a tokio runtime (with timers) to run its futures.
#[derive(Clone, Debug)]
pub struct NinjaOneClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    client_id: String,
    client_secret: Secret,
    scope: String,
    tokens: TokenCache,
    /// Tokens with the management scope, for the webhook calls only.
    management_tokens: TokenCache,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NinjaOneClient")
            .field("origin", &self.transport.origin().as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl NinjaOneClient {
    /// A client for `config`. Sends nothing yet.
    ///
    /// # Errors
    /// [`ConfigError::Client`] when the HTTP client cannot be built.
    pub fn new(config: NinjaOneConfig) -> Result<Self, ConfigError> {
        let transport = Transport::new(
            SERVICE,
            config.origin,
            config.options,
            [config.client_secret.clone()],
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                client_id: config.client_id,
                client_secret: config.client_secret,
                scope: config.scope,
                tokens: TokenCache::default(),
                management_tokens: TokenCache::default(),
            }),
        })
    }

    /// Request counts since the client was created.
    pub fn stats(&self) -> ClientStats {
        self.inner.transport.counters().snapshot()
    }

    /// The origin requests go to.
    pub fn origin(&self) -> &Url {
        self.inner.transport.origin()
    }

    async fn token(&self) -> Result<Secret, ApiError> {
        let inner = &self.inner;
        inner
            .tokens
            .get(|_refresh| request_token(inner, &inner.scope, decode_oauth_error))
            .await
    }

    /// Sends an authenticated call; after a 401, fetches a new token once and sends it again.
    async fn api(&self, call: &Call) -> Result<Reply, ApiError> {
        let token = self.token().await?;
        let transport = &self.inner.transport;
        match transport
            .send(call, Auth::Bearer(&token), decode_api_error)
            .await
        {
            Err(e) if e.kind() == ApiErrorKind::Unauthorized => {
                tracing::debug!(path = %call.path, "token refused; fetching a new one");
                self.inner.tokens.invalidate(&token).await;
                let fresh = self.token().await?;
                transport
                    .send(call, Auth::Bearer(&fresh), decode_api_error)
                    .await
            }
            other => other,
        }
    }

    async fn get_value(
        &self,
        path: String,
        query: Vec<(&'static str, String)>,
    ) -> Result<Value, ApiError> {
        let call = Call::get(path, query);
        let reply = self.api(&call).await?;
        reply.json(SERVICE, &call.describe())
    }

    /// One page of a `pageSize`/`after` listing.
    async fn page<T: DeserializeOwned>(
        &self,
        path: String,
        page: &PageRequest,
    ) -> Result<Page<T>, ApiError> {
        let mut query = vec![("pageSize", page.limit().to_string())];
        if let Some(cursor) = page.after() {
            let after: u32 = cursor.as_str().parse().map_err(|_| {
                ApiError::new(
                    ApiErrorKind::Other,
                    format!(
                        "paging cursor {:?} is not a NinjaOne id; pass the cursor of the previous \
                         page unchanged",
                        super::error::prefix(cursor.as_str(), 40)
                    ),
                )
            })?;
            query.push(("after", after.to_string()));
        }
        let what = format!("GET {path}");
        let value = self.get_value(path, query).await?;
        let rows = array(value, &what)?;
        let full = rows.len() >= page.limit() as usize;
        // The cursor is the last id of the page: of the last row that has one, so that a
        // malformed last row neither ends the listing nor repeats rows.
        let last_id = rows.iter().rev().find_map(|row| {
            row.get("id")
                .and_then(Value::as_u64)
                .and_then(|id| u32::try_from(id).ok())
        });
        let (items, rejected) = decode_rows::<T>(Value::Array(rows));
        let next = if full {
            let Some(id) = last_id else {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!(
                        "NinjaOne answered {what} with a full page in which no row has an id; \
                         paging cannot continue, and the listing is not complete"
                    ),
                ));
            };
            Some(Cursor::new(id.to_string()))
        } else {
            None
        };
        Ok(Page::new(items, next).with_rejected(rejected))
    }

    /// An unpaged listing.
    async fn all<T: DeserializeOwned>(&self, path: &str) -> Result<Page<T>, ApiError> {
        let what = format!("GET {path}");
        let value = self.get_value(path.to_owned(), Vec::new()).await?;
        let rows = array(value, &what)?;
        let (items, rejected) = decode_rows::<T>(Value::Array(rows));
        Ok(Page::new(items, None).with_rejected(rejected))
    }

    /// Registers the webhook of this API application: `PUT /v2/webhook` with the URL, the
    /// activity filter (`activities.statusCode`), the expansions and the secret header, as
    /// NinjaOne documents it; it replaces any registration the application had. NinjaOne
    /// answers 204.
    ///
    /// This call (and [`delete_webhook`](Self::delete_webhook)) needs the `management` scope,
    /// which the API application must be allowed (NinjaOne wants a system administrator's
    /// application for webhooks). It is asked for here only, with a token of its own: every
    /// other call keeps the client's [`scope`](NinjaOneConfig::scope) (`monitoring`).
    ///
    /// # Guarantees
    /// The secret goes only into the request body: it is never logged, is not in the `Debug`
    /// of the registration, and is scrubbed from any server text quoted in an error. The
    /// request may be sent again after a 5xx or a timeout (the same registration twice is the
    /// registration once).
    ///
    /// # Errors
    /// [`ApiError`]: `Forbidden` when the application may not have the management scope (the
    /// token request is refused with `invalid_scope`) or the token lacks it
    /// (`insufficient_privileges`); `Unauthorized` for refused credentials; the usual kinds for
    /// transport failures.
    pub async fn register_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&registration.body()).map_err(|e| {
            ApiError::new(
                ApiErrorKind::Other,
                format!("the webhook registration could not be encoded: {e}"),
            )
        })?;
        let call = Call {
            method: Method::PUT,
            path: WEBHOOK_PATH.to_owned(),
            query: Vec::new(),
            body: Body::Json(body),
            counted: Counted::Write,
            replay: Replay::Safe,
            not_found_ok: false,
        };
        self.management_api(&call, Some(registration.secret()))
            .await?;
        Ok(())
    }

    /// Removes the webhook of this API application: `DELETE /v2/webhook` (204). Needs the
    /// `management` scope, asked for as by [`register_webhook`](Self::register_webhook).
    ///
    /// # Errors
    /// As [`register_webhook`](Self::register_webhook).
    pub async fn delete_webhook(&self) -> Result<(), ApiError> {
        let call = Call {
            method: Method::DELETE,
            path: WEBHOOK_PATH.to_owned(),
            query: Vec::new(),
            body: Body::Empty,
            counted: Counted::Write,
            replay: Replay::Safe,
            not_found_ok: false,
        };
        self.management_api(&call, None).await?;
        Ok(())
    }

    /// A token with the management scope, from its own cache.
    async fn management_token(&self) -> Result<Secret, ApiError> {
        let inner = &self.inner;
        inner
            .management_tokens
            .get(|_refresh| request_token(inner, MANAGEMENT_SCOPE, decode_management_oauth_error))
            .await
    }

    /// As [`api`](Self::api), with a management token; `extra` is scrubbed from the answer.
    async fn management_api(&self, call: &Call, extra: Option<&Secret>) -> Result<Reply, ApiError> {
        let token = self.management_token().await?;
        let transport = &self.inner.transport;
        match transport
            .send_scrubbing(call, Auth::Bearer(&token), decode_management_error, extra)
            .await
        {
            Err(e) if e.kind() == ApiErrorKind::Unauthorized => {
                tracing::debug!(path = %call.path, "management token refused; fetching a new one");
                self.inner.management_tokens.invalidate(&token).await;
                let fresh = self.management_token().await?;
                transport
                    .send_scrubbing(call, Auth::Bearer(&fresh), decode_management_error, extra)
                    .await
            }
            other => other,
        }
    }
}

/// One client-credentials token request for `scope`; refusals are decoded by `decode` (which
/// names the scope to allow).
async fn request_token(inner: &Inner, scope: &str, decode: DecodeError) -> Result<Token, ApiError> {
    let form = encode_pairs([
        ("grant_type", "client_credentials"),
        ("client_id", inner.client_id.as_str()),
        ("client_secret", inner.client_secret.expose()),
        ("scope", scope),
    ]);
    let call = Call {
        method: Method::POST,
        path: TOKEN_PATH.to_owned(),
        query: Vec::new(),
        body: Body::Form(form),
        counted: Counted::Token,
        replay: Replay::Safe,
        not_found_ok: false,
    };
    let reply = inner.transport.send(&call, Auth::None, decode).await?;
    let value = reply.json(SERVICE, &call.describe())?;
    Token::from_response(&value, SERVICE)
}

/// [`decode_api_error`] for the webhook calls: a refusal names the management scope.
fn decode_management_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    let (kind, detail) = api_error_detail(reply, scrub);
    let error = ApiError::new(
        kind,
        format!("NinjaOne answered {status} to {what}: {detail}"),
    );
    // As advice, not in the message: whoever reports the error adds no second fix.
    match kind {
        ApiErrorKind::Forbidden => error.with_advice(
            "webhooks need the management scope: allow it on the API application (a system \
             administrator's)",
        ),
        _ => match Remote::NinjaOne.action(kind) {
            Some(advice) if kind.is_auth() => error.with_advice(advice),
            _ => error,
        },
    }
}

/// [`decode_oauth_error`] for the management token: a refused scope says which one to allow.
fn decode_management_oauth_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    oauth_error(reply, scrub, what, MANAGEMENT_SCOPE)
}

fn array(value: Value, what: &str) -> Result<Vec<Value>, ApiError> {
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

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A short, scrubbed text for a JSON value that may be a string or an object
/// (`errorMessage` comes in both forms).
fn message_text(value: &Value, scrub: &Scrubber) -> Option<String> {
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
fn decode_api_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
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
fn api_error_detail(reply: &Reply, scrub: &Scrubber) -> (ApiErrorKind, String) {
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
fn decode_oauth_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    oauth_error(reply, scrub, what, DEFAULT_SCOPE)
}

/// [`decode_oauth_error`] for a token request of `scope`, named in the advice of a refusal.
fn oauth_error(reply: &Reply, scrub: &Scrubber, what: &str, scope: &str) -> ApiError {
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

#[async_trait]
impl NinjaOneApi for NinjaOneClient {
    async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError> {
        self.page("/v2/organizations".to_owned(), &page).await
    }

    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError> {
        let path = format!("/v2/organization/{id}");
        let call = Call::get(path, Vec::new()).not_found_ok();
        let what = call.describe();
        let reply = self.api(&call).await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND && !reply.is_html() {
            return Ok(None);
        }
        let value = reply.json(SERVICE, &what)?;
        serde_json::from_value(value).map(Some).map_err(|e| {
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!("NinjaOne answered {what} with an organization that cannot be read: {e}"),
            )
        })
    }

    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
        self.all("/v2/roles").await
    }

    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError> {
        self.page("/v2/devices".to_owned(), &page).await
    }

    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError> {
        self.page(format!("/v2/organization/{organization}/devices"), &page)
            .await
    }

    async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
        self.all("/v2/alerts").await
    }

    async fn device_alerts(&self, device: DeviceId) -> Result<Vec<Alert>, ApiError> {
        let path = format!("/v2/device/{device}/alerts");
        let page: Page<Alert> = self.all(&path).await?;
        if !page.rejected.is_empty() {
            return Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "{} of the alerts NinjaOne answered GET {path} with could not be decoded, \
                     so whether an alert is still open is not known; the next pass decides",
                    page.rejected.len()
                ),
            ));
        }
        Ok(page.items)
    }

    async fn devices_detailed(&self, page: PageRequest) -> Result<Page<DetailedDevice>, ApiError> {
        self.page("/v2/devices-detailed".to_owned(), &page).await
    }
}
