//! Ports: the async traits hosts implement or plug in — [`NinjaOneApi`], [`ServiceNowApi`] and
//! [`ConfigStore`] (and [`WorkQueue`] for several workers).
//!
//! They are [`#[async_trait]`](macro@async_trait) traits — object safe, `Send + Sync + Debug`,
//! meant to be held as `Arc<dyn …>` — so an implementation carries `#[async_trait]` too (this
//! module and the crate root re-export it). A native `async fn` in the `impl` block without the
//! attribute gives error E0195 for every method; add the attribute. Each trait's docs show an
//! implementation, and [`ConfigStore`]'s states [the store rules](ConfigStore#rules) once.
//!
//! Methods have default bodies only where the default is real behaviour (reading one by one,
//! say); every other method — the ticket and CI records, the case methods, the CMDB dry run and
//! owner lookups, the detailed device listing — is required, so a host learns of a missing one
//! from the compiler rather than from a failure at run time. They stay on the three traits
//! rather than in traits of their own: both engines need every one of them (the router reads
//! the CI records for `cmdb_ci`, the sync writes them), so a split would only add bounds to
//! carry around.

mod bundle;
mod error;
mod ninjaone;
mod page;
mod queue;
mod servicenow;
mod store;

pub use async_trait::async_trait;

pub use bundle::Ports;
pub use error::{ApiError, ApiErrorKind, Remote, StoreError, StoreErrorKind};
pub use ninjaone::NinjaOneApi;
pub use page::{
    Cursor, DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE, Listing, Page, PageRequest, collect_all,
};
pub(crate) use queue::lease_end;
pub use queue::{Claim, PlannerGuard, QueueCounts, WorkItem, WorkQueue, WorkResult, WorkTask};
pub use servicenow::{IncidentQuery, ServiceNowApi};
pub use store::{ConfigStore, RouterGuard, WriteBatch};
