//! The reconcile pass: read, snapshot, plan, then apply (`apply`) and settle each result
//! (`settle`); the snapshot is in `snapshot`.

use std::collections::HashMap;

use super::OrganizationSync;
use super::actor::Actor;
use super::error::{SyncError, sync_outcome};
use super::outcome::{ApplyMode, NextRun};
use super::report::{OrganizationOutcome, Outcome, Report};
use super::seen::SeenNames;
use super::throttle::after;
use crate::model::{
    AuditAction, AuditEntry, CiMapping, IntegrationMode, OrganizationId, SyncConfig,
};
use crate::plan::{Decision, Plan, PlanItem, plan};
use applier::Applier;

mod applier;
mod apply;
mod settle;
mod snapshot;

pub(super) use settle::{conflict_outcome, status_entry};

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
    ///   credentials stops the pass's writes at once and changes no status ([`Stop`](super::Stop)).
    /// - The engine never sleeps: see [`Report::next_run`].
    /// - Then the devices of active configurations that name a CI mapping go into the CMDB:
    ///   one paged device listing, batched requests, nothing sent twice (see
    ///   [`CiReport`](super::CiReport)).
    ///
    /// # Errors
    /// - [`SyncError::CredentialsRefused`] when the integration's own credentials were refused
    ///   (401 or 403): a dead integration is an `Err`, never an `Ok` with a [`Stop`](super::Stop) to notice,
    ///   so a host loop that only logs its errors logs it. The error carries the report of what
    ///   the pass did until then ([`StoppedReport::Sync`](super::StoppedReport::Sync)).
    /// - [`SyncError::Store`] when the store cannot be read or written; the pass stops there,
    ///   and the next pass converges from what was saved.
    ///
    /// Other stops and per-organization failures are in the `Ok` report, which is compact by
    /// default (set with [`EngineOptionsBuilder::report`](crate::engine::EngineOptionsBuilder::report)).
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
        report.finish(self.options.report);
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
