//! Parsing: values either way, globals anywhere, mistakes worded as before, generated help.

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

/// clap's refusals, reworded: the exact line each printed before clap (recorded from the
/// hand-written parser), without the `orgsync: ` prefix `run` adds.
const REFUSALS: &[(&str, &str)] = &[
    (
        "",
        "no command given; run `orgsync --help` for the list of commands",
    ),
    (
        "-v",
        "no command given; run `orgsync --help` for the list of commands",
    ),
    ("-x", "unknown option -x; see `orgsync --help`"),
    ("--json sync", "unknown option --json; see `orgsync --help`"),
    (
        "frobnicate",
        "unknown command \"frobnicate\"; the commands are mode, ci-mapping, ticket-template, add, update, pause, resume, delete, restore, sync, status, incidents, audit, serve, webhook",
    ),
    (
        "sync --force",
        "unknown option --force for `sync`; see `orgsync sync --help`",
    ),
    (
        "sync --force=1",
        "unknown option --force for `sync`; see `orgsync sync --help`",
    ),
    ("sync --json=1", "--json takes no value"),
    (
        "sync --dry-run --approve-deletions",
        "--approve-deletions applies the held changes; it cannot be a dry run",
    ),
    (
        "incidents --dry-run --approve-resolves",
        "--approve-resolves applies the held resolves; it cannot be a dry run",
    ),
    (
        "status extra",
        "unexpected argument \"extra\" for `status`; see `orgsync status --help`",
    ),
    (
        "status -- extra",
        "unexpected argument \"extra\" for `status`; see `orgsync status --help`",
    ),
    ("mode a b", "`mode` takes one of active, inactive, disabled"),
    (
        "audit --org 1 --org 2",
        "--org is given twice for `audit`; give it once",
    ),
    (
        "add --org 2",
        "`add` needs --company; see `orgsync add --help`",
    ),
    (
        "add --company 0123456789abcdef0123456789abcdef",
        "`add` needs --org; see `orgsync add --help`",
    ),
    ("add --org", "--org needs a value; see `orgsync add --help`"),
    (
        "add --org 2 --company 0123456789abcdef0123456789abcdef extra",
        "unexpected argument \"extra\" for `add`; see `orgsync add --help`",
    ),
    (
        "update",
        "`update` needs --org; see `orgsync update --help`",
    ),
    (
        "update --org 2 --account 0123456789abcdef0123456789abcdef --no-account",
        "give --account or --no-account, not both",
    ),
    (
        "update --org 2 --allow-incidents maybe",
        "--allow-incidents takes true or false, not \"maybe\"",
    ),
    (
        "update --org 2 --no-account=1",
        "--no-account takes no value",
    ),
    ("pause", "`pause` needs --org; see `orgsync pause --help`"),
    (
        "pause --org 2 extra",
        "unexpected argument \"extra\" for `pause`; see `orgsync pause --help`",
    ),
    (
        "ci-mapping",
        "`ci-mapping` takes set NAME ROLE_ID=CI_CLASS..., list, or delete NAME; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping frob",
        "`ci-mapping` takes set NAME ROLE_ID=CI_CLASS..., list, or delete NAME; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping set",
        "`ci-mapping` takes set NAME ROLE_ID=CI_CLASS..., list, or delete NAME; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping set servers",
        "`ci-mapping set` needs at least one ROLE_ID=CI_CLASS rule; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping set servers 9:cmdb_ci_server",
        "\"9:cmdb_ci_server\" is not ROLE_ID=CI_CLASS; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping list extra",
        "`ci-mapping` takes set NAME ROLE_ID=CI_CLASS..., list, or delete NAME; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping delete",
        "`ci-mapping` takes set NAME ROLE_ID=CI_CLASS..., list, or delete NAME; see `orgsync ci-mapping --help`",
    ),
    (
        "ci-mapping --json list",
        "unknown option --json for `ci-mapping`; see `orgsync ci-mapping --help`",
    ),
    (
        "ticket-template",
        "`ticket-template` takes set NAME [options], list [--json], or delete NAME; see `orgsync ticket-template --help`",
    ),
    (
        "ticket-template rename a b",
        "`ticket-template` takes set NAME [options], list [--json], or delete NAME; see `orgsync ticket-template --help`",
    ),
    (
        "ticket-template list --default",
        "--default is for `ticket-template set`; see `orgsync ticket-template --help`",
    ),
    (
        "ticket-template delete servers --json",
        "--json is for `ticket-template list`; see `orgsync ticket-template --help`",
    ),
    (
        "ticket-template set",
        "`ticket-template` takes set NAME [options], list [--json], or delete NAME; see `orgsync ticket-template --help`",
    ),
    (
        "ticket-template set a b",
        "`ticket-template` takes set NAME [options], list [--json], or delete NAME; see `orgsync ticket-template --help`",
    ),
    (
        "ticket-template list extra",
        "`ticket-template` takes set NAME [options], list [--json], or delete NAME; see `orgsync ticket-template --help`",
    ),
    (
        "serve",
        "`serve` needs --listen; see `orgsync serve --help`",
    ),
    (
        "serve --listen localhost",
        "--listen \"localhost\" is not an address; give IP:PORT, such as 127.0.0.1:8080 or [::1]:8080 (0.0.0.0:8080 for every interface)",
    ),
    (
        "serve --listen 127.0.0.1:0 --every 5",
        "--every \"5\" is not a duration; give a whole number and a unit s, m or h, such as 30s, 5m or 1h",
    ),
    (
        "serve --listen 127.0.0.1:0 --every 5d",
        "--every \"5d\" is not a duration; give a whole number and a unit s, m or h, such as 30s, 5m or 1h",
    ),
    (
        "serve --listen 127.0.0.1:0 --every 0s",
        "--every \"0s\" is out of range: give 1s to 24h (give a whole number and a unit s, m or h, such as 30s, 5m or 1h)",
    ),
    (
        "serve --listen 127.0.0.1:0 --every 25h",
        "--every \"25h\" is out of range: give 1s to 24h (give a whole number and a unit s, m or h, such as 30s, 5m or 1h)",
    ),
    (
        "serve --listen 127.0.0.1:0 --every 99999999999999999999h",
        "--every \"99999999999999999999h\" is not a duration; give a whole number and a unit s, m or h, such as 30s, 5m or 1h",
    ),
    (
        "serve --listen 127.0.0.1:0 --every 30s --every 5m",
        "--every is given twice for `serve`; give it once",
    ),
    (
        "webhook",
        "`webhook` takes register --url URL, or delete; see `orgsync webhook --help`",
    ),
    (
        "webhook frob",
        "`webhook` takes register --url URL, or delete; see `orgsync webhook --help`",
    ),
    (
        "webhook register",
        "`webhook` needs --url; see `orgsync webhook --help`",
    ),
    (
        "webhook delete --url https://x.example.com",
        "--url is for `webhook register`; see `orgsync webhook --help`",
    ),
    (
        "webhook register --url https://x.example.com extra",
        "`webhook` takes register --url URL, or delete; see `orgsync webhook --help`",
    ),
    (
        "help nope",
        "error: no help for \"nope\"; the commands are mode, ci-mapping, ticket-template, add, \
         update, pause, resume, delete, restore, sync, status, incidents, audit, serve, webhook",
    ),
];

