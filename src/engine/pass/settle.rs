//! Settling one organization's result: its status transition, audit entry and report line.

use chrono::{DateTime, Utc};

use super::applier::{Applier, Change, Job};
use crate::engine::outcome::{FailureKind, NextRun};
use crate::engine::report::{OrganizationOutcome, Outcome};
use crate::engine::system_entry;
use crate::engine::throttle::{Throttle, after, credentials};
use crate::machine::{SyncEvent, TransitionError};
use crate::model::{AuditAction, AuditEntry, Company, OrganizationId, SyncConfig, SyncStatus};
use crate::plan::{Decision, PlanItem};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};

impl Applier<'_> {
    /// The result of one create: its report line and the change to record. A rate limit
    /// slows the `throttle` down; a credentials failure stops the pass.
    pub(super) fn settle(
        &mut self,
        job: Job,
        result: Result<Company, ApiError>,
        now: DateTime<Utc>,
        throttle: &mut Throttle,
    ) -> (OrganizationOutcome, Option<Change>) {
        let options = &self.sync.options;
        match result {
            Ok(company) => {
                self.remote_writes += 1;
                // The Add dialog's directory does not list it yet.
                self.sync.directory.invalidate();
                created(&job, company, now)
            }
            Err(err) => {
                let kind = err.kind();
                if !matches!(kind, ApiErrorKind::RateLimited { .. }) && !kind.is_auth() {
                    // A failure after sending may have committed: count it as a write.
                    self.remote_writes += 1;
                    self.sync.directory.invalidate();
                }
                match kind {
                    k if k.is_auth() => {
                        if self.stop.is_none() {
                            tracing::error!(error = %err, "ServiceNow refused the integration's credentials");
                            self.stop = Some(credentials(Remote::ServiceNow, &err));
                        }
                        (
                            deferred(&job, None, format!("the pass stopped: {err}")),
                            None,
                        )
                    }
                    ApiErrorKind::RateLimited { retry_after } => {
                        let until = throttle.rate_limited(
                            Remote::ServiceNow,
                            &err,
                            retry_after,
                            &options.retry,
                            now,
                        );
                        self.next_run = self.next_run.min(NextRun::At(until));
                        let mut config = job.queued.clone();
                        config.set_next_attempt_at(Some(until));
                        let line = deferred(&job, Some(until), format!("rate limited: {err}"));
                        (
                            line,
                            Some(Change {
                                config,
                                audit: Vec::new(),
                            }),
                        )
                    }
                    _ => self.failed(job, &err, now),
                }
            }
        }
    }

    /// The result of a failed create that was not a rate limit or a credentials failure.
    pub(super) fn failed(
        &mut self,
        job: Job,
        err: &ApiError,
        now: DateTime<Utc>,
    ) -> (OrganizationOutcome, Option<Change>) {
        let retry = &self.sync.options.retry;
        let mut config = job.queued.clone();
        let message = format!("could not create company {:?}: {err}", job.name);
        // A timeout or an unreadable answer may hide a committed create: retry later, and the
        // next pass looks for the company before creating it again.
        let transient = err.kind().is_transient() || err.kind() == ApiErrorKind::InvalidResponse;
        let result = if transient {
            config
                .apply(SyncEvent::FailedTransient, Some(&message), now)
                .and_then(|_| {
                    if config.attempts() >= retry.quarantine_after {
                        let reason = format!(
                            "quarantined after {} failed attempts in a row; last: {message}",
                            config.attempts()
                        );
                        config.apply(SyncEvent::Deactivate, Some(&reason), now)?;
                        Ok(Outcome::Failed {
                            kind: FailureKind::Quarantined,
                            reason,
                        })
                    } else {
                        let retry_after = match err.kind() {
                            ApiErrorKind::RateLimited { retry_after } => retry_after,
                            _ => None,
                        };
                        let until = after(now, retry.backoff(config.attempts(), retry_after));
                        config.set_next_attempt_at(Some(until));
                        self.next_run = self.next_run.min(NextRun::At(until));
                        Ok(Outcome::Failed {
                            kind: FailureKind::Transient,
                            reason: message.clone(),
                        })
                    }
                })
        } else {
            config
                .apply(SyncEvent::FailedPermanent, Some(&message), now)
                .map(|_| Outcome::Failed {
                    kind: FailureKind::Permanent,
                    reason: message.clone(),
                })
        };
        match result {
            Ok(outcome) => {
                let audit = vec![status_entry(
                    now,
                    job.organization,
                    job.before.as_ref(),
                    &config,
                )];
                let line = OrganizationOutcome {
                    organization: job.organization,
                    organization_name: job.organization_name,
                    status: Some(config.status()),
                    outcome,
                };
                (line, Some(Change { config, audit }))
            }
            Err(err) => {
                let line = OrganizationOutcome {
                    organization: job.organization,
                    organization_name: job.organization_name,
                    status: Some(job.queued.status()),
                    outcome: Outcome::Failed {
                        kind: FailureKind::Conflict,
                        reason: err.to_string(),
                    },
                };
                (line, None)
            }
        }
    }
}

/// What a plan item turns into: a local change (or none) with its outcome, or a company to
/// create with the `in_queue` configuration to store first.
pub(super) enum Step {
    Done(Outcome, Option<Change>),
    Job(Box<Job>, Change),
}

