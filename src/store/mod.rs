//! Ready [`ConfigStore`](crate::ports::ConfigStore) implementations.
//!
//! - [`MemoryStore`]: everything in memory, shared between clones; for tests, demos and hosts
//!   that rebuild their state on start.
//!
//! It applies writes through an internal state other stores can share, and passes
//! [`testing::store_contract`](crate::testing::store_contract) (feature `test-util`), which a
//! host's own store (a database, say) should pass too.

mod memory;
mod state;

pub use memory::MemoryStore;
