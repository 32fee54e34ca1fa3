//! Command-line parsing: the commands and options of the `orgsync` contract, and the help texts.
//!
//! Hand-rolled (no dependency): global flags (`-v`, `-q`, `-h`/`--help`, `-V`/`--version`) may
//! come anywhere; options take their value as the next argument or after `=`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use ninjaone_servicenow::model::{
    CiClass, CiMappingName, DeviceRoleId, IntegrationMode, MinSeverity, OrganizationId, SourceType,
    SysId, TicketFieldValue, TicketKind, TicketTemplateName,
};

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

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// `add`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddArgs {
    pub org: OrganizationId,
    pub company: SysId,
    pub ci_mappings: Vec<CiMappingName>,
    pub account: Option<SysId>,
    pub allow_incidents: bool,
    pub tickets: Option<TicketKind>,
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
    /// `--help`, `help [COMMAND]` or `COMMAND --help`.
    Help(Option<String>),
    /// `--version`.
    Version,
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

/// The commands, for help and for "unknown command" messages.
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

/// Options of a command: (name, takes a value).
fn options_of(command: &str) -> &'static [(&'static str, bool)] {
    match command {
        "add" => &[
            ("--org", true),
            ("--company", true),
            ("--ci-mapping", true),
            ("--account", true),
            ("--allow-incidents", false),
            ("--tickets", true),
            ("--ticket-template", true),
        ],
        "update" => &[
            ("--org", true),
            ("--company", true),
            ("--ci-mapping", true),
            ("--account", true),
            ("--no-account", false),
            ("--allow-incidents", true),
            ("--tickets", true),
            ("--ticket-template", true),
        ],
        "ticket-template" => &[
            ("--assignment-group", true),
            ("--caller", true),
            ("--category", true),
            ("--subcategory", true),
            ("--contact-type", true),
            ("--source-types", true),
            ("--min-severity", true),
            ("--default", false),
            ("--json", false),
        ],
        "pause" | "resume" | "delete" | "restore" => &[("--org", true)],
        "sync" => &[
            ("--dry-run", false),
            ("--approve-deletions", false),
            ("--json", false),
        ],
        "status" => &[("--json", false)],
        "incidents" => &[
            ("--dry-run", false),
            ("--approve-resolves", false),
            ("--json", false),
        ],
        "audit" => &[("--org", true), ("--json", false)],
        "serve" => &[("--listen", true), ("--every", true)],
        "webhook" => &[("--url", true), ("--json", false)],
        _ => &[],
    }
}

/// The options and positional arguments given to one command.
#[derive(Debug, Default)]
struct Given {
    command: String,
    values: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
    positionals: Vec<String>,
}

impl Given {
    fn value(&self, name: &str) -> Result<Option<&str>, UsageError> {
        let mut found = self.values.iter().filter(|(n, _)| *n == name);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(usage(format!(
                "{name} is given twice for `{}`; give it once",
                self.command
            )));
        }
        Ok(first)
    }

    fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    fn required(&self, name: &str) -> Result<&str, UsageError> {
        self.value(name)?.ok_or_else(|| {
            usage(format!(
                "`{}` needs {name}; see `orgsync {} --help`",
                self.command, self.command
            ))
        })
    }

    fn no_positionals(&self) -> Result<(), UsageError> {
        match self.positionals.first() {
            None => Ok(()),
            Some(extra) => Err(usage(format!(
                "unexpected argument {extra:?} for `{}`; see `orgsync {} --help`",
                self.command, self.command
            ))),
        }
    }
}

fn parse_id<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, UsageError>
where
    T::Err: fmt::Display,
{
    text.parse()
        .map_err(|e| usage(format!("{text:?} is not a valid {what}: {e}")))
}

fn org(given: &Given) -> Result<OrganizationId, UsageError> {
    parse_id(
        "organization id (a NinjaOne organization number)",
        given.required("--org")?,
    )
}

fn mappings(given: &Given) -> Result<Vec<CiMappingName>, UsageError> {
    given
        .values("--ci-mapping")
        .map(|v| parse_id("CI mapping name", v))
        .collect()
}

