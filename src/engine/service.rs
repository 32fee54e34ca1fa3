//! The service side of [`OrganizationSync`]: the mode, manual configurations, CI mappings and
//! the audit log, each behind a permission check, each change and refusal audited.

use std::collections::BTreeSet;

use serde_json::json;

use super::actor::Actor;
use super::error::{AddRefusal, Problem, SyncError};
use super::{OrganizationSync, config_state};
use crate::machine::SyncEvent;
use crate::model::{
    AuditAction, AuditEntry, AuditFilter, CiMapping, CiMappingName, IntegrationMode,
    OrganizationId, SyncConfig, SyncStatus, SysId, TicketKind, TicketTemplateName,
};
use crate::ports::Remote;
use crate::ports::{StoreErrorKind, WriteBatch};

/// How many times an edit re-reads and re-applies itself when the configuration changed
/// under it (a pass wrote it meanwhile) before giving up with [`SyncError::Conflict`].
const EDIT_ATTEMPTS: usize = 3;

/// A configuration a person asks to add (inactive mode).
///
/// ```
/// use ninjaone_servicenow::engine::ConfigDraft;
/// use ninjaone_servicenow::model::OrganizationId;
/// let draft = ConfigDraft::new(OrganizationId::new(2)?, "0c43f35d4f5a1200c0a8016a9310c7d5".parse()?)
///     .ci_mapping("servers".parse()?)
///     .allow_incidents(true);
/// assert_eq!(draft.organization().get(), 2);
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ConfigDraft {
    organization: OrganizationId,
    company: SysId,
    customer_account: Option<SysId>,
    ci_mappings: BTreeSet<CiMappingName>,
    allow_incidents: bool,
    tickets: TicketKind,
    ticket_template: Option<TicketTemplateName>,
}

impl ConfigDraft {
    /// A draft mapping `organization` to `company`, without customer account, CI mappings or
    /// incidents.
    pub fn new(organization: OrganizationId, company: SysId) -> Self {
        Self {
            organization,
            company,
            customer_account: None,
            ci_mappings: BTreeSet::new(),
            allow_incidents: false,
            tickets: TicketKind::Incident,
            ticket_template: None,
        }
    }

    /// Names the ticket template this organization's tickets use (without one: the default
    /// template, if there is one). It must exist.
    pub fn ticket_template(mut self, name: TicketTemplateName) -> Self {
        self.ticket_template = Some(name);
        self
    }

    /// Maps a Customer Service Management customer account too.
    pub fn customer_account(mut self, account: SysId) -> Self {
        self.customer_account = Some(account);
        self
    }

    /// Adds a CI mapping by name.
    pub fn ci_mapping(mut self, name: CiMappingName) -> Self {
        self.ci_mappings.insert(name);
        self
    }

    /// Whether alerts may become incidents.
    pub fn allow_incidents(mut self, allow: bool) -> Self {
        self.allow_incidents = allow;
        self
    }

    /// What alerts become: incidents (the default) or Customer Service Management cases, which
    /// need a customer account and Customer Service Management installed.
    pub fn tickets(mut self, tickets: TicketKind) -> Self {
        self.tickets = tickets;
        self
    }

    /// The organization.
    #[must_use]
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
}

/// Changes a person asks for; fields left unset are kept.
///
/// ```
/// use ninjaone_servicenow::engine::ConfigChanges;
/// let changes = ConfigChanges::new().allow_incidents(false).customer_account(None);
/// assert!(!changes.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ConfigChanges {
    company: Option<SysId>,
    // Unset, set to none, or set to an account: exactly the three cases an edit has.
    #[allow(clippy::option_option)]
    customer_account: Option<Option<SysId>>,
    ci_mappings: Option<BTreeSet<CiMappingName>>,
    allow_incidents: Option<bool>,
    tickets: Option<TicketKind>,
    #[allow(clippy::option_option)]
    ticket_template: Option<Option<TicketTemplateName>>,
}

impl ConfigChanges {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps another company.
    pub fn company(mut self, company: SysId) -> Self {
        self.company = Some(company);
        self
    }

    /// Maps another customer account, or none.
    pub fn customer_account(mut self, account: Option<SysId>) -> Self {
        self.customer_account = Some(account);
        self
    }

    /// Replaces the CI mappings.
    pub fn ci_mappings(mut self, names: impl IntoIterator<Item = CiMappingName>) -> Self {
        self.ci_mappings = Some(names.into_iter().collect());
        self
    }

