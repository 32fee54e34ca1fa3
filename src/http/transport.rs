//! The transport both clients share: one reqwest client, a concurrency limit, retries with
//! backoff, a response-size cap, request counters and a `tracing` span per request.

use std::fmt;
use std::sync::Arc;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use reqwest::header::{self};
use tokio::sync::Semaphore;
use tracing::Instrument;
use url::Url;

use super::call::{Auth, Body, Call, DecodeError, Reply, encode_pairs};
use super::error::ConfigError;
use super::options::HttpOptions;
use super::retry::{Counters, RetryHint, next_wait};
use super::secret::{Scrubber, Secret};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

/// The User-Agent of every request.
pub const USER_AGENT: &str = concat!("ninjaone-servicenow/", env!("CARGO_PKG_VERSION"));

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
