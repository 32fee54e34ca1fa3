//! Work distribution: a pass split into a planner ([`OrganizationSync::plan_work`]) and any
//! number of workers ([`OrganizationSync::run_worker`]) that share a [`WorkQueue`].
//!
//! The planner does what needs the whole picture, under the queue's planner lock (one planner
//! per tenant at a time): the snapshot, matching, new configurations in active mode, failures,
//! tombstones and the deletion guard. The per-configuration work it plans (adopt a company,
//! create one, activate) becomes queue items; workers claim them in batches under a lease and
//! apply each with the same code as [`run_once`](OrganizationSync::run_once).
//!
//! A worker applies an item only while the configuration still has the version the planner
//! saw. Anything else — a person's edit, or a crashed worker that saved the configuration
//! `in_queue` before its create — is left to the next planner pass, which looks for the
//! company by name before creating one: a company is never created twice.
//!
//! The worker's [`options`] and the planner's and worker's [`reports`] are modules of their
//! own.

mod options;
pub(super) mod reports;

use std::collections::HashMap;

use super::OrganizationSync;
use super::error::{SyncError, plan_outcome, worker_outcome};
use super::outcome::{ApplyMode, NextRun};
use super::pass::{Prepared, status_entry};
use super::report::{OrganizationOutcome, Outcome, Report};
use crate::model::{AuditEntry, IntegrationMode, OrganizationId, SyncConfig};
use crate::plan::{Decision, Plan, PlanItem};
use crate::ports::{Claim, StoreErrorKind, WorkItem, WorkQueue, WorkResult, WorkTask};

pub use options::{WorkerOptions, WorkerOptionsBuilder};
pub use reports::{WorkPlan, WorkerReport};

impl OrganizationSync {
    /// The planner half of a distributed pass: under the queue's planner lock, takes the
    /// snapshot, plans, applies the changes that need no remote write and no company (failures,
    /// tombstones, held changes stay held), creates the configurations of new organizations (in
    /// active mode) and enqueues one item per configuration that needs a company or an
    /// activation.
    ///
    /// Returns at once with `planned: false` when another planner holds the lock.
    ///
    /// # Errors
    /// - [`SyncError::CredentialsRefused`] when the integration's own credentials were refused
    ///   (401 or 403), as for [`run_once`](Self::run_once): never an `Ok` with a [`Stop`](super::Stop) to
    ///   notice. The error carries the plan made until then
    ///   ([`StoppedReport::Plan`](super::StoppedReport::Plan)).
    /// - [`SyncError::Store`] when the store or the queue cannot be read or written.
    pub async fn plan_work(&self, queue: &dyn WorkQueue) -> Result<WorkPlan, SyncError> {
        let guard = queue
            .lock_planner()
            .await
            .map_err(SyncError::store("could not take the planner lock"))?;
        let Some(guard) = guard else {
            tracing::info!("another planner holds the lock: nothing to do");
            let now = self.now();
            return Ok(WorkPlan {
                planned: false,
                report: Report::start(IntegrationMode::Disabled, ApplyMode::Apply, now),
                enqueued: 0,
            });
        };
        let planned = self.plan_locked(queue).await;
        if let Err(err) = guard.release().await {
            tracing::warn!(error = %err, "could not release the planner lock; it ends with the session");
        }
        plan_outcome(planned?)
    }

