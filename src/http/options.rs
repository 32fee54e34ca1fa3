//! [`HttpOptions`]: timeouts, retries, concurrency, response cap, extra root certificates and
//! the proxy policy.

use std::fmt;
use std::time::Duration;

use super::error::ConfigError;
use super::proxy::ProxyPolicy;

/// Transport options shared by both clients.
///
/// Defaults: a 30 s timeout per request (under ServiceNow's 60 s server-side transaction quota),
/// 4 attempts per call, `Retry-After` honoured up to 60 s, a backoff from 250 ms to 10 s with
/// jitter, 8 requests in flight at most, responses capped at 64 MiB, and the proxy the
/// environment names ([`ProxyPolicy::from_environment`]; never for a loopback origin).
///
/// ```
/// use std::time::Duration;
/// use ninjaone_servicenow::http::HttpOptions;
/// let options = HttpOptions::builder()
///     .timeout(Duration::from_secs(20))
///     .max_attempts(3)
///     .concurrency(0) // clamped to 1
///     .build();
/// assert_eq!(options.timeout(), Duration::from_secs(20));
/// assert_eq!(options.concurrency(), 1);
/// ```
///
/// Like every options type of the crate: private fields, bare-name getters on the options, and
/// bare-name `#[must_use]` setters that clamp on its builder ([`HttpOptions::builder`],
/// [`HttpOptions::to_builder`]); anything that takes options takes `impl Into<HttpOptions>`, so a
/// builder can be passed as it is:
///
/// ```
/// # use ninjaone_servicenow::http::HttpOptions;
/// let options: HttpOptions = HttpOptions::builder().concurrency(4).into();
/// # assert_eq!(options.concurrency(), 4);
/// ```
#[derive(Clone)]
pub struct HttpOptions {
    pub(crate) timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) max_retry_wait: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) concurrency: usize,
    pub(crate) max_response_bytes: usize,
    pub(crate) root_certificates: Vec<reqwest::Certificate>,
    pub(crate) proxy: ProxyPolicy,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_retry_wait: Duration::from_secs(60),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
            concurrency: 8,
            max_response_bytes: 64 * 1024 * 1024,
            root_certificates: Vec::new(),
            proxy: ProxyPolicy::default(),
        }
    }
}

impl HttpOptions {
    /// The proxy policy.
    #[must_use]
    pub fn proxy(&self) -> &ProxyPolicy {
        &self.proxy
    }

    /// The timeout of one request.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many times one call may be sent in all.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest `Retry-After` waited out within a call.
    #[must_use]
    pub fn max_retry_wait(&self) -> Duration {
        self.max_retry_wait
    }

    /// How many requests may be in flight at once.
    #[must_use]
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The largest response body read.
    #[must_use]
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The backoff between attempts: the first wait and the cap.
    #[must_use]
    pub fn backoff(&self) -> (Duration, Duration) {
        (self.backoff_min, self.backoff_max)
    }

    /// How many extra root certificates are trusted.
    #[must_use]
    pub fn root_certificates(&self) -> usize {
        self.root_certificates.len()
    }

    /// A builder starting from the defaults; [`HttpOptionsBuilder::build`] (or `.into()`) makes
    /// the options.
    #[must_use]
    pub fn builder() -> HttpOptionsBuilder {
        HttpOptionsBuilder::default()
    }

    /// A builder starting from these options, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> HttpOptionsBuilder {
        HttpOptionsBuilder {
            options: self.clone(),
        }
    }
}

/// Sets [`HttpOptions`]: each setter is the option's bare name, `#[must_use]`, and clamps a
/// value out of range into it (the range is in the setter's docs).
#[derive(Clone, Debug, Default)]
pub struct HttpOptionsBuilder {
    options: HttpOptions,
}

impl HttpOptionsBuilder {
    /// The timeout of one request, connection to last byte (at least 1 ms).
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.options.timeout = d.max(Duration::from_millis(1));
        self
    }

    /// How many times one call may be sent in all, the first attempt included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.options.max_attempts = n.max(1);
        self
    }

    /// The longest wait a `Retry-After` may ask for and still be waited out within the call; a
    /// longer one ends the call with [`RateLimited`](crate::ports::ApiErrorKind::RateLimited)
    /// carrying the server's hint, so the host can defer the work instead of blocking.
    #[must_use]
    pub fn max_retry_wait(mut self, d: Duration) -> Self {
        self.options.max_retry_wait = d;
        self
    }

    /// The exponential backoff between attempts when the server gave no `Retry-After`: the first
    /// wait and the cap. A random jitter of up to the current wait is added to each.
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.options.backoff_min = first;
        self.options.backoff_max = max.max(first);
        self
    }

    /// How many requests one client (and its clones) may have in flight at once (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.options.concurrency = n.max(1);
        self
    }

    /// The largest response body read; a larger one is an
    /// [`InvalidResponse`](crate::ports::ApiErrorKind::InvalidResponse) (at least 1 KiB).
    #[must_use]
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.options.max_response_bytes = n.max(1024);
        self
    }

    /// Trusts the PEM-encoded certificates in `pem` as extra roots, besides the bundled Mozilla
    /// roots (for a TLS-inspecting proxy or a private CA in front of ServiceNow).
    ///
    /// # Errors
    /// [`ConfigError::Certificate`] when `pem` holds no certificate or cannot be parsed.
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ConfigError::Certificate {
                reason: e.to_string(),
            })?;
        if certificates.is_empty() {
            return Err(ConfigError::Certificate {
                reason: "no certificate found in the PEM data".to_owned(),
            });
        }
        self.options.root_certificates.extend(certificates);
        Ok(self)
    }

    /// Which proxy requests go through: the environment's (the default), none, or a given
    /// URL. A loopback origin is always reached directly. See [`ProxyPolicy`].
    #[must_use]
    pub fn proxy(mut self, policy: ProxyPolicy) -> Self {
        self.options.proxy = policy;
        self
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> HttpOptions {
        self.options
    }
}

impl From<HttpOptionsBuilder> for HttpOptions {
    fn from(builder: HttpOptionsBuilder) -> Self {
        builder.build()
    }
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("concurrency", &self.concurrency)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("root_certificates", &self.root_certificates.len())
            .field("proxy", &self.proxy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let o = HttpOptions::default();
        assert_eq!(o.timeout(), Duration::from_secs(30));
        assert_eq!(o.max_attempts(), 4);
        assert_eq!(o.max_retry_wait(), Duration::from_secs(60));
        assert_eq!(o.concurrency(), 8);
        assert_eq!(o.max_response_bytes(), 64 * 1024 * 1024);
    }

    #[test]
    fn builders_clamp_nonsense() {
        let o = HttpOptions::builder()
            .max_attempts(0)
            .concurrency(0)
            .max_response_bytes(1)
            .timeout(Duration::ZERO)
            .build();
        assert_eq!(o.max_attempts(), 1);
        assert_eq!(o.concurrency(), 1);
        assert_eq!(o.max_response_bytes(), 1024);
        assert!(o.timeout() > Duration::ZERO);
    }

    #[test]
    fn bad_pem_is_refused() {
        assert!(HttpOptions::builder().root_certificate_pem(b"").is_err());
        assert!(
            HttpOptions::builder()
                .root_certificate_pem(
                    b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
                )
                .is_err()
        );
    }
}
