//! One organization's [`SyncConfig`], its [`SyncConfigParts`] and its versioned serde form.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CiMappingName, SyncStatus, TicketKind};
use crate::model::ids::{OrganizationId, SysId};
use crate::model::template::TicketTemplateName;

/// One organization's sync configuration.
///
/// The user-editable fields (company, customer account, CI mappings, allow-incidents) have
/// setters; the status changes only through [`SyncConfig::apply`] (the status machine), and the
/// version only through a [`ConfigStore`](crate::ports::ConfigStore).
///
/// It also keeps the names of the organization, the company and the customer account **as last
/// seen**: the service fills them from the lookups it makes while validating an add or an
/// update, and every reconcile pass refreshes them from the listings it already makes, writing
/// only when a name changed. A screen that lists configurations therefore needs no remote
/// request. A name always belongs to the id beside it: changing the company (or account) clears
/// its name until it is seen again.
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::model::{OrganizationId, SyncConfig, SyncStatus};
/// let config = SyncConfig::new(OrganizationId::new(2)?, None, Utc::now());
/// assert_eq!(config.status(), SyncStatus::Pending);
/// assert_eq!(config.version(), 0);
/// assert_eq!(config.organization_name(), None);
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
///
/// # Stored form
///
/// A store may keep the configuration as its serde form (a JSON document, as the JSON file and
/// PostgreSQL stores do) or in columns of its own through [`SyncConfig::into_parts`] and
/// [`SyncConfig::from_parts`]; both paths apply the same checks. The serde form is stable and
/// versioned by its `schema` field ([`SyncConfig::SCHEMA`], now 2). A document without
/// `schema` is the previous form (schema 1, which had no names) and still reads; optional fields
/// may be absent. Schema 2, with every field:
///
/// ```json
/// {
///   "schema": 2,
///   "organization": 2,
///   "organization_name": "Contoso Dental",
///   "company": "0c43f35d4f5a1200c0a8016a9310c7d5",
///   "company_name": "Contoso Dental",
///   "customer_account": null,
///   "customer_account_name": null,
///   "ci_mappings": ["servers"],
///   "allow_incidents": true,
///   "tickets": "incident",
///   "ticket_template": "standard",
///   "status": "active",
///   "status_reason": null,
///   "last_error": null,
///   "attempts": 0,
///   "next_attempt_at": null,
///   "version": 3,
///   "created_at": "2026-01-05T09:00:00Z",
///   "updated_at": "2026-01-05T09:10:00Z"
/// }
/// ```
///
/// `status` is one of `pending`, `in_queue`, `active`, `inactive`, `deleted`; `tickets` is
/// `incident` or `case`; times are RFC 3339 in UTC. A relational store indexes `status` and
/// `company` as plain columns (see [`SyncConfigParts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredConfig", into = "StoredConfig")]
pub struct SyncConfig {
    pub(crate) organization: OrganizationId,
    pub(crate) organization_name: Option<String>,
    pub(crate) company: Option<SysId>,
    pub(crate) company_name: Option<String>,
    pub(crate) customer_account: Option<SysId>,
    pub(crate) customer_account_name: Option<String>,
    pub(crate) ci_mappings: BTreeSet<CiMappingName>,
    pub(crate) allow_incidents: bool,
    pub(crate) tickets: TicketKind,
    pub(crate) ticket_template: Option<TicketTemplateName>,
    pub(crate) status: SyncStatus,
    pub(crate) status_reason: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) attempts: u32,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) version: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// Every field of a [`SyncConfig`], public, for a store that keeps configurations in columns
