//! `orgsync ticket-template ...`: ticket templates, their JSON shape and their table.
//!
//! # JSON field names (stable)
//! `ticket-template list --json`: an array of objects with exactly the fields of
//! [`TemplateJson`], ordered by name.

use ninjaone_servicenow::model::{SyncStatus, TicketTemplate};
use serde::Serialize;

use super::args::TemplateArgs;
use super::output::{or_dash, table};
use super::{Ctx, Exit, Failed, Io, json_line, sync_failure};

/// One ticket template, as `ticket-template list --json` prints it.
#[derive(Debug, Serialize)]
pub struct TemplateJson {
    pub name: String,
    /// Whether configurations that name no template use this one.
    pub default: bool,
    /// The `sys_user_group` sys_id tickets are assigned to.
    pub assignment_group_sys_id: Option<String>,
    /// The `sys_user` sys_id incidents get as caller (cases take none).
    pub caller_sys_id: Option<String>,
    pub category: Option<String>,
    pub subcategory: Option<String>,
    pub contact_type: Option<String>,
    /// The NinjaOne source types that make tickets; empty: all.
    pub source_types: Vec<String>,
    /// "MINOR", "MODERATE", "MAJOR" or "CRITICAL"; null: every severity.
    pub min_severity: Option<String>,
    /// The organizations whose (not deleted) configurations name it.
    pub used_by: Vec<u32>,
}

impl TemplateJson {
    fn new(template: &TicketTemplate, used_by: Vec<u32>) -> Self {
        let text = |v: Option<&ninjaone_servicenow::model::TicketFieldValue>| {
            v.map(|v| v.as_str().to_owned())
        };
        Self {
            name: template.name().to_string(),
            default: template.is_default(),
            assignment_group_sys_id: template.assignment_group().map(ToString::to_string),
            caller_sys_id: template.caller().map(ToString::to_string),
            category: text(template.category()),
            subcategory: text(template.subcategory()),
            contact_type: text(template.contact_type()),
            source_types: template
                .source_types()
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            min_severity: template.min_severity().map(|m| m.as_str().to_owned()),
            used_by,
        }
    }
}

impl Ctx {
    /// `ticket-template set`: creates or replaces the template, checked in ServiceNow first.
    pub(super) async fn template_set(
        &self,
        args: &TemplateArgs,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let mut template = TicketTemplate::new(args.name.clone());
        template.set_assignment_group(args.assignment_group.clone());
        template.set_caller(args.caller.clone());
        template.set_category(args.category.clone());
        template.set_subcategory(args.subcategory.clone());
        template.set_contact_type(args.contact_type.clone());
        template.set_source_types(args.source_types.iter().cloned());
        template.set_min_severity(args.min_severity);
        template.set_default(args.default);
        self.sync
            .put_ticket_template(&self.actor, template)
            .await
            .map_err(|e| sync_failure(&e))?;
        self.say(
            io,
            &format!(
                "Ticket template {:?} saved{}.",
                args.name.as_str(),
                if args.default { " as the default" } else { "" }
            ),
        );
        Ok(Exit::Done)
    }

    /// `ticket-template list`.
    pub(super) async fn template_list(&self, json: bool, io: &mut Io<'_>) -> Result<Exit, Failed> {
        let templates = self
            .sync
            .ticket_templates(&self.actor)
            .await
            .map_err(|e| sync_failure(&e))?;
        let configs = self
            .sync
            .list(&self.actor)
            .await
            .map_err(|e| sync_failure(&e))?;
        let rows: Vec<TemplateJson> = templates
            .iter()
            .map(|t| {
                let used_by = configs
                    .iter()
                    .filter(|c| {
                        c.status() != SyncStatus::Deleted && c.ticket_template() == Some(t.name())
                    })
                    .map(|c| c.organization().get())
                    .collect();
                TemplateJson::new(t, used_by)
            })
            .collect();
        if json {
            json_line(io, &rows)?;
            return Ok(Exit::Done);
        }
        if rows.is_empty() {
            self.say(
                io,
                "No ticket templates. Add one with `orgsync ticket-template set NAME ...`.",
            );
            return Ok(Exit::Done);
        }
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let used: Vec<String> = r.used_by.iter().map(ToString::to_string).collect();
                vec![
                    r.name.clone(),
                    if r.default { "yes" } else { "no" }.to_owned(),
                    or_dash(r.assignment_group_sys_id.as_deref()),
                    or_dash(r.caller_sys_id.as_deref()),
                    or_dash(r.category.as_deref()),
                    or_dash(r.subcategory.as_deref()),
                    or_dash(r.contact_type.as_deref()),
                    if r.source_types.is_empty() {
                        "all".to_owned()
                    } else {
                        r.source_types.join(",")
                    },
                    or_dash(r.min_severity.as_deref()),
                    or_dash(Some(&used.join(","))),
                ]
            })
            .collect();
        let _ = io.out.write_all(
            table(
                &[
                    "TEMPLATE",
                    "DEFAULT",
                    "ASSIGNMENT GROUP",
                    "CALLER",
                    "CATEGORY",
                    "SUBCATEGORY",
                    "CONTACT TYPE",
                    "SOURCE TYPES",
                    "MIN SEVERITY",
                    "USED BY",
                ],
                &cells,
            )
            .as_bytes(),
        );
        Ok(Exit::Done)
    }

    /// `ticket-template delete`.
    pub(super) async fn template_delete(
        &self,
        name: &ninjaone_servicenow::model::TicketTemplateName,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let deleted = self
            .sync
            .delete_ticket_template(&self.actor, name)
            .await
            .map_err(|e| sync_failure(&e))?;
        if deleted {
            self.say(io, &format!("Ticket template {:?} deleted.", name.as_str()));
            Ok(Exit::Done)
        } else {
            Err(Failed::new(
                Exit::Usage,
                format!("there is no ticket template {:?}", name.as_str()),
            )
            .hint("`orgsync ticket-template list` shows the templates"))
        }
    }
}
