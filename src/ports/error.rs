//! Errors of the ports: [`ApiError`] for the remote APIs, [`StoreError`] for configuration stores.
//!
//! Both carry a small `Copy` kind that decides what callers do (retry, back off, stop the pass,
//! mark a config failed) and keep the cause reachable through [`std::error::Error::source`]
//! only, so no foreign type appears in the public API. `Display` never repeats the source.

use std::fmt;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure a remote call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// The record or endpoint does not exist (404, or a table that is not installed).
    NotFound,
    /// The integration's credentials were refused (401). Stops a pass.
    Unauthorized,
    /// The credentials lack a role or scope (403). Stops a pass.
    Forbidden,
    /// The server refused the request unprocessed (429); `retry_after` is the server's hint.
    RateLimited {
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// A failure that may pass on retry: 5xx, a timeout, a dropped connection.
    Transient,
    /// The server answered something that is not what the API promises (HTML instead of JSON,
    /// a truncated body, a malformed record).
    InvalidResponse,
    /// The request conflicts with the server's state (409, a duplicate).
    Conflict,
    /// Anything else, such as a 400 for a request the server refuses.
    Other,
}

impl ApiErrorKind {
    /// Whether a later attempt may succeed without anyone changing anything.
    #[must_use]
    pub const fn is_transient(self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient)
    }

    /// Whether the integration's own credentials failed: the pass must stop and change no status.
    #[must_use]
    pub const fn is_auth(self) -> bool {
        matches!(self, Self::Unauthorized | Self::Forbidden)
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::Unauthorized => f.write_str("unauthorized"),
            Self::Forbidden => f.write_str("forbidden"),
            Self::RateLimited {
                retry_after: Some(d),
            } => write!(f, "rate limited (retry after {}s)", d.as_secs()),
            Self::RateLimited { retry_after: None } => f.write_str("rate limited"),
            Self::Transient => f.write_str("transient failure"),
            Self::InvalidResponse => f.write_str("invalid response"),
            Self::Conflict => f.write_str("conflict"),
            Self::Other => f.write_str("error"),
        }
    }
}

/// The error of every [`NinjaOneApi`](super::NinjaOneApi) and
/// [`ServiceNowApi`](super::ServiceNowApi) call.
///
/// ```
/// use ninjaone_servicenow::ports::{ApiError, ApiErrorKind};
/// let err = ApiError::new(ApiErrorKind::Transient, "ServiceNow answered 503 to GET core_company");
/// assert!(err.kind().is_transient());
/// assert_eq!(err.to_string(), "transient failure: ServiceNow answered 503 to GET core_company");
/// ```
#[derive(Debug)]
pub struct ApiError {
    kind: ApiErrorKind,
    message: String,
    source: Option<BoxError>,
}

impl ApiError {
    /// An error of `kind` with a message saying what failed (lowercase, no trailing period).
    #[must_use]
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause, reachable through `source()`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ApiErrorKind {
        self.kind
    }

    /// The message, without the kind.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What kind of failure a store operation had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// A write carried a stale version, or inserted a configuration that already exists. Nothing
    /// was written: read again, re-apply the change, write again.
    Conflict,
    /// The record does not exist.
    NotFound,
    /// The stored data cannot be read (corrupt, truncated, from a newer schema). Nothing was
    /// overwritten; a person must look at it.
    Corrupt,
    /// Another process holds the store (for example the JSON file's lock).
    Locked,
    /// The store could not be reached or written (I/O, connection). May pass on retry.
    Unavailable,
    /// The request itself is invalid.
    Invalid,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Conflict => "conflict",
            Self::NotFound => "not found",
            Self::Corrupt => "corrupt store",
            Self::Locked => "store locked",
            Self::Unavailable => "store unavailable",
            Self::Invalid => "invalid request",
        })
    }
}

/// The error of every [`ConfigStore`](super::ConfigStore) call.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<BoxError>,
}

impl StoreError {
    /// An error of `kind` with a message saying what failed and, where useful, what to do.
    #[must_use]
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause, reachable through `source()`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The message, without the kind.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
