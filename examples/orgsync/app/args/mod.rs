//! Command-line parsing: the commands and options of the `orgsync` contract as a clap derive, read into the typed [`Command`] the app runs.
//!
//! clap reads the grammar and generates `--help`; the values are read by this module's value
//! parsers, whose refusals are today's messages, and [`errors`] words clap's own refusals as
//! `orgsync` always has ("unknown option --force for `sync`; see `orgsync sync --help`"), so a
//! script reading standard error sees no difference. Global flags (`-v`, `-q`, `-h`/`--help`,
//! `-V`/`--version`) may come anywhere; options take their value as the next argument or after
//! `=`, even a value that starts with `-`.

mod errors;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use ninjaone_servicenow::model::{
    CiClass, CiMappingName, DeviceRoleId, IntegrationMode, MinSeverity, OrganizationId, SourceType,
    SysId, TicketFieldValue, TicketKind, TicketTemplateName,
};

pub use clap_complete::Shell;

/// How much human output to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors and requested JSON only.
    Quiet,
    /// The usual output.
    Normal,
    /// Everything, including unchanged organizations and hints.
    Verbose,
}

/// A command line that cannot be used; the message says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// `add`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AddArgs {
    /// The NinjaOne organization id.
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id::<OrganizationId>(ORG))]
    pub org: OrganizationId,
    /// The ServiceNow company's sys_id (core_company).
    #[arg(long, value_name = "SYS_ID", allow_hyphen_values = true, value_parser = id::<SysId>("company sys_id"))]
    pub company: SysId,
    /// A CI mapping the configuration uses (repeat for more).
    #[arg(long = "ci-mapping", value_name = "NAME", allow_hyphen_values = true, value_parser = id::<CiMappingName>("CI mapping name"))]
    pub ci_mappings: Vec<CiMappingName>,
    /// The customer account's sys_id (customer_account), needed for cases.
    #[arg(long, value_name = "SYS_ID", allow_hyphen_values = true, value_parser = id::<SysId>("customer account sys_id"))]
    pub account: Option<SysId>,
    /// Raise tickets for this organization's alerts.
    #[arg(long, overrides_with = "allow_incidents")]
    pub allow_incidents: bool,
    /// What alerts raise: incidents or cases.
    #[arg(long, value_name = "incidents|cases", allow_hyphen_values = true, value_parser = id::<TicketKind>(TICKET_KIND))]
    pub tickets: Option<TicketKind>,
    /// The ticket template the configuration uses.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true, value_parser = id::<TicketTemplateName>(TEMPLATE_NAME))]
    pub ticket_template: Option<TicketTemplateName>,
}

/// `ticket-template set`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateArgs {
    pub name: TicketTemplateName,
    pub assignment_group: Option<SysId>,
    pub caller: Option<SysId>,
    pub category: Option<TicketFieldValue>,
    pub subcategory: Option<TicketFieldValue>,
    pub contact_type: Option<TicketFieldValue>,
    pub source_types: Vec<SourceType>,
    pub min_severity: Option<MinSeverity>,
    pub default: bool,
}

/// What `update --account`/`--no-account` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// Neither option: keep the account.
    Keep,
    /// `--account SYS_ID`.
    Set(SysId),
    /// `--no-account`.
    Remove,
}

/// `update`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateArgs {
    pub org: OrganizationId,
    pub company: Option<SysId>,
    pub ci_mappings: Option<Vec<CiMappingName>>,
    pub account: AccountChange,
    pub allow_incidents: Option<bool>,
    pub tickets: Option<TicketKind>,
    pub ticket_template: Option<TicketTemplateName>,
}

/// A status change of one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Pause,
    Resume,
    Delete,
    Restore,
}

