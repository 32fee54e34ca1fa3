//! [`PostgresStore`]: a [`ConfigStore`] and [`WorkQueue`] in PostgreSQL (feature `postgres`),
//! shared by many tenants and by workers on several machines.
//!
//! # Schema
//! Embedded, versioned migrations ([`MIGRATIONS`]) are applied by
//! [`PostgresStore::connect`] under a PostgreSQL advisory lock and recorded in
//! `ninjaone_servicenow_migrations` ([`MIGRATIONS_TABLE`]), so two workers starting at once
//! apply each migration exactly once. Databases migrated by earlier versions recorded them in
//! a generic `schema_migrations` table, which other tools use too: its rows that are this
//! crate's migrations (same version and name) are copied forward once, and the table is left
//! as it is.
//!
//! # Connections
//! TLS (rustls, verified like libpq's `verify-full`, SCRAM channel binding required), plain
//! TCP only to loopback hosts unless opted in, and connect, statement and lock timeouts: see
//! [`PostgresOptions`].
//! Every table has a `tenant` column; one database serves many NinjaOne/ServiceNow pairs.
//!
//! | table | holds | key |
//! | --- | --- | --- |
//! | `sync_configs` | configurations (JSONB) with their version | (tenant, organization) |
//! | `sync_modes` | the integration mode | tenant |
//! | `ci_mappings` | CI mappings (JSONB) | (tenant, name) |
//! | `ticket_templates` | ticket templates (JSONB); a partial unique index allows one default per tenant | (tenant, name) |
//! | `audit_heads`, `audit_log` | the last audit number, the append-only log | (tenant, seq) |
//! | `ticket_records`, `ci_records` | alert → ticket and device → CI records (JSONB) | (tenant, key) |
//! | `work_items` | the work queue; at most one outstanding item per (tenant, organization) | id |

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Row};

mod connect;

use connect::{Connector, connector};
pub use connect::{PlainTcp, PostgresOptions, PostgresOptionsBuilder};

use super::queue::lost;
use crate::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate, TicketTemplateName,
};
use crate::ports::{
    Claim, ConfigStore, PlannerGuard, QueueCounts, RouterGuard, StoreError, StoreErrorKind,
    WorkItem, WorkQueue, WorkResult, WriteBatch, lease_end,
};

/// The embedded migrations, in order: (version, name, SQL). Applied once each, in one
/// transaction each.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "configs, mode, CI mappings, audit log, records, work queue",
        r"
CREATE TABLE sync_configs (
    tenant       text   NOT NULL,
    organization bigint NOT NULL,
    version      bigint NOT NULL CHECK (version > 0),
    body         jsonb  NOT NULL,
    PRIMARY KEY (tenant, organization)
);
CREATE TABLE sync_modes (
    tenant text PRIMARY KEY,
    mode   text NOT NULL
);
CREATE TABLE ci_mappings (
    tenant text  NOT NULL,
    name   text  NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE TABLE audit_heads (
    tenant   text   PRIMARY KEY,
    last_seq bigint NOT NULL
);
CREATE TABLE audit_log (
    tenant       text        NOT NULL,
    seq          bigint      NOT NULL,
    organization bigint,
    actor        text        NOT NULL,
    at           timestamptz NOT NULL,
    body         jsonb       NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE INDEX audit_log_organization ON audit_log (tenant, organization, seq);
CREATE TABLE ticket_records (
    tenant text  NOT NULL,
    key    text  NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE ci_records (
    tenant text  NOT NULL,
    key    text  NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE work_items (
    id           bigserial   PRIMARY KEY,
    tenant       text        NOT NULL,
    organization bigint      NOT NULL,
    body         jsonb       NOT NULL,
    state        text        NOT NULL CHECK (state IN ('queued', 'claimed', 'done')),
    worker       text,
    claims       integer     NOT NULL DEFAULT 0,
    lease_until  timestamptz,
    result       jsonb,
    applied      boolean     NOT NULL DEFAULT false,
    enqueued_at  timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE UNIQUE INDEX work_items_outstanding ON work_items (tenant, organization)
    WHERE state <> 'done';
CREATE INDEX work_items_queued ON work_items (tenant, id) WHERE state = 'queued';
CREATE INDEX work_items_claimed ON work_items (tenant, lease_until) WHERE state = 'claimed';
",
    ),
    (
        2,
        "ticket templates",
        r"
CREATE TABLE ticket_templates (
    tenant     text    NOT NULL,
    name       text    NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    body       jsonb   NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE UNIQUE INDEX ticket_templates_one_default ON ticket_templates (tenant) WHERE is_default;
",
    ),
];

/// The advisory lock key held while migrating (one for the whole database).
const MIGRATION_LOCK: i64 = 0x6f72_6773_796e_6301;

/// The table that records the applied migrations, named after the crate so that no other
/// tool's `schema_migrations` is mistaken for it.
pub const MIGRATIONS_TABLE: &str = "ninjaone_servicenow_migrations";

/// A tenant: one NinjaOne/ServiceNow pair whose state the database keeps apart from the
/// others'. 1 to 128 characters, no control characters.
///
/// ```
/// use ninjaone_servicenow::store::TenantId;
/// let tenant: TenantId = "msp-42".parse()?;
/// assert_eq!(tenant.as_str(), "msp-42");
/// assert!("".parse::<TenantId>().is_err());
/// # Ok::<(), ninjaone_servicenow::ports::StoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        if s.is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control) {
            return Err(StoreError::new(
                StoreErrorKind::Invalid,
                format!(
                    "{s:?} is not a tenant id: use 1 to 128 characters without control characters"
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A [`ConfigStore`] and [`WorkQueue`] of one tenant in a PostgreSQL database.
///
/// [`connect`](Self::connect) opens the database (applying the migrations) for the tenant
/// `default`; [`for_tenant`](Self::for_tenant) gives another tenant's store over the same
/// connections. Clones share the connections. The store opens up to 8 connections on demand
/// and keeps them open; each write is one transaction.
///
/// Needs a tokio runtime (the connections run on it). Connects over TLS to any host that is not
/// loopback, verifying the server's certificate and host name, and refuses plain TCP there
/// unless told otherwise; statements, lock waits and connecting are bounded in time (see
/// [`PostgresOptions`]). Errors and `Debug` name the host, port, database and user, never the
/// password.
///
/// ```no_run
/// use ninjaone_servicenow::ports::ConfigStore;
/// use ninjaone_servicenow::store::PostgresStore;
/// # async fn demo() -> Result<(), ninjaone_servicenow::ports::StoreError> {
/// let store = PostgresStore::connect(
///     "postgres://orgsync:secret@db.example.com/orgsync?sslmode=verify-full&sslrootcert=/etc/orgsync/ca.pem",
/// )
/// .await?;
/// let acme = store.for_tenant("acme".parse()?);
/// println!("{} configurations", acme.configs().await?.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: Arc<Pool>,
    tenant: TenantId,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.pool.target)
            .field("tls", &self.pool.connector.uses_tls())
            .field("tenant", &self.tenant.as_str())
            .finish_non_exhaustive()
    }
}

/// A few connections, opened on demand and reused.
struct Pool {
    connector: Connector,
    /// Where the connections go, without the password (for messages).
    target: String,
    idle: Mutex<Vec<Client>>,
    permits: Arc<Semaphore>,
}

/// A connection taken from the pool; goes back on drop unless closed or discarded.
struct Conn {
    client: Option<Client>,
    pool: Arc<Pool>,
    /// `None` for a lock's session ([`Pool::get_for_lock`]), which is not one of the pool's.
    _permit: Option<OwnedSemaphorePermit>,
    discard: bool,
}

impl Conn {
    /// The connection; `client` is only taken when the `Conn` is dropped.
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.client.as_mut().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "a pooled PostgreSQL connection was used after it was returned",
            )
        })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !self.discard
            && !client.is_closed()
        {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(client);
        }
    }
}

