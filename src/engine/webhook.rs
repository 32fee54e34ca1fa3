//! A transport-agnostic receiver of NinjaOne webhook deliveries: given a request's headers and
//! body, it checks the secret header, caps the body, decodes the [`Activity`] and hands it to
//! the [`IncidentRouter`]'s event path ([`IncidentRouter::handle_activity`]). It owns no
//! socket, so any host (axum, hyper, a Lambda) mounts it and answers with
//! [`Refusal::http_status`] or a 2xx.
//!
//! NinjaOne signs nothing: the custom header registered with the webhook (`PUT /v2/webhook`,
//! `headers`) is the only authentication, so serve the endpoint over TLS only.
//!
//! ```
//! use std::sync::Arc;
//! use ninjaone_servicenow::clock::ManualClock;
//! use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
//! use ninjaone_servicenow::engine::webhook::{ReceiverOptions, Refusal, WebhookReceiver, WebhookSecret};
//! use ninjaone_servicenow::store::MemoryStore;
//! use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
//! # futures::executor::block_on(async {
//! let router = IncidentRouter::new(
//!     ninjaone_servicenow::ports::Ports::new(
//!         Arc::new(FakeNinjaOne::new()),
//!         Arc::new(FakeServiceNow::new()),
//!         Arc::new(MemoryStore::new()),
//!         Arc::new(ManualClock::new(fixed_time())),
//!     ),
//!     IncidentSettings::new("acme")?,
//! );
//! let secret = WebhookSecret::from("a-long-random-secret".to_owned());
//! let receiver = WebhookReceiver::new(router, ReceiverOptions::new(secret));
//! let body = br#"{"seriesUid":"u1","statusCode":"TRIGGERED"}"#;
//! let refused = receiver.receive([("content-type", &b"application/json"[..])], body).await;
//! assert!(matches!(refused, Err(Refusal::MissingSecret { .. })));
//! assert_eq!(refused.unwrap_err().http_status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;

use serde::Serialize;
use subtle::ConstantTimeEq;

use super::SyncError;
use super::incidents::{IncidentRouter, SkipReason, TicketOutcome};
use crate::model::activity::{Activity, ActivityError, StatusCode};
use crate::model::{AlertUid, SysId};

/// The default secret header.
pub const DEFAULT_HEADER_NAME: &str = "x-orgsync-webhook-secret";
/// The default body cap (64 KiB; a delivery is a few KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The smallest body cap [`ReceiverOptions::max_body_bytes`] accepts.
pub const MIN_MAX_BODY_BYTES: usize = 1024;
/// The largest body cap [`ReceiverOptions::max_body_bytes`] accepts.
pub const MAX_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The shared secret NinjaOne sends in the webhook's custom header. Its `Debug` is redacted
/// and nothing in this crate logs it.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl From<String> for WebhookSecret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// The secret, to register it with NinjaOne (`PUT /v2/webhook`'s `headers`). Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is long enough to be guessed by no one: at least 16 bytes. A receiver with
    /// an empty secret refuses every delivery.
    pub fn is_strong(&self) -> bool {
        self.0.len() >= 16
    }

    /// Whether `candidate` is the secret, in time that does not depend on where they differ.
    ///
    /// `subtle`'s `ct_eq` compares every byte without an early exit and keeps the compiler
    /// from turning the loop into one (a hand-written loop may be optimised into `memcmp`).
    /// Only the length can be learnt from the timing, and it says nothing about the bytes.
    fn matches(&self, candidate: &[u8]) -> bool {
        !self.0.is_empty() && bool::from(self.0.as_bytes().ct_eq(candidate))
    }
}

