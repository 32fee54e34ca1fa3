//! [`FakeServiceNow`]: an in-memory ServiceNow Table API (companies, customer accounts,
//! incidents) and Identification and Reconciliation API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};

use super::faults::{Faults, ServiceNowMethod};
use super::paging::{after_key, keys_with_prefix, page_of, page_of_keys};
use super::tenant::{customer_name, fixed_time};
use crate::model::{
    Case, CaseState, CaseUpdate, CiClass, CiItem, CiItemError, CiItemResult, CiOperation, CiOwner,
    Company, CustomerAccount, Incident, IncidentState, IncidentUpdate, NewCase, NewCompany,
    NewIncident, SysId, User, UserGroup,
};
use crate::ports::{ApiError, ApiErrorKind, IncidentQuery, Page, PageRequest, ServiceNowApi};

/// An in-memory [`ServiceNowApi`].
///
/// - Companies, customer accounts and incidents are paged in `sys_id` order; the cursor is the
///   last `sys_id` of the previous page and `next` is set whenever a page is full. A cursor that
///   is not a `sys_id` is an [`ApiErrorKind::Other`].
/// - `sys_ids` are generated from a counter as 32 lowercase hex digits, so rows created later sort
///   later. Company names are not unique (ServiceNow does not enforce it), nor are incidents'
///   `correlation_id`s.
/// - Groups (`sys_user_group`) and users (`sys_user`) are read one by one, as ticket templates
///   need them; an inactive one is still read (with `active: false`), an unknown one is `None`.
/// - Customer accounts extend `core_company`, as in ServiceNow: each account is also listed as a
///   company and readable through [`company`](ServiceNowApi::company).
/// - Without Customer Service Management (the default), the customer-account and case calls fail
///   with [`ApiErrorKind::NotFound`] (`invalid table customer_account`).
/// - Incidents and cases are listed by correlation-id prefix and `created_since` (compared with
///   `sys_created_on`, the fake's time when the row was written).
/// - Time is [`set_now`](Self::set_now)'s (whole seconds, as ServiceNow stores them), starting at
///   [`fixed_time`](super::fixed_time); the system clock is never read.
/// - Every call goes through [`Faults`] ([`faults`](Self::faults)) under its
///   [`ServiceNowMethod`] (every one in [`ServiceNowMethod::ALL`]); `create_company`,
///   `create_incident`, `update_incident`, `create_case`, `update_case` and
///   `identify_reconcile` count as writes ([`ServiceNowMethod::is_write`]).
/// - The CMDB identifies as ServiceNow's hardware rule does: `sys_object_source_info` first (the
///   source's native key names the CI it last wrote), then `serial_number`, then `name`
///   (compared without case, as ServiceNow's database compares strings), and a miss **falls
///   through**, so an item whose serial is new still updates any CI with its name —
///   another company's too (which is what the CMDB step guards against). Two CIs matching one
///   attribute are a `MULTIPLE_DUPLICATE_RECORDS` item error; an item with neither serial nor name
///   is answered `INSERT_AS_PARTIAL` (`sysId` "Unknown", `partialSysIds`, a
///   `MISSING_MATCHING_ATTRIBUTES` warning); a data source that is not one of
///   [`DEFAULT_DATA_SOURCES`] (or [`add_data_source`](Self::add_data_source)'s) fails every item
///   with ServiceNow's `INVALID_INPUT_DATA` message. Two items of one payload with the same
///   serial number (or name) reject the whole payload, as ServiceNow checks it before
///   identifying: every item is answered `DUPLICATE_PAYLOAD_RECORDS` and nothing is written.
///   `identify_reconcile_query` runs the same rule without writing; `ci_owners` reads the CIs'
///   `company`.
///
/// ```
/// use ninjaone_servicenow::model::{NewCompany, SysId};
/// use ninjaone_servicenow::ports::{PageRequest, ServiceNowApi, collect_all};
/// use ninjaone_servicenow::testing::FakeServiceNow;
/// # futures::executor::block_on(async {
/// let sn = FakeServiceNow::builder().companies(2).build();
/// let created = sn
///     .create_company(&NewCompany { name: "Contoso Dental 0001".into(), customer: true })
///     .await?;
/// // ServiceNow does not enforce unique names: there are now two.
/// let listing = collect_all(PageRequest::first(100), 10, |req| sn.companies(req)).await?;
/// assert_eq!(listing.items.iter().filter(|c| c.name == "Contoso Dental 0001").count(), 2);
/// assert_eq!(sn.company(&created.sys_id).await?, Some(created));
/// assert_eq!(sn.faults().writes(), 1);
/// # Ok::<(), ninjaone_servicenow::ports::ApiError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeServiceNow {
    state: Arc<Mutex<SnState>>,
    faults: Faults,
}