    async fn plan_locked(&self, queue: &dyn WorkQueue) -> Result<WorkPlan, SyncError> {
        let (report, planned, configs, next_run, ci_mappings, names) =
            match self.prepare(ApplyMode::Apply, None).await? {
                Prepared::Finished(mut report) | Prepared::DryRun { mut report, .. } => {
                    report.finish(self.options.report);
                    return Ok(WorkPlan {
                        planned: true,
                        report,
                        enqueued: 0,
                    });
                }
                Prepared::Apply {
                    report,
                    planned,
                    configs,
                    next_run,
                    ci_mappings,
                    names,
                } => (report, planned, configs, next_run, ci_mappings, names),
            };
        let now = planned.now;
        let versions: HashMap<OrganizationId, u64> = configs
            .iter()
            .map(|c| (c.organization(), c.version()))
            .collect();
        let (queued, local): (Vec<PlanItem>, Vec<PlanItem>) = planned
            .items
            .iter()
            .cloned()
            .partition(|item| task(&item.decision).is_some());

        // The configurations of new organizations, so each has one (and its version) before
        // any worker sees it.
        let new: Vec<(SyncConfig, Vec<AuditEntry>)> = queued
            .iter()
            .filter(|item| !versions.contains_key(&item.organization))
            .map(|item| {
                let config = SyncConfig::new(item.organization, None, now);
                let audit = vec![status_entry(now, item.organization, None, &config)];
                (config, audit)
            })
            .collect();
        let saved = self.save_changes(new).await?;
        let mut items = Vec::with_capacity(queued.len());
        let mut lines = Vec::with_capacity(queued.len());
        for item in queued {
            let org = item.organization;
            let version = saved
                .get(&org)
                .map(SyncConfig::version)
                .or_else(|| versions.get(&org).copied());
            let (Some(version), Some(task)) = (version, task(&item.decision)) else {
                // Someone added the configuration meanwhile: the next pass sees it.
                lines.push(OrganizationOutcome {
                    organization: org,
                    organization_name: item.organization_name.clone(),
                    status: None,
                    outcome: super::pass::conflict_outcome(),
                });
                continue;
            };
            lines.push(OrganizationOutcome {
                organization: org,
                organization_name: item.organization_name.clone(),
                status: item.status,
                outcome: Outcome::Planned {
                    decision: format!("queued for a worker: {}", item.decision),
                },
            });
            items.push(WorkItem::new(org, item.organization_name, version, task));
        }
        let enqueued = queue
            .enqueue(items, now)
            .await
            .map_err(SyncError::store("could not enqueue the planned work"))?;

        let mut local_plan = planned.clone();
        local_plan.items = local;
        let (mut report, saved) = self
            .apply_plan(report, local_plan, configs, next_run, &names)
            .await?;
        // The planner has the whole picture, so it also runs the CMDB step; configurations
        // the workers activate are pushed by the next planner pass.
        if report.stop.is_none() {
            self.push_cis(ApplyMode::Apply, saved.values(), &ci_mappings, &mut report)
                .await?;
        }
        report.finished_at = self.now();
        report.outcomes.extend(lines);
        report.outcomes.sort_by_key(|o| o.organization);
        report.set_plan(planned);
        report.finish(self.options.report);
        tracing::info!(enqueued, "planned");
        Ok(WorkPlan {
            planned: true,
            report,
            enqueued,
        })
    }

    /// The worker half of a distributed pass: claims batches from `queue` and applies them
    /// (with the same per-item code as [`run_once`](Self::run_once)) until the queue has
    /// nothing to claim, the options' batch limit, or a stop. Expired leases of crashed
    /// workers are returned to the queue before each claim.
    ///
    /// The engine never sleeps: when this returns, the host runs it again on its schedule (or
    /// after [`plan_work`](Self::plan_work)).
    ///
    /// # Errors
    /// - [`SyncError::CredentialsRefused`] when the integration's own credentials were refused
    ///   (401 or 403), as for [`run_once`](Self::run_once): never an `Ok` with a [`Stop`](super::Stop) to
    ///   notice. The error carries what the worker did until then
    ///   ([`StoppedReport::Worker`](super::StoppedReport::Worker)); the items it had not
    ///   applied were deferred back to the queue.
    /// - [`SyncError::Store`] when the store or the queue cannot be read or written; the items
    ///   of the batch in hand go back to the queue when their lease ends.
    pub async fn run_worker(
        &self,
        queue: &dyn WorkQueue,
        options: &WorkerOptions,
    ) -> Result<WorkerReport, SyncError> {
        let mut report = WorkerReport::default();
        loop {
            if options.max_batches.is_some_and(|max| report.batches >= max) {
                break;
            }
            let now = self.now();
            report.reclaimed += queue
                .reclaim_expired(now)
                .await
                .map_err(SyncError::store("could not reclaim expired leases"))?;
            let claims = queue
                .claim(&options.worker, options.batch, now, options.lease)
                .await
                .map_err(SyncError::store("could not claim work"))?;
            if claims.is_empty() {
                break;
            }
            report.batches += 1;
            report.claimed += claims.len();
            self.work_batch(queue, claims, &mut report).await?;
            if report.stop.is_some() || report.disabled {
                break;
            }
        }
        worker_outcome(report)
    }

