//! Tests of how the CMDB step reads the answers of Identification and Reconciliation.

use std::collections::BTreeMap;

use super::answer::*;
use super::report::CiReport;
use crate::model::{CiItem, CiItemError, CiSourceInfo};
use crate::model::{CiItemResult, CiOperation, DeviceId, OrganizationId, SysId};
use crate::plan::PlannedCi;

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