/// A configuration item as the fake's CMDB holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredCi {
    /// The CI's `sys_id`.
    pub sys_id: SysId,
    /// Its class.
    pub class_name: CiClass,
    /// Its field values, as last reconciled.
    pub values: BTreeMap<String, String>,
    /// The data source that last inserted or updated it.
    pub data_source: String,
}

#[derive(Debug)]
struct SnState {
    sys_counter: u64,
    incident_counter: u64,
    case_counter: u64,
    account_counter: u64,
    now: DateTime<Utc>,
    csm: bool,
    companies: BTreeMap<SysId, Company>,
    accounts: BTreeMap<SysId, CustomerAccount>,
    incidents: BTreeMap<SysId, Incident>,
    /// `correlation_id` → the incidents with it (not unique), so a query by correlation id
    /// costs what ServiceNow's indexed query does rather than a scan of every incident.
    incidents_by_correlation: BTreeMap<String, BTreeSet<SysId>>,
    cases: BTreeMap<SysId, Case>,
    /// As `incidents_by_correlation`, for cases.
    cases_by_correlation: BTreeMap<String, BTreeSet<SysId>>,
    work_notes: BTreeMap<SysId, Vec<String>>,
    cis: BTreeMap<SysId, StoredCi>,
    rejected_cis: BTreeMap<String, String>,
    /// `sys_object_source`: (source name, native key) → the CI last written for it.
    sources: BTreeMap<(String, String), SysId>,
    partials: BTreeMap<SysId, CiItem>,
    data_sources: BTreeSet<String>,
    groups: BTreeMap<SysId, UserGroup>,
    users: BTreeMap<SysId, User>,
}

impl Default for SnState {
    fn default() -> Self {
        Self {
            sys_counter: 0,
            incident_counter: 0,
            case_counter: 0,
            account_counter: 0,
            now: fixed_time(),
            csm: false,
            companies: BTreeMap::new(),
            accounts: BTreeMap::new(),
            incidents: BTreeMap::new(),
            incidents_by_correlation: BTreeMap::new(),
            cases: BTreeMap::new(),
            cases_by_correlation: BTreeMap::new(),
            work_notes: BTreeMap::new(),
            cis: BTreeMap::new(),
            rejected_cis: BTreeMap::new(),
            sources: BTreeMap::new(),
            partials: BTreeMap::new(),
            data_sources: DEFAULT_DATA_SOURCES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            groups: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }
}

impl SnState {
    fn next_sys_id(&mut self) -> SysId {
        loop {
            self.sys_counter = self.sys_counter.wrapping_add(1);
            // 32 hex digits always parse; a counter never repeats a live row's id in practice,
            // and the loop skips one that does.
            if let Ok(id) = format!("{:032x}", self.sys_counter).parse::<SysId>()
                && !self.companies.contains_key(&id)
                && !self.incidents.contains_key(&id)
                && !self.cases.contains_key(&id)
                && !self.cis.contains_key(&id)
                && !self.partials.contains_key(&id)
                && !self.groups.contains_key(&id)
                && !self.users.contains_key(&id)
            {
                return id;
            }
        }
    }

    fn add_company(&mut self, name: String, customer: bool) -> Company {
        let company = Company {
            sys_id: self.next_sys_id(),
            name,
            customer,
            vendor: false,
            manufacturer: false,
            parent: None,
            created_on: Some(self.now),
            updated_on: Some(self.now),
        };
        self.companies
            .insert(company.sys_id.clone(), company.clone());
        company
    }

    fn add_account(&mut self, name: String) -> CustomerAccount {
        let company = self.add_company(name, true);
        self.account_counter += 1;
        let account = CustomerAccount {
            sys_id: company.sys_id,
            name: company.name,
            number: Some(format!("ACCT{:07}", 1000 + self.account_counter)),
            customer: true,
            partner: false,
            account_code: None,
            parent: None,
            created_on: Some(self.now),
            updated_on: Some(self.now),
        };
        self.accounts
            .insert(account.sys_id.clone(), account.clone());
        account
    }

    fn add_group(&mut self, name: String) -> SysId {
        let sys_id = self.next_sys_id();
        let group = UserGroup {
            sys_id: sys_id.clone(),
            name,
            active: true,
        };
        self.groups.insert(sys_id.clone(), group);
        sys_id
    }

    fn add_user(&mut self, user_name: String) -> SysId {
        let sys_id = self.next_sys_id();
        let user = User {
            sys_id: sys_id.clone(),
            name: Some(user_name.clone()),
            user_name: Some(user_name),
            active: true,
        };
        self.users.insert(sys_id.clone(), user);
        sys_id
    }

    fn require_csm(&self) -> Result<(), ApiError> {
        if self.csm {
            Ok(())
        } else {
            Err(ApiError::new(
                ApiErrorKind::NotFound,
                "invalid table customer_account (Customer Service Management is not installed)",
            ))
        }
    }

