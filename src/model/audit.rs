//! The audit trail: who did what, when, to which organization, with the state before and after.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::OrganizationId;

/// What an audit entry records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// The integration mode was set.
    SetMode,
    /// A configuration was added.
    AddConfig,
    /// A configuration was edited.
    UpdateConfig,
    /// A configuration was paused.
    PauseConfig,
    /// A configuration was resumed.
    ResumeConfig,
    /// A configuration was deleted (tombstoned).
    DeleteConfig,
    /// A deleted configuration was restored.
    RestoreConfig,
    /// A configuration's status changed during a sync pass.
    StatusChange,
    /// A CI mapping was created or replaced.
    SetCiMapping,
    /// A CI mapping was deleted.
    DeleteCiMapping,
    /// A company was created in ServiceNow.
    CreateCompany,
    /// Held deletions were approved.
    ApproveDeletions,
    /// The incident router's resolve guard held a pass's resolves (recorded once while the same
    /// tickets stay held).
    HoldResolves,
    /// Resolves held by the incident router's resolve guard were approved.
    ApproveResolves,
    /// A ticket template was created or replaced.
    SetTicketTemplate,
    /// A ticket template was deleted.
    DeleteTicketTemplate,
    /// Anything else, named by the host.
    Other(String),
}

/// Whether the audited act happened or was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "reason")]
pub enum AuditOutcome {
    /// It happened.
    Applied,
    /// It was refused, with the reason given to the actor.
    Refused(String),
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, assigned by the store when appended (0 before).
    #[serde(default)]
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it: a user name, or `system:<component>` for the engine.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// The organization concerned, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationId>,
    /// Whether it happened.
    pub outcome: AuditOutcome,
    /// The state before, when relevant (for example the configuration as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The state after, when relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

impl AuditEntry {
    /// A new entry for an act that happened, with no before/after state yet.
    #[must_use]
    pub fn applied(at: DateTime<Utc>, actor: impl Into<String>, action: AuditAction) -> Self {
        Self {
            seq: 0,
            at,
            actor: actor.into(),
            action,
            organization: None,
            outcome: AuditOutcome::Applied,
            before: None,
            after: None,
        }
    }

    /// A new entry for a refused act.
    #[must_use]
    pub fn refused(
        at: DateTime<Utc>,
        actor: impl Into<String>,
        action: AuditAction,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            outcome: AuditOutcome::Refused(reason.into()),
            ..Self::applied(at, actor, action)
        }
    }

    /// Sets the organization concerned.
    #[must_use]
    pub fn for_organization(mut self, organization: OrganizationId) -> Self {
        self.organization = Some(organization);
        self
    }

    /// Sets the state before and after.
    #[must_use]
    pub fn with_states(
        mut self,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Self {
        self.before = before;
        self.after = after;
        self
    }
}

/// Which audit entries to read. The default reads everything, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditFilter {
    /// Only entries about this organization.
    pub organization: Option<OrganizationId>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many entries (the most recent ones), still oldest first.
    pub limit: Option<usize>,
}

impl AuditFilter {
    /// Every entry.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Only entries about `organization`.
    #[must_use]
    pub fn organization(mut self, organization: OrganizationId) -> Self {
        self.organization = Some(organization);
        self
    }

    /// Only entries by `actor`.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Only entries at or after `since`.
    #[must_use]
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// At most the `limit` most recent entries.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `entry` passes the filter's conditions (the limit is applied by the caller).
    #[must_use]
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.organization
            .is_none_or(|o| entry.organization == Some(o))
            && self.actor.as_deref().is_none_or(|a| entry.actor == a)
            && self.since.is_none_or(|s| entry.at >= s)
    }

    /// Applies the filter to entries in log order, keeping the `limit` most recent.
    #[must_use]
    pub fn select<'a>(&self, entries: impl IntoIterator<Item = &'a AuditEntry>) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = entries
            .into_iter()
            .filter(|e| self.matches(e))
            .cloned()
            .collect();
        if let Some(limit) = self.limit {
            let skip = out.len().saturating_sub(limit);
            out.drain(..skip);
        }
        out
    }
}