impl Pool {
    async fn get(self: &Arc<Self>) -> Result<Conn, StoreError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| {
                StoreError::new(
                    StoreErrorKind::Unavailable,
                    "the connection pool was closed",
                )
            })?;
        let client = self.idle_or_open().await?;
        Ok(Conn {
            client: Some(client),
            pool: Arc::clone(self),
            _permit: Some(permit),
            discard: false,
        })
    }

    /// A connection for a session-level lock (the planner's, a router's), held for a whole
    /// pass: outside the pool's `max_connections`, since the pass under the lock needs the
    /// pool's connections for its reads and writes — with the lock on the pool's last one, the
    /// pass would wait for ever, still holding the lock. So a store opens at most
    /// `max_connections` plus one per lock it holds at once.
    async fn get_for_lock(self: &Arc<Self>) -> Result<Conn, StoreError> {
        let client = self.idle_or_open().await?;
        Ok(Conn {
            client: Some(client),
            pool: Arc::clone(self),
            _permit: None,
            discard: false,
        })
    }

    /// An idle connection that is still open, else a new one.
    async fn idle_or_open(&self) -> Result<Client, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(client) if !client.is_closed() => Ok(client),
            _ => self.open().await,
        }
    }

    async fn open(&self) -> Result<Client, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "PostgresStore needs a tokio runtime: call it from within one",
            )
        })?;
        let connector = &self.connector;
        let within = connector.connect_timeout;
        let failed = |err: tokio_postgres::Error| {
            // tokio-postgres says "error performing TLS handshake" and keeps why in its
            // source ("invalid peer certificate: UnknownIssuer"): name the innermost cause.
            let mut cause = std::error::Error::source(&err);
            let mut why = String::new();
            while let Some(inner) = cause {
                why = format!(" ({inner})");
                cause = inner.source();
            }
            let hint = if connector.uses_tls() {
                "check that the server runs, accepts this user over TLS with scram-sha-256 \
                 (channel binding is required), and that its certificate chains to the CA \
                 given (sslrootcert in the URL or PostgresOptionsBuilder::ca_file; the bundled \
                 Mozilla roots otherwise) and names the host of the URL"
            } else {
                "check that the server runs and accepts this user"
            };
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "could not connect to PostgreSQL at {}{why}; {hint}",
                    self.target
                ),
            )
            .with_source(err)
        };
        let timed_out = || {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "could not connect to PostgreSQL at {}: no session within {} ms (TCP, TLS \
                     and authentication); check that the server answers, or raise \
                     PostgresOptionsBuilder::connect_timeout",
                    self.target,
                    within.as_millis()
                ),
            )
        };
        let target = self.target.clone();
        let client = if let Some(tls) = &connector.tls {
            let (client, connection) =
                tokio::time::timeout(within, connector.config.connect(tls.clone()))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(failed)?;
            runtime.spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(database = %target, error = %err, "a PostgreSQL connection ended");
                }
            });
            client
        } else {
            let (client, connection) =
                tokio::time::timeout(within, connector.config.connect(NoTls))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(failed)?;
            runtime.spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(database = %target, error = %err, "a PostgreSQL connection ended");
                }
            });
            client
        };
        Ok(client)
    }
}

