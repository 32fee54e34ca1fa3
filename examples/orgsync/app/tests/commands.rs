//! Configuration commands over the fakes: help, usage errors, mode, mappings, add, update, audit.

use super::{ConfigStore, IntegrationMode, StoreErrorKind, TestEnv};

#[test]
fn help_version_and_usage_errors_need_no_environment() {
    let mut env = TestEnv::new();
    env.vars.clear();
    let (code, out, _) = env.run("--help");
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes") && out.contains("ORGSYNC_STATE"));
    let (code, out, _) = env.run("sync --help");
    assert_eq!((code, out.contains("--approve-deletions")), (0, true));
    let (code, out, _) = env.run("--version");
    assert_eq!(code, 0);
    assert!(out.starts_with("orgsync 0."));
    let (code, _, err) = env.run("add --org x1 --company 0123456789abcdef0123456789abcdef");
    assert_eq!(code, 2);
    assert!(err.contains("not a valid organization id"), "{err}");
    let (code, _, err) = env.run("explode");
    assert_eq!(code, 2);
    assert!(err.contains("unknown command"), "{err}");
    // With arguments fine but no environment: exit 2 naming the variable.
    let (code, _, err) = env.run("status");
    assert_eq!(code, 2);
    assert!(err.contains("NINJAONE_BASE_URL is not set"), "{err}");
}

#[test]
fn refused_settings_and_a_locked_state_file() {
    let mut env = TestEnv::new();
    env.refuse = Some("the origin http://evil.example is refused".to_owned());
    let (code, _, err) = env.run("status");
    assert_eq!(code, 2);
    assert!(err.contains("no request was sent"), "{err}");
    assert_eq!(
        env.ninja.faults().total_calls() + env.snow.faults().total_calls(),
        0
    );

    let mut env = TestEnv::new();
    env.store_error = Some(StoreErrorKind::Locked);
    let (code, _, err) = env.run("status");
    assert_eq!(code, 1);
    assert!(err.contains("in use by another orgsync process"), "{err}");
    assert!(err.contains("orgsync-state.json"), "{err}");
}

#[test]
fn mode_and_ci_mappings() {
    let env = TestEnv::new();
    assert_eq!(env.run("mode").1.trim(), "disabled");
    let (code, out, _) = env.run("mode inactive");
    assert_eq!(
        (code, out.trim()),
        (0, "Integration mode set to inactive (was disabled).")
    );
    assert_eq!(
        futures::executor::block_on(env.store.mode()).unwrap(),
        IntegrationMode::Inactive
    );

    let (code, _, err) =
        env.run("ci-mapping set servers 9=cmdb_ci_win_server 11=cmdb_ci_linux_server");
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = env.run("ci-mapping list");
    assert_eq!(code, 0);
    assert!(
        out.contains("servers") && out.contains("cmdb_ci_linux_server"),
        "{out}"
    );
    // A role NinjaOne does not have: invalid input, nothing saved.
    let (code, _, err) = env.run("ci-mapping set odd 99=cmdb_ci_computer");
    assert_eq!(code, 2);
    assert!(err.contains("device role 99"), "{err}");
    // In use: refused by state.
    let (code, _, err) = env.run(&format!(
        "add --org 1 --company {} --ci-mapping servers",
        env.company(0)
    ));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run("ci-mapping delete servers");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("used by organization 1"), "{err}");
    let (code, _, _) = env.run("ci-mapping delete nothing-by-this-name");
    assert_eq!(code, 2);
}

