//! The transport both clients share: one reqwest client, a concurrency limit, retries with
//! backoff, a response-size cap, request counters and a `tracing` span per request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::Instrument;
use url::Url;

use super::error::ConfigError;
use super::options::HttpOptions;
use super::retry::{Counted, Counters, Replay, RetryHint, next_wait, parse_retry_after};
use super::secret::{Scrubber, Secret};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

/// The User-Agent of every request.
pub const USER_AGENT: &str = concat!("ninjaone-servicenow/", env!("CARGO_PKG_VERSION"));

/// How a request authenticates.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// No credentials (token requests carry theirs in the body).
    None,
    /// HTTP Basic.
    Basic {
        /// The user name.
        user: &'a str,
        /// The password.
        password: &'a Secret,
    },
    /// An OAuth bearer token.
    Bearer(&'a Secret),
}

/// A request body.
#[derive(Clone)]
pub(crate) enum Body {
    /// None.
    Empty,
    /// A JSON document.
    Json(Vec<u8>),
    /// A form, already encoded (it may hold secrets: never logged).
    Form(String),
}

/// One API call, sent once or, when allowed, several times.
pub(crate) struct Call {
    /// The method.
    pub(crate) method: Method,
    /// The path, such as `/api/now/table/core_company`. Logged: it holds no secret.
    pub(crate) path: String,
    /// Query parameters. Never logged.
    pub(crate) query: Vec<(&'static str, String)>,
    /// The body.
    pub(crate) body: Body,
    /// What it counts as.
    pub(crate) counted: Counted,
    /// Whether it may be re-sent after an unknown failure.
    pub(crate) replay: Replay,
    /// Whether a 404 is an answer (a row that does not exist) rather than an error.
    pub(crate) not_found_ok: bool,
}

impl Call {
    /// A GET (replay-safe, a read).
    pub(crate) fn get(path: String, query: Vec<(&'static str, String)>) -> Self {
        Self {
            method: Method::GET,
            path,
            query,
            body: Body::Empty,
            counted: Counted::Read,
            replay: Replay::Safe,
            not_found_ok: false,
        }
    }

    /// This call, with a 404 returned as a reply rather than an error.
    pub(crate) fn not_found_ok(mut self) -> Self {
        self.not_found_ok = true;
        self
    }

    /// `METHOD path` for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A response with a 2xx status, or an error response handed to the service's decoder.
pub(crate) struct Reply {
    /// The status.
    pub(crate) status: StatusCode,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The body, at most the configured cap.
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The `Content-Type`, lowercased; empty when absent.
    pub(crate) fn content_type(&self) -> String {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    /// The `Retry-After` header, when present and readable.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()))
    }

    /// Whether the body is an HTML page (by type or by its first character).
    pub(crate) fn is_html(&self) -> bool {
        self.content_type().contains("html")
            || self.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
    }

    /// The body as JSON, or an [`ApiErrorKind::InvalidResponse`] saying what it was instead.
    pub(crate) fn json(&self, service: Remote, call: &str) -> Result<Value, ApiError> {
        let status = self.status.as_u16();
        if self.is_html() {
            return Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "{service} answered {call} with an HTML page instead of JSON (status \
                     {status}): the instance may be hibernating, or a single-sign-on, login or \
                     proxy page answered instead of the API; wake the instance or check the origin"
                ),
            ));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!("{service} answered {call} with an empty body (status {status})"),
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "{service} answered {call} with a body that is not valid JSON (status \
                     {status}, {} bytes, {}): {e}",
                    self.body.len(),
                    if e.is_eof() { "truncated" } else { "malformed" }
                ),
            )
        })
    }
}

/// Turns a non-2xx, non-3xx response into the service's error.
pub(crate) type DecodeError = fn(&Reply, &Scrubber, &str) -> ApiError;

/// The error kind for an HTTP status.
pub(crate) fn kind_for(status: StatusCode, retry_after: Option<Duration>) -> ApiErrorKind {
    match status.as_u16() {
        401 => ApiErrorKind::Unauthorized,
        403 => ApiErrorKind::Forbidden,
        404 | 410 => ApiErrorKind::NotFound,
        409 => ApiErrorKind::Conflict,
        429 => ApiErrorKind::RateLimited { retry_after },
        408 | 500..=599 => ApiErrorKind::Transient,
        _ => ApiErrorKind::Other,
    }
}