/// `host:port/database as user`, without the password.
fn describe(config: &Config) -> String {
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

/// Maps a PostgreSQL error: serialization failures, deadlocks and unique violations are
/// conflicts; a lock that was not available is `Locked`; everything else (connection, server)
/// is `Unavailable`.
fn db_error(context: &str, err: tokio_postgres::Error) -> StoreError {
    let kind = match err.code() {
        Some(code)
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::UNIQUE_VIOLATION =>
        {
            StoreErrorKind::Conflict
        }
        Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE => StoreErrorKind::Locked,
        Some(code) if *code == SqlState::QUERY_CANCELED => {
            return StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "{context}: the statement was cancelled, most likely by the statement timeout; \
                     retry later, and raise PostgresOptionsBuilder::statement_timeout if the database \
                     is just slow"
                ),
            )
            .with_source(err);
        }
        Some(code) if *code == SqlState::UNDEFINED_TABLE => {
            return StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "{context}: the schema is missing; open the store with \
                     PostgresStore::connect, which applies the migrations"
                ),
            )
            .with_source(err);
        }
        _ => StoreErrorKind::Unavailable,
    };
    let hint = match kind {
        StoreErrorKind::Conflict => "; read again and retry",
        _ => "; retry later, and check the database if it persists",
    };
    StoreError::new(kind, format!("{context}{hint}")).with_source(err)
}

/// A lock that was not free within the lock timeout, named: [`StoreErrorKind::Locked`] for a
/// lock timeout, otherwise as [`db_error`].
fn lock_error(lock: &str, key: i64, err: tokio_postgres::Error) -> StoreError {
    if err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
        return StoreError::new(
            StoreErrorKind::Locked,
            format!(
                "{lock} (PostgreSQL advisory lock {key}) was not free within the lock timeout: \
                 another process holds it (a worker applying migrations, or a stuck session: \
                 see pg_locks where locktype = 'advisory'); try again, or raise \
                 PostgresOptionsBuilder::lock_timeout"
            ),
        )
        .with_source(err);
    }
    db_error(&format!("could not take {lock}"), err)
}

fn corrupt(what: &str, err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("a stored {what} cannot be read; it was not changed: look at the row"),
    )
    .with_source(err)
}

fn to_json(what: &str, value: &impl Serialize) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|err| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!("the {what} cannot be written as JSON: {err}"),
        )
    })
}

fn from_row<T: DeserializeOwned>(row: &Row, column: &str, what: &str) -> Result<T, StoreError> {
    let value: serde_json::Value = row.try_get(column).map_err(|err| corrupt(what, err))?;
    serde_json::from_value(value).map_err(|err| corrupt(what, err))
}

