//! The CMDB step of a pass; what it does is on [`CiReport`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::OrganizationSync;
use super::error::SyncError;
use super::report::{ApplyMode, FailureKind, NextRun, Report};
use super::throttle::{after, credentials};
use crate::model::{
    CiClass, CiItemResult, CiMapping, CiOperation, CiRecord, Device, DeviceId, OrganizationId,
    SyncConfig, SyncStatus, SysId,
};
use crate::plan::{CiMappingConflict, CiSkipReason, PlannedCi, plan_cis};
use crate::ports::{ApiError, ApiErrorKind, Listing, PageRequest, StoreErrorKind, collect_all};

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
/// 1. the tenant's devices are listed once, page by page ([`NinjaOneApi::devices`]) — never per
///    organization or per device;
/// 2. the items are sent in batches of [`CmdbSettings::batch_size`], one request after the other,
///    with [`CmdbSettings::data_source`];
/// 3. each item's answer updates the device's record (CI sys_id and the digest of what was sent);
///    an item the API answered with errors is reported per device ([`failed`](Self::failed)) and
///    its record is left as it was, so the next pass sends the device again;
/// 4. the records are written in one store write at the end.
///
/// A batch that fails leaves its devices for the next pass ([`failed_batches`]); after a rate
/// limit the remaining batches wait for the next pass too ([`deferred`]), and the pass's
/// [`NextRun`] honours the server's `Retry-After`. Refused credentials stop the step
/// ([`Stop::Credentials`]). Sending again is safe: the API identifies before it inserts, so a
/// batch whose answer was lost (or a pass that crashed before recording) is answered `NO_CHANGE`
/// or `UPDATE` the next time, not inserted twice.
///
/// A dry run lists the devices and reads the records, then reports what it would send
/// ([`planned`](Self::planned)) and remove, and writes nothing. It takes the configurations as
/// they are stored: one the plan would activate is pushed by the pass that activates it.
///
/// [`plan_cis`]: crate::plan::plan_cis
/// [`CmdbSettings::batch_size`]: crate::plan::CmdbSettings::batch_size
/// [`CmdbSettings::data_source`]: crate::plan::CmdbSettings::data_source
/// [`NinjaOneApi::devices`]: crate::ports::NinjaOneApi::devices
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
    /// Devices that needed sending (new or changed); in a dry run, those that would be sent.
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
    /// Requests made.
    pub batches: usize,
    /// Requests that failed as a whole (their devices are sent again by the next pass).
    pub failed_batches: Vec<CiBatchFailure>,
    /// Devices left for the next pass without being sent (after a rate limit or a refused
    /// credential).
    pub deferred: usize,
    /// Device → CI records removed (devices gone, organizations deleted).
    pub removed: usize,
    /// A dry run: the devices that would be sent. Empty when the pass applies.
    pub planned: Vec<CiPlannedLine>,
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
                "the CMDB data source is blank: set CmdbSettings::data_source to a choice of \
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
            Err(err) if err.kind() == StoreErrorKind::Unsupported => {
                ci.problem = Some(format!("{err}; no device was sent"));
                return Ok(());
            }
            Err(err) => {
                return Err(SyncError::Store {
                    context: "could not read the device → CI records".to_owned(),
                    source: err,
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
        for conflict in &plan.conflicts {
            tracing::warn!(
                organization = %conflict.organization,
                role = %conflict.role,
                devices = conflict.devices,
                "CI mappings map a device role to different classes; its devices are skipped"
            );
        }
        if apply == ApplyMode::DryRun {
            ci.planned = plan.items.iter().map(CiPlannedLine::from).collect();
            return Ok(());
        }
        let put = self.send(&plan.items, &data_source, report, ci).await;
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
                source,
            })
    }

    /// The tenant's devices, page by page; `None` (with the report's problem, stop and next-run
    /// hint set) when the listing failed.
    async fn list_devices(
        &self,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Option<Listing<Device>> {
        let listing = collect_all(
            PageRequest::first(self.policy.page_size),
            self.policy.max_pages,
            |page| self.ninja.devices(page),
        )
        .await;
        let listing = match listing {
            Ok(listing) => listing,
            Err(err) if err.kind().is_auth() => {
                report.stop = Some(credentials("NinjaOne", &err));
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

    /// Sends `items` in batches, one request after the other, and returns the records of the
    /// items the API accepted.
    async fn send(
        &self,
        items: &[PlannedCi],
        data_source: &str,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Vec<CiRecord> {
        let now = self.now();
        let mut put: Vec<CiRecord> = Vec::new();
        let mut batches = items.chunks(self.policy.cmdb.batch_size.max(1));
        for batch in batches.by_ref() {
            let payload: Vec<_> = batch.iter().map(|p| p.item.clone()).collect();
            ci.batches += 1;
            report.remote_writes += 1;
            match self.snow.identify_reconcile(data_source, &payload).await {
                Ok(results) if results.len() == batch.len() => {
                    ci.sent += batch.len();
                    for (planned, result) in batch.iter().zip(results) {
                        take_answer(planned, result, now, ci, &mut put);
                    }
                }
                Ok(results) => {
                    // Which answer belongs to which item is unknown: record nothing, send again.
                    ci.failed_batches.push(batch_failure(
                        batch,
                        FailureKind::Transient,
                        format!(
                            "the Identification and Reconciliation API answered {} results for \
                             {} items; nothing was recorded, the next pass sends them again",
                            results.len(),
                            batch.len()
                        ),
                    ));
                }
                Err(err) if err.kind().is_auth() => {
                    report.stop = Some(credentials("ServiceNow", &err));
                    ci.failed_batches.push(batch_failure(
                        batch,
                        FailureKind::Transient,
                        err.to_string(),
                    ));
                    break;
                }
                Err(err) => {
                    let kind = err.kind();
                    let transient = kind.is_transient() || kind == ApiErrorKind::InvalidResponse;
                    tracing::warn!(error = %err, devices = batch.len(), "a CMDB batch failed");
                    let failure_kind = if transient {
                        self.hint_retry(&err, report);
                        FailureKind::Transient
                    } else {
                        FailureKind::Permanent
                    };
                    ci.failed_batches
                        .push(batch_failure(batch, failure_kind, err.to_string()));
                    if matches!(kind, ApiErrorKind::RateLimited { .. }) {
                        break;
                    }
                }
            }
        }
        ci.deferred = batches.map(<[PlannedCi]>::len).sum();
        put
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

/// Counts one item's answer, and records the device or reports its failure.
fn take_answer(
    planned: &PlannedCi,
    result: CiItemResult,
    now: DateTime<Utc>,
    ci: &mut CiReport,
    put: &mut Vec<CiRecord>,
) {
    match answer(planned, result) {
        Ok((operation, sys_id)) => {
            match operation {
                CiOperation::Insert => ci.inserted += 1,
                CiOperation::NoChange => ci.no_change += 1,
                _ => ci.updated += 1,
            }
            put.push(record(planned, sys_id, now));
        }
        Err(message) => {
            tracing::warn!(device = %planned.device, %message, "the CMDB refused a device");
            ci.failed.push(CiFailure {
                device: planned.device,
                organization: planned.organization,
                name: planned.name().to_owned(),
                class: planned.item.class_name.clone(),
                message,
            });
        }
    }
}

/// An item's answer: the operation and the CI's sys_id, or what was wrong.
fn answer(planned: &PlannedCi, result: CiItemResult) -> Result<(CiOperation, SysId), String> {
    if let (Some(sent), Some(echoed)) = (&planned.item.internal_id, &result.internal_id)
        && sent != echoed
    {
        return Err(format!(
            "the answer is for internal_id {echoed:?}, not {sent:?}: the results came back out \
             of order"
        ));
    }
    if !result.errors.is_empty() {
        let errors: Vec<String> = result
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.kind, e.message))
            .collect();
        return Err(errors.join("; "));
    }
    match (result.operation, result.sys_id) {
        (Some(operation), Some(sys_id)) => Ok((operation, sys_id)),
        (Some(operation), None) => Err(format!("answered {operation} without a CI sys_id")),
        (None, _) => Err("not processed, and no error given".to_owned()),
    }
}

fn record(planned: &PlannedCi, sys_id: SysId, now: DateTime<Utc>) -> CiRecord {
    CiRecord::new(
        planned.device,
        planned.organization,
        planned.item.class_name.clone(),
        Some(sys_id),
        planned.fingerprint.clone(),
        now,
    )
}

fn batch_failure(batch: &[PlannedCi], kind: FailureKind, message: String) -> CiBatchFailure {
    CiBatchFailure {
        kind,
        devices: batch.iter().map(|p| p.device).collect(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{CiItem, CiItemError};

    fn planned() -> PlannedCi {
        let item = CiItem {
            class_name: "cmdb_ci_win_server".parse().expect("a class"),
            values: BTreeMap::from([("name".to_owned(), "SRV-01".to_owned())]),
            internal_id: Some("ninjaone-device-8".to_owned()),
        };
        PlannedCi {
            device: DeviceId::new(8).expect("an id"),
            organization: OrganizationId::new(1).expect("an id"),
            fingerprint: crate::plan::ci_fingerprint("NinjaOne", &item),
            item,
            known: None,
        }
    }

    fn result(operation: Option<CiOperation>, sys_id: Option<&str>) -> CiItemResult {
        CiItemResult {
            class_name: Some("cmdb_ci_win_server".to_owned()),
            operation,
            sys_id: sys_id.map(|s| s.parse().expect("a sys_id")),
            internal_id: Some("ninjaone-device-8".to_owned()),
            errors: Vec::new(),
        }
    }

    const SYS: &str = "ef43c6d40a0a0b5700c77f9bf387afe3";

    #[test]
    fn an_answer_with_an_operation_and_a_sys_id_is_taken() {
        let (op, id) =
            answer(&planned(), result(Some(CiOperation::Update), Some(SYS))).expect("accepted");
        assert_eq!((op, id.as_str()), (CiOperation::Update, SYS));
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
            answer(&planned(), refused),
            Err(
                "MISSING_MATCHING_ATTRIBUTES: no matching attributes; INVALID_INPUT_DATA: bad"
                    .to_owned()
            )
        );
        let no_id = answer(&planned(), result(Some(CiOperation::Insert), None));
        assert_eq!(no_id, Err("answered INSERT without a CI sys_id".to_owned()));
        assert!(answer(&planned(), result(None, Some(SYS))).is_err());
        let mut foreign = result(Some(CiOperation::Insert), Some(SYS));
        foreign.internal_id = Some("ninjaone-device-9".to_owned());
        let err = answer(&planned(), foreign).expect_err("refused");
        assert!(err.contains("out of order"), "{err}");
    }
}
