//! The ticket templates of [`OrganizationSync`]: listed by anyone who may see the
//! configurations, saved and deleted by system administrators, every change and refusal
//! audited.
//!
//! # Checks
//! Saving a template first reads its assignment group (`sys_user_group`) and caller
//! (`sys_user`) from ServiceNow, one request each: an unknown or inactive one is a refusal and
//! nothing is saved. Deleting a template that a (not deleted) configuration names is refused.
//! That check is made here, not atomically in the store, as for CI mappings: a configuration
//! saved with the template's name while it is being deleted keeps a name that no longer exists,
//! and the router then skips its alerts as `unknown_template` (reported, never routed with
//! another template) until a person names an existing one.

use serde_json::json;

use super::OrganizationSync;
use super::actor::Actor;
use super::error::{Problem, SyncError};
use crate::model::{AuditAction, AuditEntry, TicketTemplate, TicketTemplateName};

impl OrganizationSync {
    /// Every ticket template, ordered by name.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] without the integration permission; [`SyncError::Store`].
    pub async fn ticket_templates(&self, actor: &Actor) -> Result<Vec<TicketTemplate>, SyncError> {
        self.require(
            actor.read_refusal(),
            actor,
            "read the ticket templates",
            AuditAction::Other("read".to_owned()),
            None,
        )
        .await?;
        self.read_templates().await
    }

    /// Creates or replaces a ticket template (by name), after checking its assignment group and
    /// caller in ServiceNow. Saving a default takes the flag from the previous default. System
    /// administrators only; audited.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ninjaone_servicenow::clock::ManualClock;
    /// use ninjaone_servicenow::engine::{Actor, OrganizationSync, Problem, SyncError};
    /// use ninjaone_servicenow::model::TicketTemplate;
    /// use ninjaone_servicenow::ports::Ports;
    /// use ninjaone_servicenow::store::MemoryStore;
    /// use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
    /// # futures::executor::block_on(async {
    /// let snow = FakeServiceNow::builder().user_group("Service Desk").build();
    /// let sync = OrganizationSync::new(Ports::new(
    ///     Arc::new(FakeNinjaOne::new()),
    ///     Arc::new(snow.clone()),
    ///     Arc::new(MemoryStore::new()),
    ///     Arc::new(ManualClock::new(fixed_time())),
    /// ));
    /// let admin = Actor::administrator("alice");
    /// let mut template = TicketTemplate::new("servers".parse()?);
    /// template.set_assignment_group(Some("0000000000000000000000000000dead".parse()?));
    /// let refused = sync.put_ticket_template(&admin, template.clone()).await.unwrap_err();
    /// assert!(matches!(&refused, SyncError::Invalid(p) if matches!(p[..], [Problem::UnknownAssignmentGroup(_)])));
    /// assert!(sync.ticket_templates(&admin).await?.is_empty());
    ///
    /// let desk = snow.add_user_group("Network");
    /// template.set_assignment_group(Some(desk));
    /// sync.put_ticket_template(&admin, template).await?;
    /// assert_eq!(sync.ticket_templates(&admin).await?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`]; [`SyncError::Invalid`] with
    /// [`Problem::UnknownAssignmentGroup`], [`Problem::InactiveAssignmentGroup`],
    /// [`Problem::UnknownCaller`] or [`Problem::InactiveCaller`] (every problem found; nothing
    /// saved); [`SyncError::Remote`] when a check could not be made (nothing saved);
    /// [`SyncError::Store`]. Refusals are audited.
    pub async fn put_ticket_template(
        &self,
        actor: &Actor,
        template: TicketTemplate,
    ) -> Result<(), SyncError> {
        let act = format!("change the ticket template {:?}", template.name().as_str());
        let action = AuditAction::SetTicketTemplate;
        self.require(actor.admin_refusal(), actor, &act, action.clone(), None)
            .await?;
        let problems = self.check_people(&template).await?;
        if !problems.is_empty() {
            return Err(self
                .refuse(actor, action, None, SyncError::Invalid(problems))
                .await);
        }
        let stored = self.read_templates().await?;
        let before = stored.iter().find(|t| t.name() == template.name());
        let old_default = stored
            .iter()
            .find(|t| t.is_default())
            .map(TicketTemplate::name);
        let new_default = if template.is_default() {
            Some(template.name())
        } else {
            old_default.filter(|name| *name != template.name())
        };
        let before_state = json!({ "template": before, "default": old_default });
        let after_state = json!({ "template": &template, "default": new_default });
        self.store
            .put_ticket_template(template)
            .await
            .map_err(SyncError::store("could not save the ticket template"))?;
        let entry = AuditEntry::applied(self.now(), actor.name(), action)
            .with_states(Some(before_state), Some(after_state));
        self.audit_entry(entry).await
    }

