//! [`WorkQueue`]: how several workers share a pass's per-configuration work.
//!
//! A planner (one at a time per tenant, see [`WorkQueue::lock_planner`]) decides what each
//! configuration needs and enqueues [`WorkItem`]s; any number of workers [`claim`] them in
//! batches under a lease, apply them and [`complete`] them. A lease that runs out (a crashed
//! worker) is [`reclaim`]ed and the items go back to the queue.
//!
//! Time is a parameter: leases are compared with the `now` the caller passes (the engine's
//! [`Clock`](crate::clock::Clock)), so every worker of a tenant should read a clock that agrees
//! within a small fraction of the lease.
//!
//! [`claim`]: WorkQueue::claim
//! [`complete`]: WorkQueue::complete
//! [`reclaim`]: WorkQueue::reclaim_expired

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::model::{OrganizationId, SysId};

/// What a worker does for one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
#[non_exhaustive]
pub enum WorkTask {
    /// Map to this existing company and activate; no remote write.
    Adopt {
        /// The company.
        company: SysId,
        /// Its name.
        company_name: String,
    },
    /// Create a company (a customer) with this name, map it and activate: one remote write.
    CreateCompany {
        /// The name to create.
        name: String,
    },
    /// Every reference checks out: activate; no remote write.
    Activate,
}

/// One configuration's planned work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkItem {
    /// The organization whose configuration the item changes.
    pub organization: OrganizationId,
    /// Its name, when the listing had it.
    pub organization_name: Option<String>,
    /// The configuration's version when the item was planned. A worker that finds another
    /// version leaves the item to the next planner pass (the configuration changed meanwhile,
    /// or a crashed worker got as far as saving it): the planner sees the whole picture again.
    pub version: u64,
    /// What to do.
    pub task: WorkTask,
}

impl WorkItem {
    /// An item for `organization`'s configuration at `version`.
    #[must_use]
    pub fn new(
        organization: OrganizationId,
        organization_name: Option<String>,
        version: u64,
        task: WorkTask,
    ) -> Self {
        Self {
            organization,
            organization_name,
            version,
            task,
        }
    }
}

/// A claimed item: the worker holds it until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The queue's id of the item.
    pub id: u64,
    /// Which claim of the item this is (1 for the first). Together with `id` it names the
    /// claim: completing a claim whose lease was reclaimed is refused.
    pub claim: u32,
    /// The worker holding it.
    pub worker: String,
    /// Until when the lease runs.
    pub lease_until: DateTime<Utc>,
    /// The work.
    pub item: WorkItem,
}

impl Claim {
    /// A claim as a queue hands it out.
    #[must_use]
    pub fn new(
        id: u64,
        claim: u32,
        worker: impl Into<String>,
        lease_until: DateTime<Utc>,
        item: WorkItem,
    ) -> Self {
        Self {
            id,
            claim,
            worker: worker.into(),
            lease_until,
            item,
        }
    }
}

/// How an item ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "detail")]
#[non_exhaustive]
pub enum WorkResult {
    /// Applied: the configuration was saved with the item's change (the outcome, as shown in a
    /// report).
    Applied(String),
    /// Not applied because the configuration changed since it was planned; the next planner
    /// pass decides again.
    Skipped(String),
    /// Deferred by a rate limit; the configuration carries its next attempt.
    Deferred(String),
    /// Failed; the failure is recorded on the configuration (or, for a conflict, the
    /// configuration is left as a person saved it).
    Failed(String),
}

impl WorkResult {
    /// Whether the item's change was applied.
    #[must_use]
    pub fn is_applied(&self) -> bool {
        matches!(self, Self::Applied(_))
    }
}

/// How many items a queue holds, by state and result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueueCounts {
    /// Waiting to be claimed.
    pub queued: usize,
    /// Claimed, lease not yet completed or reclaimed.
    pub claimed: usize,
    /// Completed (any result).
    pub done: usize,
    /// Completed as [`WorkResult::Applied`].
    pub applied: usize,
    /// Claims handed out over the items' life (an item reclaimed once counts two).
    pub claims: usize,
}

/// The planner lock of one tenant, held until [`release`](Self::release)d or dropped.
///
/// Dropping it without `release` frees it too (for PostgreSQL, by closing the session that
/// holds the advisory lock), only less promptly.
#[async_trait]
pub trait PlannerGuard: Send + Sync + Debug {
    /// Frees the lock.
    ///
    /// # Errors
    /// When the store could not be reached; the lock is freed when the session ends anyway.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// A queue of per-configuration work shared by several workers.
///
/// # Guarantees every implementation gives
/// - At most one outstanding (queued or claimed) item per organization: enqueueing another is
///   skipped.
/// - A claimed item is held by one worker until it completes, releases it, or its lease runs
///   out and [`reclaim_expired`](Self::reclaim_expired) returns it to the queue.
/// - [`complete`](Self::complete) of a claim that is no longer held (reclaimed meanwhile) is a
///   [`StoreErrorKind::Conflict`](super::StoreErrorKind::Conflict) and changes nothing.
/// - At most one [`lock_planner`](Self::lock_planner) guard exists at a time.
#[async_trait]
pub trait WorkQueue: Send + Sync + Debug {
    /// Takes the planner lock; `None` when another planner holds it.
    async fn lock_planner(&self) -> Result<Option<Box<dyn PlannerGuard>>, StoreError>;

    /// Adds items; returns how many were added (an organization with an outstanding item is
    /// skipped).
    async fn enqueue(&self, items: Vec<WorkItem>, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Claims up to `max` queued items, oldest first, for `worker` until `now + lease`. Items
    /// other workers hold are skipped, never waited for.
    async fn claim(
        &self,
        worker: &str,
        max: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError>;

    /// Marks a claimed item done with its result.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`](super::StoreErrorKind::Conflict) when the claim is no longer
    /// held.
    async fn complete(
        &self,
        claim: &Claim,
        result: &WorkResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Returns a claimed item to the queue unapplied (a worker stopping early).
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`](super::StoreErrorKind::Conflict) when the claim is no longer
    /// held.
    async fn release(&self, claim: &Claim) -> Result<(), StoreError>;

    /// Returns every item whose lease ended before `now` to the queue; returns how many.
    async fn reclaim_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// How many items are in each state.
    async fn counts(&self) -> Result<QueueCounts, StoreError>;
}

/// `now + lease`, saturating at the latest representable time.
pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
