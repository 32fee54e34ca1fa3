//! Origins: region keys, ServiceNow instance names, and the rules every origin must pass
//! before a client exists (https, or http on loopback only; no user info, path, query or
//! fragment), plus the optional host allow-list.

use std::fmt;

use url::{Host, Url};

use super::error::{ConfigError, prefix};

/// NinjaOne's regional instances: key → host.
pub(crate) const NINJAONE_REGIONS: [(&str, &str); 7] = [
    ("us", "app.ninjarmm.com"),
    ("app", "app.ninjarmm.com"),
    ("eu", "eu.ninjarmm.com"),
    ("oc", "oc.ninjarmm.com"),
    ("ca", "ca.ninjarmm.com"),
    ("us2", "us2.ninjarmm.com"),
    ("fed", "fed.ninjarmm.com"),
];

/// The domain a bare ServiceNow instance name expands into.
pub(crate) const SERVICENOW_DOMAIN: &str = "service-now.com";

/// An origin input described without user info, path or query, for error messages.
fn describe(input: &str) -> String {
    let input = input.trim();
    if let Ok(url) = Url::parse(input) {
        let host = url.host_str().unwrap_or("");
        return match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
    }
    // Not a URL: drop anything up to an `@` (it could be `user:password@`) and cut it short.
    let after_at = input.rsplit('@').next().unwrap_or("");
    let cut = after_at.split(['/', '?', '#']).next().unwrap_or(after_at);
    format!("{:?}", prefix(cut, 60))
}

fn refused(input: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::OriginRefused {
        origin: describe(input),
        reason: reason.into(),
    }
}

/// Whether `host` is a loopback host: 127.0.0.0/8, `::1` or `localhost`.
pub(crate) fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Parses and checks an origin: `https://host[:port]` (a trailing `/` is fine), or `http://` on a
/// loopback host. User info, paths, queries and fragments are refused.
pub(crate) fn parse_origin(input: &str) -> Result<Url, ConfigError> {
    let trimmed = input.trim();
    let url = Url::parse(trimmed).map_err(|e| {
        refused(
            input,
            format!("not a URL ({e}); write it as https://host or https://host:port"),
        )
    })?;
    let Some(host) = url.host() else {
        return Err(refused(input, "it has no host; write it as https://host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(refused(
                input,
                "plain http is allowed only on loopback hosts (127.0.0.0/8, ::1, localhost) for \
                 local testing; use https",
            ));
        }
        other => {
            return Err(refused(
                input,
                format!("scheme {other:?} is not supported; use https"),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(
            input,
            "it carries user info (user:password@); give credentials separately, never in the \
             origin",
        ));
    }
    if url.path() != "/" && !url.path().is_empty() {
        return Err(refused(
            input,
            "it has a path; give only the origin (scheme, host and port), the client adds the \
             API paths itself",
        ));
    }
    if url.query().is_some() {
        return Err(refused(input, "it has a query (?...); remove it"));
    }
    if url.fragment().is_some() {
        return Err(refused(input, "it has a fragment (#...); remove it"));
    }
    let mut origin = url;
    origin.set_path("/");
    Ok(origin)
}

/// The NinjaOne origin for a region key (`us`/`app`, `eu`, `oc`, `ca`, `us2`, `fed`) or an
/// explicit origin.
pub(crate) fn ninjaone_origin(base: &str) -> Result<Url, ConfigError> {
    let key = base.trim().to_ascii_lowercase();
    if let Some((_, host)) = NINJAONE_REGIONS.iter().find(|(k, _)| *k == key) {
        return parse_origin(&format!("https://{host}"));
    }
    if base.contains("://") {
        return parse_origin(base);
    }
    Err(refused(
        base,
        "neither a region key (us, app, eu, oc, ca, us2, fed) nor an origin such as \
         https://eu.ninjarmm.com",
    ))
}

/// Checks a bare ServiceNow instance name and lowercases it.
fn instance_name(name: &str) -> Result<String, ConfigError> {
    if name.contains('@') {
        // `user:password@acme`: the part before the `@` may be a password; quote none of it.
        let after_at = name.rsplit('@').next().unwrap_or("");
        return Err(ConfigError::InstanceName {
            name: format!("<user info>@{}", prefix(after_at, 60)),
            reason: "it carries user info (user:password@); give credentials separately, never \
                     in the instance",
        });
    }
    let err = |reason| ConfigError::InstanceName {
        name: prefix(name, 60),
        reason,
    };
    let lower = name.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return Err(err("it is empty"));
    }
    if lower.len() > 63 {
        return Err(err("it is longer than 63 characters"));
    }
    if lower.contains('.') {
        return Err(err(
            "it contains a dot: a host name needs a scheme, as in https://HOST",
        ));
    }
    if !lower
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(err("only letters, digits and - are allowed"));
    }
    if lower.starts_with('-') || lower.ends_with('-') {
        return Err(err("it may not start or end with -"));
    }
    Ok(lower)
}

/// The ServiceNow origin for a bare instance name (`acme` → `https://acme.service-now.com`) or
/// an explicit origin (custom domains are legitimate).
pub(crate) fn servicenow_origin(instance: &str) -> Result<Url, ConfigError> {
    if instance.contains("://") {
        return parse_origin(instance);
    }
    let name = instance_name(instance)?;
    parse_origin(&format!("https://{name}.{SERVICENOW_DOMAIN}"))
}

/// One entry of a host allow-list.
#[derive(Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host.
    Exact(String),
    /// Any host under this domain (`*.service-now.com`), matched on a label boundary; not the
    /// domain itself.
    Below(String),
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(h) => f.write_str(h),
            Self::Below(d) => write!(f, "*.{d}"),
        }
    }
}

