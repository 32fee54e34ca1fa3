//! Manual configurations: add, update, pause, resume, delete, restore, list and read, each
//! edit retried on a version conflict.

use super::draft::{Added, ConfigChanges, ConfigDraft};
use super::validation::{cases_problem, confirmation};
use crate::engine::actor::Actor;
use crate::engine::error::{AddRefusal, SyncError};
use crate::engine::{OrganizationSync, config_state};
use crate::machine::SyncEvent;
use crate::model::{
    AuditAction, AuditEntry, IntegrationMode, OrganizationId, SyncConfig, SyncStatus,
};
use crate::ports::{StoreErrorKind, WriteBatch};

/// How many times an edit re-reads and re-applies itself when the configuration changed
/// under it (a pass wrote it meanwhile) before giving up with [`SyncError::Conflict`].
pub(super) const EDIT_ATTEMPTS: usize = 3;

impl OrganizationSync {
    // ---- configurations ----

    /// Adds an organization by hand (inactive mode only), after checking both sides: the
    /// organization exists, the company exists and is not mapped to another organization,
    /// each CI mapping exists and names device roles NinjaOne has, and a customer account
    /// exists in Customer Service Management. A deleted configuration of the organization is
    /// restored with the new values. Returns the saved `pending` configuration and a
    /// confirmation to show.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`]; [`SyncError::AddRefused`] in active or disabled mode;
    /// [`SyncError::AlreadyConfigured`]; [`SyncError::Invalid`] listing every problem found;
    /// [`SyncError::Remote`] when a check could not be made; [`SyncError::Store`]. Refusals are
    /// audited; nothing is saved on any error.
    pub async fn add(&self, actor: &Actor, draft: ConfigDraft) -> Result<Added, SyncError> {
        let org = draft.organization;
        let act = format!("add organization {org}");
        let action = AuditAction::AddConfig;
        self.require(
            actor.manage_refusal(org),
            actor,
            &act,
            action.clone(),
            Some(org),
        )
        .await?;
        let refusal = match self.mode().await? {
            IntegrationMode::Inactive => None,
            IntegrationMode::Active => Some(AddRefusal::AutomaticSyncOn),
            IntegrationMode::Disabled => Some(AddRefusal::IntegrationDisabled),
        };
        if let Some(refusal) = refusal {
            return Err(self
                .refuse(actor, action, Some(org), SyncError::AddRefused(refusal))
                .await);
        }
        let checked = match self
            .validate(
                org,
                true,
                Some(&draft.company),
                draft.customer_account.as_ref(),
                Some(&draft.ci_mappings),
            )
            .await
            .and_then(|checked| {
                // The account itself (and Customer Service Management) was checked above.
                cases_problem(org, draft.tickets, draft.customer_account.as_ref())
                    .map_or(Ok(checked), |p| Err(SyncError::Invalid(vec![p])))
            }) {
            Ok(checked) => checked,
            Err(err) => return Err(self.refuse_if(actor, action, Some(org), err).await),
        };
        if let Err(err) = self.check_template(draft.ticket_template.as_ref()).await {
            return Err(self.refuse_if(actor, action, Some(org), err).await);
        }
        for _ in 0..EDIT_ATTEMPTS {
            let existing = self.read_config(org).await?;
            let now = self.now();
            let mut config = match &existing {
                Some(c) if c.status() != SyncStatus::Deleted => {
                    return Err(self
                        .refuse(actor, action, Some(org), SyncError::AlreadyConfigured(org))
                        .await);
                }
                Some(tombstone) => {
                    let mut c = tombstone.clone();
                    c.apply(SyncEvent::Restore, None, now)?;
                    c
                }
                None => SyncConfig::new(org, None, now),
            };
            config.set_company(Some(draft.company.clone()));
            config.set_customer_account(draft.customer_account.clone());
            config.set_ci_mappings(draft.ci_mappings.iter().cloned());
            config.set_allow_incidents(draft.allow_incidents);
            config.set_tickets(draft.tickets);
            config.set_ticket_template(draft.ticket_template.clone());
            checked.name(&mut config);
            let entry = AuditEntry::applied(now, actor.name(), action.clone())
                .for_organization(org)
                .with_states(
                    existing.as_ref().map(config_state),
                    Some(config_state(&config)),
                );
            match self.write_one(config, entry).await {
                Ok(Some(saved)) => {
                    let confirmation = confirmation(org, &checked, &draft.company);
                    tracing::info!(organization = %org, actor = actor.name(), "{confirmation}");
                    return Ok(Added {
                        config: saved,
                        confirmation,
                    });
                }
                Ok(None) => {}
                Err(err) => return Err(err),
            }
        }
        Err(self
            .refuse(actor, action, Some(org), SyncError::Conflict(org))
            .await)
    }