#[test]
fn refusals_keep_the_words_of_the_hand_written_parser() {
    for &(line, message) in REFUSALS {
        assert_eq!(parse(&args(line)).unwrap_err().0, message, "{line:?}");
    }
}

/// The contract's options, by command line: the generated help of each lists them all.
const OPTIONS: [(&str, &[&str]); 20] = [
    ("mode", &["MODE"]),
    ("ci-mapping set", &["NAME", "ROLE_ID=CI_CLASS"]),
    ("ci-mapping list", &[]),
    ("ci-mapping delete", &["NAME"]),
    (
        "ticket-template set",
        &[
            "NAME",
            "--assignment-group",
            "--caller",
            "--category",
            "--subcategory",
            "--contact-type",
            "--source-types",
            "--min-severity",
            "--default",
        ],
    ),
    ("ticket-template list", &["--json"]),
    ("ticket-template delete", &["NAME"]),
    (
        "add",
        &[
            "--org",
            "--company",
            "--ci-mapping",
            "--account",
            "--allow-incidents",
            "--tickets",
            "--ticket-template",
        ],
    ),
    (
        "update",
        &[
            "--org",
            "--company",
            "--ci-mapping",
            "--account",
            "--no-account",
            "--allow-incidents",
            "--tickets",
            "--ticket-template",
        ],
    ),
    ("pause", &["--org"]),
    ("resume", &["--org"]),
    ("delete", &["--org"]),
    ("restore", &["--org"]),
    ("sync", &["--dry-run", "--approve-deletions", "--json"]),
    ("status", &["--json"]),
    ("incidents", &["--dry-run", "--approve-resolves", "--json"]),
    ("audit", &["--org", "--json"]),
    ("serve", &["--listen", "--every", "default 5m"]),
    ("webhook register", &["--url", "--json"]),
    ("webhook delete", &["--json"]),
];

