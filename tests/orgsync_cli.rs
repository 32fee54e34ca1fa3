//! The built `orgsync` example binary end to end, against `testing::FakeServer` over HTTP with
//! its environment variables: exit codes, JSON field names, what reaches the server, and that
//! no secret or token appears in any output.
//!
//! The binary is found next to this test executable (`target/<profile>/examples/orgsync`):
//! `cargo test --all-features` builds every example before it runs any test. To run this file
//! alone, build the example first: `cargo build --all-features --example orgsync`.
//!
//! These tests need the real HTTP clients (`http` module, branch h-http). On a branch that
//! carries the TEMP placeholder of the `http` module instead, every remote call fails, and the
//! tests that reach a server fail with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::store::JsonFileStore;
use ninjaone_servicenow::testing::{
    Api, FakeNinjaOne, FakeServer, FakeServerBuilder, FakeServiceNow,
};
use serde_json::Value;

/// The example binary, beside this test's own executable.
fn orgsync_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/orgsync_cli-<hash> -> target/<profile>
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lies in target/<profile>/deps");
    let binary = profile
        .join("examples")
        .join(format!("orgsync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test --all-features` (which builds the examples first) or \
         `cargo build --all-features --example orgsync`",
        binary.display()
    );
    binary
}

/// A tenant on a fake server, a state file in a temporary directory, and a way to run the
/// binary against them.
struct Setup {
    runtime: tokio::runtime::Runtime,
    server: FakeServer,
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Setup {
    /// Five organizations; companies named like the first three.
    fn new() -> Self {
        Self::with_server(|builder| builder)
    }

    /// As [`new`](Self::new), with the fake server's settings changed by `server`.
    fn with_server(server: impl FnOnce(FakeServerBuilder) -> FakeServerBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let builder = FakeServer::builder(
            FakeNinjaOne::builder()
                .organizations(5)
                .roles_standard()
                .build(),
            FakeServiceNow::builder().companies(3).build(),
        );
        let server = runtime.block_on(server(builder).start());
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("NINJAONE_BASE_URL", server.ninjaone_origin()),
            (
                "NINJAONE_CLIENT_ID",
                FakeServer::NINJAONE_CLIENT_ID.to_owned(),
            ),
            (
                "NINJAONE_CLIENT_SECRET",
                FakeServer::NINJAONE_CLIENT_SECRET.to_owned(),
            ),
            ("SERVICENOW_INSTANCE", server.servicenow_origin()),
            (
                "SERVICENOW_USERNAME",
                FakeServer::SERVICENOW_USERNAME.to_owned(),
            ),
            (
                "SERVICENOW_PASSWORD",
                FakeServer::SERVICENOW_PASSWORD.to_owned(),
            ),
            (
                "ORGSYNC_STATE",
                dir.path().join("state.json").display().to_string(),
            ),
        ];
        Self {
            runtime,
            server,
            dir,
            env,
        }
    }

    fn unset(&mut self, name: &str) {
        self.env.retain(|(n, _)| *n != name);
    }

    fn set(&mut self, name: &'static str, value: &str) {
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.to_owned()));
    }

    fn company(&self, index: usize) -> String {
        self.server.servicenow().all_companies()[index]
            .sys_id
            .to_string()
    }

    /// Runs `orgsync <line>`; checks that no secret or token is in its output.
    fn run(&self, line: &str) -> (i32, String, String) {
        let output: Output = Command::new(orgsync_binary())
            .args(line.split_whitespace())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .output()
            .expect("the orgsync binary runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        let mut secrets = vec![
            FakeServer::NINJAONE_CLIENT_SECRET.to_owned(),
            FakeServer::SERVICENOW_PASSWORD.to_owned(),
        ];
        secrets.extend(self.server.issued_tokens());
        for secret in &secrets {
            assert!(
                !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
                "`orgsync {line}` printed a secret or token"
            );
        }
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn json(&self, line: &str) -> Value {
        let (code, out, err) = self.run(line);
        assert_eq!(code, 0, "`orgsync {line}`: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("`orgsync {line}`: {e}: {out}"))
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

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

/// The requests of `api` that may have changed something, as "METHOD path".
fn writes(setup: &Setup, api: Api) -> Vec<String> {
    setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.api == api && r.is_write() && !r.is_token_request())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
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

const HOOK_SECRET: &str = "cli-hook-secret-31f9a07c5d2e";

/// A running `orgsync serve`: its process, the address it listens on, and its output so far.
struct Served {
    child: std::process::Child,
    origin: String,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    /// Reads output lines until one contains `needle` (at most 60 s); returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(err) => panic!(
                    "`orgsync serve` never printed {needle:?} ({err}): {:?}",
                    self.seen
                ),
            }
        }
    }
}

impl Setup {
    /// Starts `orgsync serve --listen 127.0.0.1:0 <extra>` and waits for its address.
    fn serve(&self, extra: &str) -> Served {
        let mut child = Command::new(orgsync_binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra.split_whitespace())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the orgsync binary starts");
        let (send, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let send = send.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if send.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        let mut served = Served {
            child,
            origin: String::new(),
            lines,
            seen: Vec::new(),
        };
        let line = served.wait_for("Listening on http://");
        if let Some(origin) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            origin.clone_into(&mut served.origin);
        }
        served
    }

