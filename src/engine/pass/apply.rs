//! Applying a plan: local changes in one batch, then company creation with bounded
//! concurrency, results written in batches.

use std::collections::{HashMap, VecDeque};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tracing::Instrument;

use super::applier::{Applier, Change, Job};
use super::settle::{Step, conflict_outcome, deferred, step};
use crate::engine::OrganizationSync;
use crate::engine::error::SyncError;
use crate::engine::outcome::{FailureKind, NextRun};
use crate::engine::report::{OrganizationOutcome, Outcome};
use crate::engine::seen::SeenNames;
use crate::engine::throttle::Throttle;
use crate::model::{AuditEntry, NewCompany, OrganizationId, SyncConfig, SyncStatus};
use crate::plan::Plan;
use crate::ports::{StoreErrorKind, WriteBatch};

impl Applier<'_> {
    pub(super) async fn apply(
        &mut self,
        planned: &Plan,
        names: &SeenNames,
    ) -> Result<(), SyncError> {
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

    pub(super) async fn create_companies(&mut self, jobs: Vec<Job>) -> Result<(), SyncError> {
        let options = &self.sync.options;
        let mut throttle = Throttle::new(options.concurrency);
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
            if pending.len() >= options.store_batch.max(1) {
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

    /// Writes results; lines whose configuration changed meanwhile become conflicts.
    pub(super) async fn record(
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
    pub(super) async fn write_reporting_conflicts(
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
    pub(super) async fn write_changes(
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
    pub(in crate::engine) async fn save_changes(
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