fn help_of(line: &str) -> String {
    match parse(&args(line)).unwrap().command {
        Command::Help(text) => text,
        other => panic!("{line}: not help: {other:?}"),
    }
}

#[test]
fn help_and_version_win_over_everything_else() {
    assert_eq!(
        parse(&args("--version sync")).unwrap().command,
        Command::Version
    );
    assert_eq!(
        parse(&args("add --org 2 --version")).unwrap().command,
        Command::Version
    );
    assert!(help_of("sync --help").contains("--approve-deletions"));
    assert!(help_of("help audit").contains("--org"));
    assert_eq!(help_of("-q sync -h"), help_of("sync -h"));
}

#[test]
fn the_generated_help_lists_every_command_and_every_option() {
    let general = help_of("--help");
    for command in COMMANDS.iter().chain(&["completions"]) {
        assert!(
            general.contains(&format!("  {command} ")),
            "{command}: {general}"
        );
    }
    for word in [
        "--verbose",
        "--quiet",
        "--help",
        "--version",
        "Environment:",
        "Exit codes:",
    ] {
        assert!(general.contains(word), "{word}: {general}");
    }
    for (line, options) in OPTIONS {
        let text = help_of(&format!("{line} --help"));
        assert!(text.contains(&format!("orgsync {line}")), "{line}: {text}");
        for option in options {
            assert!(text.contains(option), "{line} lists {option}: {text}");
        }
    }
    for (group, actions) in [
        ("ci-mapping", ["set", "list", "delete"]),
        ("ticket-template", ["set", "list", "delete"]),
    ] {
        let text = help_of(&format!("help {group}"));
        for action in actions {
            assert!(
                text.contains(&format!("  {action} ")),
                "{group} {action}: {text}"
            );
        }
    }
    assert!(help_of("webhook --help").contains("  register "));
    clap::Command::debug_assert(command());
}

#[test]
fn completions_name_a_shell() {
    assert_eq!(
        parse(&args("completions bash")).unwrap().command,
        Command::Completions(Shell::Bash)
    );
    let err = parse(&args("completions tcsh")).unwrap_err();
    assert!(err.0.contains("not a valid shell"), "{err}");
}

#[test]
fn options_of_ticket_template_and_webhook_may_come_before_the_action_as_they_always_could() {
    assert_eq!(
        parse(&args("ticket-template --json list")).unwrap().command,
        Command::TicketTemplateList { json: true }
    );
    assert_eq!(
        parse(&args(
            "-q webhook --url https://hooks.example.com/ninjaone/webhook --json register"
        ))
        .unwrap()
        .command,
        Command::WebhookRegister {
            url: "https://hooks.example.com/ninjaone/webhook".to_owned(),
            json: true,
        }
    );
    assert_eq!(
        parse(&args("webhook --json delete")).unwrap().command,
        Command::WebhookDelete { json: true }
    );
    let Command::TicketTemplateSet(set) = parse(&args(
        "ticket-template --category hardware --default set servers",
    ))
    .unwrap()
    .command
    else {
        panic!("not ticket-template set")
    };
    assert_eq!(set.name.as_str(), "servers");
    assert_eq!(
        set.category.as_ref().map(TicketFieldValue::as_str),
        Some("hardware")
    );
    assert!(set.default);
    // A value that names an action is still a value.
    let Command::TicketTemplateSet(set) =
        parse(&args("ticket-template set servers --category list"))
            .unwrap()
            .command
    else {
        panic!("not ticket-template set")
    };
    assert_eq!(
        set.category.as_ref().map(TicketFieldValue::as_str),
        Some("list")
    );
}
