//! The connections of a [`PostgresStore`](super::PostgresStore): opened on demand, reused, at
//! most `max_connections` lent at once, plus sessions for the advisory locks outside that limit.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, NoTls};

use super::connect::Connector;
use crate::ports::{StoreError, StoreErrorKind};

/// A few connections, opened on demand and reused.
pub(super) struct Pool {
    pub(super) connector: Connector,
    /// Where the connections go, without the password (for messages).
    pub(super) target: String,
    pub(super) idle: Mutex<Vec<Client>>,
    pub(super) permits: Arc<Semaphore>,
}

/// A connection taken from the pool; goes back on drop unless closed or discarded.
pub(super) struct Conn {
    client: Option<Client>,
    pool: Arc<Pool>,
    /// `None` for a lock's session ([`Pool::get_for_lock`]), which is not one of the pool's.
    _permit: Option<OwnedSemaphorePermit>,
    pub(super) discard: bool,
}

impl Conn {
    /// The connection; `client` is only taken when the `Conn` is dropped.
    pub(super) fn client(&mut self) -> Result<&mut Client, StoreError> {
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
    pub(super) async fn get(self: &Arc<Self>) -> Result<Conn, StoreError> {
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
    pub(super) async fn get_for_lock(self: &Arc<Self>) -> Result<Conn, StoreError> {
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
