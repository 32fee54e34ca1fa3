//! The orgsync commands over the in-memory fakes: exit codes, output and JSON field names,
//! what is written where, and that no secret is ever printed.

use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ninjaone_servicenow::clock::{Clock, ManualClock};
use ninjaone_servicenow::model::{IntegrationMode, OrganizationId, SyncStatus};
use ninjaone_servicenow::ports::{ApiErrorKind, ConfigStore, StoreError, StoreErrorKind};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
use serde_json::Value;

use super::{
    Environment, Io, NinjaOneSettings, RemoteSettings, Remotes, ServiceNowAuth, SetupError,
    WebhookAdmin, run,
};
use ninjaone_servicenow::http::WebhookRegistration;
use ninjaone_servicenow::ports::ApiError;

/// Records the webhook calls `webhook register|delete` make; fails them with `fail` when set.
#[derive(Default)]
struct RecordingAdmin {
    calls: std::sync::Mutex<Vec<String>>,
    fail: Option<ApiErrorKind>,
}

#[async_trait::async_trait]
impl WebhookAdmin for RecordingAdmin {
    async fn register(&self, registration: &WebhookRegistration) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push(format!(
            "register {} {}",
            registration.url(),
            registration.secret_header()
        ));
        self.fail.map_or(Ok(()), |kind| {
            Err(ApiError::new(
                kind,
                "NinjaOne answered 401: insufficient_privileges",
            ))
        })
    }

    async fn delete(&self) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push("delete".to_owned());
        self.fail
            .map_or(Ok(()), |kind| Err(ApiError::new(kind, "refused")))
    }
}

const NINJA_SECRET: &str = "n1-secret-value-do-not-print";
const SN_PASSWORD: &str = "sn-password-do-not-print";

struct TestEnv {
    vars: BTreeMap<String, String>,
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    store: MemoryStore,
    clock: ManualClock,
    refuse: Option<String>,
    store_error: Option<StoreErrorKind>,
    terminal: bool,
    /// The ServiceNow credential variables of the last `connect`.
    seen_auth: std::cell::RefCell<Option<&'static str>>,
    webhooks: Arc<RecordingAdmin>,
}

impl TestEnv {
    /// Six organizations; companies for the first four (same names); no CI mapping yet.
    fn new() -> Self {
        let vars = [
            ("NINJAONE_BASE_URL", "https://eu.ninjarmm.com"),
            ("NINJAONE_CLIENT_ID", "client-1"),
            ("NINJAONE_CLIENT_SECRET", NINJA_SECRET),
            ("SERVICENOW_INSTANCE", "acme"),
            ("SERVICENOW_USERNAME", "integration"),
            ("SERVICENOW_PASSWORD", SN_PASSWORD),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            vars,
            ninja: FakeNinjaOne::builder()
                .organizations(6)
                .roles_standard()
                .build(),
            snow: FakeServiceNow::builder().companies(4).build(),
            store: MemoryStore::new(),
            clock: ManualClock::new(fixed_time()),
            refuse: None,
            store_error: None,
            terminal: false,
            seen_auth: std::cell::RefCell::new(None),
            webhooks: Arc::default(),
        }
    }

    fn company(&self, index: usize) -> String {
        self.snow.all_companies()[index].sys_id.to_string()
    }

    /// Runs one command line; returns (exit code, stdout, stderr).
    fn run(&self, line: &str) -> (u8, String, String) {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = {
            let mut io = Io {
                out: &mut out,
                err: &mut err,
            };
            futures::executor::block_on(run(&args, self, &mut io))
        };
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        for secret in [NINJA_SECRET, SN_PASSWORD] {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{line}: a secret was printed"
            );
        }
        (exit.code(), out, err)
    }

    fn json(&self, line: &str) -> Value {
        let (code, out, err) = self.run(line);
        assert!(code == 0 || code == 4, "{line}: {code} {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {out}"))
    }
}