fn org_key(organization: OrganizationId) -> i64 {
    i64::from(organization.get())
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl PostgresStore {
    /// Opens the database at `url` (`postgres://user:password@host:port/database`, or the
    /// key=value form), applies the pending migrations and returns the store of the tenant
    /// `default`.
    ///
    /// # Errors
    /// [`StoreErrorKind::Invalid`] for a URL that cannot be parsed, `Unavailable` when the
    /// server cannot be reached or the migrations fail, [`StoreErrorKind::Corrupt`] when the
    /// database was migrated by a newer version of this crate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_options(url, PostgresOptions::default()).await
    }

    /// As [`connect`](Self::connect), opening at most `max_connections` (at least 1) connections
    /// for reads and writes, plus one per planner or router lock held.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, max_connections: usize) -> Result<Self, StoreError> {
        Self::connect_with_options(
            url,
            PostgresOptions::builder().max_connections(max_connections),
        )
        .await
    }

    /// As [`connect`](Self::connect), with `options` (TLS, timeouts, pool size). The URL's
    /// `sslmode` and `sslrootcert` (libpq's names) are read as [`PostgresOptions`] describes.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ninjaone_servicenow::store::{PostgresOptions, PostgresStore};
    /// # async fn demo() -> Result<(), ninjaone_servicenow::ports::StoreError> {
    /// let options = PostgresOptions::builder()
    ///     .ca_file("/etc/orgsync/db-ca.pem")?
    ///     .lock_timeout(Duration::from_secs(5));
    /// let store =
    ///     PostgresStore::connect_with_options("postgres://orgsync:pw@db.internal/orgsync", options)
    ///         .await?;
    /// # let _ = store; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`connect`](Self::connect); also [`StoreErrorKind::Invalid`] for plain TCP to a host
    /// that is not loopback (`sslmode=disable` without [`PlainTcp::Anywhere`]) and for a CA
    /// file that cannot be read, before anything is sent; `Unavailable` when the server's
    /// certificate does not verify, and [`StoreErrorKind::Locked`] when another process held
    /// the migration lock longer than the lock timeout.
    pub async fn connect_with_options(
        url: &str,
        options: impl Into<PostgresOptions>,
    ) -> Result<Self, StoreError> {
        let options = options.into();
        let connector = connector(url, &options)?;
        let pool = Arc::new(Pool {
            target: describe(&connector.config),
            connector,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(options.max_connections.max(1))),
        });
        let store = Self {
            pool,
            tenant: TenantId("default".to_owned()),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The store of `tenant` over the same connections.
    #[must_use]
    pub fn for_tenant(&self, tenant: TenantId) -> Self {
        Self {
            pool: Arc::clone(&self.pool),
            tenant,
        }
    }

    /// The tenant this store reads and writes.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Applies the migrations that are not applied yet, under an advisory lock so that
    /// concurrent callers wait for each other. Returns the versions it applied (empty when the
    /// schema was up to date). [`connect`](Self::connect) calls it.
    ///
    /// # Errors
    /// `Unavailable` when a migration fails (its transaction is rolled back);
    /// [`StoreErrorKind::Corrupt`] when the database has a migration newer than this crate's.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        let mut conn = self.pool.get().await?;
        let client = conn.client()?;
        // Waits at most the lock timeout: a worker stuck while migrating must not hang the
        // others' start for ever.
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| lock_error("the migration lock", MIGRATION_LOCK, e))?;
        let result = Self::migrate_locked(client).await;
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        if unlocked.is_err() {
            // The session ends with the connection, and the lock with it.
            conn.discard = true;
        }
        result
    }

    async fn migrate_locked(client: &mut Client) -> Result<Vec<i32>, StoreError> {
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
                     version    integer     PRIMARY KEY,
                     name       text        NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )"
            ))
            .await
            .map_err(|e| db_error(&format!("could not create {MIGRATIONS_TABLE}"), e))?;
        Self::adopt_generic_table(client).await?;
        let applied: BTreeSet<i32> = client
            .query(&format!("SELECT version FROM {MIGRATIONS_TABLE}"), &[])
            .await
            .map_err(|e| db_error(&format!("could not read {MIGRATIONS_TABLE}"), e))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let known = MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
        if let Some(newer) = applied.iter().find(|v| **v > known) {
            return Err(StoreError::new(
                StoreErrorKind::Corrupt,
                format!(
                    "the database schema has migration {newer}, newer than this build knows \
                     ({known}); upgrade this worker"
                ),
            ));
        }
        let mut done = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let context = format!("migration {version} ({name}) failed and was rolled back");
            let tx = client
                .transaction()
                .await
                .map_err(|e| db_error(&context, e))?;
            // A migration may rewrite a large table: no statement timeout (the lock timeout
            // still holds, so it cannot queue behind running workers for ever).
            tx.batch_execute("SET LOCAL statement_timeout = 0")
                .await
                .map_err(|e| db_error(&context, e))?;
            tx.batch_execute(sql)
                .await
                .map_err(|e| db_error(&context, e))?;
            tx.execute(
                &format!("INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)"),
                &[version, name],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
            tx.commit().await.map_err(|e| db_error(&context, e))?;
            tracing::info!(version, name, "applied a migration");
            done.push(*version);
        }
        Ok(done)
    }

    /// Copies this crate's rows of a generic `schema_migrations` table, where versions before
    /// the namespaced table recorded them, into [`MIGRATIONS_TABLE`]: only rows whose version
    /// and name are one of [`MIGRATIONS`] (another tool's rows are not ours), only while the
    /// namespaced table is empty, and leaving the old table untouched.
    async fn adopt_generic_table(client: &mut Client) -> Result<(), StoreError> {
        let context = "could not carry schema_migrations forward";
        let row = client
            .query_one(
                &format!(
                    "SELECT NOT EXISTS (SELECT 1 FROM {MIGRATIONS_TABLE}),
                            EXISTS (SELECT 1 FROM information_schema.columns
                                    WHERE table_schema = current_schema()
                                      AND table_name = 'schema_migrations'
                                      AND column_name = 'version' AND data_type = 'integer')
                        AND EXISTS (SELECT 1 FROM information_schema.columns
                                    WHERE table_schema = current_schema()
                                      AND table_name = 'schema_migrations'
                                      AND column_name = 'name' AND data_type = 'text')"
                ),
                &[],
            )
            .await
            .map_err(|e| db_error(context, e))?;
        let (empty, generic): (bool, bool) = (row.get(0), row.get(1));
        if !(empty && generic) {
            return Ok(());
        }
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
        let names: Vec<&str> = MIGRATIONS.iter().map(|m| m.1).collect();
        let copied = client
            .execute(
                &format!(
                    "INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at)
                     SELECT s.version, s.name, s.applied_at
                     FROM schema_migrations s
                     JOIN unnest($1::integer[], $2::text[]) AS m(version, name)
                       ON m.version = s.version AND m.name = s.name"
                ),
                &[&versions, &names],
            )
            .await
            .map_err(|e| db_error(context, e))?;
        if copied > 0 {
            tracing::info!(
                copied,
                "carried this crate's migrations forward from schema_migrations into {}; the \
                 old table was left as it is",
                MIGRATIONS_TABLE
            );
        }
        Ok(())
    }

    /// The versions recorded in [`MIGRATIONS_TABLE`], ascending.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be read.
    pub async fn applied_migrations(&self) -> Result<Vec<i32>, StoreError> {
        let mut conn = self.pool.get().await?;
        let rows = conn
            .client()?
            .query(
                &format!("SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version"),
                &[],
            )
            .await
            .map_err(|e| db_error(&format!("could not read {MIGRATIONS_TABLE}"), e))?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Deletes everything this tenant has stored: configurations, mode, CI mappings, audit
    /// log, records and work items. For tests and for removing a tenant.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be written; nothing is deleted then.
    pub async fn purge_tenant(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error("could not purge the tenant", e))?;
        for table in [
            "sync_configs",
            "sync_modes",
            "ci_mappings",
            "ticket_templates",
            "audit_heads",
            "audit_log",
            "ticket_records",
            "ci_records",
            "work_items",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = $1"),
                &[&self.tenant.as_str()],
            )
            .await
            .map_err(|e| db_error("could not purge the tenant", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| db_error("could not purge the tenant", e))
    }

    /// Deletes this tenant's work items completed before `before`; returns how many. Done
    /// items are kept for inspection until a host prunes them.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be written.
    pub async fn prune_done(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let rows = self
            .query(
                "could not prune completed work items",
                "DELETE FROM work_items
                 WHERE tenant = $1 AND state = 'done' AND completed_at < $2
                 RETURNING id",
                &[&self.tenant.as_str(), &before],
            )
            .await?;
        Ok(rows.len())
    }

    async fn query(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let mut conn = self.pool.get().await?;
        conn.client()?
            .query(sql, params)
            .await
            .map_err(|e| db_error(context, e))
    }

    async fn bodies<T: DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self
            .query(
                &format!("could not read the {what}s"),
                sql,
                &[&self.tenant.as_str()],
            )
            .await?;
        rows.iter().map(|row| from_row(row, "body", what)).collect()
    }

    /// The body stored under `key` in one of the keyed record tables (a primary-key lookup).
    async fn body_by_key<T: DeserializeOwned>(
        &self,
        table: &str,
        what: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let rows = self
            .query(
                &format!("could not read the {what} of {key}"),
                &format!("SELECT body FROM {table} WHERE tenant = $1 AND key = $2"),
                &[&self.tenant.as_str(), &key],
            )
            .await?;
        rows.first()
            .map(|row| from_row(row, "body", what))
            .transpose()
    }

    /// Upserts `put` and removes `remove` by key in one of the keyed record tables.
    async fn write_keyed<V: Serialize>(
        &self,
        table: &str,
        what: &str,
        put: Vec<(String, V)>,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut seen = BTreeSet::new();
        for key in put.iter().map(|(k, _)| k).chain(remove.iter()) {
            if !seen.insert(key.clone()) {
                return Err(StoreError::new(
                    StoreErrorKind::Invalid,
                    format!("the write names {what} {key} twice; merge the changes into one"),
                ));
            }
        }
        let mut keys = Vec::with_capacity(put.len());
        let mut bodies = Vec::with_capacity(put.len());
        for (key, record) in &put {
            keys.push(key.clone());
            bodies.push(to_json(&format!("{what} record"), record)?);
        }
        let context = format!("could not write the {what} records");
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error(&context, e))?;
        let tenant = self.tenant.as_str();
        if !keys.is_empty() {
            tx.execute(
                &format!(
                    "INSERT INTO {table} (tenant, key, body)
                     SELECT $1, k, b FROM unnest($2::text[], $3::jsonb[]) AS t(k, b)
                     ON CONFLICT (tenant, key) DO UPDATE SET body = EXCLUDED.body"
                ),
                &[&tenant, &keys, &bodies],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
        }
        if !remove.is_empty() {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = $1 AND key = ANY($2)"),
                &[&tenant, &remove],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
        }
        tx.commit().await.map_err(|e| db_error(&context, e))
    }

    /// The conflict of a batch whose check failed: names the first configuration whose stored
    /// version is not the expected one.
    async fn conflict(&self, batch: &[SyncConfig]) -> StoreError {
        let stored: Vec<(i64, i64)> = match self
            .query(
                "could not re-read conflicting configurations",
                "SELECT organization, version FROM sync_configs WHERE tenant = $1",
                &[&self.tenant.as_str()],
            )
            .await
        {
            Ok(rows) => rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            Err(err) => return err,
        };
        let stored: std::collections::HashMap<i64, i64> = stored.into_iter().collect();
        for config in batch {
            let organization = config.organization();
            let expected = config.version();
            let now = stored.get(&org_key(organization)).copied();
            let message = match (now, expected) {
                (Some(v), 0) => format!(
                    "organization {organization} already has a configuration (version {v} is \
                     stored) but the write inserts a new one (expected version 0)"
                ),
                (None, e) if e > 0 => format!(
                    "organization {organization} has no stored configuration but the write \
                     expected version {e}"
                ),
                (Some(v), e) if u64::try_from(v).ok() != Some(e) && e > 0 => format!(
                    "organization {organization}'s configuration changed meanwhile: the write \
                     expected version {e} but version {v} is stored"
                ),
                _ => continue,
            };
            return StoreError::new(
                StoreErrorKind::Conflict,
                format!("{message}; read the configuration again and re-apply the change"),
            );
        }
        StoreError::new(
            StoreErrorKind::Conflict,
            "a configuration of the batch changed meanwhile; read again and re-apply the change",
        )
    }
}