    fn require_cases(&self) -> Result<(), ApiError> {
        if self.csm {
            Ok(())
        } else {
            Err(ApiError::new(
                ApiErrorKind::NotFound,
                "invalid table sn_customerservice_case (Customer Service Management is not \
                 installed)",
            ))
        }
    }

    /// The identifier entries in priority order: the first attribute with exactly one matching
    /// CI wins, a miss falls through to the next, two matches are an error.
    fn identify(
        &self,
        item: &CiItem,
        entries: &[(&str, Option<&String>)],
    ) -> Result<Option<SysId>, CiItemError> {
        for (key, wanted) in entries {
            let Some(wanted) = wanted else {
                continue;
            };
            // ServiceNow's database compares strings without case.
            let folded = wanted.to_lowercase();
            let hits: Vec<&SysId> = self
                .cis
                .values()
                .filter(|ci| {
                    ci.values.get(*key).is_some_and(|v| {
                        v.eq_ignore_ascii_case(wanted)
                            || (!v.is_ascii() && v.to_lowercase() == folded)
                    })
                })
                .map(|ci| &ci.sys_id)
                .collect();
            match hits.as_slice() {
                [] => {}
                [one] => return Ok(Some((*one).clone())),
                many => {
                    return Err(CiItemError {
                        kind: "MULTIPLE_DUPLICATE_RECORDS".to_owned(),
                        message: format!(
                            "Identification rule for [{}] found {} duplicate CIs matching [{key}]",
                            item.class_name,
                            many.len()
                        ),
                    });
                }
            }
        }
        Ok(None)
    }

    /// The hardware identification rule as ServiceNow runs it: `sys_object_source_info` first
    /// (the source's native key names the CI it last wrote), then `serial_number`, then `name`;
    /// a miss falls through to the next. With `commit` false (the dry run), nothing is written
    /// and an insert answers `sysId` `None` ("Unknown" on the wire).
    fn reconcile(&mut self, data_source: &str, item: &CiItem, commit: bool) -> CiItemResult {
        let mut result = CiItemResult::new(None, None, item.internal_id.clone());
        result.class_name = Some(item.class_name.as_str().to_owned());
        let error = |kind: &str, message: String| CiItemError {
            kind: kind.to_owned(),
            message,
        };
        if !self.data_sources.contains(data_source) {
            result.errors.push(error(
                "INVALID_INPUT_DATA",
                format!(
                    "In payload invalid data source [{data_source}] exist. You need to provide a \
                     valid choice value from field [discovery_source] in table [cmdb_ci]"
                ),
            ));
            return result;
        }
        let field = |key: &str| item.values.get(key).filter(|v| !v.trim().is_empty());
        let (name, serial) = (field("name"), field("serial_number"));
        if let Some(message) = name.and_then(|n| self.rejected_cis.get(n)) {
            result
                .errors
                .push(error("INVALID_INPUT_DATA", message.clone()));
            return result;
        }
        let source_key = item
            .source
            .as_ref()
            .map(|s| (s.source_name.clone(), s.source_native_key.clone()));
        let by_source = source_key
            .as_ref()
            .and_then(|key| self.sources.get(key))
            .filter(|id| self.cis.contains_key(*id))
            .cloned();
        let found = match by_source {
            Some(id) => Some(id),
            None => match self.identify(item, &[("serial_number", serial), ("name", name)]) {
                Ok(found) => found,
                Err(e) => {
                    result.errors.push(e);
                    return result;
                }
            },
        };
        if found.is_none() && name.is_none() && serial.is_none() {
            // Not enough to identify: kept as a partial payload, no CI.
            result.operation = Some(CiOperation::InsertAsPartial);
            result.warnings.push(error(
                "MISSING_MATCHING_ATTRIBUTES",
                format!(
                    "In payload no matching attributes for class [{}]: neither serial_number nor \
                     name is set",
                    item.class_name
                ),
            ));
            let partial = self.next_sys_id();
            if commit {
                self.partials.insert(partial.clone(), item.clone());
            }
            result.partial_sys_ids.push(partial);
            return result;
        }
        if let Some(id) = found {
            let Some(ci) = self.cis.get_mut(&id) else {
                return result;
            };
            let mut merged = ci.values.clone();
            merged.extend(item.values.iter().map(|(k, v)| (k.clone(), v.clone())));
            if merged == ci.values {
                result.operation = Some(CiOperation::NoChange);
            } else {
                result.operation = Some(CiOperation::Update);
                if commit {
                    ci.values = merged;
                    data_source.clone_into(&mut ci.data_source);
                }
            }
            result.sys_id = Some(id.clone());
            if commit && let Some(key) = source_key {
                self.sources.insert(key, id);
            }
            return result;
        }
        result.operation = Some(CiOperation::Insert);
        if commit {
            let sys_id = self.next_sys_id();
            self.cis.insert(
                sys_id.clone(),
                StoredCi {
                    sys_id: sys_id.clone(),
                    class_name: item.class_name.clone(),
                    values: item.values.clone(),
                    data_source: data_source.to_owned(),
                },
            );
            if let Some(key) = source_key {
                self.sources.insert(key, sys_id.clone());
            }
            result.sys_id = Some(sys_id);
        }
        result
    }
}

impl FakeServiceNow {
    /// Identifies `items` as the hardware rule does (committing them when `commit`): the whole
    /// payload is refused when two items share a serial or a name, as ServiceNow does.
    fn identify(&self, data_source: &str, items: &[CiItem], commit: bool) -> Vec<CiItemResult> {
        if let Some(rejected) = duplicate_payload(items) {
            return rejected;
        }
        let mut state = self.lock();
        items
            .iter()
            .map(|item| state.reconcile(data_source, item, commit))
            .collect()
    }

