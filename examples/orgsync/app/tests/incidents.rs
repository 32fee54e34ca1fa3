//! `incidents` over the fakes: one ticket per alert, resolves, the resolve guard, integration id.

use super::{ConfigStore, TestEnv, Value, fixed_time, org};
use ninjaone_servicenow::testing::NinjaOneMethod;

#[test]
fn incidents_creates_once_per_alert_with_the_company_and_resolves_on_clear() {
    let env = TestEnv::new();
    assert_eq!(env.run("mode active").0, 0);
    assert_eq!(
        env.run("sync").0,
        0,
        "every organization is active after a sync"
    );
    assert_eq!(env.run("update --org 1 --allow-incidents true").0, 0);
    assert_eq!(
        env.run("sync").0,
        0,
        "the edited configuration is active again"
    );
    let device = env.ninja.add_device(org(1), None, "WS-1").unwrap();
    let other = env.ninja.add_device(org(2), None, "WS-2").unwrap();
    let alert = env
        .ninja
        .raise_alert(device, "Disk C: almost full", fixed_time())
        .unwrap();
    env.ninja
        .raise_alert(other, "Disk D: almost full", fixed_time())
        .unwrap();

    let (code, out, err) = env.run("incidents --json");
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["alerts"], 2);
    assert_eq!(report["created"], 1);
    assert_eq!(
        report["skipped"], 1,
        "organization 2 does not allow incidents"
    );
    let incidents = env.snow.all_incidents();
    assert_eq!(incidents.len(), 1);
    let company = futures::executor::block_on(env.store.config(org(1)))
        .unwrap()
        .and_then(|c| c.company().cloned());
    assert_eq!(incidents[0].company, company);
    assert_eq!(
        incidents[0].correlation_id.as_deref(),
        Some(format!("ninjaone:orgsync:alert:{alert}").as_str())
    );

    let (code, out, _) = env.run("incidents");
    assert_eq!(code, 0);
    assert!(out.contains("0 created"), "{out}");
    assert_eq!(env.snow.all_incidents().len(), 1, "never a second incident");

    assert!(env.ninja.clear_alert(&alert));
    let (code, out, _) = env.run("incidents --json");
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["resolved"], 1);
    assert!(env.snow.all_incidents()[0].state.is_finished());
}

#[test]
fn incidents_holds_an_emptied_listing_exits_4_and_approve_resolves_releases_it() {
    let env = TestEnv::new();
    assert_eq!(env.run("mode active").0, 0);
    assert_eq!(env.run("sync").0, 0);
    assert_eq!(env.run("update --org 1 --allow-incidents true").0, 0);
    assert_eq!(env.run("sync").0, 0);
    let device = env.ninja.add_device(org(1), None, "SRV-1").unwrap();
    let alerts: Vec<_> = (0..12)
        .map(|n| {
            env.ninja
                .raise_alert(device, format!("check {n} failed"), fixed_time())
                .unwrap()
        })
        .collect();
    let (code, out, err) = env.run("incidents --json");
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["created"], 12);
    // A re-trigger: one work note, exit 0.
    env.ninja
        .retrigger_alert(&alerts[0], "check 0 failed again", fixed_time());
    let (code, out, _) = env.run("incidents --json");
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (report["noted"].as_u64(), report["remote_writes"].as_u64()),
        (Some(1), Some(1))
    );

    for alert in &alerts {
        env.ninja.clear_alert(alert);
    }
    let (code, out, err) = env.run("incidents --json");
    assert_eq!(code, 4, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (report["resolved"].as_u64(), report["held"].as_u64()),
        (Some(0), Some(12))
    );
    assert_eq!(report["resolve_guard"]["limit"], 10);
    assert!(
        err.contains("orgsync incidents --approve-resolves"),
        "{err}"
    );
    let (code, out, _) = env.run("incidents --dry-run");
    assert_eq!(code, 4);
    assert!(out.contains("12 held"), "{out}");
    assert_eq!(env.run("incidents --dry-run --approve-resolves").0, 2);
    assert!(
        env.snow
            .all_incidents()
            .iter()
            .all(|i| !i.state.is_finished())
    );

    let (code, out, err) = env.run("incidents --approve-resolves --json");
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (report["resolved"].as_u64(), report["held"].as_u64()),
        (Some(12), Some(0))
    );
    assert_eq!(report["approved_by"], "orgsync");
    assert!(
        env.snow
            .all_incidents()
            .iter()
            .all(|i| i.state.is_finished())
    );
    let (code, out, _) = env.run("audit --json");
    assert_eq!(code, 0);
    assert!(
        out.contains("hold_resolves") && out.contains("approve_resolves"),
        "{out}"
    );
}

#[test]
fn a_refused_integration_id_is_a_usage_error_before_any_request() {
    let mut env = TestEnv::new();
    env.vars
        .insert("ORGSYNC_INTEGRATION_ID".to_owned(), "a:b".to_owned());
    let (code, _, err) = env.run("incidents");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ORGSYNC_INTEGRATION_ID"), "{err}");
    assert_eq!(env.ninja.faults().calls(NinjaOneMethod::Alerts), 0);
}
