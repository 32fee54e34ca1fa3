//! [`MemoryStore`]: a [`ConfigStore`] in memory.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::router_lock::RouterLocks;
use super::state::StoreState;
use crate::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate, TicketTemplateName,
};
use crate::ports::{ConfigStore, RouterGuard, StoreError, WriteBatch};

/// A [`ConfigStore`] that keeps everything in memory and forgets it when the last clone is
/// dropped.
///
/// Clones share one state, so a test can hand one clone to the engine and inspect another.
/// Every call finishes without waiting; no lock is held across an `.await`.
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::model::{OrganizationId, SyncConfig};
/// use ninjaone_servicenow::ports::ConfigStore;
/// use ninjaone_servicenow::store::MemoryStore;
///
/// # futures::executor::block_on(async {
/// let store = MemoryStore::new();
/// let config = SyncConfig::new(OrganizationId::new(2)?, None, Utc::now());
/// let saved = store.write_config(config).await?;
/// assert_eq!(saved.version(), 1);
/// assert_eq!(store.clone().config(saved.organization()).await?, Some(saved));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<StoreState>>,
    routers: RouterLocks,
}

impl MemoryStore {
    /// An empty store: no configurations, mode [`IntegrationMode::Disabled`], no CI mappings, an
    /// empty audit log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The state, even if another thread panicked while holding it: every change is made
    /// all at once by [`StoreState`], so a poisoned state is still a consistent one.
    fn state(&self) -> MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, (configs, ci_mappings, audit_entries)) = {
            let state = self.state();
            (state.mode(), state.counts())
        };
        f.debug_struct("MemoryStore")
            .field("mode", &mode)
            .field("configs", &configs)
            .field("ci_mappings", &ci_mappings)
            .field("audit_entries", &audit_entries)
            .finish()
    }
}

#[async_trait]
impl ConfigStore for MemoryStore {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        Ok(self.state().configs())
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        Ok(self.state().config(organization))
    }

    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        Ok(self.state().configs_of(organizations))
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        self.state().apply(batch)
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        Ok(self.state().mode())
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        self.state().set_mode(mode);
        Ok(())
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        Ok(self.state().ci_mappings())
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        self.state().put_ci_mapping(mapping);
        Ok(())
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        Ok(self.state().delete_ci_mapping(name))
    }

    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
        Ok(self.state().ticket_templates())
    }

    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
        self.state().put_ticket_template(template);
        Ok(())
    }

    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError> {
        Ok(self.state().delete_ticket_template(name))
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.state().audit(filter))
    }

    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        Ok(self.state().ticket_records())
    }

    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
        Ok(self.state().ticket_record(alert))
    }

    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        self.state().write_ticket_records(put, &remove).map(drop)
    }

    /// A flag shared by the store's clones (one process).
    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        Ok(self.routers.try_lock(integration_id))
    }

    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        Ok(self.state().ci_records())
    }

    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
        Ok(self.state().ci_record(device))
    }

    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        self.state().write_ci_records(put, &remove).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use futures::executor::block_on;

    use super::*;
    use crate::ports::StoreErrorKind;

    #[test]
    fn clones_share_state() {
        let store = MemoryStore::new();
        let other = store.clone();
        let org = OrganizationId::new(4).expect("a valid id");
        let at = DateTime::from_timestamp(0, 0).expect("a valid timestamp");
        block_on(store.write_config(SyncConfig::new(org, None, at))).expect("insert");
        let seen = block_on(other.config(org)).expect("read");
        assert_eq!(seen.map(|c| c.version()), Some(1));
        assert!(format!("{other:?}").contains("configs: 1"));
    }

    #[test]
    fn a_poisoned_lock_still_serves() {
        let store = MemoryStore::new();
        let other = store.clone();
        let _ = std::thread::spawn(move || {
            let _guard = other.state();
            panic!("poison the lock on purpose");
        })
        .join();
        block_on(store.set_mode(IntegrationMode::Active)).expect("set mode");
        assert_eq!(
            block_on(store.mode()).expect("mode"),
            IntegrationMode::Active
        );
        let err = block_on(
            store.write(
                WriteBatch::new()
                    .config(SyncConfig::new(
                        OrganizationId::new(1).expect("a valid id"),
                        None,
                        DateTime::from_timestamp(0, 0).expect("a valid timestamp"),
                    ))
                    .config(SyncConfig::new(
                        OrganizationId::new(1).expect("a valid id"),
                        None,
                        DateTime::from_timestamp(0, 0).expect("a valid timestamp"),
                    )),
            ),
        )
        .expect_err("a duplicate organization");
        assert_eq!(err.kind(), StoreErrorKind::Invalid);
    }
}
