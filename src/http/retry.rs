//! When a failed attempt is sent again, and how long to wait first; and the request counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Whether a request may be sent again after a failure whose effect is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Sending it twice has the effect of sending it once (GET, PATCH with the same body, a
    /// token request).
    Safe,
    /// It creates something (POST) or appends to a journal (a PATCH with `work_notes`): after
    /// an unknown failure it is never re-sent; the engine looks before it creates again, and
    /// records a note before it sends it.
    Unsafe,
}

/// What a failed attempt allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryHint {
    /// Never again (4xx, a bad body, a redirect).
    Never,
    /// The request may or may not have been processed (5xx, a timeout, a dropped connection):
    /// again only if it is [`Replay::Safe`].
    IfReplaySafe,
    /// The server did not process it (429, a refused connection): again whatever it is, after
    /// `after` when the server said.
    Unprocessed {
        /// The server's `Retry-After`.
        after: Option<Duration>,
    },
}

/// How long to wait before the next attempt, or `None` to give up now.
///
/// `backoff` is the backoff's next delay (`None` once the attempts are used up); a `Retry-After`
/// replaces it, unless it is longer than `cap`: then the call ends and the caller gets the
/// server's hint.
pub(crate) fn next_wait(
    hint: RetryHint,
    replay: Replay,
    cap: Duration,
    backoff: Option<Duration>,
) -> Option<Duration> {
    let backoff = backoff?;
    match hint {
        RetryHint::Never => None,
        RetryHint::IfReplaySafe => (replay == Replay::Safe).then_some(backoff),
        RetryHint::Unprocessed { after: None } => Some(backoff),
        RetryHint::Unprocessed { after: Some(after) } => (after <= cap).then_some(after),
    }
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (a date in the past is zero).
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Request counts of one client (and its clones), since it was created.
///
/// `requests` = `reads` + `writes` + `token_requests`: every HTTP request sent, each retry
/// counted as a request of its own (and in `retries`).
///
/// ```
/// use ninjaone_servicenow::http::ClientStats;
/// let stats = ClientStats::default();
/// assert_eq!(stats.requests, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClientStats {
    /// Every HTTP request sent.
    pub requests: u64,
    /// GET requests sent to the API.
    pub reads: u64,
    /// POST and PATCH requests sent to the API (token requests excluded).
    pub writes: u64,
    /// Requests that were a retry of an earlier attempt.
    pub retries: u64,
    /// Token requests (OAuth) sent.
    pub token_requests: u64,
}

/// What a request counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    /// A GET.
    Read,
    /// A POST or PATCH to the API.
    Write,
    /// A token request.
    Token,
}

/// The live counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    reads: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
    token_requests: AtomicU64,
}

impl Counters {
    /// Counts one request about to be sent.
    pub(crate) fn sent(&self, what: Counted) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match what {
            Counted::Read => &self.reads,
            Counted::Write => &self.writes,
            Counted::Token => &self.token_requests,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a retry about to happen.
    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            token_requests: self.token_requests.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(60);
    const B: Option<Duration> = Some(Duration::from_millis(250));

    #[test]
    fn creates_are_never_replayed_after_an_unknown_failure() {
        assert_eq!(
            next_wait(RetryHint::IfReplaySafe, Replay::Unsafe, CAP, B),
            None
        );
        assert_eq!(next_wait(RetryHint::IfReplaySafe, Replay::Safe, CAP, B), B);
        assert_eq!(next_wait(RetryHint::Never, Replay::Safe, CAP, B), None);
    }

    #[test]
    fn unprocessed_requests_are_retried_honouring_and_capping_retry_after() {
        let after = |s| RetryHint::Unprocessed {
            after: Some(Duration::from_secs(s)),
        };
        assert_eq!(
            next_wait(after(3), Replay::Unsafe, CAP, B),
            Some(Duration::from_secs(3))
        );
        assert_eq!(next_wait(after(61), Replay::Safe, CAP, B), None);
        assert_eq!(
            next_wait(
                RetryHint::Unprocessed { after: None },
                Replay::Unsafe,
                CAP,
                B
            ),
            B
        );
        // Attempts used up: no wait, whatever the hint.
        assert_eq!(next_wait(after(1), Replay::Safe, CAP, None), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn counters_add_up() {
        let c = Counters::default();
        c.sent(Counted::Read);
        c.sent(Counted::Write);
        c.sent(Counted::Token);
        c.retried();
        let s = c.snapshot();
        assert_eq!(s.requests, s.reads + s.writes + s.token_requests);
        assert_eq!((s.requests, s.retries), (3, 1));
    }
}
