//! The ServiceNow client: CMDB identification and reconciliation, the dry run and CI owners.

use super::*;

#[tokio::test]
async fn identification_and_reconciliation_returns_one_result_per_item() {
    let fixture = include_str!("../../fixtures/servicenow/identify_reconcile.json");
    // The server always answers with the fixture's three results.
    let server = Server::start(move |_: &Request| Reply::text(200, "application/json", fixture));
    let client = basic(&server);
    let item = |class: &str, id: u32| CiItem {
        class_name: class.parse().unwrap(),
        values: BTreeMap::from([("name".to_owned(), format!("host{id}"))]),
        internal_id: Some(format!("ninjaone-device-{id}")),
        source: None,
    };
    let items = [
        item("cmdb_ci_win_server", 8),
        item("cmdb_ci_esx_server", 7),
        item("cmdb_ci_computer", 33),
    ];
    let results = client.identify_reconcile("NinjaOne", &items).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[2].errors.len(), 1);
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/api/now/identifyreconcile");
    assert_eq!(
        sent.param("sysparm_data_source").as_deref(),
        Some("NinjaOne")
    );
    assert_eq!(sent.json()["items"][0]["className"], "cmdb_ci_win_server");
    // An answer that does not match the items sent is not passed off as complete.
    let err = client
        .identify_reconcile("NinjaOne", &items[..2])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("3 results for 2 items"), "{err}");
    // Nothing to send: no request.
    assert!(
        client
            .identify_reconcile("NinjaOne", &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(client.identify_reconcile("a&b", &items).await.is_err());
    assert_eq!(server.requests().len(), 2);
}

/// `n` items as the CMDB step sends them: internal id and source key of devices 1..=n.
fn device_items(n: u32) -> Vec<CiItem> {
    (1..=n)
        .map(|id| CiItem {
            class_name: "cmdb_ci_computer".parse().unwrap(),
            values: BTreeMap::from([("name".to_owned(), format!("PC-{id}"))]),
            internal_id: Some(format!("ninjaone-device-{id}")),
            source: Some(CiSourceInfo::new("NinjaOne", id.to_string())),
        })
        .collect()
}

#[tokio::test]
async fn every_documented_identification_answer_is_read_item_by_item() {
    let fixture = include_str!("../../fixtures/servicenow/identify_reconcile_shapes.json");
    let server = Server::start(move |_: &Request| Reply::text(200, "application/json", fixture));
    let client = basic(&server);
    let items = device_items(6);
    let results = client.identify_reconcile("NinjaOne", &items).await.unwrap();
    let [insert, update, no_change, partial, refused, odd] = results.as_slice() else {
        panic!("six results: {results:?}");
    };
    assert_eq!(insert.operation, Some(CiOperation::Insert));
    assert_eq!(
        insert.sys_id,
        Some("ef43c6d40a0a0b5700c77f9bf387afe3".parse().unwrap())
    );
    // `relatedSysIds` may hold nulls: they are dropped, the rest kept.
    assert_eq!(insert.related_sys_ids.len(), 1);
    assert_eq!(update.operation, Some(CiOperation::Update));
    assert!(update.sys_id.is_some() && update.related_sys_ids.is_empty());
    assert_eq!(no_change.operation, Some(CiOperation::NoChange));
    // INSERT_AS_PARTIAL: "Unknown" is no sys_id; the partial payloads and the warning are kept.
    assert_eq!(partial.operation, Some(CiOperation::InsertAsPartial));
    assert_eq!(partial.sys_id, None);
    assert_eq!(partial.partial_sys_ids.len(), 1);
    assert_eq!(partial.warnings[0].kind, "MISSING_MATCHING_ATTRIBUTES");
    // `""`: not processed, with its errors.
    assert_eq!(
        (refused.operation.as_ref(), refused.sys_id.as_ref()),
        (None, None)
    );
    assert_eq!(refused.errors[0].kind, "MULTIPLE_DUPLICATE_RECORDS");
    // An item that cannot be read is a failed item, not a failed call.
    assert_eq!(odd.internal_id.as_deref(), Some("ninjaone-device-6"));
    assert_eq!(odd.errors[0].kind, "UNREADABLE_ANSWER");
    // What was sent: the source key of every item, for identification before the rules.
    let sent = server.requests()[0].json();
    assert_eq!(
        sent["items"][3]["sys_object_source_info"],
        json!({"source_name": "NinjaOne", "source_native_key": "4"})
    );
}

#[tokio::test]
async fn item_errors_in_a_400_result_envelope_are_per_item_failures_with_servicenows_message() {
    let fixture = include_str!("../../fixtures/servicenow/identify_reconcile_400.json");
    let server = Server::start(move |request: &Request| {
        match request.param("sysparm_data_source").as_deref() {
            Some("NinjaOne") => Reply::text(400, "application/json", fixture),
            // Errors for the whole payload, without items.
            Some("SCCM") => Reply::json(
                400,
                json!({"result": {"errors": [{"error": "INVALID_INPUT_DATA",
                    "message": "In payload invalid data source [SCCM] exist."}], "errorCount": 1}}),
            ),
            _ => envelope(400, "Invalid request", "no data source"),
        }
    });
    let client = basic(&server);
    let items = device_items(2);
    for results in [
        client.identify_reconcile("NinjaOne", &items).await.unwrap(),
        client
            .identify_reconcile_query("NinjaOne", &items)
            .await
            .unwrap(),
    ] {
        assert_eq!(results.len(), 2);
        for (n, result) in results.iter().enumerate() {
            assert_eq!(
                result.internal_id.as_deref(),
                Some(format!("ninjaone-device-{}", n + 1).as_str())
            );
            assert_eq!(result.errors[0].kind, "INVALID_INPUT_DATA");
            assert!(
                result.errors[0]
                    .message
                    .contains("invalid data source [NinjaOne]"),
                "{result:?}"
            );
        }
    }
    let shared = client.identify_reconcile("SCCM", &items).await.unwrap();
    assert_eq!(
        shared.len(),
        items.len(),
        "the shared errors apply to every item"
    );
    for r in &shared {
        assert_eq!(r.operation, None);
        assert_eq!(r.errors[0].kind, "INVALID_INPUT_DATA");
        assert!(r.errors[0].message.contains("[SCCM]"), "{r:?}");
    }
    // The standard error envelope stays an error of the call.
    let err = client
        .identify_reconcile("ServiceNow", &items)
        .await
        .unwrap_err();
    assert!(err.message().contains("Invalid request"), "{err}");
    // A write is never sent again after a 400; neither is the dry run.
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn the_dry_run_posts_to_query_and_ci_owners_are_one_query_by_sys_id() {
    let owner = sys_id(1);
    let other = sys_id(2);
    let (o1, o2) = (owner.clone(), other.clone());
    let server = Server::start(move |request: &Request| match request.path.as_str() {
        "/api/now/identifyreconcile/query" => Reply::json(
            200,
            json!({"result": {"items": [
                {"className": "cmdb_ci_computer", "operation": "INSERT", "sysId": "Unknown", "internal_id": "ninjaone-device-1"},
                {"className": "cmdb_ci_computer", "operation": "UPDATE", "sysId": o1, "internal_id": "ninjaone-device-2"}
            ]}}),
        ),
        "/api/now/table/cmdb_ci" => Reply::json(
            200,
            json!({"result": [
                {"sys_id": o1, "name": "DC01", "sys_class_name": "cmdb_ci_win_server", "company": o2},
                {"sys_id": o2, "name": "PC-7", "sys_class_name": "cmdb_ci_computer", "company": ""}
            ]}),
        ),
        _ => envelope(400, "unexpected", &request.path),
    });
    let client = basic(&server);
    let dry = client
        .identify_reconcile_query("NinjaOne", &device_items(2))
        .await
        .unwrap();
    assert_eq!(
        (dry[0].operation.clone(), dry[0].sys_id.clone()),
        (Some(CiOperation::Insert), None)
    );
    assert_eq!(dry[1].sys_id, Some(sid(1)));
    let owners = client.ci_owners(&[sid(1), sid(2)]).await.unwrap();
    assert_eq!(owners.len(), 2);
    assert_eq!(owners[0].company, Some(sid(2)));
    assert_eq!(owners[0].name.as_deref(), Some("DC01"));
    assert_eq!(owners[1].company, None);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].param("sysparm_data_source").as_deref(),
        Some("NinjaOne")
    );
    assert_eq!(
        requests[1].param("sysparm_query"),
        Some(format!("sys_idIN{owner},{other}"))
    );
    assert_eq!(requests[1].param("sysparm_limit").as_deref(), Some("2"));
    assert_eq!(
        requests[1].param("sysparm_fields").as_deref(),
        Some("sys_id,name,sys_class_name,company")
    );
    // A dry run writes nothing: it is not counted as a write.
    assert_eq!(client.stats().writes, 0);
}