impl Environment for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn connect(&self, settings: &RemoteSettings) -> Result<Remotes, SetupError> {
        // What main would hand to the HTTP clients, secrets included (and never shown).
        assert_eq!(settings.ninjaone_client_secret.expose(), NINJA_SECRET);
        match &settings.servicenow_auth {
            ServiceNowAuth::Basic { password, .. }
            | ServiceNowAuth::PasswordGrant { password, .. } => {
                assert_eq!(password.expose(), SN_PASSWORD);
            }
            ServiceNowAuth::ClientCredentials { client_secret, .. } => {
                assert_eq!(client_secret.expose(), SN_CLIENT_SECRET);
            }
        }
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains(NINJA_SECRET) && !shown.contains(SN_PASSWORD),
            "{shown}"
        );
        assert!(!shown.contains(SN_CLIENT_SECRET), "{shown}");
        self.seen_auth
            .replace(Some(settings.servicenow_auth.variables()));
        if let Some(why) = &self.refuse {
            return Err(SetupError(format!(
                "{why} ({}, {}, {}, {})",
                settings.ninjaone_base,
                settings.ninjaone_client_id,
                settings.servicenow_instance,
                settings.servicenow_auth.variables()
            )));
        }
        Ok(Remotes {
            ninjaone: Arc::new(self.ninja.clone()),
            servicenow: Arc::new(self.snow.clone()),
        })
    }

    fn connect_webhooks(
        &self,
        settings: &NinjaOneSettings,
    ) -> Result<Arc<dyn WebhookAdmin>, SetupError> {
        assert_eq!(settings.client_secret.expose(), NINJA_SECRET);
        assert!(!format!("{settings:?}").contains(NINJA_SECRET));
        let admin: Arc<dyn WebhookAdmin> = self.webhooks.clone();
        Ok(admin)
    }

    fn open_store(&self, path: &Path) -> Result<Arc<dyn ConfigStore>, StoreError> {
        match self.store_error {
            Some(kind) => Err(StoreError::new(kind, format!("{} is held", path.display()))),
            None => Ok(Arc::new(self.store.clone())),
        }
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    fn stderr_is_terminal(&self) -> bool {
        self.terminal
    }
}

/// The object's field names, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `names`, sorted.
fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).unwrap()
}

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

#[test]
fn the_http_wiring_refuses_bad_origins_and_builds_on_good_ones() {
    let settings = |ninjaone: &str, servicenow: &str| RemoteSettings {
        ninjaone_base: ninjaone.to_owned(),
        ninjaone_client_id: "client-1".to_owned(),
        ninjaone_client_secret: ninjaone_servicenow::http::Secret::new(NINJA_SECRET),
        servicenow_instance: servicenow.to_owned(),
        servicenow_auth: ServiceNowAuth::Basic {
            username: "integration".to_owned(),
            password: ninjaone_servicenow::http::Secret::new(SN_PASSWORD),
        },
    };
    assert!(super::connect_http(&settings("eu", "acme")).is_ok());
    assert!(super::connect_http(&settings("http://127.0.0.1:9", "http://127.0.0.1:9")).is_ok());
    for (ninjaone, servicenow) in [
        ("http://eu.ninjarmm.com", "acme"),
        ("eu", "https://user:pw@acme.service-now.com"),
    ] {
        let err = super::connect_http(&settings(ninjaone, servicenow))
            .err()
            .unwrap_or_else(|| panic!("{ninjaone} / {servicenow} must be refused"));
        assert!(!err.0.is_empty());
        assert!(!err.0.contains(NINJA_SECRET) && !err.0.contains(SN_PASSWORD));
    }
}

const SN_CLIENT_SECRET: &str = "sn-oauth-client-secret-Tt55";

