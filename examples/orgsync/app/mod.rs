//! Everything `orgsync` does — argument parsing, command execution, output and exit codes — over
//! the ports, so it runs the same on the HTTP clients (`main`) and on the in-memory fakes
//! (the tests).
//!
//! The one thing it does not do is build the HTTP clients: it asks its [`Environment`], after
//! the command line and the environment variables have been checked, so a usage error never
//! needs credentials and a refused origin is reported before any request.

mod args;
mod output;
mod serve;
mod templates;
#[cfg(all(test, feature = "test-util"))]
mod tests;
mod webhook;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ninjaone_servicenow::clock::Clock;
use ninjaone_servicenow::engine::incidents::{IncidentReport, IncidentRouter, IncidentSettings};
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, ConfigChanges, ConfigDraft, EngineOptions, ErrorChain, NextRun,
    OrganizationSync, Outcome, Problem, Report, ReportDetail, StoppedReport, SyncError,
};
use ninjaone_servicenow::http::Secret;
use ninjaone_servicenow::model::{AuditFilter, CiMapping, SyncStatus, TicketKind};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{
    ApiErrorKind, ConfigStore, NinjaOneApi, Remote, ServiceNowApi, StoreError, StoreErrorKind,
};

pub use args::Verbosity;
use args::{AccountChange, AddArgs, Cli, Command, Transition, UpdateArgs};
use output::{AuditJson, ConfigRow, SyncJson, or_dash, table};
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

/// What the program needs to reach NinjaOne and ServiceNow, read from the environment. The
/// secrets are [`Secret`]s: never printed.
#[derive(Debug)]
pub struct RemoteSettings {
    /// `NINJAONE_BASE_URL`: a region key or an origin.
    pub ninjaone_base: String,
    /// `NINJAONE_CLIENT_ID`.
    pub ninjaone_client_id: String,
    /// `NINJAONE_CLIENT_SECRET`.
    pub ninjaone_client_secret: Secret,
    /// `SERVICENOW_INSTANCE`: an instance name or an origin.
    pub servicenow_instance: String,
    /// How to authenticate to ServiceNow, chosen by which variables are set.
    pub servicenow_auth: ServiceNowAuth,
}

/// ServiceNow authentication, from the variables that are set:
///
/// | set | mode |
/// | --- | --- |
/// | `SERVICENOW_USERNAME`, `SERVICENOW_PASSWORD` | Basic |
/// | `SERVICENOW_CLIENT_ID`, `SERVICENOW_CLIENT_SECRET` | OAuth client credentials |
/// | all four | OAuth password grant |
#[derive(Debug)]
pub enum ServiceNowAuth {
    /// Basic authentication.
    Basic { username: String, password: Secret },
    /// The OAuth password grant.
    PasswordGrant {
        client_id: String,
        client_secret: Secret,
        username: String,
        password: Secret,
    },
    /// The OAuth client credentials grant.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
}

impl ServiceNowAuth {
    /// The variables that hold this mode's credentials, for hints.
    pub fn variables(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "SERVICENOW_USERNAME and SERVICENOW_PASSWORD",
            Self::PasswordGrant { .. } => {
                "SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET, SERVICENOW_USERNAME and \
                 SERVICENOW_PASSWORD"
            }
            Self::ClientCredentials { .. } => "SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET",
        }
    }
}

/// The two remote APIs.
pub struct Remotes {
    pub ninjaone: Arc<dyn NinjaOneApi>,
    pub servicenow: Arc<dyn ServiceNowApi>,
}

/// Settings the environment refused to connect with (a refused origin, a bad instance name).
/// The message says what is wrong and contains no secret.
#[derive(Debug)]
pub struct SetupError(pub String);

