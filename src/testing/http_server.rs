//! [`FakeServer`]: [`FakeNinjaOne`] and [`FakeServiceNow`] served over HTTP/1.1 on two loopback
//! ports, following the wire contract of the HTTP clients (feature `http`).

mod http1;
mod ninjaone;
mod servicenow;
mod webhook;

pub use self::webhook::RegisteredWebhook;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use self::http1::{ReadError, Request, Response};
use super::rng::SplitMix64;
use super::{FakeNinjaOne, FakeServiceNow};
use crate::ports::{ApiError, ApiErrorKind};

/// Which of the two APIs a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    /// The NinjaOne port.
    NinjaOne,
    /// The ServiceNow port.
    ServiceNow,
}

/// What the server answers instead of the real response, for the next requests of an API
/// ([`FakeServer::fail_next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerFault {
    /// 429, with `Retry-After: <seconds>` when given. The fakes are not called.
    TooManyRequests {
        /// The `Retry-After` header's seconds.
        retry_after: Option<u64>,
    },
    /// This status (5xx) with the API's error body. The fakes are not called.
    Status(u16),
    /// 200 with a `text/html` page, as a hibernating instance or a single-sign-on page answers.
    /// The fakes are not called.
    Html,
    /// The real answer — the fakes are called, so a write is committed — with a
    /// `Content-Length` of the whole body, but only half the body is sent before the connection
    /// is closed.
    Truncated,
}

/// One request the server answered, as [`FakeServer::requests`] lists them. Bodies and headers
/// are not kept (they carry credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// Which API's port.
    pub api: Api,
    /// `GET`, `POST`, `PATCH`, …
    pub method: String,
    /// The path, as sent (percent-encoded).
    pub path: String,
    /// The query pairs, decoded, in the order sent.
    pub query: Vec<(String, String)>,
    /// The status answered (for [`ServerFault::Truncated`], the status declared).
    pub status: u16,
    /// The scopes (space separated) of the NinjaOne token the request carried, when it carried
    /// one the server issued: tells which calls asked for `management`.
    pub scope: Option<String>,
}

impl LoggedRequest {
    /// The first value of query parameter `name`.
    #[must_use]
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this was a token request (`/ws/oauth/token` or `/oauth_token.do`).
    #[must_use]
    pub fn is_token_request(&self) -> bool {
        self.path == ninjaone::TOKEN_PATH || self.path == servicenow::TOKEN_PATH
    }

    /// Whether this request may have changed data: any method but `GET`/`HEAD`, token requests
    /// and the Identification and Reconciliation dry run (`POST .../identifyreconcile/query`,
    /// which commits nothing) excepted.
    #[must_use]
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
            && !self.is_token_request()
            && self.path != "/api/now/identifyreconcile/query"
    }
}

/// Credentials and token settings of a [`FakeServer`].
#[derive(Debug, Clone)]
struct Auth {
    ninjaone_client_id: String,
    ninjaone_client_secret: String,
    servicenow_username: String,
    servicenow_password: String,
    servicenow_client_id: String,
    servicenow_client_secret: String,
    /// Whether `/oauth_token.do` grants `client_credentials` (off by default, as on a real
    /// instance until its administrator enables it).
    servicenow_client_credentials: bool,
    token_lifetime: Duration,
    /// The scopes the NinjaOne API application may ask for.
    ninjaone_scopes: Vec<String>,
}

#[derive(Debug)]
struct Token {
    api: Api,
    expires: Instant,
    revoked: bool,
}

#[derive(Debug, Default)]
struct ServerState {
    tokens: HashMap<String, Token>,
    refresh_tokens: Vec<String>,
    token_counter: u64,
    log: Vec<LoggedRequest>,
    faults: BTreeMap<Api, VecDeque<ServerFault>>,
    /// The scopes each NinjaOne access token was issued with.
    scopes: HashMap<String, String>,
    /// What `PUT /v2/webhook` registered last (`DELETE` clears it).
    webhook: Option<RegisteredWebhook>,
}

