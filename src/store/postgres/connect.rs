//! How [`PostgresStore`](super::PostgresStore) connects: [`PostgresOptions`] (pool size,
//! connect, statement and lock timeouts, the CA, the plain-TCP policy), the reading of the URL
//! (libpq's `sslmode=verify-full` and `sslrootcert=` included) and the rustls connector.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::Config;
use tokio_postgres::config::{ChannelBinding, Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::ports::{StoreError, StoreErrorKind};

/// Connections a store (and the tenants derived from it) opens at most, by default.
const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// Whether [`PostgresStore`](super::PostgresStore) may talk to PostgreSQL over plain TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PlainTcp {
    /// Plain TCP only to loopback hosts (127.0.0.0/8, `::1`, `localhost`) and Unix sockets;
    /// any other host gets TLS, verified, or no connection (the default).
    #[default]
    LoopbackOnly,
    /// Also to other hosts, when the URL says `sslmode=disable`: for a network the host trusts
    /// end to end (a private link, a sidecar proxy that does TLS itself). An on-path attacker
    /// can read and change everything, the password exchange included.
    Anywhere,
}

/// How [`PostgresStore`](super::PostgresStore) connects.
///
/// Defaults: 8 connections; 10 s to connect (TCP, TLS and authentication); statements
/// cancelled by the server after 30 s (`statement_timeout`); lock waits, advisory locks
/// included, given up after 10 s (`lock_timeout`); TCP keepalives after 30 s idle; the bundled
/// Mozilla roots; plain TCP to loopback hosts and Unix sockets only.
///
/// # TLS
/// The URL's `sslmode` decides, with these rules on top of libpq's:
///
/// | `sslmode` | loopback host or Unix socket | any other host |
/// | --- | --- | --- |
/// | absent or `prefer` | plain | TLS required |
/// | `require`, `verify-ca`, `verify-full` | TLS required | TLS required |
/// | `disable` | plain | refused, unless [`PlainTcp::Anywhere`] |
///
/// TLS always verifies like libpq's `verify-full`: the server's certificate must chain to a
/// trusted root **and** name the host of the URL (a DNS name or an IP address in its subject
/// alternative names). Trusted roots are the bundled Mozilla roots, or, when a CA is given
/// (`sslrootcert=/path/ca.pem` in the URL, [`ca_file`](PostgresOptionsBuilder::ca_file) or
/// [`root_certificate_pem`](PostgresOptionsBuilder::root_certificate_pem)), only those CAs. With TLS on,
/// SCRAM channel binding is required (`channel_binding=require`): the server must
/// authenticate with `scram-sha-256`, and a relay between two TLS sessions is detected.
///
/// ```
/// use std::time::Duration;
/// use ninjaone_servicenow::store::{PlainTcp, PostgresOptions};
/// let options = PostgresOptions::builder()
///     .max_connections(4)
///     .statement_timeout(Duration::from_secs(60))
///     .plain_tcp(PlainTcp::LoopbackOnly)
///     .build();
/// assert_eq!(options.statement_timeout(), Duration::from_secs(60));
/// assert!(PostgresOptions::builder().root_certificate_pem(b"not a certificate").is_err());
/// ```
#[derive(Clone)]
pub struct PostgresOptions {
    pub(super) max_connections: usize,
    connect_timeout: Duration,
    statement_timeout: Duration,
    lock_timeout: Duration,
    roots: Vec<CertificateDer<'static>>,
    plain_tcp: PlainTcp,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(10),
            roots: Vec::new(),
            plain_tcp: PlainTcp::LoopbackOnly,
        }
    }
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("ca_certificates", &self.roots.len())
            .field("plain_tcp", &self.plain_tcp)
            .finish()
    }
}

/// At least one millisecond, at most what PostgreSQL's millisecond settings hold.
fn clamp(d: Duration) -> Duration {
    d.clamp(
        Duration::from_millis(1),
        Duration::from_millis(i32::MAX.unsigned_abs().into()),
    )
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

impl PostgresOptions {
    /// The connect timeout.
    #[must_use]
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The statement timeout.
    #[must_use]
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// The lock timeout.
    #[must_use]
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The most connections opened.
    #[must_use]
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }
    /// Whether plain TCP is allowed to hosts that are not loopback.
    #[must_use]
    pub fn plain_tcp(&self) -> PlainTcp {
        self.plain_tcp
    }

    /// How many CA certificates are trusted instead of the bundled roots (0: the bundled ones).
    #[must_use]
    pub fn ca_certificates(&self) -> usize {
        self.roots.len()
    }

    /// A builder starting from the defaults; [`PostgresOptionsBuilder::build`] (or `.into()`) makes the
    /// options.
    #[must_use]
    pub fn builder() -> PostgresOptionsBuilder {
        PostgresOptionsBuilder::default()
    }

    /// A builder starting from these options, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> PostgresOptionsBuilder {
        PostgresOptionsBuilder {
            options: self.clone(),
        }
    }
}