/// of its own: [`SyncConfig::into_parts`] takes a configuration apart,
/// [`SyncConfig::from_parts`] checks and rebuilds it.
///
/// Its serde form is [`SyncConfig`]'s without the `schema` field: to keep documents, store the
/// `SyncConfig` itself, which carries its schema version.
///
/// Built with [`SyncConfigParts::new`] and then its fields set, so fields added later (with a
/// default) do not break a store:
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::model::{OrganizationId, SyncConfig, SyncConfigParts, SyncStatus};
/// // As read from a row: (organization, organization_name, company, status, version, …).
/// let mut parts = SyncConfigParts::new(OrganizationId::new(2)?, Utc::now());
/// parts.organization_name = Some("Contoso Dental".to_owned());
/// parts.company = Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse()?);
/// parts.status = SyncStatus::Active;
/// parts.version = 3;
/// let config = SyncConfig::from_parts(parts)?;
/// assert_eq!(config.organization_name(), Some("Contoso Dental"));
/// // And back, to write the columns.
/// let parts = config.into_parts();
/// assert_eq!(parts.status, SyncStatus::Active);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncConfigParts {
    /// The organization (one configuration per organization): the key.
    pub organization: OrganizationId,
    /// The organization's name as last seen.
    #[serde(default)]
    pub organization_name: Option<String>,
    /// The mapped company; `None` while unmapped.
    #[serde(default)]
    pub company: Option<SysId>,
    /// The company's name as last seen.
    #[serde(default)]
    pub company_name: Option<String>,
    /// The mapped customer account, when any.
    #[serde(default)]
    pub customer_account: Option<SysId>,
    /// The customer account's name as last seen.
    #[serde(default)]
    pub customer_account_name: Option<String>,
    /// The names of the CI mappings used.
    #[serde(default)]
    pub ci_mappings: BTreeSet<CiMappingName>,
    /// Whether alerts may become incidents.
    #[serde(default)]
    pub allow_incidents: bool,
    /// What alerts become.
    #[serde(default)]
    pub tickets: TicketKind,
    /// The ticket template; `None`: the default one.
    #[serde(default)]
    pub ticket_template: Option<TicketTemplateName>,
    /// The sync status.
    pub status: SyncStatus,
    /// Why the configuration is inactive or deleted.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// The last error a pass recorded.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Transient failures in a row.
    #[serde(default)]
    pub attempts: u32,
    /// The earliest time of the next attempt.
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The stored version (0: never saved).
    pub version: u64,
    /// When the configuration was created.
    pub created_at: DateTime<Utc>,
    /// When the configuration last changed.
    pub updated_at: DateTime<Utc>,
}

impl SyncConfigParts {
    /// The parts of a new, unsaved `pending` configuration without company, names or options,
    /// created (and last changed) at `created_at`: set the fields a row holds.
    #[must_use]
    pub fn new(organization: OrganizationId, created_at: DateTime<Utc>) -> Self {
        SyncConfig::new(organization, None, created_at).into_parts()
    }
}

/// Parts that do not make a valid [`SyncConfig`], or a stored form this version cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sync configuration of organization {organization}: {problem}")]
pub struct InvalidConfig {
    organization: OrganizationId,
    problem: String,
}

impl InvalidConfig {
    /// The organization whose configuration is invalid.
    #[must_use]
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }

    /// What is wrong, and what to do.
    #[must_use]
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

/// The serde form: the parts and the schema version.
#[derive(Serialize, Deserialize)]
struct StoredConfig {
    /// Absent in the first form.
    #[serde(default = "first_schema")]
    schema: u32,
    #[serde(flatten)]
    parts: SyncConfigParts,
}

const fn first_schema() -> u32 {
    1
}

impl TryFrom<StoredConfig> for SyncConfig {
    type Error = InvalidConfig;

    fn try_from(stored: StoredConfig) -> Result<Self, InvalidConfig> {
        if stored.schema == 0 || stored.schema > Self::SCHEMA {
            return Err(InvalidConfig {
                organization: stored.parts.organization,
                problem: format!(
                    "stored with schema {}, but this version reads schemas 1 to {}: upgrade \
                     ninjaone-servicenow to read it",
                    stored.schema,
                    Self::SCHEMA
                ),
            });
        }
        Self::from_parts(stored.parts)
    }
}

impl From<SyncConfig> for StoredConfig {
    fn from(config: SyncConfig) -> Self {
        Self {
            schema: SyncConfig::SCHEMA,
            parts: config.into_parts(),
        }
    }
}

/// `Some` trimmed non-empty text, else `None`.
fn name(text: Option<String>) -> Option<String> {
    let text = text?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == text.len() {
        Some(text)
    } else {
        Some(trimmed.to_owned())
    }
}

