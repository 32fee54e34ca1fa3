//! `add`, `sync`, `status`, `audit` over HTTP: manual mode, devices to the CMDB, alerts to incidents, templates.

use super::*;

#[test]
fn manual_mode_add_sync_status_audit_then_a_second_sync_writes_nothing() {
    let setup = Setup::new();
    assert_eq!(setup.run("mode inactive").0, 0);
    let (code, _, err) = setup.run("ci-mapping set servers 9=cmdb_ci_win_server");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = setup.run(&format!(
        "add --org 1 --company {} --ci-mapping servers --allow-incidents",
        setup.company(0)
    ));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("will be synced"), "{out}");

    // Active mode: a manual add is refused by state.
    assert_eq!(setup.run("mode active").0, 0);
    let (code, _, err) = setup.run(&format!("add --org 2 --company {}", setup.company(1)));
    assert_eq!(code, 3, "{err}");

    let report = setup.json("sync --json");
    assert_eq!(
        keys(&report),
        sorted(&[
            "mode",
            "dry_run",
            "started_at",
            "finished_at",
            "remote_writes",
            "counts",
            "needs_approval",
            "approved_by",
            "stopped",
            "next_run_at",
            "outcomes",
            "ci",
        ])
    );
    assert_eq!(report["counts"]["created"], 2, "{report}");
    assert_eq!(
        keys(&report["outcomes"][0]),
        sorted(&[
            "organization_id",
            "organization_name",
            "status",
            "outcome",
            "company_sys_id",
            "detail",
        ])
    );

    let status = setup.json("status --json");
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        assert_eq!(
            keys(row),
            sorted(&[
                "organization_id",
                "organization_name",
                "company_sys_id",
                "company_name",
                "customer_account_sys_id",
                "status",
                "reason",
                "allow_incidents",
                "tickets",
                "ci_mappings",
                "last_error",
                "attempts",
                "next_attempt_at",
                "updated_at",
            ])
        );
        assert_eq!(row["status"], "active");
        // Names as last seen, from the add's lookups and the pass's listings.
        assert!(row["organization_name"].is_string(), "{row}");
        assert!(row["company_name"].is_string(), "{row}");
    }
    assert_eq!(rows[0]["allow_incidents"], true);
    // Organization 2 got a company created with its name.
    assert_eq!(rows[1]["company_name"], rows[1]["organization_name"]);
    let (code, table, err) = setup.run("status");
    assert_eq!(code, 0, "{err}");
    let header = table
        .lines()
        .find(|l| l.starts_with("ORG "))
        .unwrap_or_default();
    assert!(
        header.contains("ORGANIZATION") && header.contains("COMPANY NAME"),
        "{table}"
    );
    for row in rows {
        let name = row["organization_name"].as_str().unwrap_or_default();
        assert!(table.contains(name), "{name} in {table}");
    }

    let (code, out, _) = setup.run("audit");
    assert_eq!(code, 0);
    assert!(
        out.contains("add_config") && out.contains("refused"),
        "{out}"
    );

    setup.server.clear_log();
    let (code, _, err) = setup.run("sync");
    assert_eq!(code, 0, "{err}");
    let log = setup.server.requests();
    assert!(!log.is_empty());
    let writes: Vec<_> = log.iter().filter(|r| r.is_write()).collect();
    assert!(writes.is_empty(), "the second sync wrote: {writes:?}");
    // Only the contract's terms in sysparm_query (the server answers anything else 400).
    assert!(log.iter().all(|r| r.status < 400), "{log:?}");
}

