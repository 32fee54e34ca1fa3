//! Command-line parsing: the `orgsync` contract as a clap derive, read into a typed [`Command`].
//!
//! clap reads the grammar and generates `--help`; the values are read by this module's value
//! parsers, whose refusals are today's messages, and [`errors`] words clap's own refusals as
//! `orgsync` always has ("unknown option --force for `sync`; see `orgsync sync --help`"), so a
//! script reading standard error sees no difference. Global flags (`-v`, `-q`, `-h`/`--help`,
//! `-V`/`--version`) may come anywhere; options take their value as the next argument or after
//! `=`, even a value that starts with `-`.

mod errors;
mod grammar;
#[cfg(test)]
mod tests;
mod values;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use ninjaone_servicenow::model::{
    CiClass, CiMappingName, DeviceRoleId, IntegrationMode, MinSeverity, OrganizationId, SourceType,
    SysId, TicketFieldValue, TicketKind, TicketTemplateName,
};

pub use clap_complete::Shell;
pub use grammar::AddArgs;
use grammar::Line;
#[cfg(test)]
use values::{DEFAULT_EVERY, parse_duration};

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
    let args = &action_first(args);
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

/// The options of `ticket-template` and `webhook` that take a value, by command.
const VALUE_OPTIONS: [(&str, &[&str]); 2] = [
    (
        "ticket-template",
        &[
            "--assignment-group",
            "--caller",
            "--category",
            "--subcategory",
            "--contact-type",
            "--source-types",
            "--min-severity",
        ],
    ),
    ("webhook", &["--url"]),
];

/// The line with the action of `ticket-template` or `webhook` moved right after the command
/// word, so that options may come before the action as they always could
/// (`ticket-template --json list`, `webhook --url URL register`); clap reads a subcommand's
/// options only after it. Every other line is returned as it is.
fn action_first(args: &[String]) -> Vec<String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let Some(at) = args[..end].iter().position(|a| !a.starts_with('-')) else {
        return args.to_vec();
    };
    let Some((_, takes_value)) = VALUE_OPTIONS.iter().find(|(name, _)| *name == args[at]) else {
        return args.to_vec();
    };
    let mut i = at + 1;
    while i < end {
        let arg = &args[i];
        if !arg.starts_with('-') {
            break;
        }
        i += if takes_value.contains(&arg.as_str()) {
            2
        } else {
            1
        };
    }
    if i <= at + 1 || i >= end {
        return args.to_vec();
    }
    let mut line = args.to_vec();
    let action = line.remove(i);
    line.insert(at + 1, action);
    line
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
