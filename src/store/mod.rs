//! Ready [`ConfigStore`](crate::ports::ConfigStore) implementations.
//!
//! - [`MemoryStore`]: everything in memory, shared between clones; for tests, demos and hosts
//!   that rebuild their state on start.
//! - [`JsonFileStore`]: one JSON file, replaced atomically on each write and locked against a
//!   second process; for single-instance hosts that need no database.
//! - [`MemoryQueue`]: a [`WorkQueue`](crate::ports::WorkQueue) in memory, for workers of one
//!   process.
//! - `PostgresStore` (feature `postgres`): configurations, records, audit log and the work queue
//!   of many tenants in one PostgreSQL database, shared by workers on several machines.
//!
//! Both apply writes through the same internal state, so they behave identically; both pass
//! [`testing::store_contract`](crate::testing::store_contract) (feature `test-util`), which a
//! host's own store (a database, say) should pass too.

mod json_file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod queue;
mod router_lock;
mod state;

pub use json_file::JsonFileStore;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{
    MIGRATIONS, MIGRATIONS_TABLE, PlainTcp, PostgresOptions, PostgresOptionsBuilder, PostgresStore,
    TenantId,
};
pub use queue::MemoryQueue;
