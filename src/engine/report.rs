//! What a sync pass did: the [`Report`] and one [`OrganizationOutcome`] per organization.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cmdb::report::CiReport;
use super::outcome::{ApplyMode, FailureKind, NextRun, ReportDetail, Stop, SummaryLine};
use crate::model::{IntegrationMode, OrganizationId, SyncStatus, SysId};
use crate::plan::{GuardCheck, Plan};

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

/// What one pass did.
///
/// The counts are fields (as on [`IncidentReport`](super::incidents::IncidentReport)): one per
/// [`Outcome`], over every organization the pass concerned, whether or not its line is listed
/// (with [`ReportDetail::Compact`], unchanged ones are not). `Display` is one line:
///
/// ```text
/// sync: 2,000 organizations, 0 created, 0 matched, 0 failed, 0 remote writes
/// ```
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
    /// Companies created ([`Outcome::Created`]).
    pub created: usize,
    /// Companies matched by name ([`Outcome::Matched`]).
    pub matched: usize,
    /// Configurations activated ([`Outcome::Activated`]).
    pub activated: usize,
    /// Organizations with nothing to do ([`Outcome::Unchanged`]).
    pub unchanged: usize,
    /// Organizations not attempted in this pass ([`Outcome::Deferred`]).
    pub deferred: usize,
    /// Organizations held by the deletion guard ([`Outcome::Held`]).
    pub held: usize,
    /// Organizations that failed ([`Outcome::Failed`]).
    pub failed: usize,
    /// Organizations gone from NinjaOne ([`Outcome::Deleted`]).
    pub deleted: usize,
    /// Organizations not decidable in this pass ([`Outcome::Unknown`]).
    pub unknown: usize,
    /// Planned lines of a dry run ([`Outcome::Planned`]).
    pub planned: usize,
    /// Remote writes made (calls that may have changed ServiceNow).
    pub remote_writes: usize,
    /// The deletion guard's check.
    pub guard: GuardCheck,
    /// Organizations without a configuration that the pass left alone (inactive mode).
    pub unconfigured: usize,
    /// The plan it followed: only with [`ReportDetail::Full`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// One line per organization in the plan, sorted by organization id; unchanged ones only
    /// with [`ReportDetail::Full`].
    pub outcomes: Vec<OrganizationOutcome>,
    /// Why the pass stopped early, if it did. A stop by refused credentials is returned as
    /// [`SyncError::CredentialsRefused`](super::SyncError::CredentialsRefused) (with this
    /// report in it), never as an `Ok`.
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
            created: 0,
            matched: 0,
            activated: 0,
            unchanged: 0,
            deferred: 0,
            held: 0,
            failed: 0,
            deleted: 0,
            unknown: 0,
            planned: 0,
            remote_writes: 0,
            guard: Plan::empty(mode, at).guard,
            unconfigured: 0,
            plan: None,
            outcomes: Vec::new(),
            stop: None,
            approved_by: None,
            next_run: NextRun::Regular,
            ci: None,
        }
    }

    /// Sets the plan the pass followed (kept only with [`ReportDetail::Full`] by
    /// [`finish`](Self::finish)).
    pub(crate) fn set_plan(&mut self, plan: Plan) {
        self.guard = plan.guard;
        self.unconfigured = plan.unconfigured;
        self.plan = Some(plan);
    }

    /// Counts the lines, then drops what `detail` leaves out. Call once, when the lines are
    /// complete.
    pub(crate) fn finish(&mut self, detail: ReportDetail) {
        for line in &self.outcomes {
            let slot = match line.outcome {
                Outcome::Created { .. } => &mut self.created,
                Outcome::Matched { .. } => &mut self.matched,
                Outcome::Activated => &mut self.activated,
                Outcome::Unchanged => &mut self.unchanged,
                Outcome::Deferred { .. } => &mut self.deferred,
                Outcome::Held { .. } => &mut self.held,
                Outcome::Failed { .. } => &mut self.failed,
                Outcome::Deleted => &mut self.deleted,
                Outcome::Unknown { .. } => &mut self.unknown,
                Outcome::Planned { .. } => &mut self.planned,
            };
            *slot += 1;
        }
        if detail == ReportDetail::Compact {
            self.outcomes
                .retain(|line| !matches!(line.outcome, Outcome::Unchanged));
            self.plan = None;
        }
    }

    /// How many organizations the pass concerned: the sum of the counts.
    #[must_use]
    pub fn organizations(&self) -> usize {
        self.created
            + self.matched
            + self.activated
            + self.unchanged
            + self.deferred
            + self.held
            + self.failed
            + self.deleted
            + self.unknown
            + self.planned
    }

    /// The line of one organization, if the pass concerned it and listed it (with
    /// [`ReportDetail::Compact`], an unchanged organization has no line).
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
        self.guard.held
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SummaryLine {
            subject: "sync",
            dry_run: self.apply_mode == ApplyMode::DryRun,
            always: &[
                (self.organizations(), "organizations"),
                (self.created, "created"),
                (self.matched, "matched"),
                (self.failed, "failed"),
            ],
            if_any: &[
                (self.activated, "activated"),
                (self.deferred, "deferred"),
                (self.held, "held"),
                (self.deleted, "deleted"),
                (self.unknown, "unknown"),
                (self.planned, "planned"),
            ],
            remote_writes: self.remote_writes,
            note: None,
            stop: self.stop.as_ref(),
        }
        .fmt(f)
    }
}