#[async_trait]
impl ConfigStore for PostgresStore {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        self.bodies(
            "configuration",
            "SELECT body FROM sync_configs WHERE tenant = $1 ORDER BY organization",
        )
        .await
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        let rows = self
            .query(
                &format!("could not read organization {organization}'s configuration"),
                "SELECT body FROM sync_configs WHERE tenant = $1 AND organization = $2",
                &[&self.tenant.as_str(), &org_key(organization)],
            )
            .await?;
        rows.first()
            .map(|row| from_row(row, "body", "configuration"))
            .transpose()
    }

    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        let keys: Vec<i64> = organizations.iter().copied().map(org_key).collect();
        let rows = self
            .query(
                "could not read the configurations",
                "SELECT body FROM sync_configs WHERE tenant = $1 AND organization = ANY($2) \
                 ORDER BY organization",
                &[&self.tenant.as_str(), &keys],
            )
            .await?;
        rows.iter()
            .map(|row| from_row(row, "body", "configuration"))
            .collect()
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        batch.validate()?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let WriteBatch { configs, audit } = batch;
        let mut stored = Vec::with_capacity(configs.len());
        let (mut new_orgs, mut new_bodies) = (Vec::new(), Vec::new());
        let (mut upd_orgs, mut upd_versions, mut upd_bodies) = (Vec::new(), Vec::new(), Vec::new());
        for config in &configs {
            let mut saved = config.clone();
            saved.set_version(config.version() + 1);
            let body = to_json("configuration", &saved)?;
            let org = org_key(config.organization());
            if config.version() == 0 {
                new_orgs.push(org);
                new_bodies.push(body);
            } else {
                upd_orgs.push(org);
                upd_versions.push(i64::try_from(config.version()).unwrap_or(i64::MAX));
                upd_bodies.push(body);
            }
            stored.push(saved);
        }
        let context = "could not write the batch";
        let tenant = self.tenant.as_str();
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error(context, e))?;
        let mut ok = true;
        if !upd_orgs.is_empty() {
            let n = tx
                .execute(
                    "UPDATE sync_configs c SET version = c.version + 1, body = t.b
                     FROM unnest($2::bigint[], $3::bigint[], $4::jsonb[]) AS t(o, v, b)
                     WHERE c.tenant = $1 AND c.organization = t.o AND c.version = t.v",
                    &[&tenant, &upd_orgs, &upd_versions, &upd_bodies],
                )
                .await
                .map_err(|e| db_error(context, e))?;
            ok &= u64::try_from(upd_orgs.len()).is_ok_and(|len| len == n);
        }
        if ok && !new_orgs.is_empty() {
            let n = tx
                .execute(
                    "INSERT INTO sync_configs (tenant, organization, version, body)
                     SELECT $1, o, 1, b FROM unnest($2::bigint[], $3::jsonb[]) AS t(o, b)
                     ON CONFLICT (tenant, organization) DO NOTHING",
                    &[&tenant, &new_orgs, &new_bodies],
                )
                .await
                .map_err(|e| db_error(context, e))?;
            ok &= u64::try_from(new_orgs.len()).is_ok_and(|len| len == n);
        }
        if !ok {
            drop(tx);
            drop(conn);
            return Err(self.conflict(&configs).await);
        }
        if !audit.is_empty() {
            let n = i64::try_from(audit.len()).unwrap_or(i64::MAX);
            let last: i64 = tx
                .query_one(
                    "INSERT INTO audit_heads (tenant, last_seq) VALUES ($1, $2)
                     ON CONFLICT (tenant) DO UPDATE SET last_seq = audit_heads.last_seq + $2
                     RETURNING last_seq",
                    &[&tenant, &n],
                )
                .await
                .map_err(|e| db_error(context, e))?
                .get(0);
            let mut seqs = Vec::with_capacity(audit.len());
            let mut orgs = Vec::with_capacity(audit.len());
            let mut actors = Vec::with_capacity(audit.len());
            let mut ats = Vec::with_capacity(audit.len());
            let mut bodies = Vec::with_capacity(audit.len());
            for (i, mut entry) in audit.into_iter().enumerate() {
                let seq = last - n + 1 + i64::try_from(i).unwrap_or(i64::MAX);
                entry.seq = u64::try_from(seq).unwrap_or(0);
                seqs.push(seq);
                orgs.push(entry.organization.map(org_key));
                actors.push(entry.actor.clone());
                ats.push(entry.at);
                bodies.push(to_json("audit entry", &entry)?);
            }
            tx.execute(
                "INSERT INTO audit_log (tenant, seq, organization, actor, at, body)
                 SELECT $1, s, o, a, t, b
                 FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[], $6::jsonb[])
                   AS u(s, o, a, t, b)",
                &[&tenant, &seqs, &orgs, &actors, &ats, &bodies],
            )
            .await
            .map_err(|e| db_error(context, e))?;
        }
        tx.commit().await.map_err(|e| db_error(context, e))?;
        Ok(stored)
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        let rows = self
            .query(
                "could not read the mode",
                "SELECT mode FROM sync_modes WHERE tenant = $1",
                &[&self.tenant.as_str()],
            )
            .await?;
        match rows.first() {
            None => Ok(IntegrationMode::Disabled),
            Some(row) => {
                let text: String = row.try_get(0).map_err(|e| corrupt("mode", e))?;
                serde_json::from_value(serde_json::Value::String(text))
                    .map_err(|e| corrupt("mode", e))
            }
        }
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        let text = match to_json("mode", &mode)? {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        self.query(
            "could not set the mode",
            "INSERT INTO sync_modes (tenant, mode) VALUES ($1, $2)
             ON CONFLICT (tenant) DO UPDATE SET mode = EXCLUDED.mode",
            &[&self.tenant.as_str(), &text],
        )
        .await
        .map(drop)
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        let mut mappings: Vec<CiMapping> = self
            .bodies(
                "CI mapping",
                "SELECT body FROM ci_mappings WHERE tenant = $1",
            )
            .await?;
        mappings.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(mappings)
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        let body = to_json("CI mapping", &mapping)?;
        self.query(
            "could not write the CI mapping",
            "INSERT INTO ci_mappings (tenant, name, body) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, name) DO UPDATE SET body = EXCLUDED.body",
            &[&self.tenant.as_str(), &mapping.name().to_string(), &body],
        )
        .await
        .map(drop)
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "could not delete the CI mapping",
                "DELETE FROM ci_mappings WHERE tenant = $1 AND name = $2 RETURNING name",
                &[&self.tenant.as_str(), &name.to_string()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
        let mut templates: Vec<TicketTemplate> = self
            .bodies(
                "ticket template",
                "SELECT body FROM ticket_templates WHERE tenant = $1",
            )
            .await?;
        templates.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(templates)
    }

    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
        let body = to_json("ticket template", &template)?;
        let name = template.name().to_string();
        let context = format!("could not save the ticket template {name:?}");
        let tenant = self.tenant.as_str();
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error(&context, e))?;
        if template.is_default() {
            // The previous default loses its flag in the same transaction; the partial unique
            // index turns a concurrent second default into a conflict.
            tx.execute(
                "UPDATE ticket_templates
                 SET is_default = false, body = jsonb_set(body, '{default}', 'false')
                 WHERE tenant = $1 AND is_default AND name <> $2",
                &[&tenant, &name],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
        }
        tx.execute(
            "INSERT INTO ticket_templates (tenant, name, is_default, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant, name)
             DO UPDATE SET is_default = EXCLUDED.is_default, body = EXCLUDED.body",
            &[&tenant, &name, &template.is_default(), &body],
        )
        .await
        .map_err(|e| db_error(&context, e))?;
        tx.commit().await.map_err(|e| db_error(&context, e))
    }

    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "could not delete the ticket template",
                "DELETE FROM ticket_templates WHERE tenant = $1 AND name = $2 RETURNING name",
                &[&self.tenant.as_str(), &name.to_string()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        // Organization and actor are exact in SQL; the time (stored to the microsecond) is
        // narrowed loosely and the filter's own rules decide.
        let since = filter.since.map(|t| t - TimeDelta::microseconds(1));
        let limit = match (filter.limit, filter.since) {
            (Some(n), None) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
            _ => None,
        };
        let rows = self
            .query(
                "could not read the audit log",
                "SELECT body FROM (
                     SELECT seq, body FROM audit_log
                     WHERE tenant = $1
                       AND ($2::bigint IS NULL OR organization = $2)
                       AND ($3::text IS NULL OR actor = $3)
                       AND ($4::timestamptz IS NULL OR at >= $4)
                     ORDER BY seq DESC
                     LIMIT $5
                 ) AS recent ORDER BY seq",
                &[
                    &self.tenant.as_str(),
                    &filter.organization.map(org_key),
                    &filter.actor,
                    &since,
                    &limit,
                ],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|row| from_row(row, "body", "audit entry"))
            .collect::<Result<Vec<AuditEntry>, _>>()?;
        Ok(filter.select(&entries))
    }

    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        let mut records: Vec<TicketRecord> = self
            .bodies(
                "ticket record",
                "SELECT body FROM ticket_records WHERE tenant = $1",
            )
            .await?;
        records.sort_by(|a, b| a.alert.cmp(&b.alert));
        Ok(records)
    }

    /// A primary-key lookup of (tenant, alert uid).
    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
        self.body_by_key("ticket_records", "ticket record", alert.as_str())
            .await
    }

    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        let put = put.into_iter().map(|r| (r.alert.to_string(), r)).collect();
        let remove = remove.iter().map(ToString::to_string).collect();
        self.write_keyed("ticket_records", "alert", put, remove)
            .await
    }

    /// A session-level advisory lock on a connection of its own, keyed by tenant and
    /// integration id: every router of the tenant's integration, on any host, sees it.
    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        let key = router_lock_key(&self.tenant, integration_id);
        let mut conn = self.pool.get_for_lock().await?;
        let locked: bool = conn
            .client()?
            .query_one(ROUTER_LOCK, &[&key])
            .await
            .map_err(|e| db_error("could not take the incident router lock", e))?
            .get(0);
        if !locked {
            return Ok(None);
        }
        Ok(Some(Box::new(PgRouterGuard {
            conn,
            key,
            released: false,
        })))
    }

    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        let mut records: Vec<CiRecord> = self
            .bodies("CI record", "SELECT body FROM ci_records WHERE tenant = $1")
            .await?;
        records.sort_by_key(|r| r.device);
        Ok(records)
    }

    /// A primary-key lookup of (tenant, device id).
    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
        self.body_by_key("ci_records", "CI record", &device.to_string())
            .await
    }

    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        let put = put.into_iter().map(|r| (r.device.to_string(), r)).collect();
        let remove = remove.iter().map(ToString::to_string).collect();
        self.write_keyed("ci_records", "device", put, remove).await
    }
}

