//! One API call and its reply as both clients build and read them: authentication, body,
//! form encoding, and the mapping of HTTP statuses to error kinds.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::retry::{Counted, Replay, parse_retry_after};
use super::secret::{Scrubber, Secret};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

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
    /// An OAuth token request: a form POSTed to `path` (replay-safe: a token request changes
    /// nothing, so it may be sent again), counted as a token request.
    pub(crate) fn token(path: &str, form: String) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            query: Vec::new(),
            body: Body::Form(form),
            counted: Counted::Token,
            replay: Replay::Safe,
            not_found_ok: false,
        }
    }

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