    /// An empty instance without Customer Service Management.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for a realistic instance.
    pub fn builder() -> FakeServiceNowBuilder {
        FakeServiceNowBuilder::default()
    }

    /// The fault injection and call counts of this fake (shared by its clones).
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The same instance (changes show on both sides) behind another fault injection: for
    /// example one per worker process, so one worker's calls can be stalled or failed while
    /// another's go through.
    #[must_use]
    pub fn with_faults(&self, faults: Faults) -> Self {
        Self {
            state: Arc::clone(&self.state),
            faults,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- time ----

    /// Sets the instance's time (cut to whole seconds), used for `sys_created_on` and
    /// `sys_updated_on` of rows written from now on.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.lock().now = now.with_nanosecond(0).unwrap_or(now);
    }

    /// The instance's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    // ---- companies and accounts ----

    /// Adds a company (names need not be unique) and returns its `sys_id`.
    pub fn add_company(&self, name: impl Into<String>, customer: bool) -> SysId {
        self.lock().add_company(name.into(), customer).sys_id
    }

    /// Adds a customer account (also listed as a company) and returns its `sys_id`. Works whether
    /// or not Customer Service Management is on.
    pub fn add_customer_account(&self, name: impl Into<String>) -> SysId {
        self.lock().add_account(name.into()).sys_id
    }

    /// Deletes a company (or customer account) row, as a person in ServiceNow might. `false`
    /// when there was none.
    pub fn delete_company(&self, id: &SysId) -> bool {
        let mut state = self.lock();
        state.accounts.remove(id);
        state.companies.remove(id).is_some()
    }

    /// Renames a company (or customer account). `false` when there is none.
    pub fn rename_company(&self, id: &SysId, name: impl Into<String>) -> bool {
        let mut state = self.lock();
        let name = name.into();
        let now = state.now;
        if let Some(account) = state.accounts.get_mut(id) {
            account.name.clone_from(&name);
            account.updated_on = Some(now);
        }
        match state.companies.get_mut(id) {
            Some(company) => {
                company.name = name;
                company.updated_on = Some(now);
                true
            }
            None => false,
        }
    }

    /// Turns Customer Service Management on or off.
    pub fn set_customer_service_management(&self, installed: bool) {
        self.lock().csm = installed;
    }

    /// Whether Customer Service Management is on (without counting a call or injecting a
    /// fault, unlike [`customer_service_management`](ServiceNowApi::customer_service_management)).
    pub fn has_customer_service_management(&self) -> bool {
        self.lock().csm
    }

    /// Every company (customer accounts included), in `sys_id` order.
    pub fn all_companies(&self) -> Vec<Company> {
        self.lock().companies.values().cloned().collect()
    }

    /// Every customer account, in `sys_id` order, whether or not Customer Service Management is on.
    pub fn all_customer_accounts(&self) -> Vec<CustomerAccount> {
        self.lock().accounts.values().cloned().collect()
    }

    // ---- incidents ----

    /// Every incident, in `sys_id` order (the order created).
    pub fn all_incidents(&self) -> Vec<Incident> {
        self.lock().incidents.values().cloned().collect()
    }

    /// The work notes added to an incident or case, oldest first. Work notes are a journal, as
    /// in ServiceNow: each update with a non-empty `work_notes` appends one entry, and reading
    /// the row never returns them (the HTTP fake answers `"work_notes": ""`); only this
    /// accessor shows them.
    pub fn work_notes(&self, id: &SysId) -> Vec<String> {
        self.lock().work_notes.get(id).cloned().unwrap_or_default()
    }

    /// Changes an incident as a person in ServiceNow might (for example resolving it), without
    /// faults or counts. `false` when there is none.
    pub fn set_incident_state(&self, id: &SysId, state: IncidentState) -> bool {
        let mut guard = self.lock();
        let now = guard.now;
        guard
            .incidents
            .get_mut(id)
            .map(|i| {
                i.state = state;
                i.updated_on = Some(now);
            })
            .is_some()
    }

    // ---- cases ----

    /// Every case, in `sys_id` order (the order created), whether or not Customer Service
    /// Management is on.
    pub fn all_cases(&self) -> Vec<Case> {
        self.lock().cases.values().cloned().collect()
    }

    /// Changes a case as an agent might (for example closing it), without faults or counts.
    /// `false` when there is none.
    pub fn set_case_state(&self, id: &SysId, state: CaseState) -> bool {
        let mut guard = self.lock();
        let now = guard.now;
        guard
            .cases
            .get_mut(id)
            .map(|c| {
                c.state = state;
                c.updated_on = Some(now);
            })
            .is_some()
    }

    // ---- groups and users ----

    /// Adds an active group (`sys_user_group`) and returns its `sys_id`.
    pub fn add_user_group(&self, name: impl Into<String>) -> SysId {
        self.lock().add_group(name.into())
    }

    /// Adds an active user (`sys_user`) with this login name and returns its `sys_id`.
    pub fn add_user(&self, user_name: impl Into<String>) -> SysId {
        self.lock().add_user(user_name.into())
    }

    /// Marks a group active or inactive, as an administrator might; `false` when there is none.
    /// An inactive group is still read back (ServiceNow keeps the row).
    pub fn set_user_group_active(&self, id: &SysId, active: bool) -> bool {
        self.lock()
            .groups
            .get_mut(id)
            .map(|g| g.active = active)
            .is_some()
    }

    /// Marks a user active or inactive; `false` when there is none.
    pub fn set_user_active(&self, id: &SysId, active: bool) -> bool {
        self.lock()
            .users
            .get_mut(id)
            .map(|u| u.active = active)
            .is_some()
    }

    // ---- CMDB ----

    /// Every configuration item, in `sys_id` order.
    pub fn cis(&self) -> Vec<StoredCi> {
        self.lock().cis.values().cloned().collect()
    }

    /// Makes [`identify_reconcile`](ServiceNowApi::identify_reconcile) refuse items whose `name`
    /// is `name`, with an `INVALID_INPUT_DATA` error carrying `message` (for that item only).
    pub fn reject_ci(&self, name: impl Into<String>, message: impl Into<String>) {
        self.lock().rejected_cis.insert(name.into(), message.into());
    }

    /// Stops refusing items named `name`.
    pub fn accept_ci(&self, name: &str) {
        self.lock().rejected_cis.remove(name);
    }

    /// Adds a CI as another tool or a person would (data source `Manual Entry`, no source key),
    /// without faults or counts, and returns its `sys_id`. Its `company` value is what
    /// [`ci_owners`](ServiceNowApi::ci_owners) reads.
    pub fn add_ci(&self, class_name: CiClass, values: BTreeMap<String, String>) -> SysId {
        let mut state = self.lock();
        let sys_id = state.next_sys_id();
        state.cis.insert(
            sys_id.clone(),
            StoredCi {
                sys_id: sys_id.clone(),
                class_name,
                values,
                data_source: "Manual Entry".to_owned(),
            },
        );
        sys_id
    }

    /// One CI, without faults or counts.
    pub fn ci(&self, id: &SysId) -> Option<StoredCi> {
        self.lock().cis.get(id).cloned()
    }

    /// Deletes a CI as a person might (its `sys_object_source` rows stay, pointing at nothing,
    /// as in ServiceNow). `false` when there was none.
    pub fn delete_ci(&self, id: &SysId) -> bool {
        self.lock().cis.remove(id).is_some()
    }

    /// The partial payloads kept for items answered `INSERT_AS_PARTIAL`, by `sys_id`.
    pub fn partial_payloads(&self) -> Vec<(SysId, CiItem)> {
        self.lock()
            .partials
            .iter()
            .map(|(id, item)| (id.clone(), item.clone()))
            .collect()
    }

    /// Adds a choice to `cmdb_ci.discovery_source`. The fake starts with
    /// [`DEFAULT_DATA_SOURCES`]; any other data source fails every item with ServiceNow's
    /// `INVALID_INPUT_DATA` message.
    pub fn add_data_source(&self, name: impl Into<String>) {
        self.lock().data_sources.insert(name.into());
    }
}

#[async_trait]
impl ServiceNowApi for FakeServiceNow {
    async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::Companies).await?;
        let result = after_key::<SysId>(ServiceNowMethod::Companies, &page).map(|after| {
            page_of(&self.lock().companies, after.as_ref(), page.limit(), |c| {
                Some(c.clone())
            })
        });
        admission.finish(result)
    }

