//! [`ServiceNowApi`]: the ServiceNow Table API and Identification and Reconciliation port, with
//! the [`IncidentQuery`] its ticket listings take.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ApiError, Page, PageRequest};
use crate::model::{
    Case, CaseUpdate, CiItem, CiItemResult, CiOwner, Company, CorrelationId, CustomerAccount,
    Incident, IncidentUpdate, NewCase, NewCompany, NewIncident, SysId, User, UserGroup,
};

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
/// This is an [`#[async_trait]`](macro@async_trait) trait: put `#[async_trait]`
/// ([`ports::async_trait`](macro@crate::ports::async_trait)) on the `impl` block, or each method
/// fails with E0195 (see [`ConfigStore`](super::ConfigStore)). Every method is required — the case methods, the
/// dry run and the CI owners too, so an implementation that lacks one does not compile instead
/// of failing the first incident or CMDB pass; an implementation for an instance without a
/// feature answers [`ApiErrorKind::NotFound`](super::ApiErrorKind::NotFound) there, as the instance does. A wrapper forwards
/// each method (shortened here; [`NinjaOneApi`](super::NinjaOneApi) shows a whole one):
///
/// ```
/// use std::sync::Arc;
///
/// use ninjaone_servicenow::model::{Company, NewCompany, SysId};
/// use ninjaone_servicenow::ports::{ApiError, Page, PageRequest, ServiceNowApi, async_trait};
/// # use ninjaone_servicenow::model::*;
/// # use ninjaone_servicenow::ports::IncidentQuery;
///
/// #[derive(Debug)]
/// struct ReadOnly(Arc<dyn ServiceNowApi>);
///
/// #[async_trait]
/// impl ServiceNowApi for ReadOnly {
///     async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError> {
///         self.0.companies(page).await
///     }
///     async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError> {
///         self.0.company(id).await
///     }
///     async fn create_company(&self, _: &NewCompany) -> Result<Company, ApiError> {
///         Err(ApiError::new(
///             ninjaone_servicenow::ports::ApiErrorKind::Forbidden,
///             "this integration is read-only; use the full client to create companies",
///         ))
///     }
/// #   async fn customer_service_management(&self) -> Result<bool, ApiError> { self.0.customer_service_management().await }
/// #   async fn customer_accounts(&self, page: PageRequest) -> Result<Page<CustomerAccount>, ApiError> { self.0.customer_accounts(page).await }
/// #   async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError> { self.0.customer_account(id).await }
/// #   async fn incidents(&self, q: &IncidentQuery, page: PageRequest) -> Result<Page<Incident>, ApiError> { self.0.incidents(q, page).await }
/// #   async fn create_incident(&self, i: &NewIncident) -> Result<Incident, ApiError> { self.0.create_incident(i).await }
/// #   async fn update_incident(&self, id: &SysId, u: &IncidentUpdate) -> Result<Incident, ApiError> { self.0.update_incident(id, u).await }
/// #   async fn identify_reconcile(&self, d: &str, i: &[CiItem]) -> Result<Vec<CiItemResult>, ApiError> { self.0.identify_reconcile(d, i).await }
/// #   async fn cases(&self, q: &IncidentQuery, page: PageRequest) -> Result<Page<Case>, ApiError> { self.0.cases(q, page).await }
/// #   async fn create_case(&self, c: &NewCase) -> Result<Case, ApiError> { self.0.create_case(c).await }
/// #   async fn update_case(&self, id: &SysId, u: &CaseUpdate) -> Result<Case, ApiError> { self.0.update_case(id, u).await }
/// #   async fn identify_reconcile_query(&self, d: &str, i: &[CiItem]) -> Result<Vec<CiItemResult>, ApiError> { self.0.identify_reconcile_query(d, i).await }
/// #   async fn ci_owners(&self, ids: &[SysId]) -> Result<Vec<CiOwner>, ApiError> { self.0.ci_owners(ids).await }
/// #   async fn user_group(&self, id: &SysId) -> Result<Option<UserGroup>, ApiError> { self.0.user_group(id).await }
/// #   async fn user(&self, id: &SysId) -> Result<Option<User>, ApiError> { self.0.user(id).await }
///     // … every other method forwards the same way.
/// }
/// ```
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
    /// An error of kind [`ApiErrorKind::NotFound`](super::ApiErrorKind::NotFound) when Customer Service Management is not
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
    /// An instance without Customer Service Management answers [`ApiErrorKind::NotFound`](super::ApiErrorKind::NotFound).
    async fn cases(&self, query: &IncidentQuery, page: PageRequest)
    -> Result<Page<Case>, ApiError>;

    /// Creates a case and returns the created row. Not idempotent.
    async fn create_case(&self, case: &NewCase) -> Result<Case, ApiError>;

    /// Changes a case and returns the updated row.
    async fn update_case(&self, id: &SysId, update: &CaseUpdate) -> Result<Case, ApiError>;

    /// Runs identification for `items` **without committing anything**
    /// (`POST /api/now/identifyreconcile/query`), returning one result per item in the order
    /// sent, shaped like [`identify_reconcile`](Self::identify_reconcile)'s: the operation the
    /// write would do and the sys_id of the CI it would update (`None` for an insert). Items the
    /// API refused carry their errors, also when it answered HTTP 400 with item errors.
    ///
    /// An answer of kind [`ApiErrorKind::NotFound`](super::ApiErrorKind::NotFound) (an instance without the dry run) is not a
    /// failure of the pass: without a dry run the CMDB step cannot tell whether a first write
    /// would take over another company's CI, so it sends no device that needs one (see
    /// [`CiReport`](crate::engine::CiReport)).
    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError>;

    /// The owner (`company`) of each CI in `ids` that exists, read with Table API queries on
    /// `cmdb_ci` by validated sys_ids (`sys_idIN...`; the HTTP client asks 100 per query, and the
    /// CMDB step never passes more than 100 at once), in any order; CIs that do not exist (or
    /// that the user may not read) are missing from the answer.
    ///
    /// An answer of kind [`ApiErrorKind::NotFound`](super::ApiErrorKind::NotFound) sends nothing that needs the check.
    async fn ci_owners(&self, ids: &[SysId]) -> Result<Vec<CiOwner>, ApiError>;

    /// One group (`sys_user_group`), such as a ticket template's assignment group; `None` when
    /// no row has this sys_id (or the integration user may not read it: ServiceNow answers 404
    /// for both).
    async fn user_group(&self, id: &SysId) -> Result<Option<UserGroup>, ApiError>;

    /// One user (`sys_user`), such as a ticket template's caller; `None` when no row has this
    /// sys_id (or the integration user may not read it).
    async fn user(&self, id: &SysId) -> Result<Option<User>, ApiError>;
}