impl Transition {
    pub fn verb(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Delete => "delete",
            Self::Restore => "restore",
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `--help`, `help [COMMAND]` or `COMMAND --help`: the generated help text.
    Help(String),
    /// `--version`.
    Version,
    /// `completions SHELL`: a completion script on standard output.
    Completions(Shell),
    /// `mode [active|inactive|disabled]` (without an argument: show the mode).
    Mode(Option<IntegrationMode>),
    /// `ci-mapping set NAME ROLE_ID=CI_CLASS...`.
    CiMappingSet {
        name: CiMappingName,
        rules: Vec<(DeviceRoleId, CiClass)>,
    },
    /// `ci-mapping list`.
    CiMappingList,
    /// `ci-mapping delete NAME`.
    CiMappingDelete(CiMappingName),
    /// `ticket-template set NAME [options]`.
    TicketTemplateSet(TemplateArgs),
    /// `ticket-template list [--json]`.
    TicketTemplateList {
        json: bool,
    },
    /// `ticket-template delete NAME`.
    TicketTemplateDelete(TicketTemplateName),
    Add(AddArgs),
    Update(UpdateArgs),
    Transition(Transition, OrganizationId),
    Sync {
        dry_run: bool,
        approve_deletions: bool,
        json: bool,
    },
    Status {
        json: bool,
    },
    Incidents {
        dry_run: bool,
        approve_resolves: bool,
        json: bool,
    },
    Audit {
        org: Option<OrganizationId>,
        json: bool,
    },
    /// `serve --listen ADDR [--every DURATION]`.
    Serve {
        listen: SocketAddr,
        every: Duration,
    },
    /// `webhook register --url URL [--json]`.
    WebhookRegister {
        url: String,
        json: bool,
    },
    /// `webhook delete [--json]`.
    WebhookDelete {
        json: bool,
    },
}

/// How often `serve` runs its passes when `--every` is not given: five minutes.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(300);

/// The shortest and longest `--every`.
const EVERY_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(24 * 3600));

/// Parses a DURATION: a whole number and a unit, `s`, `m` or `h` (`30s`, `5m`, `1h`).
///
/// Three units do not need a dependency (`humantime` reads much more, and its errors do not
/// name the forms `orgsync` takes).
///
/// # Errors
/// A [`UsageError`] naming the accepted forms.
pub fn parse_duration(option: &str, text: &str) -> Result<Duration, UsageError> {
    let forms = "give a whole number and a unit s, m or h, such as 30s, 5m or 1h";
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(usage(format!(
                "{option} {text:?} is not a duration; {forms}"
            )));
        }
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| usage(format!("{option} {text:?} is not a duration; {forms}")))?;
    let duration = Duration::from_secs(seconds);
    let (min, max) = EVERY_RANGE;
    if duration < min || duration > max {
        return Err(usage(format!(
            "{option} {text:?} is out of range: give 1s to 24h ({forms})"
        )));
    }
    Ok(duration)
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub command: Command,
    pub verbosity: Verbosity,
}

/// The commands, for "unknown command" messages.
pub const COMMANDS: [&str; 15] = [
    "mode",
    "ci-mapping",
    "ticket-template",
    "add",
    "update",
    "pause",
    "resume",
    "delete",
    "restore",
    "sync",
    "status",
    "incidents",
    "audit",
    "serve",
    "webhook",
];

/// What an organization id is called where a command needs one.
const ORG: &str = "organization id (a NinjaOne organization number)";
const TICKET_KIND: &str = "ticket kind (incidents or cases)";
const TEMPLATE_NAME: &str = "ticket template name";

/// A value parser: `text.parse()`, refused as "{text:?} is not a valid {what}: {why}".
fn id<T>(what: &'static str) -> impl Fn(&str) -> Result<T, UsageError> + Clone + Send + Sync
where
    T: FromStr,
    T::Err: fmt::Display,
{
    move |text| parse_id(what, text)
}

fn parse_id<T: FromStr>(what: &str, text: &str) -> Result<T, UsageError>
where
    T::Err: fmt::Display,
{
    text.parse()
        .map_err(|e| usage(format!("{text:?} is not a valid {what}: {e}")))
}

/// A ticket field's text (`--category` …), refused naming its option.
fn field(option: &'static str) -> impl Fn(&str) -> Result<TicketFieldValue, UsageError> + Clone {
    move |text| parse_id(&format!("value for {option}"), text)
}

fn boolean(text: &str) -> Result<bool, UsageError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        _ => Err(usage(format!(
            "--allow-incidents takes true or false, not {text:?}"
        ))),
    }
}

