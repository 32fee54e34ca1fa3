//! Help and version; refusals and their exit codes; proxy variables; client credentials.

use super::*;

#[test]
fn help_and_version_send_nothing() {
    let setup = Setup::new();
    let (code, out, _) = setup.run("--help");
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes"));
    let (code, out, _) = setup.run("--version");
    assert_eq!(code, 0);
    assert!(out.starts_with("orgsync "));
    assert_eq!(setup.run("sync --frobnicate").0, 2);
    assert!(setup.server.requests().is_empty());
}

#[test]
fn a_state_file_held_by_another_process_is_exit_1() {
    let setup = Setup::new();
    let held = JsonFileStore::open(setup.dir.path().join("state.json")).unwrap();
    let (code, _, err) = setup.run("status");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("in use by another orgsync process"), "{err}");
    drop(held);
}

#[test]
fn a_refused_origin_is_exit_2_before_any_request() {
    let mut setup = Setup::new();
    setup.set("NINJAONE_BASE_URL", "http://ninjaone.example.com");
    let (code, _, err) = setup.run("sync");
    assert_eq!(code, 2, "{err}");
    setup.set("NINJAONE_BASE_URL", &setup.server.ninjaone_origin());
    setup.set(
        "SERVICENOW_INSTANCE",
        "https://user:pw@acme.service-now.com",
    );
    assert_eq!(setup.run("status").0, 2);
    assert!(setup.server.requests().is_empty());
}

#[test]
fn a_wrong_password_is_exit_1_and_changes_nothing() {
    let mut setup = Setup::new();
    assert_eq!(setup.run("mode active").0, 0);
    setup.set("SERVICENOW_PASSWORD", "not-the-password");
    let (code, _, err) = setup.run("sync");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("credentials"), "{err}");
    // Each cause and its fix once: the client's advice, not a second, general one.
    assert_eq!(
        err.matches("check the ServiceNow user name and password")
            .count(),
        1,
        "{err}"
    );
    assert!(!err.contains("fix the credentials"), "{err}");
    assert!(!err.contains("not-the-password"));
    assert!(setup.server.requests().iter().all(|r| !r.is_write()));
    assert!(setup.runtime.block_on(async {
        JsonFileStore::open(setup.dir.path().join("state.json"))
            .unwrap()
            .configs()
            .await
            .unwrap()
            .is_empty()
    }));
    assert_eq!(setup.server.tokens_issued(Api::ServiceNow), 0);
}

#[test]
fn proxy_variables_pointing_at_a_dead_port_do_not_carry_loopback_traffic() {
    // A port nothing listens on: a request sent to it fails at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://proxy-user:proxy-pw@{}", dead.local_addr().unwrap());
    drop(dead);
    let mut setup = Setup::new();
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        setup.set(name, &proxy);
    }
    setup.set("NO_PROXY", "");
    let (code, _, err) = setup.run("mode active");
    assert_eq!(code, 0, "{err}");
    let report = setup.json("sync --json");
    assert_eq!(report["counts"]["created"], 2, "{report}");
    assert!(
        !setup.server.requests().is_empty(),
        "the requests reached the loopback origin itself"
    );
}

#[test]
fn servicenow_client_credentials_from_the_environment_sync_and_a_disabled_grant_is_exit_1() {
    let client_credentials = |setup: &mut Setup| {
        setup.unset("SERVICENOW_USERNAME");
        setup.unset("SERVICENOW_PASSWORD");
        setup.set("SERVICENOW_CLIENT_ID", FakeServer::SERVICENOW_CLIENT_ID);
        setup.set(
            "SERVICENOW_CLIENT_SECRET",
            FakeServer::SERVICENOW_CLIENT_SECRET,
        );
    };
    let mut enabled = Setup::with_server(FakeServerBuilder::servicenow_client_credentials);
    client_credentials(&mut enabled);
    assert_eq!(enabled.run("mode active").0, 0);
    let report = enabled.json("sync --json");
    assert_eq!(report["counts"]["created"], 2, "{report}");

    // An instance where the administrator has not enabled the grant: a credentials failure.
    let mut disabled = Setup::new();
    client_credentials(&mut disabled);
    assert_eq!(disabled.run("mode active").0, 0);
    let (code, _, err) = disabled.run("sync");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("token request"), "{err}");
    assert!(!err.contains(FakeServer::SERVICENOW_CLIENT_SECRET), "{err}");
}
