//! The reconcile pass: snapshot, plan, apply.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tracing::Instrument;

use super::actor::Actor;
use super::error::{SyncError, sync_outcome};
use super::outcome::{ApplyMode, FailureKind, NextRun, Stop};
use super::report::{OrganizationOutcome, Outcome, Report};
use super::seen::SeenNames;
use super::throttle::{Throttle, after, credentials};
use super::{OrganizationSync, system_entry};
use crate::machine::{SyncEvent, TransitionError};
use crate::model::{
    AuditAction, AuditEntry, CiMapping, Company, IntegrationMode, NewCompany, OrganizationId,
    RowError, SyncConfig, SyncStatus,
};
use crate::plan::{Decision, Observed, Plan, PlanItem, Snapshot, plan};
use crate::ports::Remote;
use crate::ports::{
    ApiError, ApiErrorKind, Listing, PageRequest, StoreErrorKind, WriteBatch, collect_all,
};

impl OrganizationSync {
    /// Runs one reconcile pass: takes a snapshot of both sides, plans and, unless
    /// [`ApplyMode::DryRun`], applies. Changes held by the deletion guard stay held (see
    /// [`approve_deletions`](Self::approve_deletions)).
    ///
    /// # Guarantees
    /// - In disabled mode nothing is read or written remotely.
    /// - Remote reads are whole-list pages: at most `ceil(N / page) + 1` organization list
    ///   calls and `ceil(C / page) + 1` company list calls for N organizations and C companies.
    /// - Exactly one remote write per company created; a pass with nothing to change writes
    ///   nothing, remotely or to the store.
    /// - A company is created only after the store records the configuration as `in_queue`,
    ///   and only when the complete company listing has no company of that name. After a crash,
    ///   a dropped future or a create that failed in an unknown way, the next pass maps the
    ///   company it finds rather than creating another.
    /// - One organization's failure is recorded on its configuration; the pass goes on with
    ///   the others. An authentication or permission failure of the integration's own
    ///   credentials stops the pass's writes at once and changes no status ([`Stop`]).
    /// - The engine never sleeps: see [`Report::next_run`].
    /// - Then the devices of active configurations that name a CI mapping go into the CMDB:
    ///   one paged device listing, batched requests, nothing sent twice (see
    ///   [`CiReport`](super::CiReport)).
    ///
    /// # Errors
    /// - [`SyncError::CredentialsRefused`] when the integration's own credentials were refused
    ///   (401 or 403): a dead integration is an `Err`, never an `Ok` with a [`Stop`] to notice,
    ///   so a host loop that only logs its errors logs it. The error carries the report of what
    ///   the pass did until then ([`StoppedReport::Sync`](super::StoppedReport::Sync)).
    /// - [`SyncError::Store`] when the store cannot be read or written; the pass stops there,
    ///   and the next pass converges from what was saved.
    ///
    /// Other stops and per-organization failures are in the `Ok` report, which is compact by
    /// default (set with [`PolicyBuilder::report`](crate::plan::PolicyBuilder::report)).
    pub async fn run_once(&self, mode: ApplyMode) -> Result<Report, SyncError> {
        self.pass(mode, None).await
    }

    /// Approves the changes the deletion guard holds and runs a pass that applies them (and
    /// everything else). System administrators only; the approval is audited with the list of
    /// organizations it released.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] for anyone else; as for [`run_once`](Self::run_once).
    pub async fn approve_deletions(&self, actor: &Actor) -> Result<Report, SyncError> {
        self.require(
            actor.admin_refusal(),
            actor,
            "approve held deletions",
            AuditAction::ApproveDeletions,
            None,
        )
        .await?;
        self.pass(ApplyMode::Apply, Some(actor)).await
    }

    async fn pass(&self, apply: ApplyMode, approver: Option<&Actor>) -> Result<Report, SyncError> {
        let mut report = self.pass_report(apply, approver).await?;
        report.finish(self.policy.report);
        tracing::info!(%report, "sync pass done");
        sync_outcome(report)
    }

    async fn pass_report(
        &self,
        apply: ApplyMode,
        approver: Option<&Actor>,
    ) -> Result<Report, SyncError> {
        match self.prepare(apply, approver).await? {
            Prepared::Finished(report) => Ok(report),
            Prepared::DryRun {
                mut report,
                configs,
                ci_mappings,
            } => {
                self.push_cis(apply, &configs, &ci_mappings, &mut report)
                    .await?;
                report.finished_at = self.now();
                Ok(report)
            }
            Prepared::Apply {
                report,
                planned,
                configs,
                next_run,
                ci_mappings,
                names,
            } => {
                let (mut report, saved) = self
                    .apply_plan(report, planned, configs, next_run, &names)
                    .await?;
                if report.stop.is_none() {
                    self.push_cis(apply, saved.values(), &ci_mappings, &mut report)
                        .await?;
                }
                report.finished_at = self.now();
                Ok(report)
            }
        }
    }