fn tickets(given: &Given) -> Result<Option<TicketKind>, UsageError> {
    given
        .value("--tickets")?
        .map(|v| parse_id("ticket kind (incidents or cases)", v))
        .transpose()
}

fn boolean(name: &str, text: &str) -> Result<bool, UsageError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        _ => Err(usage(format!("{name} takes true or false, not {text:?}"))),
    }
}

/// Parses the arguments after the program name.
///
/// # Errors
/// A [`UsageError`] saying what is wrong and what to do.
pub fn parse(args: &[String]) -> Result<Cli, UsageError> {
    let mut verbosity = Verbosity::Normal;
    let mut help = false;
    let mut version = false;
    let mut given = Given::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-v" | "--verbose" => verbosity = Verbosity::Verbose,
            "-q" | "--quiet" => verbosity = Verbosity::Quiet,
            "-h" | "--help" => help = true,
            "-V" | "--version" => version = true,
            "--" => given.positionals.extend(rest.by_ref().cloned()),
            option if option.starts_with("--") && !given.command.is_empty() => {
                let (name, inline) = match option.split_once('=') {
                    Some((name, value)) => (name, Some(value.to_owned())),
                    None => (option, None),
                };
                let Some(&(known, takes_value)) =
                    options_of(&given.command).iter().find(|(n, _)| *n == name)
                else {
                    return Err(usage(format!(
                        "unknown option {name} for `{}`; see `orgsync {} --help`",
                        given.command, given.command
                    )));
                };
                if takes_value {
                    let value = match inline {
                        Some(value) => value,
                        None => rest.next().cloned().ok_or_else(|| {
                            usage(format!(
                                "{known} needs a value; see `orgsync {} --help`",
                                given.command
                            ))
                        })?,
                    };
                    given.values.push((known, value));
                } else if inline.is_some() {
                    return Err(usage(format!("{known} takes no value")));
                } else {
                    given.flags.push(known);
                }
            }
            option if option.starts_with('-') && option.len() > 1 => {
                return Err(usage(format!(
                    "unknown option {option}; see `orgsync --help`"
                )));
            }
            word if given.command.is_empty() => word.clone_into(&mut given.command),
            word => given.positionals.push(word.to_owned()),
        }
    }
    let command = if version {
        Command::Version
    } else if help || given.command == "help" {
        let topic = if given.command == "help" {
            given.positionals.first().cloned()
        } else {
            Some(given.command.clone()).filter(|c| !c.is_empty())
        };
        Command::Help(topic)
    } else {
        command(&given)?
    };
    Ok(Cli { command, verbosity })
}

