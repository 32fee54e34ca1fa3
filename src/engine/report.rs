//! What a pass did: the [`Report`], one [`OrganizationOutcome`] per organization, why a pass
//! stopped ([`Stop`]) and when to run again ([`NextRun`]).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cmdb::CiReport;
use crate::model::{IntegrationMode, OrganizationId, SyncStatus, SysId};
use crate::plan::Plan;

/// Whether a pass only plans or also applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMode {
    /// Take the snapshot and plan; write nothing anywhere.
    DryRun,
    /// Plan and apply.
    Apply,
}

/// What kind of failure an organization had in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// A retry will not fix it; the configuration is inactive with the reason.
    Permanent,
    /// It may pass on retry; the configuration is pending with a backoff.
    Transient,
    /// Too many transient failures in a row; the configuration is inactive (quarantined).
    Quarantined,
    /// The configuration changed during the pass (a person edited it); the next pass takes the
    /// new version.
    Conflict,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Quarantined => "quarantined",
            Self::Conflict => "conflict",
        })
    }
}

/// What happened to one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum Outcome {
    /// A company was created in ServiceNow and mapped.
    Created {
        /// The new company.
        company: SysId,
        /// Its name.
        name: String,
    },
    /// An existing company was mapped by name.
    Matched {
        /// The company.
        company: SysId,
        /// Its name.
        name: String,
    },
    /// Every reference checked out; the configuration is active.
    Activated,
    /// Nothing to do.
    Unchanged,
    /// Not attempted in this pass: waiting for a backoff, a rate limit, or a stopped pass.
    Deferred {
        /// The earliest next attempt, when known.
        until: Option<DateTime<Utc>>,
        /// Why.
        reason: String,
    },
    /// Held by the deletion guard until approved.
    Held {
        /// The held change.
        change: String,
    },
    /// It failed.
    Failed {
        /// What kind of failure.
        kind: FailureKind,
        /// Why, in words.
        reason: String,
    },
    /// The organization is gone from NinjaOne; the configuration is a tombstone.
    Deleted,
    /// Not decidable in this pass: a listing was incomplete or unavailable.
    Unknown {
        /// Why.
        reason: String,
    },
    /// A dry run: this is what the pass would do.
    Planned {
        /// The planned decision, in words.
        decision: String,
    },
}

impl Outcome {
    /// A short name: "created", "matched", "activated", "unchanged", "deferred", "held",
    /// "failed", "deleted", "unknown", "planned".
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Created { .. } => "created",
            Self::Matched { .. } => "matched",
            Self::Activated => "activated",
            Self::Unchanged => "unchanged",
            Self::Deferred { .. } => "deferred",
            Self::Held { .. } => "held",
            Self::Failed { .. } => "failed",
            Self::Deleted => "deleted",
            Self::Unknown { .. } => "unknown",
            Self::Planned { .. } => "planned",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created { company, name } => write!(f, "created company {name:?} ({company})"),
            Self::Matched { company, name } => write!(f, "matched company {name:?} ({company})"),
            Self::Activated => f.write_str("activated"),
            Self::Unchanged => f.write_str("unchanged"),
            Self::Deferred {
                until: Some(until),
                reason,
            } => write!(
                f,
                "deferred until {}: {reason}",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Self::Deferred {
                until: None,
                reason,
            } => write!(f, "deferred: {reason}"),
            Self::Held { change } => write!(f, "held for approval: {change}"),
            Self::Failed { kind, reason } => write!(f, "failed ({kind}): {reason}"),
            Self::Deleted => f.write_str("deleted: the organization is gone from NinjaOne"),
            Self::Unknown { reason } => write!(f, "unknown: {reason}"),
            Self::Planned { decision } => write!(f, "would {decision}"),
        }
    }
}

/// One organization's line of a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OrganizationOutcome {
    /// The organization.
    pub organization: OrganizationId,
    /// Its name, when the listing had it.
    pub organization_name: Option<String>,
    /// The configuration's status after the pass (`None`: the organization has none).
    pub status: Option<SyncStatus>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Why a pass stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "stop")]
#[non_exhaustive]
pub enum Stop {
    /// The integration's own credentials were refused (401 or 403). No further write was
    /// started, and no configuration was failed, counted or quarantined for it: those the pass
    /// had queued stay `in_queue` and are picked up by the next pass. Fix the credentials or
    /// their roles.
    Credentials {
        /// Which API: "NinjaOne" or "ServiceNow".
        api: String,
        /// The error, without secrets.
        message: String,
    },
    /// Another incident router holds the lock of this integration id (see
    /// [`ConfigStore::lock_router`](crate::ports::ConfigStore::lock_router)): this pass read
    /// and wrote nothing. Run again once the other pass is done.
    RouterBusy {
        /// The integration id.
        integration_id: String,
    },
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Credentials { api, message } => write!(
                f,
                "the {api} credentials were refused ({message}); the pass stopped its writes and \
                 changed no status for it: fix the credentials or their roles"
            ),
            Self::RouterBusy { integration_id } => write!(
                f,
                "another incident router is running for integration {integration_id} on this \
                 state, so this pass did nothing: run again once it is done"
            ),
        }
    }
}

