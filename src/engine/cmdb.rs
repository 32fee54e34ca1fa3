//! The CMDB step of a pass; what it does is on [`CiReport`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::OrganizationSync;
use super::error::SyncError;
use super::report::{ApplyMode, FailureKind, NextRun, Report};
use super::throttle::{after, credentials};
use crate::model::{
    CiClass, CiItemError, CiItemResult, CiMapping, CiOperation, CiOwner, CiRecord, DetailedDevice,
    DeviceId, OrganizationId, SyncConfig, SyncStatus, SysId,
};
use crate::plan::{CiHeld, CiMappingConflict, CiSkipReason, PlannedCi, plan_cis};
use crate::ports::{ApiError, ApiErrorKind, Listing, PageRequest, Remote, collect_all};

/// What the CMDB step of a pass did.
///
/// After the configurations are done, a pass (apply or dry run, in active and inactive mode)
/// pushes the devices of **active** configurations that name a CI mapping into the CMDB through
/// the Identification and Reconciliation API, and keeps a device → CI record
/// ([`CiRecord`](crate::model::CiRecord)) with the CI's sys_id, which the incident router uses
/// for `cmdb_ci`. The report is in [`Report::ci`] when some active configuration names a CI
/// mapping, and `None` otherwise (then devices are not even listed). A pass stopped by refused
/// credentials before this step skips it.
///
/// What is sent, skipped or removed is decided by [`plan_cis`] (pure; its documentation gives
/// every rule). Then:
///
/// 1. the tenant's devices are listed once with their details, page by page
///    ([`NinjaOneApi::devices_detailed`], `GET /v2/devices-detailed`) — never per organization
///    or per device;
/// 2. the devices that need it ([`PlannedCi::check`]: no CI yet, or a changed name, serial
///    number or class) go through the Identification and Reconciliation **dry run**
///    ([`ServiceNowApi::identify_reconcile_query`]) in batches of [`CmdbSettings::batch_size`];
///    a steady pass makes none;
/// 3. an item the dry run says would update a CI that is not already the device's is checked:
///    the companies of all such CIs are read in **one** query by validated sys_ids
///    ([`ServiceNowApi::ci_owners`], up to 100 per query). A CI of another company, a CI
///    without a company (it may be any customer's), one recorded for another device, one the
///    dry run of another device of the pass names too, or another CI than the one recorded for
///    the device is **not written**: the device is held back ([`held`](Self::held), counted as
///    [`CiSkipReason::HeldBack`]) with a reason naming the CI and the companies, and is not
///    checked again until its name, serial number or company changes (or a host removes its
///    record with [`ConfigStore::write_ci_records`]). Only a CI of the device's own company is
///    adopted;
/// 4. what may be written is sent in batches of [`CmdbSettings::batch_size`], one request after
///    the other, with [`CmdbSettings::data_source`]: `ceil(items / batch)` writes;
/// 5. each item's answer is read on its own: `INSERT`/`UPDATE`/`NO_CHANGE` record the CI's
///    sys_id and the digests; `INSERT_AS_PARTIAL` records no sys_id and says so
///    ([`partial`](Self::partial)); item errors (also those ServiceNow sends with HTTP 400) are
///    reported per device ([`failed`](Self::failed)) and the record is left as it was, so the
///    next pass sends the device again; an update of another CI than the recorded one (or the
///    one the dry run named, or of any CI when the dry run said insert) is reported
///    ([`diverged`](Self::diverged)), the record is not re-pointed and the device is held back
///    like one the guard stopped (the write may have moved that CI to its company);
/// 6. the records are written in one store write at the end.
///
/// # Guarantees
/// - No write is sent for a device whose dry run named another company's CI, a CI without a
///   company, a CI recorded for another device or named by another device's dry run too, or a
///   CI other than its recorded one; nor for devices of the pass sharing a name or a serial
///   number.
/// - An unchanged pass sends nothing to the Identification and Reconciliation API.
/// - A device's record never silently changes to another CI.
///
/// A request that fails leaves its devices for the next pass ([`failed_batches`]); after a rate
/// limit the remaining requests wait for the next pass too ([`deferred`]), and the pass's
/// [`NextRun`] honours the server's `Retry-After`. Refused credentials stop the step
/// ([`Stop::Credentials`]). A [`ServiceNowApi`] implementation without the dry run (the default
/// body) fails the dry-run requests, so devices that need one are not sent (they are reported
/// in [`failed_batches`]). Sending again is safe: the API identifies before it inserts (the
/// source key first), so a batch whose answer was lost (or a pass that crashed before
/// recording) is answered `NO_CHANGE` or `UPDATE` the next time, not inserted twice.
///
/// A dry run lists the devices and reads the records, runs the read-only checks of steps 2 and
/// 3 (identification dry runs, owner queries) for the devices that need them, then reports what
/// it would send ([`planned`](Self::planned)), hold ([`held`](Self::held)) and remove, and
/// writes nothing. It takes the configurations as they are stored: one the plan would activate
/// is pushed by the pass that activates it.
///
/// [`plan_cis`]: crate::plan::plan_cis
/// [`CmdbSettings::batch_size`]: crate::plan::CmdbSettings::batch_size
/// [`CmdbSettings::data_source`]: crate::plan::CmdbSettings::data_source
/// [`NinjaOneApi::devices_detailed`]: crate::ports::NinjaOneApi::devices_detailed
/// [`ServiceNowApi`]: crate::ports::ServiceNowApi
/// [`ServiceNowApi::identify_reconcile_query`]: crate::ports::ServiceNowApi::identify_reconcile_query
/// [`ServiceNowApi::ci_owners`]: crate::ports::ServiceNowApi::ci_owners
/// [`ConfigStore::write_ci_records`]: crate::ports::ConfigStore::write_ci_records
/// [`PlannedCi::check`]: crate::plan::PlannedCi::check
/// [`failed_batches`]: Self::failed_batches
/// [`deferred`]: Self::deferred
/// [`Stop::Credentials`]: super::Stop::Credentials
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiReport {
    /// The data source the items were (or would be) sent with.
    pub data_source: String,
    /// Why devices were not pushed, or not all of them, when so: the device listing failed or
    /// came back incomplete, the data source is blank, or the store keeps no CI records.
    pub problem: Option<String>,
    /// Devices in the tenant's listing.
    pub devices_listed: usize,
    /// Organizations whose devices were considered (active, with CI mappings).
    pub organizations: usize,
    /// Devices that needed sending (new or changed), before the guard's checks: those it holds
    /// are counted here too (and listed in `held`), in a dry run as in an apply.
    pub to_send: usize,
    /// Items sent (in batches that got an answer).
    pub sent: usize,
    /// Items the API inserted as new CIs.
    pub inserted: usize,
    /// Items the API updated (an operation this crate does not know, with a sys_id, counts here).
    pub updated: usize,
    /// Items sent that the API found unchanged (`NO_CHANGE`).
    pub no_change: usize,
    /// Devices not sent because their record has the same values.
    pub unchanged: usize,
    /// Devices not sent, by reason.
    pub skipped: BTreeMap<CiSkipReason, usize>,
    /// CI mappings of one organization that map a role to different classes.
    pub conflicts: Vec<CiMappingConflict>,
    /// Devices the API answered with errors (sent again by the next pass).
    pub failed: Vec<CiFailure>,
    /// Write requests made (`POST /api/now/identifyreconcile`).
    pub batches: usize,
    /// Requests that failed as a whole (their devices are sent again by the next pass).
    pub failed_batches: Vec<CiBatchFailure>,
    /// Devices left for the next pass without being sent (after a rate limit or a refused
    /// credential).
    pub deferred: usize,
    /// Device → CI records removed (devices gone, organizations deleted).
    pub removed: usize,
    /// A dry run: the devices that would be sent (after the guard's read-only checks: a device
    /// it would hold is in `held` instead). Empty when the pass applies.
    pub planned: Vec<CiPlannedLine>,
    /// Identification dry runs made (`POST /api/now/identifyreconcile/query`), one per batch of
    /// devices that needed one (no CI yet, or a changed name, serial number or company).
    pub dry_runs: usize,
    /// Devices checked by a dry run.
    pub checked: usize,
    /// Queries of the companies of CIs a dry run named (one per 100 CIs).
    pub owner_queries: usize,
    /// Devices held back, with the reason: their first write would update a CI that is not
    /// theirs (another company's, one without a company, one recorded for another device or
    /// named by another device's dry run too). Counted in `skipped` as `held_back`; not sent
    /// again until their name, serial number or company changes.
    pub held: Vec<CiHeld>,
    /// Devices the API inserted as partial payloads (not enough identifying values): no CI was
    /// written and none is recorded.
    pub partial: Vec<CiPartial>,
    /// Devices whose write updated another CI than the one recorded for them (or named by
    /// their dry run, or any CI when their dry run said insert): reported, the record is not
    /// re-pointed, and the device is held back from the next passes (listed in their `held`).
    pub diverged: Vec<CiDiverged>,
}