#[test]
fn the_servicenow_auth_mode_follows_the_variables_that_are_set() {
    let mode = |set: &[(&str, &str)], unset: &[&str]| {
        let mut env = TestEnv::new();
        for name in unset {
            env.vars.remove(*name);
        }
        for (k, v) in set {
            env.vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let (code, _, err) = env.run("status");
        (code, err, env.seen_auth.borrow().unwrap_or("none"))
    };
    let user = ["SERVICENOW_USERNAME", "SERVICENOW_PASSWORD"];
    let client = [
        ("SERVICENOW_CLIENT_ID", "sn-client"),
        ("SERVICENOW_CLIENT_SECRET", SN_CLIENT_SECRET),
    ];
    assert_eq!(
        mode(&[], &[]).2,
        "SERVICENOW_USERNAME and SERVICENOW_PASSWORD",
        "Basic, as before"
    );
    assert_eq!(
        mode(&client, &user).2,
        "SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET",
        "client credentials"
    );
    assert!(
        mode(&client, &[]).2.starts_with("SERVICENOW_CLIENT_ID, "),
        "password grant"
    );
    // Half a pair is a usage error naming what is missing; nothing is connected.
    let (code, err, seen) = mode(&client[..1], &user);
    assert_eq!((code, seen), (2, "none"), "{err}");
    assert!(err.contains("SERVICENOW_CLIENT_SECRET is not set"), "{err}");
    let (code, err, _) = mode(&[], &user);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SERVICENOW_CLIENT_ID"), "{err}");
    assert!(
        !err.contains(SN_CLIENT_SECRET) && !err.contains(SN_PASSWORD),
        "{err}"
    );
}

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

const HOOK_SECRET: &str = "hook-secret-0123456789-do-not-print";

#[test]
fn webhook_commands_need_a_strong_secret_open_no_state_file_and_never_print_it() {
    let mut env = TestEnv::new();
    // The state file is held (by `serve`, say): the webhook commands do not open it.
    env.store_error = Some(StoreErrorKind::Locked);
    let url = "https://orgsync.example.com/ninjaone/webhook";
    let (code, _, err) = env.run(&format!("webhook register --url {url}"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ORGSYNC_WEBHOOK_SECRET is not set"), "{err}");
    env.vars
        .insert("ORGSYNC_WEBHOOK_SECRET".to_owned(), "short".to_owned());
    let (code, _, err) = env.run(&format!("webhook register --url {url}"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("too short"), "{err}");
    assert!(env.webhooks.calls.lock().unwrap().is_empty());

    env.vars
        .insert("ORGSYNC_WEBHOOK_SECRET".to_owned(), HOOK_SECRET.to_owned());
    let (code, out, err) = env.run("webhook register --url http://orgsync.example.com/hook");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https"), "{err}");
    let (code, out2, err2) = env.run(&format!("webhook register --url {url}"));
    assert_eq!(code, 0, "{err2}");
    assert_eq!(out2.lines().count(), 1, "{out2}");
    assert!(
        out2.contains(url) && out2.contains("x-orgsync-webhook-secret"),
        "{out2}"
    );
    let json = env.json(&format!("webhook register --url {url} --json"));
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["action", "expand", "header", "status_codes", "url"]);
    assert_eq!(
        json["status_codes"],
        serde_json::json!(["TRIGGERED", "RESET"])
    );
    let (code, out3, _) = env.run("webhook delete");
    assert_eq!(code, 0);
    assert!(out3.contains("deleted"), "{out3}");
    for text in [&out, &err, &out2, &err2, &out3, &json.to_string()] {
        assert!(
            !text.contains(HOOK_SECRET),
            "the webhook secret was printed: {text}"
        );
    }
    assert_eq!(
        *env.webhooks.calls.lock().unwrap(),
        [
            format!("register {url} x-orgsync-webhook-secret"),
            format!("register {url} x-orgsync-webhook-secret"),
            "delete".to_owned()
        ]
    );
}

#[test]
fn a_refused_management_scope_is_exit_1_naming_the_scope_to_allow() {
    let mut env = TestEnv::new();
    env.vars
        .insert("ORGSYNC_WEBHOOK_SECRET".to_owned(), HOOK_SECRET.to_owned());
    env.webhooks = Arc::new(RecordingAdmin {
        fail: Some(ApiErrorKind::Forbidden),
        ..RecordingAdmin::default()
    });
    let (code, _, err) = env.run("webhook register --url https://orgsync.example.com/hook");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("management scope"), "{err}");
}

#[test]
fn serve_without_the_secret_is_a_usage_error_before_the_state_file_or_a_remote() {
    let mut env = TestEnv::new();
    env.store_error = Some(StoreErrorKind::Locked);
    let (code, _, err) = env.run("serve --listen 127.0.0.1:0");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ORGSYNC_WEBHOOK_SECRET"), "{err}");
    assert!(env.seen_auth.borrow().is_none(), "no client was built");
}

#[test]
fn the_webhook_client_is_built_without_a_request_and_a_refused_origin_says_why() {
    let settings = |base: &str| NinjaOneSettings {
        base: base.to_owned(),
        client_id: "client-1".to_owned(),
        client_secret: ninjaone_servicenow::http::Secret::new(NINJA_SECRET),
    };
    assert!(super::connect_webhooks_http(&settings("eu")).is_ok());
    let Err(err) = super::connect_webhooks_http(&settings("http://ninja.example.com")) else {
        panic!("plain http to a remote host was accepted");
    };
    assert!(err.0.contains("ninja.example.com"), "{}", err.0);
    assert!(!err.0.contains(NINJA_SECRET));
}
