//! The call hook ([`Call`], [`Verdict`]) and the error kinds a fault injects ([`FaultKind`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::Method;
use crate::ports::{ApiError, ApiErrorKind, StoreError, StoreErrorKind};

/// The kind of error an injected fault returns: an [`ApiErrorKind`] or a [`StoreErrorKind`].
///
/// Both convert into it, so `fail_next(method, 1, ApiErrorKind::Transient)` and
/// `fail_next(StoreMethod::Write, 1, StoreErrorKind::Unavailable)` read as they should. A kind
/// of the other port is translated to the nearest one of the port failed (see
/// [`api_kind`](Self::api_kind) and [`store_kind`](Self::store_kind)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// An error of a remote API.
    Api(ApiErrorKind),
    /// An error of a store.
    Store(StoreErrorKind),
}

impl FaultKind {
    /// The kind a fake returns: an `Api` kind as it is; a `Store` kind as `Conflict` →
    /// `Conflict`, `NotFound` → `NotFound`, `Corrupt` → `InvalidResponse`, `Invalid` →
    /// `Other`, and `Locked` or `Unavailable` → `Transient`.
    #[must_use]
    pub const fn api_kind(self) -> ApiErrorKind {
        match self {
            Self::Api(kind) => kind,
            Self::Store(StoreErrorKind::Conflict) => ApiErrorKind::Conflict,
            Self::Store(StoreErrorKind::NotFound) => ApiErrorKind::NotFound,
            Self::Store(StoreErrorKind::Corrupt) => ApiErrorKind::InvalidResponse,
            Self::Store(StoreErrorKind::Invalid) => ApiErrorKind::Other,
            Self::Store(_) => ApiErrorKind::Transient,
        }
    }

    /// The kind the memory store returns: a `Store` kind as it is; an `Api` kind as
    /// `Conflict` → `Conflict`, `NotFound` → `NotFound`, `InvalidResponse` → `Corrupt`,
    /// `Other` → `Invalid`, and the rest (transient, rate limits, refused credentials) →
    /// `Unavailable`.
    #[must_use]
    pub const fn store_kind(self) -> StoreErrorKind {
        match self {
            Self::Store(kind) => kind,
            Self::Api(ApiErrorKind::Conflict) => StoreErrorKind::Conflict,
            Self::Api(ApiErrorKind::NotFound) => StoreErrorKind::NotFound,
            Self::Api(ApiErrorKind::InvalidResponse) => StoreErrorKind::Corrupt,
            Self::Api(ApiErrorKind::Other) => StoreErrorKind::Invalid,
            Self::Api(_) => StoreErrorKind::Unavailable,
        }
    }
}

impl From<ApiErrorKind> for FaultKind {
    fn from(kind: ApiErrorKind) -> Self {
        Self::Api(kind)
    }
}

impl From<StoreErrorKind> for FaultKind {
    fn from(kind: StoreErrorKind) -> Self {
        Self::Store(kind)
    }
}

/// One call, as the [call hook](super::Faults::on_call) sees it: before the fake (or store)
/// does anything, stalls included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    method: Method,
    nth: usize,
}

impl Call {
    pub(crate) const fn new(method: Method, nth: usize) -> Self {
        Self { method, nth }
    }

    /// The method called.
    #[must_use]
    pub const fn method(&self) -> Method {
        self.method
    }

    /// Which call of [`method`](Self::method) this is, counting from 1 since the
    /// [`Faults`](super::Faults) was made or its counts were last
    /// [reset](super::Faults::reset_counts) — every call the hook saw, including those it
    /// failed and those still stalled.
    #[must_use]
    pub const fn nth(&self) -> usize {
        self.nth
    }

    /// Whether this is a call of `method`.
    #[must_use]
    pub fn is(&self, method: impl Into<Method>) -> bool {
        self.method == method.into()
    }
}

/// What the [call hook](super::Faults::on_call) decides for one call.
#[must_use]
pub enum Verdict {
    /// Go on: the queued and rate faults decide, then the call does its work.
    Proceed,
    /// Fail the call before it does anything (it is still counted as a call).
    Fail(FaultKind),
    /// Await the future first (a gate the test controls: a `futures` oneshot receiver, a
    /// barrier, a sleep, an `async` block that does something else first), then follow the
    /// verdict it yields. No lock is held while it is awaited, so it may call the fake itself.
    Stall(Pin<Box<dyn Future<Output = Verdict> + Send>>),
}

impl Verdict {
    /// Fail the call with `kind` ([`Verdict::Fail`]).
    pub fn fail(kind: impl Into<FaultKind>) -> Self {
        Self::Fail(kind.into())
    }

    /// Wait for `gate`, then go on ([`Verdict::Stall`] yielding [`Verdict::Proceed`]).
    pub fn stall_until(gate: impl Future<Output = ()> + Send + 'static) -> Self {
        Self::Stall(Box::pin(async move {
            gate.await;
            Self::Proceed
        }))
    }

    /// Await `then`, then follow the verdict it yields.
    pub fn then(then: impl Future<Output = Verdict> + Send + 'static) -> Self {
        Self::Stall(Box::pin(then))
    }

    /// Never answer: the call hangs before doing anything, as a remote that died does. Drop the
    /// caller's future to end it.
    pub fn hang() -> Self {
        Self::stall_until(std::future::pending())
    }
}

impl fmt::Debug for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proceed => f.write_str("Proceed"),
            Self::Fail(kind) => f.debug_tuple("Fail").field(kind).finish(),
            Self::Stall(_) => f.write_str("Stall(..)"),
        }
    }
}

/// A fault that fired: its kind and the message of the error it becomes.
#[derive(Debug)]
pub(crate) struct Injected {
    pub(super) kind: FaultKind,
    message: String,
}

impl Injected {
    pub(crate) fn new(kind: FaultKind, method: Method, call: usize, when: &str) -> Self {
        Self {
            kind,
            message: format!("injected failure of {method} (call {call}), {when}"),
        }
    }
}

impl From<Injected> for ApiError {
    fn from(injected: Injected) -> Self {
        Self::new(injected.kind.api_kind(), injected.message)
    }
}

impl From<Injected> for StoreError {
    fn from(injected: Injected) -> Self {
        Self::new(injected.kind.store_kind(), injected.message)
    }
}