    async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::Company).await?;
        let result = self.lock().companies.get(id).cloned();
        admission.finish(Ok(result))
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::CreateCompany).await?;
        let created = self
            .lock()
            .add_company(company.name.clone(), company.customer);
        self.faults.record_write(ServiceNowMethod::CreateCompany);
        admission.finish(Ok(created))
    }

    async fn customer_service_management(&self) -> Result<bool, ApiError> {
        let admission = self
            .faults
            .admit(ServiceNowMethod::CustomerServiceManagement)
            .await?;
        let csm = self.lock().csm;
        admission.finish(Ok(csm))
    }

    async fn customer_accounts(
        &self,
        page: PageRequest,
    ) -> Result<Page<CustomerAccount>, ApiError> {
        let admission = self
            .faults
            .admit(ServiceNowMethod::CustomerAccounts)
            .await?;
        let result = {
            let state = self.lock();
            state.require_csm().and_then(|()| {
                after_key::<SysId>(ServiceNowMethod::CustomerAccounts, &page).map(|after| {
                    page_of(&state.accounts, after.as_ref(), page.limit(), |a| {
                        Some(a.clone())
                    })
                })
            })
        };
        admission.finish(result)
    }

    async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::CustomerAccount).await?;
        let result = {
            let state = self.lock();
            state
                .require_csm()
                .map(|()| state.accounts.get(id).cloned())
        };
        admission.finish(result)
    }

    async fn incidents(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Incident>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::Incidents).await?;
        let prefix = query.prefix.as_str();
        let result = after_key::<SysId>(ServiceNowMethod::Incidents, &page).map(|after| {
            let state = self.lock();
            let keys = keys_with_prefix(&state.incidents_by_correlation, prefix);
            page_of_keys(&state.incidents, &keys, after.as_ref(), page.limit(), |i| {
                let recent = query
                    .created_since
                    .is_none_or(|since| i.created_on.is_some_and(|c| c >= since));
                recent.then(|| i.clone())
            })
        });
        admission.finish(result)
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<Incident, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::CreateIncident).await?;
        let created = {
            let mut state = self.lock();
            state.incident_counter += 1;
            let row = Incident {
                sys_id: state.next_sys_id(),
                number: Some(format!("INC{:07}", 10_000 + state.incident_counter)),
                state: IncidentState::New,
                short_description: incident.short_description.clone(),
                description: incident.description.clone(),
                company: incident.company.clone(),
                account: incident.account.clone(),
                cmdb_ci: incident.cmdb_ci.clone(),
                correlation_id: Some(incident.correlation_id.as_str().to_owned()),
                correlation_display: Some(incident.correlation_display.clone())
                    .filter(|s| !s.is_empty()),
                urgency: Some(incident.urgency),
                impact: Some(incident.impact),
                assignment_group: incident.assignment_group.clone(),
                caller_id: incident.caller_id.clone(),
                category: incident.category.clone(),
                subcategory: incident.subcategory.clone(),
                contact_type: incident.contact_type.clone(),
                close_code: None,
                close_notes: None,
                created_on: Some(state.now),
                updated_on: Some(state.now),
            };
            state
                .incidents_by_correlation
                .entry(incident.correlation_id.as_str().to_owned())
                .or_default()
                .insert(row.sys_id.clone());
            state.incidents.insert(row.sys_id.clone(), row.clone());
            row
        };
        self.faults.record_write(ServiceNowMethod::CreateIncident);
        admission.finish(Ok(created))
    }

    async fn update_incident(
        &self,
        id: &SysId,
        update: &IncidentUpdate,
    ) -> Result<Incident, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::UpdateIncident).await?;
        let result = {
            let mut state = self.lock();
            let now = state.now;
            let updated = state.incidents.get_mut(id).map(|row| {
                if let Some(s) = update.state {
                    row.state = s;
                }
                if let Some(code) = &update.close_code {
                    row.close_code = Some(code.clone());
                }
                if let Some(notes) = &update.close_notes {
                    row.close_notes = Some(notes.clone());
                }
                row.updated_on = Some(now);
                row.clone()
            });
            // A journal: each PATCH with a value appends one entry; an empty one adds none.
            if let (Some(_), Some(note)) = (
                &updated,
                update.work_notes.as_ref().filter(|n| !n.is_empty()),
            ) {
                state
                    .work_notes
                    .entry(id.clone())
                    .or_default()
                    .push(note.clone());
            }
            updated.ok_or_else(|| {
                ApiError::new(
                    ApiErrorKind::NotFound,
                    format!("no incident has sys_id {id}"),
                )
            })
        };
        if result.is_ok() {
            self.faults.record_write(ServiceNowMethod::UpdateIncident);
        }
        admission.finish(result)
    }

    async fn cases(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Case>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::Cases).await?;
        let prefix = query.prefix.as_str();
        let result = {
            let state = self.lock();
            state.require_cases().and_then(|()| {
                after_key::<SysId>(ServiceNowMethod::Cases, &page).map(|after| {
                    let keys = keys_with_prefix(&state.cases_by_correlation, prefix);
                    page_of_keys(&state.cases, &keys, after.as_ref(), page.limit(), |c| {
                        let recent = query
                            .created_since
                            .is_none_or(|since| c.created_on.is_some_and(|at| at >= since));
                        recent.then(|| c.clone())
                    })
                })
            })
        };
        admission.finish(result)
    }

    async fn create_case(&self, case: &NewCase) -> Result<Case, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::CreateCase).await?;
        let created = {
            let mut state = self.lock();
            state.require_cases().map(|()| {
                state.case_counter += 1;
                let row = Case {
                    sys_id: state.next_sys_id(),
                    number: Some(format!("CS{:07}", 1_000 + state.case_counter)),
                    state: CaseState::New,
                    short_description: case.short_description.clone(),
                    description: case.description.clone(),
                    account: Some(case.account.clone()),
                    company: case.company.clone(),
                    cmdb_ci: case.cmdb_ci.clone(),
                    correlation_id: Some(case.correlation_id.as_str().to_owned()),
                    correlation_display: Some(case.correlation_display.clone())
                        .filter(|s| !s.is_empty()),
                    urgency: Some(case.urgency),
                    impact: Some(case.impact),
                    assignment_group: case.assignment_group.clone(),
                    category: case.category.clone(),
                    subcategory: case.subcategory.clone(),
                    contact_type: case.contact_type.clone(),
                    resolution_code: None,
                    close_notes: None,
                    created_on: Some(state.now),
                    updated_on: Some(state.now),
                };
                state
                    .cases_by_correlation
                    .entry(case.correlation_id.as_str().to_owned())
                    .or_default()
                    .insert(row.sys_id.clone());
                state.cases.insert(row.sys_id.clone(), row.clone());
                row
            })
        };
        if created.is_ok() {
            self.faults.record_write(ServiceNowMethod::CreateCase);
        }
        admission.finish(created)
    }

    async fn update_case(&self, id: &SysId, update: &CaseUpdate) -> Result<Case, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::UpdateCase).await?;
        let result = {
            let mut state = self.lock();
            let now = state.now;
            state.require_cases().and_then(|()| {
                let updated = state.cases.get_mut(id).map(|row| {
                    if let Some(s) = update.state {
                        row.state = s;
                    }
                    if let Some(code) = &update.resolution_code {
                        row.resolution_code = Some(code.clone());
                    }
                    if let Some(notes) = &update.close_notes {
                        row.close_notes = Some(notes.clone());
                    }
                    row.updated_on = Some(now);
                    row.clone()
                });
                if let (Some(_), Some(note)) = (
                    &updated,
                    update.work_notes.as_ref().filter(|n| !n.is_empty()),
                ) {
                    state
                        .work_notes
                        .entry(id.clone())
                        .or_default()
                        .push(note.clone());
                }
                updated.ok_or_else(|| {
                    ApiError::new(ApiErrorKind::NotFound, format!("no case has sys_id {id}"))
                })
            })
        };
        if result.is_ok() {
            self.faults.record_write(ServiceNowMethod::UpdateCase);
        }
        admission.finish(result)
    }

    async fn identify_reconcile(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        let admission = self
            .faults
            .admit(ServiceNowMethod::IdentifyReconcile)
            .await?;
        if data_source.trim().is_empty() {
            return admission.finish(Err(ApiError::new(
                ApiErrorKind::Other,
                "identifyreconcile: sysparm_data_source is required",
            )));
        }
        let results = self.identify(data_source, items, true);
        self.faults
            .record_write(ServiceNowMethod::IdentifyReconcile);
        admission.finish(Ok(results))
    }

    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        let admission = self
            .faults
            .admit(ServiceNowMethod::IdentifyReconcileQuery)
            .await?;
        let results = self.identify(data_source, items, false);
        admission.finish(Ok(results))
    }

    async fn ci_owners(&self, ids: &[SysId]) -> Result<Vec<CiOwner>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::CiOwners).await?;
        let owners = {
            let state = self.lock();
            ids.iter()
                .filter_map(|id| state.cis.get(id))
                .map(|ci| {
                    let mut owner = CiOwner::new(
                        ci.sys_id.clone(),
                        ci.values.get("name").cloned(),
                        ci.values.get("company").and_then(|c| c.parse().ok()),
                    );
                    owner.class_name = Some(ci.class_name.as_str().to_owned());
                    owner
                })
                .collect()
        };
        admission.finish(Ok(owners))
    }

    async fn user_group(&self, id: &SysId) -> Result<Option<UserGroup>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::UserGroup).await?;
        let found = self.lock().groups.get(id).cloned();
        admission.finish(Ok(found))
    }

    async fn user(&self, id: &SysId) -> Result<Option<User>, ApiError> {
        let admission = self.faults.admit(ServiceNowMethod::User).await?;
        let found = self.lock().users.get(id).cloned();
        admission.finish(Ok(found))
    }
}