/// Builds the HTTP clients for `settings`; sends no request. A refused origin or instance name
/// is a [`SetupError`] saying why.
pub fn connect_http(settings: &RemoteSettings) -> Result<Remotes, SetupError> {
    use ninjaone_servicenow::http::{
        NinjaOneClient, NinjaOneConfig, ServiceNowClient, ServiceNowConfig,
    };
    let refused = |err: ninjaone_servicenow::http::ConfigError| SetupError(err.to_string());
    let ninjaone = NinjaOneConfig::new(
        &settings.ninjaone_base,
        settings.ninjaone_client_id.clone(),
        settings.ninjaone_client_secret.clone(),
    )
    .and_then(NinjaOneClient::new)
    .map_err(refused)?;
    let instance = &settings.servicenow_instance;
    let servicenow = match &settings.servicenow_auth {
        ServiceNowAuth::Basic { username, password } => {
            ServiceNowConfig::basic(instance, username.clone(), password.clone())
        }
        ServiceNowAuth::PasswordGrant {
            client_id,
            client_secret,
            username,
            password,
        } => ServiceNowConfig::oauth_password(
            instance,
            client_id.clone(),
            client_secret.clone(),
            username.clone(),
            password.clone(),
        ),
        ServiceNowAuth::ClientCredentials {
            client_id,
            client_secret,
        } => ServiceNowConfig::oauth_client_credentials(
            instance,
            client_id.clone(),
            client_secret.clone(),
        ),
    }
    .and_then(ServiceNowClient::new)
    .map_err(refused)?;
    Ok(Remotes {
        ninjaone: Arc::new(ninjaone),
        servicenow: Arc::new(servicenow),
    })
}

/// What the program gets from its surroundings. `main` implements it with the HTTP clients, a
/// [`JsonFileStore`](ninjaone_servicenow::store::JsonFileStore) and the system clock; the tests
/// with the fakes.
pub trait Environment {
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// Builds the API clients. Must not send any request.
    fn connect(&self, settings: &RemoteSettings) -> Result<Remotes, SetupError>;
    /// Builds the NinjaOne client of `webhook register|delete` (the management scope). Must
    /// not send any request.
    fn connect_webhooks(
        &self,
        settings: &NinjaOneSettings,
    ) -> Result<Arc<dyn WebhookAdmin>, SetupError>;
    /// Opens the state store at `path`.
    fn open_store(&self, path: &Path) -> Result<Arc<dyn ConfigStore>, StoreError>;
    /// The clock.
    fn clock(&self) -> Arc<dyn Clock>;
    /// Whether standard error is a terminal (a progress indicator is shown only then).
    fn stderr_is_terminal(&self) -> bool;
}

/// Where output goes.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// A failure to report on standard error, with its exit status.
struct Failed {
    exit: Exit,
    message: String,
    hint: Option<String>,
}

impl Failed {
    fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
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
        Command::Help(topic) => match args::help(topic.as_deref()) {
            Ok(text) => {
                let _ = io.out.write_all(text.as_bytes());
                Ok(Exit::Done)
            }
            Err(err) => Err(Failed::new(Exit::Usage, err.0)),
        },
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

/// Reads the remote settings; a missing variable is a usage error naming it.
fn settings(env: &dyn Environment) -> Result<RemoteSettings, Failed> {
    let var = |name: &str, what: &str| {
        env.var(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                Failed::new(Exit::Usage, format!("{name} is not set")).hint(format!(
                    "set {name} to {what} (see `orgsync --help`, section Environment)"
                ))
            })
    };
    Ok(RemoteSettings {
        ninjaone_base: var(
            "NINJAONE_BASE_URL",
            "a region key (us, eu, oc, ca, us2, fed) or an https origin",
        )?,
        ninjaone_client_id: var("NINJAONE_CLIENT_ID", "the NinjaOne API client id")?,
        ninjaone_client_secret: Secret::new(var(
            "NINJAONE_CLIENT_SECRET",
            "the NinjaOne API client secret",
        )?),
        servicenow_instance: var(
            "SERVICENOW_INSTANCE",
            "an instance name (acme) or an https origin",
        )?,
        servicenow_auth: servicenow_auth(env)?,
    })
}

