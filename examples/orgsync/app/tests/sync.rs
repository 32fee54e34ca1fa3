//! `sync` over the fakes: JSON and text, idle passes, disabled mode, failures, quiet and verbose.

use super::{
    ApiErrorKind, ConfigStore, FakeNinjaOne, FakeServiceNow, SyncStatus, TestEnv, Value, keys, org,
    sorted,
};
use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};

#[test]
fn sync_json_then_a_second_sync_writes_nothing() {
    let env = TestEnv::new();
    env.run("mode active");
    let report = env.json("sync --json");
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
            "ci"
        ])
    );
    assert_eq!(report["mode"], "active");
    assert_eq!(report["counts"]["matched"], 4);
    assert_eq!(report["counts"]["created"], 2);
    assert_eq!(report["remote_writes"], 2);
    let first = &report["outcomes"][0];
    assert_eq!(
        keys(first),
        sorted(&[
            "organization_id",
            "organization_name",
            "status",
            "outcome",
            "company_sys_id",
            "detail"
        ])
    );
    assert_eq!(first["organization_id"], 1);
    assert_eq!(first["outcome"], "matched");
    assert_eq!(first["company_sys_id"], env.company(0));

    let writes = env.snow.faults().writes();
    env.clock.advance(chrono::Duration::minutes(5));
    let (code, out, _) = env.run("sync");
    assert_eq!(code, 0);
    assert_eq!(env.snow.faults().writes(), writes);
    assert!(out.contains("0 remote write(s)"), "{out}");

    let status = env.json("status --json");
    assert_eq!(
        keys(&status[0]),
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
            "updated_at"
        ])
    );
    assert_eq!(status.as_array().unwrap().len(), 6);
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "active")
    );
    assert_eq!(status[0]["last_error"], Value::Null);
}

#[test]
fn an_idle_sync_json_over_2000_organizations_fits_in_10_kb() {
    let mut env = TestEnv::new();
    env.ninja = FakeNinjaOne::builder().organizations(2_000).build();
    env.snow = FakeServiceNow::builder().companies(2_000).build();
    env.run("mode active");
    assert_eq!(env.json("sync --json")["counts"]["matched"], 2_000);
    env.clock.advance(chrono::Duration::minutes(5));
    let (code, out, err) = env.run("sync --json");
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["counts"]["unchanged"], 2_000);
    assert_eq!(
        report["outcomes"],
        serde_json::json!([]),
        "unchanged ones are counted"
    );
    assert!(out.len() <= 10 * 1024, "{} bytes", out.len());
    // `-v` lists them again.
    env.clock.advance(chrono::Duration::minutes(5));
    let verbose = env.json("-v sync --json");
    assert_eq!(verbose["outcomes"].as_array().map(Vec::len), Some(2_000));
    assert_eq!(verbose["outcomes"][0]["outcome"], "unchanged");
}

#[test]
fn sync_in_disabled_mode_says_so_and_a_dry_run_writes_nothing() {
    let env = TestEnv::new();
    let (code, out, _) = env.run("sync");
    assert_eq!(code, 0);
    assert!(out.contains("The integration is disabled"), "{out}");
    let (code, out, err) = env.run("sync --json");
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["mode"],
        "disabled"
    );
    assert!(err.contains("disabled"), "{err}");
    env.run("mode active");
    let report = env.json("sync --dry-run --json");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["remote_writes"], 0);
    assert_eq!(env.snow.faults().writes(), 0);
    assert!(
        futures::executor::block_on(env.store.configs())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sync_with_failures_exits_4_and_refused_credentials_exit_1() {
    let env = TestEnv::new();
    env.run("mode active");
    env.snow
        .faults()
        .fail_next(ServiceNowMethod::CreateCompany, 2, ApiErrorKind::Other);
    let (code, _, err) = env.run("sync");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("retried by the next pass"), "{err}");
    let status = env.json("status --json");
    let failed: Vec<&Value> = status
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "active")
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .all(|r| r["last_error"].is_string() || r["reason"].is_string())
    );

    let env = TestEnv::new();
    env.run("mode active");
    env.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Unauthorized);
    let (code, out, err) = env.run("sync --json");
    assert_eq!(code, 1);
    assert!(err.contains("credentials were refused"), "{err}");
    assert_eq!(env.snow.faults().writes(), 0);
    // The report is printed as before, with the stop in it.
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["stopped"]
            .as_str()
            .is_some_and(|s| s.starts_with("the NinjaOne credentials were refused")),
        "{report}"
    );
}

#[test]
fn a_listing_that_fails_is_a_runtime_failure() {
    // Nothing configured yet: the failed listing leaves only a retry hint.
    let env = TestEnv::new();
    env.run("mode active");
    env.snow
        .faults()
        .fail_next(ServiceNowMethod::Companies, 1, ApiErrorKind::Transient);
    let (code, _, err) = env.run("sync");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("could not read everything"), "{err}");
    assert_eq!(env.snow.faults().writes(), 0);
    // Configured organizations: their outcomes are unknown, never concluded absent.
    assert_eq!(env.run("sync").0, 0);
    env.clock.advance(chrono::Duration::minutes(5));
    env.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Transient);
    let (code, _, err) = env.run("sync");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("listing NinjaOne organizations failed"),
        "{err}"
    );
    let status = env.json("status --json");
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "active")
    );
}

#[test]
fn a_remote_failure_while_adding_exits_1_and_says_what_to_do() {
    let env = TestEnv::new();
    env.run("mode inactive");
    env.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organization, 1, ApiErrorKind::Unauthorized);
    let (code, _, err) = env.run(&format!("add --org 1 --company {}", env.company(0)));
    assert_eq!(code, 1);
    assert!(
        err.contains("NINJAONE_CLIENT_ID and NINJAONE_CLIENT_SECRET"),
        "{err}"
    );
    assert!(
        futures::executor::block_on(env.store.config(org(1)))
            .unwrap()
            .is_none()
    );
}

#[test]
fn progress_only_on_a_terminal_and_never_with_json() {
    let mut env = TestEnv::new();
    env.run("mode active");
    env.terminal = true;
    let (_, _, err) = env.run("sync --dry-run");
    assert!(err.contains("running a sync pass"), "{err}");
    let (_, out, err) = env.run("sync --dry-run --json");
    assert!(!err.contains("running") && !out.contains("running"));
    let (_, _, err) = env.run("-q sync --dry-run");
    assert!(err.is_empty(), "{err}");
    env.terminal = false;
    let (_, _, err) = env.run("sync --dry-run");
    assert!(!err.contains("running"), "{err}");
}

#[test]
fn quiet_and_verbose() {
    let env = TestEnv::new();
    let (code, out, _) = env.run("-q mode active");
    assert_eq!((code, out.as_str()), (0, ""));
    env.run("sync");
    let (_, quiet, _) = env.run("sync -q");
    assert!(quiet.is_empty(), "{quiet}");
    let (_, normal, _) = env.run("sync");
    let (_, verbose, _) = env.run("sync -v");
    assert!(
        !normal.contains("unchanged  ") && verbose.contains("unchanged"),
        "{normal}\n{verbose}"
    );
    assert_eq!(
        futures::executor::block_on(env.store.config(org(1)))
            .unwrap()
            .map(|c| c.status()),
        Some(SyncStatus::Active)
    );
}