    /// The first half of a pass: the snapshot and the plan (a dry run ends here).
    pub(super) async fn prepare(
        &self,
        apply: ApplyMode,
        approver: Option<&Actor>,
    ) -> Result<Prepared, SyncError> {
        let started = self.now();
        let mode = self.mode().await?;
        let mut report = Report::start(mode, apply, started);
        if mode == IntegrationMode::Disabled {
            tracing::info!("the integration is disabled: nothing to do");
            return Ok(Prepared::Finished(report));
        }
        let configs = self
            .store
            .configs()
            .await
            .map_err(SyncError::store("could not read the configurations"))?;
        let mappings = self
            .store
            .ci_mappings()
            .await
            .map_err(SyncError::store("could not read the CI mappings"))?;
        let (snapshot, retry_reads) = match self.snapshot(&configs, mappings).await {
            Ok(found) => found,
            Err(stop) => {
                tracing::error!(%stop, "pass stopped");
                report.stop = Some(stop);
                report.finished_at = self.now();
                return Ok(Prepared::Finished(report));
            }
        };
        let mut planned = plan(&snapshot, &configs, mode, &self.policy, started);
        if let Some(actor) = approver
            && planned.needs_approval()
        {
            let held = planned.held();
            planned.release_held();
            report.approved_by = Some(actor.name().to_owned());
            let entry = AuditEntry::applied(started, actor.name(), AuditAction::ApproveDeletions)
                .with_states(None, Some(serde_json::json!({ "organizations": held })));
            if apply == ApplyMode::Apply {
                self.audit_entry(entry).await?;
            }
        }
        if planned.needs_approval() {
            tracing::warn!(
                removals = planned.guard.removals,
                limit = planned.guard.limit,
                "the deletion guard holds changes that need approval"
            );
        }
        let mut next_run = planned
            .items
            .iter()
            .filter_map(|item| match &item.decision {
                Decision::Deferred { until } => Some(NextRun::At(*until)),
                _ => None,
            })
            .fold(NextRun::Regular, NextRun::min);
        if let Some(wait) = retry_reads {
            next_run = next_run.min(NextRun::At(after(started, wait)));
        }
        if apply == ApplyMode::DryRun {
            report.outcomes = planned.items.iter().map(planned_outcome).collect();
            report.set_plan(planned);
            report.next_run = next_run;
            return Ok(Prepared::DryRun {
                report,
                configs,
                ci_mappings: snapshot.ci_mappings,
            });
        }
        let names = Box::new(SeenNames::of(&snapshot, &configs));
        Ok(Prepared::Apply {
            report,
            planned,
            configs,
            next_run,
            ci_mappings: snapshot.ci_mappings,
            names,
        })
    }

    /// The second half of a pass: applies `planned` over the stored `configs` and fills in
    /// `report` (all but `finished_at`), refreshing the names `names` saw on the way. Returns
    /// the report and the configurations as saved.
    pub(super) async fn apply_plan(
        &self,
        mut report: Report,
        planned: Plan,
        configs: Vec<SyncConfig>,
        next_run: NextRun,
        names: &SeenNames,
    ) -> Result<(Report, HashMap<OrganizationId, SyncConfig>), SyncError> {
        let mut run = Applier {
            sync: self,
            configs: configs.into_iter().map(|c| (c.organization(), c)).collect(),
            outcomes: Vec::with_capacity(planned.items.len()),
            next_run,
            remote_writes: 0,
            stop: None,
        };
        run.apply(&planned, names).await?;
        let Applier {
            configs: saved,
            mut outcomes,
            next_run,
            remote_writes,
            stop,
            ..
        } = run;
        outcomes.sort_by_key(|o| o.organization);
        report.outcomes = outcomes;
        report.set_plan(planned);
        report.remote_writes = remote_writes;
        report.stop = stop;
        report.next_run = next_run;
        Ok((report, saved))
    }

