//! The ServiceNow client: Customer Service Management detection, single rows, groups, users, incidents and cases.

use super::*;

#[tokio::test]
async fn customer_service_management_detection() {
    for (answer, expected) in [
        (
            json!([{"id": "com.sn_customerservice", "active": "active"}]),
            true,
        ),
        (
            json!([{"id": "com.sn_customerservice", "active": "true"}]),
            true,
        ),
        (
            json!([{"id": "com.sn_customerservice", "active": "inactive"}]),
            false,
        ),
        (json!([]), false),
    ] {
        let server =
            Server::start(move |_: &Request| Reply::json(200, json!({"result": answer.clone()})));
        assert_eq!(
            basic(&server).customer_service_management().await.unwrap(),
            expected
        );
        assert_eq!(server.requests().len(), 1);
    }
    // A user who may not read v_plugin: the customer_account table is probed instead.
    let server = Server::start(|r: &Request| {
        if r.path.ends_with("v_plugin") {
            envelope(403, "Operation Failed", "ACL")
        } else {
            envelope(400, "Invalid table customer_account", "")
        }
    });
    let client = basic(&server);
    assert!(!client.customer_service_management().await.unwrap());
    let err = client
        .customer_accounts(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
    assert!(
        err.message().contains("Customer Service Management"),
        "{err}"
    );
    let err = client.customer_account(&sid(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::NotFound);
}

#[tokio::test]
async fn single_rows_are_none_on_404_and_errors_keep_their_envelope() {
    let server = Server::start(|r: &Request| {
        if r.path.ends_with(&sys_id(1)) {
            Reply::json(200, json!({"result": {"sys_id": sys_id(1), "name": "One"}}))
        } else if r.path.ends_with(&sys_id(2)) {
            envelope(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            )
        } else {
            envelope(400, "Invalid query", "bad term")
        }
    });
    let client = basic(&server);
    assert_eq!(client.company(&sid(1)).await.unwrap().unwrap().name, "One");
    assert_eq!(client.company(&sid(2)).await.unwrap(), None);
    let err = client.companies(PageRequest::first(1)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
    assert!(err.message().contains("Invalid query") && err.message().contains("bad term"));
}

#[tokio::test]
async fn groups_and_users_are_read_by_sys_id_with_their_active_flag() {
    let server = Server::start(|r: &Request| {
        if r.path == format!("/api/now/table/sys_user_group/{}", sys_id(1)) {
            Reply::json(
                200,
                json!({"result": {"sys_id": sys_id(1), "name": "Service Desk", "active": "false"}}),
            )
        } else if r.path == format!("/api/now/table/sys_user/{}", sys_id(2)) {
            Reply::json(
                200,
                json!({"result": {"sys_id": sys_id(2), "user_name": "ninjaone", "name": "NinjaOne", "active": "true"}}),
            )
        } else {
            envelope(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            )
        }
    });
    let client = basic(&server);
    let group = client.user_group(&sid(1)).await.unwrap().unwrap();
    assert_eq!((group.name.as_str(), group.active), ("Service Desk", false));
    let user = client.user(&sid(2)).await.unwrap().unwrap();
    assert_eq!(
        (user.user_name.as_deref(), user.active),
        (Some("ninjaone"), true)
    );
    assert_eq!(client.user_group(&sid(3)).await.unwrap(), None);
    assert_eq!(client.user(&sid(3)).await.unwrap(), None);
    let first = &server.requests()[0];
    assert_eq!(
        first.param("sysparm_fields").as_deref(),
        Some("sys_id,name,active")
    );
    assert_eq!(client.stats().writes, 0);
}

#[tokio::test]
async fn incidents_and_cases_are_created_and_updated_on_their_tables() {
    let server = Server::start(|r: &Request| {
        let mut row = r.json();
        row["sys_id"] = json!(sys_id(4));
        row["number"] = json!("N0001");
        if r.method == "PATCH" {
            row["short_description"] = json!("kept");
        }
        Reply::json(
            if r.method == "POST" { 201 } else { 200 },
            json!({"result": row}),
        )
    });
    let client = basic(&server);
    let incident = client
        .create_incident(&NewIncident {
            short_description: "Disk full".into(),
            description: "C: is full".into(),
            company: Some(sid(1)),
            account: None,
            cmdb_ci: None,
            correlation_id: "ninjaone:acme:alert:1".parse().unwrap(),
            correlation_display: "NinjaOne".into(),
            urgency: Level::High,
            impact: Level::Medium,
            assignment_group: Some(sid(5)),
            caller_id: Some(sid(6)),
            category: Some("hardware".into()),
            subcategory: None,
            contact_type: Some("monitoring".into()),
        })
        .await
        .unwrap();
    assert_eq!(incident.company, Some(sid(1)));
    assert_eq!(incident.urgency, Some(Level::High));
    let case = client
        .create_case(&NewCase {
            short_description: "Disk full".into(),
            description: "C: is full".into(),
            account: sid(2),
            company: None,
            cmdb_ci: None,
            correlation_id: "ninjaone:acme:alert:2".parse().unwrap(),
            correlation_display: "NinjaOne".into(),
            urgency: Level::Low,
            impact: Level::Low,
            assignment_group: None,
            category: None,
            subcategory: None,
            contact_type: None,
        })
        .await
        .unwrap();
    assert_eq!(case.account, Some(sid(2)));
    let update = CaseUpdate {
        state: Some(CaseState::Resolved),
        ..CaseUpdate::default()
    };
    let updated = client.update_case(&sid(4), &update).await.unwrap();
    assert_eq!(updated.state, CaseState::Resolved);
    let paths: Vec<_> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /api/now/table/incident".to_owned(),
            "POST /api/now/table/sn_customerservice_case".to_owned(),
            format!("PATCH /api/now/table/sn_customerservice_case/{}", sys_id(4)),
        ]
    );
    let first = &server.requests()[0];
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.json()["correlation_id"], "ninjaone:acme:alert:1");
    assert_eq!(first.json()["assignment_group"], sys_id(5));
    assert_eq!(first.json()["caller_id"], sys_id(6));
    assert_eq!(first.json()["contact_type"], "monitoring");
    assert!(
        first.json().get("subcategory").is_none(),
        "unset fields are not sent"
    );
    assert_eq!(incident.assignment_group, Some(sid(5)));
    assert_eq!(incident.category.as_deref(), Some("hardware"));
    assert_eq!(client.stats().writes, 3);
}