/// ServiceNow's check of a payload before it identifies anything: two items with the same value
/// of a criterion attribute of the hardware rule (`serial_number`, then `name`) reject the whole
/// payload, every item answered `DUPLICATE_PAYLOAD_RECORDS` and nothing processed. `None` when
/// the payload has no such pair.
fn duplicate_payload(items: &[CiItem]) -> Option<Vec<CiItemResult>> {
    let (first, second, field) = ["serial_number", "name"].into_iter().find_map(|field| {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        items.iter().enumerate().find_map(|(index, item)| {
            let value = item.values.get(field).map(|v| v.trim())?;
            if value.is_empty() {
                return None;
            }
            seen.insert(value, index)
                .map(|earlier| (earlier, index, field))
        })
    })?;
    let class = items.get(first).map_or("", |i| i.class_name.as_str());
    let message = format!(
        "Found duplicate items in the payload (index {first} and {second}), using className \
         [{class}] and fields [{field}]. Remove duplicate items from payload"
    );
    Some(
        items
            .iter()
            .map(|item| {
                let mut result = CiItemResult::new(None, None, item.internal_id.clone());
                result.class_name = Some(item.class_name.as_str().to_owned());
                result.errors.push(CiItemError {
                    kind: "DUPLICATE_PAYLOAD_RECORDS".to_owned(),
                    message: message.clone(),
                });
                result
            })
            .collect(),
    )
}

