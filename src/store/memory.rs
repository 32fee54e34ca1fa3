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
#[cfg(feature = "test-util")]
use crate::testing::Faults;

/// Runs `$body` (the call's work) behind the store's [`Faults`] under `StoreMethod::$method`
/// when the feature `test-util` is on; just `$body` otherwise.
macro_rules! faulted {
    ($self:ident, $method:ident, $body:expr) => {{
        #[cfg(feature = "test-util")]
        let admission = $self
            .faults
            .admit(crate::testing::StoreMethod::$method)
            .await?;
        #[cfg(not(feature = "test-util"))]
        let admission = NoFaults;
        admission.finish($body)
    }};
}

/// Without the feature `test-util` there are no faults: every call just does its work.
#[cfg(not(feature = "test-util"))]
struct NoFaults;

#[cfg(not(feature = "test-util"))]
impl NoFaults {
    #[allow(clippy::unused_self)]
    fn finish<T>(self, result: T) -> T {
        result
    }
}

/// A [`ConfigStore`] that keeps everything in memory and forgets it when the last clone is
/// dropped.
///
/// Clones share one state, so a test can hand one clone to the engine and inspect another.
/// Every call finishes without waiting; no lock is held across an `.await`. With the feature
/// `test-util`, every call goes through the store's [`Faults`](crate::testing::Faults)
/// ([`faults`](Self::faults)) under its [`StoreMethod`](crate::testing::StoreMethod), as the
/// fakes' calls do: a test can count, stall or fail any call without a forwarding wrapper.
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
    #[cfg(feature = "test-util")]
    faults: Faults,
}

impl MemoryStore {
    /// An empty store: no configurations, mode [`IntegrationMode::Disabled`], no CI mappings, an
    /// empty audit log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The fault injection and call counts of this store (shared by its clones; feature
    /// `test-util`).
    ///
    /// ```
    /// use ninjaone_servicenow::ports::{ConfigStore, StoreErrorKind};
    /// use ninjaone_servicenow::store::MemoryStore;
    /// use ninjaone_servicenow::testing::StoreMethod;
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new();
    /// store.faults().fail_next(StoreMethod::Configs, 1, StoreErrorKind::Unavailable);
    /// assert!(store.configs().await.is_err());
    /// assert!(store.configs().await?.is_empty());
    /// assert_eq!(store.faults().calls(StoreMethod::Configs), 2);
    /// # Ok::<(), ninjaone_servicenow::ports::StoreError>(())
    /// # }).unwrap();
    /// ```
    #[cfg(feature = "test-util")]
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The same store (changes show on both sides, its router locks too) behind another fault
    /// injection: for example one per worker process (feature `test-util`).
    #[cfg(feature = "test-util")]
    #[must_use]
    pub fn with_faults(&self, faults: Faults) -> Self {
        Self {
            state: Arc::clone(&self.state),
            routers: self.routers.clone(),
            faults,
        }
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
        faulted!(self, Configs, Ok(self.state().configs()))
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        faulted!(self, Config, Ok(self.state().config(organization)))
    }

    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        faulted!(self, ConfigsOf, Ok(self.state().configs_of(organizations)))
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        faulted!(self, Write, self.state().apply(batch))
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        faulted!(self, Mode, Ok(self.state().mode()))
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        faulted!(self, SetMode, {
            self.state().set_mode(mode);
            Ok(())
        })
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        faulted!(self, CiMappings, Ok(self.state().ci_mappings()))
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        faulted!(self, PutCiMapping, {
            self.state().put_ci_mapping(mapping);
            Ok(())
        })
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        faulted!(
            self,
            DeleteCiMapping,
            Ok(self.state().delete_ci_mapping(name))
        )
    }

    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
        faulted!(self, TicketTemplates, Ok(self.state().ticket_templates()))
    }

    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
        faulted!(self, PutTicketTemplate, {
            self.state().put_ticket_template(template);
            Ok(())
        })
    }

    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError> {
        faulted!(
            self,
            DeleteTicketTemplate,
            Ok(self.state().delete_ticket_template(name))
        )
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        faulted!(self, Audit, Ok(self.state().audit(filter)))
    }

    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        faulted!(self, TicketRecords, Ok(self.state().ticket_records()))
    }

    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
        faulted!(self, TicketRecord, Ok(self.state().ticket_record(alert)))
    }

    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        faulted!(
            self,
            WriteTicketRecords,
            self.state().write_ticket_records(put, &remove).map(drop)
        )
    }

    /// A flag shared by the store's clones (one process).
    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        faulted!(self, LockRouter, Ok(self.routers.try_lock(integration_id)))
    }

    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        faulted!(self, CiRecords, Ok(self.state().ci_records()))
    }

    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
        faulted!(self, CiRecord, Ok(self.state().ci_record(device)))
    }

    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        faulted!(
            self,
            WriteCiRecords,
            self.state().write_ci_records(put, &remove).map(drop)
        )
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