/// A host allow-list: exact hosts or `*.suffix` wildcards matched on label boundaries, so
/// `*.service-now.com` admits `acme.service-now.com` but neither `evilservice-now.com` nor
/// `service-now.com.evil.com`.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowedHosts(Vec<HostPattern>);

/// Lowercases a host and drops one trailing dot.
fn normal_host(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    lower.strip_suffix('.').unwrap_or(&lower).to_owned()
}

impl AllowedHosts {
    /// Parses the entries.
    pub(crate) fn parse(entries: impl IntoIterator<Item = String>) -> Result<Self, ConfigError> {
        let mut patterns = Vec::new();
        for entry in entries {
            let err = |reason| ConfigError::AllowedHost {
                entry: prefix(&entry, 60),
                reason,
            };
            let raw = entry.trim();
            let (wildcard, host) = match raw.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            if host.is_empty() {
                return Err(err("it is empty"));
            }
            if host.contains(['*', '/', '@', ':', '?', '#']) && !host.starts_with('[') {
                return Err(err(
                    "only a host name is allowed, with at most one leading *.",
                ));
            }
            let parsed = Host::parse(host).map_err(|_| err("not a valid host name"))?;
            let normal = normal_host(&parsed.to_string());
            if wildcard {
                if !matches!(parsed, Host::Domain(_)) {
                    return Err(err("a wildcard needs a domain, not an IP address"));
                }
                if !normal.contains('.') {
                    return Err(err(
                        "a wildcard must cover a domain of at least two labels (*.example.com)",
                    ));
                }
                patterns.push(HostPattern::Below(normal));
            } else {
                patterns.push(HostPattern::Exact(normal));
            }
        }
        Ok(Self(patterns))
    }

    /// Whether the list is empty (no restriction).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `host` is allowed.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.0.iter().any(|p| match p {
            HostPattern::Exact(h) => *h == host,
            HostPattern::Below(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        })
    }

    /// Checks an origin against the list; an empty list allows everything.
    pub(crate) fn check(&self, origin: &Url) -> Result<(), ConfigError> {
        if self.is_empty() {
            return Ok(());
        }
        let host = origin.host_str().unwrap_or("");
        if self.allows(host) {
            Ok(())
        } else {
            Err(ConfigError::HostNotAllowed {
                host: host.to_owned(),
                allowed: self.to_string(),
            })
        }
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AllowedHosts[{self}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_https_or_loopback_http() {
        for ok in [
            "https://acme.service-now.com",
            "https://acme.service-now.com/",
            "https://example.org:8443",
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://localhost:3000/",
            "http://[::1]:9000",
        ] {
            let url = parse_origin(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(url.path(), "/");
        }
        for bad in [
            "http://example.org",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://128.0.0.1",
            "ftp://example.org",
            "https://user:pw@example.org",
            "https://user@example.org",
            "https://example.org/api",
            "https://example.org/?x=1",
            "https://example.org/#frag",
            "https://example.org?",
            "example.org",
            "",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn refusals_never_echo_user_info() {
        let err = parse_origin("https://admin:hunter2@example.org/x").unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("admin"),
            "{text}"
        );
        let err = ninjaone_origin("admin:hunter2@example.org").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn region_keys_expand() {
        assert_eq!(
            ninjaone_origin("us").unwrap().as_str(),
            "https://app.ninjarmm.com/"
        );
        assert_eq!(
            ninjaone_origin("EU").unwrap().as_str(),
            "https://eu.ninjarmm.com/"
        );
        assert_eq!(
            ninjaone_origin("fed").unwrap().as_str(),
            "https://fed.ninjarmm.com/"
        );
        assert!(ninjaone_origin("mars").is_err());
        assert_eq!(
            ninjaone_origin("http://127.0.0.1:9").unwrap().as_str(),
            "http://127.0.0.1:9/"
        );
    }

    #[test]
    fn instance_names_expand_and_look_alikes_fail() {
        assert_eq!(
            servicenow_origin("acme-dev01").unwrap().as_str(),
            "https://acme-dev01.service-now.com/"
        );
        for bad in [
            "evil.com",
            "acme.service-now.com",
            "acme.service-now.com.evil.com",
            "evilservice-now.com",
            "acme/x",
            "acme@evil",
            "-acme",
            "acme_1",
            "",
        ] {
            assert!(servicenow_origin(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn allow_list_matches_on_label_boundaries() {
        let list = AllowedHosts::parse([
            "*.service-now.com".to_owned(),
            "itsm.example.org".to_owned(),
        ])
        .unwrap();
        assert!(list.allows("acme.service-now.com"));
        assert!(list.allows("ACME.Service-Now.com."));
        assert!(list.allows("itsm.example.org"));
        for bad in [
            "service-now.com",
            "evilservice-now.com",
            "service-now.com.evil.com",
            "acme.service-now.com.evil.com",
            "xitsm.example.org",
            "itsm.example.org.evil.com",
        ] {
            assert!(!list.allows(bad), "{bad} was allowed");
        }
        for bad in [
            "*",
            "*.com",
            "a.*.com",
            "",
            "*.",
            "https://x.com",
            "1.2.3.4/8",
        ] {
            assert!(
                AllowedHosts::parse([bad.to_owned()]).is_err(),
                "{bad} parsed"
            );
        }
        let origin = servicenow_origin("evil").unwrap();
        assert!(
            AllowedHosts::parse(["*.service-now.com".to_owned()])
                .unwrap()
                .check(&origin)
                .is_ok()
        );
        let err = AllowedHosts::parse(["itsm.example.org".to_owned()])
            .unwrap()
            .check(&origin)
            .unwrap_err();
        assert!(err.to_string().contains("evil.service-now.com"), "{err}");
    }
}