    /// `GET url`: the status and the body.
    fn get(&self, url: &str) -> (u16, String) {
        self.runtime.block_on(async {
            let response = reqwest::get(url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    /// Raises an alert on `device` in the fake; returns what NinjaOne would post for it.
    fn trigger(&self, device: ninjaone_servicenow::model::DeviceId) -> Vec<u8> {
        let ninja = self.server.ninjaone();
        let uid = ninja
            .raise_alert(
                device,
                "Disk C: has less than 5% free space",
                chrono::Utc::now(),
            )
            .unwrap();
        let alert = ninja
            .all_alerts()
            .into_iter()
            .find(|a| a.uid == uid)
            .unwrap();
        let device = ninja
            .all_devices()
            .into_iter()
            .find(|d| d.id == device)
            .unwrap();
        delivery(&alert, &device)
    }
}

/// What NinjaOne would post for `alert` on `device`.
fn delivery(
    alert: &ninjaone_servicenow::model::Alert,
    device: &ninjaone_servicenow::model::Device,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": 177_210,
        "activityTime": 1_742_391_675.556,
        "deviceId": device.id.get(),
        "seriesUid": alert.uid.as_str(),
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED",
        "status": "Triggered",
        "sourceType": alert.source_type,
        "message": alert.message,
        "type": "Condition",
        "device": {
            "id": device.id.get(),
            "organizationId": device.organization_id.get(),
            "nodeClass": device.node_class.as_str(),
            "references": {"organization": {"id": device.organization_id.get()}},
        },
    }))
    .unwrap()
}

#[test]
fn serve_answers_health_turns_a_delivery_into_one_incident_counts_it_and_exits_0_on_sigterm() {
    let mut setup = Setup::new();
    setup.set("ORGSYNC_WEBHOOK_SECRET", HOOK_SECRET);
    setup.server.servicenow().set_now(chrono::Utc::now());
    let device = setup
        .server
        .ninjaone()
        .add_device("1".parse().unwrap(), Some("9".parse().unwrap()), "SRV-0001")
        .unwrap();
    assert_eq!(setup.run("mode active").0, 0);
    assert_eq!(setup.run("sync").0, 0);
    assert_eq!(setup.run("update --org 1 --allow-incidents true").0, 0);

    let mut served = setup.serve("--every 1h");
    // The first round of passes runs at start; the delivery comes after it, so it is the
    // delivery that creates the incident.
    served.wait_for("incident pass");
    let origin = served.origin.clone();
    assert_eq!(
        setup.get(&format!("{origin}/healthz")),
        (200, "ok\n".to_owned())
    );
    let body = setup.trigger(device);
    let http = reqwest::Client::new();
    let post = |secret: Option<&'static str>, body: Vec<u8>| {
        let mut request = http
            .post(format!("{origin}/ninjaone/webhook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("X-Orgsync-Webhook-Secret", secret);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    setup.server.clear_log();
    let answers = setup.runtime.block_on(async {
        vec![
            post(Some("not-the-secret-at-all"), body.clone()).await,
            post(None, body.clone()).await,
            post(Some(HOOK_SECRET), body[..body.len() / 2].to_vec()).await,
            post(Some(HOOK_SECRET), vec![b' '; 1024 * 1024]).await,
            post(Some(HOOK_SECRET), body.clone()).await,
            post(Some(HOOK_SECRET), body.clone()).await,
        ]
    });
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [403, 401, 400, 413, 200, 200], "{answers:?}");
    assert!(answers[4].1.contains("\"created\""), "{}", answers[4].1);
    assert_eq!(
        setup.server.servicenow().all_incidents().len(),
        1,
        "one incident for two deliveries"
    );
    let creates: Vec<_> = writes(&setup, Api::ServiceNow)
        .into_iter()
        .filter(|w| w.starts_with("POST"))
        .collect();
    assert_eq!(creates, ["POST /api/now/table/incident"]);

    let (status, metrics) = setup.get(&format!("{origin}/metrics"));
    assert_eq!(status, 200);
    for line in [
        r#"orgsync_webhook_deliveries_total{outcome="created"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="already_ticketed"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="wrong_secret"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="missing_secret"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="malformed"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="too_large"} 1"#,
        r#"orgsync_tickets_total{action="created",source="delivery"} 1"#,
        r#"orgsync_passes_total{kind="sync",result="ok"} 1"#,
        r#"orgsync_passes_total{kind="incident",result="ok"} 1"#,
        "orgsync_pass_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // `webhook register` runs while `serve` holds the state file.
    let (code, out, err) =
        setup.run("webhook register --url https://orgsync.example.com/ninjaone/webhook");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(HOOK_SECRET) && !err.contains(HOOK_SECRET));
    let registered = setup.server.webhook().expect("registered");
    assert_eq!(
        registered.headers,
        [(
            "x-orgsync-webhook-secret".to_owned(),
            HOOK_SECRET.to_owned()
        )]
    );

    let pid = served.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    served.wait_for("stopped");
    let status = served.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", served.seen);
    let output = served.seen.join("\n");
    for secret in [
        HOOK_SECRET,
        FakeServer::NINJAONE_CLIENT_SECRET,
        FakeServer::SERVICENOW_PASSWORD,
    ] {
        assert!(!output.contains(secret), "serve printed a secret: {output}");
    }
}

#[test]
fn sigterm_while_a_pass_runs_lets_the_pass_finish_then_exits_0() {
    // Every request is answered 150 ms late, so the incident pass (a token, the alert, device
    // and ticket listings) is still running when the signal arrives.
    let mut setup = Setup::with_server(|b| b.latency(std::time::Duration::from_millis(150)));
    setup.set("ORGSYNC_WEBHOOK_SECRET", HOOK_SECRET);
    assert_eq!(setup.run("mode active").0, 0);
    let mut served = setup.serve("--every 1h");
    served.wait_for("sync pass");
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let line = served.wait_for("incident pass");
    assert!(
        line.contains("incident pass (ok)"),
        "the pass in hand finished: {line}"
    );
    served.wait_for("stopped");
    assert_eq!(
        served.child.wait().unwrap().code(),
        Some(0),
        "{:?}",
        served.seen
    );
}
