//! The fake tenant server, ServiceNow side: paging, the contract query, single rows, CSM, creates, identification.

use super::*;

#[tokio::test]
async fn servicenow_pages_companies_by_sys_id() {
    let server = server(0, 5, false).await;
    let client = Client::new();
    let mut query = "ORDERBYsys_id".to_owned();
    let mut names = Vec::new();
    loop {
        let (status, body) = sn_get(&client, &server, &list_path("core_company", &query, 2)).await;
        assert_eq!(status, StatusCode::OK);
        let rows = body["result"].as_array().unwrap().clone();
        names.extend(rows.iter().map(|r| r["name"].as_str().unwrap().to_owned()));
        assert!(
            rows.iter()
                .all(|r| r["customer"] == "true" && r["parent"] == "")
        );
        if rows.len() < 2 {
            break;
        }
        let last = rows.last().unwrap()["sys_id"].as_str().unwrap();
        query = format!("sys_id>{last}^ORDERBYsys_id");
    }
    // The account extends core_company, so it is listed too.
    assert_eq!(names.len(), 6);
    assert_eq!(names[0], "Contoso Dental 0001");
    // Six rows in pages of two: three full pages and the empty one that ends the listing.
    let log = server.requests();
    assert_eq!(log.len(), 4);
    assert!(
        log[3]
            .query_value("sysparm_query")
            .unwrap()
            .starts_with("sys_id>")
    );
    assert_eq!(
        server
            .servicenow()
            .faults()
            .calls(ServiceNowMethod::Companies),
        4
    );
}

#[tokio::test]
async fn servicenow_refuses_every_query_term_outside_the_contract() {
    let server = server(0, 2, false).await;
    let client = Client::new();
    for query in [
        "name=Contoso Dental 0001^ORDERBYsys_id",
        "nameLIKEZed^NQname=Acme^ORDERBYsys_id",
        "javascript:gs.getUserID()",
        "ORDERBYname",
        "",
    ] {
        let (status, body) = sn_get(&client, &server, &list_path("core_company", query, 10)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["message"], "Invalid query", "{query}");
        assert_eq!(body["status"], "failure");
    }
    let offset = format!(
        "{}&sysparm_offset=10",
        list_path("core_company", "ORDERBYsys_id", 10)
    );
    assert_eq!(
        sn_get(&client, &server, &offset).await.0,
        StatusCode::BAD_REQUEST
    );
    let no_limit = "/api/now/table/core_company?sysparm_query=ORDERBYsys_id";
    assert_eq!(
        sn_get(&client, &server, no_limit).await.0,
        StatusCode::BAD_REQUEST
    );
    // Refused before reaching the fake.
    assert_eq!(
        server
            .servicenow()
            .faults()
            .calls(ServiceNowMethod::Companies),
        0
    );
    // The log keeps the decoded query, so a test can assert what a client sent.
    assert!(server.requests().iter().all(|r| r.status == 400));
    assert_eq!(
        server.requests()[0].query_value("sysparm_query"),
        Some("name=Contoso Dental 0001^ORDERBYsys_id")
    );
}

