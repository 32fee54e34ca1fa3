//! [`PostgresOptions`]: pool size, connect, statement and lock timeouts, the trusted CAs and the
//! plain-TCP policy, set through [`PostgresOptionsBuilder`].

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

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
    pub(super) connect_timeout: Duration,
    pub(super) statement_timeout: Duration,
    pub(super) lock_timeout: Duration,
    pub(super) roots: Vec<CertificateDer<'static>>,
    pub(super) plain_tcp: PlainTcp,
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

pub(super) fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
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
