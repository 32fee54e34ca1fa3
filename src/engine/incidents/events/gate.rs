//! Deliveries' and passes' turns in one process: one delivery at a time per alert, an
//! applied pass alone, the resolves deliveries made since the last pass, and the latest
//! reset of each alert.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use futures_util::lock::{Mutex, OwnedMutexGuard};

use crate::model::AlertUid;

/// Who may touch which alert's records right now (in this process).
#[derive(Default)]
pub(crate) struct EventGate {
    state: SyncMutex<GateState>,
    /// Held by an applied pass for its whole run.
    pass: Arc<Mutex<()>>,
}

#[derive(Default)]
struct GateState {
    pass_running: bool,
    alerts: HashMap<AlertUid, Arc<Mutex<()>>>,
    /// Resolves made by deliveries since the last applied pass (the resolve guard's count).
    resolves: usize,
    /// The latest RESET seen of each alert (by `activityTime`), so a TRIGGERED older than it
    /// — a late retry, or a trigger the reset overtook — creates nothing. At most
    /// [`RESETS_KEPT`] alerts, the oldest resets forgotten first.
    resets: HashMap<AlertUid, DateTime<Utc>>,
}

/// How many alerts' latest resets an [`EventGate`] remembers (a few hundred KiB at most).
const RESETS_KEPT: usize = 4096;

impl std::fmt::Debug for EventGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("EventGate")
            .field("pass_running", &state.pass_running)
            .field("alerts_in_hand", &state.alerts.len())
            .finish_non_exhaustive()
    }
}

/// One delivery's turn at one alert.
pub(crate) struct AlertTurn<'g> {
    gate: &'g EventGate,
    uid: AlertUid,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for AlertTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut state = self.gate.lock();
        if state
            .alerts
            .get(&self.uid)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            state.alerts.remove(&self.uid);
        }
    }
}

/// An applied pass's turn: no delivery runs while it lives.
pub(crate) struct PassTurn<'g> {
    gate: &'g EventGate,
    held: Vec<OwnedMutexGuard<()>>,
    pass: Option<OwnedMutexGuard<()>>,
}

impl Drop for PassTurn<'_> {
    fn drop(&mut self) {
        self.held.clear();
        {
            let mut state = self.gate.lock();
            state.pass_running = false;
            state.resolves = 0;
            state.alerts.retain(|_, m| Arc::strong_count(m) > 1);
        }
        drop(self.pass.take());
    }
}

impl EventGate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the alert's turn (after any pass in progress).
    pub(crate) async fn enter(&self, uid: &AlertUid) -> AlertTurn<'_> {
        loop {
            let mutex = {
                let mut state = self.lock();
                if state.pass_running {
                    None
                } else {
                    Some(Arc::clone(state.alerts.entry(uid.clone()).or_default()))
                }
            };
            match mutex {
                Some(mutex) => {
                    let guard = mutex.lock_owned().await;
                    return AlertTurn {
                        gate: self,
                        uid: uid.clone(),
                        guard: Some(guard),
                    };
                }
                None => drop(Arc::clone(&self.pass).lock_owned().await),
            }
        }
    }

    /// Waits for the deliveries in hand and holds new ones until the turn is dropped.
    pub(crate) async fn pass_turn(&self) -> PassTurn<'_> {
        let pass = Arc::clone(&self.pass).lock_owned().await;
        let in_hand: Vec<Arc<Mutex<()>>> = {
            let mut state = self.lock();
            state.pass_running = true;
            state.alerts.values().cloned().collect()
        };
        let mut held = Vec::with_capacity(in_hand.len());
        for mutex in in_hand {
            held.push(mutex.lock_owned().await);
        }
        PassTurn {
            gate: self,
            held,
            pass: Some(pass),
        }
    }

    /// Reserves one resolve under the guard's `limit`; `false` when the guard would hold it.
    pub(super) fn reserve_resolve(&self, limit: usize) -> bool {
        let mut state = self.lock();
        if state.resolves >= limit {
            return false;
        }
        state.resolves += 1;
        true
    }

    /// Remembers that `uid` reset at `at` (keeping the latest).
    pub(super) fn note_reset(&self, uid: &AlertUid, at: DateTime<Utc>) {
        let mut state = self.lock();
        if !state.resets.contains_key(uid)
            && state.resets.len() >= RESETS_KEPT
            && let Some(oldest) = state
                .resets
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(uid, _)| uid.clone())
        {
            state.resets.remove(&oldest);
        }
        let latest = state.resets.entry(uid.clone()).or_insert(at);
        *latest = (*latest).max(at);
    }

    /// The latest reset remembered of `uid`.
    pub(super) fn reset_at(&self, uid: &AlertUid) -> Option<DateTime<Utc>> {
        self.lock().resets.get(uid).copied()
    }

    pub(super) fn release_resolve(&self) {
        let mut state = self.lock();
        state.resolves = state.resolves.saturating_sub(1);
    }
}