/// How a [`WebhookReceiver`] checks deliveries: read with the bare-name getters, set through
/// [`ReceiverOptions::builder`] (the crate's options vocabulary: a getter and a setter cannot
/// share a name on one type, so setters live on the builder).
///
/// ```
/// use ninjaone_servicenow::engine::webhook::{ReceiverOptions, WebhookSecret};
/// let options = ReceiverOptions::builder(WebhookSecret::from("s3cret-s3cret-s3cret".to_owned()))
///     .header_name("X-NinjaOne-Secret")
///     .max_body_bytes(10) // clamped to 1 KiB
///     .build();
/// assert_eq!(options.header_name(), "x-ninjaone-secret");
/// assert_eq!(options.max_body_bytes(), 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    secret: WebhookSecret,
    header_name: String,
    max_body_bytes: usize,
}

impl ReceiverOptions {
    /// Options with `secret`, header [`DEFAULT_HEADER_NAME`] and a
    /// [`DEFAULT_MAX_BODY_BYTES`] cap.
    #[must_use]
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secret,
            header_name: DEFAULT_HEADER_NAME.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// A builder starting from [`ReceiverOptions::new`]`(secret)`.
    #[must_use]
    pub fn builder(secret: WebhookSecret) -> ReceiverOptionsBuilder {
        ReceiverOptionsBuilder {
            options: Self::new(secret),
        }
    }

    /// A builder starting from these options, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> ReceiverOptionsBuilder {
        ReceiverOptionsBuilder {
            options: self.clone(),
        }
    }

    /// The secret.
    pub fn secret(&self) -> &WebhookSecret {
        &self.secret
    }

    /// The secret header's name (lowercase).
    pub fn header_name(&self) -> &str {
        &self.header_name
    }

    /// The largest body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
}

/// Sets [`ReceiverOptions`]: each setter is the setting's bare name, `#[must_use]`, and clamps
/// or ignores a value out of range (said in the setter's docs).
#[derive(Debug, Clone)]
pub struct ReceiverOptionsBuilder {
    options: ReceiverOptions,
}

impl ReceiverOptionsBuilder {
    /// The header that carries the secret, matched case-insensitively (lowercased here). A
    /// name that is not an HTTP token (empty, spaces, separators) keeps the previous one.
    #[must_use]
    pub fn header_name(mut self, name: &str) -> Self {
        let name = name.trim().to_ascii_lowercase();
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if token {
            self.options.header_name = name;
        }
        self
    }

    /// The largest body accepted, clamped to [`MIN_MAX_BODY_BYTES`]..=[`MAX_MAX_BODY_BYTES`].
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.options.max_body_bytes = bytes.clamp(MIN_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES);
        self
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> ReceiverOptions {
        self.options
    }
}

impl From<ReceiverOptionsBuilder> for ReceiverOptions {
    fn from(builder: ReceiverOptionsBuilder) -> Self {
        builder.build()
    }
}

/// Why a delivery was not handled, with the HTTP status to answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The secret header is missing (401).
    #[error(
        "the request has no `{header}` header; register the webhook with that header and the \
         secret (orgsync webhook register)"
    )]
    MissingSecret {
        /// The header expected.
        header: String,
    },
    /// The secret header does not hold the secret (403).
    #[error(
        "the `{header}` header does not hold the configured secret; register the webhook again \
         with the current secret"
    )]
    WrongSecret {
        /// The header checked.
        header: String,
    },
    /// The body is larger than the cap (413).
    #[error(
        "the body is larger than {limit} bytes; raise ReceiverOptionsBuilder::max_body_bytes if \
         NinjaOne's deliveries really are that large"
    )]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body is not an activity (400).
    #[error("the body is not a NinjaOne activity: {0}")]
    Malformed(#[from] ActivityError),
    /// The delivery could not be handled (503, so NinjaOne retries; the next pass repairs
    /// what a lost delivery leaves).
    #[error("the delivery could not be handled, NinjaOne should retry it: {0}")]
    Failed(#[from] SyncError),
    /// The delivery was decided but a write was deferred or failed in a way a retry may get
    /// past (503).
    #[error(
        "the delivery for alert {} was not finished ({}); NinjaOne should retry it, and the \
         next pass repairs it otherwise",
        .0.alert, .0.outcome
    )]
    Unfinished(Box<Delivery>),
}

