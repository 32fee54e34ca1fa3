//! What an incident pass did: the [`IncidentReport`] and one [`AlertOutcome`] per alert or
//! record it concerned.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::outcome::{ApplyMode, FailureKind, NextRun, ReportDetail, Stop, SummaryLine};
use crate::model::{AlertUid, OrganizationId, SysId, TicketKind};
use crate::plan::{ResolveGuardState, SkipReason};

/// What happened to one alert's ticket in a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum TicketOutcome {
    /// A ticket was created.
    Created,
    /// A ticket with the alert's correlation id already existed (after a crash, a lost answer
    /// or a lost store) and is now recorded; nothing was created.
    Adopted {
        /// Whether the ticket is still open.
        open: bool,
    },
    /// The ticket is recorded and nothing changed.
    Unchanged,
    /// The alert cleared and the ticket was resolved.
    Resolved,
    /// The open alert changed (message or `updateTime`) since its ticket was written: one
    /// work note with the new message was added.
    Noted,
    /// The alert cleared, but the pass would have resolved more tickets than the resolve
    /// guard allows: none is resolved until an administrator approves
    /// ([`IncidentRouter::approve_resolves`](super::IncidentRouter::approve_resolves)).
    Held {
        /// Why, with the counts.
        reason: String,
    },
    /// A person (or another process) finished or deleted the ticket while the alert is still
    /// open; it is neither reopened nor created again.
    FinishedElsewhere {
        /// What was found.
        reason: String,
    },
    /// The alert cleared but the ticket is left as it is: its configuration is inactive or
    /// deleted.
    Left {
        /// Why.
        reason: String,
    },
    /// The record of a finished ticket (or of a create that never happened) whose alert is gone
    /// was removed.
    Pruned,
    /// The alert does not become a ticket.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
    /// Not attempted in this pass (rate limit or stopped pass); the next pass retries.
    Deferred {
        /// The earliest next attempt, when known.
        until: Option<DateTime<Utc>>,
        /// Why.
        reason: String,
    },
    /// A write failed; the record keeps what is needed to converge on the next pass.
    Failed {
        /// What kind of failure.
        kind: FailureKind,
        /// Why.
        reason: String,
    },
    /// Not decidable in this pass: a listing failed or was incomplete. Nothing was created or
    /// resolved.
    Unknown {
        /// Why.
        reason: String,
    },
    /// A dry run: what the pass would do.
    Planned {
        /// The planned action, in words.
        action: String,
    },
}

impl TicketOutcome {
    /// A short name: "created", "adopted", "unchanged", "resolved", "noted", "held",
    /// "finished_elsewhere", "left", "pruned", "skipped", "deferred", "failed", "unknown",
    /// "planned".
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Adopted { .. } => "adopted",
            Self::Unchanged => "unchanged",
            Self::Resolved => "resolved",
            Self::Noted => "noted",
            Self::Held { .. } => "held",
            Self::FinishedElsewhere { .. } => "finished_elsewhere",
            Self::Left { .. } => "left",
            Self::Pruned => "pruned",
            Self::Skipped { .. } => "skipped",
            Self::Deferred { .. } => "deferred",
            Self::Failed { .. } => "failed",
            Self::Unknown { .. } => "unknown",
            Self::Planned { .. } => "planned",
        }
    }
}

impl fmt::Display for TicketOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created => f.write_str("created"),
            Self::Adopted { open: true } => f.write_str("adopted an open ticket"),
            Self::Adopted { open: false } => f.write_str("adopted a finished ticket"),
            Self::Unchanged => f.write_str("unchanged"),
            Self::Resolved => f.write_str("resolved: the alert cleared"),
            Self::Noted => f.write_str("work note added: the alert changed"),
            Self::Held { reason } => write!(f, "resolve held for approval: {reason}"),
            Self::FinishedElsewhere { reason } => write!(f, "finished elsewhere: {reason}"),
            Self::Left { reason } => write!(f, "left as it is: {reason}"),
            Self::Pruned => f.write_str("record pruned"),
            Self::Skipped { reason } => write!(f, "skipped: {reason}"),
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
            Self::Failed { kind, reason } => write!(f, "failed ({kind}): {reason}"),
            Self::Unknown { reason } => write!(f, "unknown: {reason}"),
            Self::Planned { action } => write!(f, "would {action}"),
        }
    }
}