/// The planner lock of one tenant: a session-level advisory lock on a connection of its own.
struct PgPlannerGuard {
    conn: Conn,
    tenant: TenantId,
    released: bool,
}

impl fmt::Debug for PgPlannerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPlannerGuard")
            .field("tenant", &self.tenant.as_str())
            .finish_non_exhaustive()
    }
}

impl Drop for PgPlannerGuard {
    fn drop(&mut self) {
        // Unless released, close the session: PostgreSQL frees its advisory locks then.
        if !self.released {
            self.conn.discard = true;
        }
    }
}

const PLANNER_LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('ninjaone-servicenow planner'), \
                            hashtext($1))";
const PLANNER_UNLOCK: &str = "SELECT pg_advisory_unlock(hashtext('ninjaone-servicenow planner'), \
                              hashtext($1))";

/// The incident router lock of one tenant's integration id: like the planner lock, a
/// session-level advisory lock on a connection of its own.
struct PgRouterGuard {
    conn: Conn,
    key: String,
    released: bool,
}

impl fmt::Debug for PgRouterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRouterGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Drop for PgRouterGuard {
    fn drop(&mut self) {
        // Unless released, close the session: PostgreSQL frees its advisory locks then.
        if !self.released {
            self.conn.discard = true;
        }
    }
}