fn command(given: &Given) -> Result<Command, UsageError> {
    let c = given.command.as_str();
    Ok(match c {
        "" => {
            return Err(usage(
                "no command given; run `orgsync --help` for the list of commands",
            ));
        }
        "mode" => match given.positionals.as_slice() {
            [] => Command::Mode(None),
            [mode] => Command::Mode(Some(parse_id("mode", mode)?)),
            _ => return Err(usage("`mode` takes one of active, inactive, disabled")),
        },
        "ci-mapping" => ci_mapping(given)?,
        "ticket-template" => ticket_template(given)?,
        "add" => Command::Add(add_args(given)?),
        "update" => Command::Update(update_args(given)?),
        "pause" | "resume" | "delete" | "restore" => {
            given.no_positionals()?;
            let transition = match c {
                "pause" => Transition::Pause,
                "resume" => Transition::Resume,
                "delete" => Transition::Delete,
                _ => Transition::Restore,
            };
            Command::Transition(transition, org(given)?)
        }
        "sync" => {
            given.no_positionals()?;
            let (dry_run, approve_deletions) =
                (given.flag("--dry-run"), given.flag("--approve-deletions"));
            if dry_run && approve_deletions {
                return Err(usage(
                    "--approve-deletions applies the held changes; it cannot be a dry run",
                ));
            }
            Command::Sync {
                dry_run,
                approve_deletions,
                json: given.flag("--json"),
            }
        }
        "status" => {
            given.no_positionals()?;
            Command::Status {
                json: given.flag("--json"),
            }
        }
        "incidents" => {
            given.no_positionals()?;
            let (dry_run, approve_resolves) =
                (given.flag("--dry-run"), given.flag("--approve-resolves"));
            if dry_run && approve_resolves {
                return Err(usage(
                    "--approve-resolves applies the held resolves; it cannot be a dry run",
                ));
            }
            Command::Incidents {
                dry_run,
                approve_resolves,
                json: given.flag("--json"),
            }
        }
        "audit" => {
            given.no_positionals()?;
            Command::Audit {
                org: given
                    .value("--org")?
                    .map(|v| parse_id("organization id", v))
                    .transpose()?,
                json: given.flag("--json"),
            }
        }
        "serve" => {
            given.no_positionals()?;
            let listen = given.required("--listen")?;
            let listen = listen.parse::<SocketAddr>().map_err(|_| {
                usage(format!(
                    "--listen {listen:?} is not an address; give IP:PORT, such as \
                     127.0.0.1:8080 or [::1]:8080 (0.0.0.0:8080 for every interface)"
                ))
            })?;
            let every = given
                .value("--every")?
                .map(|v| parse_duration("--every", v))
                .transpose()?
                .unwrap_or(DEFAULT_EVERY);
            Command::Serve { listen, every }
        }
        "webhook" => webhook(given)?,
        other => {
            return Err(usage(format!(
                "unknown command {other:?}; the commands are {}",
                COMMANDS.join(", ")
            )));
        }
    })
}

fn add_args(given: &Given) -> Result<AddArgs, UsageError> {
    given.no_positionals()?;
    Ok(AddArgs {
        org: org(given)?,
        company: parse_id("company sys_id", given.required("--company")?)?,
        ci_mappings: mappings(given)?,
        account: given
            .value("--account")?
            .map(|v| parse_id("customer account sys_id", v))
            .transpose()?,
        allow_incidents: given.flag("--allow-incidents"),
        tickets: tickets(given)?,
        ticket_template: template_name(given)?,
    })
}

fn webhook(given: &Given) -> Result<Command, UsageError> {
    let see = "see `orgsync webhook --help`";
    let json = given.flag("--json");
    match given.positionals.as_slice() {
        [action] if action == "register" => Ok(Command::WebhookRegister {
            url: given.required("--url")?.to_owned(),
            json,
        }),
        [action] if action == "delete" => {
            if given.value("--url")?.is_some() {
                return Err(usage(format!("--url is for `webhook register`; {see}")));
            }
            Ok(Command::WebhookDelete { json })
        }
        _ => Err(usage(format!(
            "`webhook` takes register --url URL, or delete; {see}"
        ))),
    }
}

fn template_name(given: &Given) -> Result<Option<TicketTemplateName>, UsageError> {
    given
        .value("--ticket-template")?
        .map(|v| parse_id("ticket template name", v))
        .transpose()
}

/// The options only `ticket-template set` takes.
const TEMPLATE_SET_OPTIONS: [&str; 8] = [
    "--assignment-group",
    "--caller",
    "--category",
    "--subcategory",
    "--contact-type",
    "--source-types",
    "--min-severity",
    "--default",
];