impl CiReport {
    fn new(data_source: &str) -> Self {
        Self {
            data_source: data_source.to_owned(),
            ..Self::default()
        }
    }

    /// Devices skipped, whatever the reason.
    #[must_use]
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// A device the API answered with errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiFailure {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name as sent.
    pub name: String,
    /// The class it was sent as.
    pub class: CiClass,
    /// The API's errors (`KIND: message; ...`), or what was wrong with its answer.
    pub message: String,
}

/// A device the API answered `INSERT_AS_PARTIAL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiPartial {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name as sent.
    pub name: String,
    /// The partial payloads ServiceNow kept (`partialSysIds`).
    pub partial_sys_ids: Vec<SysId>,
    /// What happened, with ServiceNow's warnings.
    pub message: String,
}

/// A device whose write updated another CI than the expected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiDiverged {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name as sent.
    pub name: String,
    /// The CI recorded for the device, or named by its dry run; `None` when its dry run said
    /// the write would insert a new CI.
    pub expected: Option<SysId>,
    /// The CI the write answered with.
    pub answered: SysId,
    /// What happened and what to do.
    pub message: String,
}

/// A request that failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiBatchFailure {
    /// Transient (rate limit, 5xx, timeout, an unreadable answer) or permanent.
    pub kind: FailureKind,
    /// The devices of the batch.
    pub devices: Vec<DeviceId>,
    /// The error.
    pub message: String,
}

