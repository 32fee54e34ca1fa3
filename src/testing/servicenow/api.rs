//! `impl ServiceNowApi for FakeServiceNow`: each call through `Faults`, then its table.

use async_trait::async_trait;

use super::FakeServiceNow;
use crate::model::{
    Case, CaseState, CaseUpdate, CiItem, CiItemResult, CiOwner, Company, CustomerAccount, Incident,
    IncidentState, IncidentUpdate, NewCase, NewCompany, NewIncident, SysId, User, UserGroup,
};
use crate::ports::{ApiError, ApiErrorKind, IncidentQuery, Page, PageRequest, ServiceNowApi};
use crate::testing::faults::ServiceNowMethod;
use crate::testing::paging::{after_key, keys_with_prefix, page_of, page_of_keys};

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
            if updated.is_some() {
                state.journal(id, update.work_notes.as_deref());
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
                if updated.is_some() {
                    state.journal(id, update.work_notes.as_deref());
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
