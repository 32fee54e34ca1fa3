//! Ports: the async traits hosts implement or plug in — [`NinjaOneApi`], [`ServiceNowApi`] and
//! [`ConfigStore`].
//!
//! All three are object safe, `Send + Sync + Debug`, and meant to be held as `Arc<dyn …>`. Methods
//! added in later versions come with default bodies only where the default is real behaviour
//! (reading one by one, say); a method no default can honour — the ticket template storage, the
//! user and group lookups — must be implemented, so a host learns of it from the compiler
//! rather than from a failure at run time.

mod error;
mod page;
mod queue;

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use error::{ApiError, ApiErrorKind, Remote, StoreError, StoreErrorKind};
pub use page::{
    Cursor, DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE, Listing, Page, PageRequest, collect_all,
};
pub(crate) use queue::lease_end;
pub use queue::{Claim, PlannerGuard, QueueCounts, WorkItem, WorkQueue, WorkResult, WorkTask};

use crate::model::{
    Alert, AlertUid, AuditEntry, AuditFilter, Case, CaseUpdate, CiItem, CiItemResult, CiMapping,
    CiMappingName, CiOwner, CiRecord, Company, CorrelationId, CustomerAccount, DetailedDevice,
    Device, DeviceDetails, DeviceId, DeviceRole, Incident, IncidentUpdate, IntegrationMode,
    NewCase, NewCompany, NewIncident, Organization, OrganizationDetailed, OrganizationId,
    SyncConfig, SysId, TicketRecord, TicketTemplate, TicketTemplateName, User, UserGroup,
};

/// The NinjaOne public API v2, as far as the sync needs it.
///
/// Paged methods follow NinjaOne's `pageSize`/`after` paging: an implementation returns
/// `next = None` only when it knows the listing has ended (a short or empty page).
#[async_trait]
pub trait NinjaOneApi: Send + Sync + Debug {
    /// One page of organizations (`GET /v2/organizations`), ordered by id.
    async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError>;

    /// One organization with its locations and policies; `None` when it does not exist.
    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError>;

    /// Every device role (`GET /v2/roles`, not paged).
    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError>;

    /// One page of the tenant's devices (`GET /v2/devices`), ordered by id.
    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError>;

    /// One page of one organization's devices (`GET /v2/organization/{id}/devices`).
    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError>;

    /// Every open alert (`GET /v2/alerts`, not paged).
    async fn alerts(&self) -> Result<Page<Alert>, ApiError>;

    /// One device's open alerts (`GET /v2/device/{id}/alerts`, not paged): how the incident
    /// router confirms that a reset delivery's alert is really gone.
    ///
    /// # Errors
    /// As the other calls; an answer with a row that cannot be decoded is an error
    /// ([`ApiErrorKind::InvalidResponse`]), never a shorter list: that row could be the alert
    /// whose reset is being confirmed.
    async fn device_alerts(&self, device: DeviceId) -> Result<Vec<Alert>, ApiError>;

    /// One page of the tenant's devices with their details (`GET /v2/devices-detailed`, paged
    /// like [`devices`](Self::devices), ordered by id): serial number, hardware, operating
    /// system, memory, processors, disks, addresses ([`DetailedDevice`]). A row whose details
    /// are odd still decodes (the details it could not read are left out); a row whose device
    /// fields do not decode is a rejected row of the page, never a failed page.
    ///
    /// The default body lists [`devices`](Self::devices) and returns them with empty details
    /// (no serial number): an implementation written before details were read keeps working,
    /// and its devices are identified by the NinjaOne id and the name only.
    async fn devices_detailed(&self, page: PageRequest) -> Result<Page<DetailedDevice>, ApiError> {
        let page = self.devices(page).await?;
        Ok(page.map(|device| DetailedDevice::new(device, DeviceDetails::default())))
    }
}

/// Which incidents (or cases) to list: those whose `correlation_id` starts with `prefix`,
/// optionally only those created at or after `created_since`. Only validated values, so an implementation can
/// put them in an encoded query without escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncidentQuery {
    /// The correlation-id prefix (this integration's incidents).
    pub prefix: CorrelationId,
    /// Only incidents created at or after this time.
    pub created_since: Option<DateTime<Utc>>,
}

