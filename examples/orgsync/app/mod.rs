//! Everything `orgsync` does — argument parsing, command execution, output and exit codes — over
//! the ports, so it runs the same on the HTTP clients (`main`) and on the in-memory fakes
//! (the tests).
//!
//! The one thing it does not do is build the HTTP clients: it asks its [`Environment`], after
//! the command line and the environment variables have been checked, so a usage error never
//! needs credentials and a refused origin is reported before any request.
//!
//! This file runs a command line: it parses it ([`args`]), answers help and version, reads the
//! settings and opens the state file ([`environment`]), then hands the command to [`commands`],
//! [`passes`], [`templates`], [`serve`] or [`webhook`]; a [`failure`] becomes its message and exit
//! status here.

mod args;
mod commands;
mod environment;
mod failure;
mod output;
mod passes;
mod serve;
mod templates;
#[cfg(all(test, feature = "test-util"))]
mod tests;
mod webhook;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
use ninjaone_servicenow::engine::{Actor, EngineOptions, OrganizationSync, ReportDetail};
use ninjaone_servicenow::ports::Ports;

pub use args::Verbosity;
use args::{Cli, Command};
pub use environment::{Environment, RemoteSettings, Remotes, SetupError, connect_http};
use environment::{settings, store_failure};
use failure::{Failed, error_chain, sync_failure};
use output::json_line;
pub use webhook::{NinjaOneSettings, WebhookAdmin, connect_webhooks_http};

/// The state file used when `ORGSYNC_STATE` is not set.
pub const DEFAULT_STATE: &str = "./orgsync-state.json";

/// The integration id used when `ORGSYNC_INTEGRATION_ID` is not set.
pub const DEFAULT_INTEGRATION_ID: &str = "orgsync";

/// The name the integration acts (and is audited) as: a system administrator.
pub const ACTOR: &str = "orgsync";

/// The process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: all done.
    Done,
    /// 1: a runtime failure (network, authentication, remote API, the state file in use).
    Failure,
    /// 2: a usage error or invalid input.
    Usage,
    /// 3: refused by the current state.
    Refused,
    /// 4: the pass finished, but some organizations failed or are held for approval.
    Partial,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Refused => 3,
            Self::Partial => 4,
        }
    }
}

/// Where output goes.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// Runs the command line `args` (without the program name) and returns the exit status.
/// Output that a write error cuts short is not an error of the command.
pub async fn run(args: &[String], env: &dyn Environment, io: &mut Io<'_>) -> Exit {
    let cli = match args::parse(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = writeln!(io.err, "orgsync: {err}");
            return Exit::Usage;
        }
    };
    let result = match &cli.command {
        Command::Help(text) => {
            let _ = io.out.write_all(text.as_bytes());
            Ok(Exit::Done)
        }
        Command::Completions(shell) => {
            clap_complete::generate(*shell, &mut args::command(), "orgsync", io.out);
            Ok(Exit::Done)
        }
        Command::Version => {
            let _ = writeln!(
                io.out,
                "orgsync {} (ninjaone-servicenow)",
                env!("CARGO_PKG_VERSION")
            );
            Ok(Exit::Done)
        }
        _ => execute(&cli, env, io).await,
    };
    match result {
        Ok(exit) => exit,
        Err(failed) => {
            let _ = writeln!(io.err, "orgsync: error: {}", failed.message);
            if let Some(hint) = failed.hint {
                let _ = writeln!(io.err, "  what to do: {hint}");
            }
            failed.exit
        }
    }
}

async fn execute(cli: &Cli, env: &dyn Environment, io: &mut Io<'_>) -> Result<Exit, Failed> {
    // The webhook commands need NinjaOne and the secret only, and never open the state file.
    match &cli.command {
        Command::WebhookRegister { url, json } => {
            return webhook::run(Some(url), *json, cli.verbosity, env, io).await;
        }
        Command::WebhookDelete { json } => {
            return webhook::run(None, *json, cli.verbosity, env, io).await;
        }
        _ => {}
    }
    // `serve` checks its secret before anything else is read or opened.
    let serve_secret = match &cli.command {
        Command::Serve { .. } => Some(webhook::secret(env)?),
        _ => None,
    };
    let settings = settings(env)?;
    let remotes = env.connect(&settings).map_err(|err| {
        Failed::new(
            Exit::Usage,
            format!("the connection settings are refused: {}", err.0),
        )
        .hint(format!(
            "fix NINJAONE_BASE_URL or SERVICENOW_INSTANCE (or {}); no request was sent",
            settings.servicenow_auth.variables()
        ))
    })?;
    let path = env
        .var("ORGSYNC_STATE")
        .filter(|p| !p.trim().is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_STATE), PathBuf::from);
    let integration_id = env
        .var("ORGSYNC_INTEGRATION_ID")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_INTEGRATION_ID.to_owned());
    // `-v` lists unchanged organizations and tickets (and keeps the plan); reports are
    // compact otherwise.
    let detail = if cli.verbosity == Verbosity::Verbose {
        ReportDetail::Full
    } else {
        ReportDetail::Compact
    };
    let incident_settings = IncidentSettings::new(integration_id).map_err(|err| {
        Failed::new(
            Exit::Usage,
            format!("ORGSYNC_INTEGRATION_ID is refused: {err}"),
        )
        .hint("no request was sent")
    })?;
    let store = env
        .open_store(&path)
        .map_err(|err| store_failure(&path, &err))?;
    let clock = env.clock();
    let options = EngineOptions::builder().report(detail).build();
    let router = IncidentRouter::new(
        Ports::new(
            Arc::clone(&remotes.ninjaone),
            Arc::clone(&remotes.servicenow),
            Arc::clone(&store),
            Arc::clone(&clock),
        ),
        incident_settings,
    )
    .options(options.clone());
    let sync = OrganizationSync::new(Ports::new(
        remotes.ninjaone,
        remotes.servicenow,
        store,
        clock,
    ))
    .options(options);
    let ctx = Ctx {
        sync,
        router,
        actor: Actor::administrator(ACTOR),
        verbosity: cli.verbosity,
        terminal: env.stderr_is_terminal(),
    };
    if let (Command::Serve { listen, every }, Some(secret)) = (&cli.command, serve_secret) {
        return ctx.serve(*listen, *every, secret, io).await;
    }
    ctx.command(&cli.command, io).await
}

struct Ctx {
    sync: OrganizationSync,
    router: IncidentRouter,
    actor: Actor,
    verbosity: Verbosity,
    terminal: bool,
}