fn ticket_template(given: &Given) -> Result<Command, UsageError> {
    let see = "see `orgsync ticket-template --help`";
    let set_option = TEMPLATE_SET_OPTIONS
        .iter()
        .find(|o| given.flag(o) || given.values.iter().any(|(name, _)| name == *o));
    let action = given.positionals.first().map(String::as_str);
    if let (Some(option), Some("list" | "delete")) = (set_option, action) {
        return Err(usage(format!(
            "{option} is for `ticket-template set`; {see}"
        )));
    }
    if given.flag("--json") && action != Some("list") {
        return Err(usage(format!(
            "--json is for `ticket-template list`; {see}"
        )));
    }
    match given.positionals.as_slice() {
        [action, name] if action == "set" => {
            let text = |option: &str| {
                given
                    .value(option)?
                    .map(|v| parse_id(&format!("value for {option}"), v))
                    .transpose()
            };
            let sys_id = |option: &str, what: &str| {
                given.value(option)?.map(|v| parse_id(what, v)).transpose()
            };
            let source_types = match given.value("--source-types")? {
                None => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| parse_id("NinjaOne source type", t))
                    .collect::<Result<_, _>>()?,
            };
            Ok(Command::TicketTemplateSet(TemplateArgs {
                name: parse_id("ticket template name", name)?,
                assignment_group: sys_id(
                    "--assignment-group",
                    "assignment group sys_id (sys_user_group)",
                )?,
                caller: sys_id("--caller", "caller sys_id (sys_user)")?,
                category: text("--category")?,
                subcategory: text("--subcategory")?,
                contact_type: text("--contact-type")?,
                source_types,
                min_severity: given
                    .value("--min-severity")?
                    .map(|v| parse_id("minimum severity", v))
                    .transpose()?,
                default: given.flag("--default"),
            }))
        }
        [action] if action == "list" => Ok(Command::TicketTemplateList {
            json: given.flag("--json"),
        }),
        [action, name] if action == "delete" => Ok(Command::TicketTemplateDelete(parse_id(
            "ticket template name",
            name,
        )?)),
        _ => Err(usage(format!(
            "`ticket-template` takes set NAME [options], list [--json], or delete NAME; {see}"
        ))),
    }
}

fn update_args(given: &Given) -> Result<UpdateArgs, UsageError> {
    given.no_positionals()?;
    let account = match (given.value("--account")?, given.flag("--no-account")) {
        (Some(_), true) => {
            return Err(usage("give --account or --no-account, not both"));
        }
        (Some(v), false) => AccountChange::Set(parse_id("customer account sys_id", v)?),
        (None, true) => AccountChange::Remove,
        (None, false) => AccountChange::Keep,
    };
    let ci_mappings = mappings(given)?;
    Ok(UpdateArgs {
        org: org(given)?,
        company: given
            .value("--company")?
            .map(|v| parse_id("company sys_id", v))
            .transpose()?,
        ci_mappings: (!ci_mappings.is_empty()).then_some(ci_mappings),
        account,
        allow_incidents: given
            .value("--allow-incidents")?
            .map(|v| boolean("--allow-incidents", v))
            .transpose()?,
        tickets: tickets(given)?,
        ticket_template: template_name(given)?,
    })
}

fn ci_mapping(given: &Given) -> Result<Command, UsageError> {
    let see = "see `orgsync ci-mapping --help`";
    match given.positionals.as_slice() {
        [action, name, rules @ ..] if action == "set" => {
            if rules.is_empty() {
                return Err(usage(format!(
                    "`ci-mapping set` needs at least one ROLE_ID=CI_CLASS rule; {see}"
                )));
            }
            let rules = rules
                .iter()
                .map(|rule| {
                    let (role, class) = rule
                        .split_once('=')
                        .ok_or_else(|| usage(format!("{rule:?} is not ROLE_ID=CI_CLASS; {see}")))?;
                    Ok((
                        parse_id("device role id", role)?,
                        parse_id("CMDB class", class)?,
                    ))
                })
                .collect::<Result<_, UsageError>>()?;
            Ok(Command::CiMappingSet {
                name: parse_id("CI mapping name", name)?,
                rules,
            })
        }
        [action] if action == "list" => Ok(Command::CiMappingList),
        [action, name] if action == "delete" => {
            Ok(Command::CiMappingDelete(parse_id("CI mapping name", name)?))
        }
        _ => Err(usage(format!(
            "`ci-mapping` takes set NAME ROLE_ID=CI_CLASS..., list, or delete NAME; {see}"
        ))),
    }
}