    /// Sets whether alerts may become incidents.
    pub fn allow_incidents(mut self, allow: bool) -> Self {
        self.allow_incidents = Some(allow);
        self
    }

    /// Sets what alerts become: incidents or cases (which need a customer account and Customer
    /// Service Management installed).
    pub fn tickets(mut self, tickets: TicketKind) -> Self {
        self.tickets = Some(tickets);
        self
    }

    /// Names another ticket template (which must exist), or none (the default template, if
    /// there is one).
    pub fn ticket_template(mut self, name: Option<TicketTemplateName>) -> Self {
        self.ticket_template = Some(name);
        self
    }

    /// Whether nothing is asked for.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A configuration added by hand, and the confirmation to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Added {
    /// The saved configuration (status `pending`), with the organization's, company's and
    /// account's names the checks looked up: the row to show.
    pub config: SyncConfig,
    /// "Organization 2 (Contoso) will be synced with company Contoso (…) by the next pass."
    pub confirmation: String,
}

/// Names found while validating, for the confirmation and the saved configuration.
struct Checked {
    organization: Option<String>,
    company: Option<String>,
    account: Option<String>,
}

impl Checked {
    /// Records the names found on `config` (which already maps what was checked).
    fn name(&self, config: &mut SyncConfig) {
        if let Some(name) = &self.organization {
            config.see_organization_name(name);
        }
        if let Some(name) = &self.company {
            config.see_company_name(name);
        }
        if let Some(name) = &self.account {
            config.see_customer_account_name(name);
        }
    }
}

impl OrganizationSync {
    // ---- mode ----

    /// The integration mode.
    ///
    /// # Errors
    /// [`SyncError::Store`] when the store cannot be read.
    pub async fn mode(&self) -> Result<IntegrationMode, SyncError> {
        self.store
            .mode()
            .await
            .map_err(SyncError::store("could not read the integration mode"))
    }

