//! [`WebhookRegistration`]: what `PUT /v2/webhook` asks NinjaOne to send, and to where.

use std::fmt;

use serde_json::{Value, json};
use url::Url;

use super::error::{ConfigError, prefix};
use super::origin::is_loopback;
use super::secret::Secret;

// The header NinjaOne is asked to send when no other name is given: the receiver's default.
use crate::engine::webhook::DEFAULT_HEADER_NAME as DEFAULT_WEBHOOK_HEADER;

/// The condition status codes registered by default: a condition that triggers, and its reset.
pub const DEFAULT_STATUS_CODES: [&str; 2] = ["TRIGGERED", "RESET"];

/// The expansions asked for by default: the device and its organization ride along with every
/// activity, so a delivery can be routed without another request.
pub const DEFAULT_EXPAND: [&str; 2] = ["device", "organization"];

/// A webhook registration for [`NinjaOneClient::register_webhook`](super::NinjaOneClient::register_webhook):
/// the URL NinjaOne posts activities to, the activity filter, the expansions and the secret
/// header.
///
/// NinjaOne signs nothing: the custom header is the only thing that tells a real delivery from
/// a forged one, so the URL must be https (plain http only on a loopback host, for local
/// testing) and the secret is a [`Secret`]: `Debug` shows the header's name, never its value.
///
/// ```
/// use ninjaone_servicenow::http::{Secret, WebhookRegistration};
/// let registration = WebhookRegistration::new(
///     "https://orgsync.example.com/ninjaone/webhook",
///     Secret::new("a-long-random-secret-value"),
/// )?;
/// assert_eq!(registration.secret_header(), "x-orgsync-webhook-secret");
/// assert!(!format!("{registration:?}").contains("a-long-random"));
/// // No secret over plain http to another host.
/// assert!(WebhookRegistration::new("http://orgsync.example.com/hook", Secret::new("s")).is_err());
/// # Ok::<(), ninjaone_servicenow::http::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct WebhookRegistration {
    url: Url,
    status_codes: Vec<String>,
    expand: Vec<String>,
    header_name: String,
    secret: Secret,
}

impl fmt::Debug for WebhookRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRegistration")
            .field("url", &self.url.as_str())
            .field("status_codes", &self.status_codes)
            .field("expand", &self.expand)
            .field("header_name", &self.header_name)
            .field("secret", &self.secret)
            .finish()
    }
}