fn listen(text: &str) -> Result<SocketAddr, UsageError> {
    text.parse().map_err(|_| {
        usage(format!(
            "--listen {text:?} is not an address; give IP:PORT, such as 127.0.0.1:8080 or \
             [::1]:8080 (0.0.0.0:8080 for every interface)"
        ))
    })
}

fn every(text: &str) -> Result<Duration, UsageError> {
    parse_duration("--every", text)
}

/// `--source-types T1,T2,...`: one value, a comma-separated list (empty items dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceTypes(Vec<SourceType>);

fn source_types(list: &str) -> Result<SourceTypes, UsageError> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| parse_id("NinjaOne source type", t))
        .collect::<Result<_, _>>()
        .map(SourceTypes)
}

/// `ci-mapping set`'s `ROLE_ID=CI_CLASS`.
fn rule(rule: &str) -> Result<(DeviceRoleId, CiClass), UsageError> {
    let (role, class) = rule.split_once('=').ok_or_else(|| {
        usage(format!(
            "{rule:?} is not ROLE_ID=CI_CLASS; see `orgsync ci-mapping --help`"
        ))
    })?;
    Ok((
        parse_id("device role id", role)?,
        parse_id("CMDB class", class)?,
    ))
}

/// The text after the generated help of `orgsync --help`.
const AFTER_HELP: &str = "\
Environment:
  NINJAONE_BASE_URL        a region key (us, eu, oc, ca, us2, fed) or an https origin
  NINJAONE_CLIENT_ID       NinjaOne API client id (client credentials, scope monitoring)
  NINJAONE_CLIENT_SECRET   its secret
  SERVICENOW_INSTANCE      an instance name (acme for https://acme.service-now.com) or an origin
  SERVICENOW_USERNAME      ServiceNow integration user (Basic auth)
  SERVICENOW_PASSWORD      its password
  SERVICENOW_CLIENT_ID     an OAuth application's client id: alone with its secret, the OAuth
  SERVICENOW_CLIENT_SECRET client credentials grant; with the user and password too, the OAuth
                           password grant
  HTTPS_PROXY, ALL_PROXY   the proxy for NinjaOne and ServiceNow (NO_PROXY excludes hosts;
                           loopback origins are always reached directly)
  ORGSYNC_STATE            the JSON state file (default ./orgsync-state.json)
  ORGSYNC_INTEGRATION_ID   this integration's id in incidents' correlation ids (default orgsync;
                           letters, digits, . _ -); two integrations on one ServiceNow must differ
  ORGSYNC_WEBHOOK_SECRET   the secret NinjaOne sends with each delivery (serve, webhook); at
                           least 16 characters, never printed

Exit codes: 0 done; 1 runtime failure (network, authentication, remote API, state file in use);
2 usage error or invalid input; 3 refused by the current state; 4 the pass finished but some
organizations failed or are held for approval.";

/// The command line as clap reads it.
#[derive(Debug, Parser)]
#[command(
    name = "orgsync",
    about = "orgsync: keeps NinjaOne organizations mapped to ServiceNow companies.",
    after_help = AFTER_HELP,
    disable_version_flag = true,
    max_term_width = 100
)]
struct Line {
    /// More output: unchanged organizations and tickets, hints.
    #[arg(short, long, global = true, help_heading = "Global options", overrides_with_all = ["verbose", "quiet"])]
    verbose: bool,
    /// Errors and requested JSON only.
    #[arg(short, long, global = true, help_heading = "Global options", overrides_with_all = ["verbose", "quiet"])]
    quiet: bool,
    /// Print the version.
    #[arg(short = 'V', long, global = true, help_heading = "Global options")]
    version: bool,
    #[command(subcommand)]
    command: Option<Top>,
}

/// `--json`: the output as JSON (stable field names).
#[derive(Debug, Args)]
struct Json {
    /// Print the result as JSON (stable field names).
    #[arg(long, overrides_with = "json")]
    json: bool,
}

