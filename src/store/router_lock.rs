//! The in-process incident-router locks of [`MemoryStore`](super::MemoryStore) and
//! [`JsonFileStore`](super::JsonFileStore): a set of held integration ids shared by the
//! store (and its clones), each freed when its guard is released or dropped.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::ports::{RouterGuard, StoreError};

/// The integration ids whose router lock is held.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouterLocks {
    held: Arc<Mutex<BTreeSet<String>>>,
}

impl RouterLocks {
    fn held(&self) -> MutexGuard<'_, BTreeSet<String>> {
        // The set is changed by single inserts and removes: always consistent.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `integration_id`'s lock; `None` when it is held.
    pub(crate) fn try_lock(&self, integration_id: &str) -> Option<Box<dyn RouterGuard>> {
        if !self.held().insert(integration_id.to_owned()) {
            return None;
        }
        Some(Box::new(LocalRouterGuard {
            locks: self.clone(),
            integration_id: integration_id.to_owned(),
        }))
    }
}

#[derive(Debug)]
struct LocalRouterGuard {
    locks: RouterLocks,
    integration_id: String,
}

impl Drop for LocalRouterGuard {
    fn drop(&mut self) {
        self.locks.held().remove(&self.integration_id);
    }
}

#[async_trait]
impl RouterGuard for LocalRouterGuard {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        drop(self);
        Ok(())
    }
}