impl Refusal {
    /// The HTTP status to answer: 401, 403, 413, 400, or 503 for what NinjaOne should retry.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::MissingSecret { .. } => 401,
            Self::WrongSecret { .. } => 403,
            Self::TooLarge { .. } => 413,
            Self::Malformed(_) => 400,
            Self::Failed(_) | Self::Unfinished(_) => 503,
        }
    }

    /// Whether sending the same delivery again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Failed(_) | Self::Unfinished(_))
    }
}

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// A ticket was created.
    Created {
        /// The ticket's sys_id.
        ticket: SysId,
        /// Its number, when ServiceNow answered one.
        number: Option<String>,
    },
    /// The alert already has its ticket (recorded, or found by correlation id and now
    /// recorded): nothing was created.
    AlreadyTicketed {
        /// The ticket, when known.
        ticket: Option<SysId>,
        /// Its number, when known.
        number: Option<String>,
    },
    /// The alert's message changed: one work note was added.
    Noted {
        /// The ticket.
        ticket: Option<SysId>,
        /// Its number.
        number: Option<String>,
    },
    /// The alert reset and is gone from NinjaOne: the ticket was resolved.
    Resolved {
        /// The ticket.
        ticket: Option<SysId>,
        /// Its number.
        number: Option<String>,
    },
    /// A reset, but NinjaOne still lists the alert open: nothing was resolved.
    StillOpen,
    /// The resolve guard holds the resolve: the next pass decides (and an administrator
    /// approves what it holds).
    Held {
        /// Why, with the counts.
        reason: String,
    },
    /// The alert does not become a ticket, for the planner's reason.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
    /// Not an activity that changes tickets (not a condition, another status, the
    /// integration disabled, no ticket to resolve).
    Ignored {
        /// Why.
        reason: String,
    },
    /// Anything else a pass could say of the alert (finished elsewhere, left, pruned,
    /// deferred, failed, unknown).
    Other(TicketOutcome),
}

impl fmt::Display for DeliveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |t: &Option<SysId>, n: &Option<String>| {
            n.clone()
                .or_else(|| t.as_ref().map(ToString::to_string))
                .unwrap_or_else(|| "its ticket".to_owned())
        };
        match self {
            Self::Created { ticket, number } => {
                write!(f, "created {}", name(&Some(ticket.clone()), number))
            }
            Self::AlreadyTicketed { ticket, number } => {
                write!(f, "already ticketed as {}", name(ticket, number))
            }
            Self::Noted { ticket, number } => write!(f, "noted on {}", name(ticket, number)),
            Self::Resolved { ticket, number } => write!(f, "resolved {}", name(ticket, number)),
            Self::StillOpen => f.write_str("not resolved: NinjaOne still lists the alert open"),
            Self::Held { reason } => write!(f, "held: {reason}"),
            Self::Skipped { reason } => write!(f, "skipped: {reason}"),
            Self::Ignored { reason } => write!(f, "ignored: {reason}"),
            Self::Other(outcome) => write!(f, "{outcome}"),
        }
    }
}

impl DeliveryOutcome {
    /// A short name for metrics: "created", "already_ticketed", "noted", "resolved",
    /// "still_open", "held", "skipped", "ignored", or the pass's name of the outcome.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::AlreadyTicketed { .. } => "already_ticketed",
            Self::Noted { .. } => "noted",
            Self::Resolved { .. } => "resolved",
            Self::StillOpen => "still_open",
            Self::Held { .. } => "held",
            Self::Skipped { .. } => "skipped",
            Self::Ignored { .. } => "ignored",
            Self::Other(outcome) => outcome.label(),
        }
    }
}

/// One handled delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Delivery {
    /// The alert (`seriesUid`).
    pub alert: AlertUid,
    /// The activity's status code.
    #[serde(serialize_with = "status_str")]
    pub status: StatusCode,
    /// What it did.
    pub outcome: DeliveryOutcome,
    /// ServiceNow requests it made (queries and writes).
    pub servicenow_requests: usize,
    /// NinjaOne requests it made (the reset's device alerts, a device lookup).
    pub ninjaone_requests: usize,
}

