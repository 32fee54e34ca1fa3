//! An OAuth token cache: refreshed ahead of expiry, one token request at a time however many
//! callers need a token (single flight), and invalidated after a 401.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::secret::Secret;
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

/// How long before expiry a token is replaced, at most.
const MARGIN: Duration = Duration::from_secs(300);

/// The longest lifetime believed from a token response: a server answering
/// `"expires_in": 18446744073709551615` (or a year) gets its token replaced after a day anyway.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The lifetime used when a token response has no usable `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A token as issued (`Debug` is redacted through [`Secret`]).
#[derive(Debug)]
pub(crate) struct Token {
    /// The access token.
    pub(crate) access: Secret,
    /// The refresh token, when the server gave one.
    pub(crate) refresh: Option<Secret>,
    /// When the cache stops handing it out.
    fresh_until: Instant,
}

impl Token {
    /// A token valid for `expires_in` from now (one hour when the server did not say, at most
    /// [`MAX_LIFETIME`]), used until five minutes before it expires, or half its life for
    /// short-lived tokens. Never panics, whatever the lifetime.
    pub(crate) fn new(
        access: Secret,
        refresh: Option<Secret>,
        expires_in: Option<Duration>,
    ) -> Self {
        let life = expires_in.unwrap_or(DEFAULT_LIFETIME).min(MAX_LIFETIME);
        let margin = MARGIN.min(life / 2);
        let now = Instant::now();
        Self {
            access,
            refresh,
            // Checked although `life` is capped: an `Instant` near the end of its range must
            // not take the process down either; such a token is simply not cached.
            fresh_until: now.checked_add(life.saturating_sub(margin)).unwrap_or(now),
        }
    }

    /// Decodes a token response (`access_token`, `refresh_token`, `expires_in`). The message of
    /// a failure never holds the body: it holds tokens.
    pub(crate) fn from_response(value: &Value, service: Remote) -> Result<Self, ApiError> {
        let access = value
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!("{service}'s token response has no access_token"),
                )
            })?;
        let refresh = value
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        let expires_in = value.get("expires_in").and_then(lifetime);
        Ok(Self::new(Secret::new(access), refresh, expires_in))
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.fresh_until
    }
}

/// An `expires_in` value as a lifetime: whole or fractional seconds, as a number or a string.
/// Zero and negative values are an already expired token (used once, never cached); huge
/// ones are capped at [`MAX_LIFETIME`]; anything else (`null`, `"soon"`, NaN) is unknown.
fn lifetime(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if secs.is_nan() {
        return None;
    }
    if secs <= 0.0 {
        return Some(Duration::ZERO);
    }
    // `try_from_secs_f64` refuses infinities and values past `Duration::MAX`: both are "longer
    // than the cap".
    Some(
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_LIFETIME)
            .min(MAX_LIFETIME),
    )
}

/// The cache. Cloned clients share it through their `Arc`.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<Token>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCache")
    }
}

impl TokenCache {
    /// The cached access token while it is fresh; otherwise one call of `fetch` (given the
    /// refresh token, if any) while every other caller waits for its result.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, ApiError>
    where
        F: FnOnce(Option<Secret>) -> Fut,
        Fut: Future<Output = Result<Token, ApiError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.access.clone());
        }
        let refresh = slot.as_ref().and_then(|t| t.refresh.clone());
        let token = fetch(refresh).await?;
        let access = token.access.clone();
        *slot = Some(token);
        Ok(access)
    }

    /// Marks `failed` stale after the server refused it, so the next [`get`](Self::get) fetches
    /// a new one. A token already replaced by another caller is left alone, so N callers that
    /// all saw a 401 cause one token request, not N.
    pub(crate) async fn invalidate(&self, failed: &Secret) {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.as_mut().filter(|t| t.access == *failed) {
            token.fresh_until = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn one_fetch_for_many_callers_and_again_after_invalidation() {
        let cache = TokenCache::default();
        let fetches = AtomicU32::new(0);
        let fetch = |_refresh: Option<Secret>| {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(Token::new(
                    Secret::new(format!("token-{n}")),
                    Some(Secret::new("refresh")),
                    Some(Duration::from_secs(3600)),
                ))
            }
        };
        futures::executor::block_on(async {
            let all = futures::future::join_all((0..10).map(|_| cache.get(fetch))).await;
            assert!(
                all.iter()
                    .all(|t| t.as_ref().unwrap().expose() == "token-0")
            );
            assert_eq!(fetches.load(Ordering::SeqCst), 1);
            // A stale token that was already replaced does not cause another fetch.
            cache.invalidate(&Secret::new("token-old")).await;
            assert_eq!(cache.get(fetch).await.unwrap().expose(), "token-0");
            cache.invalidate(&Secret::new("token-0")).await;
            let seen_refresh = std::cell::Cell::new(false);
            let next = cache
                .get(|refresh: Option<Secret>| {
                    seen_refresh.set(refresh.is_some());
                    fetch(refresh)
                })
                .await
                .unwrap();
            assert_eq!(next.expose(), "token-1");
            assert!(seen_refresh.get());
        });
    }

    #[test]
    fn short_tokens_are_replaced_at_half_life_and_failures_are_not_cached() {
        let t = Token::new(Secret::new("a"), None, Some(Duration::ZERO));
        assert!(!t.is_fresh());
        let cache = TokenCache::default();
        futures::executor::block_on(async {
            let err = cache
                .get(|_| async { Err(ApiError::new(ApiErrorKind::Unauthorized, "no")) })
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
            let ok = cache
                .get(|_| async { Ok(Token::new(Secret::new("b"), None, None)) })
                .await
                .unwrap();
            assert_eq!(ok.expose(), "b");
        });
    }

    #[test]
    fn lifetimes_are_read_in_every_shape_and_capped() {
        let life = |v: serde_json::Value| lifetime(&v);
        assert_eq!(
            life(serde_json::json!(1800)),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            life(serde_json::json!("1800")),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            life(serde_json::json!(1.5)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(life(serde_json::json!(u64::MAX)), Some(MAX_LIFETIME));
        assert_eq!(life(serde_json::json!("1e308")), Some(MAX_LIFETIME));
        assert_eq!(life(serde_json::json!("inf")), Some(MAX_LIFETIME));
        assert_eq!(life(serde_json::json!(-5)), Some(Duration::ZERO));
        assert_eq!(life(serde_json::json!(i64::MIN)), Some(Duration::ZERO));
        assert_eq!(life(serde_json::json!(0)), Some(Duration::ZERO));
        assert_eq!(life(serde_json::json!("NaN")), None);
        assert_eq!(life(serde_json::json!("soon")), None);
        assert_eq!(life(serde_json::json!(null)), None);
        let capped = Token::new(Secret::new("a"), None, Some(Duration::MAX));
        assert!(capped.is_fresh());
        assert!(capped.fresh_until <= Instant::now() + MAX_LIFETIME);
    }

    #[test]
    fn token_responses_decode_without_echoing_the_body() {
        let ok = Token::from_response(
            &serde_json::json!({"access_token": "abc", "expires_in": "1800", "refresh_token": "r"}),
            Remote::ServiceNow,
        )
        .unwrap();
        assert_eq!(ok.access.expose(), "abc");
        assert!(ok.refresh.is_some());
        let err = Token::from_response(
            &serde_json::json!({"token": "leaky-secret-value"}),
            Remote::NinjaOne,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("leaky"));
    }
}