/// When the host should run the next pass. The engine never sleeps: it says when, the host
/// owns the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "next_run", content = "at")]
pub enum NextRun {
    /// Nothing is waiting: run on the host's regular schedule.
    Regular,
    /// Something is waiting (a backoff, a rate limit, a listing to retry): run at or after
    /// this time.
    At(DateTime<Utc>),
}

impl NextRun {
    /// The earlier of two hints.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        match (self, other) {
            (Self::At(a), Self::At(b)) => Self::At(a.min(b)),
            (Self::At(a), Self::Regular) | (Self::Regular, Self::At(a)) => Self::At(a),
            (Self::Regular, Self::Regular) => Self::Regular,
        }
    }

    /// How long from `now` until the next run; `None` for the regular schedule, zero when the
    /// time has passed.
    #[must_use]
    pub fn delay_from(self, now: DateTime<Utc>) -> Option<Duration> {
        match self {
            Self::Regular => None,
            Self::At(at) => Some((at - now).to_std().unwrap_or(Duration::ZERO)),
        }
    }
}

/// Counts of a report's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[allow(missing_docs)] // one count per `Outcome` variant, named after it
pub struct ReportCounts {
    pub created: usize,
    pub matched: usize,
    pub activated: usize,
    pub unchanged: usize,
    pub deferred: usize,
    pub held: usize,
    pub failed: usize,
    pub deleted: usize,
    pub unknown: usize,
    pub planned: usize,
}

/// What one pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The integration mode during the pass.
    pub mode: IntegrationMode,
    /// Dry run or apply.
    pub apply_mode: ApplyMode,
    /// When the pass started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The plan it followed.
    pub plan: Plan,
    /// One line per organization in the plan, sorted by organization id.
    pub outcomes: Vec<OrganizationOutcome>,
    /// Remote writes made (calls that may have changed ServiceNow).
    pub remote_writes: usize,
    /// Why the pass stopped early, if it did.
    pub stop: Option<Stop>,
    /// Whether held deletions were approved for this pass, and by whom.
    pub approved_by: Option<String>,
    /// When to run next.
    pub next_run: NextRun,
    /// What the CMDB step did; `None` when no active configuration names a CI mapping (or the
    /// pass stopped before it).
    pub ci: Option<CiReport>,
}

impl Report {
    /// A report of a pass that has just started and done nothing yet.
    pub(crate) fn start(mode: IntegrationMode, apply_mode: ApplyMode, at: DateTime<Utc>) -> Self {
        Self {
            mode,
            apply_mode,
            started_at: at,
            finished_at: at,
            plan: Plan::empty(mode, at),
            outcomes: Vec::new(),
            remote_writes: 0,
            stop: None,
            approved_by: None,
            next_run: NextRun::Regular,
            ci: None,
        }
    }

    /// Counts of the outcomes.
    #[must_use]
    pub fn counts(&self) -> ReportCounts {
        let mut c = ReportCounts::default();
        for line in &self.outcomes {
            let slot = match line.outcome {
                Outcome::Created { .. } => &mut c.created,
                Outcome::Matched { .. } => &mut c.matched,
                Outcome::Activated => &mut c.activated,
                Outcome::Unchanged => &mut c.unchanged,
                Outcome::Deferred { .. } => &mut c.deferred,
                Outcome::Held { .. } => &mut c.held,
                Outcome::Failed { .. } => &mut c.failed,
                Outcome::Deleted => &mut c.deleted,
                Outcome::Unknown { .. } => &mut c.unknown,
                Outcome::Planned { .. } => &mut c.planned,
            };
            *slot += 1;
        }
        c
    }

    /// The line of one organization, if the pass concerned it.
    #[must_use]
    pub fn outcome(&self, organization: OrganizationId) -> Option<&OrganizationOutcome> {
        self.outcomes
            .binary_search_by_key(&organization, |o| o.organization)
            .ok()
            .map(|i| &self.outcomes[i])
    }

    /// Whether the deletion guard held changes that need approval
    /// ([`OrganizationSync::approve_deletions`](super::OrganizationSync::approve_deletions)).
    #[must_use]
    pub fn needs_approval(&self) -> bool {
        self.plan.needs_approval()
    }
}
