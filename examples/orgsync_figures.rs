//! The issue's figures: `orgsync sync`, run twice, for a tenant of 2,000 NinjaOne organizations
//! and 10,000 ServiceNow companies served by `testing::FakeServer` on loopback — requests per
//! run (from the server's log), writes, and wall time.
//!
//! ```text
//! cargo run --release --features http,test-util --example orgsync_figures
//! ```
//!
//! It runs the `orgsync` command code itself (examples/orgsync/app) in this process, over the
//! HTTP clients and a JSON state file in a temporary directory, so the numbers are those of
//! the CLI minus process start-up. 1,800 organizations have a company of the same name; 200
//! get one created by the first run. The second run must write nothing.
//!
//! Then the CMDB step's request counts for a tenant of 2,000 devices (100 organizations of 20
//! devices, every role mapped): the first pass (every device new: dry runs, one owner query
//! for the CIs that already exist, writes) and a steady pass (the listing only). 30 devices
//! are named like another company's existing CI (held back, not sent), 50 like a CI of their
//! own company (adopted).

#[path = "orgsync/app/mod.rs"]
mod app;

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use app::{
    Environment, Exit, Io, NinjaOneSettings, RemoteSettings, Remotes, SetupError, WebhookAdmin,
};
use ninjaone_servicenow::clock::{Clock, SystemClock};
use ninjaone_servicenow::ports::{ConfigStore, StoreError};
use ninjaone_servicenow::store::JsonFileStore;
use ninjaone_servicenow::testing::{Api, FakeNinjaOne, FakeServer, FakeServiceNow};

const ORGANIZATIONS: usize = 2_000;
const COMPANIES: usize = 10_000;
const MATCHING: usize = 1_800;

/// The CLI's surroundings, pointed at the fake server.
struct Figures {
    vars: BTreeMap<&'static str, String>,
}

impl Figures {
    /// The variables `orgsync` reads, pointing at `server`, with its state in `state`.
    fn for_server(server: &FakeServer, state: &std::path::Path) -> Self {
        let vars = BTreeMap::from([
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
            ("ORGSYNC_STATE", state.display().to_string()),
        ]);
        Self { vars }
    }
}

impl Environment for Figures {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn connect(&self, settings: &RemoteSettings) -> Result<Remotes, SetupError> {
        app::connect_http(settings)
    }

    fn connect_webhooks(
        &self,
        settings: &NinjaOneSettings,
    ) -> Result<Arc<dyn WebhookAdmin>, SetupError> {
        app::connect_webhooks_http(settings)
    }

