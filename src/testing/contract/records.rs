//! Contract rules for alert → ticket and device → CI records.

use super::{at, ok, refused};
use crate::model::{AlertUid, CiRecord, TicketKind, TicketRecord, TicketRecordState};
use crate::ports::{ConfigStore, StoreErrorKind};
use crate::testing::ids::{device, org, sys_id};

pub(super) fn ticket(uid: &str, secs: i64) -> TicketRecord {
    let alert: AlertUid = uid.parse().expect("store_contract: a valid alert uid");
    let correlation = format!("ninjaone:contract:alert:{uid}")
        .parse()
        .expect("store_contract: a valid correlation id");
    TicketRecord::creating(alert, org(1), TicketKind::Incident, correlation, at(secs))
}

pub(super) fn alert(uid: &str) -> AlertUid {
    uid.parse().expect("store_contract: a valid alert uid")
}

pub(super) async fn ticket_records(store: &dyn ConfigStore) {
    assert_eq!(
        ok(
            store.ticket_records().await,
            "listing ticket records of a new store"
        ),
        Vec::new(),
        "store_contract: a new store has no ticket records"
    );
    let (b, a, c) = (ticket("b-2", 1), ticket("a-1", 2), ticket("c-3", 3));
    ok(
        store
            .write_ticket_records(vec![b.clone(), a.clone(), c.clone()], Vec::new())
            .await,
        "inserting three ticket records",
    );
    assert_eq!(
        ok(store.ticket_records().await, "listing ticket records"),
        vec![a.clone(), b.clone(), c.clone()],
        "store_contract: ticket records come back ordered by alert uid"
    );

    let mut opened = a.clone();
    opened.ticket = Some(sys_id(7));
    opened.number = Some("INC0010001".to_owned());
    opened.state = TicketRecordState::Open;
    opened.updated_at = at(10);
    ok(
        store
            .write_ticket_records(vec![opened.clone()], vec![alert("c-3"), alert("zz-none")])
            .await,
        "replacing one ticket record and removing another (and one that never existed)",
    );
    assert_eq!(
        ok(store.ticket_records().await, "listing ticket records"),
        vec![opened.clone(), b.clone()],
        "store_contract: a put replaces the record by alert uid and a remove deletes it"
    );
    assert_eq!(
        ok(
            store.ticket_record(&alert("a-1")).await,
            "reading one ticket record"
        ),
        Some(opened.clone()),
        "store_contract: ticket_record reads the record stored (and replaced) for its alert"
    );
    assert_eq!(
        ok(
            store.ticket_record(&alert("c-3")).await,
            "reading a removed ticket record"
        ),
        None,
        "store_contract: ticket_record of a removed record is None"
    );
    assert_eq!(
        ok(
            store.ticket_record(&alert("a")).await,
            "reading a ticket record that never existed"
        ),
        None,
        "store_contract: ticket_record matches the uid exactly (not a prefix of one stored)"
    );

    refused(
        store
            .write_ticket_records(vec![ticket("d-4", 4)], vec![alert("d-4")])
            .await,
        StoreErrorKind::Invalid,
        "a ticket-record write naming one alert in both lists",
    );
    refused(
        store
            .write_ticket_records(vec![ticket("e-5", 5), ticket("e-5", 6)], Vec::new())
            .await,
        StoreErrorKind::Invalid,
        "a ticket-record write putting one alert twice",
    );
    refused(
        store
            .write_ticket_records(Vec::new(), vec![alert("b-2"), alert("b-2")])
            .await,
        StoreErrorKind::Invalid,
        "a ticket-record write removing one alert twice",
    );
    assert_eq!(
        ok(store.ticket_records().await, "listing ticket records"),
        vec![opened, b],
        "store_contract: a refused ticket-record write changes nothing"
    );
}

pub(super) fn ci(id: u32, fingerprint: &str) -> CiRecord {
    CiRecord::new(
        device(id),
        org(1),
        "cmdb_ci_win_server"
            .parse()
            .expect("store_contract: a valid CI class"),
        Some(sys_id(u64::from(id % 200))),
        fingerprint,
        at(i64::from(id)),
    )
}

pub(super) async fn ci_records(store: &dyn ConfigStore) {
    assert_eq!(
        ok(
            store.ci_records().await,
            "listing CI records of a new store"
        ),
        Vec::new(),
        "store_contract: a new store has no CI records"
    );
    ok(
        store
            .write_ci_records(vec![ci(30, "x"), ci(4, "y"), ci(12, "z")], Vec::new())
            .await,
        "inserting three CI records",
    );
    assert_eq!(
        ok(store.ci_records().await, "listing CI records"),
        vec![ci(4, "y"), ci(12, "z"), ci(30, "x")],
        "store_contract: CI records come back ordered by device id"
    );
    ok(
        store
            .write_ci_records(vec![ci(4, "changed")], vec![device(30), device(999)])
            .await,
        "replacing one CI record and removing another (and one that never existed)",
    );
    assert_eq!(
        ok(store.ci_records().await, "listing CI records"),
        vec![ci(4, "changed"), ci(12, "z")],
        "store_contract: a put replaces the CI record by device and a remove deletes it"
    );
    assert_eq!(
        ok(store.ci_record(device(4)).await, "reading one CI record"),
        Some(ci(4, "changed")),
        "store_contract: ci_record reads the record stored (and replaced) for its device"
    );
    assert_eq!(
        ok(
            store.ci_record(device(30)).await,
            "reading a removed CI record"
        ),
        None,
        "store_contract: ci_record of a removed record is None"
    );
    assert_eq!(
        ok(
            store.ci_record(device(1)).await,
            "reading a CI record that never existed"
        ),
        None,
        "store_contract: ci_record of a device without a record is None"
    );
    refused(
        store
            .write_ci_records(vec![ci(5, "a")], vec![device(5)])
            .await,
        StoreErrorKind::Invalid,
        "a CI-record write naming one device in both lists",
    );
    refused(
        store
            .write_ci_records(vec![ci(6, "a"), ci(6, "b")], Vec::new())
            .await,
        StoreErrorKind::Invalid,
        "a CI-record write putting one device twice",
    );
    refused(
        store
            .write_ci_records(Vec::new(), vec![device(12), device(12)])
            .await,
        StoreErrorKind::Invalid,
        "a CI-record write removing one device twice",
    );
    assert_eq!(
        ok(store.ci_records().await, "listing CI records"),
        vec![ci(4, "changed"), ci(12, "z")],
        "store_contract: a refused CI-record write changes nothing"
    );
}