#[derive(Debug)]
struct Shared {
    ninjaone: FakeNinjaOne,
    servicenow: FakeServiceNow,
    auth: Auth,
    /// Added to every answer (the builder's `latency`).
    latency: Duration,
    state: Mutex<ServerState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues an access token for `api`.
    fn issue_token(&self, api: Api) -> String {
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
    fn issue_scoped_token(&self, scope: &str) -> String {
        let token = self.issue_token(Api::NinjaOne);
        self.lock().scopes.insert(token.clone(), scope.to_owned());
        token
    }

    /// The scopes of the NinjaOne token `request` carries, when the server issued it.
    fn token_scope(&self, request: &Request) -> Option<String> {
        let token = request
            .header("authorization")
            .and_then(|v| strip_scheme(v, "bearer"))?;
        self.lock().scopes.get(token).cloned()
    }

    /// Issues a ServiceNow refresh token.
    fn issue_refresh_token(&self) -> String {
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

    fn knows_refresh_token(&self, token: &str) -> bool {
        self.lock().refresh_tokens.iter().any(|t| t == token)
    }

    /// Whether `request` carries `Authorization: Bearer <a live token of api>`.
    fn bearer_ok(&self, api: Api, request: &Request) -> bool {
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

    fn take_fault(&self, api: Api) -> Option<ServerFault> {
        self.lock()
            .faults
            .get_mut(&api)
            .and_then(VecDeque::pop_front)
    }

    async fn answer(&self, api: Api, request: &Request) -> Response {
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

const HIBERNATING_PAGE: &str = "<!DOCTYPE html><html><head><title>Instance Hibernating page</title>\
</head><body><p>Your instance is hibernating. Sign in to wake it up.</p></body></html>";

fn api_key(api: Api) -> &'static str {
    match api {
        Api::NinjaOne => "ninjaone",
        Api::ServiceNow => "servicenow",
    }
}

/// A cheap bijective scramble so tokens do not look sequential.
fn mix(n: u64) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let low = SplitMix64::scramble(n) as u32;
    low
}

/// The credentials after `scheme ` (case-insensitive scheme).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim())
        .filter(|r| !r.is_empty())
}

/// The error body of `api` with `status`.
fn error_response(api: Api, status: u16, message: &str, detail: &str) -> Response {
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
fn api_error_response(api: Api, err: &ApiError) -> Response {
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

/// A fake NinjaOne and a fake ServiceNow served over HTTP/1.1, each on its own loopback port,
/// as the HTTP clients (feature `http`) expect them: OAuth token endpoints, key paging, error
/// bodies, and the Table API's rules (no free text in `sysparm_query`).
///
/// Every API request is answered by calling the fakes' trait methods, so their
/// [`Faults`](super::Faults), call counts and state apply unchanged; a fault's
/// [`ApiErrorKind`] becomes the status the real API gives (404, 401, 403, 429 with
/// `Retry-After`, 503, 409, 400; `InvalidResponse` becomes a malformed JSON body).
/// Server-side faults ([`fail_next`](Self::fail_next)) answer 429, a 5xx, an HTML page or a
/// truncated body without (or, for truncation, after) calling the fakes.
///
/// Credentials default to the associated constants ([`NINJAONE_CLIENT_ID`](Self::NINJAONE_CLIENT_ID)
/// and so on); tokens live [`DEFAULT_TOKEN_LIFETIME`](Self::DEFAULT_TOKEN_LIFETIME) unless the
/// [`builder`](Self::builder) says otherwise, and [`expire_tokens`](Self::expire_tokens) ends
/// them all at once.
///
/// The server runs on the tokio runtime `start` is awaited on; dropping it stops accepting
/// connections.
///
/// ```
/// use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServer, FakeServiceNow};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = FakeServer::start(
///     FakeNinjaOne::builder().organizations(3).build(),
///     FakeServiceNow::builder().companies(3).build(),
/// )
/// .await;
/// assert!(server.ninjaone_origin().starts_with("http://127.0.0.1:"));
/// assert_ne!(server.ninjaone_origin(), server.servicenow_origin());
/// assert!(server.requests().is_empty());
/// # }
/// ```
#[derive(Debug)]
pub struct FakeServer {
    ninjaone_addr: SocketAddr,
    servicenow_addr: SocketAddr,
    shared: Arc<Shared>,
    accepting: Vec<JoinHandle<()>>,
}

impl FakeServer {
    /// The NinjaOne client id the server accepts by default.
    pub const NINJAONE_CLIENT_ID: &'static str = "fake-ninjaone-client";
    /// The NinjaOne client secret the server accepts by default.
    pub const NINJAONE_CLIENT_SECRET: &'static str = "fake-ninjaone-secret-7Qx2";
    /// The ServiceNow user name the server accepts by default (Basic and password grant).
    pub const SERVICENOW_USERNAME: &'static str = "fake.integration";
    /// The ServiceNow password the server accepts by default.
    pub const SERVICENOW_PASSWORD: &'static str = "fake-servicenow-password-4Kw9";
    /// The ServiceNow OAuth client id the server accepts by default.
    pub const SERVICENOW_CLIENT_ID: &'static str = "fake-servicenow-client";
    /// The ServiceNow OAuth client secret the server accepts by default.
    pub const SERVICENOW_CLIENT_SECRET: &'static str = "fake-servicenow-secret-9Pz1";
    /// How long tokens live by default (`expires_in`: one hour, as NinjaOne's do).
    pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

    /// Starts serving `ninjaone` and `servicenow` with the default credentials.
    ///
    /// # Panics
    /// When no loopback port can be bound (a test environment without networking).
    pub async fn start(ninjaone: FakeNinjaOne, servicenow: FakeServiceNow) -> Self {
        Self::builder(ninjaone, servicenow).start().await
    }

    /// A builder, to change credentials or the token lifetime.
    pub fn builder(ninjaone: FakeNinjaOne, servicenow: FakeServiceNow) -> FakeServerBuilder {
        FakeServerBuilder {
            ninjaone,
            servicenow,
            auth: Auth {
                ninjaone_client_id: Self::NINJAONE_CLIENT_ID.to_owned(),
                ninjaone_client_secret: Self::NINJAONE_CLIENT_SECRET.to_owned(),
                servicenow_username: Self::SERVICENOW_USERNAME.to_owned(),
                servicenow_password: Self::SERVICENOW_PASSWORD.to_owned(),
                servicenow_client_id: Self::SERVICENOW_CLIENT_ID.to_owned(),
                servicenow_client_secret: Self::SERVICENOW_CLIENT_SECRET.to_owned(),
                servicenow_client_credentials: false,
                token_lifetime: Self::DEFAULT_TOKEN_LIFETIME,
                ninjaone_scopes: vec!["monitoring".to_owned(), "management".to_owned()],
            },
            latency: Duration::ZERO,
        }
    }

    /// The NinjaOne origin, such as `http://127.0.0.1:40123` (no trailing slash).
    #[must_use]
    pub fn ninjaone_origin(&self) -> String {
        format!("http://{}", self.ninjaone_addr)
    }

    /// The ServiceNow origin, such as `http://127.0.0.1:40124` (no trailing slash).
    #[must_use]
    pub fn servicenow_origin(&self) -> String {
        format!("http://{}", self.servicenow_addr)
    }

    /// The fake NinjaOne behind the server (a clone sharing its state).
    #[must_use]
    pub fn ninjaone(&self) -> &FakeNinjaOne {
        &self.shared.ninjaone
    }

    /// The fake ServiceNow behind the server (a clone sharing its state).
    #[must_use]
    pub fn servicenow(&self) -> &FakeServiceNow {
        &self.shared.servicenow
    }

    /// Every request answered so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// Forgets the requests logged so far.
    pub fn clear_log(&self) {
        self.shared.lock().log.clear();
    }

    /// The next `n` requests to `api` (token requests included) get `fault` instead of (or, for
    /// [`ServerFault::Truncated`], on top of) their real answer. Queues after faults already
    /// queued for the API.
    pub fn fail_next(&self, api: Api, n: usize, fault: &ServerFault) {
        self.shared
            .lock()
            .faults
            .entry(api)
            .or_default()
            .extend(std::iter::repeat_n(fault.clone(), n));
    }

    /// Removes every queued server fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Ends every access token issued so far (refresh tokens stay valid): the next API request
    /// with one is answered 401, as when a token expires mid-run.
    pub fn expire_tokens(&self) {
        for token in self.shared.lock().tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// Every access and refresh token issued so far, to check that none leaks into output.
    #[must_use]
    pub fn issued_tokens(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .tokens
            .keys()
            .chain(state.refresh_tokens.iter())
            .cloned()
            .collect()
    }

    /// What the last `PUT /v2/webhook` registered, unless a `DELETE /v2/webhook` came after.
    #[must_use]
    pub fn webhook(&self) -> Option<RegisteredWebhook> {
        self.shared.lock().webhook.clone()
    }

    /// How many access tokens were issued for `api`.
    #[must_use]
    pub fn tokens_issued(&self, api: Api) -> usize {
        self.shared
            .lock()
            .tokens
            .values()
            .filter(|t| t.api == api)
            .count()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        for task in &self.accepting {
            task.abort();
        }
    }
}

/// Builds a [`FakeServer`] with other credentials or token lifetime.
#[derive(Debug)]
#[must_use]
pub struct FakeServerBuilder {
    ninjaone: FakeNinjaOne,
    servicenow: FakeServiceNow,
    auth: Auth,
    latency: Duration,
}

impl FakeServerBuilder {
    /// Answers every request (token requests included) `latency` later, as a tenant across
    /// the internet would: for latency figures (examples), never for timed tests. At most
    /// 10 s per request.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency.min(Duration::from_secs(10));
        self
    }

    /// The NinjaOne client credentials the token endpoint accepts.
    pub fn ninjaone_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.auth.ninjaone_client_id = id.into();
        self.auth.ninjaone_client_secret = secret.into();
        self
    }

    /// The ServiceNow user (Basic auth and the OAuth password grant).
    pub fn servicenow_user(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth.servicenow_username = username.into();
        self.auth.servicenow_password = password.into();
        self
    }

    /// The ServiceNow OAuth client (`/oauth_token.do`).
    pub fn servicenow_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.auth.servicenow_client_id = id.into();
        self.auth.servicenow_client_secret = secret.into();
        self
    }

    /// Lets `/oauth_token.do` grant `client_credentials` to the ServiceNow OAuth client, as an
    /// instance does once its administrator sets
    /// `glide.oauth.inbound.client.credential.grant_type.enabled` (Washington DC and later).
    /// Without it that grant is refused with a 401 `access_denied`, as a real instance does.
    /// Such tokens come without a refresh token.
    pub fn servicenow_client_credentials(mut self) -> Self {
        self.auth.servicenow_client_credentials = true;
        self
    }

    /// The scopes the NinjaOne API application is allowed (default `monitoring` and
    /// `management`). A token request naming another is refused with 400 `invalid_scope`, as
    /// NinjaOne refuses it (it does not narrow the grant).
    pub fn ninjaone_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.auth.ninjaone_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How long access tokens live (`expires_in`, whole seconds; at least one).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.auth.token_lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// Binds two loopback ports and starts serving on the current tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(self) -> FakeServer {
        let shared = Arc::new(Shared {
            ninjaone: self.ninjaone,
            servicenow: self.servicenow,
            auth: self.auth,
            latency: self.latency,
            state: Mutex::default(),
        });
        let bind = || async {
            TcpListener::bind(("127.0.0.1", 0))
                .await
                .expect("the fake server needs a loopback port")
        };
        let (ninja_listener, sn_listener) = (bind().await, bind().await);
        let addr = |l: &TcpListener| {
            l.local_addr()
                .expect("a bound listener has a local address")
        };
        let (ninjaone_addr, servicenow_addr) = (addr(&ninja_listener), addr(&sn_listener));
        let accepting = vec![
            tokio::spawn(accept(ninja_listener, Api::NinjaOne, Arc::clone(&shared))),
            tokio::spawn(accept(sn_listener, Api::ServiceNow, Arc::clone(&shared))),
        ];
        FakeServer {
            ninjaone_addr,
            servicenow_addr,
            shared,
            accepting,
        }
    }
}

async fn accept(listener: TcpListener, api: Api, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, api, Arc::clone(&shared)));
            }
            Err(err) => {
                tracing::warn!(error = %err, "the fake server could not accept a connection");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream, api: Api, shared: Arc<Shared>) {
    // Small answers go out at once rather than wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let (request, close) = match http1::read_request(&mut reader).await {
            Ok(found) => found,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, why)) => {
                let response = error_response(api, status, "Bad request", why);
                let _ = http1::write_response(&mut write, &response, true).await;
                return;
            }
        };
        let response = shared.answer(api, &request).await;
        let scope = shared.token_scope(&request);
        shared.lock().log.push(LoggedRequest {
            api,
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            status: response.status,
            scope,
        });
        let written = http1::write_response(&mut write, &response, close).await;
        if written.is_err() || close || response.truncate {
            return;
        }
    }
}