    /// Changes a configuration (in every mode). References that change are checked as for
    /// [`add`](Self::add). An active, pending or queued configuration goes back to pending; an
    /// inactive one stays inactive (with its reason) until resumed; a deleted one is refused.
    /// Asking for no change, or for the values it already has, saves nothing. Returns the
    /// saved configuration, with the name of a newly mapped company (or account) as its check
    /// looked it up.
    ///
    /// # Errors
    /// As for [`add`](Self::add), plus [`SyncError::NotConfigured`] and
    /// [`SyncError::Transition`] for a deleted configuration.
    pub async fn update(
        &self,
        actor: &Actor,
        organization: OrganizationId,
        changes: ConfigChanges,
    ) -> Result<SyncConfig, SyncError> {
        let act = format!("update organization {organization}");
        let action = AuditAction::UpdateConfig;
        self.require(
            actor.manage_refusal(organization),
            actor,
            &act,
            action.clone(),
            Some(organization),
        )
        .await?;
        let checked = match self
            .validate(
                organization,
                false,
                changes.company.as_ref(),
                changes.customer_account.as_ref().and_then(Option::as_ref),
                changes.ci_mappings.as_ref(),
            )
            .await
        {
            Ok(checked) => checked,
            Err(err) => return Err(self.refuse_if(actor, action, Some(organization), err).await),
        };
        if let Err(err) = self.check_tickets(organization, &changes).await {
            return Err(self.refuse_if(actor, action, Some(organization), err).await);
        }
        let named = changes.ticket_template.as_ref().and_then(Option::as_ref);
        if let Err(err) = self.check_template(named).await {
            return Err(self.refuse_if(actor, action, Some(organization), err).await);
        }
        self.edit(actor, organization, action, |config, now| {
            let before = config.clone();
            if let Some(company) = &changes.company {
                config.set_company(Some(company.clone()));
            }
            if let Some(account) = &changes.customer_account {
                config.set_customer_account(account.clone());
            }
            if let Some(names) = &changes.ci_mappings {
                config.set_ci_mappings(names.iter().cloned());
            }
            if let Some(allow) = changes.allow_incidents {
                config.set_allow_incidents(allow);
            }
            if let Some(tickets) = changes.tickets {
                config.set_tickets(tickets);
            }
            if let Some(template) = &changes.ticket_template {
                config.set_ticket_template(template.clone());
            }
            // The setters touch nothing else, so equality means nothing was asked for.
            if *config == before {
                // Still refuse edits of a deleted configuration, even empty ones.
                crate::machine::transition(config.status(), SyncEvent::Changed)?;
                return Ok(false);
            }
            // The names of what changed, as the checks just saw them.
            checked.name(config);
            config.apply(SyncEvent::Changed, None, now)?;
            Ok(true)
        })
        .await
    }