/// The help text: the whole program's, or one command's.
pub fn help(topic: Option<&str>) -> Result<String, UsageError> {
    let text = match topic {
        None => GENERAL_HELP,
        Some("mode") => {
            "orgsync mode [active|inactive|disabled]\n\n\
             Sets the integration mode (without an argument, shows it).\n  \
             active    every NinjaOne organization is synced automatically; manual add is refused\n  \
             inactive  only the organizations added by hand are synced\n  \
             disabled  nothing is synced\n"
        }
        Some("ci-mapping") => {
            "orgsync ci-mapping set NAME ROLE_ID=CI_CLASS...\n\
             orgsync ci-mapping list\n\
             orgsync ci-mapping delete NAME\n\n\
             Named configuration-item mappings: which CMDB class each NinjaOne device role becomes.\n\
             Example: orgsync ci-mapping set servers 9=cmdb_ci_win_server 12=cmdb_ci_linux_server\n"
        }
        Some("ticket-template") => {
            "orgsync ticket-template set NAME [--assignment-group SYS_ID] [--caller SYS_ID]\n\
             \x20          [--category TEXT] [--subcategory TEXT] [--contact-type TEXT]\n\
             \x20          [--source-types T1,T2,...] [--min-severity minor|moderate|major|critical]\n\
             \x20          [--default]\n\
             orgsync ticket-template list [--json]\n\
             orgsync ticket-template delete NAME\n\n\
             Named ticket templates: what an alert's incident (or case) carries and which alerts make\n\
             one. `set` creates or replaces the template; the group (sys_user_group) and caller\n\
             (sys_user) are checked in ServiceNow first. --source-types lists the NinjaOne source types\n\
             that make tickets (none: all); --min-severity drops alerts below it (alerts without a\n\
             severity pass). --default makes it the template of configurations that name none.\n\
             Cases take the group, category, subcategory and contact type, not the caller.\n\
             A template a configuration names cannot be deleted (exit 3).\n\
             Example: orgsync ticket-template set servers --assignment-group 0c43f35d4f5a1200c0a8016a9310c7d5\n\
             \x20          --category hardware --contact-type monitoring --source-types CONDITION_DISK --default\n"
        }
        Some("add") => {
            "orgsync add --org ID --company SYS_ID [--ci-mapping NAME]... [--account SYS_ID]\n\
             \x20          [--allow-incidents] [--tickets incidents|cases] [--ticket-template NAME]\n\n\
             Adds an organization by hand (inactive mode only). Everything is checked first: the\n\
             organization in NinjaOne, the company (and account) in ServiceNow, the CI mappings.\n"
        }
        Some("update") => {
            "orgsync update --org ID [--company SYS_ID] [--ci-mapping NAME]...\n\
             \x20             [--account SYS_ID | --no-account] [--allow-incidents true|false]\n\
             \x20             [--tickets incidents|cases] [--ticket-template NAME]\n\n\
             Changes a configuration. An active, pending or queued one goes back to pending; an\n\
             inactive one stays inactive until resumed; a deleted one must be restored first.\n\
             --ci-mapping replaces the configuration's CI mappings.\n"
        }
        Some("pause" | "resume" | "delete" | "restore") => {
            "orgsync pause --org ID     deactivate a configuration\n\
             orgsync resume --org ID    reactivate it (it goes back to pending)\n\
             orgsync delete --org ID    tombstone it (nothing is deleted in ServiceNow)\n\
             orgsync restore --org ID   bring a deleted one back as pending\n"
        }
        Some("sync") => {
            "orgsync sync [--dry-run] [--approve-deletions] [--json]\n\n\
             Runs one reconcile pass. --dry-run plans and writes nothing; --approve-deletions\n\
             applies the changes the deletion guard held; --json prints the report as JSON.\n\
             Unchanged organizations are counted, not listed; `orgsync -v sync` lists them.\n\
             Exit 4 when some organizations failed, were deferred or are held for approval.\n"
        }
        Some("status") => {
            "orgsync status [--json]\n\n\
             Lists every configuration with its status and the reason for it.\n"
        }
        Some("incidents") => {
            "orgsync incidents [--dry-run] [--approve-resolves] [--json]\n\n\
             Runs one incident pass: creates incidents for new alerts, adds a work note when an\n\
             open alert re-triggers, resolves cleared ones. When one pass would resolve more\n\
             than max(10, 10%) of the open tickets, it resolves none and exits 4;\n\
             --approve-resolves runs a pass that applies them (audited). Unchanged tickets\n\
             are counted, not listed; `orgsync -v incidents` lists them.\n"
        }
        Some("audit") => {
            "orgsync audit [--org ID] [--json]\n\n\
             Prints the audit log (every change and every refusal), oldest first.\n"
        }
        Some("serve") => SERVE_HELP,
        Some("webhook") => WEBHOOK_HELP,
        Some(other) => {
            return Err(usage(format!(
                "no help for {other:?}; the commands are {}",
                COMMANDS.join(", ")
            )));
        }
    };
    Ok(text.to_owned())
}