/// One alert's line of an [`IncidentReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AlertOutcome {
    /// The alert.
    pub alert: AlertUid,
    /// Its device's organization, when known.
    pub organization: Option<OrganizationId>,
    /// Incident or case, when there is (or would be) a ticket.
    pub kind: Option<TicketKind>,
    /// The ticket's sys_id, when known.
    pub ticket: Option<SysId>,
    /// The ticket's number, when known.
    pub number: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub outcome: TicketOutcome,
}

/// What one incident pass did. Field names are stable (snake_case) for hosts that log the
/// report as JSON.
///
/// The counts are fields (as on [`Report`](crate::engine::Report)), one per
/// [`TicketOutcome`], over every line whether or not it is listed: with
/// [`ReportDetail::Compact`] (the default; set with
/// [`EngineOptionsBuilder::report`](crate::engine::EngineOptionsBuilder::report))
/// unchanged lines are counted, not listed. `Display` is one line:
///
/// ```text
/// incidents: 120 alerts, 3 created, 2 resolved, 0 failed, 5 remote writes
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IncidentReport {
    /// Dry run or apply.
    pub apply_mode: ApplyMode,
    /// When the pass started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Open alerts seen.
    pub alerts: usize,
    /// Tickets created.
    pub created: usize,
    /// Existing tickets adopted by correlation id.
    pub adopted: usize,
    /// Tickets recorded with nothing to change ([`TicketOutcome::Unchanged`]).
    pub unchanged: usize,
    /// Tickets resolved because their alert cleared.
    pub resolved: usize,
    /// Work notes added to tickets whose alert re-triggered (message or `updateTime`
    /// changed).
    pub noted: usize,
    /// Resolves held by the resolve guard until an administrator approves them.
    pub held: usize,
    /// What the resolve guard saw: open tickets, resolves planned, the limit, whether held.
    pub resolve_guard: ResolveGuardState,
    /// Who approved held resolves for this pass, when someone did
    /// ([`IncidentRouter::approve_resolves`](super::IncidentRouter::approve_resolves)).
    pub approved_by: Option<String>,
    /// Tickets found finished (or deleted) by someone else while their alert is open.
    pub finished_elsewhere: usize,
    /// Alerts that do not become tickets.
    pub skipped: usize,
    /// Skipped alerts by [`SkipReason::code`].
    pub skip_reasons: BTreeMap<String, usize>,
    /// Tickets left as they are because their configuration is inactive or deleted
    /// ([`TicketOutcome::Left`]).
    pub left: usize,
    /// Alerts or records not attempted in this pass ([`TicketOutcome::Deferred`]).
    pub deferred: usize,
    /// Planned lines of a dry run ([`TicketOutcome::Planned`]).
    pub planned: usize,
    /// Writes that failed.
    pub failed: usize,
    /// Alerts or records not decidable in this pass.
    pub unknown: usize,
    /// Records removed.
    pub pruned: usize,
    /// Remote writes made (calls that may have changed ServiceNow).
    pub remote_writes: usize,
    /// Listings that failed or came back incomplete, in words.
    pub listing_problems: Vec<String>,
    /// Why the pass stopped early, if it did. A stop by refused credentials is returned as
    /// [`SyncError::CredentialsRefused`](crate::engine::SyncError::CredentialsRefused) (with
    /// this report in it), never as an `Ok`.
    pub stop: Option<Stop>,
    /// When to run next.
    pub next_run: NextRun,
    /// One line per alert or record the pass concerned, sorted by alert uid; unchanged ones
    /// only with [`ReportDetail::Full`].
    pub outcomes: Vec<AlertOutcome>,
}