/// `<tenant>:<integration id>`: an integration id has no `:`, so no two pairs share a key.
fn router_lock_key(tenant: &TenantId, integration_id: &str) -> String {
    format!("{}:{integration_id}", tenant.as_str())
}

const ROUTER_LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('ninjaone-servicenow router'), \
                           hashtext($1))";
const ROUTER_UNLOCK: &str = "SELECT pg_advisory_unlock(hashtext('ninjaone-servicenow router'), \
                             hashtext($1))";

#[async_trait]
impl RouterGuard for PgRouterGuard {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        let key = self.key.clone();
        let unlocked: bool = self
            .conn
            .client()?
            .query_one(ROUTER_UNLOCK, &[&key])
            .await
            .map_err(|e| db_error("could not release the incident router lock", e))?
            .get(0);
        // Back to the pool only when the session no longer holds the lock.
        self.released = unlocked;
        Ok(())
    }
}

#[async_trait]
impl PlannerGuard for PgPlannerGuard {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        let tenant = self.tenant.as_str().to_owned();
        let unlocked: bool = self
            .conn
            .client()?
            .query_one(PLANNER_UNLOCK, &[&tenant])
            .await
            .map_err(|e| db_error("could not release the planner lock", e))?
            .get(0);
        // Back to the pool only when the session no longer holds the lock.
        self.released = unlocked;
        Ok(())
    }
}