const SERVE_HELP: &str = "orgsync serve --listen ADDR [--every DURATION]\n\n\
             Serves NinjaOne's webhook and runs a sync pass and an incident pass every DURATION\n\
             (30s, 5m, 1h; default 5m), sooner when a pass asks for a retry; passes never overlap,\n\
             and deliveries are handled while one runs. ADDR is IP:PORT (127.0.0.1:8080); put a\n\
             reverse proxy with TLS in front of it. Needs ORGSYNC_WEBHOOK_SECRET.\n\
             \x20 POST /ninjaone/webhook  a NinjaOne activity (401/403 without the secret header,\n\
             \x20                         400 unreadable, 413 too large, 503 retry later)\n\
             \x20 GET  /healthz           200 while serving\n\
             \x20 GET  /metrics           Prometheus text: deliveries, passes, tickets, failures\n\
             SIGTERM or SIGINT: stops accepting, finishes the delivery and the pass in hand, exit 0.\n";

const WEBHOOK_HELP: &str = "orgsync webhook register --url URL [--json]\n\
             orgsync webhook delete [--json]\n\n\
             Configures NinjaOne to post condition activities (TRIGGERED, RESET, with the device\n\
             and organization) to URL, with ORGSYNC_WEBHOOK_SECRET in the header\n\
             x-orgsync-webhook-secret; `delete` removes the registration. URL is the public https\n\
             address of `orgsync serve` (…/ninjaone/webhook). The API application needs the\n\
             management scope (asked for by these commands only). The state file is not opened,\n\
             so this runs while `serve` holds it.\n";

const GENERAL_HELP: &str = "\
orgsync: keeps NinjaOne organizations mapped to ServiceNow companies.

Usage: orgsync [-v|-q] <command> [options]

Commands:
  mode active|inactive|disabled            set the integration mode
  ci-mapping set NAME ROLE_ID=CI_CLASS...  create or replace a CI mapping
  ci-mapping list | delete NAME            list or delete CI mappings
  ticket-template set NAME [options]       create or replace a ticket template
  ticket-template list [--json] | delete NAME   list or delete ticket templates
  add --org ID --company SYS_ID ...        add an organization by hand (inactive mode)
  update --org ID ...                      change a configuration
  pause|resume|delete|restore --org ID     change a configuration's status
  sync [--dry-run] [--approve-deletions] [--json]   one reconcile pass
  status [--json]                          configurations and statuses
  incidents [--dry-run] [--approve-resolves] [--json]   one incident pass
  audit [--org ID] [--json]                the audit log
  serve --listen ADDR [--every DURATION]   webhook receiver, metrics and periodic passes
  webhook register --url URL | delete      configure NinjaOne's webhook