/// Applies one plan item's decision to its configuration, without I/O.
pub(super) fn step(
    item: &PlanItem,
    existing: Option<&SyncConfig>,
    now: DateTime<Utc>,
) -> Result<Step, TransitionError> {
    let org = item.organization;
    let done = |outcome| Ok(Step::Done(outcome, None));
    match &item.decision {
        Decision::Adopt {
            company,
            company_name,
        } => finish(existing, org, now, |c| {
            c.set_company(Some(company.clone()));
            c.see_company_name(company_name);
            start(c, now)?;
            c.apply(SyncEvent::Succeeded, None, now)?;
            Ok(Outcome::Matched {
                company: company.clone(),
                name: company_name.clone(),
            })
        }),
        Decision::Activate => finish(existing, org, now, |c| {
            start(c, now)?;
            c.apply(SyncEvent::Succeeded, None, now)?;
            Ok(Outcome::Activated)
        }),
        Decision::Fail { reason } => finish(existing, org, now, |c| {
            let reason = reason.to_string();
            start(c, now)?;
            c.apply(SyncEvent::FailedPermanent, Some(&reason), now)?;
            Ok(Outcome::Failed {
                kind: FailureKind::Permanent,
                reason,
            })
        }),
        Decision::Tombstone => finish(existing, org, now, |c| {
            let reason = format!("organization {org} is gone from NinjaOne");
            c.apply(SyncEvent::Delete, Some(&reason), now)?;
            Ok(Outcome::Deleted)
        }),
        Decision::CreateCompany { name } => {
            let mut queued = existing
                .cloned()
                .unwrap_or_else(|| SyncConfig::new(org, None, now));
            start(&mut queued, now)?;
            let change = Change {
                config: queued.clone(),
                audit: Vec::new(),
            };
            let job = Job {
                organization: org,
                organization_name: item.organization_name.clone(),
                name: name.clone(),
                before: existing.cloned(),
                queued,
            };
            Ok(Step::Job(Box::new(job), change))
        }
        Decision::Unchanged => done(Outcome::Unchanged),
        Decision::Deferred { until } => done(Outcome::Deferred {
            until: Some(*until),
            reason: "waiting for its backoff after a failure".to_owned(),
        }),
        Decision::Held { change } => done(Outcome::Held {
            change: change.to_string(),
        }),
        Decision::Unknown { reason } => done(Outcome::Unknown {
            reason: reason.clone(),
        }),
    }
}

/// Brings a configuration into the queue: pending and queued ones are enqueued; an active one
/// being changed by the engine (it has no company) goes through `Changed` first.
pub(super) fn start(config: &mut SyncConfig, now: DateTime<Utc>) -> Result<(), TransitionError> {
    if config.status() == SyncStatus::Active {
        config.apply(SyncEvent::Changed, None, now)?;
    }
    config.apply(SyncEvent::Enqueue, None, now).map(drop)
}

/// Applies a local decision to the existing configuration (or a new one) and returns the
/// outcome with the change to write.
pub(super) fn finish(
    existing: Option<&SyncConfig>,
    org: OrganizationId,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut SyncConfig) -> Result<Outcome, TransitionError>,
) -> Result<Step, TransitionError> {
    let mut config = existing
        .cloned()
        .unwrap_or_else(|| SyncConfig::new(org, None, now));
    let outcome = change(&mut config)?;
    let audit = vec![status_entry(now, org, existing, &config)];
    Ok(Step::Done(outcome, Some(Change { config, audit })))
}

/// The audit entry of a pass's change: a new configuration, or a status change.
pub(in crate::engine) fn status_entry(
    now: DateTime<Utc>,
    org: OrganizationId,
    before: Option<&SyncConfig>,
    after: &SyncConfig,
) -> AuditEntry {
    let action = if before.is_none() {
        AuditAction::AddConfig
    } else {
        AuditAction::StatusChange
    };
    system_entry(now, action, org, before, Some(after))
}

pub(super) fn created(
    job: &Job,
    company: Company,
    now: DateTime<Utc>,
) -> (OrganizationOutcome, Option<Change>) {
    let mut config = job.queued.clone();
    config.set_company(Some(company.sys_id.clone()));
    config.see_company_name(&company.name);
    let line = |outcome, status| OrganizationOutcome {
        organization: job.organization,
        organization_name: job.organization_name.clone(),
        status,
        outcome,
    };
    match config.apply(SyncEvent::Succeeded, None, now) {
        Ok(_) => {
            let mut created =
                AuditEntry::applied(now, crate::engine::SYSTEM_ACTOR, AuditAction::CreateCompany)
                    .for_organization(job.organization);
            created.after = Some(serde_json::json!({
                "sys_id": company.sys_id,
                "name": company.name,
            }));
            let audit = vec![
                created,
                status_entry(now, job.organization, job.before.as_ref(), &config),
            ];
            let outcome = Outcome::Created {
                company: company.sys_id,
                name: company.name,
            };
            (
                line(outcome, Some(config.status())),
                Some(Change { config, audit }),
            )
        }
        Err(err) => (
            line(
                Outcome::Failed {
                    kind: FailureKind::Conflict,
                    reason: err.to_string(),
                },
                Some(job.queued.status()),
            ),
            None,
        ),
    }
}

pub(super) fn deferred(
    job: &Job,
    until: Option<DateTime<Utc>>,
    reason: String,
) -> OrganizationOutcome {
    OrganizationOutcome {
        organization: job.organization,
        organization_name: job.organization_name.clone(),
        status: Some(job.queued.status()),
        outcome: Outcome::Deferred { until, reason },
    }
}

pub(in crate::engine) fn conflict_outcome() -> Outcome {
    Outcome::Failed {
        kind: FailureKind::Conflict,
        reason: "the configuration changed during the pass (a person edited it); the next pass \
                 takes the new version"
            .to_owned(),
    }
}