    /// Deletes a ticket template no configuration names; `false` when there was none by that
    /// name. Deleting the default leaves configurations that name no template without one.
    /// System administrators only; audited.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`]; [`SyncError::Invalid`] with
    /// [`Problem::TicketTemplateInUse`] while a (not deleted) configuration names it;
    /// [`SyncError::Store`].
    pub async fn delete_ticket_template(
        &self,
        actor: &Actor,
        name: &TicketTemplateName,
    ) -> Result<bool, SyncError> {
        let act = format!("delete the ticket template {:?}", name.as_str());
        let action = AuditAction::DeleteTicketTemplate;
        self.require(actor.admin_refusal(), actor, &act, action.clone(), None)
            .await?;
        self.refuse_if_in_use(
            actor,
            &action,
            |c| c.ticket_template() == Some(name),
            |organizations| Problem::TicketTemplateInUse {
                template: name.clone(),
                organizations,
            },
        )
        .await?;
        let before = self
            .read_templates()
            .await?
            .into_iter()
            .find(|t| t.name() == name);
        let deleted = self
            .store
            .delete_ticket_template(name)
            .await
            .map_err(SyncError::store("could not delete the ticket template"))?;
        if deleted {
            let entry = AuditEntry::applied(self.now(), actor.name(), action)
                .with_states(Some(json!({ "template": before })), None);
            self.audit_entry(entry).await?;
        }
        Ok(deleted)
    }

    /// Checks that a configuration may name `template`: it exists.
    pub(crate) async fn check_template(
        &self,
        template: Option<&TicketTemplateName>,
    ) -> Result<(), SyncError> {
        let Some(name) = template else {
            return Ok(());
        };
        if self
            .read_templates()
            .await?
            .iter()
            .any(|t| t.name() == name)
        {
            Ok(())
        } else {
            Err(SyncError::Invalid(vec![Problem::UnknownTicketTemplate(
                name.clone(),
            )]))
        }
    }

    async fn read_templates(&self) -> Result<Vec<TicketTemplate>, SyncError> {
        self.store
            .ticket_templates()
            .await
            .map_err(SyncError::store("could not read the ticket templates"))
    }

    /// The problems of a template's group and caller, read from ServiceNow.
    async fn check_people(&self, template: &TicketTemplate) -> Result<Vec<Problem>, SyncError> {
        let mut problems = Vec::new();
        if let Some(id) = template.assignment_group() {
            match self
                .snow
                .user_group(id)
                .await
                .map_err(SyncError::remote(format!(
                    "could not look up the assignment group {id} in ServiceNow"
                )))? {
                None => problems.push(Problem::UnknownAssignmentGroup(id.clone())),
                Some(group) if !group.active => {
                    problems.push(Problem::InactiveAssignmentGroup(id.clone()));
                }
                Some(_) => {}
            }
        }
        if let Some(id) = template.caller() {
            match self.snow.user(id).await.map_err(SyncError::remote(format!(
                "could not look up the caller {id} in ServiceNow"
            )))? {
                None => problems.push(Problem::UnknownCaller(id.clone())),
                Some(user) if !user.active => problems.push(Problem::InactiveCaller(id.clone())),
                Some(_) => {}
            }
        }
        Ok(problems)
    }
}
