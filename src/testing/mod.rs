//! Test utilities (feature `test-util`).
//!
//! In-memory fakes of both remote APIs — [`FakeNinjaOne`] and [`FakeServiceNow`] — that page,
//! fail and count calls like the real ones, with shared fault injection ([`Faults`]) and
//! deterministic, realistic tenants ([`customer_name`], [`standard_roles`], [`fixed_time`]);
//! and [`store_contract`], which checks any [`ConfigStore`](crate::ports::ConfigStore)
//! implementation against the trait's rules.

mod contract;
mod faults;
mod ninjaone;
mod paging;
mod servicenow;
mod tenant;

pub use contract::store_contract;
pub use faults::Faults;
pub use ninjaone::{FakeNinjaOne, FakeNinjaOneBuilder, standard_roles};
pub use servicenow::{FakeServiceNow, FakeServiceNowBuilder, StoredCi};
pub use tenant::{customer_name, fixed_time};