fn status_str<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status.as_str())
}

impl Delivery {
    /// A delivery's result, with no request counted.
    #[must_use]
    pub fn new(alert: AlertUid, status: StatusCode, outcome: DeliveryOutcome) -> Self {
        Self {
            alert,
            status,
            outcome,
            servicenow_requests: 0,
            ninjaone_requests: 0,
        }
    }
}

/// Checks and handles webhook deliveries; see the [module](self).
///
/// Cheap to clone; clones share the router (and its per-alert turns).
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    router: IncidentRouter,
    options: ReceiverOptions,
}

impl WebhookReceiver {
    /// A receiver handing deliveries to `router`.
    #[must_use]
    pub fn new(router: IncidentRouter, options: impl Into<ReceiverOptions>) -> Self {
        Self {
            router,
            options: options.into(),
        }
    }

    /// The options.
    pub fn options(&self) -> &ReceiverOptions {
        &self.options
    }

    /// The router.
    pub fn router(&self) -> &IncidentRouter {
        &self.router
    }

    /// Checks only the secret header (first occurrence, matched case-insensitively,
    /// surrounding whitespace ignored, compared in constant time): what a host calls before it
    /// reads a byte of the body, so a request without the secret learns nothing about the
    /// body's rules and costs no buffering. [`accept`](Self::accept) runs it first.
    ///
    /// # Errors
    /// [`Refusal::MissingSecret`] (401) or [`Refusal::WrongSecret`] (403); the refusal names
    /// the header, never the secret or the value sent.
    pub fn check_secret<'a>(
        &self,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), Refusal> {
        let header = self.options.header_name();
        let value = headers
            .into_iter()
            .find(|(name, _)| name.trim().eq_ignore_ascii_case(header))
            .map(|(_, value)| value.trim_ascii());
        let Some(value) = value else {
            return Err(Refusal::MissingSecret {
                header: header.to_owned(),
            });
        };
        if !self.options.secret.matches(value) {
            return Err(Refusal::WrongSecret {
                header: header.to_owned(),
            });
        }
        Ok(())
    }

    /// Checks a delivery without handling it: the secret header
    /// ([`check_secret`](Self::check_secret)), the body's size, then decodes it. Synchronous,
    /// so a host can refuse before reading more.
    ///
    /// # Errors
    /// [`Refusal::MissingSecret`], [`Refusal::WrongSecret`], [`Refusal::TooLarge`],
    /// [`Refusal::Malformed`], in that order: a request without the secret learns nothing
    /// about the body's rules.
    pub fn accept<'a>(
        &self,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
    ) -> Result<Activity, Refusal> {
        self.check_secret(headers)?;
        let limit = self.options.max_body_bytes();
        if body.len() > limit {
            return Err(Refusal::TooLarge { limit });
        }
        Ok(Activity::from_json(body)?)
    }

    /// Handles an accepted activity through the router's event path.
    ///
    /// # Errors
    /// [`Refusal::Failed`] when the store or a read the decision needs failed;
    /// [`Refusal::Unfinished`] when a write was deferred or failed transiently. Both are
    /// worth NinjaOne's retry (503); nothing is lost either way, the next pass repairs it.
    pub async fn handle(&self, activity: Activity) -> Result<Delivery, Refusal> {
        let delivery = self.router.handle_activity(&activity).await?;
        if super::incidents::unfinished(&delivery.outcome) {
            tracing::warn!(alert = %delivery.alert, outcome = %delivery.outcome, "delivery not finished");
            return Err(Refusal::Unfinished(Box::new(delivery)));
        }
        tracing::info!(alert = %delivery.alert, status = %delivery.status, outcome = %delivery.outcome, "delivery");
        Ok(delivery)
    }

    /// [`accept`](Self::accept), then [`handle`](Self::handle).
    ///
    /// # Errors
    /// As both.
    pub async fn receive<'a>(
        &self,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
    ) -> Result<Delivery, Refusal> {
        let activity = self.accept(headers, body)?;
        self.handle(activity).await
    }
}