/// `--org ID` of a status change.
#[derive(Debug, Args)]
struct Org {
    /// The NinjaOne organization id.
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id::<OrganizationId>(ORG))]
    org: OrganizationId,
}

#[derive(Debug, Subcommand)]
enum Top {
    /// Sets the integration mode (without an argument, shows it)
    ///
    ///   active    every NinjaOne organization is synced automatically; manual add is refused
    ///   inactive  only the organizations added by hand are synced
    ///   disabled  nothing is synced
    #[command(verbatim_doc_comment)]
    Mode {
        /// active, inactive or disabled.
        #[arg(value_name = "MODE", value_parser = id::<IntegrationMode>("mode"))]
        mode: Option<IntegrationMode>,
    },
    /// Named CI mappings: which CMDB class each NinjaOne device role becomes.
    ///
    /// Example: orgsync ci-mapping set servers 9=cmdb_ci_win_server 12=cmdb_ci_linux_server
    #[command(subcommand_required = true)]
    CiMapping {
        #[command(subcommand)]
        action: CiMappingAction,
    },
    /// Named ticket templates: what an alert's ticket carries and which alerts make one.
    ///
    /// A template a configuration names cannot be deleted (exit 3).
    #[command(subcommand_required = true)]
    TicketTemplate {
        #[command(subcommand)]
        action: TemplateAction,
    },
    /// Adds an organization by hand (inactive mode only).
    ///
    /// Everything is checked first: the organization in NinjaOne, the company (and account) in
    /// ServiceNow, the CI mappings.
    Add(AddArgs),
    /// Changes a configuration.
    ///
    /// An active, pending or queued one goes back to pending; an inactive one stays inactive
    /// until resumed; a deleted one must be restored first. --ci-mapping replaces the
    /// configuration's CI mappings.
    Update(UpdateOpts),
    /// Deactivates a configuration.
    Pause(Org),
    /// Reactivates a configuration (it goes back to pending).
    Resume(Org),
    /// Tombstones a configuration (nothing is deleted in ServiceNow).
    Delete(Org),
    /// Brings a deleted configuration back as pending.
    Restore(Org),
    /// Runs one reconcile pass.
    ///
    /// Unchanged organizations are counted, not listed; `orgsync -v sync` lists them.
    /// Exit 4 when some organizations failed, were deferred or are held for approval.
    Sync {
        /// Plan and write nothing.
        #[arg(long, overrides_with = "dry_run")]
        dry_run: bool,
        /// Apply the changes the deletion guard held.
        #[arg(long, overrides_with = "approve_deletions")]
        approve_deletions: bool,
        #[command(flatten)]
        json: Json,
    },
    /// Lists every configuration with its status and the reason for it.
    Status {
        #[command(flatten)]
        json: Json,
    },
    /// Runs one incident pass.
    ///
    /// Creates incidents for new alerts, adds a work note when an open alert re-triggers,
    /// resolves cleared ones. When one pass would resolve more than max(10, 10%) of the open
    /// tickets, it resolves none and exits 4. Unchanged tickets are counted, not listed;
    /// `orgsync -v incidents` lists them.
    Incidents {
        /// Plan and write nothing.
        #[arg(long, overrides_with = "dry_run")]
        dry_run: bool,
        /// Run a pass that applies the resolves the resolve guard held (audited).
        #[arg(long, overrides_with = "approve_resolves")]
        approve_resolves: bool,
        #[command(flatten)]
        json: Json,
    },
    /// Prints the audit log (every change and every refusal), oldest first.
    Audit {
        /// Only this NinjaOne organization's entries.
        #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id::<OrganizationId>("organization id"))]
        org: Option<OrganizationId>,
        #[command(flatten)]
        json: Json,
    },
    /// Serves NinjaOne's webhook and runs a sync pass and an incident pass every DURATION
    ///
    /// Sooner when a pass asks for a retry; passes never overlap, and deliveries are handled
    /// while one runs. Put a reverse proxy with TLS in front of it. Needs ORGSYNC_WEBHOOK_SECRET.
    ///   POST /ninjaone/webhook  a NinjaOne activity (401/403 without the secret header,
    ///                           400 unreadable, 413 too large, 503 retry later)
    ///   GET  /healthz           200 while serving
    ///   GET  /metrics           Prometheus text: deliveries, passes, tickets, failures
    /// SIGTERM or SIGINT: stops accepting, finishes the delivery and the pass in hand, exit 0.
    #[command(verbatim_doc_comment)]
    Serve {
        /// IP:PORT to listen on (127.0.0.1:8080).
        #[arg(long, value_name = "ADDR", allow_hyphen_values = true, value_parser = listen)]
        listen: SocketAddr,
        /// How often to run the passes: 30s, 5m, 1h (1s to 24h; default 5m).
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = every)]
        every: Option<Duration>,
    },
    /// Configures NinjaOne's webhook.
    ///
    /// NinjaOne posts condition activities (TRIGGERED, RESET, with the device and organization)
    /// to URL, with ORGSYNC_WEBHOOK_SECRET in the header x-orgsync-webhook-secret. The API
    /// application needs the management scope (asked for by these commands only). The state
    /// file is not opened, so this runs while `serve` holds it.
    #[command(subcommand_required = true)]
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Prints a shell completion script (bash, elvish, fish, powershell, zsh).
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL", value_parser = id::<Shell>("shell (bash, elvish, fish, powershell or zsh)"))]
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
enum CiMappingAction {
    /// Creates or replaces a CI mapping.
    Set {
        /// The mapping's name.
        #[arg(value_name = "NAME", value_parser = id::<CiMappingName>("CI mapping name"))]
        name: CiMappingName,
        /// A rule: a NinjaOne device role id and the CMDB class its devices become.
        #[arg(value_name = "ROLE_ID=CI_CLASS", required = true, value_parser = rule)]
        rules: Vec<(DeviceRoleId, CiClass)>,
    },
    /// Lists the CI mappings.
    List,
    /// Deletes a CI mapping.
    Delete {
        /// The mapping's name.
        #[arg(value_name = "NAME", value_parser = id::<CiMappingName>("CI mapping name"))]
        name: CiMappingName,
    },
}

