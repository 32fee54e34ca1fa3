//! A failed command: exit status, message and hint; the words for engine and remote errors.

use ninjaone_servicenow::engine::{ErrorChain, Problem, SyncError};
use ninjaone_servicenow::ports::{ApiErrorKind, Remote};

use super::Exit;

/// A failure to report on standard error, with its exit status.
pub(super) struct Failed {
    pub(super) exit: Exit,
    pub(super) message: String,
    pub(super) hint: Option<String>,
}

impl Failed {
    pub(super) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub(super) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Maps an engine error to what the user reads and the exit status.
pub(super) fn sync_failure(err: &SyncError) -> Failed {
    let message = error_chain(err);
    match err {
        SyncError::AddRefused(_) => {
            Failed::new(Exit::Refused, message).hint("run `orgsync mode inactive` to switch")
        }
        SyncError::AlreadyConfigured(org) => Failed::new(Exit::Refused, message)
            .hint(format!("change it with `orgsync update --org {org} ...`")),
        SyncError::Transition(_) | SyncError::PermissionDenied { .. } => {
            Failed::new(Exit::Refused, message)
        }
        SyncError::Invalid(problems)
            if problems
                .iter()
                .all(|p| matches!(p, Problem::MappingInUse { .. })) =>
        {
            Failed::new(Exit::Refused, message)
                .hint("remove the mapping from those configurations first (`orgsync update`)")
        }
        SyncError::Invalid(problems)
            if problems
                .iter()
                .all(|p| matches!(p, Problem::TicketTemplateInUse { .. })) =>
        {
            Failed::new(Exit::Refused, message).hint(
                "name another template in those configurations first \
                 (`orgsync update --org ID --ticket-template NAME`)",
            )
        }
        SyncError::Invalid(_) => Failed::new(Exit::Usage, message)
            .hint("check the ids against NinjaOne and ServiceNow; nothing was saved"),
        SyncError::NotConfigured(org) => Failed::new(Exit::Usage, message).hint(format!(
            "`orgsync status` lists the configured organizations; organization {org} is not one"
        )),
        SyncError::Remote { remote, error, .. } => {
            let hint = remote_hint(*remote, error.kind());
            Failed::new(Exit::Failure, message).hint(hint)
        }
        SyncError::Store { .. } => Failed::new(Exit::Failure, message)
            .hint("check the state file (ORGSYNC_STATE) and try again"),
        _ => Failed::new(Exit::Failure, message).hint("try again"),
    }
}

/// What to do about a failed remote call.
pub(super) fn remote_hint(remote: Remote, kind: ApiErrorKind) -> String {
    let (vars, origin) = match remote {
        Remote::ServiceNow => (
            "the ServiceNow credentials (SERVICENOW_USERNAME and SERVICENOW_PASSWORD, or \
             SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET)",
            "SERVICENOW_INSTANCE",
        ),
        Remote::NinjaOne => (
            "NINJAONE_CLIENT_ID and NINJAONE_CLIENT_SECRET",
            "NINJAONE_BASE_URL",
        ),
    };
    if kind.is_auth() {
        format!("check {vars} and the roles or scopes the {remote} account has")
    } else if kind.is_transient() {
        format!("{remote} is busy or unreachable; try again later")
    } else {
        format!("check the {remote} instance ({origin})")
    }
}

/// An error with its causes, "a: b: c" (the library's [`ErrorChain`]).
pub(super) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    ErrorChain(err).to_string()
}

/// The text of a credentials stop whose report is not the one expected (never happens).
pub(super) fn refused_text(refused: &ninjaone_servicenow::engine::CredentialsRefused) -> String {
    format!(
        "the pass stopped: the {} credentials were refused ({})",
        refused.remote, refused.message
    )
}
