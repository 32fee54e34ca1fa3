//! The connections of a [`PostgresStore`](super::PostgresStore), lent by deadpool-postgres: at
//! most `max_connections` for reads and writes, and lock sessions outside that limit.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{
    ClientWrapper, Connect, Manager, ManagerConfig, Object, PoolError, QueueMode, RecyclingMethod,
    Runtime, TimeoutType,
};
use tokio::task::JoinHandle;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, Socket};

use super::connect::Connector;
use crate::ports::{StoreError, StoreErrorKind};

/// The two pools of a store: `reads` (reads and writes, `max_connections`) and `locks` (the
/// sessions that hold a planner or router lock for a whole pass).
///
/// Lock sessions are kept apart because the pass under the lock needs the pool's connections
/// for its reads and writes: with the lock on the pool's last one, the pass would wait for
/// ever, still holding the lock. `locks` keeps up to `max_connections` lock sessions for reuse;
/// past that a lock session is opened for the lock and closed on release. So a store opens at
/// most `max_connections` plus one per lock it holds at once.
pub(super) struct Pool {
    /// Where the connections go, without the password (for messages).
    pub(super) target: String,
    /// Whether the connections use TLS.
    pub(super) tls: bool,
    connect_timeout: Duration,
    /// How `locks` opens its connections, for a lock session past its size.
    config: Config,
    opener: Opener,
    reads: deadpool_postgres::Pool,
    locks: deadpool_postgres::Pool,
}

/// A connection taken from the pool; goes back on drop unless closed or discarded.
pub(super) struct Conn {
    session: Option<Session>,
    pub(super) discard: bool,
}

/// A pooled connection, or a lock session opened past the lock pool's size.
enum Session {
    Pooled(Object),
    Unpooled(ClientWrapper),
}

impl Conn {
    /// The connection; `session` is only taken when the `Conn` is dropped.
    pub(super) fn client(&mut self) -> Result<&mut Client, StoreError> {
        match self.session.as_mut() {
            Some(Session::Pooled(object)) => Ok(object),
            Some(Session::Unpooled(client)) => Ok(client),
            None => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "a pooled PostgreSQL connection was used after it was returned",
            )),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A discarded connection is taken out of the pool and closed (its session, and the
        // session's advisory locks, end with it); an unpooled one is closed in any case.
        if self.discard
            && let Some(Session::Pooled(object)) = self.session.take()
        {
            drop(Object::take(object));
        }
    }
}

/// Opens one connection as the [`Connector`] says (TLS or not), with its driver task on the
/// runtime; a connection that ends with an error is logged.
#[derive(Clone)]
struct Opener {
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    target: String,
}

impl Opener {
    async fn open<T>(
        config: Config,
        tls: T,
        target: String,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error>
    where
        T: MakeTlsConnect<Socket> + Send + Sync + 'static,
        T::Stream: Send + Sync,
        T::TlsConnect: Send + Sync,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let (client, connection) = config.connect(tls).await?;
        let task = tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::warn!(database = %target, error = %err, "a PostgreSQL connection ended");
            }
        });
        Ok((client, task))
    }
}

/// A connection being opened.
type Opening<'a> = Pin<
    Box<dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + 'a>,
>;

impl Connect for Opener {
    fn connect(&self, config: &Config) -> Opening<'_> {
        let config = config.clone();
        let target = self.target.clone();
        match &self.tls {
            Some(tls) => Box::pin(Self::open(config, tls.clone(), target)),
            None => Box::pin(Self::open(config, NoTls, target)),
        }
    }
}

