//! [`ConfigStore`]: where configurations, records and the audit trail live, with its rules,
//! the [`WriteBatch`] it writes at once and the [`RouterGuard`] of the router lock.

use std::fmt::Debug;

use async_trait::async_trait;

use super::{StoreError, StoreErrorKind};
use crate::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate, TicketTemplateName,
};

/// A held incident-router lock ([`ConfigStore::lock_router`]). Dropping it without
/// [`release`](Self::release) frees it too (for PostgreSQL, by closing the session that holds
/// the advisory lock), only less promptly.
///
/// A guard that frees its lock in `Drop` as well must remember that `release` already did: by
/// the time the released guard is dropped, another router may hold the lock.
#[async_trait]
pub trait RouterGuard: Send + Sync + Debug {
    /// Frees the lock.
    ///
    /// # Errors
    /// When the store could not be reached; the lock is freed when the session ends anyway.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// A set of changes a [`ConfigStore`] writes all together or not at all, under
/// [the store's rules](ConfigStore#rules) (version 0 inserts, any other version updates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteBatch {
    /// Configurations to insert or update.
    pub configs: Vec<SyncConfig>,
    /// Audit entries to append.
    pub audit: Vec<AuditEntry>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a configuration to insert or update.
    #[must_use]
    pub fn config(mut self, config: SyncConfig) -> Self {
        self.configs.push(config);
        self
    }

    /// Adds configurations to insert or update.
    #[must_use]
    pub fn configs(mut self, configs: impl IntoIterator<Item = SyncConfig>) -> Self {
        self.configs.extend(configs);
        self
    }

    /// Adds an audit entry.
    #[must_use]
    pub fn audit(mut self, entry: AuditEntry) -> Self {
        self.audit.push(entry);
        self
    }

