//! The CMDB step of a pass: which configurations take part, the device listing and the plan;
//! what it does is on [`CiReport`].

mod answer;
mod check;
pub(crate) mod report;
mod send;
#[cfg(test)]
mod tests;

use super::OrganizationSync;
use super::error::SyncError;
use super::outcome::{ApplyMode, NextRun};
use super::report::Report;
use super::throttle::{after, credentials};
use crate::model::{CiMapping, CiRecord, DetailedDevice, SyncConfig, SyncStatus};
use crate::plan::plan_cis;
use crate::ports::{ApiError, Listing, PageRequest, Remote, collect_all};

pub use report::{CiBatchFailure, CiDiverged, CiFailure, CiPartial, CiPlannedLine, CiReport};

impl OrganizationSync {
    /// The CMDB step of a pass over `configs` (as saved by the pass) and the store's CI
    /// `mappings`: sets `report.ci`, and adds to its remote writes, stop and next-run hint.
    /// Does nothing when no active configuration names a CI mapping.
    pub(super) async fn push_cis<'a>(
        &self,
        apply: ApplyMode,
        configs: impl IntoIterator<Item = &'a SyncConfig>,
        mappings: &[CiMapping],
        report: &mut Report,
    ) -> Result<(), SyncError> {
        let configs: Vec<&SyncConfig> = configs.into_iter().collect();
        if !configs
            .iter()
            .any(|c| c.status() == SyncStatus::Active && !c.ci_mappings().is_empty())
        {
            return Ok(());
        }
        let settings = &self.policy.cmdb;
        let mut ci = CiReport::new(&settings.data_source);
        let result = self
            .push_cis_into(apply, &configs, mappings, report, &mut ci)
            .await;
        report.ci = Some(ci);
        result
    }

    async fn push_cis_into(
        &self,
        apply: ApplyMode,
        configs: &[&SyncConfig],
        mappings: &[CiMapping],
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Result<(), SyncError> {
        let data_source = self.policy.cmdb.data_source.trim().to_owned();
        if data_source.is_empty() {
            ci.problem = Some(
                "the CMDB data source is blank: set CmdbSettingsBuilder::data_source to a choice of \
                 cmdb_ci.discovery_source; no device was sent"
                    .to_owned(),
            );
            return Ok(());
        }
        let Some(listing) = self.list_devices(report, ci).await else {
            return Ok(());
        };
        let records = match self.store.ci_records().await {
            Ok(records) => records,
            Err(err) => {
                return Err(SyncError::Store {
                    context: "could not read the device → CI records".to_owned(),
                    error: err,
                });
            }
        };
        let plan = plan_cis(
            configs.iter().copied(),
            mappings,
            &listing.items,
            listing.is_complete(),
            &records,
            &data_source,
        );
        ci.organizations = plan.organizations;
        ci.to_send = plan.items.len();
        ci.unchanged = plan.unchanged;
        ci.removed = plan.remove.len();
        ci.skipped.clone_from(&plan.skipped);
        ci.conflicts.clone_from(&plan.conflicts);
        ci.held.clone_from(&plan.held);
        for conflict in &plan.conflicts {
            tracing::warn!(
                organization = %conflict.organization,
                role = %conflict.role,
                devices = conflict.devices,
                "CI mappings map a device role to different classes; its devices are skipped"
            );
        }
        // The records this pass removes (devices gone) hold no CI against anyone: a replacement
        // enrolled under the old name may take the old device's CI.
        let staying: Vec<CiRecord> = records
            .into_iter()
            .filter(|r| plan.remove.binary_search(&r.device).is_err())
            .collect();
        if apply == ApplyMode::DryRun {
            ci.planned = self
                .preview(plan.items, &staying, &data_source, report, ci)
                .await;
            return Ok(());
        }
        let put = self
            .send(plan.items, &staying, &data_source, report, ci)
            .await;
        if put.is_empty() && plan.remove.is_empty() {
            return Ok(());
        }
        self.store
            .write_ci_records(put, plan.remove)
            .await
            .map_err(|source| SyncError::Store {
                context: "could not save the device → CI records; the next pass sends the \
                          devices again (the CMDB answers NO_CHANGE)"
                    .to_owned(),
                error: source,
            })
    }

    /// The tenant's devices, page by page; `None` (with the report's problem, stop and next-run
    /// hint set) when the listing failed.
    async fn list_devices(
        &self,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Option<Listing<DetailedDevice>> {
        let listing = collect_all(
            PageRequest::first(self.options.page_size),
            self.options.max_pages,
            |page| self.ninja.devices_detailed(page),
        )
        .await;
        let listing = match listing {
            Ok(listing) => listing,
            Err(err) if err.kind().is_auth() => {
                report.stop = Some(credentials(Remote::NinjaOne, &err));
                ci.problem = Some(format!("listing NinjaOne devices was refused: {err}"));
                return None;
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not list NinjaOne devices");
                self.hint_retry(&err, report);
                ci.problem = Some(format!(
                    "listing NinjaOne devices failed: {err}; no device was sent, the next pass \
                     tries again"
                ));
                return None;
            }
        };
        if !listing.is_complete() {
            let first = listing
                .rejected
                .first()
                .map(|r| format!("; first: {r}"))
                .unwrap_or_default();
            let problem = format!(
                "{} NinjaOne devices could not be decoded{first}; they were not sent, and no \
                 record was removed for a device missing from the listing",
                listing.rejected.len()
            );
            tracing::warn!("{problem}");
            ci.problem = Some(problem);
        }
        ci.devices_listed = listing.items.len();
        Some(listing)
    }

    /// Brings the report's next run forward to when a failed call is worth trying again.
    fn hint_retry(&self, err: &ApiError, report: &mut Report) {
        let mut retry = None;
        self.retry_after_failure(err, &mut retry);
        if let Some(wait) = retry {
            report.next_run = report.next_run.min(NextRun::At(after(self.now(), wait)));
        }
    }
}