/// A device a dry run would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiPlannedLine {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name.
    pub name: String,
    /// The class it would be sent as.
    pub class: CiClass,
    /// The CI it is recorded as, when it was sent before (changed since).
    pub known: Option<SysId>,
}

impl From<&PlannedCi> for CiPlannedLine {
    fn from(p: &PlannedCi) -> Self {
        Self {
            device: p.device,
            organization: p.organization,
            name: p.name().to_owned(),
            class: p.item.class_name.clone(),
            known: p.known.clone(),
        }
    }
}

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
            PageRequest::first(self.policy.page_size),
            self.policy.max_pages,
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

    /// Checks the items that need it with dry runs, then sends what may be written in batches,
    /// one request after the other, and returns the records to write.
    async fn send(
        &self,
        items: Vec<PlannedCi>,
        records: &[CiRecord],
        data_source: &str,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Vec<CiRecord> {
        let now = self.now();
        let mut put: Vec<CiRecord> = Vec::new();
        let batch_size = self.policy.cmdb.batch_size.max(1);
        let (to_check, direct): (Vec<PlannedCi>, Vec<PlannedCi>) =
            items.into_iter().partition(|p| p.check);
        let mut steps = Steps::default();
        let cleared = self
            .check(
                to_check,
                records,
                data_source,
                batch_size,
                report,
                ci,
                &mut steps,
                &mut put,
                now,
            )
            .await;
        if steps.stopped {
            // Checked or not, nothing more is sent this pass.
            ci.deferred += direct.len() + cleared.len();
            return put;
        }
        let mut writes: Vec<Checked> = direct
            .into_iter()
            .map(|planned| Checked {
                planned,
                expected: None,
            })
            .chain(cleared)
            .collect();
        writes.sort_by_key(|c| c.planned.device);
        let mut batches = writes.chunks(batch_size);
        for batch in batches.by_ref() {
            let payload: Vec<_> = batch.iter().map(|c| c.planned.item.clone()).collect();
            ci.batches += 1;
            report.remote_writes += 1;
            match self.snow.identify_reconcile(data_source, &payload).await {
                Ok(results) if results.len() == batch.len() => {
                    ci.sent += batch.len();
                    for (checked, result) in batch.iter().zip(results) {
                        take_answer(checked, result, now, ci, &mut put);
                    }
                }
                Ok(results) => {
                    // Which answer belongs to which item is unknown: record nothing, send again.
                    ci.failed_batches.push(batch_failure(
                        batch.iter().map(|c| &c.planned),
                        FailureKind::Transient,
                        format!(
                            "the Identification and Reconciliation API answered {} results for \
                             {} items; nothing was recorded, the next pass sends them again",
                            results.len(),
                            batch.len()
                        ),
                    ));
                }
                Err(err) => {
                    let stop =
                        self.batch_failed(&err, batch.iter().map(|c| &c.planned), report, ci);
                    if stop {
                        break;
                    }
                }
            }
        }
        ci.deferred += batches.map(<[Checked]>::len).sum::<usize>();
        put
    }

    /// A dry run of the pass: the read-only half of [`send`](Self::send) (identification dry
    /// runs and owner queries for the items that need them), so what it reports is what an
    /// apply would do: the devices it would write, and in `ci.held` those the guard would hold.
    /// Nothing is written or recorded.
    async fn preview(
        &self,
        items: Vec<PlannedCi>,
        records: &[CiRecord],
        data_source: &str,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Vec<CiPlannedLine> {
        let batch_size = self.policy.cmdb.batch_size.max(1);
        let (to_check, direct): (Vec<PlannedCi>, Vec<PlannedCi>) =
            items.into_iter().partition(|p| p.check);
        let mut steps = Steps::default();
        let mut discarded = Vec::new();
        let cleared = self
            .check(
                to_check,
                records,
                data_source,
                batch_size,
                report,
                ci,
                &mut steps,
                &mut discarded,
                self.now(),
            )
            .await;
        let mut lines: Vec<CiPlannedLine> = direct
            .iter()
            .chain(cleared.iter().map(|c| &c.planned))
            .map(CiPlannedLine::from)
            .collect();
        lines.sort_by_key(|l| l.device);
        lines
    }

    /// Reports a request that failed as a whole; `true` when no further request should be made
    /// (refused credentials, a rate limit).
    fn batch_failed<'p>(
        &self,
        err: &ApiError,
        batch: impl Iterator<Item = &'p PlannedCi>,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> bool {
        if err.kind().is_auth() {
            report.stop = Some(credentials(Remote::ServiceNow, err));
            ci.failed_batches.push(batch_failure(
                batch,
                FailureKind::Transient,
                err.to_string(),
            ));
            return true;
        }
        let kind = err.kind();
        let transient = kind.is_transient() || kind == ApiErrorKind::InvalidResponse;
        tracing::warn!(error = %err, "a CMDB request failed");
        let failure_kind = if transient {
            self.hint_retry(err, report);
            FailureKind::Transient
        } else {
            FailureKind::Permanent
        };
        ci.failed_batches
            .push(batch_failure(batch, failure_kind, err.to_string()));
        matches!(kind, ApiErrorKind::RateLimited { .. })
    }

    /// Dry runs for the items that need one, and the owner check of the CIs they would update.
    /// Returns the items that may be written; held devices get a record (in `put`), refused
    /// ones a failure.
    #[allow(clippy::too_many_arguments)]
    async fn check(
        &self,
        items: Vec<PlannedCi>,
        records: &[CiRecord],
        data_source: &str,
        batch_size: usize,
        report: &mut Report,
        ci: &mut CiReport,
        steps: &mut Steps,
        put: &mut Vec<CiRecord>,
        now: DateTime<Utc>,
    ) -> Vec<Checked> {
        let owned_by: HashMap<&SysId, DeviceId> = records
            .iter()
            .filter_map(|r| r.sys_id.as_ref().map(|id| (id, r.device)))
            .collect();
        let mut cleared: Vec<Checked> = Vec::new();
        // Items whose dry run names a CI that is not yet theirs: the owner check decides.
        let mut candidates: Vec<Checked> = Vec::new();
        let mut batches = items.chunks(batch_size);
        for batch in batches.by_ref() {
            let payload: Vec<_> = batch.iter().map(|p| p.item.clone()).collect();
            ci.dry_runs += 1;
            ci.checked += batch.len();
            let results = match self
                .snow
                .identify_reconcile_query(data_source, &payload)
                .await
            {
                Ok(results) if results.len() == batch.len() => results,
                Ok(results) => {
                    ci.failed_batches.push(batch_failure(
                        batch.iter(),
                        FailureKind::Transient,
                        format!(
                            "the Identification and Reconciliation dry run answered {} results \
                             for {} items; nothing was sent, the next pass checks them again",
                            results.len(),
                            batch.len()
                        ),
                    ));
                    continue;
                }
                Err(err) => {
                    if self.batch_failed(&err, batch.iter(), report, ci) {
                        steps.stopped = true;
                        break;
                    }
                    continue;
                }
            };
            for (planned, result) in batch.iter().zip(results) {
                match dry_answer(planned, result) {
                    Err(message) => ci.failed.push(failure(planned, message)),
                    Ok(None) => cleared.push(Checked {
                        planned: planned.clone(),
                        expected: None,
                    }),
                    Ok(Some(target)) if planned.known.as_ref() == Some(&target) => {
                        cleared.push(Checked {
                            planned: planned.clone(),
                            expected: Some(target),
                        });
                    }
                    Ok(Some(target)) if planned.known.is_some() => {
                        let known = planned.known.as_ref().map_or("", SysId::as_str);
                        let reason = format!(
                            "the CMDB now identifies it as CI {target}, not as CI {known} it is \
                             recorded as; not sent, and the record is not re-pointed. Look at \
                             both CIs in ServiceNow (one may have been deleted, merged or taken \
                             over); the device is checked again when its name, serial number or \
                             company changes"
                        );
                        put.push(held_record(planned, reason, now, ci));
                    }
                    Ok(Some(target)) => match owned_by.get(&target) {
                        Some(other) if *other != planned.device => {
                            let reason = format!(
                                "its first write would update CI {target}, which is recorded for \
                                 NinjaOne device {other}; not sent, so the two devices are not \
                                 merged. Give one of them another name (or fix the serial \
                                 number); the device is checked again when its name or serial \
                                 number changes"
                            );
                            put.push(held_record(planned, reason, now, ci));
                        }
                        _ => candidates.push(Checked {
                            planned: planned.clone(),
                            expected: Some(target),
                        }),
                    },
                }
            }
        }
        ci.deferred += batches.map(<[PlannedCi]>::len).sum::<usize>();
        if steps.stopped || candidates.is_empty() {
            return cleared;
        }
        let candidates = hold_shared_targets(candidates, now, ci, put);
        cleared.extend(
            self.check_owners(candidates, report, ci, steps, put, now)
                .await,
        );
        cleared
    }

    /// Reads the companies of the CIs `candidates` would update (one query per
    /// [`OWNER_QUERY`] CIs) and holds back the devices whose CI belongs to another company.
    async fn check_owners(
        &self,
        candidates: Vec<Checked>,
        report: &mut Report,
        ci: &mut CiReport,
        steps: &mut Steps,
        put: &mut Vec<CiRecord>,
        now: DateTime<Utc>,
    ) -> Vec<Checked> {
        let mut ids: Vec<SysId> = candidates
            .iter()
            .filter_map(|c| c.expected.clone())
            .collect();
        ids.sort();
        ids.dedup();
        let mut owners: HashMap<SysId, CiOwner> = HashMap::new();
        for chunk in ids.chunks(OWNER_QUERY) {
            ci.owner_queries += 1;
            match self.snow.ci_owners(chunk).await {
                Ok(found) => owners.extend(found.into_iter().map(|o| (o.sys_id.clone(), o))),
                Err(err) => {
                    let affected = candidates
                        .iter()
                        .filter(|c| c.expected.as_ref().is_some_and(|id| chunk.contains(id)))
                        .map(|c| &c.planned);
                    if self.batch_failed(&err, affected, report, ci) {
                        steps.stopped = true;
                        let failed: Vec<DeviceId> = ci
                            .failed_batches
                            .last()
                            .map(|f| f.devices.clone())
                            .unwrap_or_default();
                        ci.deferred += candidates
                            .iter()
                            .filter(|c| !failed.contains(&c.planned.device))
                            .count();
                        return Vec::new();
                    }
                }
            }
        }
        let mut names: HashMap<SysId, String> = HashMap::new();
        let mut cleared = Vec::new();
        for checked in candidates {
            let Some(target) = checked.expected.clone() else {
                continue;
            };
            let Some(owner) = owners.get(&target) else {
                if ci
                    .failed_batches
                    .iter()
                    .any(|f| f.devices.contains(&checked.planned.device))
                {
                    continue;
                }
                ci.failed.push(failure(
                    &checked.planned,
                    format!(
                        "its first write would update CI {target}, whose company could not be \
                         read (the CI is gone, or the integration user may not read cmdb_ci); \
                         not sent, the next pass checks it again"
                    ),
                ));
                continue;
            };
            let ours = checked
                .planned
                .item
                .values
                .get("company")
                .cloned()
                .unwrap_or_default();
            match &owner.company {
                Some(theirs) if theirs.as_str() != ours => {
                    let their_name = self.company_name(theirs, &mut names).await;
                    let our_name = self.value_company_name(&ours, &mut names).await;
                    let ci_name = owner.name.as_deref().unwrap_or("(no name)");
                    let reason = format!(
                        "its first write would update CI {ci_name:?} ({target}) of company \
                         {their_name}, but the device belongs to company {our_name}; not sent, so \
                         the CI is not taken over. Rename the device or correct its serial number \
                         in NinjaOne, or move it to the CI's organization if it is that \
                         customer's; it is checked again when its name, serial number or company \
                         changes"
                    );
                    put.push(held_record(&checked.planned, reason, now, ci));
                }
                None => {
                    let our_name = self.value_company_name(&ours, &mut names).await;
                    let ci_name = owner.name.as_deref().unwrap_or("(no name)");
                    let reason = format!(
                        "its first write would update CI {ci_name:?} ({target}), which has no \
                         company: it may be another customer's, so it is not moved to company \
                         {our_name}; not sent. Rename the device or correct its serial number in \
                         NinjaOne if the CI is another machine; it is checked again when its \
                         name, serial number or company changes, or when its CI record is \
                         removed (do that after setting the CI's company in ServiceNow if it is \
                         this device)"
                    );
                    put.push(held_record(&checked.planned, reason, now, ci));
                }
                Some(_) => cleared.push(checked),
            }
        }
        cleared
    }

    /// [`company_name`](Self::company_name) of an item's `company` value (`(value)` when it is
    /// not a sys_id).
    async fn value_company_name(&self, value: &str, names: &mut HashMap<SysId, String>) -> String {
        match value.parse::<SysId>() {
            Ok(id) => self.company_name(&id, names).await,
            Err(_) => format!("({value})"),
        }
    }

    /// `"Name" (sys_id)` of a company, read once per pass; the sys_id alone when it cannot be
    /// read.
    async fn company_name(&self, id: &SysId, names: &mut HashMap<SysId, String>) -> String {
        if let Some(name) = names.get(id) {
            return name.clone();
        }
        let name = match self.snow.company(id).await {
            Ok(Some(company)) => format!("{:?} ({id})", company.name),
            _ => format!("({id})"),
        };
        names.insert(id.clone(), name.clone());
        name
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

/// CIs whose owners are read in one query.
const OWNER_QUERY: usize = 100;

/// What the step carries between its stages.
#[derive(Default)]
struct Steps {
    /// No further request is made (refused credentials, a rate limit).
    stopped: bool,
}

/// An item that may be written, with the CI its dry run named (when it had one).
struct Checked {
    planned: PlannedCi,
    expected: Option<SysId>,
}

fn failure(planned: &PlannedCi, message: String) -> CiFailure {
    tracing::warn!(device = %planned.device, %message, "the CMDB refused a device");
    CiFailure {
        device: planned.device,
        organization: planned.organization,
        name: planned.name().to_owned(),
        class: planned.item.class_name.clone(),
        message,
    }
}

/// Holds back the candidates whose dry runs named one CI together (one device's serial number
/// and another's name can match the same CI): written in one pass, the second write would take
/// the CI over from the first. Returns the others.
fn hold_shared_targets(
    candidates: Vec<Checked>,
    now: DateTime<Utc>,
    ci: &mut CiReport,
    put: &mut Vec<CiRecord>,
) -> Vec<Checked> {
    let mut by_target: HashMap<SysId, Vec<DeviceId>> = HashMap::new();
    for c in &candidates {
        if let Some(target) = &c.expected {
            by_target
                .entry(target.clone())
                .or_default()
                .push(c.planned.device);
        }
    }
    let mut rest = Vec::with_capacity(candidates.len());
    for checked in candidates {
        let sharing = checked
            .expected
            .as_ref()
            .and_then(|t| by_target.get(t))
            .filter(|devices| devices.len() > 1);
        match (sharing, &checked.expected) {
            (Some(devices), Some(target)) => {
                let others: Vec<String> = devices
                    .iter()
                    .filter(|d| **d != checked.planned.device)
                    .map(ToString::to_string)
                    .collect();
                let reason = format!(
                    "its first write would update CI {target}, which the first write of NinjaOne \
                     device(s) {} would update too; not sent, so the devices are not merged into \
                     one CI. Give them distinct names and serial numbers (or fix the CI in \
                     ServiceNow); the device is checked again when its name, serial number or \
                     company changes",
                    others.join(", ")
                );
                put.push(held_record(&checked.planned, reason, now, ci));
            }
            _ => rest.push(checked),
        }
    }
    rest
}

/// The record of a held-back device: its CI (if it had one) is kept, and it is not sent until
/// its identity changes.
fn held_record(
    planned: &PlannedCi,
    reason: String,
    now: DateTime<Utc>,
    ci: &mut CiReport,
) -> CiRecord {
    tracing::warn!(device = %planned.device, %reason, "a device is held back from the CMDB");
    ci.held.push(CiHeld {
        device: planned.device,
        organization: planned.organization,
        name: planned.name().to_owned(),
        reason: reason.clone(),
    });
    *ci.skipped.entry(CiSkipReason::HeldBack).or_insert(0) += 1;
    let mut record = CiRecord::new(
        planned.device,
        planned.organization,
        planned.item.class_name.clone(),
        planned.known.clone(),
        planned.fingerprint.clone(),
        now,
    )
    .with_identity(planned.identity.clone());
    record.held = Some(reason);
    record
}

/// A dry run's answer for one item: `None` when the write would insert (or keep a partial
/// payload), the CI it would update otherwise, or what was wrong.
fn dry_answer(planned: &PlannedCi, result: CiItemResult) -> Result<Option<SysId>, String> {
    check_echo(planned, &result)?;
    if !result.errors.is_empty() {
        return Err(item_errors(&result.errors));
    }
    match (result.operation, result.sys_id) {
        (Some(CiOperation::Insert | CiOperation::InsertAsPartial), _) => Ok(None),
        (Some(_), Some(sys_id)) => Ok(Some(sys_id)),
        (Some(operation), None) => Err(format!(
            "the dry run answered {operation} without naming the CI; not sent"
        )),
        (None, _) => Err("the dry run did not process the item, and gave no error".to_owned()),
    }
}

fn check_echo(planned: &PlannedCi, result: &CiItemResult) -> Result<(), String> {
    if let (Some(sent), Some(echoed)) = (&planned.item.internal_id, &result.internal_id)
        && sent != echoed
    {
        return Err(format!(
            "the answer is for internal_id {echoed:?}, not {sent:?}: the results came back out \
             of order"
        ));
    }
    Ok(())
}

fn item_errors(errors: &[CiItemError]) -> String {
    let errors: Vec<String> = errors
        .iter()
        .map(|e| {
            if e.kind.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.kind, e.message)
            }
        })
        .collect();
    errors.join("; ")
}