/// The error kind for a reply's status, with the `Retry-After` of a 429.
pub(crate) fn reply_kind(reply: &Reply) -> ApiErrorKind {
    kind_for(reply.status, reply.retry_after())
}

/// A failed attempt: the error, and what it allows.
struct Failure {
    error: ApiError,
    hint: RetryHint,
    /// The HTTP status, when there was an answer.
    status: Option<u16>,
}

/// The shared transport.
pub(crate) struct Transport {
    client: reqwest::Client,
    origin: Url,
    options: HttpOptions,
    limit: Arc<Semaphore>,
    counters: Counters,
    service: Remote,
    scrub: Scrubber,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("service", &self.service)
            .field("origin", &self.origin.as_str())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport to `origin` (already checked), scrubbing `secrets` from anything a server
    /// says.
    pub(crate) fn new(
        service: Remote,
        origin: Url,
        options: HttpOptions,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Result<Self, ConfigError> {
        let proxy = options
            .proxy
            .choose(&origin, |name| std::env::var(name).ok())?;
        let mut secrets: Vec<Secret> = secrets.into_iter().collect();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(USER_AGENT)
            // The proxy is chosen above, once, for this client's one origin: reqwest must not
            // read the environment again on its own (it would proxy a loopback origin).
            .no_proxy()
            // Redirects are never followed: reqwest would carry custom auth headers to another
            // host, and an https → http hop would downgrade. A 3xx is an error that says so.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.timeout);
        for certificate in &options.root_certificates {
            builder = builder.add_root_certificate(certificate.clone());
        }
        match &proxy {
            Some((url, from)) => {
                let shown = url.shown();
                tracing::info!(service = service.as_str(), proxy = %shown, from, "requests go through a proxy");
                secrets.extend(url.secrets());
                let configured =
                    reqwest::Proxy::all(url.as_str()).map_err(|_| ConfigError::Proxy {
                        from: (*from).to_owned(),
                        reason: format!("{shown} cannot be used as a proxy"),
                    })?;
                builder = builder.proxy(configured);
            }
            None => {
                tracing::debug!(
                    service = service.as_str(),
                    "requests go directly to the origin, without a proxy"
                );
            }
        }
        let client = builder.build().map_err(|e| ConfigError::Client {
            reason: e.without_url().to_string(),
        })?;
        Ok(Self {
            client,
            origin,
            limit: Arc::new(Semaphore::new(options.concurrency)),
            options,
            counters: Counters::default(),
            service,
            scrub: Scrubber::new(secrets),
        })
    }

    /// The origin.
    pub(crate) fn origin(&self) -> &Url {
        &self.origin
    }

    /// The counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Sends `call`, retrying as [`next_wait`] allows, and returns the 2xx reply or the error.
    pub(crate) async fn send(
        &self,
        call: &Call,
        auth: Auth<'_>,
        decode: DecodeError,
    ) -> Result<Reply, ApiError> {
        self.send_scrubbing(call, auth, decode, None).await
    }

    /// As [`send`](Self::send), also scrubbing `extra` (a refresh token the call carries in its
    /// body) from what the server answers.
    pub(crate) async fn send_scrubbing(
        &self,
        call: &Call,
        auth: Auth<'_>,
        decode: DecodeError,
        extra: Option<&Secret>,
    ) -> Result<Reply, ApiError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.backoff_min)
            .with_max_delay(self.options.backoff_max)
            .with_max_times((self.options.max_attempts as usize).saturating_sub(1))
            .with_jitter();
        let cap = self.options.max_retry_wait;
        let mut attempt = 0u32;
        (|| {
            attempt += 1;
            self.attempt(call, auth, decode, attempt, extra)
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .adjust(|failure: &Failure, next| next_wait(failure.hint, call.replay, cap, next))
        .notify(|failure: &Failure, wait| {
            self.counters.retried();
            tracing::debug!(
                service = self.service.as_str(),
                method = %call.method,
                path = %call.path,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %failure.error.kind(),
                "retrying"
            );
        })
        .await
        .map_err(|failure| failure.error)
    }

    async fn attempt(
        &self,
        call: &Call,
        auth: Auth<'_>,
        decode: DecodeError,
        attempt: u32,
        extra: Option<&Secret>,
    ) -> Result<Reply, Failure> {
        let span = tracing::debug_span!(
            "http_request",
            service = self.service.as_str(),
            method = %call.method,
            path = %call.path,
            attempt,
            status = tracing::field::Empty,
        );
        let result = self
            .attempt_inner(call, auth, decode, extra)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        match &result {
            Ok(reply) => {
                span.record("status", reply.status.as_u16());
                tracing::debug!("response");
            }
            Err(failure) => {
                if let Some(status) = failure.status {
                    span.record("status", status);
                }
                tracing::debug!(error = %failure.error.kind(), "failed");
            }
        }
        result
    }

    async fn attempt_inner(
        &self,
        call: &Call,
        auth: Auth<'_>,
        decode: DecodeError,
        extra: Option<&Secret>,
    ) -> Result<Reply, Failure> {
        let what = call.describe();
        let service = self.service;
        let _permit = self.limit.acquire().await.map_err(|_| Failure {
            error: ApiError::new(
                ApiErrorKind::Other,
                format!("the {service} client was shut down"),
            ),
            hint: RetryHint::Never,
            status: None,
        })?;
        let mut url = self.origin.clone();
        url.set_path(&call.path);
        if !call.query.is_empty() {
            url.set_query(Some(&encode_pairs(
                call.query.iter().map(|(k, v)| (*k, v.as_str())),
            )));
        }
        let mut request = self
            .client
            .request(call.method.clone(), url)
            .header(header::ACCEPT, "application/json");
        match auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                request = request.basic_auth(user, Some(password.expose()));
            }
            Auth::Bearer(token) => request = request.bearer_auth(token.expose()),
        }
        match &call.body {
            Body::Empty => {}
            Body::Json(bytes) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
            }
            Body::Form(form) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.clone());
            }
        }
        self.counters.sent(call.counted);
        let response = request
            .send()
            .await
            .map_err(|e| self.network_failure(&what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_redirection() {
            let to = headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| self.origin.join(l).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
                .map_or_else(String::new, |h| format!(" to host {h}"));
            return Err(Failure {
                error: ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!(
                        "{service} answered {what} with a redirect ({}){to}; redirects are never \
                         followed (credentials would travel along): configure the final origin \
                         instead",
                        status.as_u16()
                    ),
                ),
                hint: RetryHint::Never,
                status: Some(status.as_u16()),
            });
        }
        let body = self.read_body(&what, response).await?;
        let reply = Reply {
            status,
            headers,
            body,
        };
        if status.is_success() || (call.not_found_ok && status == StatusCode::NOT_FOUND) {
            return Ok(reply);
        }
        let retry_after = reply.retry_after();
        let mut scrub = match auth {
            Auth::Bearer(token) => self.scrub.with(token),
            _ => self.scrub.clone(),
        };
        if let Some(extra) = extra {
            scrub = scrub.with(extra);
        }
        let error = decode(&reply, &scrub, &what);
        let hint = match status.as_u16() {
            429 => RetryHint::Unprocessed { after: retry_after },
            408 | 500..=599 => RetryHint::IfReplaySafe,
            _ => RetryHint::Never,
        };
        Err(Failure {
            error,
            hint,
            status: Some(status.as_u16()),
        })
    }

    fn network_failure(&self, what: &str, e: reqwest::Error) -> Failure {
        let service = self.service;
        let (message, hint) = if e.is_timeout() {
            (
                format!(
                    "{service} did not answer {what} within {} ms",
                    self.options.timeout.as_millis()
                ),
                RetryHint::IfReplaySafe,
            )
        } else if e.is_connect() {
            (
                format!("could not connect to {service} for {what}"),
                RetryHint::Unprocessed { after: None },
            )
        } else {
            (
                format!("the connection to {service} failed during {what}"),
                RetryHint::IfReplaySafe,
            )
        };
        Failure {
            error: ApiError::new(ApiErrorKind::Transient, message).with_source(e.without_url()),
            hint,
            status: None,
        }
    }

    async fn read_body(
        &self,
        what: &str,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, Failure> {
        let cap = self.options.max_response_bytes;
        let service = self.service;
        let status = response.status().as_u16();
        let too_large = || Failure {
            error: ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!("{service} answered {what} with more than {cap} bytes"),
            )
            .with_advice("raise HttpOptionsBuilder::max_response_bytes or ask for smaller pages"),
            hint: RetryHint::Never,
            status: Some(status),
        };
        if response
            .content_length()
            .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > cap))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > cap {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    let timed_out = e.is_timeout();
                    return Err(Failure {
                        error: ApiError::new(
                            ApiErrorKind::Transient,
                            format!(
                                "{service}'s answer to {what} was cut off after {} bytes{}",
                                body.len(),
                                if timed_out { " (timeout)" } else { "" }
                            ),
                        )
                        .with_source(e.without_url()),
                        hint: RetryHint::IfReplaySafe,
                        status: Some(status),
                    });
                }
            }
        }
    }
}

