//! [`MemoryQueue`]: a [`WorkQueue`] in memory.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::OrganizationId;
use crate::ports::{
    Claim, PlannerGuard, QueueCounts, StoreError, StoreErrorKind, WorkItem, WorkQueue, WorkResult,
    lease_end,
};

/// A [`WorkQueue`] in memory, shared between clones: the queue of workers running in one
/// process (tasks or threads), with the same rules as the PostgreSQL queue.
///
/// ```
/// use std::time::Duration;
/// use ninjaone_servicenow::model::OrganizationId;
/// use ninjaone_servicenow::ports::{WorkItem, WorkQueue, WorkResult, WorkTask};
/// use ninjaone_servicenow::store::MemoryQueue;
/// use ninjaone_servicenow::testing::fixed_time;
/// # futures::executor::block_on(async {
/// let queue = MemoryQueue::new();
/// let now = fixed_time();
/// let item = WorkItem::new(OrganizationId::new(1)?, None, 1, WorkTask::Activate);
/// assert_eq!(queue.enqueue(vec![item.clone(), item], now).await?, 1); // one per organization
/// let claims = queue.claim("worker-1", 10, now, Duration::from_secs(60)).await?;
/// assert_eq!(claims.len(), 1);
/// queue.complete(&claims[0], &WorkResult::Applied("activated".into()), now).await?;
/// assert_eq!(queue.counts().await?.applied, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryQueue {
    inner: Arc<Mutex<QueueState>>,
}

#[derive(Default)]
struct QueueState {
    next_id: u64,
    items: BTreeMap<u64, Entry>,
    /// Ids of queued items, oldest first, so a claim never scans completed ones.
    queued: BTreeSet<u64>,
    /// Ids of claimed items, for reclaiming.
    claimed: BTreeSet<u64>,
    outstanding: HashSet<OrganizationId>,
    planner_locked: bool,
}

struct Entry {
    item: WorkItem,
    state: State,
    claims: u32,
}

enum State {
    Queued,
    Claimed {
        worker: String,
        until: DateTime<Utc>,
    },
    Done(WorkResult),
}

impl MemoryQueue {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every change is made whole under the lock, so a poisoned state is a consistent one.
    fn state(&self) -> MutexGuard<'_, QueueState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The held entry of `claim`, or a conflict saying the lease is gone.
    fn held<'a>(state: &'a mut QueueState, claim: &Claim) -> Result<&'a mut Entry, StoreError> {
        match state.items.get_mut(&claim.id) {
            Some(entry)
                if entry.claims == claim.claim
                    && matches!(&entry.state, State::Claimed { worker, .. } if *worker == claim.worker) =>
            {
                Ok(entry)
            }
            _ => Err(lost(claim)),
        }
    }
}

/// The error of completing or releasing a claim that is no longer held.
pub(crate) fn lost(claim: &Claim) -> StoreError {
    StoreError::new(
        StoreErrorKind::Conflict,
        format!(
            "work item {} (organization {}) is no longer held by {} (claim {}): its lease ran \
             out and it was reclaimed; the item's result is left to whoever holds it now",
            claim.id, claim.item.organization, claim.worker, claim.claim
        ),
    )
}

impl fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryQueue")
            .field("items", &state.items.len())
            .field("outstanding", &state.outstanding.len())
            .field("planner_locked", &state.planner_locked)
            .finish()
    }
}

/// The planner lock of a [`MemoryQueue`]; dropping it frees the lock.
struct MemoryPlannerGuard {
    queue: MemoryQueue,
}

impl fmt::Debug for MemoryPlannerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryPlannerGuard")
    }
}

impl Drop for MemoryPlannerGuard {
    fn drop(&mut self) {
        self.queue.state().planner_locked = false;
    }
}

#[async_trait]
impl PlannerGuard for MemoryPlannerGuard {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        drop(self);
        Ok(())
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn lock_planner(&self) -> Result<Option<Box<dyn PlannerGuard>>, StoreError> {
        let mut state = self.state();
        if state.planner_locked {
            return Ok(None);
        }
        state.planner_locked = true;
        Ok(Some(Box::new(MemoryPlannerGuard {
            queue: self.clone(),
        })))
    }

    async fn enqueue(&self, items: Vec<WorkItem>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let _ = now;
        let mut state = self.state();
        let mut added = 0;
        for item in items {
            if !state.outstanding.insert(item.organization) {
                continue;
            }
            state.next_id += 1;
            let id = state.next_id;
            state.queued.insert(id);
            state.items.insert(
                id,
                Entry {
                    item,
                    state: State::Queued,
                    claims: 0,
                },
            );
            added += 1;
        }
        Ok(added)
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        let until = lease_end(now, lease);
        let mut state = self.state();
        let state = &mut *state;
        let mut claims = Vec::new();
        while claims.len() < max {
            let Some(id) = state.queued.pop_first() else {
                break;
            };
            let Some(entry) = state.items.get_mut(&id) else {
                continue;
            };
            entry.claims += 1;
            entry.state = State::Claimed {
                worker: worker.to_owned(),
                until,
            };
            state.claimed.insert(id);
            claims.push(Claim::new(
                id,
                entry.claims,
                worker,
                until,
                entry.item.clone(),
            ));
        }
        Ok(claims)
    }

    async fn complete(
        &self,
        claim: &Claim,
        result: &WorkResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _ = now;
        let mut state = self.state();
        let entry = Self::held(&mut state, claim)?;
        entry.state = State::Done(result.clone());
        let organization = entry.item.organization;
        state.outstanding.remove(&organization);
        state.claimed.remove(&claim.id);
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        let mut state = self.state();
        Self::held(&mut state, claim)?.state = State::Queued;
        state.claimed.remove(&claim.id);
        state.queued.insert(claim.id);
        Ok(())
    }

    async fn reclaim_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut state = self.state();
        let state = &mut *state;
        let mut reclaimed = 0;
        for id in &state.claimed {
            if let Some(entry) = state.items.get_mut(id)
                && matches!(entry.state, State::Claimed { until, .. } if until < now)
            {
                entry.state = State::Queued;
                state.queued.insert(*id);
                reclaimed += 1;
            }
        }
        let queued = &state.queued;
        state.claimed.retain(|id| !queued.contains(id));
        Ok(reclaimed)
    }

    async fn counts(&self) -> Result<QueueCounts, StoreError> {
        let state = self.state();
        let mut counts = QueueCounts::default();
        for entry in state.items.values() {
            counts.claims += entry.claims as usize;
            match &entry.state {
                State::Queued => counts.queued += 1,
                State::Claimed { .. } => counts.claimed += 1,
                State::Done(result) => {
                    counts.done += 1;
                    if result.is_applied() {
                        counts.applied += 1;
                    }
                }
            }
        }
        Ok(counts)
    }
}