    fn open_store(&self, path: &Path) -> Result<Arc<dyn ConfigStore>, StoreError> {
        Ok(Arc::new(JsonFileStore::open(path)?))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    fn stderr_is_terminal(&self) -> bool {
        false
    }
}

/// Runs one command line in-process; returns its exit status and output.
fn orgsync(runtime: &tokio::runtime::Runtime, env: &Figures, line: &str) -> (Exit, String, String) {
    let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let exit = {
        let mut io = Io {
            out: &mut out,
            err: &mut err,
        };
        runtime.block_on(app::run(&args, env, &mut io))
    };
    (
        exit,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut servicenow = FakeServiceNow::builder().companies(MATCHING);
    for i in 1..=COMPANIES - MATCHING {
        servicenow = servicenow.company(format!("Unrelated Customer {i:05}"), true);
    }
    let server = runtime.block_on(FakeServer::start(
        FakeNinjaOne::builder()
            .organizations(ORGANIZATIONS)
            .roles_standard()
            .build(),
        servicenow.build(),
    ));
    let dir = tempfile::tempdir()?;
    let env = Figures::for_server(&server, &dir.path().join("orgsync-state.json"));
    println!(
        "Tenant: {ORGANIZATIONS} NinjaOne organizations; {COMPANIES} ServiceNow companies, \
         {MATCHING} named like an organization."
    );
    let (exit, _, err) = orgsync(&runtime, &env, "mode active");
    if exit != Exit::Done {
        return Err(format!("`orgsync mode active` failed: {err}").into());
    }
    for run in 1..=2 {
        server.clear_log();
        let started = Instant::now();
        let (exit, out, err) = orgsync(&runtime, &env, "sync");
        let elapsed = started.elapsed();
        let log = server.requests();
        let count = |api: Api, writes: bool| {
            log.iter()
                .filter(|r| r.api == api && !r.is_token_request() && r.is_write() == writes)
                .count()
        };
        let tokens = log.iter().filter(|r| r.is_token_request()).count();
        println!(
            "sync #{run}: exit {}, {:.3} s wall; {} requests: NinjaOne {} reads, ServiceNow {} \
             reads + {} writes, {} token request(s)",
            exit.code(),
            elapsed.as_secs_f64(),
            log.len(),
            count(Api::NinjaOne, false),
            count(Api::ServiceNow, false),
            count(Api::ServiceNow, true),
            tokens,
        );
        if let Some(summary) = out.lines().next() {
            println!("  {summary}");
        }
        if exit != Exit::Done {
            return Err(format!("sync #{run} exited {}: {err}", exit.code()).into());
        }
        if run == 2 && count(Api::ServiceNow, true) + count(Api::NinjaOne, true) > 0 {
            return Err("the second sync wrote to ServiceNow; it must write nothing".into());
        }
    }
    cmdb_figures(&runtime)
}

const CMDB_ORGANIZATIONS: usize = 100;
const DEVICES_PER_ORGANIZATION: usize = 20;
const FOREIGN_NAMES: usize = 30;
const OWN_NAMES: usize = 50;

/// 2,000 devices, and CIs named like some of them (of another company, or of their own).
fn cmdb_tenant() -> Result<(FakeNinjaOne, FakeServiceNow), Box<dyn Error>> {
    let ninja = FakeNinjaOne::builder()
        .organizations(CMDB_ORGANIZATIONS)
        .roles_standard()
        .devices_per_organization(DEVICES_PER_ORGANIZATION)
        .build();
    let snow = FakeServiceNow::builder()
        .companies(CMDB_ORGANIZATIONS)
        .build();
    let companies = snow.all_companies();
    let devices = ninja.all_devices();
    let company_of = |org: usize| {
        companies
            .get(org.saturating_sub(1))
            .map(|c| c.sys_id.as_str().to_owned())
            .unwrap_or_default()
    };
    // Existing CIs: some named like a device of another organization, some like one's own.
    for (i, device) in devices.iter().enumerate().take(FOREIGN_NAMES + OWN_NAMES) {
        let org = device.organization_id.get() as usize;
        let owner = if i < FOREIGN_NAMES {
            company_of(org % CMDB_ORGANIZATIONS + 1)
        } else {
            company_of(org)
        };
        // Not serials: these CIs were entered by hand, so the name is what matches.
        ninja.set_device_details(device.id, serde_json::json!({}));
        snow.add_ci(
            "cmdb_ci_computer".parse()?,
            BTreeMap::from([
                ("name".to_owned(), device.name()),
                ("company".to_owned(), owner),
            ]),
        );
    }
    Ok((ninja, snow))
}

/// The CMDB step over HTTP for 2,000 devices: requests of a first and a steady pass.
fn cmdb_figures(runtime: &tokio::runtime::Runtime) -> Result<(), Box<dyn Error>> {
    let (ninja, snow) = cmdb_tenant()?;
    let server = runtime.block_on(FakeServer::start(ninja, snow));
    let dir = tempfile::tempdir()?;
    let env = Figures::for_server(&server, &dir.path().join("cmdb-state.json"));
    let setup = [
        "mode active".to_owned(),
        "ci-mapping set all 1=cmdb_ci_computer 2=cmdb_ci_computer 9=cmdb_ci_win_server \
         10=cmdb_ci_computer 11=cmdb_ci_linux_server 13=cmdb_ci_esx_server 15=cmdb_ci_computer"
            .to_owned(),
        "sync".to_owned(),
    ];
    for line in setup
        .into_iter()
        .chain((1..=CMDB_ORGANIZATIONS).map(|n| format!("update --org {n} --ci-mapping all")))
    {
        let (exit, _, err) = orgsync(runtime, &env, &line);
        if exit != Exit::Done {
            return Err(format!("`orgsync {line}` failed: {err}").into());
        }
    }
    println!(
        "CMDB tenant: {} devices in {CMDB_ORGANIZATIONS} organizations, all mapped; {FOREIGN_NAMES} \
         named like another company's CI, {OWN_NAMES} like their own company's; default page \
         size and batch (100).",
        CMDB_ORGANIZATIONS * DEVICES_PER_ORGANIZATION
    );
    for (run, label) in [(1, "first pass"), (2, "steady pass")] {
        server.clear_log();
        let started = Instant::now();
        let (exit, out, err) = orgsync(runtime, &env, "sync");
        let elapsed = started.elapsed();
        if exit != Exit::Done {
            return Err(format!("CMDB sync #{run} exited {}: {err}", exit.code()).into());
        }
        let log = server.requests();
        let count = |method: &str, path: &str| {
            log.iter()
                .filter(|r| r.method == method && r.path == path)
                .count()
        };
        println!(
            "CMDB {label}: devices-detailed pages {}, dry runs {}, owner queries {}, writes {}; \
             {:.3} s wall for the whole sync",
            count("GET", "/v2/devices-detailed"),
            count("POST", "/api/now/identifyreconcile/query"),
            count("GET", "/api/now/table/cmdb_ci"),
            count("POST", "/api/now/identifyreconcile"),
            elapsed.as_secs_f64(),
        );
        if let Some(line) = out.lines().find(|l| l.starts_with("CMDB step")) {
            println!("  {line}");
        }
    }
    Ok(())
}
