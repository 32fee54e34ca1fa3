//! The CMDB step's checks before a write: identification dry runs and the owner guard that
//! holds back a device whose CI belongs to someone else.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::answer::{Checked, Steps, batch_failure, dry_answer, failure};
use super::report::CiReport;
use crate::engine::OrganizationSync;
use crate::engine::outcome::FailureKind;
use crate::engine::report::Report;
use crate::model::{CiOwner, CiRecord, DeviceId, SysId};
use crate::plan::{CiHeld, CiSkipReason, PlannedCi};

impl OrganizationSync {
    /// Dry runs for the items that need one, and the owner check of the CIs they would update.
    /// Returns the items that may be written; held devices get a record (in `put`), refused
    /// ones a failure.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check(
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
    pub(super) async fn check_owners(
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
    pub(super) async fn value_company_name(
        &self,
        value: &str,
        names: &mut HashMap<SysId, String>,
    ) -> String {
        match value.parse::<SysId>() {
            Ok(id) => self.company_name(&id, names).await,
            Err(_) => format!("({value})"),
        }
    }

    /// `"Name" (sys_id)` of a company, read once per pass; the sys_id alone when it cannot be
    /// read.
    pub(super) async fn company_name(
        &self,
        id: &SysId,
        names: &mut HashMap<SysId, String>,
    ) -> String {
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
}

/// CIs whose owners are read in one query.
pub(super) const OWNER_QUERY: usize = 100;

/// Holds back the candidates whose dry runs named one CI together (one device's serial number
/// and another's name can match the same CI): written in one pass, the second write would take
/// the CI over from the first. Returns the others.
pub(super) fn hold_shared_targets(
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
pub(super) fn held_record(
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