impl SyncConfig {
    /// The version of the serde form this crate writes (its `schema` field). Read: 1 (no
    /// `schema` field, no names) and 2.
    pub const SCHEMA: u32 = 2;

    /// Rebuilds a configuration from its parts (as a store read them from its columns), with
    /// the checks the serde form applies: names are trimmed (blank ones become `None`), and a
    /// configuration whose tickets are cases must map a customer account.
    ///
    /// # Errors
    /// [`InvalidConfig`] naming the organization and the problem.
    pub fn from_parts(parts: SyncConfigParts) -> Result<Self, InvalidConfig> {
        let SyncConfigParts {
            organization,
            organization_name,
            company,
            company_name,
            customer_account,
            customer_account_name,
            ci_mappings,
            allow_incidents,
            tickets,
            ticket_template,
            status,
            status_reason,
            last_error,
            attempts,
            next_attempt_at,
            version,
            created_at,
            updated_at,
        } = parts;
        if tickets == TicketKind::Case && customer_account.is_none() {
            return Err(InvalidConfig {
                organization,
                problem: "its tickets are cases but it maps no customer account: map one, or \
                          use incidents"
                    .to_owned(),
            });
        }
        // A name without its id cannot be right: drop it rather than show it.
        let company_name = company.as_ref().and(name(company_name));
        let customer_account_name = customer_account.as_ref().and(name(customer_account_name));
        Ok(Self {
            organization,
            organization_name: name(organization_name),
            company,
            company_name,
            customer_account,
            customer_account_name,
            ci_mappings,
            allow_incidents,
            tickets,
            ticket_template,
            status,
            status_reason,
            last_error,
            attempts,
            next_attempt_at,
            version,
            created_at,
            updated_at,
        })
    }

