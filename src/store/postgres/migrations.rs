//! The schema: the numbered SQL files of `migrations/`, applied in order under an advisory lock
//! and recorded in [`MIGRATIONS_TABLE`]; rows of an older generic `schema_migrations` carried over.
//!
//! A released file is never edited: a schema change is a new file with the next number, added
//! to [`MIGRATIONS`] under a name that stays the same for ever (the bookkeeping matches on it).

use std::collections::BTreeSet;

use tokio_postgres::Client;

use super::PostgresStore;
use super::errors::{db_error, lock_error};
use crate::ports::{StoreError, StoreErrorKind};

/// The embedded migrations, in order: (version, name, SQL). Applied once each, in one
/// transaction each.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "configs, mode, CI mappings, audit log, records, work queue",
        include_str!("migrations/0001_configs_mode_ci_mappings_audit_records_queue.sql"),
    ),
    (
        2,
        "ticket templates",
        include_str!("migrations/0002_ticket_templates.sql"),
    ),
];

/// The advisory lock key held while migrating (one for the whole database).
const MIGRATION_LOCK: i64 = 0x6f72_6773_796e_6301;

/// The table that records the applied migrations, named after the crate so that no other
/// tool's `schema_migrations` is mistaken for it.
pub const MIGRATIONS_TABLE: &str = "ninjaone_servicenow_migrations";

impl PostgresStore {
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
}