/// The `cmdb_ci.discovery_source` choices the fake accepts from the start: a base instance's
/// (`ServiceNow`, `ServiceWatch`, `SCCM`, `Manual Entry`, `Other Automated`, `ImportSet`) plus `NinjaOne` and
/// `NinjaOne RMM`, as NinjaOne's own app adds one.
pub const DEFAULT_DATA_SOURCES: [&str; 8] = [
    "ServiceNow",
    "ServiceWatch",
    "SCCM",
    "Manual Entry",
    "Other Automated",
    "ImportSet",
    "NinjaOne",
    "NinjaOne RMM",
];

/// Builds a [`FakeServiceNow`].
///
/// Generated companies come first (so they get the lowest `sys_ids`), then explicit companies and
/// accounts in the order given.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct FakeServiceNowBuilder {
    companies: usize,
    explicit_companies: Vec<(String, bool)>,
    accounts: Vec<String>,
    groups: Vec<String>,
    users: Vec<String>,
    csm: bool,
    now: Option<DateTime<Utc>>,
    faults: Option<Faults>,
}

impl FakeServiceNowBuilder {
    /// `n` customer companies named [`customer_name`](super::customer_name)`(1..=n)`: the names
    /// of [`FakeNinjaOneBuilder::organizations`](super::FakeNinjaOneBuilder::organizations)'s
    /// first `n` organizations.
    pub fn companies(mut self, n: usize) -> Self {
        self.companies = n;
        self
    }