impl IncidentQuery {
    /// Incidents whose `correlation_id` starts with `prefix`.
    #[must_use]
    pub fn with_prefix(prefix: CorrelationId) -> Self {
        Self {
            prefix,
            created_since: None,
        }
    }

    /// Only those created at or after `since`.
    #[must_use]
    pub fn created_since(mut self, since: DateTime<Utc>) -> Self {
        self.created_since = Some(since);
        self
    }
}

/// The ServiceNow Table API (and the Identification and Reconciliation API), as far as the sync
/// and the incident router need it.
///
/// Paged methods must page stably (by `sys_id`), so rows written meanwhile are neither skipped nor
/// repeated.
#[async_trait]
pub trait ServiceNowApi: Send + Sync + Debug {
    /// One page of companies (`core_company`), ordered by `sys_id`.
    async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError>;

    /// One company; `None` when no row has this sys_id.
    async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError>;

    /// Creates a company and returns the created row.
    ///
    /// Not idempotent: callers look before they create again after an unknown failure.
    async fn create_company(&self, company: &NewCompany) -> Result<Company, ApiError>;

    /// Whether Customer Service Management (`com.sn_customerservice`) is installed and active.
    async fn customer_service_management(&self) -> Result<bool, ApiError>;

    /// One page of customer accounts (`customer_account`), ordered by `sys_id`.
    ///
    /// An error of kind [`ApiErrorKind::NotFound`] when Customer Service Management is not
    /// installed.
    async fn customer_accounts(&self, page: PageRequest)
    -> Result<Page<CustomerAccount>, ApiError>;

    /// One customer account; `None` when no row has this sys_id.
    async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError>;

