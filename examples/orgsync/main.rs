//! `orgsync`: the reference integration — NinjaOne organizations kept mapped to ServiceNow
//! companies from cron (or from `orgsync serve`, which also takes NinjaOne's webhook), over the
//! HTTP clients, a JSON state file and the sync engine.
//!
//! ```text
//! cargo run --release --features http --example orgsync -- <command> [options]
//! ```
//!
//! `orgsync --help` lists the commands, options, environment variables and exit codes. All the
//! logic lives in `app` over the ports; this file only builds the HTTP clients, opens the state
//! file, and runs `app` on a tokio runtime.

mod app;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use app::{
    Environment, Exit, Io, NinjaOneSettings, RemoteSettings, Remotes, SetupError, WebhookAdmin,
};
use ninjaone_servicenow::clock::{Clock, SystemClock};
use ninjaone_servicenow::ports::{ConfigStore, StoreError};
use ninjaone_servicenow::store::JsonFileStore;

/// The real surroundings: process environment, HTTP clients, the JSON state file.
struct Process;

impl Environment for Process {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
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
        std::io::stderr().is_terminal()
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("orgsync: error: could not start the async runtime: {err}");
            return ExitCode::from(Exit::Failure.code());
        }
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
    };
    let exit = runtime.block_on(app::run(&args, &Process, &mut io));
    ExitCode::from(exit.code())
}
