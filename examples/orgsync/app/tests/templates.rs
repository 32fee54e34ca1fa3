//! `ticket-template` over the fakes: checked, listed, used, guarded, reaching the incident.

use super::{ConfigStore, TestEnv, Value, fixed_time, keys, org, sorted};

#[test]
fn ticket_templates_are_checked_listed_used_and_guarded() {
    let env = TestEnv::new();
    env.run("mode inactive");
    let group = env.snow.add_user_group("Service Desk").to_string();
    let caller = env.snow.add_user("ninjaone.integration").to_string();
    let unknown = "ffffffffffffffffffffffffffffff09";

    // Unknown group or caller: invalid input (exit 2), checked before saving.
    for line in [
        format!("ticket-template set servers --assignment-group {unknown}"),
        format!("ticket-template set servers --assignment-group {group} --caller {unknown}"),
    ] {
        let (code, _, err) = env.run(&line);
        assert_eq!(code, 2, "{line}: {err}");
        assert!(
            err.contains(unknown) && err.contains("nothing was saved"),
            "{err}"
        );
    }
    assert!(
        futures::executor::block_on(env.store.ticket_templates())
            .unwrap()
            .is_empty()
    );
    let (code, out, err) = env.run(&format!(
        "ticket-template set servers --assignment-group {group} --caller {caller} \
         --category hardware --subcategory disk --contact-type monitoring \
         --source-types condition_disk,CONDITION_CPU --min-severity major --default"
    ));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("saved as the default"), "{out}");

    // A configuration naming an unknown template: exit 2; a known one: saved.
    let company = env.company(0);
    let (code, _, err) = env.run(&format!(
        "add --org 1 --company {company} --allow-incidents --ticket-template nope"
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no ticket template \"nope\""), "{err}");
    let (code, _, err) = env.run(&format!(
        "add --org 1 --company {company} --allow-incidents --ticket-template servers"
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(env.run("update --org 1 --ticket-template nope").0, 2);

    let list = env.json("ticket-template list --json");
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        keys(&rows[0]),
        sorted(&[
            "name",
            "default",
            "assignment_group_sys_id",
            "caller_sys_id",
            "category",
            "subcategory",
            "contact_type",
            "source_types",
            "min_severity",
            "used_by",
        ])
    );
    assert_eq!(rows[0]["assignment_group_sys_id"], group.as_str());
    assert_eq!(rows[0]["caller_sys_id"], caller.as_str());
    assert_eq!(
        rows[0]["source_types"],
        serde_json::json!(["CONDITION_CPU", "CONDITION_DISK"])
    );
    assert_eq!(rows[0]["min_severity"], "MAJOR");
    assert_eq!(rows[0]["default"], true);
    assert_eq!(rows[0]["used_by"], serde_json::json!([1]));
    let (code, out, _) = env.run("ticket-template list");
    assert_eq!(code, 0);
    assert!(
        out.contains("servers") && out.contains("CONDITION_CPU,CONDITION_DISK"),
        "{out}"
    );

    // In use: refused by state (exit 3); unknown: exit 2.
    let (code, _, err) = env.run("ticket-template delete servers");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("used by organization 1"), "{err}");
    assert_eq!(env.run("ticket-template delete nothing-by-this-name").0, 2);
    let audit = env.json("audit --json");
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"set_ticket_template"), "{actions:?}");
    assert!(actions.contains(&"delete_ticket_template"), "{actions:?}");
}

#[test]
fn a_ticket_template_set_from_the_command_line_reaches_the_incident() {
    let env = TestEnv::new();
    env.run("mode inactive");
    let group = env.snow.add_user_group("Service Desk").to_string();
    let caller = env.snow.add_user("ninjaone.integration").to_string();
    let (code, _, err) = env.run(&format!(
        "ticket-template set servers --assignment-group {group} --caller {caller} \
         --category hardware --subcategory disk --contact-type monitoring \
         --source-types condition_disk,CONDITION_CPU --min-severity major --default"
    ));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&format!(
        "add --org 1 --company {} --allow-incidents --ticket-template servers",
        env.company(0)
    ));
    assert_eq!(code, 0, "{err}");
    env.run("sync");
    let device = env.ninja.add_device(org(1), None, "SRV-1").unwrap();
    let uid = env
        .ninja
        .raise_alert(device, "Disk C: almost full", fixed_time())
        .unwrap();
    let mut alert = env
        .ninja
        .all_alerts()
        .into_iter()
        .find(|a| a.uid == uid)
        .unwrap();
    alert.source_type = Some("CONDITION_DISK".to_owned());
    env.ninja.add_alert(alert);
    let (code, out, err) = env.run("incidents --json");
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["created"], 1, "{report}");
    let incident = env.snow.all_incidents().pop().unwrap();
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
            Some("hardware"),
            Some("disk"),
            Some("monitoring")
        )
    );
}

#[test]
fn ticket_template_usage_errors_say_what_to_do() {
    let env = TestEnv::new();
    for (line, needle) in [
        (
            "ticket-template set servers --min-severity huge",
            "minimum severity",
        ),
        (
            "ticket-template set servers --source-types CPU,NOT-A-TYPE",
            "source type",
        ),
        (
            "ticket-template list --default",
            "is for `ticket-template set`",
        ),
        ("ticket-template delete servers --json", "--json is for"),
        ("ticket-template rename a b", "takes set NAME"),
    ] {
        let (code, _, err) = env.run(line);
        assert_eq!(code, 2, "{line}: {err}");
        assert!(err.contains(needle), "{line}: {err}");
    }

    assert_eq!(
        env.snow.faults().total_calls(),
        0,
        "no request for a usage error"
    );
}
