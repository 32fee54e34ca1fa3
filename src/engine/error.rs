//! [`SyncError`]: why the [`OrganizationSync`](super::OrganizationSync) service refused or
//! failed an act.

use std::fmt;

use crate::machine::TransitionError;
use crate::model::{CiMappingName, DeviceRoleId, OrganizationId, SysId, TicketTemplateName};
use crate::ports::{ApiError, StoreError};

/// Why a manual add is refused in the current mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddRefusal {
    /// Active mode: every organization is synced automatically.
    AutomaticSyncOn,
    /// Disabled mode: nothing is synced.
    IntegrationDisabled,
}

impl fmt::Display for AddRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AutomaticSyncOn => "automatic sync is on",
            Self::IntegrationDisabled => "the integration is disabled",
        })
    }
}

/// One thing wrong with a configuration or CI mapping a person asked to save.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// NinjaOne has no organization with this id.
    UnknownOrganization(OrganizationId),
    /// ServiceNow has no company with this sys_id.
    UnknownCompany(SysId),
    /// The company is already mapped to another organization.
    CompanyTaken {
        /// The company.
        company: SysId,
        /// The organization whose configuration holds it.
        organization: OrganizationId,
    },
    /// The store has no CI mapping with this name.
    UnknownMapping(CiMappingName),
    /// A CI mapping names a device role NinjaOne does not have.
    UnknownRole {
        /// The mapping.
        mapping: CiMappingName,
        /// The role.
        role: DeviceRoleId,
    },
    /// A customer account was given but Customer Service Management is not installed.
    CustomerServiceManagementMissing,
    /// Customer Service Management has no account with this sys_id.
    UnknownAccount(SysId),
    /// The configuration uses Customer Service Management cases but maps no customer account.
    CasesNeedAccount(OrganizationId),
    /// The CI mapping is used by these organizations' configurations.
    MappingInUse {
        /// The mapping.
        mapping: CiMappingName,
        /// The organizations using it.
        organizations: Vec<OrganizationId>,
    },
    /// ServiceNow has no group (`sys_user_group`) with this sys_id for a template's
    /// assignment group (or the integration user may not read it).
    UnknownAssignmentGroup(SysId),
    /// A template's assignment group is inactive in ServiceNow.
    InactiveAssignmentGroup(SysId),
    /// ServiceNow has no user (`sys_user`) with this sys_id for a template's caller (or the
    /// integration user may not read it).
    UnknownCaller(SysId),
    /// A template's caller is an inactive user in ServiceNow.
    InactiveCaller(SysId),
    /// The store has no ticket template with this name.
    UnknownTicketTemplate(TicketTemplateName),
    /// The ticket template is named by these organizations' configurations.
    TicketTemplateInUse {
        /// The template.
        template: TicketTemplateName,
        /// The organizations naming it.
        organizations: Vec<OrganizationId>,
    },
}

/// ", 1, 2" after "organization" / "organizations".
fn write_organizations(
    f: &mut fmt::Formatter<'_>,
    organizations: &[OrganizationId],
) -> fmt::Result {
    f.write_str(if organizations.len() > 1 {
        "organizations"
    } else {
        "organization"
    })?;
    for (i, id) in organizations.iter().enumerate() {
        write!(f, "{}{id}", if i == 0 { " " } else { ", " })?;
    }
    Ok(())
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownOrganization(id) => write!(f, "NinjaOne has no organization {id}"),
            Self::UnknownCompany(id) => write!(f, "ServiceNow has no company {id}"),
            Self::CompanyTaken {
                company,
                organization,
            } => write!(
                f,
                "company {company} is already mapped to organization {organization}"
            ),
            Self::UnknownMapping(name) => write!(f, "there is no CI mapping {:?}", name.as_str()),
            Self::UnknownRole { mapping, role } => write!(
                f,
                "CI mapping {:?} names device role {role}, which NinjaOne does not have",
                mapping.as_str()
            ),
            Self::CustomerServiceManagementMissing => f.write_str(
                "a customer account needs Customer Service Management, which is not installed",
            ),
            Self::UnknownAccount(id) => write!(f, "there is no customer account {id}"),
            Self::CasesNeedAccount(org) => write!(
                f,
                "organization {org}'s alerts cannot become cases without a customer account; map \
                 one, or keep incidents"
            ),
            Self::MappingInUse {
                mapping,
                organizations,
            } => {
                write!(
                    f,
                    "CI mapping {:?} is used by organization",
                    mapping.as_str()
                )?;
                if organizations.len() > 1 {
                    f.write_str("s")?;
                }
                for (i, id) in organizations.iter().enumerate() {
                    write!(f, "{}{id}", if i == 0 { " " } else { ", " })?;
                }
                Ok(())
            }
            Self::UnknownAssignmentGroup(id) => write!(
                f,
                "ServiceNow has no group {id} (sys_user_group) for the assignment group, or the \
                 integration user may not read it"
            ),
            Self::InactiveAssignmentGroup(id) => write!(
                f,
                "the assignment group {id} is inactive in ServiceNow; choose an active group"
            ),
            Self::UnknownCaller(id) => write!(
                f,
                "ServiceNow has no user {id} (sys_user) for the caller, or the integration user \
                 may not read it"
            ),
            Self::InactiveCaller(id) => write!(
                f,
                "the caller {id} is an inactive user in ServiceNow; choose an active user"
            ),
            Self::UnknownTicketTemplate(name) => {
                write!(f, "there is no ticket template {:?}", name.as_str())
            }
            Self::TicketTemplateInUse {
                template,
                organizations,
            } => {
                write!(f, "ticket template {:?} is used by ", template.as_str())?;
                write_organizations(f, organizations)
            }
        }
    }
}