#[derive(Debug, Subcommand)]
enum TemplateAction {
    /// Creates or replaces a ticket template
    ///
    /// The group (sys_user_group) and caller (sys_user) are checked in ServiceNow first. Cases
    /// take the group, category, subcategory and contact type, not the caller.
    /// Example: orgsync ticket-template set servers --assignment-group 0c43f35d4f5a1200c0a8016a9310c7d5
    ///            --category hardware --contact-type monitoring --source-types CONDITION_DISK --default
    #[command(verbatim_doc_comment)]
    Set(TemplateOpts),
    /// Lists the ticket templates.
    List {
        #[command(flatten)]
        json: Json,
    },
    /// Deletes a ticket template (exit 3 while a configuration names it).
    Delete {
        /// The template's name.
        #[arg(value_name = "NAME", value_parser = id::<TicketTemplateName>(TEMPLATE_NAME))]
        name: TicketTemplateName,
    },
}

/// `ticket-template set NAME [options]` as clap reads it.
#[derive(Debug, Args)]
struct TemplateOpts {
    /// The template's name.
    #[arg(value_name = "NAME", value_parser = id::<TicketTemplateName>(TEMPLATE_NAME))]
    name: TicketTemplateName,
    /// The assignment group's sys_id (sys_user_group).
    #[arg(long, value_name = "SYS_ID", allow_hyphen_values = true, value_parser = id::<SysId>("assignment group sys_id (sys_user_group)"))]
    assignment_group: Option<SysId>,
    /// The caller's sys_id (sys_user).
    #[arg(long, value_name = "SYS_ID", allow_hyphen_values = true, value_parser = id::<SysId>("caller sys_id (sys_user)"))]
    caller: Option<SysId>,
    /// The ticket's category.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true, value_parser = field("--category"))]
    category: Option<TicketFieldValue>,
    /// The ticket's subcategory.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true, value_parser = field("--subcategory"))]
    subcategory: Option<TicketFieldValue>,
    /// The ticket's contact type.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true, value_parser = field("--contact-type"))]
    contact_type: Option<TicketFieldValue>,
    /// The NinjaOne source types that make tickets (none: all).
    #[arg(long, value_name = "T1,T2,...", allow_hyphen_values = true, value_parser = source_types)]
    source_types: Option<SourceTypes>,
    /// Drops alerts below this severity (alerts without a severity pass).
    #[arg(long, value_name = "minor|moderate|major|critical", allow_hyphen_values = true, value_parser = id::<MinSeverity>("minimum severity"))]
    min_severity: Option<MinSeverity>,
    /// Makes it the template of configurations that name none.
    #[arg(long, overrides_with = "default")]
    default: bool,
}

