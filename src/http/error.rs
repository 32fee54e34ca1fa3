//! [`ConfigError`]: a client configuration refused before any request is sent.

/// Why a client configuration was refused. Nothing has been sent anywhere when this is returned.
///
/// Messages say what was wrong and what to do; they never contain a secret (an origin with user
/// info is described without it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The origin (or region key) cannot be used.
    #[error("origin {origin} refused: {reason}")]
    OriginRefused {
        /// The origin as far as it can be shown safely (no user info, no query).
        origin: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A bare ServiceNow instance name that is not `[a-z0-9-]+`.
    #[error(
        "instance name {name:?} refused: {reason}; give the bare instance name (acme for \
         https://acme.service-now.com) or a full https origin"
    )]
    InstanceName {
        /// The name, cut to a short prefix.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// An entry of the host allow-list is malformed.
    #[error(
        "allowed host {entry:?} refused: {reason}; use an exact host (acme.service-now.com) or \
         a wildcard suffix (*.service-now.com)"
    )]
    AllowedHost {
        /// The entry, cut to a short prefix.
        entry: String,
        /// Why.
        reason: &'static str,
    },
    /// The origin's host is not in the configured allow-list.
    #[error(
        "host {host} is not in the allowed hosts ({allowed}); fix the instance or add the host to \
         the allow-list"
    )]
    HostNotAllowed {
        /// The origin's host.
        host: String,
        /// The allow-list, comma separated.
        allowed: String,
    },
    /// A credential is empty.
    #[error("the {what} is empty; set it before creating the client")]
    EmptyCredential {
        /// Which credential (for example "client id").
        what: &'static str,
    },
    /// An extra root certificate could not be read.
    #[error("root certificate refused: {reason}; give PEM-encoded certificates")]
    Certificate {
        /// Why.
        reason: String,
    },
    /// A proxy URL (given, or from the environment) cannot be used.
    #[error(
        "proxy from {from} refused: {reason}; fix it, or choose another ProxyPolicy (none, or a \
         given URL)"
    )]
    Proxy {
        /// Where it came from: an environment variable's name, or "the configured proxy".
        from: String,
        /// Why (never the URL: it may hold credentials).
        reason: String,
    },
    /// The HTTP client could not be built (TLS set-up, for example).
    #[error(
        "the HTTP client could not be built: {reason}; check the extra root certificates and \
         the proxy settings"
    )]
    Client {
        /// Why.
        reason: String,
    },
    /// A webhook registration cannot be sent as given (its URL, header name or secret).
    #[error("webhook registration refused: {reason}")]
    Webhook {
        /// Why, and what to do (never the secret).
        reason: String,
    },
}

/// At most `max` characters of `s`, for echoing input in an error without flooding it.
pub(crate) fn prefix(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}