/// Why the [`OrganizationSync`](super::OrganizationSync) service refused or failed an act.
///
/// Refusals ([`PermissionDenied`](Self::PermissionDenied), [`AddRefused`](Self::AddRefused),
/// [`Invalid`](Self::Invalid), …) change nothing and are recorded in the audit log. `Display`
/// says what went wrong and what to do; the cause of [`Remote`](Self::Remote) and
/// [`Store`](Self::Store) is reachable through `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The actor may not do this.
    #[error("{actor} may not {act}: {reason}")]
    PermissionDenied {
        /// The actor's name.
        actor: String,
        /// What they tried, in words.
        act: String,
        /// Why not.
        reason: String,
    },
    /// Manual add is not available in this mode.
    #[error("organizations cannot be added by hand: {0}")]
    AddRefused(AddRefusal),
    /// The organization already has a configuration (one per organization).
    #[error("organization {0} already has a sync configuration; update it instead")]
    AlreadyConfigured(OrganizationId),
    /// The organization has no configuration.
    #[error(
        "organization {0} has no sync configuration; add it (inactive mode) or let active mode \
         create it"
    )]
    NotConfigured(OrganizationId),
    /// What was asked for does not check out; nothing was saved.
    #[error("nothing was saved: {}", ProblemList(.0))]
    Invalid(Vec<Problem>),
    /// The configuration's status does not allow the act (for example editing a deleted one).
    #[error("{0}{hint}", hint = transition_hint(.0.status, .0.event))]
    Transition(#[from] TransitionError),
    /// The configuration kept changing under the act (a pass or another person); nothing was
    /// saved.
    #[error(
        "organization {0}'s configuration kept changing while it was being saved; nothing was \
         saved, try again"
    )]
    Conflict(OrganizationId),
    /// A remote call needed to check the request failed; nothing was saved.
    #[error("{context}")]
    Remote {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: ApiError,
    },
    /// The store failed.
    #[error("{context}")]
    Store {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: StoreError,
    },
}

impl SyncError {
    pub(crate) fn store(context: impl Into<String>) -> impl FnOnce(StoreError) -> Self {
        let context = context.into();
        move |source| Self::Store { context, source }
    }

    pub(crate) fn remote(context: impl Into<String>) -> impl FnOnce(ApiError) -> Self {
        let context = context.into();
        move |source| Self::Remote { context, source }
    }

    /// Whether this is a refusal (nothing was attempted remotely, the request itself is not
    /// allowed or not valid), as opposed to a failure of a remote API or the store.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Remote { .. } | Self::Store { .. })
    }
}

/// What to do about a refused transition, when there is something to say.
fn transition_hint(
    status: crate::model::SyncStatus,
    event: crate::machine::SyncEvent,
) -> &'static str {
    use crate::machine::SyncEvent;
    use crate::model::SyncStatus;
    match (status, event) {
        (SyncStatus::Deleted, _) => "; restore it first",
        (_, SyncEvent::Restore) => "; only a deleted configuration can be restored",
        _ => "",
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}