/// Decodes standard base64 (with or without padding); `None` when malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(
            base64_decode("dXNlcjpwYXNz").as_deref(),
            Some(&b"user:pass"[..])
        );
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode("Y"), None);
        assert_eq!(base64_decode("Y!=="), None);
    }

    #[test]
    fn scheme_is_case_insensitive_and_needs_credentials() {
        assert_eq!(strip_scheme("Bearer abc", "bearer"), Some("abc"));
        assert_eq!(strip_scheme("bearer  abc ", "bearer"), Some("abc"));
        assert_eq!(strip_scheme("Basic abc", "bearer"), None);
        assert_eq!(strip_scheme("Bearer", "bearer"), None);
    }

    #[test]
    fn fault_kinds_map_to_statuses() {
        let status = |kind| api_error_response(Api::ServiceNow, &ApiError::new(kind, "x")).status;
        assert_eq!(status(ApiErrorKind::NotFound), 404);
        assert_eq!(status(ApiErrorKind::Unauthorized), 401);
        assert_eq!(status(ApiErrorKind::Forbidden), 403);
        assert_eq!(status(ApiErrorKind::Transient), 503);
        assert_eq!(status(ApiErrorKind::Conflict), 409);
        assert_eq!(status(ApiErrorKind::Other), 400);
        let limited = api_error_response(
            Api::NinjaOne,
            &ApiError::new(
                ApiErrorKind::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                },
                "x",
            ),
        );
        assert_eq!((limited.status, limited.retry_after), (429, Some(7)));
        let invalid = api_error_response(
            Api::ServiceNow,
            &ApiError::new(ApiErrorKind::InvalidResponse, "x"),
        );
        assert_eq!(invalid.status, 200);
        assert!(serde_json::from_slice::<serde_json::Value>(&invalid.body).is_err());
    }
}