/// `update`'s options as clap reads them.
#[derive(Debug, Args)]
struct UpdateOpts {
    /// The NinjaOne organization id.
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id::<OrganizationId>(ORG))]
    org: OrganizationId,
    /// The ServiceNow company's sys_id.
    #[arg(long, value_name = "SYS_ID", allow_hyphen_values = true, value_parser = id::<SysId>("company sys_id"))]
    company: Option<SysId>,
    /// The CI mappings (repeat for more); replaces the configuration's.
    #[arg(long = "ci-mapping", value_name = "NAME", allow_hyphen_values = true, value_parser = id::<CiMappingName>("CI mapping name"))]
    ci_mappings: Vec<CiMappingName>,
    /// The customer account's sys_id.
    #[arg(long, value_name = "SYS_ID", allow_hyphen_values = true, value_parser = id::<SysId>("customer account sys_id"))]
    account: Option<SysId>,
    /// Removes the customer account.
    #[arg(long, overrides_with = "no_account")]
    no_account: bool,
    /// Whether to raise tickets for this organization's alerts.
    #[arg(long, value_name = "true|false", allow_hyphen_values = true, value_parser = boolean)]
    allow_incidents: Option<bool>,
    /// What alerts raise: incidents or cases.
    #[arg(long, value_name = "incidents|cases", allow_hyphen_values = true, value_parser = id::<TicketKind>(TICKET_KIND))]
    tickets: Option<TicketKind>,
    /// The ticket template the configuration uses.
    #[arg(long, value_name = "NAME", allow_hyphen_values = true, value_parser = id::<TicketTemplateName>(TEMPLATE_NAME))]
    ticket_template: Option<TicketTemplateName>,
}

#[derive(Debug, Subcommand)]
enum WebhookAction {
    /// Registers URL (the public https address of `orgsync serve`, …/ninjaone/webhook).
    Register {
        /// The public https URL NinjaOne posts to.
        #[arg(long, value_name = "URL", allow_hyphen_values = true)]
        url: String,
        #[command(flatten)]
        json: Json,
    },
    /// Removes the registration.
    Delete {
        #[command(flatten)]
        json: Json,
    },
}

/// The generated command, for help, completions and tests.
pub fn command() -> clap::Command {
    Line::command()
}

/// Parses the arguments after the program name.
///
/// # Errors
/// A [`UsageError`] saying what is wrong and what to do.
pub fn parse(args: &[String]) -> Result<Cli, UsageError> {
    // `--version` wins over everything else on the line, as it always has (clap would first
    // refuse a command's missing option).
    let before_end = args.iter().take_while(|a| *a != "--");
    if before_end.clone().any(|a| a == "-V" || a == "--version") {
        let verbosity = verbosity(args);
        return Ok(Cli {
            command: Command::Version,
            verbosity,
        });
    }
    let line = match Line::try_parse_from(
        std::iter::once("orgsync").chain(args.iter().map(String::as_str)),
    ) {
        Ok(line) => line,
        Err(err) => {
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp => Ok(Cli {
                    command: Command::Help(err.render().to_string()),
                    verbosity: verbosity(args),
                }),
                _ => Err(errors::reword(&err, args)),
            };
        }
    };
    let verbosity = if line.quiet {
        Verbosity::Quiet
    } else if line.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let Some(top) = line.command else {
        return Err(usage(
            "no command given; run `orgsync --help` for the list of commands",
        ));
    };
    Ok(Cli {
        command: top.into_command()?,
        verbosity,
    })
}