    /// Takes the configuration apart, for a store that writes columns of its own; the inverse
    /// of [`from_parts`](Self::from_parts).
    #[must_use]
    pub fn into_parts(self) -> SyncConfigParts {
        SyncConfigParts {
            organization: self.organization,
            organization_name: self.organization_name,
            company: self.company,
            company_name: self.company_name,
            customer_account: self.customer_account,
            customer_account_name: self.customer_account_name,
            ci_mappings: self.ci_mappings,
            allow_incidents: self.allow_incidents,
            tickets: self.tickets,
            ticket_template: self.ticket_template,
            status: self.status,
            status_reason: self.status_reason,
            last_error: self.last_error,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// A new, unsaved (version 0) `pending` configuration for `organization`.
    #[must_use]
    pub fn new(organization: OrganizationId, company: Option<SysId>, now: DateTime<Utc>) -> Self {
        Self {
            organization,
            organization_name: None,
            company,
            company_name: None,
            customer_account: None,
            customer_account_name: None,
            ci_mappings: BTreeSet::new(),
            allow_incidents: false,
            tickets: TicketKind::Incident,
            ticket_template: None,
            status: SyncStatus::Pending,
            status_reason: None,
            last_error: None,
            attempts: 0,
            next_attempt_at: None,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The organization this configuration is for (one configuration per organization).
    #[must_use]
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }

    /// The mapped ServiceNow company; `None` while unmapped (for example after an ambiguous
    /// name match in active mode).
    #[must_use]
    pub fn company(&self) -> Option<&SysId> {
        self.company.as_ref()
    }

    /// The mapped Customer Service Management account, when any.
    #[must_use]
    pub fn customer_account(&self) -> Option<&SysId> {
        self.customer_account.as_ref()
    }

    /// The organization's name as last seen in NinjaOne; `None` until seen.
    #[must_use]
    pub fn organization_name(&self) -> Option<&str> {
        self.organization_name.as_deref()
    }

    /// The mapped company's name as last seen in ServiceNow; `None` while unmapped or until
    /// seen.
    #[must_use]
    pub fn company_name(&self) -> Option<&str> {
        self.company_name.as_deref()
    }

    /// The mapped customer account's name as last seen in ServiceNow; `None` while unmapped or
    /// until seen.
    #[must_use]
    pub fn customer_account_name(&self) -> Option<&str> {
        self.customer_account_name.as_deref()
    }

    /// The names of the CI mappings used by this organization.
    #[must_use]
    pub fn ci_mappings(&self) -> &BTreeSet<CiMappingName> {
        &self.ci_mappings
    }

    /// Whether alerts of this organization may become incidents.
    #[must_use]
    pub fn allow_incidents(&self) -> bool {
        self.allow_incidents
    }

    /// What this organization's alerts become: incidents (the default) or cases.
    #[must_use]
    pub fn tickets(&self) -> TicketKind {
        self.tickets
    }

    /// The ticket template this organization's tickets use; `None`: the default template, if
    /// there is one.
    #[must_use]
    pub fn ticket_template(&self) -> Option<&TicketTemplateName> {
        self.ticket_template.as_ref()
    }

    /// The sync status.
    #[must_use]
    pub fn status(&self) -> SyncStatus {
        self.status
    }

    /// Why the configuration is inactive or deleted, when it is.
    #[must_use]
    pub fn status_reason(&self) -> Option<&str> {
        self.status_reason.as_deref()
    }

    /// The last error a pass recorded for this configuration.
    #[must_use]
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Transient failures in a row since the last success.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The earliest time the next attempt should be made, after a transient failure.
    #[must_use]
    pub fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.next_attempt_at
    }

    /// The stored version: 0 for a configuration never saved; each successful write adds one.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the configuration was created.
    #[must_use]
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When the configuration last changed.
    #[must_use]
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Sets the mapped company. Does not change the status: an edit is a
    /// [`SyncEvent::Changed`](crate::machine::SyncEvent::Changed) the caller applies. Another
    /// company clears the company's name until it is seen.
    pub fn set_company(&mut self, company: Option<SysId>) {
        if self.company != company {
            self.company_name = None;
        }
        self.company = company;
    }

    /// Sets the mapped customer account. Another account clears the account's name until it is
    /// seen.
    pub fn set_customer_account(&mut self, account: Option<SysId>) {
        if self.customer_account != account {
            self.customer_account_name = None;
        }
        self.customer_account = account;
    }

    /// Records the organization's name as seen (blank: `None`). Returns whether it changed.
    pub(crate) fn see_organization_name(&mut self, seen: &str) -> bool {
        see(&mut self.organization_name, seen)
    }

    /// Records the mapped company's name as seen. Returns whether it changed; does nothing
    /// while no company is mapped.
    pub(crate) fn see_company_name(&mut self, seen: &str) -> bool {
        self.company.is_some() && see(&mut self.company_name, seen)
    }

    /// Records the mapped customer account's name as seen. Returns whether it changed; does
    /// nothing while no account is mapped.
    pub(crate) fn see_customer_account_name(&mut self, seen: &str) -> bool {
        self.customer_account.is_some() && see(&mut self.customer_account_name, seen)
    }

    /// Replaces the CI mapping names.
    pub fn set_ci_mappings(&mut self, names: impl IntoIterator<Item = CiMappingName>) {
        self.ci_mappings = names.into_iter().collect();
    }

    /// Sets whether alerts may become incidents.
    pub fn set_allow_incidents(&mut self, allow: bool) {
        self.allow_incidents = allow;
    }

    /// Sets what this organization's alerts become.
    pub fn set_tickets(&mut self, tickets: TicketKind) {
        self.tickets = tickets;
    }

    /// Sets the ticket template (`None`: the default template, if there is one).
    pub fn set_ticket_template(&mut self, template: Option<TicketTemplateName>) {
        self.ticket_template = template;
    }

    /// Sets when the next attempt may be made (the engine's backoff policy decides).
    pub fn set_next_attempt_at(&mut self, at: Option<DateTime<Utc>>) {
        self.next_attempt_at = at;
    }

    /// Records `version` as the stored version.
    ///
    /// For [`ConfigStore`](crate::ports::ConfigStore) implementations only: a store sets the
    /// version it saved. Anyone else changing it gets a `Conflict` on the next write.
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

/// Sets `slot` to the trimmed `seen` (`None` when blank); whether that changed it.
fn see(slot: &mut Option<String>, seen: &str) -> bool {
    let seen = seen.trim();
    let next = (!seen.is_empty()).then_some(seen);
    if slot.as_deref() == next {
        return false;
    }
    *slot = next.map(str::to_owned);
    true
}
