//! Test utilities (feature `test-util`).
//!
//! In-memory fakes of both remote APIs — [`FakeNinjaOne`] and [`FakeServiceNow`] — that page,
//! fail and count calls like the real ones, with shared fault injection ([`Faults`]) and
//! deterministic, realistic tenants ([`customer_name`], [`standard_roles`], [`fixed_time`]);
//! and [`store_contract`], which checks any [`ConfigStore`](crate::ports::ConfigStore)
//! implementation against the trait's rules. With the feature `http` too, [`FakeServer`] serves
//! both fakes over HTTP on loopback ports, following the wire contract the HTTP clients speak.

mod contract;
mod faults;
#[cfg(feature = "http")]
mod http_server;
mod ninjaone;
mod paging;
mod servicenow;
mod tenant;

pub use contract::store_contract;
pub use faults::Faults;
#[cfg(feature = "http")]
pub use http_server::{Api, FakeServer, FakeServerBuilder, LoggedRequest, ServerFault};
pub use ninjaone::{FakeNinjaOne, FakeNinjaOneBuilder, standard_roles};
pub use servicenow::{DEFAULT_DATA_SOURCES, FakeServiceNow, FakeServiceNowBuilder, StoredCi};
pub use tenant::{customer_name, fixed_time};
