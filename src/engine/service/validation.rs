//! What a configuration must satisfy before it is saved: company, customer account, CI
//! mappings and ticket template checked against the remote and the store.

use std::collections::BTreeSet;

use super::draft::ConfigChanges;
use crate::engine::OrganizationSync;
use crate::engine::error::{Problem, SyncError};
use crate::model::{CiMappingName, OrganizationId, SyncConfig, SyncStatus, SysId, TicketKind};
use crate::ports::Remote;

/// Names found while validating, for the confirmation and the saved configuration.
pub(super) struct Checked {
    pub(super) organization: Option<String>,
    pub(super) company: Option<String>,
    pub(super) account: Option<String>,
}

impl Checked {
    /// Records the names found on `config` (which already maps what was checked).
    pub(super) fn name(&self, config: &mut SyncConfig) {
        if let Some(name) = &self.organization {
            config.see_organization_name(name);
        }
        if let Some(name) = &self.company {
            config.see_company_name(name);
        }
        if let Some(name) = &self.account {
            config.see_customer_account_name(name);
        }
    }
}

impl OrganizationSync {
    pub(super) async fn role_ids(
        &self,
    ) -> Result<std::collections::HashSet<crate::model::DeviceRoleId>, SyncError> {
        let page = self.ninja.device_roles().await.map_err(SyncError::remote(
            Remote::NinjaOne,
            "could not list NinjaOne's device roles",
        ))?;
        Ok(page.items.iter().map(|r| r.id).collect())
    }

    /// Checks the references of a configuration a person asked to save, collecting every
    /// problem.
    pub(super) async fn validate(
        &self,
        organization: OrganizationId,
        check_organization: bool,
        company: Option<&SysId>,
        account: Option<&SysId>,
        mappings: Option<&BTreeSet<CiMappingName>>,
    ) -> Result<Checked, SyncError> {
        let mut problems = Vec::new();
        let mut checked = Checked {
            organization: None,
            company: None,
            account: None,
        };
        if check_organization {
            match self
                .ninja
                .organization(organization)
                .await
                .map_err(SyncError::remote(
                    Remote::NinjaOne,
                    format!("could not look up organization {organization} in NinjaOne"),
                ))? {
                Some(found) => checked.organization = Some(found.organization.name),
                None => problems.push(Problem::UnknownOrganization(organization)),
            }
        }
        if let Some(company) = company {
            match self.snow.company(company).await.map_err(SyncError::remote(
                Remote::ServiceNow,
                format!("could not look up company {company} in ServiceNow"),
            ))? {
                Some(found) => checked.company = Some(found.name),
                None => problems.push(Problem::UnknownCompany(company.clone())),
            }
            let configs = self
                .store
                .configs()
                .await
                .map_err(SyncError::store("could not read the configurations"))?;
            if let Some(holder) = configs.iter().find(|c| {
                c.organization() != organization
                    && c.status() != SyncStatus::Deleted
                    && c.company() == Some(company)
            }) {
                problems.push(Problem::CompanyTaken {
                    company: company.clone(),
                    organization: holder.organization(),
                });
            }
        }
        if let Some(account) = account {
            let installed =
                self.snow
                    .customer_service_management()
                    .await
                    .map_err(SyncError::remote(
                        Remote::ServiceNow,
                        "could not detect Customer Service Management in ServiceNow",
                    ))?;
            if installed {
                match self
                    .snow
                    .customer_account(account)
                    .await
                    .map_err(SyncError::remote(
                        Remote::ServiceNow,
                        format!("could not look up customer account {account} in ServiceNow"),
                    ))? {
                    Some(found) => checked.account = Some(found.name),
                    None => problems.push(Problem::UnknownAccount(account.clone())),
                }
            } else {
                problems.push(Problem::CustomerServiceManagementMissing);
            }
        }
        if let Some(names) = mappings.filter(|n| !n.is_empty()) {
            self.check_mappings(names, &mut problems).await?;
        }
        if problems.is_empty() {
            Ok(checked)
        } else {
            Err(SyncError::Invalid(problems))
        }
    }
}

impl OrganizationSync {
    /// Checks that a configuration using cases after `changes` maps a customer account and
    /// that Customer Service Management is installed (a changed account was checked by
    /// `validate`; an unchanged one is checked here).
    pub(super) async fn check_tickets(
        &self,
        organization: OrganizationId,
        changes: &ConfigChanges,
    ) -> Result<(), SyncError> {
        let Some(current) = self.read_config(organization).await? else {
            return Ok(()); // `edit` reports that it is not configured
        };
        let tickets = changes.tickets.unwrap_or(current.tickets());
        if tickets != TicketKind::Case {
            return Ok(());
        }
        let account = match &changes.customer_account {
            Some(account) => account.as_ref(),
            None => current.customer_account(),
        };
        if let Some(problem) = cases_problem(organization, tickets, account) {
            return Err(SyncError::Invalid(vec![problem]));
        }
        if changes.customer_account.is_none() {
            let installed =
                self.snow
                    .customer_service_management()
                    .await
                    .map_err(SyncError::remote(
                        Remote::ServiceNow,
                        "could not detect Customer Service Management in ServiceNow",
                    ))?;
            if !installed {
                return Err(SyncError::Invalid(vec![
                    Problem::CustomerServiceManagementMissing,
                ]));
            }
        }
        Ok(())
    }

    /// Checks that each named CI mapping exists and names only device roles NinjaOne has.
    pub(super) async fn check_mappings(
        &self,
        names: &BTreeSet<CiMappingName>,
        problems: &mut Vec<Problem>,
    ) -> Result<(), SyncError> {
        let stored = self
            .store
            .ci_mappings()
            .await
            .map_err(SyncError::store("could not read the CI mappings"))?;
        let mut roles = None;
        for name in names {
            let Some(mapping) = stored.iter().find(|m| m.name() == name) else {
                problems.push(Problem::UnknownMapping(name.clone()));
                continue;
            };
            if mapping.rules().len() == 0 {
                continue;
            }
            if roles.is_none() {
                roles = Some(self.role_ids().await?);
            }
            if let Some(roles) = &roles {
                problems.extend(
                    mapping
                        .rules()
                        .filter(|(role, _)| !roles.contains(role))
                        .map(|(role, _)| Problem::UnknownRole {
                            mapping: name.clone(),
                            role,
                        }),
                );
            }
        }
        Ok(())
    }
}

/// The problem of a configuration that uses cases without a customer account.
pub(super) fn cases_problem(
    organization: OrganizationId,
    tickets: TicketKind,
    account: Option<&SysId>,
) -> Option<Problem> {
    (tickets == TicketKind::Case && account.is_none())
        .then_some(Problem::CasesNeedAccount(organization))
}

pub(super) fn confirmation(org: OrganizationId, checked: &Checked, company: &SysId) -> String {
    let org_part = match &checked.organization {
        Some(name) => format!("Organization {org} ({name})"),
        None => format!("Organization {org}"),
    };
    let company_part = match &checked.company {
        Some(name) => format!("company {name:?} ({company})"),
        None => format!("company {company}"),
    };
    format!("{org_part} will be synced with {company_part} by the next pass.")
}
