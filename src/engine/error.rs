//! [`SyncError`]: why the [`OrganizationSync`](super::OrganizationSync) service refused or
//! failed an act.

use std::fmt;

use super::incidents::report::IncidentReport;
use super::outcome::Stop;
use super::report::Report;
use super::worker::reports::{WorkPlan, WorkerReport};
use crate::machine::TransitionError;
use crate::model::{CiMappingName, DeviceRoleId, OrganizationId, SysId, TicketTemplateName};
use crate::ports::{ApiError, Remote, StoreError};

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
            Self::AutomaticSyncOn => {
                "automatic sync is on (active mode); every organization is added by the \
                 passes, so switch to inactive mode to choose them by hand"
            }
            Self::IntegrationDisabled => {
                "the integration is disabled; switch to inactive mode to add organizations by \
                 hand"
            }
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

/// Why the [`OrganizationSync`](super::OrganizationSync) service (or the
/// [`IncidentRouter`](super::incidents::IncidentRouter)) refused or failed an act.
///
/// Refusals ([`PermissionDenied`](Self::PermissionDenied), [`AddRefused`](Self::AddRefused),
/// [`Invalid`](Self::Invalid), …) change nothing and the acts' refusals are recorded in the
/// audit log (a question such as [`can_add`](super::OrganizationSync::can_add) records none).
///
/// `Display` says what failed, why and what to do, each once: for [`Remote`](Self::Remote) and
/// [`Store`](Self::Store) the context, then the port's error (its kind, its message and its
/// advice, or the [`Remote::action`] for the kind). `source()` is the port error's own cause (a
/// transport or database error), never repeated by `Display`; print the whole chain with
/// [`ErrorChain`](super::ErrorChain).
///
/// ```
/// use ninjaone_servicenow::engine::{ErrorChain, SyncError};
/// use ninjaone_servicenow::ports::{ApiError, ApiErrorKind, Remote};
///
/// let err = SyncError::Remote {
///     remote: Remote::ServiceNow,
///     context: "could not look up company 0c1e in ServiceNow".to_owned(),
///     error: ApiError::new(ApiErrorKind::Unauthorized, "ServiceNow answered 401 to GET core_company"),
/// };
/// assert_eq!(
///     ErrorChain(&err).to_string(),
///     "could not look up company 0c1e in ServiceNow: unauthorized: ServiceNow answered 401 to \
///      GET core_company; check the ServiceNow user name and password (and the OAuth client)"
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncError {
    /// The actor may not do this.
    PermissionDenied {
        /// The actor's name.
        actor: String,
        /// What they tried, in words.
        act: String,
        /// Why not.
        reason: String,
    },
    /// Manual add is not available in this mode.
    AddRefused(AddRefusal),
    /// The organization already has a configuration (one per organization).
    AlreadyConfigured(OrganizationId),
    /// The organization has no configuration.
    NotConfigured(OrganizationId),
    /// What was asked for does not check out; nothing was saved.
    Invalid(Vec<Problem>),
    /// The configuration's status does not allow the act (for example editing a deleted one).
    Transition(TransitionError),
    /// The configuration kept changing under the act (a pass or another person); nothing was
    /// saved.
    Conflict(OrganizationId),
    /// A remote call needed to check the request failed; nothing was saved.
    Remote {
        /// Which remote.
        remote: Remote,
        /// What was being done.
        context: String,
        /// The failure.
        error: ApiError,
    },
    /// The store failed.
    Store {
        /// What was being done.
        context: String,
        /// The failure.
        error: StoreError,
    },
    /// A pass stopped because the integration's own credentials were refused (401 or 403):
    /// no further write was started and no status was changed for it (see
    /// [`Stop::Credentials`]). The report of what the pass did up to the stop is kept, so a
    /// host loop that only logs its errors sees a dead integration, and one that wants the
    /// report still has it.
    CredentialsRefused(Box<CredentialsRefused>),
}

/// What [`SyncError::CredentialsRefused`] carries: the stop and the report of the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialsRefused {
    /// The remote that refused the credentials.
    pub remote: Remote,
    /// The refusal and the one fix that applies, without secrets.
    pub message: String,
    /// What the pass did until it stopped (its `stop` is the [`Stop::Credentials`]).
    pub report: StoppedReport,
}

/// The report of a pass stopped by refused credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoppedReport {
    /// An organization sync pass
    /// ([`OrganizationSync::run_once`](super::OrganizationSync::run_once)).
    Sync(Box<Report>),
    /// An incident pass ([`IncidentRouter::run_once`](super::incidents::IncidentRouter::run_once)).
    Incidents(Box<IncidentReport>),
    /// The planner half of a distributed pass
    /// ([`OrganizationSync::plan_work`](super::OrganizationSync::plan_work)): its report and
    /// what it had enqueued before the stop.
    Plan(Box<WorkPlan>),
    /// A worker ([`OrganizationSync::run_worker`](super::OrganizationSync::run_worker)): what
    /// it claimed, applied and deferred until the stop.
    Worker(Box<WorkerReport>),
}