/// Chooses the ServiceNow authentication from the variables that are set (see
/// [`ServiceNowAuth`]); a half-set pair is a usage error naming the missing variable.
fn servicenow_auth(env: &dyn Environment) -> Result<ServiceNowAuth, Failed> {
    let get = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
    let pair = |first: &str, second: &str, what: &str| match (get(first), get(second)) {
        (Some(a), Some(b)) => Ok(Some((a, Secret::new(b)))),
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => {
            let missing = if get(first).is_none() { first } else { second };
            Err(
                Failed::new(Exit::Usage, format!("{missing} is not set")).hint(format!(
                    "{first} and {second} ({what}) go together: set both, or neither (see \
                 `orgsync --help`, section Environment)"
                )),
            )
        }
    };
    let user = pair(
        "SERVICENOW_USERNAME",
        "SERVICENOW_PASSWORD",
        "the integration user and its password",
    )?;
    let client = pair(
        "SERVICENOW_CLIENT_ID",
        "SERVICENOW_CLIENT_SECRET",
        "an OAuth application's client id and secret",
    )?;
    match (user, client) {
        (Some((username, password)), None) => Ok(ServiceNowAuth::Basic { username, password }),
        (None, Some((client_id, client_secret))) => Ok(ServiceNowAuth::ClientCredentials {
            client_id,
            client_secret,
        }),
        (Some((username, password)), Some((client_id, client_secret))) => {
            Ok(ServiceNowAuth::PasswordGrant {
                client_id,
                client_secret,
                username,
                password,
            })
        }
        (None, None) => Err(
            Failed::new(Exit::Usage, "SERVICENOW_USERNAME is not set").hint(
                "set SERVICENOW_USERNAME and SERVICENOW_PASSWORD (Basic), or SERVICENOW_CLIENT_ID \
             and SERVICENOW_CLIENT_SECRET (OAuth client credentials), or all four (OAuth \
             password grant); see `orgsync --help`, section Environment",
            ),
        ),
    }
}