fn refused(reason: impl Into<String>) -> ConfigError {
    ConfigError::Webhook {
        reason: reason.into(),
    }
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl WebhookRegistration {
    /// A registration of `url` with `secret` sent in the receiver's default header
    /// ([`DEFAULT_HEADER_NAME`](crate::engine::webhook::DEFAULT_HEADER_NAME)), for the
    /// [`DEFAULT_STATUS_CODES`] with the [`DEFAULT_EXPAND`] expansions.
    ///
    /// # Errors
    /// [`ConfigError::Webhook`] when the URL is not an absolute https URL (http only on a
    /// loopback host), carries user info or a fragment, or when the secret is empty or holds
    /// characters a header value cannot carry (control characters, line breaks).
    pub fn new(url: &str, secret: Secret) -> Result<Self, ConfigError> {
        let shown = prefix(url.trim(), 80);
        let parsed = Url::parse(url.trim())
            .map_err(|e| refused(format!("{shown:?} is not an absolute URL ({e})")))?;
        let loopback = parsed.host().is_some_and(|h| is_loopback(&h));
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(refused(format!(
                    "{} URLs are refused: NinjaOne would send the secret header in the clear; \
                     give an https URL (plain http only on a loopback host)",
                    parsed.scheme()
                )));
            }
        }
        if parsed.host().is_none() {
            return Err(refused(format!("{shown:?} has no host")));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refused(
                "the URL carries user info; NinjaOne authenticates with the secret header, give \
                 the URL without it",
            ));
        }
        if parsed.fragment().is_some() {
            return Err(refused("the URL has a #fragment; give it without"));
        }
        if secret.is_empty() {
            return Err(refused("the secret is empty"));
        }
        if secret.expose().chars().any(char::is_control) {
            return Err(refused(
                "the secret holds control characters or line breaks, which a header value \
                 cannot carry; use printable characters",
            ));
        }
        Ok(Self {
            url: parsed,
            status_codes: DEFAULT_STATUS_CODES.map(str::to_owned).to_vec(),
            expand: DEFAULT_EXPAND.map(str::to_owned).to_vec(),
            header_name: DEFAULT_WEBHOOK_HEADER.to_owned(),
            secret,
        })
    }

    /// The header NinjaOne sends the secret in (default
    /// [`DEFAULT_HEADER_NAME`](crate::engine::webhook::DEFAULT_HEADER_NAME)); it must
    /// match the receiver's. Header names are case-insensitive: it is kept lowercase.
    ///
    /// # Errors
    /// [`ConfigError::Webhook`] when `name` is not an HTTP header name.
    pub fn header_name(mut self, name: &str) -> Result<Self, ConfigError> {
        let name = name.trim();
        if !is_header_name(name) {
            return Err(refused(format!(
                "{:?} is not an HTTP header name; use letters, digits and '-'",
                prefix(name, 40)
            )));
        }
        self.header_name = name.to_ascii_lowercase();
        Ok(self)
    }

    /// The condition status codes to deliver (default [`DEFAULT_STATUS_CODES`]); empty codes
    /// are dropped, duplicates kept once.
    #[must_use]
    pub fn status_codes<S: AsRef<str>>(mut self, codes: impl IntoIterator<Item = S>) -> Self {
        self.status_codes = unique(codes);
        self
    }

    /// The expansions (default [`DEFAULT_EXPAND`]); empty names are dropped, duplicates kept
    /// once.
    #[must_use]
    pub fn expand<S: AsRef<str>>(mut self, expand: impl IntoIterator<Item = S>) -> Self {
        self.expand = unique(expand);
        self
    }

    /// The URL NinjaOne posts to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The name of the secret header.
    pub fn secret_header(&self) -> &str {
        &self.header_name
    }

    /// The secret (for the scrubber of the call that sends it).
    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The body of `PUT /v2/webhook`. It holds the secret: never log it.
    pub(crate) fn body(&self) -> Value {
        json!({
            "url": self.url.as_str(),
            "activities": { "statusCode": self.status_codes },
            "expand": self.expand,
            "headers": [{ "name": self.header_name, "value": self.secret.expose() }],
        })
    }
}

fn unique<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let item = item.as_ref().trim();
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_documented_shape_and_debug_hides_the_secret() {
        let r =
            WebhookRegistration::new("https://hooks.example.com/n1", Secret::new("s3cr3t-v4lue"))
                .unwrap()
                .header_name("X-Hook-Secret")
                .unwrap()
                .status_codes(["TRIGGERED", "", "TRIGGERED", "RESET"]);
        assert_eq!(
            r.body(),
            json!({
                "url": "https://hooks.example.com/n1",
                "activities": {"statusCode": ["TRIGGERED", "RESET"]},
                "expand": ["device", "organization"],
                "headers": [{"name": "x-hook-secret", "value": "s3cr3t-v4lue"}],
            })
        );
        assert!(!format!("{r:?}").contains("s3cr3t"));
    }

    #[test]
    fn unusable_urls_secrets_and_header_names_are_refused() {
        let new = |url: &str, secret: &str| WebhookRegistration::new(url, Secret::new(secret));
        assert!(new("http://127.0.0.1:8080/hook", "s").is_ok());
        for (url, secret) in [
            ("http://hooks.example.com/hook", "s"),
            ("ftp://hooks.example.com/hook", "s"),
            ("hooks.example.com/hook", "s"),
            ("https://user:pw@hooks.example.com/hook", "s"),
            ("https://hooks.example.com/hook#x", "s"),
            ("https://hooks.example.com/hook", ""),
            ("https://hooks.example.com/hook", "line\r\nX-Injected: 1"),
        ] {
            let err = new(url, secret).unwrap_err();
            assert!(!err.to_string().contains("pw@"), "{err}");
            assert!(!err.to_string().contains("X-Injected"), "{err}");
        }
        let ok = new("https://hooks.example.com/hook", "s").unwrap();
        assert!(ok.clone().header_name("bad header").is_err());
        assert!(ok.header_name("").is_err());
    }
}