/// `Err(CredentialsRefused)` for a finished sync report stopped by refused credentials.
pub(crate) fn sync_outcome(report: Report) -> Result<Report, SyncError> {
    match refused(report.stop.as_ref()) {
        Some((remote, message)) => Err(SyncError::CredentialsRefused(Box::new(
            CredentialsRefused {
                remote,
                message,
                report: StoppedReport::Sync(Box::new(report)),
            },
        ))),
        None => Ok(report),
    }
}

/// `Err(CredentialsRefused)` for a finished incident report stopped by refused credentials.
pub(crate) fn incident_outcome(report: IncidentReport) -> Result<IncidentReport, SyncError> {
    match refused(report.stop.as_ref()) {
        Some((remote, message)) => Err(SyncError::CredentialsRefused(Box::new(
            CredentialsRefused {
                remote,
                message,
                report: StoppedReport::Incidents(Box::new(report)),
            },
        ))),
        None => Ok(report),
    }
}

/// `Err(CredentialsRefused)` for a finished planner pass stopped by refused credentials.
pub(crate) fn plan_outcome(plan: WorkPlan) -> Result<WorkPlan, SyncError> {
    match refused(plan.report.stop.as_ref()) {
        Some((remote, message)) => Err(SyncError::CredentialsRefused(Box::new(
            CredentialsRefused {
                remote,
                message,
                report: StoppedReport::Plan(Box::new(plan)),
            },
        ))),
        None => Ok(plan),
    }
}

/// `Err(CredentialsRefused)` for a worker run stopped by refused credentials.
pub(crate) fn worker_outcome(report: WorkerReport) -> Result<WorkerReport, SyncError> {
    match refused(report.stop.as_ref()) {
        Some((remote, message)) => Err(SyncError::CredentialsRefused(Box::new(
            CredentialsRefused {
                remote,
                message,
                report: StoppedReport::Worker(Box::new(report)),
            },
        ))),
        None => Ok(report),
    }
}

fn refused(stop: Option<&Stop>) -> Option<(Remote, String)> {
    match stop {
        Some(Stop::Credentials { api, message }) => Some((*api, message.clone())),
        _ => None,
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PermissionDenied { actor, act, reason } => {
                write!(f, "{actor} may not {act}: {reason}")
            }
            Self::AddRefused(refusal) => {
                write!(f, "organizations cannot be added by hand: {refusal}")
            }
            Self::AlreadyConfigured(org) => write!(
                f,
                "organization {org} already has a sync configuration; update it instead"
            ),
            Self::NotConfigured(org) => write!(
                f,
                "organization {org} has no sync configuration; add it (inactive mode) or let \
                 active mode create it"
            ),
            Self::Invalid(problems) => write!(f, "nothing was saved: {}", ProblemList(problems)),
            Self::Transition(err) => {
                write!(f, "{err}{}", transition_hint(err.status, err.event))
            }
            Self::Conflict(org) => write!(
                f,
                "organization {org}'s configuration kept changing while it was being saved; \
                 nothing was saved, try again"
            ),
            Self::Remote {
                remote,
                context,
                error,
            } => {
                write!(f, "{context}: {error}")?;
                match (error.advice(), remote.action(error.kind())) {
                    (None, Some(action)) => write!(f, "; {action}"),
                    _ => Ok(()),
                }
            }
            Self::Store { context, error } => write!(f, "{context}: {error}"),
            Self::CredentialsRefused(refused) => write!(
                f,
                "{}",
                Stop::Credentials {
                    api: refused.remote,
                    message: refused.message.clone(),
                }
            ),
        }
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The port error's own text is in `Display`; its cause comes next.
            Self::Remote { error, .. } => error.source(),
            Self::Store { error, .. } => error.source(),
            _ => None,
        }
    }
}

impl From<TransitionError> for SyncError {
    fn from(err: TransitionError) -> Self {
        Self::Transition(err)
    }
}

impl SyncError {
    pub(crate) fn store(context: impl Into<String>) -> impl FnOnce(StoreError) -> Self {
        let context = context.into();
        move |error| Self::Store { context, error }
    }

    pub(crate) fn remote(
        remote: Remote,
        context: impl Into<String>,
    ) -> impl FnOnce(ApiError) -> Self {
        let context = context.into();
        move |error| Self::Remote {
            remote,
            context,
            error,
        }
    }

    /// Whether this is a refusal (nothing was attempted remotely, the request itself is not
    /// allowed or not valid), as opposed to a failure of a remote API, the store or the
    /// integration's credentials.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Self::Remote { .. } | Self::Store { .. } | Self::CredentialsRefused(_)
        )
    }

    /// The remote API's error, for [`Remote`](Self::Remote).
    #[must_use]
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Remote { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The store's error, for [`Store`](Self::Store).
    #[must_use]
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Prints an error and its `source()` chain on one line, joined with ": " — the way to log or
/// show any error of this crate. A cause whose text the line already holds is not printed
/// again.
///
/// ```
/// use ninjaone_servicenow::engine::ErrorChain;
/// let err = std::io::Error::other("disk full");
/// assert_eq!(ErrorChain(&err).to_string(), "disk full");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !cause_text.is_empty() && !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        f.write_str(&text)
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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