/// Percent-encodes pairs as `application/x-www-form-urlencoded`, with spaces as `%20` (accepted
/// by every server, and what the wire contract shows).
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
        out.push('=');
        for piece in url::form_urlencoded::byte_serialize(v.as_bytes()) {
            if piece == "+" {
                out.push_str("%20");
            } else {
                out.push_str(piece);
            }
        }
    }
    out
}

/// A short, scrubbed snippet of a non-JSON error body, or a description of it.
pub(crate) fn text_snippet(reply: &Reply, scrub: &Scrubber) -> String {
    if reply.body.iter().all(u8::is_ascii_whitespace) {
        return "empty body".to_owned();
    }
    if reply.is_html() {
        return "an HTML page instead of JSON (a login, single-sign-on or proxy page, or a \
                hibernating instance)"
            .to_owned();
    }
    format!(
        "{:?}",
        scrub.clean(&String::from_utf8_lossy(&reply.body), 200)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_encode_spaces_as_percent_20() {
        assert_eq!(
            encode_pairs([("scope", "monitoring management"), ("q", "a^b=c>d+e")]),
            "scope=monitoring%20management&q=a%5Eb%3Dc%3Ed%2Be"
        );
    }

    #[test]
    fn statuses_map_to_kinds() {
        let k = |s: u16| kind_for(StatusCode::from_u16(s).unwrap(), None);
        assert_eq!(k(401), ApiErrorKind::Unauthorized);
        assert_eq!(k(403), ApiErrorKind::Forbidden);
        assert_eq!(k(404), ApiErrorKind::NotFound);
        assert_eq!(k(409), ApiErrorKind::Conflict);
        assert_eq!(k(429), ApiErrorKind::RateLimited { retry_after: None });
        assert_eq!(k(503), ApiErrorKind::Transient);
        assert_eq!(k(400), ApiErrorKind::Other);
    }

    #[test]
    fn html_and_truncated_bodies_are_named() {
        let reply = |ct: &str, body: &str| Reply {
            status: StatusCode::OK,
            headers: {
                let mut h = HeaderMap::new();
                h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
                h
            },
            body: body.as_bytes().to_vec(),
        };
        let e = reply("text/html", "<html>Instance hibernating</html>")
            .json(Remote::ServiceNow, "GET /x")
            .unwrap_err();
        assert_eq!(e.kind(), ApiErrorKind::InvalidResponse);
        assert!(e.message().contains("HTML") && e.message().contains("hibernating"));
        let e = reply("application/json", r#"{"result":[{"a":"#)
            .json(Remote::ServiceNow, "GET /x")
            .unwrap_err();
        assert!(e.message().contains("truncated"), "{e}");
        let e = reply("application/json", "")
            .json(Remote::ServiceNow, "GET /x")
            .unwrap_err();
        assert!(e.message().contains("empty"), "{e}");
    }
}