#[test]
fn devices_reach_the_cmdb_and_alerts_become_incidents_once_over_http() {
    let setup = Setup::new();
    // The binary runs on the system clock: ServiceNow stamps rows with the same time.
    setup.server.servicenow().set_now(chrono::Utc::now());
    let ninja = setup.server.ninjaone();
    let server_role = "9".parse().unwrap();
    let device = ninja
        .add_device("1".parse().unwrap(), Some(server_role), "SRV-0001")
        .unwrap();
    assert_eq!(setup.run("mode active").0, 0);
    assert_eq!(
        setup.run("ci-mapping set servers 9=cmdb_ci_win_server").0,
        0
    );
    assert_eq!(setup.run("sync").0, 0);
    assert_eq!(
        setup
            .run("update --org 1 --ci-mapping servers --allow-incidents true")
            .0,
        0
    );

    setup.server.clear_log();
    let report = setup.json("sync --json");
    assert_eq!(report["ci"]["sent"], 1, "{report}");
    assert_eq!(report["ci"]["inserted"], 1, "{report}");
    assert_eq!(
        writes(&setup, Api::ServiceNow),
        ["POST /api/now/identifyreconcile"]
    );
    let ci = setup.server.servicenow().cis();
    assert_eq!(ci.len(), 1);

    let alert = ninja
        .raise_alert(
            device,
            "Disk C: has less than 5% free space",
            chrono::Utc::now(),
        )
        .unwrap();
    setup.server.clear_log();
    let report = setup.json("incidents --json");
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(
        writes(&setup, Api::ServiceNow),
        ["POST /api/now/table/incident"]
    );
    let incidents = setup.server.servicenow().all_incidents();
    assert_eq!(incidents.len(), 1);
    let state = JsonFileStore::open(setup.dir.path().join("state.json")).unwrap();
    let config = setup
        .runtime
        .block_on(state.config("1".parse().unwrap()))
        .unwrap()
        .unwrap();
    drop(state);
    assert_eq!(incidents[0].company.as_ref(), config.company());
    assert!(
        incidents[0].cmdb_ci.is_some(),
        "the device's CI is on the incident"
    );

    setup.server.clear_log();
    let report = setup.json("incidents --json");
    assert_eq!(report["created"], 0);
    assert!(
        writes(&setup, Api::ServiceNow).is_empty(),
        "a second pass writes nothing"
    );

    assert!(ninja.clear_alert(&alert));
    setup.server.clear_log();
    let report = setup.json("incidents --json");
    assert_eq!(report["resolved"], 1, "{report}");
    let patched = writes(&setup, Api::ServiceNow);
    assert_eq!(patched.len(), 1);
    assert!(
        patched[0].starts_with("PATCH /api/now/table/incident/"),
        "{patched:?}"
    );
    assert!(
        setup.server.servicenow().all_incidents()[0]
            .state
            .is_finished()
    );
}

#[test]
fn sync_shows_a_device_held_back_from_another_companys_ci_in_the_table_and_in_json() {
    let setup = Setup::new();
    let ninja = setup.server.ninjaone();
    let snow = setup.server.servicenow();
    // Company 2 already has a CI named DC01; organization 1 gets a new server named DC01.
    let theirs = snow.add_ci(
        "cmdb_ci_win_server".parse().unwrap(),
        [
            ("name".to_owned(), "DC01".to_owned()),
            ("company".to_owned(), setup.company(1)),
        ]
        .into_iter()
        .collect(),
    );
    ninja
        .add_device("1".parse().unwrap(), Some("9".parse().unwrap()), "DC01")
        .unwrap();
    ninja
        .add_device("1".parse().unwrap(), Some("9".parse().unwrap()), "SRV-0001")
        .unwrap();
    assert_eq!(setup.run("mode active").0, 0);
    assert_eq!(
        setup.run("ci-mapping set servers 9=cmdb_ci_win_server").0,
        0
    );
    assert_eq!(setup.run("sync").0, 0);
    assert_eq!(setup.run("update --org 1 --ci-mapping servers").0, 0);

    setup.server.clear_log();
    let report = setup.json("sync --json");
    let ci = &report["ci"];
    assert_eq!(ci["sent"], 1, "{report}");
    assert_eq!(ci["skipped"]["held_back"], 1, "{report}");
    assert_eq!(ci["dry_runs"], 1);
    assert_eq!(ci["owner_queries"], 1);
    let held = &ci["held"][0];
    assert_eq!(held["name"], "DC01");
    let reason = held["reason"].as_str().unwrap();
    assert!(
        reason.contains(theirs.as_str()) && reason.contains(&setup.company(1)),
        "{reason}"
    );
    assert_eq!(
        writes(&setup, Api::ServiceNow),
        ["POST /api/now/identifyreconcile"],
        "one write, of the other server only"
    );
    assert_eq!(
        snow.ci(&theirs).unwrap().values["company"],
        setup.company(1),
        "the other company's CI is untouched"
    );

    // The table says the same, and nothing is checked or sent again.
    setup.server.clear_log();
    let (code, out, _) = setup.run("sync");
    assert_eq!(code, 0);
    assert!(out.contains("1 held_back"), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("DC01") && l.contains("skipped"))
        .unwrap_or_else(|| panic!("a row for DC01: {out}"));
    assert!(row.contains(theirs.as_str()), "{row}");
    assert!(out.contains("0 dry run(s)"), "{out}");
    assert!(writes(&setup, Api::ServiceNow).is_empty());
}

