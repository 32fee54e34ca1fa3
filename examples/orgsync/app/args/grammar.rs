//! The command line's grammar as clap derives it: commands, options, help, typed commands.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ninjaone_servicenow::model::{
    CiClass, CiMappingName, DeviceRoleId, IntegrationMode, MinSeverity, OrganizationId, SysId,
    TicketFieldValue, TicketKind, TicketTemplateName,
};

use super::values::{
    DEFAULT_EVERY, ORG, SourceTypes, TEMPLATE_NAME, TICKET_KIND, boolean, every, field, id, listen,
    rule, source_types,
};
use super::{
    AccountChange, Command, Shell, TemplateArgs, Transition, UpdateArgs, UsageError, usage,
};

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

/// The text after the generated help of `orgsync --help`.
pub(super) const AFTER_HELP: &str = "\
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
pub(super) struct Line {
    /// More output: unchanged organizations and tickets, hints.
    #[arg(short, long, global = true, help_heading = "Global options", overrides_with_all = ["verbose", "quiet"])]
    pub(super) verbose: bool,
    /// Errors and requested JSON only.
    #[arg(short, long, global = true, help_heading = "Global options", overrides_with_all = ["verbose", "quiet"])]
    pub(super) quiet: bool,
    /// Print the version.
    #[arg(short = 'V', long, global = true, help_heading = "Global options")]
    pub(super) version: bool,
    #[command(subcommand)]
    pub(super) command: Option<Top>,
}

/// `--json`: the output as JSON (stable field names).
#[derive(Debug, Args)]
pub(super) struct Json {
    /// Print the result as JSON (stable field names).
    #[arg(long, overrides_with = "json")]
    json: bool,
}

/// `--org ID` of a status change.
#[derive(Debug, Args)]
pub(super) struct Org {
    /// The NinjaOne organization id.
    #[arg(long, value_name = "ID", allow_hyphen_values = true, value_parser = id::<OrganizationId>(ORG))]
    org: OrganizationId,
}

#[derive(Debug, Subcommand)]
pub(super) enum Top {
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
pub(super) enum CiMappingAction {
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
pub(super) enum TemplateAction {
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
pub(super) struct TemplateOpts {
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
pub(super) struct UpdateOpts {
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
pub(super) enum WebhookAction {
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

impl Top {
    /// The typed command, after the checks that involve two options.
    pub(super) fn into_command(self) -> Result<Command, UsageError> {
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