    /// Whether the batch holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty() && self.audit.is_empty()
    }

    /// Checks what every store must refuse before touching anything: two writes of one
    /// organization in the same batch ([the duplicate-key rule](ConfigStore#duplicate-keys)).
    ///
    /// # Errors
    /// [`StoreErrorKind::Invalid`] naming the organization.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut seen = std::collections::HashSet::with_capacity(self.configs.len());
        for config in &self.configs {
            if !seen.insert(config.organization()) {
                return Err(StoreError::new(
                    StoreErrorKind::Invalid,
                    format!(
                        "the batch writes organization {} twice; merge the changes into one write",
                        config.organization()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Where configurations, the mode, CI mappings, ticket templates, the audit log, and the
/// alert → ticket and device → CI records live.
///
/// This is an [`#[async_trait]`](macro@async_trait) trait (object safe, held as
/// `Arc<dyn ConfigStore>`): put `#[async_trait]` — re-exported as
/// [`ports::async_trait`](macro@crate::ports::async_trait) — on your `impl` block too. A native
/// `async fn` impl without it fails with error E0195 ("lifetime parameters or bounds on method
/// do not match the trait declaration") once per method; the fix is the attribute, nothing else.
/// Every method is required except [`configs_of`](Self::configs_of),
/// [`write_config`](Self::write_config) and [`append_audit`](Self::append_audit), whose default
/// bodies are real behaviour built on the required ones: a store that lacks a method is a
/// compile error, never an `Unsupported` answer in the middle of a pass.
///
/// The rules below are stated here once; the methods, [`WriteBatch`] and the crate's stores
/// link to them, and [`testing::store_contract`](crate::testing::store_contract) (feature
/// `test-util`) checks every one of them against an implementation.
///
/// # Rules
///
/// ## Versions
/// Optimistic versioning, never a lost update. In a [`write`](Self::write):
/// - a configuration with version 0 is an **insert**: refused with
///   [`StoreErrorKind::Conflict`] when the organization already has a configuration (one per
///   organization);
/// - any other version is an **update** and must be the stored version: a different one is a
///   [`StoreErrorKind::Conflict`];
/// - an **update of a configuration that was never stored** (version > 0, nothing stored for the
///   organization) is a [`StoreErrorKind::Conflict`] too, not `NotFound`: the writer's copy is
///   stale (it was read from another store, or the row went away), and the fix is the same as
///   for a stale version — read again and re-apply the change. Nothing is created.
///
/// ## Duplicate keys
/// A batch that names one key twice is refused whole with [`StoreErrorKind::Invalid`] before
/// anything is touched: one organization twice in a [`WriteBatch`] (checked by
/// [`WriteBatch::validate`]); one alert uid (or device id) twice in the `put` list of
/// [`write_ticket_records`](Self::write_ticket_records)
/// ([`write_ci_records`](Self::write_ci_records)), or in both `put` and `remove`. Removing a key
/// that has no record is not an error.
///
/// ## Atomic writes and what `write` returns
/// [`write`](Self::write) is all of the batch or none of it, audit entries included: a batch with
/// one refused item writes nothing. On success it returns the configurations **as stored** —
/// each with its version plus one (an insert comes back with version 1) — in the batch's order.
///
/// ## Records
/// [`write_ticket_records`](Self::write_ticket_records) and
/// [`write_ci_records`](Self::write_ci_records) insert or replace by key and remove, all together
/// or not at all, under [the duplicate-key rule](#duplicate-keys). Listings come back ordered by
/// key.
///
/// ## The rest
/// - The audit log is append-only; entries get increasing `seq` numbers, in the order given.
/// - The store keeps every other field of a configuration as written: `created_at`,
///   `updated_at`, names and the retry state are the engine's to set; only the version moves.
/// - At most one ticket template is the default: putting a new default takes the flag from the
///   old one in the same write.
/// - Listings are ordered: configurations by organization, CI mappings and ticket templates by
///   name, audit entries oldest first.
///
/// # Implementing it
///
/// A store over its own tables keeps the configurations itself; this one holds them in a
/// `futures` async `Mutex<BTreeMap<…>>`, held across the whole write like a database transaction
/// (a database would use one, and a `version` column), and shows
/// the rules, delegating the other parts to a [`MemoryStore`](crate::store::MemoryStore):
///
/// ```
/// use std::collections::BTreeMap;
///
/// use futures::lock::Mutex;
/// use ninjaone_servicenow::model::{
///     AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
///     IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate,
///     TicketTemplateName,
/// };
/// use ninjaone_servicenow::ports::{
///     ConfigStore, RouterGuard, StoreError, StoreErrorKind, WriteBatch, async_trait,
/// };
/// use ninjaone_servicenow::store::MemoryStore;
///
/// #[derive(Debug, Default)]
/// struct TableStore {
///     configs: Mutex<BTreeMap<OrganizationId, SyncConfig>>,
///     rest: MemoryStore,
/// }
///
/// fn conflict(message: String) -> StoreError {
///     StoreError::new(StoreErrorKind::Conflict, message)
/// }
///
/// #[async_trait]
/// impl ConfigStore for TableStore {
///     async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
///         let table = self.configs.lock().await;
///         Ok(table.values().cloned().collect()) // a BTreeMap is ordered by organization
///     }
///
///     async fn config(&self, org: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
///         Ok(self.configs.lock().await.get(&org).cloned())
///     }
///
///     async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
///         batch.validate()?; // duplicate keys: Invalid, before anything is touched
///         let mut table = self.configs.lock().await;
///         for config in &batch.configs {
///             let org = config.organization();
///             match (table.get(&org).map(SyncConfig::version), config.version()) {
///                 (None, 0) => {}
///                 (Some(_), 0) => return Err(conflict(format!("{org} already has one"))),
///                 // The never-stored update: Conflict, like a stale version.
///                 (None, v) => return Err(conflict(format!("{org} has none, expected {v}"))),
///                 (Some(stored), v) if stored != v => {
///                     return Err(conflict(format!("{org} is at {stored}, expected {v}")));
///                 }
///                 (Some(_), _) => {}
///             }
///         }
///         // Every check passed: now write all of it (a database: in one transaction).
///         self.rest.append_audit(batch.audit).await?;
///         let mut stored = Vec::with_capacity(batch.configs.len());
///         for mut config in batch.configs {
///             config.set_version(config.version() + 1);
///             table.insert(config.organization(), config.clone());
///             stored.push(config); // as stored, in the batch's order
///         }
///         Ok(stored)
///     }
///
///     async fn mode(&self) -> Result<IntegrationMode, StoreError> {
///         self.rest.mode().await
///     }
///     async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
///         self.rest.set_mode(mode).await
///     }
///     async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
///         self.rest.ci_mappings().await
///     }
///     async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
///         self.rest.put_ci_mapping(mapping).await
///     }
///     async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
///         self.rest.delete_ci_mapping(name).await
///     }
///     async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
///         self.rest.ticket_templates().await
///     }
///     async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
///         self.rest.put_ticket_template(template).await
///     }
///     async fn delete_ticket_template(
///         &self,
///         name: &TicketTemplateName,
///     ) -> Result<bool, StoreError> {
///         self.rest.delete_ticket_template(name).await
///     }
///     async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
///         self.rest.audit(filter).await
///     }
///     async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
///         self.rest.ticket_records().await
///     }
///     async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
///         self.rest.ticket_record(alert).await
///     }
///     async fn write_ticket_records(
///         &self,
///         put: Vec<TicketRecord>,
///         remove: Vec<AlertUid>,
///     ) -> Result<(), StoreError> {
///         self.rest.write_ticket_records(put, remove).await
///     }
///     async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
///         self.rest.ci_records().await
///     }
///     async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
///         self.rest.ci_record(device).await
///     }
///     async fn write_ci_records(
///         &self,
///         put: Vec<CiRecord>,
///         remove: Vec<DeviceId>,
///     ) -> Result<(), StoreError> {
///         self.rest.write_ci_records(put, remove).await
///     }
///     async fn lock_router(
///         &self,
///         integration_id: &str,
///     ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
///         self.rest.lock_router(integration_id).await
///     }
/// }
///
/// // The contract suite (feature `test-util`) checks every rule above.
/// # #[cfg(feature = "test-util")]
/// futures::executor::block_on(ninjaone_servicenow::testing::store_contract(
///     &TableStore::default(),
/// ));
/// ```
#[async_trait]
pub trait ConfigStore: Send + Sync + Debug {
    /// Every configuration, ordered by organization.
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError>;

    /// One organization's configuration, if any.
    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError>;

    /// The stored configurations of `organizations`, ordered by organization; organizations
    /// without one are left out.
    ///
    /// The default body reads them one by one with [`config`](Self::config); a store that can
    /// read them in one request (a database) should override it.
    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        let mut found = Vec::with_capacity(organizations.len());
        for &organization in organizations {
            if let Some(config) = self.config(organization).await? {
                found.push(config);
            }
        }
        found.sort_by_key(SyncConfig::organization);
        found.dedup_by_key(|c| c.organization());
        Ok(found)
    }

    /// Writes a batch atomically and returns the configurations as stored (with their new
    /// versions), in the batch's order; see [the rules](Self#rules) (versions, duplicate keys,
    /// atomic writes).
    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError>;

    /// The integration mode; [`IntegrationMode::Disabled`] until one is set.
    async fn mode(&self) -> Result<IntegrationMode, StoreError>;

    /// Sets the integration mode.
    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError>;

    /// Every CI mapping, ordered by name.
    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError>;

    /// Creates or replaces a CI mapping (by name).
    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError>;

    /// Deletes a CI mapping; `false` when there was none by that name.
    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError>;

    /// Every ticket template, ordered by name.
    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError>;

    /// Creates or replaces a ticket template (by name). When it is the default, the template
    /// that was the default loses the flag in the same write, so there is never more than one.
    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError>;

    /// Deletes a ticket template; `false` when there was none by that name.
    ///
    /// The store does not check whether a configuration names it: the
    /// [service](crate::engine::OrganizationSync::delete_ticket_template) refuses that, and a
    /// configuration naming a template that is gone has its alerts skipped, never routed with
    /// another template.
    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError>;

    /// Audit entries matching `filter`, oldest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;

    /// Writes one configuration; see [`write`](Self::write).
    async fn write_config(&self, config: SyncConfig) -> Result<SyncConfig, StoreError> {
        let organization = config.organization();
        self.write(WriteBatch::new().config(config))
            .await?
            .pop()
            .ok_or_else(|| {
                StoreError::new(
                    StoreErrorKind::Unavailable,
                    format!("the store returned nothing for organization {organization}'s write"),
                )
            })
    }

    /// Every alert → ticket record, ordered by alert uid.
    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError>;

    /// One alert's ticket record, if any: the record [`ticket_records`](Self::ticket_records)
    /// lists for `alert`.
    ///
    /// A webhook delivery reads only its alert's record, so this must be a point read (a
    /// primary-key lookup), not a filtered listing: a delivery's cost must not grow with the
    /// tickets made. Required (no default body): a default over the listing would be exactly
    /// that growing cost.
    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError>;

    /// Inserts or replaces (by alert uid) the records in `put` and removes those of the alerts
    /// in `remove`, all together or not at all; see [the record rules](Self#records).
    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError>;

    /// Every device → configuration item record, ordered by device id.
    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError>;

    /// One device's configuration item record, if any: the record
    /// [`ci_records`](Self::ci_records) lists for `device`. A point read, for the same reason as
    /// [`ticket_record`](Self::ticket_record).
    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError>;

    /// Inserts or replaces (by device id) the records in `put` and removes those of the devices
    /// in `remove`, all together or not at all; see [the record rules](Self#records).
    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError>;

    /// Takes the incident router's lock of `integration_id` without waiting: `None` when another
    /// router holds it. While the guard lives, no other
    /// [`IncidentRouter`](crate::engine::incidents::IncidentRouter) on this state and
    /// integration id — in this process, another process or on another host sharing the
    /// store — gets it, so two passes never both create a ticket for one new alert. Locks of
    /// different integration ids are independent.
    ///
    /// **One integration id per store (or tenant).** Ticket records are keyed by alert uid
    /// alone, so two routers with *different* integration ids on one store would each take
    /// their own lock and then work on the same records (each treating the other's tickets as
    /// finished elsewhere). Give each integration its own store or PostgreSQL tenant.
    ///
    /// The crate's stores: [`MemoryStore`](crate::store::MemoryStore) a flag shared by its
    /// clones; [`JsonFileStore`](crate::store::JsonFileStore) a flag on top of the file lock it
    /// holds for its lifetime (another process cannot open the file at all);
    /// `PostgresStore` a session-level advisory lock keyed by tenant and integration id.
    /// A guard dropped without [`release`](RouterGuard::release) frees the lock too.
    ///
    /// Required (no default body): a default could only fail at run time.
    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError>;

    /// Appends audit entries; see [`write`](Self::write).
    async fn append_audit(&self, entries: Vec<AuditEntry>) -> Result<(), StoreError> {
        self.write(WriteBatch {
            configs: Vec::new(),
            audit: entries,
        })
        .await
        .map(drop)
    }
}