/// The columns a claim is read from.
fn claim_from(row: &Row, worker: &str) -> Result<Claim, StoreError> {
    let id: i64 = row.try_get("id").map_err(|e| corrupt("work item", e))?;
    let claims: i32 = row.try_get("claims").map_err(|e| corrupt("work item", e))?;
    let until: DateTime<Utc> = row
        .try_get("lease_until")
        .map_err(|e| corrupt("work item", e))?;
    let item: WorkItem = from_row(row, "body", "work item")?;
    Ok(Claim::new(
        u64::try_from(id).unwrap_or(0),
        u32::try_from(claims).unwrap_or(0),
        worker,
        until,
        item,
    ))
}

fn claim_key(claim: &Claim) -> (i64, i32) {
    (
        i64::try_from(claim.id).unwrap_or(i64::MAX),
        i32::try_from(claim.claim).unwrap_or(i32::MAX),
    )
}

#[async_trait]
impl WorkQueue for PostgresStore {
    async fn lock_planner(&self) -> Result<Option<Box<dyn PlannerGuard>>, StoreError> {
        let mut conn = self.pool.get_for_lock().await?;
        let locked: bool = conn
            .client()?
            .query_one(PLANNER_LOCK, &[&self.tenant.as_str()])
            .await
            .map_err(|e| db_error("could not take the planner lock", e))?
            .get(0);
        if !locked {
            return Ok(None);
        }
        Ok(Some(Box::new(PgPlannerGuard {
            conn,
            tenant: self.tenant.clone(),
            released: false,
        })))
    }

    async fn enqueue(&self, items: Vec<WorkItem>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut orgs = Vec::with_capacity(items.len());
        let mut bodies = Vec::with_capacity(items.len());
        for item in &items {
            orgs.push(org_key(item.organization));
            bodies.push(to_json("work item", item)?);
        }
        let rows = self
            .query(
                "could not enqueue work",
                "INSERT INTO work_items (tenant, organization, body, state, enqueued_at)
                 SELECT $1, o, b, 'queued', $4
                 FROM unnest($2::bigint[], $3::jsonb[]) WITH ORDINALITY AS t(o, b, n)
                 ORDER BY n
                 ON CONFLICT (tenant, organization) WHERE state <> 'done' DO NOTHING
                 RETURNING id",
                &[&self.tenant.as_str(), &orgs, &bodies, &now],
            )
            .await?;
        Ok(rows.len())
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        let until = lease_end(now, lease);
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "could not claim work",
                "WITH picked AS (
                     SELECT id FROM work_items
                     WHERE tenant = $1 AND state = 'queued'
                     ORDER BY id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE work_items w
                 SET state = 'claimed', worker = $3, lease_until = $4, claims = w.claims + 1
                 FROM picked WHERE w.id = picked.id
                 RETURNING w.id, w.claims, w.lease_until, w.body",
                &[&self.tenant.as_str(), &max, &worker, &until],
            )
            .await?;
        let mut claims = rows
            .iter()
            .map(|row| claim_from(row, worker))
            .collect::<Result<Vec<_>, _>>()?;
        claims.sort_by_key(|c| c.id);
        Ok(claims)
    }

    async fn complete(
        &self,
        claim: &Claim,
        result: &WorkResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, claims) = claim_key(claim);
        let body = to_json("work result", result)?;
        let rows = self
            .query(
                "could not complete a work item",
                "UPDATE work_items
                 SET state = 'done', result = $5, applied = $6, completed_at = $7,
                     lease_until = NULL
                 WHERE tenant = $1 AND id = $2 AND claims = $3 AND worker = $4
                   AND state = 'claimed'
                 RETURNING id",
                &[
                    &self.tenant.as_str(),
                    &id,
                    &claims,
                    &claim.worker,
                    &body,
                    &result.is_applied(),
                    &now,
                ],
            )
            .await?;
        if rows.is_empty() {
            return Err(lost(claim));
        }
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        let (id, claims) = claim_key(claim);
        let rows = self
            .query(
                "could not release a work item",
                "UPDATE work_items SET state = 'queued', worker = NULL, lease_until = NULL
                 WHERE tenant = $1 AND id = $2 AND claims = $3 AND worker = $4
                   AND state = 'claimed'
                 RETURNING id",
                &[&self.tenant.as_str(), &id, &claims, &claim.worker],
            )
            .await?;
        if rows.is_empty() {
            return Err(lost(claim));
        }
        Ok(())
    }

    async fn reclaim_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let rows = self
            .query(
                "could not reclaim expired leases",
                "UPDATE work_items SET state = 'queued', worker = NULL, lease_until = NULL
                 WHERE tenant = $1 AND state = 'claimed' AND lease_until < $2
                 RETURNING id",
                &[&self.tenant.as_str(), &now],
            )
            .await?;
        Ok(rows.len())
    }

    async fn counts(&self) -> Result<QueueCounts, StoreError> {
        let rows = self
            .query(
                "could not count work items",
                "SELECT count(*) FILTER (WHERE state = 'queued'),
                        count(*) FILTER (WHERE state = 'claimed'),
                        count(*) FILTER (WHERE state = 'done'),
                        count(*) FILTER (WHERE applied),
                        coalesce(sum(claims), 0)::bigint
                 FROM work_items WHERE tenant = $1",
                &[&self.tenant.as_str()],
            )
            .await?;
        let mut counts = QueueCounts::default();
        if let Some(row) = rows.first() {
            counts.queued = count(row.get(0));
            counts.claimed = count(row.get(1));
            counts.done = count(row.get(2));
            counts.applied = count(row.get(3));
            counts.claims = count(row.get(4));
        }
        Ok(counts)
    }
}