    async fn work_batch(
        &self,
        queue: &dyn WorkQueue,
        claims: Vec<Claim>,
        report: &mut WorkerReport,
    ) -> Result<(), SyncError> {
        let mode = self.mode().await?;
        if mode == IntegrationMode::Disabled {
            for claim in &claims {
                settle(queue.release(claim).await, report)?;
            }
            report.disabled = true;
            return Ok(());
        }
        let now = self.now();
        let organizations: Vec<OrganizationId> =
            claims.iter().map(|c| c.item.organization).collect();
        let mut fresh: HashMap<OrganizationId, SyncConfig> = self
            .store
            .configs_of(&organizations)
            .await
            .map_err(SyncError::store(
                "could not read the configurations of the claimed work",
            ))?
            .into_iter()
            .map(|c| (c.organization(), c))
            .collect();
        let mut configs = Vec::with_capacity(claims.len());
        let mut items = Vec::with_capacity(claims.len());
        let mut applying = Vec::with_capacity(claims.len());
        for claim in claims {
            let org = claim.item.organization;
            match fresh.remove(&org) {
                Some(config) if config.version() == claim.item.version => {
                    items.push(PlanItem {
                        organization: org,
                        organization_name: claim.item.organization_name.clone(),
                        status: Some(config.status()),
                        decision: decision(&claim.item.task),
                    });
                    configs.push(config);
                    applying.push(claim);
                }
                config => {
                    let reason = match &config {
                        Some(c) => format!(
                            "planned at version {} but version {} is stored; the next planner \
                             pass decides again",
                            claim.item.version,
                            c.version()
                        ),
                        None => "the configuration is gone; the next planner pass decides again"
                            .to_owned(),
                    };
                    report.skipped += 1;
                    report.outcomes.push(OrganizationOutcome {
                        organization: org,
                        organization_name: claim.item.organization_name.clone(),
                        status: config.as_ref().map(SyncConfig::status),
                        outcome: Outcome::Deferred {
                            until: None,
                            reason: reason.clone(),
                        },
                    });
                    settle(
                        queue
                            .complete(&claim, &WorkResult::Skipped(reason), now)
                            .await,
                        report,
                    )?;
                }
            }
        }
        if applying.is_empty() {
            return Ok(());
        }
        let mut plan = Plan::empty(mode, now);
        plan.items = items;
        let (applied, _) = self
            .apply_plan(
                Report::start(mode, ApplyMode::Apply, now),
                plan,
                configs,
                NextRun::Regular,
                &super::seen::SeenNames::default(),
            )
            .await?;
        report.remote_writes += applied.remote_writes;
        self.complete_applied(queue, &applying, &applied, report)
            .await?;
        report.stop = applied.stop;
        Ok(())
    }

    /// Completes each applied claim with the result its report line shows.
    async fn complete_applied(
        &self,
        queue: &dyn WorkQueue,
        applying: &[Claim],
        applied: &Report,
        report: &mut WorkerReport,
    ) -> Result<(), SyncError> {
        let lines: HashMap<OrganizationId, &OrganizationOutcome> = applied
            .outcomes
            .iter()
            .map(|line| (line.organization, line))
            .collect();
        let done = self.now();
        for claim in applying {
            let Some(line) = lines.get(&claim.item.organization) else {
                // Every planned item gets a line; without one, leave the item to its lease.
                tracing::error!(organization = %claim.item.organization, "no outcome for a claimed item");
                continue;
            };
            let text = line.outcome.to_string();
            let result = match &line.outcome {
                Outcome::Created { .. } | Outcome::Matched { .. } | Outcome::Activated => {
                    report.applied += 1;
                    WorkResult::Applied(text)
                }
                Outcome::Deferred { .. } => {
                    report.deferred += 1;
                    WorkResult::Deferred(text)
                }
                _ => {
                    report.failed += 1;
                    WorkResult::Failed(text)
                }
            };
            report.outcomes.push((*line).clone());
            settle(queue.complete(claim, &result, done).await, report)?;
        }
        Ok(())
    }
}

// The futures hosts spawn on a multi-threaded runtime are `Send` (checked when compiling).
const _: () = {
    fn assert_send<T: Send>(_: &T) {}
    #[allow(dead_code)]
    fn futures_are_send(sync: &OrganizationSync, queue: &dyn WorkQueue, options: &WorkerOptions) {
        assert_send(&sync.run_worker(queue, options));
        assert_send(&sync.plan_work(queue));
    }
};

/// Counts a lost lease; other queue failures stop the worker.
fn settle(
    result: Result<(), crate::ports::StoreError>,
    report: &mut WorkerReport,
) -> Result<(), SyncError> {
    match result {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == StoreErrorKind::Conflict => {
            tracing::warn!(error = %err, "lost a lease");
            report.lost += 1;
            Ok(())
        }
        Err(err) => Err(SyncError::store("could not complete a work item")(err)),
    }
}

/// The queue task of a decision a worker applies; `None` for those the planner applies.
fn task(decision: &Decision) -> Option<WorkTask> {
    match decision {
        Decision::Adopt {
            company,
            company_name,
        } => Some(WorkTask::Adopt {
            company: company.clone(),
            company_name: company_name.clone(),
        }),
        Decision::CreateCompany { name } => Some(WorkTask::CreateCompany { name: name.clone() }),
        Decision::Activate => Some(WorkTask::Activate),
        _ => None,
    }
}

/// The decision a worker applies for a task.
fn decision(task: &WorkTask) -> Decision {
    match task {
        WorkTask::Adopt {
            company,
            company_name,
        } => Decision::Adopt {
            company: company.clone(),
            company_name: company_name.clone(),
        },
        WorkTask::CreateCompany { name } => Decision::CreateCompany { name: name.clone() },
        WorkTask::Activate => Decision::Activate,
    }
}
