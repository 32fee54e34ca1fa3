//! The configuration commands: mode, CI mappings, add, update, status changes, status, audit.

use ninjaone_servicenow::engine::{ConfigChanges, ConfigDraft, SyncError};
use ninjaone_servicenow::model::{AuditFilter, CiMapping, TicketKind};

use super::args::{AccountChange, AddArgs, Command, Transition, UpdateArgs};
use super::output::{AuditJson, ConfigRow, or_dash, table};
use super::{Ctx, Exit, Failed, Io, Verbosity, json_line, output, sync_failure};

impl Ctx {
    pub(super) fn say(&self, io: &mut Io<'_>, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(io.out, "{text}");
        }
    }

    pub(super) fn note(&self, io: &mut Io<'_>, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            let _ = writeln!(io.err, "{text}");
        }
    }

    pub(super) async fn command(&self, command: &Command, io: &mut Io<'_>) -> Result<Exit, Failed> {
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
            | Command::Completions(_)
            | Command::Serve { .. }
            | Command::WebhookRegister { .. }
            | Command::WebhookDelete { .. } => Ok(Exit::Done),
        }
    }

    pub(super) async fn audit(
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

    pub(super) async fn ci_mapping_list(&self, io: &mut Io<'_>) -> Result<Exit, Failed> {
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

    pub(super) async fn mode(
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

    pub(super) async fn add(&self, add: &AddArgs, io: &mut Io<'_>) -> Result<Exit, Failed> {
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

    pub(super) async fn update(
        &self,
        update: &UpdateArgs,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
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

    pub(super) async fn status(&self, json: bool, io: &mut Io<'_>) -> Result<Exit, Failed> {
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
