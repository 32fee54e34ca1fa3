//! clap's refusals of a command line, worded as `orgsync` has always worded them.
//!
//! Scripts read exit code 2 and the one line `orgsync: …` on standard error; clap's own layout
//! (an `error:` line, the usage, a tip) would change that line. The context clap attaches
//! (`error-context`: the argument, the value) is enough to say the same thing as before.

use clap::error::{ContextKind, ContextValue, Error, ErrorKind};

use super::{COMMANDS, UsageError, usage};

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

/// The commands with actions, and what to say when the action is missing or unknown.
fn takes(command: &str) -> Option<&'static str> {
    match command {
        "ci-mapping" => Some("set NAME ROLE_ID=CI_CLASS..., list, or delete NAME"),
        "ticket-template" => Some("set NAME [options], list [--json], or delete NAME"),
        "webhook" => Some("register --url URL, or delete"),
        _ => None,
    }
}

/// Where on the line clap stopped: the command and, for commands with actions, the action.
struct Place<'a> {
    /// The command word and its position.
    command: Option<(usize, &'a str)>,
    action: Option<&'a str>,
}

impl<'a> Place<'a> {
    fn of(args: &'a [String]) -> Self {
        let mut words = args
            .iter()
            .enumerate()
            .take_while(|(_, a)| *a != "--")
            .filter(|(_, a)| !a.starts_with('-'));
        let command = words.next().map(|(i, a)| (i, a.as_str()));
        let action = command
            .filter(|(_, c)| takes(c).is_some())
            .and_then(|_| words.next().map(|(_, a)| a.as_str()));
        Self { command, action }
    }

    fn name(&self) -> &'a str {
        self.command.map_or("", |(_, c)| c)
    }

    /// "unexpected …" for a command with actions: what it takes.
    fn takes(&self) -> Option<UsageError> {
        let command = self.name();
        takes(command).map(|forms| {
            usage(format!(
                "`{command}` takes {forms}; see `orgsync {command} --help`"
            ))
        })
    }
}

/// The bare option name of clap's `--org <ID>`.
fn option_name(shown: &str) -> &str {
    shown.split([' ', '=']).next().unwrap_or(shown)
}

fn context(err: &Error, kind: ContextKind) -> Option<&str> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s),
        ContextValue::Strings(list) => list.first().map(String::as_str),
        _ => None,
    }
}

/// The words of a refused command line.
pub(super) fn reword(err: &Error, args: &[String]) -> UsageError {
    let place = Place::of(args);
    let command = place.name();
    // A value a value parser refused: its own message.
    if err.kind() == ErrorKind::ValueValidation
        && let Some(source) = std::error::Error::source(err)
    {
        return usage(source.to_string());
    }
    let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
    match err.kind() {
        ErrorKind::InvalidSubcommand if command == "help" => {
            let topic = context(err, ContextKind::InvalidSubcommand).unwrap_or_default();
            // Said as the help command's own failure, as before.
            usage(format!(
                "error: no help for {topic:?}; the commands are {}",
                COMMANDS.join(", ")
            ))
        }
        // No action or an unknown one.
        ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument
            if place.action.is_none() && takes(command).is_some() =>
        {
            place.takes().unwrap_or_else(|| usage(first_line(err)))
        }
        ErrorKind::InvalidSubcommand if takes(command).is_some() => {
            place.takes().unwrap_or_else(|| usage(first_line(err)))
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(err, ContextKind::InvalidSubcommand).unwrap_or(command);
            usage(format!(
                "unknown command {word:?}; the commands are {}",
                COMMANDS.join(", ")
            ))
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            place.takes().unwrap_or_else(|| {
                usage("no command given; run `orgsync --help` for the list of commands")
            })
        }
        ErrorKind::UnknownArgument => unknown(arg, args, &place),
        ErrorKind::MissingRequiredArgument => {
            let name = option_name(arg);
            if name.starts_with("--") {
                usage(format!(
                    "`{command}` needs {name}; see `orgsync {command} --help`"
                ))
            } else if command == "ci-mapping" && arg.starts_with("<ROLE_ID=CI_CLASS>") {
                usage(
                    "`ci-mapping set` needs at least one ROLE_ID=CI_CLASS rule; see \
                     `orgsync ci-mapping --help`",
                )
            } else {
                place.takes().unwrap_or_else(|| usage(first_line(err)))
            }
        }
        ErrorKind::InvalidValue | ErrorKind::WrongNumberOfValues => usage(format!(
            "{} needs a value; see `orgsync {command} --help`",
            option_name(arg)
        )),
        ErrorKind::TooManyValues | ErrorKind::NoEquals => {
            usage(format!("{} takes no value", option_name(arg)))
        }
        ErrorKind::ArgumentConflict
            if context(err, ContextKind::PriorArg).map(option_name) == Some(option_name(arg)) =>
        {
            usage(format!(
                "{} is given twice for `{command}`; give it once",
                option_name(arg)
            ))
        }
        _ => usage(first_line(err)),
    }
}

/// An argument clap does not know: an option of another action, an unknown option, or a word
/// where none is taken.
fn unknown(arg: &str, args: &[String], place: &Place<'_>) -> UsageError {
    let command = place.name();
    let name = option_name(arg);
    let action = place.action.unwrap_or_default();
    if command == "ticket-template" {
        if TEMPLATE_SET_OPTIONS.contains(&name) && matches!(action, "list" | "delete") {
            return usage(format!(
                "{name} is for `ticket-template set`; see `orgsync ticket-template --help`"
            ));
        }
        if name == "--json" && action != "list" {
            return usage(
                "--json is for `ticket-template list`; see `orgsync ticket-template --help`",
            );
        }
    }
    if command == "webhook" && action == "delete" && name == "--url" {
        return usage("--url is for `webhook register`; see `orgsync webhook --help`");
    }
    if !arg.starts_with('-')
        || args
            .iter()
            .position(|a| a == "--")
            .is_some_and(|end| args.iter().skip(end).any(|a| a == arg))
    {
        // A word where the command takes none (or not this many).
        if command == "mode" {
            return usage("`mode` takes one of active, inactive, disabled");
        }
        if let Some(takes) = place.takes() {
            return takes;
        }
        return usage(format!(
            "unexpected argument {arg:?} for `{command}`; see `orgsync {command} --help`"
        ));
    }
    // `--option` after the command is the command's; anything else is the program's.
    let after_command = place
        .command
        .is_some_and(|(at, _)| args.iter().skip(at + 1).any(|a| option_name(a) == name));
    if name.starts_with("--") && after_command {
        usage(format!(
            "unknown option {name} for `{command}`; see `orgsync {command} --help`"
        ))
    } else {
        usage(format!("unknown option {name}; see `orgsync --help`"))
    }
}

/// clap's own words, for a refusal `orgsync` never had its own words for.
fn first_line(err: &Error) -> String {
    let text = err.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}
