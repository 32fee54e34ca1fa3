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
//!
//! # Layout
//! `connect` reads the URL and sets up TLS, `options` holds [`PostgresOptions`], `pool` opens and
//! lends the connections, `migrations` applies the numbered SQL files of `migrations/`,
//! `config_store` and `work_queue` implement the two ports, `locks` the session advisory locks
//! (planner, incident router), `errors` and `rows` map PostgreSQL errors and rows.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

mod config_store;
mod connect;
mod errors;
mod locks;
mod migrations;
mod options;
mod pool;
mod rows;
mod work_queue;

use connect::{connector, describe};
use errors::db_error;
pub use migrations::{MIGRATIONS, MIGRATIONS_TABLE};
pub use options::{PlainTcp, PostgresOptions, PostgresOptionsBuilder};
use pool::Pool;

#[cfg(doc)]
use crate::ports::{ConfigStore, WorkQueue};
use crate::ports::{StoreError, StoreErrorKind};

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
            .field("tls", &self.pool.tls)
            .field("tenant", &self.tenant.as_str())
            .finish_non_exhaustive()
    }
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
        let target = describe(&connector.config);
        let pool = Arc::new(Pool::new(connector, target, options.max_connections)?);
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
}
