//! What a planner pass and a worker did, with their one-line summaries for logs.

use serde::Serialize;

use crate::engine::outcome::{Stop, SummaryLine, Thousands};
use crate::engine::report::{OrganizationOutcome, Report};

/// What a planner pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WorkPlan {
    /// `false` when another planner held the lock and this one did nothing.
    pub planned: bool,
    /// The pass's report: the outcomes of the changes the planner made itself, and a
    /// [`Outcome::Planned`](crate::engine::Outcome::Planned) line for each configuration queued for the workers.
    pub report: Report,
    /// Items added to the queue (those already queued are not added again).
    pub enqueued: usize,
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Batches claimed.
    pub batches: usize,
    /// Items claimed.
    pub claimed: usize,
    /// Items applied.
    pub applied: usize,
    /// Items left to the next planner pass (their configuration changed since planning).
    pub skipped: usize,
    /// Items deferred (rate limit, or the worker stopped).
    pub deferred: usize,
    /// Items that failed (recorded on the configuration).
    pub failed: usize,
    /// Items whose lease this worker lost before completing them.
    pub lost: usize,
    /// Expired leases of other workers this worker returned to the queue.
    pub reclaimed: usize,
    /// Remote writes made.
    pub remote_writes: usize,
    /// Why the worker stopped early, if it did.
    pub stop: Option<Stop>,
    /// `true` when the worker found the integration disabled and released its claims.
    pub disabled: bool,
    /// One line per item applied, skipped, deferred or failed.
    pub outcomes: Vec<OrganizationOutcome>,
}

impl std::fmt::Display for WorkPlan {
    /// One line, for logs: `planner: 10 enqueued; sync: …` (the [`Report`]'s line), or
    /// `planner: another planner holds the lock`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.planned {
            write!(
                f,
                "planner: {} enqueued; {}",
                Thousands(self.enqueued),
                self.report
            )
        } else {
            f.write_str("planner: another planner holds the lock")
        }
    }
}

impl std::fmt::Display for WorkerReport {
    /// One line, for logs, with the same words as [`Report`]'s:
    /// `worker: 2 batches, 100 claimed, 98 applied, 0 failed, 98 remote writes` (then the
    /// other counts that are not zero, and the stop).
    ///
    /// ```
    /// use ninjaone_servicenow::engine::WorkerReport;
    /// assert_eq!(
    ///     WorkerReport::default().to_string(),
    ///     "worker: 0 batches, 0 claimed, 0 applied, 0 failed, 0 remote writes"
    /// );
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        SummaryLine {
            subject: "worker",
            dry_run: false,
            always: &[
                (self.batches, "batches"),
                (self.claimed, "claimed"),
                (self.applied, "applied"),
                (self.failed, "failed"),
            ],
            if_any: &[
                (self.skipped, "skipped"),
                (self.deferred, "deferred"),
                (self.lost, "lost"),
                (self.reclaimed, "reclaimed"),
            ],
            remote_writes: self.remote_writes,
            note: self.disabled.then_some("the integration is disabled"),
            stop: self.stop.as_ref(),
        }
        .fmt(f)
    }
}