    /// Lists both sides. Listings that fail are [`Observed::Unavailable`]; only a failure of the
    /// integration's own credentials stops the pass.
    async fn snapshot(
        &self,
        configs: &[SyncConfig],
        mappings: Vec<CiMapping>,
    ) -> Result<(Snapshot, Option<Duration>), Stop> {
        let first = PageRequest::first(self.policy.page_size);
        // How soon a failed read is worth trying again (the earliest over all reads).
        let mut retry: Option<Duration> = None;
        let max_pages = self.policy.max_pages;
        let (organizations, companies) = futures_util::future::join(
            collect_all(first.clone(), max_pages, |page| {
                self.ninja.organizations(page)
            }),
            collect_all(first.clone(), max_pages, |page| self.snow.companies(page)),
        )
        .await;
        let organizations =
            self.observe(Remote::NinjaOne, "organizations", organizations, &mut retry)?;
        let companies = self.observe(Remote::ServiceNow, "companies", companies, &mut retry)?;
        let live = || configs.iter().filter(|c| c.status() != SyncStatus::Deleted);
        let mut snapshot = Snapshot::new(organizations, companies);
        if live().any(|c| c.customer_account().is_some()) {
            let installed = match self.snow.customer_service_management().await {
                Ok(installed) => Some(installed),
                Err(err) if err.kind().is_auth() => {
                    return Err(credentials(Remote::ServiceNow, &err));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not detect Customer Service Management");
                    self.retry_after_failure(&err, &mut retry);
                    None
                }
            };
            let accounts = if installed == Some(true) {
                let listing = collect_all(first.clone(), max_pages, |page| {
                    self.snow.customer_accounts(page)
                })
                .await;
                self.observe(Remote::ServiceNow, "customer accounts", listing, &mut retry)?
            } else {
                Observed::Unavailable {
                    reason: "customer accounts were not listed".to_owned(),
                }
            };
            snapshot = snapshot.with_customer_accounts(installed, accounts);
        }
        let roles = if live().any(|c| !c.ci_mappings().is_empty()) {
            let page = self.ninja.device_roles().await.map(|page| Listing {
                items: page.items,
                rejected: page.rejected,
                pages: 1,
            });
            self.observe(Remote::NinjaOne, "device roles", page, &mut retry)?
        } else {
            Observed::Unavailable {
                reason: "device roles were not listed".to_owned(),
            }
        };
        Ok((snapshot.with_ci(roles, mappings), retry))
    }

    /// Turns a listing into what the planner may conclude from it; a failed one also says when
    /// to try again.
    fn observe<T>(
        &self,
        api: Remote,
        what: &str,
        listing: Result<Listing<T>, ApiError>,
        retry: &mut Option<Duration>,
    ) -> Result<Observed<T>, Stop> {
        match listing {
            Ok(listing) if listing.is_complete() => Ok(Observed::complete(listing.items)),
            Ok(listing) => {
                let reason = rejected_reason(api, what, &listing.rejected);
                tracing::warn!("{reason}");
                Ok(Observed::Incomplete {
                    items: listing.items,
                    reason,
                })
            }
            Err(err) if err.kind().is_auth() => Err(credentials(api, &err)),
            Err(err) => {
                tracing::warn!(error = %err, "could not list {api} {what}");
                self.retry_after_failure(&err, retry);
                Ok(Observed::Unavailable {
                    reason: format!("listing {api} {what} failed: {err}"),
                })
            }
        }
    }

    /// Notes when a failed read is worth trying again: the server's wait after a rate limit,
    /// else the first backoff step.
    pub(super) fn retry_after_failure(&self, err: &ApiError, retry: &mut Option<Duration>) {
        let policy = &self.policy.retry;
        let wait = match err.kind() {
            ApiErrorKind::RateLimited {
                retry_after: Some(wait),
            } => policy.server_wait(wait),
            _ => policy.initial,
        };
        *retry = Some(retry.map_or(wait, |w| w.min(wait)));
    }
}

/// What [`OrganizationSync::prepare`] found.
pub(super) enum Prepared {
    /// Nothing to apply (disabled or stopped): the report is final.
    Finished(Report),
    /// A dry run: the plan is in the report; the CMDB step (which only reports) remains.
    DryRun {
        report: Report,
        configs: Vec<SyncConfig>,
        ci_mappings: Vec<CiMapping>,
    },
    /// A plan to apply over the stored configurations, then the CMDB step.
    Apply {
        report: Report,
        planned: Plan,
        configs: Vec<SyncConfig>,
        next_run: NextRun,
        ci_mappings: Vec<CiMapping>,
        /// The names seen, refreshed on the configurations as the plan is applied.
        names: Box<SeenNames>,
    },
}

