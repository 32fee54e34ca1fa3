//! The resolve guard: how many of the open tickets one pass may resolve before it holds
//! them all for an administrator.

use serde::Serialize;

/// The resolve guard: a pass that would resolve more tickets than [`limit`](Self::limit) of
/// the open ones resolves none of them and holds them all until an administrator approves
/// (`IncidentRouter::approve_resolves`, in the engine a layer up).
/// It catches an alert listing that came back empty or narrowed — an outage, a narrowed API
/// role, credentials of the wrong tenant — before it resolves every open incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolveGuard {
    /// The limit is never below this (default 10).
    pub(crate) floor: usize,
    /// The limit is this percentage of the open tickets, rounded up (default 10).
    pub(crate) percent: usize,
}

impl Default for ResolveGuard {
    fn default() -> Self {
        Self {
            floor: 10,
            percent: 10,
        }
    }
}

impl ResolveGuard {
    /// The limit is never below this.
    #[must_use]
    pub fn floor(&self) -> usize {
        self.floor
    }

    /// The limit is this percentage of the open tickets, rounded up.
    #[must_use]
    pub fn percent(&self) -> usize {
        self.percent
    }

    /// A guard with the given floor and percentage.
    #[must_use]
    pub fn new(floor: usize, percent: usize) -> Self {
        Self { floor, percent }
    }

    /// How many tickets one pass may resolve without approval, out of `open` recorded open
    /// tickets: `max(floor, ceil(open × percent / 100))`.
    ///
    /// ```
    /// use ninjaone_servicenow::plan::ResolveGuard;
    /// let guard = ResolveGuard::default();
    /// assert_eq!(guard.limit(40), 10);
    /// assert_eq!(guard.limit(101), 11);
    /// ```
    #[must_use]
    pub fn limit(&self, open: usize) -> usize {
        open.saturating_mul(self.percent)
            .div_ceil(100)
            .max(self.floor)
    }
}

/// What the resolve guard saw in a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolveGuardState {
    /// Tickets recorded open before the pass.
    pub open: usize,
    /// Resolves the pass would make.
    pub resolves: usize,
    /// The guard's limit for `open`.
    pub limit: usize,
    /// Whether the resolves are held ([`TicketDecision::Held`](super::TicketDecision::Held)).
    pub held: bool,
}