    /// Whether `actor` may add organizations by hand: they hold the integration permission
    /// (what [`add`](Self::add) needs before it looks at an organization) and the mode is
    /// inactive. Decides whether an "Add" button is shown.
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::Arc;
    /// use ninjaone_servicenow::clock::ManualClock;
    /// use ninjaone_servicenow::engine::{Actor, OrganizationSync, SyncError};
    /// use ninjaone_servicenow::model::IntegrationMode;
    /// use ninjaone_servicenow::ports::Ports;
    /// use ninjaone_servicenow::store::MemoryStore;
    /// use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
    ///
    /// let sync = OrganizationSync::new(Ports::new(
    ///     Arc::new(FakeNinjaOne::new()),
    ///     Arc::new(FakeServiceNow::new()),
    ///     Arc::new(MemoryStore::new()),
    ///     Arc::new(ManualClock::new(fixed_time())),
    /// ));
    /// let admin = Actor::administrator("alice");
    /// futures::executor::block_on(async {
    ///     sync.set_mode(&admin, IntegrationMode::Inactive).await?;
    ///     assert!(sync.can_add(&admin).await?);
    ///     let err = sync.can_add(&Actor::technician("bob")).await.unwrap_err();
    ///     assert!(matches!(err, SyncError::PermissionDenied { .. }));
    ///     Ok::<_, SyncError>(())
    /// })?;
    /// # }
    /// # Ok::<_, ninjaone_servicenow::engine::SyncError>(())
    /// ```
    ///
    /// It is a question, not an act: a screen asks it on every view, so it writes nothing,
    /// not even a refusal to the audit log ([`add`](Self::add) audits its own).
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] (not audited) when the actor lacks the integration
    /// permission; [`SyncError::Store`] when the store cannot be read.
    pub async fn can_add(&self, actor: &Actor) -> Result<bool, SyncError> {
        if let Some(reason) = actor.read_refusal() {
            return Err(SyncError::PermissionDenied {
                actor: actor.name().to_owned(),
                act: "add organizations".to_owned(),
                reason,
            });
        }
        Ok(self.mode().await? == IntegrationMode::Inactive)
    }

    /// Sets the integration mode. System administrators only; audited.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] for anyone else; [`SyncError::Store`].
    pub async fn set_mode(&self, actor: &Actor, mode: IntegrationMode) -> Result<(), SyncError> {
        let act = format!("set the integration mode to {mode}");
        self.require(
            actor.admin_refusal(),
            actor,
            &act,
            AuditAction::SetMode,
            None,
        )
        .await?;
        let before = self.mode().await?;
        self.store
            .set_mode(mode)
            .await
            .map_err(SyncError::store("could not save the integration mode"))?;
        let entry = AuditEntry::applied(self.now(), actor.name(), AuditAction::SetMode)
            .with_states(
                Some(json!({ "mode": before })),
                Some(json!({ "mode": mode })),
            );
        self.audit_entry(entry).await
    }

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

    /// Audit entries matching `filter`, oldest first. Administrators read everything; a
    /// technician with the permission reads the entries about organizations they see and those
    /// about no organization (mode changes).
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`]; [`SyncError::Store`].
    pub async fn audit(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
    ) -> Result<Vec<crate::model::AuditEntry>, SyncError> {
        let refusal = actor.read_refusal().or_else(|| {
            filter
                .organization
                .filter(|o| !actor.sees(*o))
                .map(|o| format!("they may not see organization {o}"))
        });
        self.require(
            refusal,
            actor,
            "read the audit log",
            AuditAction::Other("read".to_owned()),
            filter.organization,
        )
        .await?;
        let mut entries = self
            .store
            .audit(filter)
            .await
            .map_err(SyncError::store("could not read the audit log"))?;
        entries.retain(|e| e.organization.is_none_or(|o| actor.sees(o)));
        Ok(entries)
    }

    // ---- CI mappings ----

    /// Every CI mapping, ordered by name.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] without the integration permission; [`SyncError::Store`].
    pub async fn ci_mappings(&self, actor: &Actor) -> Result<Vec<CiMapping>, SyncError> {
        self.require(
            actor.read_refusal(),
            actor,
            "read the CI mappings",
            AuditAction::Other("read".to_owned()),
            None,
        )
        .await?;
        self.store
            .ci_mappings()
            .await
            .map_err(SyncError::store("could not read the CI mappings"))
    }

    /// Creates or replaces a CI mapping, after checking that NinjaOne has every device role it
    /// names. System administrators only; audited.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`]; [`SyncError::Invalid`] naming the unknown roles;
    /// [`SyncError::Remote`]; [`SyncError::Store`].
    pub async fn put_ci_mapping(&self, actor: &Actor, mapping: CiMapping) -> Result<(), SyncError> {
        let act = format!("change the CI mapping {:?}", mapping.name().as_str());
        let action = AuditAction::SetCiMapping;
        self.require(actor.admin_refusal(), actor, &act, action.clone(), None)
            .await?;
        let mut problems = Vec::new();
        if mapping.rules().len() > 0 {
            let roles = self.role_ids().await?;
            problems.extend(
                mapping
                    .rules()
                    .filter(|(role, _)| !roles.contains(role))
                    .map(|(role, _)| Problem::UnknownRole {
                        mapping: mapping.name().clone(),
                        role,
                    }),
            );
        }
        if !problems.is_empty() {
            return Err(self
                .refuse(actor, action, None, SyncError::Invalid(problems))
                .await);
        }
        let before = self
            .store
            .ci_mappings()
            .await
            .map_err(SyncError::store("could not read the CI mappings"))?
            .into_iter()
            .find(|m| m.name() == mapping.name());
        let after = serde_json::to_value(&mapping).ok();
        self.store
            .put_ci_mapping(mapping)
            .await
            .map_err(SyncError::store("could not save the CI mapping"))?;
        let entry = AuditEntry::applied(self.now(), actor.name(), action)
            .with_states(before.and_then(|b| serde_json::to_value(b).ok()), after);
        self.audit_entry(entry).await
    }

    /// Deletes a CI mapping no configuration uses; `false` when there was none by that name.
    /// System administrators only; audited.
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`]; [`SyncError::Invalid`] with
    /// [`Problem::MappingInUse`] while a (not deleted) configuration uses it;
    /// [`SyncError::Store`].
    pub async fn delete_ci_mapping(
        &self,
        actor: &Actor,
        name: &CiMappingName,
    ) -> Result<bool, SyncError> {
        let act = format!("delete the CI mapping {:?}", name.as_str());
        let action = AuditAction::DeleteCiMapping;
        self.require(actor.admin_refusal(), actor, &act, action.clone(), None)
            .await?;
        self.refuse_if_in_use(
            actor,
            &action,
            |c| c.ci_mappings().contains(name),
            |organizations| Problem::MappingInUse {
                mapping: name.clone(),
                organizations,
            },
        )
        .await?;
        let deleted = self
            .store
            .delete_ci_mapping(name)
            .await
            .map_err(SyncError::store("could not delete the CI mapping"))?;
        if deleted {
            let entry = AuditEntry::applied(self.now(), actor.name(), action)
                .with_states(Some(json!({ "name": name.as_str() })), None);
            self.audit_entry(entry).await?;
        }
        Ok(deleted)
    }

    // ---- helpers ----

    /// Refuses (audited, as `action`) to delete something a live configuration still uses:
    /// `uses` says whether a configuration uses it, `problem` names the users.
    pub(crate) async fn refuse_if_in_use(
        &self,
        actor: &Actor,
        action: &AuditAction,
        uses: impl Fn(&SyncConfig) -> bool,
        problem: impl FnOnce(Vec<OrganizationId>) -> Problem,
    ) -> Result<(), SyncError> {
        let users: Vec<OrganizationId> = self
            .store
            .configs()
            .await
            .map_err(SyncError::store("could not read the configurations"))?
            .iter()
            .filter(|c| c.status() != SyncStatus::Deleted && uses(c))
            .map(SyncConfig::organization)
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        let refusal = SyncError::Invalid(vec![problem(users)]);
        Err(self.refuse(actor, action.clone(), None, refusal).await)
    }

    /// Applies a status event a person asked for.
    async fn transition(
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
    async fn edit<F>(
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
    async fn write_one(
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

    async fn read_config(
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

    /// Refuses (and audits) when `refusal` says why the actor may not act.
    pub(crate) async fn require(
        &self,
        refusal: Option<String>,
        actor: &Actor,
        act: &str,
        action: AuditAction,
        organization: Option<OrganizationId>,
    ) -> Result<(), SyncError> {
        match refusal {
            None => Ok(()),
            Some(reason) => {
                let err = SyncError::PermissionDenied {
                    actor: actor.name().to_owned(),
                    act: act.to_owned(),
                    reason,
                };
                Err(self.refuse(actor, action, organization, err).await)
            }
        }
    }

    /// Records a refusal in the audit log and returns it. A failure to record is logged; the
    /// refusal stands either way.
    pub(crate) async fn refuse(
        &self,
        actor: &Actor,
        action: AuditAction,
        organization: Option<OrganizationId>,
        err: SyncError,
    ) -> SyncError {
        let mut entry = AuditEntry::refused(self.now(), actor.name(), action, err.to_string());
        entry.organization = organization;
        if let Err(store_err) = self.store.append_audit(vec![entry]).await {
            tracing::warn!(error = %store_err, refusal = %err, "could not record a refusal in the audit log");
        }
        err
    }

    /// Audits `err` when it is a refusal; returns it unchanged either way.
    pub(crate) async fn refuse_if(
        &self,
        actor: &Actor,
        action: AuditAction,
        organization: Option<OrganizationId>,
        err: SyncError,
    ) -> SyncError {
        if err.is_refusal() {
            self.refuse(actor, action, organization, err).await
        } else {
            err
        }
    }

    pub(crate) async fn audit_entry(&self, entry: AuditEntry) -> Result<(), SyncError> {
        self.store
            .append_audit(vec![entry])
            .await
            .map_err(SyncError::store("could not write the audit log"))
    }

    async fn role_ids(
        &self,
    ) -> Result<std::collections::HashSet<crate::model::DeviceRoleId>, SyncError> {
        let page = self.ninja.device_roles().await.map_err(SyncError::remote(
            Remote::NinjaOne,
            "could not list NinjaOne's device roles",
        ))?;
        Ok(page.items.iter().map(|r| r.id).collect())
    }

    /// Checks the references of a configuration a person asked to save, collecting every
    /// problem.
    async fn validate(
        &self,
        organization: OrganizationId,
        check_organization: bool,
        company: Option<&SysId>,
        account: Option<&SysId>,
        mappings: Option<&BTreeSet<CiMappingName>>,
    ) -> Result<Checked, SyncError> {
        let mut problems = Vec::new();
        let mut checked = Checked {
            organization: None,
            company: None,
            account: None,
        };
        if check_organization {
            match self
                .ninja
                .organization(organization)
                .await
                .map_err(SyncError::remote(
                    Remote::NinjaOne,
                    format!("could not look up organization {organization} in NinjaOne"),
                ))? {
                Some(found) => checked.organization = Some(found.organization.name),
                None => problems.push(Problem::UnknownOrganization(organization)),
            }
        }
        if let Some(company) = company {
            match self.snow.company(company).await.map_err(SyncError::remote(
                Remote::ServiceNow,
                format!("could not look up company {company} in ServiceNow"),
            ))? {
                Some(found) => checked.company = Some(found.name),
                None => problems.push(Problem::UnknownCompany(company.clone())),
            }
            let configs = self
                .store
                .configs()
                .await
                .map_err(SyncError::store("could not read the configurations"))?;
            if let Some(holder) = configs.iter().find(|c| {
                c.organization() != organization
                    && c.status() != SyncStatus::Deleted
                    && c.company() == Some(company)
            }) {
                problems.push(Problem::CompanyTaken {
                    company: company.clone(),
                    organization: holder.organization(),
                });
            }
        }
        if let Some(account) = account {
            let installed =
                self.snow
                    .customer_service_management()
                    .await
                    .map_err(SyncError::remote(
                        Remote::ServiceNow,
                        "could not detect Customer Service Management in ServiceNow",
                    ))?;
            if installed {
                match self
                    .snow
                    .customer_account(account)
                    .await
                    .map_err(SyncError::remote(
                        Remote::ServiceNow,
                        format!("could not look up customer account {account} in ServiceNow"),
                    ))? {
                    Some(found) => checked.account = Some(found.name),
                    None => problems.push(Problem::UnknownAccount(account.clone())),
                }
            } else {
                problems.push(Problem::CustomerServiceManagementMissing);
            }
        }
        if let Some(names) = mappings.filter(|n| !n.is_empty()) {
            self.check_mappings(names, &mut problems).await?;
        }
        if problems.is_empty() {
            Ok(checked)
        } else {
            Err(SyncError::Invalid(problems))
        }
    }
}

impl OrganizationSync {
    /// Checks that a configuration using cases after `changes` maps a customer account and
    /// that Customer Service Management is installed (a changed account was checked by
    /// `validate`; an unchanged one is checked here).
    async fn check_tickets(
        &self,
        organization: OrganizationId,
        changes: &ConfigChanges,
    ) -> Result<(), SyncError> {
        let Some(current) = self.read_config(organization).await? else {
            return Ok(()); // `edit` reports that it is not configured
        };
        let tickets = changes.tickets.unwrap_or(current.tickets());
        if tickets != TicketKind::Case {
            return Ok(());
        }
        let account = match &changes.customer_account {
            Some(account) => account.as_ref(),
            None => current.customer_account(),
        };
        if let Some(problem) = cases_problem(organization, tickets, account) {
            return Err(SyncError::Invalid(vec![problem]));
        }
        if changes.customer_account.is_none() {
            let installed =
                self.snow
                    .customer_service_management()
                    .await
                    .map_err(SyncError::remote(
                        Remote::ServiceNow,
                        "could not detect Customer Service Management in ServiceNow",
                    ))?;
            if !installed {
                return Err(SyncError::Invalid(vec![
                    Problem::CustomerServiceManagementMissing,
                ]));
            }
        }
        Ok(())
    }

    /// Checks that each named CI mapping exists and names only device roles NinjaOne has.
    async fn check_mappings(
        &self,
        names: &BTreeSet<CiMappingName>,
        problems: &mut Vec<Problem>,
    ) -> Result<(), SyncError> {
        let stored = self
            .store
            .ci_mappings()
            .await
            .map_err(SyncError::store("could not read the CI mappings"))?;
        let mut roles = None;
        for name in names {
            let Some(mapping) = stored.iter().find(|m| m.name() == name) else {
                problems.push(Problem::UnknownMapping(name.clone()));
                continue;
            };
            if mapping.rules().len() == 0 {
                continue;
            }
            if roles.is_none() {
                roles = Some(self.role_ids().await?);
            }
            if let Some(roles) = &roles {
                problems.extend(
                    mapping
                        .rules()
                        .filter(|(role, _)| !roles.contains(role))
                        .map(|(role, _)| Problem::UnknownRole {
                            mapping: name.clone(),
                            role,
                        }),
                );
            }
        }
        Ok(())
    }
}

/// The problem of a configuration that uses cases without a customer account.
fn cases_problem(
    organization: OrganizationId,
    tickets: TicketKind,
    account: Option<&SysId>,
) -> Option<Problem> {
    (tickets == TicketKind::Case && account.is_none())
        .then_some(Problem::CasesNeedAccount(organization))
}

fn confirmation(org: OrganizationId, checked: &Checked, company: &SysId) -> String {
    let org_part = match &checked.organization {
        Some(name) => format!("Organization {org} ({name})"),
        None => format!("Organization {org}"),
    };
    let company_part = match &checked.company {
        Some(name) => format!("company {name:?} ({company})"),
        None => format!("company {company}"),
    };
    format!("{org_part} will be synced with {company_part} by the next pass.")
}
