//! Test utilities (feature `test-util`).
//!
//! In-memory fakes of both remote APIs — [`FakeNinjaOne`] and [`FakeServiceNow`] — that page,
//! fail and count calls like the real ones, with shared fault injection ([`Faults`]) and
//! deterministic, realistic tenants ([`customer_name`], [`standard_roles`], [`fixed_time`]); id
//! helpers ([`ids`]: `org(2)`, `sys_id(7)`, ...) and one seeded PRNG ([`SplitMix64`]);
//! and [`store_contract`], which checks any [`ConfigStore`](crate::ports::ConfigStore)
//! implementation against the trait's rules. With the feature `http` too, [`FakeServer`] serves
//! both fakes over HTTP on loopback ports, following the wire contract the HTTP clients speak.

mod contract;
mod faults;
#[cfg(feature = "http")]
mod http_server;
pub mod ids;
mod ninjaone;
mod paging;
pub mod rng;
mod servicenow;
mod tenant;

pub use contract::store_contract;
pub use faults::{
    Call, FaultKind, Faults, Method, NinjaOneMethod, ServiceNowMethod, StoreMethod, Verdict,
};
#[cfg(feature = "http")]
pub use http_server::{Api, FakeServer, FakeServerBuilder, LoggedRequest, ServerFault};
pub use ninjaone::{FakeNinjaOne, FakeNinjaOneBuilder, standard_roles};
pub use rng::SplitMix64;
pub use servicenow::{DEFAULT_DATA_SOURCES, FakeServiceNow, FakeServiceNowBuilder, StoredCi};
pub use tenant::{customer_name, fixed_time};