    /// One page of incidents matching `query`, ordered by `sys_id`.
    async fn incidents(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Incident>, ApiError>;

    /// Creates an incident and returns the created row. Not idempotent.
    async fn create_incident(&self, incident: &NewIncident) -> Result<Incident, ApiError>;

    /// Changes an incident and returns the updated row.
    async fn update_incident(
        &self,
        id: &SysId,
        update: &IncidentUpdate,
    ) -> Result<Incident, ApiError>;

    /// Sends configuration items through the Identification and Reconciliation API with
    /// `data_source` (a choice of `cmdb_ci.discovery_source`), returning one result per item in
    /// the order sent.
    async fn identify_reconcile(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError>;

    /// One page of Customer Service Management cases (`sn_customerservice_case`) matching
    /// `query`, ordered by `sys_id`.
    ///
    /// The default body answers [`ApiErrorKind::NotFound`]: an implementation written before
    /// cases were supported has none.
    async fn cases(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Case>, ApiError> {
        let _ = (query, page);
        Err(cases_unsupported())
    }

    /// Creates a case and returns the created row. Not idempotent.
    ///
    /// The default body answers [`ApiErrorKind::NotFound`].
    async fn create_case(&self, case: &NewCase) -> Result<Case, ApiError> {
        let _ = case;
        Err(cases_unsupported())
    }

    /// Changes a case and returns the updated row.
    ///
    /// The default body answers [`ApiErrorKind::NotFound`].
    async fn update_case(&self, id: &SysId, update: &CaseUpdate) -> Result<Case, ApiError> {
        let _ = (id, update);
        Err(cases_unsupported())
    }

    /// Runs identification for `items` **without committing anything**
    /// (`POST /api/now/identifyreconcile/query`), returning one result per item in the order
    /// sent, shaped like [`identify_reconcile`](Self::identify_reconcile)'s: the operation the
    /// write would do and the sys_id of the CI it would update (`None` for an insert). Items the
    /// API refused carry their errors, also when it answered HTTP 400 with item errors.
    ///
    /// The default body answers [`ApiErrorKind::NotFound`]: without a dry run the CMDB step
    /// cannot tell whether a first write would take over another company's CI, so it sends no
    /// device that needs one (see [`CiReport`](crate::engine::CiReport)).
    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        let _ = (data_source, items);
        Err(unsupported("the Identification and Reconciliation dry run"))
    }

    /// The owner (`company`) of each CI in `ids` that exists, read with Table API queries on
    /// `cmdb_ci` by validated sys_ids (`sys_idIN...`; the HTTP client asks 100 per query, and the
    /// CMDB step never passes more than 100 at once), in any order; CIs that do not exist (or
    /// that the user may not read) are missing from the answer.
    ///
    /// The default body answers [`ApiErrorKind::NotFound`] (then nothing that needs the check is
    /// sent).
    async fn ci_owners(&self, ids: &[SysId]) -> Result<Vec<CiOwner>, ApiError> {
        let _ = ids;
        Err(unsupported("reading CI owners"))
    }

    /// One group (`sys_user_group`), such as a ticket template's assignment group; `None` when
    /// no row has this sys_id (or the integration user may not read it: ServiceNow answers 404
    /// for both).
    async fn user_group(&self, id: &SysId) -> Result<Option<UserGroup>, ApiError>;

    /// One user (`sys_user`), such as a ticket template's caller; `None` when no row has this
    /// sys_id (or the integration user may not read it).
    async fn user(&self, id: &SysId) -> Result<Option<User>, ApiError>;
}

fn unsupported(what: &str) -> ApiError {
    ApiError::new(
        ApiErrorKind::NotFound,
        format!("{what} is not supported by this ServiceNowApi implementation; implement it"),
    )
}

fn cases_unsupported() -> ApiError {
    ApiError::new(
        ApiErrorKind::NotFound,
        "this ServiceNowApi implementation does not support Customer Service Management cases; \
         implement cases, create_case and update_case, or map the organization to incidents",
    )
}

/// A held incident-router lock ([`ConfigStore::lock_router`]). Dropping it without
/// [`release`](Self::release) frees it too (for PostgreSQL, by closing the session that holds
/// the advisory lock), only less promptly.
#[async_trait]
pub trait RouterGuard: Send + Sync + Debug {
    /// Frees the lock.
    ///
    /// # Errors
    /// When the store could not be reached; the lock is freed when the session ends anyway.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

fn records_unsupported(what: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unsupported,
        format!(
            "this ConfigStore does not keep {what}; implement the {what} methods of ConfigStore \
             (see testing::store_contract)"
        ),
    )
}

/// A set of changes a [`ConfigStore`] writes all together or not at all.
///
/// A configuration with version 0 is inserted and must not exist yet (one configuration per
/// organization); any other must carry the stored version. Audit entries are appended in order.
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
    /// organization in the same batch.
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
/// # Guarantees every implementation gives
/// - Optimistic versioning: a write of a configuration whose version is not the stored one is a
///   [`StoreErrorKind::Conflict`], never a lost update; inserting a configuration for an
///   organization that already has one is a `Conflict` too.
/// - [`write`](Self::write) is atomic: all of the batch or none of it.
/// - The audit log is append-only; entries get increasing `seq` numbers.
/// - At most one ticket template is the default.
///
/// [`testing::store_contract`](crate::testing::store_contract) (feature `test-util`) checks an
/// implementation against these rules.
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
    /// versions), in the batch's order.
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
    ///
    /// The default body answers [`StoreErrorKind::Unsupported`].
    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        Err(records_unsupported("ticket records"))
    }

    /// Inserts or replaces (by alert uid) the records in `put` and removes those of the alerts
    /// in `remove`, all together or not at all. Removing an alert that has no record is not an
    /// error. An alert in both lists is refused with [`StoreErrorKind::Invalid`].
    ///
    /// The default body answers [`StoreErrorKind::Unsupported`].
    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        let _ = (put, remove);
        Err(records_unsupported("ticket records"))
    }

    /// Every device → configuration item record, ordered by device id.
    ///
    /// The default body answers [`StoreErrorKind::Unsupported`].
    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        Err(records_unsupported("CI records"))
    }

    /// Inserts or replaces (by device id) the records in `put` and removes those of the devices
    /// in `remove`, all together or not at all; as
    /// [`write_ticket_records`](Self::write_ticket_records).
    ///
    /// The default body answers [`StoreErrorKind::Unsupported`].
    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        let _ = (put, remove);
        Err(records_unsupported("CI records"))
    }

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