#[tokio::test]
async fn servicenow_single_rows_and_their_404() {
    let server = server(0, 1, false).await;
    let client = Client::new();
    let id = server.servicenow().all_companies()[0].sys_id.clone();
    let (status, body) = sn_get(
        &client,
        &server,
        &format!("/api/now/table/core_company/{id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["sys_id"], id.as_str());
    let missing = "0123456789abcdef0123456789abcdef";
    let (status, body) = sn_get(
        &client,
        &server,
        &format!("/api/now/table/core_company/{missing}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "No Record found");
    let (status, _) = sn_get(&client, &server, "/api/now/table/core_company/not-a-sys-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = sn_get(&client, &server, &list_path("no_such_table", "", 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "Invalid table no_such_table");
}

#[tokio::test]
async fn customer_service_management_absent_and_present() {
    let server = server(0, 1, false).await;
    let client = Client::new();
    let plugin = "/api/now/table/v_plugin?sysparm_query=id%3Dcom.sn_customerservice\
                  &sysparm_fields=id,active&sysparm_limit=1";
    let (status, body) = sn_get(&client, &server, plugin).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "result": [] })));
    for table in ["customer_account", "sn_customerservice_case"] {
        let (status, body) = sn_get(&client, &server, &list_path(table, "ORDERBYsys_id", 10)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({ "error": { "message": format!("Invalid table {table}"), "detail": null }, "status": "failure" })
        );
    }

    server.servicenow().set_customer_service_management(true);
    let (_, body) = sn_get(&client, &server, plugin).await;
    assert_eq!(body["result"][0]["active"], "active");
    let (status, body) = sn_get(
        &client,
        &server,
        &list_path("customer_account", "ORDERBYsys_id", 10),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"][0]["name"], "Contoso Holdings");
    assert!(
        body["result"][0]["number"]
            .as_str()
            .unwrap()
            .starts_with("ACCT")
    );
}

#[tokio::test]
async fn creates_companies_and_incidents_and_lists_incidents_by_prefix() {
    let server = server(0, 0, false).await;
    let client = Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", server.servicenow_origin()))
            .basic_auth(
                FakeServer::SERVICENOW_USERNAME,
                Some(FakeServer::SERVICENOW_PASSWORD),
            )
            .json(&body)
            .send()
    };
    let created = post(
        "/api/now/table/core_company",
        json!({ "name": "Acme", "customer": "true" }),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let company: Value = created.json().await.unwrap();
    assert_eq!(company["result"]["name"], "Acme");
    // The customer account of `server()` and the new company.
    assert_eq!(server.servicenow().all_companies().len(), 2);

    let incident = json!({
        "short_description": "Disk full", "description": "C: at 99%",
        "company": company["result"]["sys_id"], "correlation_id": "ninjaone:alert:1",
        "correlation_display": "NinjaOne", "urgency": "2", "impact": "2"
    });
    let created = post("/api/now/table/incident", incident).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let incident: Value = created.json().await.unwrap();
    let sys_id = incident["result"]["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(incident["result"]["state"], "1");

    let query =
        "correlation_idSTARTSWITHninjaone:^sys_created_on>=2023-12-31 00:00:00^ORDERBYsys_id";
    let (status, body) = sn_get(&client, &server, &list_path("incident", query, 10)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"].as_array().map(Vec::len), Some(1));
    let none_yet =
        "correlation_idSTARTSWITHninjaone:^sys_created_on>=2030-01-01 00:00:00^ORDERBYsys_id";
    let (_, body) = sn_get(&client, &server, &list_path("incident", none_yet, 10)).await;
    assert_eq!(body["result"], json!([]));

    let patched = client
        .patch(format!("{}/api/now/table/incident/{sys_id}", server.servicenow_origin()))
        .basic_auth(FakeServer::SERVICENOW_USERNAME, Some(FakeServer::SERVICENOW_PASSWORD))
        .json(&json!({ "state": "6", "close_code": "Solved (Permanently)", "close_notes": "cleared" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        server.servicenow().all_incidents()[0].state,
        IncidentState::Resolved
    );
    let gone = client
        .patch(format!(
            "{}/api/now/table/incident/0123456789abcdef0123456789abcdef",
            server.servicenow_origin()
        ))
        .basic_auth(
            FakeServer::SERVICENOW_USERNAME,
            Some(FakeServer::SERVICENOW_PASSWORD),
        )
        .json(&json!({ "state": "6" }))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(LoggedRequest::is_write)
        .collect();
    assert_eq!(writes.len(), 4);
}

#[tokio::test]
async fn identifyreconcile_answers_in_the_documented_shape() {
    let server = server(0, 0, false).await;
    let client = Client::new();
    let body = json!({ "items": [
        { "className": "cmdb_ci_win_server", "values": { "name": "srv-01", "serial_number": "S1" }, "internal_id": "ninjaone-device-8" },
        { "className": "cmdb_ci_computer", "values": { "ram": 16 }, "internal_id": "ninjaone-device-33" }
    ]});
    let response = client
        .post(format!(
            "{}/api/now/identifyreconcile?sysparm_data_source=ServiceWatch",
            server.servicenow_origin()
        ))
        .basic_auth(
            FakeServer::SERVICENOW_USERNAME,
            Some(FakeServer::SERVICENOW_PASSWORD),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let items = &answer["result"]["items"];
    assert_eq!(answer["result"]["relations"], json!([]));
    assert_eq!(items[0]["className"], "cmdb_ci_win_server");
    assert_eq!(items[0]["operation"], "INSERT");
    assert_eq!(items[0]["sysId"].as_str().map(str::len), Some(32));
    assert_eq!(items[0]["internal_id"], "ninjaone-device-8");
    assert_eq!(items[0]["errors"], json!([]));
    assert_eq!(items[0]["inputIndices"], json!([0]));
    // Neither serial nor name: a partial payload, "Unknown" sys_id, a warning, no CI.
    assert_eq!(items[1]["operation"], "INSERT_AS_PARTIAL");
    assert_eq!(items[1]["sysId"], "Unknown");
    assert_eq!(
        items[1]["warnings"][0]["error"],
        "MISSING_MATCHING_ATTRIBUTES"
    );
    assert_eq!(items[1]["partialSysIds"].as_array().map(Vec::len), Some(1));
    assert_eq!(server.servicenow().cis().len(), 1);
    assert_eq!(server.servicenow().cis()[0].data_source, "ServiceWatch");

    let post = |path: &str, source: &str| {
        client
            .post(format!(
                "{}{path}?sysparm_data_source={source}",
                server.servicenow_origin()
            ))
            .basic_auth(
                FakeServer::SERVICENOW_USERNAME,
                Some(FakeServer::SERVICENOW_PASSWORD),
            )
            .json(&body)
            .send()
    };
    // The dry run identifies without writing: the first item is found by its serial number.
    let dry = post("/api/now/identifyreconcile/query", "ServiceWatch")
        .await
        .unwrap();
    assert_eq!(dry.status(), StatusCode::OK);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(dry["result"]["items"][0]["operation"], "NO_CHANGE");
    assert_eq!(server.servicenow().cis().len(), 1);
    assert!(
        server.servicenow().partial_payloads().len() == 1,
        "the dry run kept no payload"
    );
    // An invalid data source fails every item: HTTP 400 with the item errors in a result
    // envelope, as ServiceNow answers.
    let invalid = post("/api/now/identifyreconcile", "Nope").await.unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let invalid: Value = invalid.json().await.unwrap();
    assert_eq!(invalid["result"]["errorCount"], 2);
    assert!(
        invalid["result"]["items"][1]["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid data source [Nope]")),
        "{invalid}"
    );
}
