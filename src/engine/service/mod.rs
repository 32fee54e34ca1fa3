//! The service side of [`OrganizationSync`]: the mode, manual configurations, CI mappings and
//! the audit log, each behind a permission check, each change and refusal audited.

use serde_json::json;

use super::OrganizationSync;
use super::actor::Actor;
use super::error::SyncError;
use crate::model::{AuditAction, AuditEntry, AuditFilter, IntegrationMode, OrganizationId};

mod ci_mappings;
mod configs;
mod draft;
mod validation;

pub use draft::{Added, ConfigChanges, ConfigDraft};

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
}
