//! PostgreSQL errors as [`StoreError`]s: conflicts, lock timeouts, cancelled statements, a
//! missing schema and unreadable rows, each with its kind and a hint.

use tokio_postgres::error::SqlState;

use crate::ports::{StoreError, StoreErrorKind};

/// Maps a PostgreSQL error: serialization failures, deadlocks and unique violations are
/// conflicts; a lock that was not available is `Locked`; everything else (connection, server)
/// is `Unavailable`.
pub(super) fn db_error(context: &str, err: tokio_postgres::Error) -> StoreError {
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
pub(super) fn lock_error(lock: &str, key: i64, err: tokio_postgres::Error) -> StoreError {
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

pub(super) fn corrupt(
    what: &str,
    err: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("a stored {what} cannot be read; it was not changed: look at the row"),
    )
    .with_source(err)
}
