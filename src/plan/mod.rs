//! The planner: both sides as a pass saw them, the stored configurations and the mode in; the
//! [`Plan`] out. Pure, deterministic and sorted by organization: the same input gives the same
//! plan, byte for byte, and nothing here does I/O or reads the clock.
//!
//! # What the planner decides
//!
//! | configuration | decision |
//! | --- | --- |
//! | none, active mode | matched by name: one company → [`Decision::Adopt`]; none → [`Decision::CreateCompany`] (or, with [`UnmatchedPolicy::LeaveUnmapped`], [`Decision::Fail`]); several, or a company another organization holds, or another organization with the same name → [`Decision::Fail`] |
//! | none, inactive mode | nothing (counted in [`Plan::unconfigured`]) |
//! | any but deleted, organization gone from a complete listing | [`Decision::Tombstone`] |
//! | inactive | [`Decision::Unchanged`] until a person resumes it |
//! | pending or in queue, waiting for its backoff | [`Decision::Deferred`] |
//! | pending or in queue without a company | matched by name, as for a new one (look before creating again) |
//! | pending, in queue or active with a company | its references checked: company, customer account, CI mappings and their device roles; all present → [`Decision::Activate`] (or [`Decision::Unchanged`] when active); one gone → [`Decision::Fail`] |
//!
//! Whatever depends on a listing that was incomplete or unavailable is [`Decision::Unknown`]:
//! never "absent", never created again. Tombstones and failures of existing configurations
//! beyond the [`DeletionGuard`] limit are all [`Decision::Held`] until approved
//! ([`Plan::release_held`]).
//!
//! Names are compared with [`normalize_name`](crate::model::normalize_name); they are matched
//! here, locally, and never sent to ServiceNow in a query.

mod ci;
mod decision;
mod names;
mod planner;
mod policy;
mod snapshot;
pub mod tickets;

pub use ci::{
    CiHeld, CiMappingConflict, CiPlan, CiSkipReason, CmdbSettings, CmdbSettingsBuilder,
    DEFAULT_CI_BATCH, DEFAULT_CI_DATA_SOURCE, PlannedCi, ci_fingerprint, ci_identity,
    ci_internal_id, plan_cis,
};
pub use decision::{Decision, Drift, FailReason, GuardCheck, Plan, PlanCounts, PlanItem};
pub use planner::plan;
pub use policy::{
    DeletionGuard, Policy, PolicyBuilder, RetryPolicy, RetryPolicyBuilder, UnmatchedPolicy,
};
pub use snapshot::{Observed, Snapshot};
pub use tickets::{
    ListedTicket, ListedTickets, PlannedTicket, ResolveGuard, ResolveGuardState, RouteDecision,
    RoutingIndex, SkipReason, StoreChange, TicketBody, TicketDecision, TicketInputs, TicketListing,
    TicketPlan, UrgencyImpactTable, alert_digest, digest_matches, plan_tickets, route,
};

#[cfg(test)]
mod tests;