/// The verbosity a line asks for when clap did not read it (help, version): the last of `-v`
/// and `-q`.
fn verbosity(args: &[String]) -> Verbosity {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args[..end]
        .iter()
        .rev()
        .find_map(|a| match a.as_str() {
            "-v" | "--verbose" => Some(Verbosity::Verbose),
            "-q" | "--quiet" => Some(Verbosity::Quiet),
            _ => None,
        })
        .unwrap_or(Verbosity::Normal)
}

impl Top {
    /// The typed command, after the checks that involve two options.
    fn into_command(self) -> Result<Command, UsageError> {
        Ok(match self {
            Self::Mode { mode } => Command::Mode(mode),
            Self::CiMapping { action } => match action {
                CiMappingAction::Set { name, rules } => Command::CiMappingSet { name, rules },
                CiMappingAction::List => Command::CiMappingList,
                CiMappingAction::Delete { name } => Command::CiMappingDelete(name),
            },
            Self::TicketTemplate { action } => match action {
                TemplateAction::Set(set) => Command::TicketTemplateSet(TemplateArgs {
                    name: set.name,
                    assignment_group: set.assignment_group,
                    caller: set.caller,
                    category: set.category,
                    subcategory: set.subcategory,
                    contact_type: set.contact_type,
                    source_types: set.source_types.map(|s| s.0).unwrap_or_default(),
                    min_severity: set.min_severity,
                    default: set.default,
                }),
                TemplateAction::List { json } => Command::TicketTemplateList { json: json.json },
                TemplateAction::Delete { name } => Command::TicketTemplateDelete(name),
            },
            Self::Add(add) => Command::Add(add),
            Self::Update(update) => Command::Update(update.into_args()?),
            Self::Pause(org) => Command::Transition(Transition::Pause, org.org),
            Self::Resume(org) => Command::Transition(Transition::Resume, org.org),
            Self::Delete(org) => Command::Transition(Transition::Delete, org.org),
            Self::Restore(org) => Command::Transition(Transition::Restore, org.org),
            Self::Sync {
                dry_run,
                approve_deletions,
                json,
            } => {
                if dry_run && approve_deletions {
                    return Err(usage(
                        "--approve-deletions applies the held changes; it cannot be a dry run",
                    ));
                }
                Command::Sync {
                    dry_run,
                    approve_deletions,
                    json: json.json,
                }
            }
            Self::Status { json } => Command::Status { json: json.json },
            Self::Incidents {
                dry_run,
                approve_resolves,
                json,
            } => {
                if dry_run && approve_resolves {
                    return Err(usage(
                        "--approve-resolves applies the held resolves; it cannot be a dry run",
                    ));
                }
                Command::Incidents {
                    dry_run,
                    approve_resolves,
                    json: json.json,
                }
            }
            Self::Audit { org, json } => Command::Audit {
                org,
                json: json.json,
            },
            Self::Serve { listen, every } => Command::Serve {
                listen,
                every: every.unwrap_or(DEFAULT_EVERY),
            },
            Self::Webhook { action } => match action {
                WebhookAction::Register { url, json } => Command::WebhookRegister {
                    url,
                    json: json.json,
                },
                WebhookAction::Delete { json } => Command::WebhookDelete { json: json.json },
            },
            Self::Completions { shell } => Command::Completions(shell),
        })
    }
}

impl UpdateOpts {
    fn into_args(self) -> Result<UpdateArgs, UsageError> {
        let account = match (self.account, self.no_account) {
            (Some(_), true) => {
                return Err(usage("give --account or --no-account, not both"));
            }
            (Some(account), false) => AccountChange::Set(account),
            (None, true) => AccountChange::Remove,
            (None, false) => AccountChange::Keep,
        };
        Ok(UpdateArgs {
            org: self.org,
            company: self.company,
            ci_mappings: (!self.ci_mappings.is_empty()).then_some(self.ci_mappings),
            account,
            allow_incidents: self.allow_incidents,
            tickets: self.tickets,
            ticket_template: self.ticket_template,
        })
    }
}
