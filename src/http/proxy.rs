//! [`ProxyPolicy`]: which HTTP proxy the clients use — the environment's, none, or a given one —
//! and the rule that a loopback origin never goes through any.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use super::error::ConfigError;
use super::origin::is_loopback;
use super::secret::Secret;

/// Which proxy the clients send their requests through.
///
/// - [`from_environment`](Self::from_environment) (the default): `HTTPS_PROXY` (or
///   `https_proxy`), else `ALL_PROXY` (or `all_proxy`), unless `NO_PROXY` (or `no_proxy`)
///   names the origin's host (`*`, a host, a domain suffix such as `.corp.example` or
///   `corp.example`, an IP address or a CIDR block; `host:port` or `[v6]:port` names that
///   port only). Origins are https (plain http only on
///   loopback), so `HTTP_PROXY` is never used.
/// - [`none`](Self::none): direct connections, whatever the environment says.
/// - [`url`](Self::url): this proxy for every request.
///
/// Whatever the policy, an origin on a loopback host (127.0.0.0/8, `::1`, `localhost`) is
/// always reached directly: a proxy elsewhere cannot reach this machine's loopback, and would
/// see the credentials of a plain-http test origin in clear. The proxy a client uses is logged
/// once, at `info`, when the client is built — without the proxy's user info.
///
/// ```
/// use ninjaone_servicenow::http::{HttpOptions, ProxyPolicy};
/// let direct = HttpOptions::builder().proxy(ProxyPolicy::none()).build();
/// let corporate = HttpOptions::builder().proxy(ProxyPolicy::url("http://proxy.corp.example:3128")?).build();
/// assert!(ProxyPolicy::url("ftp://proxy.corp.example").is_err());
/// # let _ = (direct, corporate);
/// # Ok::<(), ninjaone_servicenow::http::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct ProxyPolicy(Policy);

#[derive(Clone, Default)]
enum Policy {
    #[default]
    Environment,
    None,
    Given(ProxyUrl),
}

/// A proxy URL whose user info (if any) is kept as a secret and never shown.
#[derive(Clone)]
pub(crate) struct ProxyUrl {
    url: Url,
}

impl ProxyUrl {
    /// Parses a proxy URL; a bare `host:port` is read as `http://host:port`, as curl does.
    fn parse(input: &str, from: &str) -> Result<Self, ConfigError> {
        let trimmed = input.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let refused = |reason: &str| ConfigError::Proxy {
            from: from.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(&with_scheme)
            .map_err(|_| refused("not a URL; write it as http://host:port"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused(
                "only http:// and https:// proxies are supported (no SOCKS)",
            ));
        }
        if url.host().is_none() {
            return Err(refused("it has no host; write it as http://host:port"));
        }
        Ok(Self { url })
    }

    /// The URL for reqwest, user info included.
    pub(crate) fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The user info's password, and `user:password` as Proxy-Authorization sends it, for the
    /// scrubber; with no password, the user name (a proxy token given as `http://TOKEN@host`)
    /// and `user:`.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let user = percent_decode(self.url.username()).unwrap_or_default();
        let Some(password) = self.url.password() else {
            if user.is_empty() {
                return Vec::new();
            }
            return vec![Secret::new(format!("{user}:")), Secret::new(user)];
        };
        let password = percent_decode(password).unwrap_or_else(|| password.to_owned());
        vec![
            Secret::new(format!("{user}:{password}")),
            Secret::new(password),
        ]
    }

