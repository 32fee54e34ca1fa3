//! Reading one answer of Identification and Reconciliation: counted, recorded, or a failure.

use chrono::{DateTime, Utc};

use super::report::{CiBatchFailure, CiDiverged, CiFailure, CiPartial, CiReport};
use crate::engine::outcome::FailureKind;
use crate::model::{CiItemError, CiItemResult, CiOperation, CiRecord, SysId};
use crate::plan::PlannedCi;

/// What the step carries between its stages.
#[derive(Default)]
pub(super) struct Steps {
    /// No further request is made (refused credentials, a rate limit).
    pub(super) stopped: bool,
}

/// An item that may be written, with the CI its dry run named (when it had one).
pub(super) struct Checked {
    pub(super) planned: PlannedCi,
    pub(super) expected: Option<SysId>,
}

pub(super) fn failure(planned: &PlannedCi, message: String) -> CiFailure {
    tracing::warn!(device = %planned.device, %message, "the CMDB refused a device");
    CiFailure {
        device: planned.device,
        organization: planned.organization,
        name: planned.name().to_owned(),
        class: planned.item.class_name.clone(),
        message,
    }
}

/// A dry run's answer for one item: `None` when the write would insert (or keep a partial
/// payload), the CI it would update otherwise, or what was wrong.
pub(super) fn dry_answer(
    planned: &PlannedCi,
    result: CiItemResult,
) -> Result<Option<SysId>, String> {
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

pub(super) fn check_echo(planned: &PlannedCi, result: &CiItemResult) -> Result<(), String> {
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

pub(super) fn item_errors(errors: &[CiItemError]) -> String {
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
pub(super) fn take_answer(
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
pub(super) enum Answer {
    Written(CiOperation, SysId),
    Partial,
}

/// An item's answer: the operation and the CI's sys_id, a partial insert, or what was wrong.
pub(super) fn answer(planned: &PlannedCi, result: CiItemResult) -> Result<Answer, String> {
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

pub(super) fn record(planned: &PlannedCi, sys_id: Option<SysId>, now: DateTime<Utc>) -> CiRecord {
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

pub(super) fn batch_failure<'p>(
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
