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
///
/// Each secret is known in every form the clients put it on the wire: as it is, base64 (Basic
/// auth sends `base64(user:password)`; the clients hand the scrubber `user:password` as a secret
/// of its own), and percent-encoded as in a form body or a query (with `%20` and with `+` for
/// spaces), upper- or lowercase hex.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    /// Every form of every secret, longest first (so a longer form is replaced whole before a
    /// shorter one inside it).
    forms: Vec<String>,
}

/// The forms a secret takes on the wire.
fn wire_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut forms = vec![secret.to_owned()];
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    forms.push(form.replace('+', "%20"));
    forms.push(form.to_ascii_lowercase_hex());
    forms.push(form);
    let standard = base64::engine::general_purpose::STANDARD.encode(secret);
    forms.push(standard.trim_end_matches('=').to_owned());
    forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
    forms.extend(json_forms(secret));
    forms
}

/// The forms a secret takes inside JSON text (an error body echoing a request, or a JSON value
/// re-serialized into a message): `"`, `\` and control characters escaped, `/` escaped or not
/// (Java and PHP encoders write `\/`), and non-ASCII kept or written as `\uXXXX` in lower- or
/// uppercase hex (Python's default, and many Java encoders).
fn json_forms(secret: &str) -> Vec<String> {
    use std::fmt::Write as _;
    let quoted = serde_json::Value::from(secret).to_string();
    let escaped = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_owned();
    let mut forms = Vec::new();
    for slash in [escaped.clone(), escaped.replace('/', "\\/")] {
        let mut lower = String::with_capacity(slash.len());
        let mut upper = String::with_capacity(slash.len());
        for c in slash.chars() {
            if c.is_ascii() {
                lower.push(c);
                upper.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(lower, "\\u{unit:04x}");
                    let _ = write!(upper, "\\u{unit:04X}");
                }
            }
        }
        forms.extend([slash, lower, upper]);
    }
    forms
}

/// Lowercase hex digits in the `%XX` escapes of a percent-encoded string.
trait LowercaseHex {
    fn to_ascii_lowercase_hex(&self) -> String;
}

impl LowercaseHex for String {
    fn to_ascii_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut escape = 0;
        for c in self.chars() {
            if c == '%' {
                escape = 2;
                out.push(c);
            } else if escape > 0 {
                escape -= 1;
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

impl Scrubber {
    /// A scrubber for these secrets (empty values are ignored; very short ones too, since
    /// replacing every `a` in a message would make it unreadable without protecting anything).
    pub(crate) fn new(secrets: impl IntoIterator<Item = Secret>) -> Self {
        let mut out = Self::default();
        for secret in secrets {
            out.add(&secret);
        }
        out
    }

    fn add(&mut self, secret: &Secret) {
        if secret.expose().len() < 4 {
            return;
        }
        for form in wire_forms(secret.expose()) {
            if form.len() >= 4 && !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// Adds a secret learned later (a token, a refresh token).
    pub(crate) fn with(&self, secret: &Secret) -> Self {
        let mut out = self.clone();
        out.add(secret);
        out
    }

    /// `text` with every known secret replaced by `<redacted>`, control characters replaced by
    /// spaces and cut to at most `max` characters.
    pub(crate) fn clean(&self, text: &str, max: usize) -> String {
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), "<redacted>");
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
            .field("forms", &self.forms.len())
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
        assert!(format!("{scrub:?}").starts_with("Scrubber { forms: "));
    }

    #[test]
    fn every_wire_form_of_a_secret_is_scrubbed() {
        use base64::Engine as _;
        let secret = "p@ss word+/=&%é";
        let scrub = Scrubber::new([
            Secret::new(secret),
            Secret::new(format!("integration:{secret}")),
        ]);
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("integration:{secret}"));
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for echoed in [
            format!("Authorization: Basic {basic}"),
            format!("client_secret={form}&grant_type=password"),
            format!("password={}", form.replace('+', "%20")),
            format!("password={}", form.to_ascii_lowercase_hex()),
            format!("raw {secret} here"),
        ] {
            let clean = scrub.clean(&echoed, 500);
            assert!(clean.contains("<redacted>"), "{echoed} -> {clean}");
            assert!(!clean.contains(&basic) && !clean.contains(&form), "{clean}");
            assert!(!clean.contains("p@ss"), "{clean}");
        }
    }

    #[test]
    fn a_secret_echoed_inside_json_text_is_scrubbed_in_every_escaping() {
        // An error body that echoes a request as JSON escapes `"` and `\`, often `/` (Java and
        // PHP encoders) and non-ASCII (`\u00e9`, Python's default): the error text is that JSON.
        let secret = r#"pa"ss\w/ord-é"#;
        let scrub = Scrubber::new([Secret::new(secret)]);
        let value = serde_json::json!({ "password": secret });
        for echoed in [
            value.to_string(),
            r#"{"password":"pa\"ss\\w\/ord-\u00e9"}"#.to_owned(),
            r#"{"password":"pa\"ss\\w/ord-\u00E9"}"#.to_owned(),
            r#"{"password":"pa\"ss\\w\/ord-é"}"#.to_owned(),
        ] {
            let clean = scrub.clean(&echoed, 500);
            assert!(clean.contains("<redacted>"), "{echoed} -> {clean}");
            assert!(!clean.contains("ss\\"), "{echoed} -> {clean}");
        }
    }
}
