//! [`Secret`]: a password, client secret or token that never prints.

use std::fmt;

/// A secret value (password, client secret, access or refresh token).
///
/// `Debug` prints `Secret(<redacted>)`; there is no `Display` and no `Serialize`, so a secret
/// cannot end up in a log line, an error message or a JSON report by accident. The value is read
/// only through [`expose`](Self::expose), at the one place that puts it on the wire.
///
/// ```
/// use ninjaone_servicenow::http::Secret;
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret(<redacted>)");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for putting it on the wire. Never log or format it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (an unset environment variable, for example).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Removes known secret values from text that came from a server (an error body that echoes a
/// request, say) before it goes into an error message.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<Secret>,
}

impl Scrubber {
    /// A scrubber for these secrets (empty values are ignored; very short ones too, since
    /// replacing every `a` in a message would make it unreadable without protecting anything).
    pub(crate) fn new(secrets: impl IntoIterator<Item = Secret>) -> Self {
        Self {
            secrets: secrets
                .into_iter()
                .filter(|s| s.expose().len() >= 4)
                .collect(),
        }
    }

    /// Adds a secret learned later (a token).
    pub(crate) fn with(&self, secret: &Secret) -> Self {
        let mut out = self.clone();
        if secret.expose().len() >= 4 {
            out.secrets.push(secret.clone());
        }
        out
    }

    /// `text` with every known secret replaced by `<redacted>`, control characters replaced by
    /// spaces and cut to at most `max` characters.
    pub(crate) fn clean(&self, text: &str, max: usize) -> String {
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        for secret in &self.secrets {
            if out.contains(secret.expose()) {
                out = out.replace(secret.expose(), "<redacted>");
            }
        }
        let trimmed = out.trim();
        if trimmed.chars().count() > max {
            let cut: String = trimmed.chars().take(max).collect();
            format!("{cut}…")
        } else {
            trimmed.to_owned()
        }
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::from("very-secret-value".to_owned());
        assert!(!format!("{s:?}").contains("very-secret"));
        assert!(!format!("{:?}", Some(&s)).contains("very-secret"));
    }

    #[test]
    fn scrubber_removes_secrets_and_control_characters_and_cuts() {
        let scrub = Scrubber::new([Secret::new("s3cr3t-pass"), Secret::new("")]);
        let scrub = scrub.with(&Secret::new("tok-123456"));
        let text = "bad password s3cr3t-pass\nfor token tok-123456";
        let clean = scrub.clean(text, 200);
        assert!(!clean.contains("s3cr3t"));
        assert!(!clean.contains("tok-123456"));
        assert!(!clean.contains('\n'));
        assert_eq!(scrub.clean("abcdef", 3), "abc…");
        assert_eq!(format!("{scrub:?}"), "Scrubber { secrets: 2 }");
    }
}
