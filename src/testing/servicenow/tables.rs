//! The fake's Table API rows: companies, accounts, incidents, cases, groups, users.

use super::{FakeServiceNow, SnState};
use crate::model::{
    Case, CaseState, Company, CustomerAccount, Incident, IncidentState, SysId, User, UserGroup,
};
use crate::ports::{ApiError, ApiErrorKind};

impl SnState {
    /// Appends a non-empty work note to the journal of the incident or case `id` (an empty
    /// one adds none), as each PATCH with a value does in ServiceNow.
    pub(super) fn journal(&mut self, id: &SysId, note: Option<&str>) {
        if let Some(note) = note.filter(|n| !n.is_empty()) {
            self.work_notes
                .entry(id.clone())
                .or_default()
                .push(note.to_owned());
        }
    }

    pub(super) fn add_company(&mut self, name: String, customer: bool) -> Company {
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

    pub(super) fn add_account(&mut self, name: String) -> CustomerAccount {
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

    pub(super) fn add_group(&mut self, name: String) -> SysId {
        let sys_id = self.next_sys_id();
        let group = UserGroup {
            sys_id: sys_id.clone(),
            name,
            active: true,
        };
        self.groups.insert(sys_id.clone(), group);
        sys_id
    }

    pub(super) fn add_user(&mut self, user_name: String) -> SysId {
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

    pub(super) fn require_csm(&self) -> Result<(), ApiError> {
        if self.csm {
            Ok(())
        } else {
            Err(ApiError::new(
                ApiErrorKind::NotFound,
                "invalid table customer_account (Customer Service Management is not installed)",
            ))
        }
    }

    pub(super) fn require_cases(&self) -> Result<(), ApiError> {
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
}

impl FakeServiceNow {
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
    /// fault, unlike [`customer_service_management`](crate::ports::ServiceNowApi::customer_service_management)).
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
}