/// Counts one item's answer, and records the device or reports its failure.
fn take_answer(
    checked: &Checked,
    result: CiItemResult,
    now: DateTime<Utc>,
    ci: &mut CiReport,
    put: &mut Vec<CiRecord>,
) {
    let planned = &checked.planned;
    let warnings = result.warnings.clone();
    let partial_ids = result.partial_sys_ids.clone();
    match answer(planned, result) {
        Ok(Answer::Partial) => {
            let mut record = record(planned, None, now);
            record.partial = true;
            put.push(record);
            let why = if warnings.is_empty() {
                "not enough identifying values".to_owned()
            } else {
                item_errors(&warnings)
            };
            ci.partial.push(CiPartial {
                device: planned.device,
                organization: planned.organization,
                name: planned.name().to_owned(),
                partial_sys_ids: partial_ids,
                message: format!(
                    "inserted as a partial payload ({why}): no CI was written and none is \
                     recorded; incidents of this device carry no cmdb_ci"
                ),
            });
        }
        Ok(Answer::Written(operation, sys_id)) => {
            match operation {
                CiOperation::Insert => ci.inserted += 1,
                CiOperation::NoChange => ci.no_change += 1,
                _ => ci.updated += 1,
            }
            // An insert makes a new CI for the device (its recorded one is gone, or it had
            // none): that is its CI now. An update or "no change" of another CI than expected
            // is reported instead; so is one where the dry run (`planned.check`) said the write
            // would insert.
            let expected = planned.known.as_ref().or(checked.expected.as_ref());
            let diverged = operation != CiOperation::Insert
                && match expected {
                    Some(expected) => *expected != sys_id,
                    None => planned.check,
                };
            if diverged {
                let kept = planned.known.as_ref().map_or("no CI", SysId::as_str);
                let was = expected.map_or_else(
                    || "a new CI, as its dry run said".to_owned(),
                    |e| format!("CI {e} the device is recorded as (or its dry run named)"),
                );
                let message = format!(
                    "the write answered {operation} of CI {sys_id}, not of {was}; the record \
                     keeps {kept}, and the device is held back until its name, serial number or \
                     company changes (the write may have moved that CI to its company). Look at \
                     both CIs in ServiceNow"
                );
                tracing::warn!(device = %planned.device, %message, "a CMDB write went elsewhere");
                ci.diverged.push(CiDiverged {
                    device: planned.device,
                    organization: planned.organization,
                    name: planned.name().to_owned(),
                    expected: expected.cloned(),
                    answered: sys_id,
                    message: message.clone(),
                });
                // Held, not merely re-checked: the write has set the device's company on the
                // CI it landed on, so the next pass's owner check would adopt it.
                let mut kept = record(planned, planned.known.clone(), now);
                kept.held = Some(message);
                put.push(kept);
            } else {
                put.push(record(planned, Some(sys_id), now));
            }
        }
        Err(message) => ci.failed.push(failure(planned, message)),
    }
}