/// Sets [`PostgresOptions`]: each setter is the option's bare name, `#[must_use]`, and clamps a value out
/// of range into it (the range is in the setter's docs).
#[derive(Clone, Debug, Default)]
pub struct PostgresOptionsBuilder {
    options: PostgresOptions,
}

impl PostgresOptionsBuilder {
    /// Connections opened at most (at least 1) for reads and writes; a held planner or
    /// incident-router lock keeps a session of its own on top, so a pass under the lock
    /// always has the pool's connections.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.options.max_connections = n.max(1);
        self
    }

    /// How long opening one connection may take, TCP, TLS and authentication together (at
    /// least 1 ms).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.options.connect_timeout = clamp(d);
        self
    }

    /// How long the server lets one statement run before cancelling it (`statement_timeout`,
    /// at least 1 ms). Migrations run without it.
    #[must_use]
    pub fn statement_timeout(mut self, d: Duration) -> Self {
        self.options.statement_timeout = clamp(d);
        self
    }

    /// How long a statement waits for a lock — a row another worker holds, or an advisory lock
    /// such as the migration lock — before failing with
    /// [`Locked`](StoreErrorKind::Locked) (`lock_timeout`, at least 1 ms).
    #[must_use]
    pub fn lock_timeout(mut self, d: Duration) -> Self {
        self.options.lock_timeout = clamp(d);
        self
    }

    /// Whether plain TCP is allowed to hosts that are not loopback (default
    /// [`PlainTcp::LoopbackOnly`]).
    #[must_use]
    pub fn plain_tcp(mut self, policy: PlainTcp) -> Self {
        self.options.plain_tcp = policy;
        self
    }

    /// Trusts the PEM-encoded CA certificates in `pem` (instead of the bundled Mozilla roots),
    /// for a server whose certificate a private CA issued.
    ///
    /// # Errors
    /// [`StoreErrorKind::Invalid`] when `pem` holds no certificate or cannot be parsed.
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, StoreError> {
        self.options
            .roots
            .extend(parse_pem(pem, "the CA certificates given")?);
        Ok(self)
    }

    /// Trusts the CA certificates in the PEM file at `path`, as
    /// [`root_certificate_pem`](Self::root_certificate_pem) (libpq's `sslrootcert`).
    ///
    /// # Errors
    /// [`StoreErrorKind::Invalid`] when the file cannot be read or holds no certificate.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Result<Self, StoreError> {
        self.options.roots.extend(read_ca_file(path.as_ref())?);
        Ok(self)
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> PostgresOptions {
        self.options
    }
}

impl From<PostgresOptionsBuilder> for PostgresOptions {
    fn from(builder: PostgresOptionsBuilder) -> Self {
        builder.build()
    }
}