#[test]
fn add_validates_and_is_refused_by_state() {
    let env = TestEnv::new();
    let company = env.company(1);
    // Disabled: refused by state.
    let (code, _, err) = env.run(&format!("add --org 2 --company {company}"));
    assert_eq!(code, 3, "{err}");
    env.run("mode inactive");
    let (code, out, _) = env.run(&format!(
        "add --org 2 --company {company} --allow-incidents"
    ));
    assert_eq!(code, 0);
    assert!(
        out.contains("Organization 2 (Fabrikam Legal 0002) will be synced"),
        "{out}"
    );
    // Twice: refused by state.
    assert_eq!(env.run(&format!("add --org 2 --company {company}")).0, 3);
    // Unknown organization, unknown company, unknown mapping: invalid input, all listed.
    let (code, _, err) =
        env.run("add --org 77 --company 0123456789abcdef0123456789abcdef --ci-mapping nope");
    assert_eq!(code, 2);
    assert!(
        err.contains("no organization 77")
            && err.contains("no company")
            && err.contains("no CI mapping"),
        "{err}"
    );
    // Cases without an account.
    let (code, _, err) = env.run(&format!(
        "add --org 3 --company {} --tickets cases",
        env.company(2)
    ));
    assert_eq!(code, 2);
    assert!(err.contains("customer account"), "{err}");
    // Active mode: refused by state.
    env.run("mode active");
    let (code, _, err) = env.run(&format!("add --org 3 --company {}", env.company(2)));
    assert_eq!(code, 3);
    assert!(
        err.contains("automatic sync is on") && err.contains("mode inactive"),
        "{err}"
    );
}

#[test]
fn update_and_status_transitions() {
    let env = TestEnv::new();
    env.run("mode inactive");
    env.run(&format!("add --org 1 --company {}", env.company(0)));
    assert_eq!(env.run("update --org 1").0, 2);
    assert_eq!(env.run("update --org 5 --allow-incidents true").0, 2);
    let (code, out, _) = env.run("update --org 1 --allow-incidents true --tickets incidents");
    assert_eq!(code, 0);
    assert!(out.contains("status pending"), "{out}");
    let (code, out, _) = env.run("pause --org 1");
    assert_eq!(code, 0);
    assert!(out.contains("status inactive (paused by orgsync)"), "{out}");
    assert_eq!(env.run("resume --org 1").0, 0);
    assert_eq!(env.run("delete --org 1").0, 0);
    // A change to a deleted configuration: refused by state, with what to do.
    let (code, _, err) = env.run("update --org 1 --allow-incidents false");
    assert_eq!(code, 3);
    assert!(err.contains("restore it first"), "{err}");
    assert_eq!(env.run("restore --org 1").0, 0);
    let status = env.json("status --json");
    assert_eq!(status[0]["status"], "pending");
    assert_eq!(status[0]["allow_incidents"], true);
    // Restore of a configuration that is not deleted: refused by state.
    assert_eq!(env.run("restore --org 1").0, 3);
    // An unknown organization: invalid input.
    assert_eq!(env.run("pause --org 6").0, 2);
}

#[test]
fn audit_lists_changes_and_refusals() {
    let env = TestEnv::new();
    env.run("mode inactive");
    env.run(&format!("add --org 2 --company {}", env.company(1)));
    env.run("mode active");
    env.run(&format!("add --org 3 --company {}", env.company(2)));
    let all = env.json("audit --json");
    let actions: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["set_mode", "add_config", "set_mode", "add_config"]
    );
    assert_eq!(all[3]["outcome"], "refused");
    assert!(
        all[3]["reason"]
            .as_str()
            .unwrap()
            .contains("automatic sync is on")
    );
    let only = env.json("audit --org 2 --json");
    assert_eq!(only.as_array().map(Vec::len), Some(1));
    assert_eq!(only[0]["organization_id"], 2);
    let (code, out, _) = env.run("audit");
    assert_eq!(code, 0);
    assert!(out.contains("ACTION") && out.contains("refused: "), "{out}");
}

#[test]
fn completions_need_no_environment_and_name_every_command() {
    let mut env = TestEnv::new();
    env.vars.clear();
    for shell in ["bash", "elvish", "fish", "powershell", "zsh"] {
        let (code, out, err) = env.run(&format!("completions {shell}"));
        assert_eq!(code, 0, "{shell}: {err}");
        for word in ["ticket-template", "approve-deletions", "webhook"] {
            assert!(out.contains(word), "{shell} completes {word}");
        }
    }
    let (code, _, err) = env.run("completions tcsh");
    assert_eq!(code, 2);
    assert!(err.contains("not a valid shell"), "{err}");
}
