//! # ninjaone-servicenow
//!
//! Keeps NinjaOne organizations and ServiceNow companies (and, with Customer Service Management,
//! customer accounts) mapped to each other, and routes NinjaOne alerts into ServiceNow incidents
//! that carry the mapped company.
//!
//! The crate is layered as a functional core with an imperative shell:
//!
//! - [`model`]: pure data — identifiers, NinjaOne and ServiceNow types, [`model::SyncConfig`],
//!   [`model::SyncStatus`], the audit trail;
//! - [`machine`]: the pure status machine over [`model::SyncStatus`];
//! - [`ports`]: the async traits hosts implement or plug in ([`ports::NinjaOneApi`],
//!   [`ports::ServiceNowApi`], [`ports::ConfigStore`]), their errors and paging;
//! - [`clock`]: time as a dependency;
//! - [`store`]: ready [`ports::ConfigStore`]s — in memory and a locked JSON file;
//! - `http` (feature `http`): HTTP clients for both APIs, on reqwest and tokio;
//! - `testing` (feature `test-util`): in-memory fakes of both APIs and the store contract suite.
//!
//! The core has no async runtime: every future is runtime-agnostic.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod clock;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod machine;
pub mod model;
pub mod plan;
pub mod ports;
pub mod store;
#[cfg(feature = "test-util")]
pub mod testing;

/// The attribute every implementation of the crate's port traits ([`ports::NinjaOneApi`],
/// [`ports::ServiceNowApi`], [`ports::ConfigStore`], …) carries; re-exported so a host needs no
/// dependency of its own (see [`ports`] for why, and the E0195 a native `async fn` impl gives).
pub use async_trait::async_trait;

#[cfg(all(doctest, feature = "test-util", feature = "http"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