/// What a write did with an item.
enum Answer {
    Written(CiOperation, SysId),
    Partial,
}

/// An item's answer: the operation and the CI's sys_id, a partial insert, or what was wrong.
fn answer(planned: &PlannedCi, result: CiItemResult) -> Result<Answer, String> {
    check_echo(planned, &result)?;
    if !result.errors.is_empty() {
        return Err(item_errors(&result.errors));
    }
    match (result.operation, result.sys_id) {
        (Some(CiOperation::InsertAsPartial), _) => Ok(Answer::Partial),
        (Some(operation), Some(sys_id)) => Ok(Answer::Written(operation, sys_id)),
        (Some(operation), None) => Err(format!("answered {operation} without a CI sys_id")),
        (None, _) => Err("not processed, and no error given".to_owned()),
    }
}

fn record(planned: &PlannedCi, sys_id: Option<SysId>, now: DateTime<Utc>) -> CiRecord {
    CiRecord::new(
        planned.device,
        planned.organization,
        planned.item.class_name.clone(),
        sys_id,
        planned.fingerprint.clone(),
        now,
    )
    .with_identity(planned.identity.clone())
}

fn batch_failure<'p>(
    batch: impl Iterator<Item = &'p PlannedCi>,
    kind: FailureKind,
    message: String,
) -> CiBatchFailure {
    CiBatchFailure {
        kind,
        devices: batch.map(|p| p.device).collect(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{CiItem, CiItemError, CiSourceInfo};

    fn planned() -> PlannedCi {
        let item = CiItem {
            class_name: "cmdb_ci_win_server".parse().expect("a class"),
            values: BTreeMap::from([("name".to_owned(), "SRV-01".to_owned())]),
            internal_id: Some("ninjaone-device-8".to_owned()),
            source: Some(CiSourceInfo::new("NinjaOne", "8")),
        };
        PlannedCi {
            device: DeviceId::new(8).expect("an id"),
            organization: OrganizationId::new(1).expect("an id"),
            fingerprint: crate::plan::ci_fingerprint("NinjaOne", &item),
            identity: crate::plan::ci_identity("NinjaOne", &item),
            item,
            known: None,
            check: true,
        }
    }

    fn result(operation: Option<CiOperation>, sys_id: Option<&str>) -> CiItemResult {
        let mut r = CiItemResult::new(
            operation,
            sys_id.map(|s| s.parse().expect("a sys_id")),
            Some("ninjaone-device-8".to_owned()),
        );
        r.class_name = Some("cmdb_ci_win_server".to_owned());
        r
    }

    const SYS: &str = "ef43c6d40a0a0b5700c77f9bf387afe3";

    #[test]
    fn an_answer_with_an_operation_and_a_sys_id_is_taken() {
        let Ok(Answer::Written(op, id)) =
            answer(&planned(), result(Some(CiOperation::Update), Some(SYS)))
        else {
            panic!("accepted");
        };
        assert_eq!((op, id.as_str()), (CiOperation::Update, SYS));
    }

    #[test]
    fn a_partial_insert_is_taken_without_a_sys_id() {
        let partial = answer(&planned(), result(Some(CiOperation::InsertAsPartial), None));
        assert!(matches!(partial, Ok(Answer::Partial)));
        assert_eq!(
            dry_answer(&planned(), result(Some(CiOperation::InsertAsPartial), None)),
            Ok(None)
        );
    }

    #[test]
    fn a_partial_insert_records_no_ci_and_says_so() {
        let mut partial = result(Some(CiOperation::InsertAsPartial), None);
        partial.partial_sys_ids = vec![SYS.parse().expect("a sys_id")];
        partial.warnings = vec![CiItemError {
            kind: "MISSING_MATCHING_ATTRIBUTES".to_owned(),
            message: "no matching attributes".to_owned(),
        }];
        let checked = Checked {
            planned: planned(),
            expected: None,
        };
        let (mut ci, mut put) = (CiReport::default(), Vec::new());
        take_answer(&checked, partial, chrono::Utc::now(), &mut ci, &mut put);
        let [record] = put.as_slice() else {
            panic!("one record: {put:?}");
        };
        assert_eq!((record.sys_id.as_ref(), record.partial), (None, true));
        let [reported] = ci.partial.as_slice() else {
            panic!("one partial: {:?}", ci.partial);
        };
        assert_eq!(reported.partial_sys_ids.len(), 1);
        assert!(
            reported.message.contains("MISSING_MATCHING_ATTRIBUTES")
                && reported.message.contains("none is recorded"),
            "{}",
            reported.message
        );
        assert_eq!((ci.inserted, ci.updated, ci.failed.len()), (0, 0, 0));
    }

    #[test]
    fn a_dry_run_names_the_ci_an_update_would_change() {
        assert_eq!(
            dry_answer(&planned(), result(Some(CiOperation::Insert), None)),
            Ok(None)
        );
        assert_eq!(
            dry_answer(&planned(), result(Some(CiOperation::NoChange), Some(SYS)))
                .map(|id| id.map(|i| i.as_str().to_owned())),
            Ok(Some(SYS.to_owned()))
        );
        assert!(dry_answer(&planned(), result(Some(CiOperation::Update), None)).is_err());
        assert!(dry_answer(&planned(), result(None, None)).is_err());
    }

    #[test]
    fn errors_missing_sys_ids_and_foreign_answers_are_failures() {
        let mut refused = result(None, None);
        refused.errors = vec![
            CiItemError {
                kind: "MISSING_MATCHING_ATTRIBUTES".to_owned(),
                message: "no matching attributes".to_owned(),
            },
            CiItemError {
                kind: "INVALID_INPUT_DATA".to_owned(),
                message: "bad".to_owned(),
            },
        ];
        assert_eq!(
            answer(&planned(), refused).err(),
            Some(
                "MISSING_MATCHING_ATTRIBUTES: no matching attributes; INVALID_INPUT_DATA: bad"
                    .to_owned()
            )
        );
        let no_id = answer(&planned(), result(Some(CiOperation::Insert), None));
        assert_eq!(
            no_id.err(),
            Some("answered INSERT without a CI sys_id".to_owned())
        );
        assert!(answer(&planned(), result(None, Some(SYS))).is_err());
        let mut foreign = result(Some(CiOperation::Insert), Some(SYS));
        foreign.internal_id = Some("ninjaone-device-9".to_owned());
        let err = answer(&planned(), foreign).err().expect("refused");
        assert!(err.contains("out of order"), "{err}");
    }

    const OTHER: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_write_that_updates_a_ci_where_the_dry_run_said_insert_is_not_recorded() {
        // Checked (a first write), the dry run answered INSERT; the write says it updated a CI
        // (created in between, or a dry run that answered otherwise). Recording it would let
        // the next pass adopt it: the write has just moved it to the device's company.
        let checked = Checked {
            planned: planned(),
            expected: None,
        };
        let (mut ci, mut put) = (CiReport::default(), Vec::new());
        let answer = result(Some(CiOperation::Update), Some(SYS));
        take_answer(&checked, answer, chrono::Utc::now(), &mut ci, &mut put);
        let [record] = put.as_slice() else {
            panic!("one record: {put:?}");
        };
        assert_eq!(record.sys_id, None, "not pointed at the CI");
        assert!(record.held.is_some(), "held until its identity changes");
        let [diverged] = ci.diverged.as_slice() else {
            panic!("reported: {:?}", ci.diverged);
        };
        assert_eq!(
            (diverged.expected.as_ref(), diverged.answered.as_str()),
            (None, SYS)
        );
    }

    #[test]
    fn a_first_write_that_lands_on_another_ci_than_its_dry_run_named_is_held() {
        let checked = Checked {
            planned: planned(),
            expected: Some(OTHER.parse().expect("a sys_id")),
        };
        let (mut ci, mut put) = (CiReport::default(), Vec::new());
        let answer = result(Some(CiOperation::Update), Some(SYS));
        take_answer(&checked, answer, chrono::Utc::now(), &mut ci, &mut put);
        let [record] = put.as_slice() else {
            panic!("one record: {put:?}");
        };
        assert_eq!(record.sys_id, None);
        assert!(
            record.held.is_some(),
            "not adopted by the next pass's owner check"
        );
        assert_eq!(ci.diverged.len(), 1);
    }

    #[test]
    fn an_insert_where_the_dry_run_said_insert_is_recorded() {
        let checked = Checked {
            planned: planned(),
            expected: None,
        };
        let (mut ci, mut put) = (CiReport::default(), Vec::new());
        let answer = result(Some(CiOperation::Insert), Some(SYS));
        take_answer(&checked, answer, chrono::Utc::now(), &mut ci, &mut put);
        assert_eq!(put[0].sys_id.as_ref().map(SysId::as_str), Some(SYS));
        assert!(put[0].held.is_none() && ci.diverged.is_empty());
    }
}
