//! What the reconcile pass and the incident router share about remote writes: bounded
//! concurrency that slows down on rate limits ([`Throttle`]), and the small helpers around it.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::outcome::Stop;
use crate::plan::RetryPolicy;
use crate::ports::{ApiError, Remote};

/// How many writes may be in flight, lowered by rate limits.
///
/// A 429 halves the limit (down to 1) and says until when the rate-limited item waits: the
/// server's `Retry-After` (capped by [`RetryPolicy::max_server_wait`]) or the first backoff
/// step. A 429 at limit 1 defers everything not started yet to that time.
#[derive(Debug)]
pub(crate) struct Throttle {
    limit: usize,
    defer_rest: Option<(String, DateTime<Utc>)>,
}

impl Throttle {
    /// At most `concurrency` (at least 1) writes in flight.
    pub(crate) fn new(concurrency: usize) -> Self {
        Self {
            limit: concurrency.max(1),
            defer_rest: None,
        }
    }

    /// Whether another write may start while `in_flight` are running.
    pub(crate) fn may_start(&self, in_flight: usize) -> bool {
        self.defer_rest.is_none() && in_flight < self.limit
    }

    /// Records a rate limit of `api` answered at `now` and returns until when the item waits.
    pub(crate) fn rate_limited(
        &mut self,
        api: Remote,
        err: &ApiError,
        retry_after: Option<Duration>,
        retry: &RetryPolicy,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let wait = retry_after.map_or(retry.initial, |w| retry.server_wait(w));
        let until = after(now, wait);
        if self.limit == 1 {
            self.defer_rest.get_or_insert_with(|| {
                let why = format!("{api} is rate limiting at concurrency 1 ({err})");
                (why, until)
            });
        }
        self.limit = (self.limit / 2).max(1);
        tracing::warn!(error = %err, concurrency = self.limit, "rate limited; lowering concurrency");
        until
    }

    /// Why and until when what was not started waits, after a rate limit at concurrency 1.
    pub(crate) fn deferred(&self) -> Option<&(String, DateTime<Utc>)> {
        self.defer_rest.as_ref()
    }
}

/// The stop of a pass whose credentials `api` refused. Its message is the error with exactly
/// one fix: the error's own advice when it has one (the HTTP clients attach it), otherwise the
/// remote's [`action`](Remote::action) for the kind.
pub(crate) fn credentials(api: Remote, err: &ApiError) -> Stop {
    let message = match (err.advice(), api.action(err.kind())) {
        (None, Some(action)) => format!("{err}; {action}"),
        _ => err.to_string(),
    };
    Stop::Credentials { api, message }
}

/// `at + wait`, saturating at the latest representable time.
pub(crate) fn after(at: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(wait)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ApiErrorKind;

    #[test]
    fn rate_limits_halve_the_limit_and_defer_the_rest_at_one() {
        let retry = RetryPolicy::default();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let err = ApiError::new(ApiErrorKind::RateLimited { retry_after: None }, "429");
        let mut throttle = Throttle::new(4);
        assert!(throttle.may_start(3) && !throttle.may_start(4));
        let until = throttle.rate_limited(
            Remote::ServiceNow,
            &err,
            Some(Duration::from_secs(30)),
            &retry,
            now,
        );
        assert_eq!(until, now + TimeDelta::seconds(30));
        assert!(!throttle.may_start(2) && throttle.may_start(1));
        throttle.rate_limited(Remote::ServiceNow, &err, None, &retry, now);
        assert!(throttle.deferred().is_none());
        throttle.rate_limited(Remote::ServiceNow, &err, None, &retry, now);
        let (why, until) = throttle.deferred().expect("deferred at 1");
        assert!(why.contains("concurrency 1"), "{why}");
        assert_eq!(*until, now + TimeDelta::seconds(60));
        assert!(!throttle.may_start(0));
    }

    #[test]
    fn after_saturates() {
        assert_eq!(
            after(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
