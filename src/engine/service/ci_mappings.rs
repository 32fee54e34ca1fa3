//! CI mappings (device role → CI class): listed, put and deleted, refused while in use.

use serde_json::json;

use crate::engine::OrganizationSync;
use crate::engine::actor::Actor;
use crate::engine::error::{Problem, SyncError};
use crate::model::{
    AuditAction, AuditEntry, CiMapping, CiMappingName, OrganizationId, SyncConfig, SyncStatus,
};

impl OrganizationSync {
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
}