Options: -v more output, -q errors only, -h/--help (also `orgsync COMMAND --help`), -V/--version.

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
organizations failed or are held for approval.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_take_values_either_way_and_globals_go_anywhere() {
        let cli = parse(&args("add --org=2 -q --company 0123456789abcdef0123456789abcdef --ci-mapping a --ci-mapping b --allow-incidents")).unwrap();
        assert_eq!(cli.verbosity, Verbosity::Quiet);
        let Command::Add(add) = cli.command else {
            panic!("not add: {cli:?}")
        };
        assert_eq!(add.org.get(), 2);
        assert_eq!(add.ci_mappings.len(), 2);
        assert!(add.allow_incidents);
        assert_eq!(add.tickets, None);
    }

    #[test]
    fn mistakes_are_usage_errors_that_say_what_to_do() {
        for (line, needle) in [
            ("", "no command"),
            ("frobnicate", "unknown command"),
            ("add --org 2", "needs --company"),
            (
                "add --org two --company 0123456789abcdef0123456789abcdef",
                "not a valid organization id",
            ),
            ("sync --dry-run --approve-deletions", "cannot be a dry run"),
            ("sync --force", "unknown option --force"),
            (
                "update --org 2 --account 0123456789abcdef0123456789abcdef --no-account",
                "not both",
            ),
            ("update --org 2 --allow-incidents maybe", "true or false"),
            ("ci-mapping set servers", "at least one"),
            (
                "ci-mapping set servers 9:cmdb_ci_server",
                "ROLE_ID=CI_CLASS",
            ),
            ("ci-mapping set servers 9=Not-A-Class", "CMDB class"),
            ("status extra", "unexpected argument"),
            ("mode sometimes", "mode"),
            ("audit --org 1 --org 2", "twice"),
            ("serve", "needs --listen"),
            ("serve --listen localhost", "IP:PORT"),
            ("serve --listen 127.0.0.1:8080 --every 5", "30s, 5m or 1h"),
            ("serve --listen 127.0.0.1:8080 --every 5d", "30s, 5m or 1h"),
            ("serve --listen 127.0.0.1:8080 --every 0s", "out of range"),
            (
                "serve --listen 127.0.0.1:8080 --every 99999999999999999999h",
                "not a duration",
            ),
            ("webhook register", "needs --url"),
            (
                "webhook delete --url https://x.example.com",
                "for `webhook register`",
            ),
            ("webhook", "register --url URL"),
        ] {
            let err = parse(&args(line)).unwrap_err();
            assert!(err.0.contains(needle), "{line:?}: {err}");
        }
    }

    #[test]
    fn serve_and_webhook_read_their_options_and_durations_in_three_units() {
        assert_eq!(
            parse(&args("serve --listen 127.0.0.1:0")).unwrap().command,
            Command::Serve {
                listen: "127.0.0.1:0".parse().unwrap(),
                every: DEFAULT_EVERY
            }
        );
        assert_eq!(
            parse(&args("serve --listen [::1]:9000 --every=90s"))
                .unwrap()
                .command,
            Command::Serve {
                listen: "[::1]:9000".parse().unwrap(),
                every: Duration::from_secs(90)
            }
        );
        for (text, secs) in [("30s", 30), ("5m", 300), ("1h", 3600), ("24h", 86_400)] {
            assert_eq!(
                parse_duration("--every", text).unwrap(),
                Duration::from_secs(secs)
            );
        }
        assert_eq!(
            parse(&args(
                "webhook register --url https://h.example.com/ninjaone/webhook --json"
            ))
            .unwrap()
            .command,
            Command::WebhookRegister {
                url: "https://h.example.com/ninjaone/webhook".to_owned(),
                json: true
            }
        );
        assert_eq!(
            parse(&args("webhook delete")).unwrap().command,
            Command::WebhookDelete { json: false }
        );
    }

    #[test]
    fn help_and_version_win_over_everything_else() {
        assert_eq!(
            parse(&args("--version sync")).unwrap().command,
            Command::Version
        );
        assert_eq!(
            parse(&args("sync --help")).unwrap().command,
            Command::Help(Some("sync".to_owned()))
        );
        assert_eq!(
            parse(&args("help audit")).unwrap().command,
            Command::Help(Some("audit".to_owned()))
        );
        for command in COMMANDS {
            assert!(help(Some(command)).is_ok(), "{command}");
            assert!(help(None).unwrap().contains(command), "{command}");
        }
    }
}
