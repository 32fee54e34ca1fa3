//! [`FakeServiceNow`]: an in-memory ServiceNow Table API (companies, customer accounts,
//! incidents) and Identification and Reconciliation API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Timelike, Utc};

use super::faults::Faults;
use super::tenant::{customer_name, fixed_time};
use crate::model::{Case, CiItem, Company, CustomerAccount, Incident, SysId, User, UserGroup};

mod api;
mod cmdb;
mod tables;

pub use self::cmdb::{DEFAULT_DATA_SOURCES, StoredCi};

/// An in-memory [`ServiceNowApi`](crate::ports::ServiceNowApi).
///
/// - Companies, customer accounts and incidents are paged in `sys_id` order; the cursor is the
///   last `sys_id` of the previous page and `next` is set whenever a page is full. A cursor that
///   is not a `sys_id` is an [`ApiErrorKind::Other`](crate::ports::ApiErrorKind::Other).
/// - `sys_ids` are generated from a counter as 32 lowercase hex digits, so rows created later sort
///   later. Company names are not unique (ServiceNow does not enforce it), nor are incidents'
///   `correlation_id`s.
/// - Groups (`sys_user_group`) and users (`sys_user`) are read one by one, as ticket templates
///   need them; an inactive one is still read (with `active: false`), an unknown one is `None`.
/// - Customer accounts extend `core_company`, as in ServiceNow: each account is also listed as a
///   company and readable through [`company`](crate::ports::ServiceNowApi::company).
/// - Without Customer Service Management (the default), the customer-account and case calls fail
///   with [`ApiErrorKind::NotFound`](crate::ports::ApiErrorKind::NotFound) (`invalid table customer_account`).
/// - Incidents and cases are listed by correlation-id prefix and `created_since` (compared with
///   `sys_created_on`, the fake's time when the row was written).
/// - Time is [`set_now`](Self::set_now)'s (whole seconds, as ServiceNow stores them), starting at
///   [`fixed_time`](super::fixed_time); the system clock is never read.
/// - Every call goes through [`Faults`] ([`faults`](Self::faults)) under its
///   [`ServiceNowMethod`](super::ServiceNowMethod) (every one in
///   [`ALL`](super::ServiceNowMethod::ALL)); `create_company`,
///   `create_incident`, `update_incident`, `create_case`, `update_case` and
///   `identify_reconcile` count as writes ([`is_write`](super::ServiceNowMethod::is_write)).
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
}

impl FakeServiceNow {
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
}

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