fn rejected_reason(api: Remote, what: &str, rejected: &[RowError]) -> String {
    let first = rejected
        .first()
        .map(|r| format!("; first: {r}"))
        .unwrap_or_default();
    format!(
        "{} {api} {what} could not be decoded{first}",
        rejected.len()
    )
}

fn planned_outcome(item: &PlanItem) -> OrganizationOutcome {
    OrganizationOutcome {
        organization: item.organization,
        organization_name: item.organization_name.clone(),
        status: item.status,
        outcome: Outcome::Planned {
            decision: item.decision.to_string(),
        },
    }
}

/// A company to create for one configuration.
struct Job {
    organization: OrganizationId,
    organization_name: Option<String>,
    name: String,
    /// The configuration before the pass (`None`: new), for the audit log.
    before: Option<SyncConfig>,
    /// The configuration as stored `in_queue`.
    queued: SyncConfig,
}

/// The state of one pass while it applies its plan.
struct Applier<'a> {
    sync: &'a OrganizationSync,
    configs: HashMap<OrganizationId, SyncConfig>,
    outcomes: Vec<OrganizationOutcome>,
    next_run: NextRun,
    remote_writes: usize,
    stop: Option<Stop>,
}

/// A configuration change and its audit entries, to be written together.
struct Change {
    config: SyncConfig,
    audit: Vec<AuditEntry>,
}