    /// Pauses a configuration: it becomes inactive with the reason "paused by NAME".
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`], [`SyncError::NotConfigured`], [`SyncError::Transition`]
    /// (a deleted configuration), [`SyncError::Conflict`], [`SyncError::Store`].
    pub async fn pause(
        &self,
        actor: &Actor,
        organization: OrganizationId,
    ) -> Result<SyncConfig, SyncError> {
        let reason = format!("paused by {}", actor.name());
        self.transition(
            actor,
            organization,
            AuditAction::PauseConfig,
            SyncEvent::Deactivate,
            Some(reason),
        )
        .await
    }

    /// Resumes a configuration: an inactive one goes back to pending (its reason cleared); a
    /// pending one waiting for its backoff is retried by the next pass; an active or queued one
    /// is unchanged, and nothing is saved or audited for it.
    ///
    /// # Errors
    /// As for [`pause`](Self::pause).
    pub async fn resume(
        &self,
        actor: &Actor,
        organization: OrganizationId,
    ) -> Result<SyncConfig, SyncError> {
        self.transition(
            actor,
            organization,
            AuditAction::ResumeConfig,
            SyncEvent::Activate,
            None,
        )
        .await
    }

    /// Deletes a configuration: it becomes a `deleted` tombstone, so active mode does not bring
    /// it back. Nothing is removed in ServiceNow. Deleting a deleted configuration changes
    /// nothing (it keeps its first reason).
    ///
    /// # Errors
    /// As for [`pause`](Self::pause).
    pub async fn delete(
        &self,
        actor: &Actor,
        organization: OrganizationId,
    ) -> Result<SyncConfig, SyncError> {
        let reason = format!("deleted by {}", actor.name());
        self.transition(
            actor,
            organization,
            AuditAction::DeleteConfig,
            SyncEvent::Delete,
            Some(reason),
        )
        .await
    }

    /// Restores a deleted configuration as pending.
    ///
    /// # Errors
    /// As for [`pause`](Self::pause); [`SyncError::Transition`] when it is not deleted.
    pub async fn restore(
        &self,
        actor: &Actor,
        organization: OrganizationId,
    ) -> Result<SyncConfig, SyncError> {
        self.transition(
            actor,
            organization,
            AuditAction::RestoreConfig,
            SyncEvent::Restore,
            None,
        )
        .await
    }

    /// The configurations the actor may see, ordered by organization (tombstones included):
    /// the rows of an "Organization Sync" screen. Each carries the organization's and the
    /// company's (and account's) names as last seen ([`SyncConfig::organization_name`],
    /// [`SyncConfig::company_name`]), its status, reason, options and CI mappings. The screen's
    /// "reason" column is [`SyncConfig::status_reason`] (why it is inactive or deleted, such as
    /// "paused by alice"), or else [`SyncConfig::last_error`] (what the last pass's attempt
    /// failed on); a name is `None` only until an add, an update or a pass has seen it.
    ///
    /// # Costs
    /// One store read; **no remote request**: the names were recorded by the add, the update
    /// or the last pass.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] without the integration permission; [`SyncError::Store`].
    pub async fn list(&self, actor: &Actor) -> Result<Vec<SyncConfig>, SyncError> {
        self.require(
            actor.read_refusal(),
            actor,
            "list the sync configurations",
            AuditAction::Other("read".to_owned()),
            None,
        )
        .await?;
        let mut configs = self
            .store
            .configs()
            .await
            .map_err(SyncError::store("could not read the configurations"))?;
        configs.retain(|c| actor.sees(c.organization()));
        Ok(configs)
    }

    /// One organization's configuration, if it has one, with its names as last seen. One store
    /// read, no remote request.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] without the permission or for an organization the actor
    /// may not see; [`SyncError::Store`].
    pub async fn get(
        &self,
        actor: &Actor,
        organization: OrganizationId,
    ) -> Result<Option<SyncConfig>, SyncError> {
        let refusal = actor.read_refusal().or_else(|| {
            (!actor.sees(organization))
                .then(|| format!("they may not see organization {organization}"))
        });
        self.require(
            refusal,
            actor,
            &format!("read organization {organization}'s configuration"),
            AuditAction::Other("read".to_owned()),
            Some(organization),
        )
        .await?;
        self.read_config(organization).await
    }

    /// Applies a status event a person asked for.
    pub(super) async fn transition(
        &self,
        actor: &Actor,
        organization: OrganizationId,
        action: AuditAction,
        event: SyncEvent,
        reason: Option<String>,
    ) -> Result<SyncConfig, SyncError> {
        let act = format!("{} organization {organization}", event.label());
        self.require(
            actor.manage_refusal(organization),
            actor,
            &act,
            action.clone(),
            Some(organization),
        )
        .await?;
        self.edit(actor, organization, action, |config, now| {
            let before = config.clone();
            config.apply(event, reason.as_deref(), now)?;
            // Resuming an active configuration, or deleting a deleted one, changes nothing:
            // nothing is saved or audited (a deleted one keeps its first reason).
            let unchanged = config.status() == before.status()
                && (config.status_reason() == before.status_reason()
                    || before.status() == SyncStatus::Deleted)
                && config.attempts() == before.attempts()
                && config.next_attempt_at() == before.next_attempt_at();
            if unchanged {
                *config = before;
            }
            Ok(!unchanged)
        })
        .await
    }

    /// Reads, changes and writes one configuration with its audit entry, again when a pass
    /// wrote it meanwhile. `change` returns whether anything changed (nothing is written
    /// otherwise). Refusals are audited.
    pub(super) async fn edit<F>(
        &self,
        actor: &Actor,
        organization: OrganizationId,
        action: AuditAction,
        change: F,
    ) -> Result<SyncConfig, SyncError>
    where
        F: Fn(&mut SyncConfig, chrono::DateTime<chrono::Utc>) -> Result<bool, SyncError>
            + Send
            + Sync,
    {
        for _ in 0..EDIT_ATTEMPTS {
            let Some(current) = self.read_config(organization).await? else {
                return Err(self
                    .refuse(
                        actor,
                        action,
                        Some(organization),
                        SyncError::NotConfigured(organization),
                    )
                    .await);
            };
            let now = self.now();
            let mut next = current.clone();
            match change(&mut next, now) {
                Ok(true) => {}
                Ok(false) => return Ok(current),
                Err(err) => {
                    return Err(self.refuse_if(actor, action, Some(organization), err).await);
                }
            }
            let entry = AuditEntry::applied(now, actor.name(), action.clone())
                .for_organization(organization)
                .with_states(Some(config_state(&current)), Some(config_state(&next)));
            if let Some(saved) = self.write_one(next, entry).await? {
                return Ok(saved);
            }
        }
        Err(self
            .refuse(
                actor,
                action,
                Some(organization),
                SyncError::Conflict(organization),
            )
            .await)
    }

    /// Writes one configuration with its audit entry; `None` on a version conflict.
    pub(super) async fn write_one(
        &self,
        config: SyncConfig,
        entry: AuditEntry,
    ) -> Result<Option<SyncConfig>, SyncError> {
        let organization = config.organization();
        match self
            .store
            .write(WriteBatch::new().config(config).audit(entry))
            .await
        {
            Ok(mut saved) => Ok(saved.pop()),
            Err(err) if err.kind() == StoreErrorKind::Conflict => Ok(None),
            Err(err) => Err(SyncError::Store {
                context: format!("could not save organization {organization}'s configuration"),
                error: err,
            }),
        }
    }

    pub(super) async fn read_config(
        &self,
        organization: OrganizationId,
    ) -> Result<Option<SyncConfig>, SyncError> {
        self.store
            .config(organization)
            .await
            .map_err(SyncError::store(format!(
                "could not read organization {organization}'s configuration"
            )))
    }
}
