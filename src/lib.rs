//! # ninjaone-servicenow
//!
//! Keeps NinjaOne organizations and ServiceNow companies (and, with Customer Service Management,
//! customer accounts) mapped to each other, pushes their devices into the CMDB through
//! Identification and Reconciliation, and routes NinjaOne alerts into ServiceNow incidents (or
//! cases) that carry the mapped company: NinjaOne's ServiceNow "Organization Sync", as a library
//! an MSP's own Rust service embeds.
//!
//! ## Start here
//!
//! Start with [`OrganizationSync`], the service behind an "Organization Sync" screen: the
//! integration mode, one [`SyncConfig`] per organization with permission checks and an audit
//! trail, and the reconcile pass ([`OrganizationSync::run_once`]) that maps organizations to
//! companies and pushes devices into the CMDB. Then [`IncidentRouter`], which turns NinjaOne
//! alerts into tickets. Both are built from one [`Ports`] bundle — three ports and a clock:
//!
//! - [`NinjaOneApi`] and [`ServiceNowApi`]: the remote APIs. `http` (feature `http`) has ready
//!   clients; `testing` (feature `test-util`) has in-memory fakes that behave like the real
//!   tenants, awkward parts included;
//! - [`ConfigStore`]: where configurations, records and the audit trail live. [`store`] has an
//!   in-memory store, a locked JSON file and (feature `postgres`) PostgreSQL for many workers;
//!   a host with its own database implements the trait;
//! - [`clock::Clock`]: time, so that tests control it.
//!
//! A pass returns a compact report ([`engine::Report`], one-line `Display`;
//! [`engine::ReportDetail::Full`] lists every line). A pass stopped by refused credentials is an
//! `Err` ([`engine::SyncError::CredentialsRefused`]), never a quiet `Ok`; log every error with
//! [`engine::ErrorChain`], which says what failed and what to do, each once.
//!
//! `use ninjaone_servicenow::prelude::*;` brings the entry points, the [`Ports`] bundle, the
//! domain types, the port traits, the reports and [`engine::ErrorChain`] into scope.
//!
//! ## Modules
//!
//! - [`model`]: pure data — identifiers ([`SysId`], [`OrganizationId`]), NinjaOne's
//!   [`Organization`] and [`DeviceRole`], ServiceNow's [`Company`] and [`CustomerAccount`],
//!   [`SyncConfig`], [`SyncStatus`], [`IntegrationMode`], incidents, cases, CIs, ticket
//!   templates, the audit trail;
//! - [`machine`]: the pure status machine over [`SyncStatus`];
//! - [`plan`]: the pure planners — the sync plan, the CI plan, the ticket plan;
//! - [`ports`]: the async traits hosts implement or plug in, their errors and paging;
//! - [`engine`]: [`OrganizationSync`], its passes and workers, and
//!   [`engine::incidents`] with [`IncidentRouter`];
//! - [`clock`]: time as a dependency;
//! - [`store`]: ready [`ConfigStore`]s and work queues;
//! - `http` (feature `http`): HTTP clients for both APIs, on reqwest (rustls) and tokio;
//! - `testing` (feature `test-util`): the fakes of both APIs, the fake HTTP server and the
//!   store contract suite a host's own store runs;
//! - [`prelude`]: the common imports.
//!
//! The core has no async runtime: every future is runtime-agnostic.
// docs.rs builds with `--cfg docsrs` on nightly, where `doc_cfg` (which absorbed the removed
// `doc_auto_cfg`) labels feature-gated items with the feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

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

pub use engine::OrganizationSync;
pub use engine::incidents::IncidentRouter;
pub use model::{
    Company, CustomerAccount, DeviceRole, IntegrationMode, Organization, OrganizationId,
    SyncConfig, SyncStatus, SysId,
};
pub use ports::{ConfigStore, NinjaOneApi, Ports, ServiceNowApi};

/// The common imports of a host: the entry points and the [`Ports`] bundle they are built
/// from, the domain types, the port traits (and [`async_trait`](macro@crate::async_trait) for implementing them), the
/// policy, settings and engine options, the reports, the errors and [`ErrorChain`](crate::engine::ErrorChain)
/// to log them.
///
/// ```
/// use ninjaone_servicenow::prelude::*;
/// let id = OrganizationId::new(7)?;
/// assert_eq!(id.get(), 7);
/// let options = EngineOptions::builder().report(ReportDetail::Full).build();
/// assert_eq!(options.report(), ReportDetail::Full);
/// let err = SyncError::NotConfigured(id);
/// assert!(ErrorChain(&err).to_string().starts_with("organization 7 has no sync configuration"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod prelude {
    pub use crate::clock::{Clock, SystemClock};
    pub use crate::engine::incidents::{IncidentReport, IncidentRouter, IncidentSettings};
    pub use crate::engine::{
        Actor, ApplyMode, EngineOptions, ErrorChain, NextRun, OrganizationSync, Report,
        ReportDetail, Stop, SyncError,
    };
    pub use crate::model::{
        Company, CustomerAccount, DeviceRole, IntegrationMode, Organization, OrganizationId,
        SyncConfig, SyncStatus, SysId,
    };
    pub use crate::plan::Policy;
    pub use crate::ports::{
        ApiError, ApiErrorKind, ConfigStore, NinjaOneApi, Ports, Remote, ServiceNowApi, StoreError,
        StoreErrorKind,
    };
    pub use async_trait::async_trait;
}

/// The attribute every implementation of the crate's port traits ([`ports::NinjaOneApi`],
/// [`ports::ServiceNowApi`], [`ports::ConfigStore`], …) carries; re-exported so a host needs no
/// dependency of its own (see [`ports`] for why, and the E0195 a native `async fn` impl gives).
pub use async_trait::async_trait;

#[cfg(all(doctest, feature = "test-util", feature = "http"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