impl Pool {
    /// The pools of `connector`, lending at most `max_connections` (at least 1) for reads and
    /// writes. Opens nothing yet.
    pub(super) fn new(
        connector: Connector,
        target: String,
        max_connections: usize,
    ) -> Result<Self, StoreError> {
        let size = max_connections.max(1);
        let opener = Opener {
            tls: connector.tls.clone(),
            target: target.clone(),
        };
        let build = |size: usize, wait: Option<Duration>| {
            let manager = Manager::from_connect(
                connector.config.clone(),
                opener.clone(),
                ManagerConfig {
                    // As before: an idle connection is reused while it is open, unchecked.
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            deadpool_postgres::Pool::builder(manager)
                .max_size(size)
                // As before: the connection used last is lent first.
                .queue_mode(QueueMode::Lifo)
                .runtime(Runtime::Tokio1)
                .wait_timeout(wait)
                .create_timeout(Some(connector.connect_timeout))
                .build()
                .map_err(|err| {
                    StoreError::new(
                        StoreErrorKind::Invalid,
                        format!("the PostgreSQL connection pool cannot be set up: {err}"),
                    )
                })
        };
        Ok(Self {
            tls: connector.uses_tls(),
            connect_timeout: connector.connect_timeout,
            // Reads and writes wait for a free connection, however long.
            reads: build(size, None)?,
            // A lock never waits for a session: past the pool's size it gets one of its own.
            locks: build(size, Some(Duration::ZERO))?,
            config: connector.config,
            opener,
            target,
        })
    }

    /// A connection for reads and writes: waits while `max_connections` are lent.
    pub(super) async fn get(&self) -> Result<Conn, StoreError> {
        Self::runtime()?;
        let object = self.reads.get().await.map_err(|e| self.failed(e))?;
        Ok(Conn {
            session: Some(Session::Pooled(object)),
            discard: false,
        })
    }

    /// A connection for a session-level lock (the planner's, a router's), held for a whole
    /// pass: outside the pool's `max_connections` (see [`Pool`]).
    pub(super) async fn get_for_lock(&self) -> Result<Conn, StoreError> {
        Self::runtime()?;
        let session = match self.locks.get().await {
            Ok(object) => Session::Pooled(object),
            Err(PoolError::Timeout(TimeoutType::Wait)) => {
                let (client, task) =
                    tokio::time::timeout(self.connect_timeout, self.opener.connect(&self.config))
                        .await
                        .map_err(|_| self.failed(PoolError::Timeout(TimeoutType::Create)))?
                        .map_err(|e| self.failed(PoolError::Backend(e)))?;
                Session::Unpooled(ClientWrapper::new(client, task))
            }
            Err(err) => return Err(self.failed(err)),
        };
        Ok(Conn {
            session: Some(session),
            discard: false,
        })
    }

    fn runtime() -> Result<(), StoreError> {
        tokio::runtime::Handle::try_current()
            .map(drop)
            .map_err(|_| {
                StoreError::new(
                    StoreErrorKind::Unavailable,
                    "PostgresStore needs a tokio runtime: call it from within one",
                )
            })
    }

    /// Why no connection could be had, as a [`StoreError`].
    fn failed(&self, err: PoolError) -> StoreError {
        match err {
            PoolError::Backend(err) => {
                // tokio-postgres says "error performing TLS handshake" and keeps why in its
                // source ("invalid peer certificate: UnknownIssuer"): name the innermost cause.
                let mut cause = std::error::Error::source(&err);
                let mut why = String::new();
                while let Some(inner) = cause {
                    why = format!(" ({inner})");
                    cause = inner.source();
                }
                let hint = if self.tls {
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
            }
            PoolError::Timeout(TimeoutType::Create) => StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "could not connect to PostgreSQL at {}: no session within {} ms (TCP, TLS \
                     and authentication); check that the server answers, or raise \
                     PostgresOptionsBuilder::connect_timeout",
                    self.target,
                    self.connect_timeout.as_millis()
                ),
            ),
            PoolError::Closed => StoreError::new(
                StoreErrorKind::Unavailable,
                "the connection pool was closed",
            ),
            other => StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "no PostgreSQL connection to {} could be had ({other}); retry later",
                    self.target
                ),
            ),
        }
    }
}