fn parse_pem(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            StoreError::new(
                StoreErrorKind::Invalid,
                format!("{what} cannot be read as PEM ({err}); give PEM-encoded CA certificates"),
            )
        })?;
    if certificates.is_empty() {
        return Err(StoreError::new(
            StoreErrorKind::Invalid,
            format!(
                "{what} hold no certificate; give PEM-encoded CA certificates (BEGIN CERTIFICATE)"
            ),
        ));
    }
    Ok(certificates)
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let bytes = std::fs::read(path).map_err(|err| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!(
                "the PostgreSQL CA file {} cannot be read ({err}); check the path \
                 (sslrootcert in the URL, or PostgresOptionsBuilder::ca_file)",
                path.display()
            ),
        )
    })?;
    parse_pem(
        &bytes,
        &format!("the PostgreSQL CA file {}", path.display()),
    )
}

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
                    super::describe(&config)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(url: &str, options: &PostgresOptions) -> Result<Connector, StoreError> {
        connector(url, options)
    }

    #[test]
    fn tls_is_required_off_loopback_and_plain_tcp_there_is_refused() {
        let o = PostgresOptions::default();
        assert!(
            plan("postgres://u:p@db.example.com/x", &o)
                .unwrap()
                .uses_tls()
        );
        assert!(
            plan("postgres://u:p@db.example.com/x?sslmode=prefer", &o)
                .unwrap()
                .uses_tls()
        );
        assert!(
            plan("postgres://u:p@10.1.2.3/x?sslmode=verify-full", &o)
                .unwrap()
                .uses_tls()
        );
        let err = plan("postgres://u:p@db.example.com/x?sslmode=disable", &o)
            .err()
            .expect("refused");
        assert_eq!(err.kind(), StoreErrorKind::Invalid);
        assert!(
            err.message().contains("plain TCP to db.example.com"),
            "{err}"
        );
        assert!(!err.message().contains(":p@"), "{err}");
        let opted_in = o.to_builder().plain_tcp(PlainTcp::Anywhere).build();
        assert!(
            !plan("postgres://u:p@db.example.com/x?sslmode=disable", &opted_in)
                .unwrap()
                .uses_tls()
        );
        // Loopback and Unix sockets: plain unless asked for TLS.
        assert!(!plan("postgres://u:p@127.0.0.1/x", &o).unwrap().uses_tls());
        assert!(!plan("postgres://u:p@[::1]:5433/x", &o).unwrap().uses_tls());
        assert!(
            !plan("host=/run/postgresql user=u dbname=x", &o)
                .unwrap()
                .uses_tls()
        );
        assert!(
            plan("postgres://u:p@localhost/x?sslmode=require", &o)
                .unwrap()
                .uses_tls()
        );
        // One remote host among loopback ones makes the whole URL remote.
        assert!(
            plan("host=127.0.0.1,db.example.com user=u", &o)
                .unwrap()
                .uses_tls()
        );
    }

    #[test]
    fn tls_requires_channel_binding_and_sets_the_timeouts() {
        let o = PostgresOptions::builder()
            .statement_timeout(Duration::from_millis(1500))
            .lock_timeout(Duration::from_secs(2))
            .build();
        let c = plan(
            "postgres://u:p@db.example.com/x?options=-c%20search_path%3Dapp",
            &o,
        )
        .unwrap();
        assert_eq!(c.config.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(c.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(
            c.config.get_options(),
            Some("-c search_path=app -c statement_timeout=1500 -c lock_timeout=2000")
        );
        assert_eq!(
            c.config.get_connect_timeout(),
            Some(&Duration::from_secs(10))
        );
        assert_eq!(c.config.get_application_name(), Some("ninjaone-servicenow"));
    }

    #[test]
    fn libpq_parameters_are_understood() {
        let (url, extras) =
            strip_extras("postgres://u:p@h/x?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem");
        assert_eq!(url, "postgres://u:p@h/x?sslmode=require");
        assert_eq!(extras.root_cert.as_deref(), Some(Path::new("/tmp/ca.pem")));
        let (kv, extras) = strip_extras("host=h sslmode=verify-ca sslrootcert=/etc/ca.pem user=u");
        assert_eq!(kv, "host=h sslmode=require user=u");
        assert_eq!(extras.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        // A `+` in a query value is a plus to tokio-postgres (and libpq), not a space: a
        // password or an option carrying one is passed on unchanged.
        let (url, _) = strip_extras("postgres://u@h/x?password=a+b%2Bc&sslmode=verify-full");
        let config: Config = url.parse().expect("parses");
        assert_eq!(config.get_password(), Some(&b"a+b+c"[..]));
        let missing = plan(
            "postgres://u:p@db.example.com/x?sslrootcert=/nonexistent/ca.pem",
            &PostgresOptions::default(),
        )
        .err()
        .expect("a missing CA file");
        assert!(
            missing.message().contains("/nonexistent/ca.pem"),
            "{missing}"
        );
    }

    #[test]
    fn options_clamp_nonsense() {
        let o = PostgresOptions::builder()
            .max_connections(0)
            .statement_timeout(Duration::ZERO)
            .lock_timeout(Duration::MAX)
            .build();
        assert_eq!(o.max_connections(), 1);
        assert_eq!(o.statement_timeout(), Duration::from_millis(1));
        assert_eq!(
            o.lock_timeout(),
            Duration::from_millis(i32::MAX.unsigned_abs().into())
        );
        assert!(
            PostgresOptions::builder()
                .root_certificate_pem(b"")
                .is_err()
        );
    }
}