impl Applier<'_> {
    async fn apply(&mut self, planned: &Plan, names: &SeenNames) -> Result<(), SyncError> {
        let now = planned.now;
        let mut changes: Vec<Change> = Vec::new();
        let mut jobs: Vec<Job> = Vec::new();
        for item in &planned.items {
            let org = item.organization;
            let _span = tracing::info_span!("organization", id = %org).entered();
            let existing = self.configs.get(&org);
            let line = |outcome: Outcome, status: Option<SyncStatus>| OrganizationOutcome {
                organization: org,
                organization_name: item.organization_name.clone(),
                status,
                outcome,
            };
            let seen = item.organization_name.as_deref();
            match step(item, existing, now) {
                Ok(Step::Job(mut job, mut queued)) => {
                    names.refresh(&mut queued.config, seen);
                    names.refresh(&mut job.queued, seen);
                    changes.push(queued);
                    jobs.push(*job);
                }
                Ok(Step::Done(outcome, mut change)) => {
                    // Names as last seen: refreshed on a change, or written alone (without an
                    // audit entry: no state changed) when only a name did.
                    match (&mut change, existing) {
                        (Some(change), _) => {
                            names.refresh(&mut change.config, seen);
                        }
                        (None, Some(existing)) => {
                            let mut renamed = existing.clone();
                            if names.refresh(&mut renamed, seen) {
                                change = Some(Change {
                                    config: renamed,
                                    audit: Vec::new(),
                                });
                            }
                        }
                        (None, None) => {}
                    }
                    let status = change
                        .as_ref()
                        .map(|c| c.config.status())
                        .or(existing.map(SyncConfig::status));
                    tracing::info!(outcome = %outcome, "planned change");
                    changes.extend(change);
                    self.outcomes.push(line(outcome, status));
                }
                Err(err) => {
                    // The planner only decides what the machine allows; reaching this is a bug
                    // worth seeing, not a reason to stop the pass.
                    tracing::error!(error = %err, "the status machine refused a planned change");
                    let outcome = Outcome::Failed {
                        kind: FailureKind::Conflict,
                        reason: err.to_string(),
                    };
                    self.outcomes
                        .push(line(outcome, existing.map(SyncConfig::status)));
                }
            }
        }
        // Phase 1: every local change and every configuration about to get a company, before
        // any remote write.
        let mut lines = std::mem::take(&mut self.outcomes);
        let written = self.write_reporting_conflicts(changes, &mut lines).await?;
        self.outcomes = lines;
        let (configs, outcomes) = (&self.configs, &mut self.outcomes);
        jobs.retain_mut(|job| {
            if let Some(saved) = written.get(&job.organization) {
                job.queued = saved.clone();
                return true;
            }
            outcomes.push(OrganizationOutcome {
                organization: job.organization,
                organization_name: job.organization_name.clone(),
                status: configs.get(&job.organization).map(SyncConfig::status),
                outcome: conflict_outcome(),
            });
            false
        });
        if jobs.is_empty() {
            return Ok(());
        }
        // Phase 2 and 3: the remote writes, results recorded in batches as they come.
        self.create_companies(jobs).await
    }

    async fn create_companies(&mut self, jobs: Vec<Job>) -> Result<(), SyncError> {
        let policy = &self.sync.policy;
        let mut throttle = Throttle::new(policy.concurrency);
        let mut queue: VecDeque<Job> = jobs.into();
        let mut in_flight = FuturesUnordered::new();
        let mut pending: Vec<Change> = Vec::new();
        let mut lines: Vec<OrganizationOutcome> = Vec::new();
        loop {
            while self.stop.is_none() && throttle.may_start(in_flight.len()) {
                let Some(job) = queue.pop_front() else { break };
                let snow = self.sync.snow.clone();
                let span = tracing::info_span!("organization", id = %job.organization);
                in_flight.push(
                    async move {
                        let body = NewCompany {
                            name: job.name.clone(),
                            customer: true,
                        };
                        let result = snow.create_company(&body).await;
                        (job, result)
                    }
                    .instrument(span),
                );
            }
            let Some((job, result)) = in_flight.next().await else {
                break;
            };
            let now = self.sync.now();
            let (line, change) = self.settle(job, result, now, &mut throttle);
            tracing::info!(organization = %line.organization, outcome = %line.outcome, "result");
            lines.push(line);
            if let Some(change) = change {
                pending.push(change);
            }
            if pending.len() >= policy.store_batch.max(1) {
                let batch = std::mem::take(&mut pending);
                self.record(batch, &mut lines).await?;
            }
        }
        // What was never attempted waits: for the server's window after a rate limit (so an
        // early pass does not hit it again), or for the next pass after a stop.
        for job in queue {
            let (line, change) = match (throttle.deferred(), &self.stop) {
                (Some((why, until)), _) => {
                    let mut config = job.queued.clone();
                    config.set_next_attempt_at(Some(*until));
                    let change = Change {
                        config,
                        audit: Vec::new(),
                    };
                    (deferred(&job, Some(*until), why.clone()), Some(change))
                }
                (None, Some(stop)) => (
                    deferred(&job, None, format!("the pass stopped: {stop}")),
                    None,
                ),
                (None, None) => (
                    deferred(&job, None, "not attempted in this pass".to_owned()),
                    None,
                ),
            };
            lines.push(line);
            pending.extend(change);
        }
        self.record(pending, &mut lines).await
    }

    /// The result of one create: its report line and the change to record. A rate limit
    /// slows the `throttle` down; a credentials failure stops the pass.
    fn settle(
        &mut self,
        job: Job,
        result: Result<Company, ApiError>,
        now: DateTime<Utc>,
        throttle: &mut Throttle,
    ) -> (OrganizationOutcome, Option<Change>) {
        let policy = &self.sync.policy;
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
                            &policy.retry,
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
    fn failed(
        &mut self,
        job: Job,
        err: &ApiError,
        now: DateTime<Utc>,
    ) -> (OrganizationOutcome, Option<Change>) {
        let retry = &self.sync.policy.retry;
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

    /// Writes results; lines whose configuration changed meanwhile become conflicts.
    async fn record(
        &mut self,
        changes: Vec<Change>,
        lines: &mut Vec<OrganizationOutcome>,
    ) -> Result<(), SyncError> {
        self.write_reporting_conflicts(changes, lines).await?;
        self.outcomes.append(lines);
        Ok(())
    }

    /// Writes changes; the line of a change the store refused (a person edited the
    /// configuration meanwhile, so the change was not made) becomes a conflict showing what the
    /// store holds. Returns the saved configurations by organization.
    async fn write_reporting_conflicts(
        &mut self,
        changes: Vec<Change>,
        lines: &mut [OrganizationOutcome],
    ) -> Result<HashMap<OrganizationId, SyncConfig>, SyncError> {
        let organizations: Vec<OrganizationId> =
            changes.iter().map(|c| c.config.organization()).collect();
        let written = self.write_changes(changes).await?;
        for org in organizations.iter().filter(|o| !written.contains_key(o)) {
            for line in lines.iter_mut().filter(|l| l.organization == *org) {
                line.outcome = conflict_outcome();
                line.status = self.configs.get(org).map(SyncConfig::status);
            }
        }
        Ok(written)
    }

    /// Writes changes in one batch. A batch refused for a version conflict is written again one
    /// configuration at a time, skipping those that changed meanwhile.
    /// Returns the saved configurations by organization.
    async fn write_changes(
        &mut self,
        changes: Vec<Change>,
    ) -> Result<HashMap<OrganizationId, SyncConfig>, SyncError> {
        let mut saved = HashMap::with_capacity(changes.len());
        if changes.is_empty() {
            return Ok(saved);
        }
        // One batch for the whole phase keeps a file-backed store to one rewrite; results are
        // written in `store_batch` chunks by the caller.
        let mut batch = WriteBatch::new();
        let mut singles = Vec::with_capacity(changes.len());
        for change in changes {
            batch.configs.push(change.config.clone());
            batch.audit.extend(change.audit.iter().cloned());
            singles.push(change);
        }
        match self.sync.store.write(batch).await {
            Ok(configs) => {
                for config in configs {
                    self.configs.insert(config.organization(), config.clone());
                    saved.insert(config.organization(), config);
                }
                Ok(saved)
            }
            Err(err) if err.kind() == StoreErrorKind::Conflict => {
                for change in singles {
                    let org = change.config.organization();
                    let batch = WriteBatch {
                        configs: vec![change.config],
                        audit: change.audit,
                    };
                    match self.sync.store.write(batch).await {
                        Ok(mut configs) => {
                            if let Some(config) = configs.pop() {
                                self.configs.insert(org, config.clone());
                                saved.insert(org, config);
                            }
                        }
                        Err(err) if err.kind() == StoreErrorKind::Conflict => {
                            tracing::warn!(organization = %org, "the configuration changed during the pass; left for the next pass");
                            // Report what the store now holds, not what the pass saw.
                            match self.sync.store.config(org).await {
                                Ok(Some(current)) => {
                                    self.configs.insert(org, current);
                                }
                                Ok(None) => {
                                    self.configs.remove(&org);
                                }
                                Err(err) => {
                                    tracing::warn!(organization = %org, error = %err, "could not re-read the configuration");
                                }
                            }
                        }
                        Err(err) => {
                            return Err(SyncError::Store {
                                context: format!(
                                    "could not save organization {org}'s configuration"
                                ),
                                error: err,
                            });
                        }
                    }
                }
                Ok(saved)
            }
            Err(err) => Err(SyncError::Store {
                context: "could not save the pass's changes".to_owned(),
                error: err,
            }),
        }
    }
}

impl OrganizationSync {
    /// Writes configurations with their audit entries as a pass does: one batch, and after a
    /// version conflict one at a time, skipping those that changed meanwhile. Returns the saved
    /// configurations by organization.
    pub(super) async fn save_changes(
        &self,
        changes: Vec<(SyncConfig, Vec<AuditEntry>)>,
    ) -> Result<HashMap<OrganizationId, SyncConfig>, SyncError> {
        let mut run = Applier {
            sync: self,
            configs: HashMap::new(),
            outcomes: Vec::new(),
            next_run: NextRun::Regular,
            remote_writes: 0,
            stop: None,
        };
        let changes = changes
            .into_iter()
            .map(|(config, audit)| Change { config, audit })
            .collect();
        run.write_changes(changes).await
    }
}

/// What a plan item turns into: a local change (or none) with its outcome, or a company to
/// create with the `in_queue` configuration to store first.
enum Step {
    Done(Outcome, Option<Change>),
    Job(Box<Job>, Change),
}

/// Applies one plan item's decision to its configuration, without I/O.
fn step(
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
fn start(config: &mut SyncConfig, now: DateTime<Utc>) -> Result<(), TransitionError> {
    if config.status() == SyncStatus::Active {
        config.apply(SyncEvent::Changed, None, now)?;
    }
    config.apply(SyncEvent::Enqueue, None, now).map(drop)
}

/// Applies a local decision to the existing configuration (or a new one) and returns the
/// outcome with the change to write.
fn finish(
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
pub(super) fn status_entry(
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

fn created(
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
                AuditEntry::applied(now, super::SYSTEM_ACTOR, AuditAction::CreateCompany)
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

fn deferred(job: &Job, until: Option<DateTime<Utc>>, reason: String) -> OrganizationOutcome {
    OrganizationOutcome {
        organization: job.organization,
        organization_name: job.organization_name.clone(),
        status: Some(job.queued.status()),
        outcome: Outcome::Deferred { until, reason },
    }
}

pub(super) fn conflict_outcome() -> Outcome {
    Outcome::Failed {
        kind: FailureKind::Conflict,
        reason: "the configuration changed during the pass (a person edited it); the next pass \
                 takes the new version"
            .to_owned(),
    }
}