fn store_failure(path: &Path, err: &StoreError) -> Failed {
    let shown = path.display();
    match err.kind() {
        StoreErrorKind::Locked => Failed::new(
            Exit::Failure,
            format!("the state file {shown} is in use by another orgsync process"),
        )
        .hint("wait for the other run to finish (its lock is released when it exits), then try again"),
        StoreErrorKind::Corrupt => Failed::new(
            Exit::Failure,
            format!("the state file {shown} cannot be read: {err}"),
        )
        .hint("restore it from a backup or move it aside; orgsync never overwrites a file it cannot read"),
        _ => Failed::new(
            Exit::Failure,
            format!("the state file {shown} could not be opened: {err}"),
        )
        .hint("check that its directory exists and is writable, or set ORGSYNC_STATE"),
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

/// Maps an engine error to what the user reads and the exit status.
fn sync_failure(err: &SyncError) -> Failed {
    let message = error_chain(err);
    match err {
        SyncError::AddRefused(_) => {
            Failed::new(Exit::Refused, message).hint("run `orgsync mode inactive` to switch")
        }
        SyncError::AlreadyConfigured(org) => Failed::new(Exit::Refused, message)
            .hint(format!("change it with `orgsync update --org {org} ...`")),
        SyncError::Transition(_) | SyncError::PermissionDenied { .. } => {
            Failed::new(Exit::Refused, message)
        }
        SyncError::Invalid(problems)
            if problems
                .iter()
                .all(|p| matches!(p, Problem::MappingInUse { .. })) =>
        {
            Failed::new(Exit::Refused, message)
                .hint("remove the mapping from those configurations first (`orgsync update`)")
        }
        SyncError::Invalid(problems)
            if problems
                .iter()
                .all(|p| matches!(p, Problem::TicketTemplateInUse { .. })) =>
        {
            Failed::new(Exit::Refused, message).hint(
                "name another template in those configurations first \
                 (`orgsync update --org ID --ticket-template NAME`)",
            )
        }
        SyncError::Invalid(_) => Failed::new(Exit::Usage, message)
            .hint("check the ids against NinjaOne and ServiceNow; nothing was saved"),
        SyncError::NotConfigured(org) => Failed::new(Exit::Usage, message).hint(format!(
            "`orgsync status` lists the configured organizations; organization {org} is not one"
        )),
        SyncError::Remote { remote, error, .. } => {
            let hint = remote_hint(*remote, error.kind());
            Failed::new(Exit::Failure, message).hint(hint)
        }
        SyncError::Store { .. } => Failed::new(Exit::Failure, message)
            .hint("check the state file (ORGSYNC_STATE) and try again"),
        _ => Failed::new(Exit::Failure, message).hint("try again"),
    }
}

/// What to do about a failed remote call.
fn remote_hint(remote: Remote, kind: ApiErrorKind) -> String {
    let (vars, origin) = match remote {
        Remote::ServiceNow => (
            "the ServiceNow credentials (SERVICENOW_USERNAME and SERVICENOW_PASSWORD, or \
             SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET)",
            "SERVICENOW_INSTANCE",
        ),
        Remote::NinjaOne => (
            "NINJAONE_CLIENT_ID and NINJAONE_CLIENT_SECRET",
            "NINJAONE_BASE_URL",
        ),
    };
    if kind.is_auth() {
        format!("check {vars} and the roles or scopes the {remote} account has")
    } else if kind.is_transient() {
        format!("{remote} is busy or unreachable; try again later")
    } else {
        format!("check the {remote} instance ({origin})")
    }
}

/// An error with its causes, "a: b: c" (the library's [`ErrorChain`]).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    ErrorChain(err).to_string()
}

/// The text of a credentials stop whose report is not the one expected (never happens).
fn refused_text(refused: &ninjaone_servicenow::engine::CredentialsRefused) -> String {
    format!(
        "the pass stopped: the {} credentials were refused ({})",
        refused.remote, refused.message
    )
}

fn json_line(io: &mut Io<'_>, value: &impl serde::Serialize) -> Result<(), Failed> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failed::new(Exit::Failure, format!("could not write JSON: {e}")))?;
    let _ = writeln!(io.out, "{text}");
    Ok(())
}

impl Ctx {
    fn say(&self, io: &mut Io<'_>, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(io.out, "{text}");
        }
    }

    fn note(&self, io: &mut Io<'_>, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(io.err, "{text}");
        }
    }

    async fn command(&self, command: &Command, io: &mut Io<'_>) -> Result<Exit, Failed> {
        match command {
            Command::Mode(mode) => self.mode(*mode, io).await,
            Command::CiMappingSet { name, rules } => {
                let mut mapping = CiMapping::new(name.clone());
                for (role, class) in rules {
                    mapping.set_rule(*role, class.clone());
                }
                self.sync
                    .put_ci_mapping(&self.actor, mapping)
                    .await
                    .map_err(|e| sync_failure(&e))?;
                self.say(
                    io,
                    &format!(
                        "CI mapping {:?} saved with {} rule(s).",
                        name.as_str(),
                        rules.len()
                    ),
                );
                Ok(Exit::Done)
            }
            Command::CiMappingList => self.ci_mapping_list(io).await,
            Command::TicketTemplateSet(args) => self.template_set(args, io).await,
            Command::TicketTemplateList { json } => self.template_list(*json, io).await,
            Command::TicketTemplateDelete(name) => self.template_delete(name, io).await,
            Command::CiMappingDelete(name) => {
                let deleted = self
                    .sync
                    .delete_ci_mapping(&self.actor, name)
                    .await
                    .map_err(|e| sync_failure(&e))?;
                if deleted {
                    self.say(io, &format!("CI mapping {:?} deleted.", name.as_str()));
                    Ok(Exit::Done)
                } else {
                    Err(Failed::new(
                        Exit::Usage,
                        format!("there is no CI mapping {:?}", name.as_str()),
                    )
                    .hint("`orgsync ci-mapping list` shows the mappings"))
                }
            }
            Command::Add(add) => self.add(add, io).await,
            Command::Update(update) => self.update(update, io).await,
            Command::Transition(transition, org) => {
                let result = match transition {
                    Transition::Pause => self.sync.pause(&self.actor, *org).await,
                    Transition::Resume => self.sync.resume(&self.actor, *org).await,
                    Transition::Delete => self.sync.delete(&self.actor, *org).await,
                    Transition::Restore => self.sync.restore(&self.actor, *org).await,
                };
                let config = result.map_err(|e| sync_failure(&e))?;
                let reason = config
                    .status_reason()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                self.say(
                    io,
                    &format!(
                        "Organization {org}: {} done; status {}{reason}.",
                        transition.verb(),
                        config.status()
                    ),
                );
                Ok(Exit::Done)
            }
            Command::Sync {
                dry_run,
                approve_deletions,
                json,
            } => self.run_sync(*dry_run, *approve_deletions, *json, io).await,
            Command::Status { json } => self.status(*json, io).await,
            Command::Incidents {
                dry_run,
                approve_resolves,
                json,
            } => self.incidents(*dry_run, *approve_resolves, *json, io).await,
            Command::Audit { org, json } => self.audit(*org, *json, io).await,
            // Run by `execute` before a context exists (help, version, webhook) or with what
            // only it holds (serve's secret).
            Command::Help(_)
            | Command::Version
            | Command::Serve { .. }
            | Command::WebhookRegister { .. }
            | Command::WebhookDelete { .. } => Ok(Exit::Done),
        }
    }

    async fn audit(
        &self,
        org: Option<ninjaone_servicenow::model::OrganizationId>,
        json: bool,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let mut filter = AuditFilter::all();
        if let Some(org) = org {
            filter = filter.organization(org);
        }
        let entries = self
            .sync
            .audit(&self.actor, &filter)
            .await
            .map_err(|e| sync_failure(&e))?;
        if json {
            json_line(io, &entries.iter().map(AuditJson::from).collect::<Vec<_>>())?;
        } else {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    let outcome = match &e.outcome {
                        ninjaone_servicenow::model::AuditOutcome::Applied => "applied".to_owned(),
                        ninjaone_servicenow::model::AuditOutcome::Refused(r) => {
                            format!("refused: {r}")
                        }
                    };
                    vec![
                        e.seq.to_string(),
                        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        e.actor.clone(),
                        output::action_name(e),
                        or_dash(e.organization.map(|o| o.to_string()).as_deref()),
                        outcome,
                    ]
                })
                .collect();
            let _ = io.out.write_all(
                table(
                    &["SEQ", "AT (UTC)", "ACTOR", "ACTION", "ORG", "OUTCOME"],
                    &rows,
                )
                .as_bytes(),
            );
        }
        Ok(Exit::Done)
    }

    async fn ci_mapping_list(&self, io: &mut Io<'_>) -> Result<Exit, Failed> {
        let mappings = self
            .sync
            .ci_mappings(&self.actor)
            .await
            .map_err(|e| sync_failure(&e))?;
        let rows: Vec<Vec<String>> = mappings
            .iter()
            .flat_map(|m| {
                m.rules().map(|(role, class)| {
                    vec![m.name().to_string(), role.to_string(), class.to_string()]
                })
            })
            .collect();
        if mappings.is_empty() {
            self.say(
                io,
                "No CI mappings. Add one with `orgsync ci-mapping set NAME ROLE_ID=CI_CLASS...`.",
            );
        } else {
            let _ = io
                .out
                .write_all(table(&["MAPPING", "ROLE", "CI CLASS"], &rows).as_bytes());
        }
        Ok(Exit::Done)
    }

    async fn mode(
        &self,
        mode: Option<ninjaone_servicenow::model::IntegrationMode>,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let before = self.sync.mode().await.map_err(|e| sync_failure(&e))?;
        match mode {
            None => {
                let _ = writeln!(io.out, "{before}");
            }
            Some(mode) => {
                self.sync
                    .set_mode(&self.actor, mode)
                    .await
                    .map_err(|e| sync_failure(&e))?;
                self.say(
                    io,
                    &format!("Integration mode set to {mode} (was {before})."),
                );
            }
        }
        Ok(Exit::Done)
    }

    async fn add(&self, add: &AddArgs, io: &mut Io<'_>) -> Result<Exit, Failed> {
        if add.tickets == Some(TicketKind::Case) && add.account.is_none() {
            return Err(Failed::new(
                Exit::Usage,
                "cases are raised against a customer account, and none was given",
            )
            .hint("add --account SYS_ID, or use --tickets incidents"));
        }
        let mut draft =
            ConfigDraft::new(add.org, add.company.clone()).allow_incidents(add.allow_incidents);
        for name in &add.ci_mappings {
            draft = draft.ci_mapping(name.clone());
        }
        if let Some(account) = &add.account {
            draft = draft.customer_account(account.clone());
        }
        if let Some(tickets) = add.tickets {
            draft = draft.tickets(tickets);
        }
        if let Some(template) = &add.ticket_template {
            draft = draft.ticket_template(template.clone());
        }
        let added = self
            .sync
            .add(&self.actor, draft)
            .await
            .map_err(|e| sync_failure(&e))?;
        self.say(io, &added.confirmation);
        Ok(Exit::Done)
    }

    async fn update(&self, update: &UpdateArgs, io: &mut Io<'_>) -> Result<Exit, Failed> {
        let mut changes = ConfigChanges::new();
        if let Some(company) = &update.company {
            changes = changes.company(company.clone());
        }
        if let Some(names) = &update.ci_mappings {
            changes = changes.ci_mappings(names.iter().cloned());
        }
        match &update.account {
            AccountChange::Keep => {}
            AccountChange::Set(account) => {
                changes = changes.customer_account(Some(account.clone()));
            }
            AccountChange::Remove => changes = changes.customer_account(None),
        }
        if let Some(allow) = update.allow_incidents {
            changes = changes.allow_incidents(allow);
        }
        if let Some(tickets) = update.tickets {
            changes = changes.tickets(tickets);
        }
        if let Some(template) = &update.ticket_template {
            changes = changes.ticket_template(Some(template.clone()));
        }
        if changes.is_empty() {
            return Err(Failed::new(Exit::Usage, "nothing to change").hint(
                "give at least one of --company, --ci-mapping, --account, --no-account, \
                 --allow-incidents, --tickets, --ticket-template",
            ));
        }
        let current = self
            .sync
            .get(&self.actor, update.org)
            .await
            .map_err(|e| sync_failure(&e))?;
        let Some(current) = current else {
            return Err(sync_failure(&SyncError::NotConfigured(update.org)));
        };
        let tickets = update.tickets.unwrap_or(current.tickets());
        let has_account = match &update.account {
            AccountChange::Keep => current.customer_account().is_some(),
            AccountChange::Set(_) => true,
            AccountChange::Remove => false,
        };
        if tickets == TicketKind::Case && !has_account {
            return Err(Failed::new(
                Exit::Usage,
                format!(
                    "organization {} would raise cases without a customer account",
                    update.org
                ),
            )
            .hint("give --account SYS_ID, or use --tickets incidents"));
        }
        let saved = self
            .sync
            .update(&self.actor, update.org, changes)
            .await
            .map_err(|e| sync_failure(&e))?;
        self.say(
            io,
            &format!(
                "Organization {} updated; status {}{}.",
                update.org,
                saved.status(),
                saved
                    .status_reason()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
        Ok(Exit::Done)
    }

    async fn run_sync(
        &self,
        dry_run: bool,
        approve: bool,
        json: bool,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let progress = self.terminal && !json && self.verbosity != Verbosity::Quiet;
        if progress {
            let _ = write!(io.err, "orgsync: running a sync pass…");
            let _ = io.err.flush();
        }
        let result = if approve {
            self.sync.approve_deletions(&self.actor).await
        } else {
            let mode = if dry_run {
                ApplyMode::DryRun
            } else {
                ApplyMode::Apply
            };
            self.sync.run_once(mode).await
        };
        if progress {
            let _ = write!(io.err, "\r\x1b[K");
        }
        // A pass stopped by refused credentials is an `Err` carrying its report: print the
        // report, then the stop, as for any other stop.
        let report = match result {
            Ok(report) => report,
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                _ => return Err(Failed::new(Exit::Failure, refused_text(&refused))),
            },
            Err(e) => return Err(sync_failure(&e)),
        };
        if json {
            json_line(io, &SyncJson::from(&report))?;
        } else {
            self.print_report(&report, io);
        }
        if report.mode == ninjaone_servicenow::model::IntegrationMode::Disabled {
            let message = "The integration is disabled: nothing was synced. Turn it on with \
                           `orgsync mode active` or `orgsync mode inactive`.";
            if json {
                self.note(io, message);
            } else {
                self.say(io, message);
            }
            return Ok(Exit::Done);
        }
        if let Some(stop) = &report.stop {
            return Err(Failed::new(
                Exit::Failure,
                format!("the pass stopped: {stop}"),
            ));
        }
        let counts = &report;
        // Outcomes are "unknown" only when a listing failed or came back incomplete; a retry
        // hint with no failed, deferred or held organization comes from a failed read too.
        // Either way the pass could not read what it needs: a runtime failure, not a partial
        // pass.
        let waiting = matches!(report.next_run, NextRun::At(_));
        if counts.unknown > 0 || (waiting && counts.failed + counts.deferred + counts.held == 0) {
            let cause = report
                .outcomes
                .iter()
                .find_map(|line| match &line.outcome {
                    Outcome::Unknown { reason } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "a NinjaOne or ServiceNow listing failed".to_owned());
            let retry = match report.next_run {
                NextRun::At(at) => format!(
                    "run again at or after {} UTC; nothing was concluded from what could not be read",
                    at.format("%Y-%m-%d %H:%M:%S")
                ),
                NextRun::Regular => {
                    "run again; nothing was concluded from what could not be read".to_owned()
                }
            };
            return Err(Failed::new(
                Exit::Failure,
                format!("the pass could not read everything it needs: {cause}"),
            )
            .hint(format!("check the network and the instances, then {retry}")));
        }
        let unfinished = counts.failed + counts.held + counts.deferred;
        if report.needs_approval() {
            self.note(
                io,
                "Some changes are held by the deletion guard: check them, then run \
                 `orgsync sync --approve-deletions`.",
            );
        }
        if unfinished > 0 || report.needs_approval() {
            self.note(
                io,
                &format!(
                    "{unfinished} organization(s) failed, were deferred or are held; they are \
                     recorded and retried by the next pass (`orgsync status` shows why)."
                ),
            );
            return Ok(Exit::Partial);
        }
        Ok(Exit::Done)
    }

    /// `incidents`: one incident pass — a ticket for each new alert of an organization whose
    /// configuration is active and allows incidents, the tickets of cleared alerts resolved.
    async fn incidents(
        &self,
        dry_run: bool,
        approve: bool,
        json: bool,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let progress = self.terminal && !json && self.verbosity != Verbosity::Quiet;
        if progress {
            let _ = write!(io.err, "orgsync: running an incident pass…");
            let _ = io.err.flush();
        }
        let mode = if dry_run {
            ApplyMode::DryRun
        } else {
            ApplyMode::Apply
        };
        let result = if approve {
            self.router.approve_resolves(&self.actor).await
        } else {
            self.router.run_once(mode).await
        };
        if progress {
            let _ = write!(io.err, "\r\x1b[K");
        }
        let report = match result {
            Ok(report) => report,
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Incidents(report) => *report,
                _ => return Err(Failed::new(Exit::Failure, refused_text(&refused))),
            },
            Err(e) => return Err(sync_failure(&e)),
        };
        if json {
            json_line(io, &report)?;
        } else {
            self.print_incidents(&report, io);
        }
        if let Some(stop) = &report.stop {
            return Err(Failed::new(
                Exit::Failure,
                format!("the incident pass stopped: {stop}"),
            ));
        }
        if !report.listing_problems.is_empty() {
            return Err(Failed::new(
                Exit::Failure,
                format!(
                    "the incident pass could not read everything it needs: {}",
                    report.listing_problems.join("; ")
                ),
            )
            .hint("check the network and the instances, then run again; nothing was created or resolved from what could not be read"));
        }
        if report.needs_approval() {
            self.note(
                io,
                &format!(
                    "{} resolve(s) are held by the resolve guard: this pass would have resolved \
                     {} of {} open ticket(s), more than its limit of {}. Check that NinjaOne's \
                     alert listing is right (credentials, API role, tenant), then run \
                     `orgsync incidents --approve-resolves` to resolve them.",
                    report.held,
                    report.resolve_guard.resolves,
                    report.resolve_guard.open,
                    report.resolve_guard.limit
                ),
            );
        }
        if report.failed + report.unknown > 0 {
            self.note(
                io,
                &format!(
                    "{} alert(s) failed or could not be decided; the next pass retries them.",
                    report.failed + report.unknown
                ),
            );
            return Ok(Exit::Partial);
        }
        if report.needs_approval() {
            return Ok(Exit::Partial);
        }
        Ok(Exit::Done)
    }

    fn print_incidents(&self, report: &IncidentReport, io: &mut Io<'_>) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let kind = if report.apply_mode == ApplyMode::DryRun {
            "Incident dry run (nothing written)"
        } else {
            "Incident pass"
        };
        let _ = writeln!(
            io.out,
            "{kind}: {} open alert(s); {} created, {} adopted, {} noted, {} resolved, {} held, \
             {} finished elsewhere, {} skipped, {} failed, {} unknown; {} remote write(s).",
            report.alerts,
            report.created,
            report.adopted,
            report.noted,
            report.resolved,
            report.held,
            report.finished_elsewhere,
            report.skipped,
            report.failed,
            report.unknown,
            report.remote_writes
        );
        for (reason, count) in &report.skip_reasons {
            let _ = writeln!(io.out, "  skipped {count}: {reason}");
        }
        if self.verbosity == Verbosity::Verbose {
            for line in &report.outcomes {
                let _ = writeln!(
                    io.out,
                    "  {} {} {}",
                    line.alert,
                    line.number.as_deref().unwrap_or("-"),
                    line.outcome
                );
            }
        }
    }

    fn print_report(&self, report: &Report, io: &mut Io<'_>) {
        if self.verbosity == Verbosity::Quiet
            || report.mode == ninjaone_servicenow::model::IntegrationMode::Disabled
        {
            return;
        }
        let c = report;
        let kind = if report.apply_mode == ApplyMode::DryRun {
            "Dry run (nothing written)"
        } else {
            "Sync pass"
        };
        let _ = writeln!(
            io.out,
            "{kind} in {} mode: {} created, {} matched, {} activated, {} unchanged, {} deferred, \
             {} held, {} failed, {} deleted, {} unknown, {} planned; {} remote write(s).",
            report.mode,
            c.created,
            c.matched,
            c.activated,
            c.unchanged,
            c.deferred,
            c.held,
            c.failed,
            c.deleted,
            c.unknown,
            c.planned,
            report.remote_writes
        );
        let verbose = self.verbosity == Verbosity::Verbose;
        let rows: Vec<Vec<String>> = report
            .outcomes
            .iter()
            .filter(|line| verbose || line.outcome.label() != "unchanged")
            .map(|line| {
                vec![
                    line.organization.to_string(),
                    or_dash(line.organization_name.as_deref()),
                    or_dash(line.status.map(SyncStatus::label)),
                    line.outcome.to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let _ = io
                .out
                .write_all(table(&["ORG", "NAME", "STATUS", "OUTCOME"], &rows).as_bytes());
        }
        if let Some(ci) = &report.ci {
            let _ = writeln!(io.out, "{}", output::cmdb_summary(ci));
            let rows = output::cmdb_rows(ci);
            if !rows.is_empty() {
                let _ = io
                    .out
                    .write_all(table(&["DEVICE", "NAME", "ORG", "CMDB", "WHY"], &rows).as_bytes());
            }
        }
        if verbose && let NextRun::At(at) = report.next_run {
            let _ = writeln!(
                io.out,
                "Run again at or after {} UTC.",
                at.format("%Y-%m-%d %H:%M:%S")
            );
        }
    }

    async fn status(&self, json: bool, io: &mut Io<'_>) -> Result<Exit, Failed> {
        let configs = self
            .sync
            .list(&self.actor)
            .await
            .map_err(|e| sync_failure(&e))?;
        let rows: Vec<ConfigRow> = configs.iter().map(ConfigRow::from).collect();
        if json {
            json_line(io, &rows)?;
            return Ok(Exit::Done);
        }
        let mode = self.sync.mode().await.map_err(|e| sync_failure(&e))?;
        self.say(io, &format!("Integration mode: {mode}"));
        if rows.is_empty() {
            self.say(io, "No organization is configured yet.");
            return Ok(Exit::Done);
        }
        let cells: Vec<Vec<String>> = configs
            .iter()
            .zip(&rows)
            .map(|(config, row)| {
                vec![
                    row.organization_id.to_string(),
                    or_dash(row.organization_name.as_deref()),
                    config.status().label().to_owned(),
                    or_dash(row.company_name.as_deref()),
                    or_dash(row.company_sys_id.as_deref()),
                    or_dash(row.customer_account_sys_id.as_deref()),
                    if row.allow_incidents { "yes" } else { "no" }.to_owned(),
                    row.tickets.clone(),
                    or_dash(Some(&row.ci_mappings.join(","))),
                    or_dash(row.reason.as_deref().or(row.last_error.as_deref())),
                ]
            })
            .collect();
        let _ = io.out.write_all(
            table(
                &[
                    "ORG",
                    "ORGANIZATION",
                    "STATUS",
                    "COMPANY NAME",
                    "COMPANY",
                    "ACCOUNT",
                    "INCIDENTS",
                    "TICKETS",
                    "CI MAPPINGS",
                    "REASON",
                ],
                &cells,
            )
            .as_bytes(),
        );
        Ok(Exit::Done)
    }
}