    /// Adds a company (names need not be unique).
    pub fn company(mut self, name: impl Into<String>, customer: bool) -> Self {
        self.explicit_companies.push((name.into(), customer));
        self
    }

    /// Adds a customer account (also listed as a company).
    pub fn customer_account(mut self, name: impl Into<String>) -> Self {
        self.accounts.push(name.into());
        self
    }

    /// Adds an active group (`sys_user_group`), after the companies and accounts.
    pub fn user_group(mut self, name: impl Into<String>) -> Self {
        self.groups.push(name.into());
        self
    }

    /// Adds an active user (`sys_user`) with this login name, after the groups.
    pub fn user(mut self, user_name: impl Into<String>) -> Self {
        self.users.push(user_name.into());
        self
    }

    /// Whether Customer Service Management is installed (default: not).
    pub fn customer_service_management(mut self, installed: bool) -> Self {
        self.csm = installed;
        self
    }

    /// The instance's time (default: [`fixed_time`](super::fixed_time)).
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Uses `faults` (for example one shared with a [`FakeNinjaOne`](super::FakeNinjaOne)).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// The fake.
    #[must_use]
    pub fn build(self) -> FakeServiceNow {
        let fake = FakeServiceNow {
            state: Arc::default(),
            faults: self.faults.unwrap_or_default(),
        };
        if let Some(now) = self.now {
            fake.set_now(now);
        }
        {
            let mut state = fake.lock();
            state.csm = self.csm;
            for i in 1..=self.companies {
                state.add_company(customer_name(i), true);
            }
            for (name, customer) in self.explicit_companies {
                state.add_company(name, customer);
            }
            for name in self.accounts {
                state.add_account(name);
            }
            for name in self.groups {
                state.add_group(name);
            }
            for name in self.users {
                state.add_user(name);
            }
        }
        fake
    }
}