impl IncidentReport {
    pub(crate) fn start(apply_mode: ApplyMode, at: DateTime<Utc>) -> Self {
        Self {
            apply_mode,
            started_at: at,
            finished_at: at,
            alerts: 0,
            created: 0,
            adopted: 0,
            unchanged: 0,
            resolved: 0,
            noted: 0,
            held: 0,
            resolve_guard: ResolveGuardState::default(),
            approved_by: None,
            finished_elsewhere: 0,
            skipped: 0,
            skip_reasons: BTreeMap::new(),
            left: 0,
            deferred: 0,
            planned: 0,
            failed: 0,
            unknown: 0,
            pruned: 0,
            remote_writes: 0,
            listing_problems: Vec::new(),
            stop: None,
            next_run: NextRun::Regular,
            outcomes: Vec::new(),
        }
    }

    /// Sorts the outcomes, fills the counts from them and drops the lines `detail` leaves
    /// out.
    pub(crate) fn finish(&mut self, at: DateTime<Utc>, detail: ReportDetail) {
        self.outcomes.sort_by(|a, b| a.alert.cmp(&b.alert));
        self.finished_at = at;
        for line in &self.outcomes {
            match &line.outcome {
                TicketOutcome::Created => self.created += 1,
                TicketOutcome::Adopted { .. } => self.adopted += 1,
                TicketOutcome::Resolved => self.resolved += 1,
                TicketOutcome::Noted => self.noted += 1,
                TicketOutcome::Held { .. } => self.held += 1,
                TicketOutcome::FinishedElsewhere { .. } => self.finished_elsewhere += 1,
                TicketOutcome::Pruned => self.pruned += 1,
                TicketOutcome::Skipped { reason } => {
                    self.skipped += 1;
                    *self
                        .skip_reasons
                        .entry(reason.code().to_owned())
                        .or_insert(0) += 1;
                }
                TicketOutcome::Failed { .. } => self.failed += 1,
                TicketOutcome::Unknown { .. } => self.unknown += 1,
                TicketOutcome::Unchanged => self.unchanged += 1,
                TicketOutcome::Left { .. } => self.left += 1,
                TicketOutcome::Deferred { .. } => self.deferred += 1,
                TicketOutcome::Planned { .. } => self.planned += 1,
            }
        }
        if detail == ReportDetail::Compact {
            self.outcomes
                .retain(|line| !matches!(line.outcome, TicketOutcome::Unchanged));
        }
    }

    /// Whether the resolve guard holds resolves that need an administrator's approval.
    #[must_use]
    pub fn needs_approval(&self) -> bool {
        self.held > 0
    }

    /// The lines of one alert (usually one).
    pub fn outcomes_of<'a>(
        &'a self,
        alert: &'a AlertUid,
    ) -> impl Iterator<Item = &'a AlertOutcome> {
        self.outcomes.iter().filter(move |o| &o.alert == alert)
    }
}

impl fmt::Display for IncidentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SummaryLine {
            subject: "incidents",
            dry_run: self.apply_mode == ApplyMode::DryRun,
            always: &[
                (self.alerts, "alerts"),
                (self.created, "created"),
                (self.resolved, "resolved"),
                (self.failed, "failed"),
            ],
            if_any: &[
                (self.adopted, "adopted"),
                (self.noted, "noted"),
                (self.held, "held"),
                (self.finished_elsewhere, "finished elsewhere"),
                (self.deferred, "deferred"),
                (self.unknown, "unknown"),
                (self.pruned, "pruned"),
                (self.planned, "planned"),
            ],
            remote_writes: self.remote_writes,
            note: None,
            stop: self.stop.as_ref(),
        }
        .fmt(f)
    }
}
