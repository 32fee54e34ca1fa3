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
