//! [`FakeServer`]: [`FakeNinjaOne`] and [`FakeServiceNow`] served over HTTP/1.1 on two loopback
//! ports, following the wire contract of the HTTP clients (feature `http`).

mod http1;
mod ninjaone;
mod servicenow;
mod state;
#[cfg(test)]
mod tests;
mod webhook;

pub use self::webhook::RegisteredWebhook;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use self::http1::ReadError;
use super::{FakeNinjaOne, FakeServiceNow};

use self::state::{Auth, Shared, api_error_response, base64_decode, error_response, strip_scheme};

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

/// A fake NinjaOne and a fake ServiceNow served over HTTP/1.1, each on its own loopback port,
/// as the HTTP clients (feature `http`) expect them: OAuth token endpoints, key paging, error
/// bodies, and the Table API's rules (no free text in `sysparm_query`).
///
/// Every API request is answered by calling the fakes' trait methods, so their
/// [`Faults`](super::Faults), call counts and state apply unchanged; a fault's
/// [`ApiErrorKind`](crate::ports::ApiErrorKind) becomes the status the real API gives (404, 401, 403, 429 with
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