    /// `scheme://host:port`, without user info, path or query: what may be logged.
    pub(crate) fn shown(&self) -> String {
        let host = self.url.host_str().unwrap_or("");
        match self.url.port_or_known_default() {
            Some(port) => format!("{}://{host}:{port}", self.url.scheme()),
            None => format!("{}://{host}", self.url.scheme()),
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

impl ProxyPolicy {
    /// The proxy the environment names (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`; see above).
    #[must_use]
    pub fn from_environment() -> Self {
        Self(Policy::Environment)
    }

    /// No proxy, whatever the environment says.
    #[must_use]
    pub fn none() -> Self {
        Self(Policy::None)
    }

    /// Every request through the proxy at `url` (`http://host:port` or `https://host:port`; a
    /// bare `host:port` means http). User info in it (`http://user:password@host:port`) is sent
    /// to the proxy and never shown.
    ///
    /// # Errors
    /// [`ConfigError::Proxy`] for a URL that is not an http(s) proxy URL.
    pub fn url(url: &str) -> Result<Self, ConfigError> {
        ProxyUrl::parse(url, "the configured proxy").map(|u| Self(Policy::Given(u)))
    }

    /// The proxy for `origin`, given the environment `var`: the proxy and where it came from,
    /// or `None` for a direct connection.
    pub(crate) fn choose(
        &self,
        origin: &Url,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<(ProxyUrl, &'static str)>, ConfigError> {
        if origin.host().is_some_and(|h| is_loopback(&h)) {
            return Ok(None);
        }
        match &self.0 {
            Policy::None => Ok(None),
            Policy::Given(url) => Ok(Some((url.clone(), "HttpOptionsBuilder::proxy"))),
            Policy::Environment => {
                let get = |upper: &'static str, lower: &'static str| {
                    var(upper)
                        .map(|v| (v, upper))
                        .or_else(|| var(lower).map(|v| (v, lower)))
                        .filter(|(v, _)| !v.trim().is_empty())
                };
                let no_proxy = get("NO_PROXY", "no_proxy").map(|(v, _)| v);
                if let (Some(list), Some(host)) = (no_proxy, origin.host())
                    && excluded(&list, &host, origin.port_or_known_default())
                {
                    return Ok(None);
                }
                let found = match origin.scheme() {
                    "https" => get("HTTPS_PROXY", "https_proxy"),
                    _ => None,
                }
                .or_else(|| get("ALL_PROXY", "all_proxy"));
                match found {
                    None => Ok(None),
                    Some((value, name)) => Ok(Some((ProxyUrl::parse(&value, name)?, name))),
                }
            }
        }
    }
}

/// Whether a `NO_PROXY` list names `host` (reached on `port`). An entry may carry a port
/// (`host:443`, `[fd00::1]:8443`): it then names that port only; a port that is not a number
/// names nothing. Trailing dots (fully qualified names) are ignored on both sides.
fn excluded(list: &str, host: &Host<&str>, port: Option<u16>) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let Some((entry, entry_port)) = split_port(entry) else {
                return false;
            };
            if entry_port.is_some() && entry_port != port {
                return false;
            }
            match host {
                Host::Domain(name) => {
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    let entry = entry.trim_start_matches("*.").trim_start_matches('.');
                    let entry = entry.trim_end_matches('.').to_ascii_lowercase();
                    !entry.is_empty() && (name == entry || name.ends_with(&format!(".{entry}")))
                }
                Host::Ipv4(ip) => ip_matches(entry, IpAddr::V4(*ip)),
                Host::Ipv6(ip) => ip_matches(entry, IpAddr::V6(*ip)),
            }
        })
}

/// A `NO_PROXY` entry as its host part and its port, if it has one: `host:port`,
/// `[v6]:port`, or no port (`host`, `[v6]`, a bare IPv6 address or CIDR block). `None` when the
/// port is not a number.
fn split_port(entry: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((inside, after)) = rest.split_once(']')
    {
        return match after.strip_prefix(':') {
            Some(port) => port.parse().ok().map(|p| (inside, Some(p))),
            None if after.is_empty() => Some((inside, None)),
            None => None,
        };
    }
    match entry.split_once(':') {
        // One colon: `host:port`. More: a bare IPv6 address or block, which has no port.
        Some((host, port)) if !port.contains(':') => port.parse().ok().map(|p| (host, Some(p))),
        _ => Some((entry, None)),
    }
}

/// Whether `entry` (an address or a CIDR block) holds `ip`.
fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim_start_matches('[').trim_end_matches(']');
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(bits) => (a, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (addr, ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            prefix(u128::from(a.to_bits()), u128::from(b.to_bits()), 32, bits)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix(a.to_bits(), b.to_bits(), 128, bits),
        _ => false,
    }
}

fn prefix(a: u128, b: u128, width: u32, bits: Option<u32>) -> bool {
    let bits = bits.unwrap_or(width).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

impl fmt::Debug for ProxyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Policy::Environment => f.write_str("ProxyPolicy::FromEnvironment"),
            Policy::None => f.write_str("ProxyPolicy::None"),
            Policy::Given(url) => write!(f, "ProxyPolicy::Url({})", url.shown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn chosen(policy: &ProxyPolicy, origin: &str, vars: &[(&str, &str)]) -> Option<String> {
        policy
            .choose(&Url::parse(origin).unwrap(), env(vars))
            .unwrap()
            .map(|(url, from)| format!("{} from {from}", url.shown()))
    }

    const EVERY_PROXY: &[(&str, &str)] = &[
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("http_proxy", "http://127.0.0.1:9"),
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ("https_proxy", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
        ("all_proxy", "http://127.0.0.1:9"),
    ];

    #[test]
    fn a_loopback_origin_never_goes_through_a_proxy_whatever_the_policy() {
        let given = ProxyPolicy::url("http://proxy.example:3128").unwrap();
        for policy in [ProxyPolicy::from_environment(), ProxyPolicy::none(), given] {
            for origin in [
                "http://127.0.0.1:8080",
                "http://localhost:1",
                "http://[::1]:2",
                "https://127.5.5.5",
            ] {
                assert_eq!(
                    chosen(&policy, origin, EVERY_PROXY),
                    None,
                    "{origin} {policy:?}"
                );
            }
        }
    }

    #[test]
    fn the_environment_names_the_https_proxy_unless_no_proxy_excludes_the_host() {
        let p = ProxyPolicy::from_environment();
        let origin = "https://acme.service-now.com";
        assert_eq!(chosen(&p, origin, &[]), None);
        assert_eq!(
            chosen(&p, origin, &[("HTTP_PROXY", "http://proxy:1")]),
            None,
            "HTTP_PROXY is for http origins, and those are loopback only"
        );
        assert_eq!(
            chosen(&p, origin, &[("https_proxy", "proxy.corp:3128")]).as_deref(),
            Some("http://proxy.corp:3128 from https_proxy")
        );
        assert_eq!(
            chosen(
                &p,
                origin,
                &[
                    ("ALL_PROXY", "http://all:1"),
                    ("HTTPS_PROXY", "http://u:pw@secure:2")
                ]
            )
            .as_deref(),
            Some("http://secure:2 from HTTPS_PROXY")
        );
        assert_eq!(
            chosen(&p, origin, &[("all_proxy", "http://all:1")]).as_deref(),
            Some("http://all:1 from all_proxy")
        );
        for no_proxy in [
            "*",
            "service-now.com",
            ".service-now.com",
            "x.org, acme.service-now.com",
        ] {
            assert_eq!(
                chosen(
                    &p,
                    origin,
                    &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no_proxy)]
                ),
                None,
                "{no_proxy}"
            );
        }
        assert!(
            chosen(
                &p,
                origin,
                &[
                    ("HTTPS_PROXY", "http://p:1"),
                    ("no_proxy", "evilservice-now.com,now.com.x")
                ]
            )
            .is_some()
        );
        let ip = "https://10.1.2.3";
        assert_eq!(
            chosen(
                &p,
                ip,
                &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "10.0.0.0/8")]
            ),
            None
        );
        assert!(
            chosen(
                &p,
                ip,
                &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "10.1.2.4")]
            )
            .is_some()
        );
    }

    #[test]
    fn no_proxy_entries_with_a_port_or_a_trailing_dot_exclude_their_host() {
        let p = ProxyPolicy::from_environment();
        let direct = |origin: &str, no_proxy: &str| {
            chosen(
                &p,
                origin,
                &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no_proxy)],
            )
            .is_none()
        };
        // `host:port` (as Go, Python and curl's users write it) excludes that port only.
        assert!(direct(
            "https://acme.service-now.com",
            "acme.service-now.com:443"
        ));
        assert!(direct(
            "https://acme.service-now.com",
            ".service-now.com:443"
        ));
        assert!(!direct(
            "https://acme.service-now.com",
            "acme.service-now.com:8443"
        ));
        assert!(direct("https://10.1.2.3:8443", "10.1.2.3:8443"));
        assert!(!direct("https://10.1.2.3", "10.1.2.3:8443"));
        assert!(direct("https://[fd00::5]:8443", "[fd00::5]:8443"));
        assert!(direct("https://[fd00::5]", "[fd00::5]"));
        assert!(direct("https://[fd00::5]", "fd00::/8"));
        assert!(!direct("https://[fd00::5]:8443", "[fd00::5]:443"));
        // A fully qualified name (trailing dot) is the same host.
        assert!(direct("https://acme.service-now.com.", "service-now.com"));
        assert!(direct(
            "https://acme.service-now.com",
            "acme.service-now.com."
        ));
        // A port that is not a number matches nothing rather than everything.
        assert!(!direct(
            "https://acme.service-now.com",
            "acme.service-now.com:x"
        ));
    }

    #[test]
    fn none_and_a_given_url_ignore_the_environment() {
        let origin = "https://eu.ninjarmm.com";
        assert_eq!(chosen(&ProxyPolicy::none(), origin, EVERY_PROXY), None);
        let given = ProxyPolicy::url("https://user:p%40ss@proxy.example:8443").unwrap();
        assert_eq!(
            chosen(&given, origin, &[("NO_PROXY", "*")]).as_deref(),
            Some("https://proxy.example:8443 from HttpOptionsBuilder::proxy")
        );
        let Policy::Given(url) = &given.0 else {
            panic!("a given proxy")
        };
        let secrets: Vec<String> = url
            .secrets()
            .iter()
            .map(|s| s.expose().to_owned())
            .collect();
        assert_eq!(secrets, ["user:p@ss", "p@ss"]);
        assert!(!format!("{given:?}").contains("p%40ss"));
    }

    #[test]
    fn a_proxy_token_given_as_the_user_alone_is_a_secret_too() {
        // `http://TOKEN@proxy:3128`: the user name is the credential (Proxy-Authorization
        // sends base64("TOKEN:")).
        let Policy::Given(url) = ProxyPolicy::url("http://tok%2Fen-123@proxy:3128")
            .unwrap()
            .0
        else {
            panic!("a given proxy")
        };
        let secrets: Vec<String> = url
            .secrets()
            .iter()
            .map(|s| s.expose().to_owned())
            .collect();
        assert_eq!(secrets, ["tok/en-123:", "tok/en-123"]);
        assert_eq!(url.shown(), "http://proxy:3128");
    }

    #[test]
    fn unusable_proxy_urls_are_refused_naming_the_variable_not_the_credentials() {
        let err = ProxyPolicy::from_environment()
            .choose(
                &Url::parse("https://eu.ninjarmm.com").unwrap(),
                env(&[("HTTPS_PROXY", "socks5://user:hunter2@proxy:1080")]),
            )
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(
            text.contains("HTTPS_PROXY") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(ProxyPolicy::url("http://").is_err());
    }
}
