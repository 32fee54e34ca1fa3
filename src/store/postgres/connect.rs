//! How [`PostgresStore`](super::PostgresStore) connects: the reading of the URL (libpq's
//! `sslmode=verify-full` and `sslrootcert=` included), the TLS decision and the rustls connector.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio_postgres::Config;
use tokio_postgres::config::{ChannelBinding, Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::options::{PlainTcp, PostgresOptions, read_ca_file};
use crate::ports::{StoreError, StoreErrorKind};

/// What a URL asks for besides what tokio-postgres reads: libpq's `sslrootcert`, and whether
/// its `sslmode` was one of the verifying modes (read as `require`: verification is always
/// full here).
#[derive(Debug, Default)]
struct Extras {
    root_cert: Option<PathBuf>,
}

/// Removes `sslrootcert` from `url` and rewrites `sslmode=verify-ca|verify-full` as
/// `require`, in the URL form (`postgres://…?…`) and in the key=value form (unquoted values).
fn strip_extras(url: &str) -> (String, Extras) {
    let mut extras = Extras::default();
    let trimmed = url.trim();
    let rewrite = |key: &str, value: &str, extras: &mut Extras| -> Option<(String, String)> {
        match key {
            "sslrootcert" => {
                extras.root_cert = Some(PathBuf::from(value));
                None
            }
            "sslmode" if matches!(value, "verify-ca" | "verify-full") => {
                Some((key.to_owned(), "require".to_owned()))
            }
            _ => Some((key.to_owned(), value.to_owned())),
        }
    };
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        let Some((base, query)) = trimmed.split_once('?') else {
            return (trimmed.to_owned(), extras);
        };
        // Read as percent-encoding only: `+` is a plus to tokio-postgres and libpq, where
        // form decoding would turn a password's `+` into a space.
        let query = query.replace('+', "%2B");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .filter_map(|(k, v)| rewrite(&k, &v, &mut extras))
            .collect();
        if pairs.is_empty() {
            return (base.to_owned(), extras);
        }
        // Percent-encoded with spaces as %20: tokio-postgres does not read `+` as a space.
        let encode = |s: &str| {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .map(|piece| if piece == "+" { "%20" } else { piece })
                .collect::<String>()
        };
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        return (format!("{base}?{query}"), extras);
    }
    if trimmed.contains(['\'', '"', '\\']) {
        // Quoted values: left to tokio-postgres as they are.
        return (trimmed.to_owned(), extras);
    }
    let words: Vec<String> = trimmed
        .split_whitespace()
        .filter_map(|word| match word.split_once('=') {
            Some((k, v)) => rewrite(k, v, &mut extras).map(|(k, v)| format!("{k}={v}")),
            None => Some(word.to_owned()),
        })
        .collect();
    (words.join(" "), extras)
}

/// Whether every host of `config` is a Unix socket or a loopback address/name.
fn all_local(config: &Config) -> bool {
    let addrs_local = config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    let hosts = config.get_hosts();
    let hosts_local = hosts.iter().all(|host| match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    });
    // No host at all: tokio-postgres refuses that itself.
    addrs_local && hosts_local
}

/// How the connections are opened: the tokio-postgres config and, when TLS is on, the
/// connector.
pub(super) struct Connector {
    pub(super) config: Config,
    pub(super) tls: Option<MakeRustlsConnect>,
    pub(super) connect_timeout: Duration,
}

impl Connector {
    /// Whether the connections use TLS.
    pub(super) fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// Reads `url` under `options` into a [`Connector`].
pub(super) fn connector(url: &str, options: &PostgresOptions) -> Result<Connector, StoreError> {
    let (cleaned, extras) = strip_extras(url);
    let mut config: Config = cleaned.parse().map_err(|err| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!(
                "the PostgreSQL URL cannot be parsed ({err}); expected \
                 postgres://user:password@host:port/database?sslmode=verify-full (the URL is not \
                 shown: it may hold a password)"
            ),
        )
    })?;
    let local = all_local(&config);
    let tls = match config.get_ssl_mode() {
        SslMode::Disable if !local && options.plain_tcp != PlainTcp::Anywhere => {
            return Err(StoreError::new(
                StoreErrorKind::Invalid,
                format!(
                    "plain TCP to {} refused: sslmode=disable is allowed only for loopback hosts \
                     and Unix sockets, since anyone on the path could read the password exchange \
                     and every row; remove sslmode=disable (TLS is the default there), or opt in \
                     with PostgresOptionsBuilder::plain_tcp(PlainTcp::Anywhere) on a network you trust \
                     end to end",
                    describe(&config)
                ),
            ));
        }
        SslMode::Disable => false,
        // libpq's `prefer` falls back to plain text whenever TLS fails: a downgrade an on-path
        // attacker chooses. Here it is plain on loopback, TLS required elsewhere.
        SslMode::Prefer => !local,
        _ => true,
    };
    config.connect_timeout(options.connect_timeout);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    config.keepalives_interval(Duration::from_secs(10));
    config.keepalives_retries(3);
    if config.get_application_name().is_none() {
        config.application_name("ninjaone-servicenow");
    }
    let timeouts = format!(
        "-c statement_timeout={} -c lock_timeout={}",
        millis(options.statement_timeout),
        millis(options.lock_timeout)
    );
    let startup = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {timeouts}"),
        _ => timeouts,
    };
    config.options(startup);
    let tls = if tls {
        config.ssl_mode(SslMode::Require);
        config.channel_binding(ChannelBinding::Require);
        let mut roots = options.roots.clone();
        if let Some(path) = &extras.root_cert {
            roots.extend(read_ca_file(path)?);
        }
        Some(rustls_connector(&roots)?)
    } else {
        config.ssl_mode(SslMode::Disable);
        None
    };
    Ok(Connector {
        config,
        tls,
        connect_timeout: options.connect_timeout,
    })
}

/// A rustls connector (ring) trusting `roots`, or the Mozilla roots when there are none.
fn rustls_connector(roots: &[CertificateDer<'static>]) -> Result<MakeRustlsConnect, StoreError> {
    let mut store = rustls::RootCertStore::empty();
    if roots.is_empty() {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        for root in roots {
            store.add(root.clone()).map_err(|err| {
                StoreError::new(
                    StoreErrorKind::Invalid,
                    format!(
                        "a PostgreSQL CA certificate cannot be used as a trust anchor ({err}); \
                         give the CA's certificate, not the server's"
                    ),
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| {
            StoreError::new(
                StoreErrorKind::Invalid,
                format!("TLS for PostgreSQL cannot be set up: {err}"),
            )
        })?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `host:port/database as user`, without the password.
pub(super) fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}:{}/{} as {}",
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(default database)"),
        config.get_user().unwrap_or("(default user)")
    )
}

#[cfg(test)]
mod tests;