#[test]
fn ticket_templates_over_http_are_checked_before_saving_and_reach_the_incident() {
    let setup = Setup::new();
    setup.server.servicenow().set_now(chrono::Utc::now());
    let snow = setup.server.servicenow();
    let group = snow.add_user_group("Service Desk").to_string();
    let caller = snow.add_user("ninjaone.integration").to_string();
    let unknown = "ffffffffffffffffffffffffffffff09";
    let state_templates = || {
        let state = JsonFileStore::open(setup.dir.path().join("state.json")).unwrap();
        setup.runtime.block_on(state.ticket_templates()).unwrap()
    };

    setup.server.clear_log();
    let (code, _, err) = setup.run(&format!(
        "ticket-template set desk --assignment-group {group} --caller {unknown}"
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(unknown), "{err}");
    let looked_up: Vec<String> = setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.api == Api::ServiceNow && !r.is_token_request())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        looked_up,
        [
            format!("GET /api/now/table/sys_user_group/{group}"),
            format!("GET /api/now/table/sys_user/{unknown}"),
        ]
    );
    assert!(state_templates().is_empty(), "nothing saved");

    let (code, _, err) = setup.run(&format!(
        "ticket-template set desk --assignment-group {group} --caller {caller} \
         --category software --contact-type monitoring --default"
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        writes(&setup, Api::ServiceNow).is_empty(),
        "a check writes nothing"
    );
    assert_eq!(state_templates().len(), 1);

    assert_eq!(setup.run("mode inactive").0, 0);
    let company = setup.company(0);
    let (code, _, err) = setup.run(&format!(
        "add --org 1 --company {company} --allow-incidents --ticket-template missing"
    ));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = setup.run(&format!(
        "add --org 1 --company {company} --allow-incidents --ticket-template desk"
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(setup.run("update --org 1 --ticket-template missing").0, 2);
    assert_eq!(setup.run("sync").0, 0);

    let list = setup.json("ticket-template list --json");
    assert_eq!(list[0]["name"], "desk");
    assert_eq!(list[0]["used_by"], serde_json::json!([1]));
    let (code, _, err) = setup.run("ticket-template delete desk");
    assert_eq!(code, 3, "{err}");

    let device = setup
        .server
        .ninjaone()
        .add_device("1".parse().unwrap(), None, "WS-0001")
        .unwrap();
    setup
        .server
        .ninjaone()
        .raise_alert(device, "Disk C: almost full", chrono::Utc::now())
        .unwrap();
    let report = setup.json("incidents --json");
    assert_eq!(report["created"], 1, "{report}");
    let incident = snow.all_incidents().pop().unwrap();
    assert_eq!(
        (
            incident.assignment_group.map(|g| g.to_string()),
            incident.caller_id.map(|c| c.to_string()),
            incident.category.as_deref(),
            incident.subcategory.as_deref(),
            incident.contact_type.as_deref()
        ),
        (
            Some(group),
            Some(caller),
            Some("software"),
            None,
            Some("monitoring")
        ),
        "the fields travelled in the POST body"
    );
}
