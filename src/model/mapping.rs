//! The mapping side: named configuration-item mappings, one [`SyncConfig`] per organization, its
//! [`SyncStatus`] and the integration's [`IntegrationMode`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{DeviceRoleId, IdError, OrganizationId, SysId};
use super::servicenow::CiClass;
use super::template::TicketTemplateName;

/// The sync status of one organization's configuration.
///
/// Changes only through [`SyncConfig::apply`], which follows the table in
/// [`machine`](crate::machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Waiting to be picked up by the next pass.
    Pending,
    /// Picked up by a pass that has not finished with it.
    InQueue,
    /// Synced.
    Active,
    /// Paused by a person, quarantined, or failed permanently; the reason is on the config.
    Inactive,
    /// Deleted by a person or because the organization is gone; kept as a tombstone.
    Deleted,
}

impl SyncStatus {
    /// Every status, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::InQueue,
        Self::Active,
        Self::Inactive,
        Self::Deleted,
    ];

    /// The status as shown to people: "pending", "in queue", "active", "inactive", "deleted".
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InQueue => "in queue",
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Deleted => "deleted",
        }
    }
}

impl fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The integration's mode (the app's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationMode {
    /// Every NinjaOne organization is synced automatically; manual add is refused.
    Active,
    /// Only organizations added by hand are synced.
    Inactive,
    /// Nothing is synced and no remote writes are made. The mode of a new store.
    #[default]
    Disabled,
}

impl IntegrationMode {
    /// The mode's name: "active", "inactive" or "disabled".
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for IntegrationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an organization's alerts become in ServiceNow.
///
/// Cases need a mapped customer account and Customer Service Management installed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// Incidents (`incident`), the default.
    #[default]
    Incident,
    /// Customer Service Management cases (`sn_customerservice_case`).
    Case,
}

impl TicketKind {
    /// The kind's name: "incident" or "case".
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Case => "case",
        }
    }

    /// The ServiceNow table: `incident` or `sn_customerservice_case`.
    #[must_use]
    pub const fn table(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Case => "sn_customerservice_case",
        }
    }
}

impl fmt::Display for TicketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`TicketKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ticket kind {0:?}: expected incidents or cases")]
pub struct UnknownTicketKind(String);

impl FromStr for TicketKind {
    type Err = UnknownTicketKind;

    /// Accepts "incident", "incidents", "case" and "cases", in any case.
    fn from_str(s: &str) -> Result<Self, UnknownTicketKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "incident" | "incidents" => Ok(Self::Incident),
            "case" | "cases" => Ok(Self::Case),
            _ => Err(UnknownTicketKind(super::ids::quote_prefix(s))),
        }
    }
}

/// A string that is not an [`IntegrationMode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown integration mode {0:?}: expected active, inactive or disabled")]
pub struct UnknownMode(String);

impl FromStr for IntegrationMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, UnknownMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "inactive" => Ok(Self::Inactive),
            "disabled" => Ok(Self::Disabled),
            _ => Err(UnknownMode(super::ids::quote_prefix(s))),
        }
    }
}

/// The name of a [`CiMapping`]: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CiMappingName(String);

impl CiMappingName {
    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CiMappingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CiMappingName {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 100 {
            return Err(IdError::new(
                "CiMappingName",
                "must be 1 to 100 characters",
                s,
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(IdError::new(
                "CiMappingName",
                "control characters are not allowed",
                s,
            ));
        }
        Ok(Self(t.to_owned()))
    }
}

impl Serialize for CiMappingName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CiMappingName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A named set of rules mapping NinjaOne device roles to CMDB classes.
///
/// ```
/// use ninjaone_servicenow::model::{CiMapping, DeviceRoleId};
/// let mut servers = CiMapping::new("servers".parse()?);
/// servers.set_rule(DeviceRoleId::new(9)?, "cmdb_ci_win_server".parse()?);
/// assert_eq!(servers.class_for(DeviceRoleId::new(9)?).map(|c| c.as_str()), Some("cmdb_ci_win_server"));
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiMapping {
    name: CiMappingName,
    rules: BTreeMap<DeviceRoleId, CiClass>,
}

impl CiMapping {
    /// An empty mapping.
    #[must_use]
    pub fn new(name: CiMappingName) -> Self {
        Self {
            name,
            rules: BTreeMap::new(),
        }
    }

    /// The mapping's name.
    #[must_use]
    pub fn name(&self) -> &CiMappingName {
        &self.name
    }

    /// Maps `role` to `class`, replacing an earlier rule for the role. Returns the previous class.
    pub fn set_rule(&mut self, role: DeviceRoleId, class: CiClass) -> Option<CiClass> {
        self.rules.insert(role, class)
    }

    /// Removes the rule for `role`.
    pub fn remove_rule(&mut self, role: DeviceRoleId) -> Option<CiClass> {
        self.rules.remove(&role)
    }

    /// The class for a device role, if this mapping has a rule for it.
    #[must_use]
    pub fn class_for(&self, role: DeviceRoleId) -> Option<&CiClass> {
        self.rules.get(&role)
    }

    /// The rules, ordered by device role.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = (DeviceRoleId, &CiClass)> {
        self.rules.iter().map(|(r, c)| (*r, c))
    }
}

/// One organization's sync configuration.
///
/// The user-editable fields (company, customer account, CI mappings, allow-incidents) have
/// setters; the status changes only through [`SyncConfig::apply`] (the status machine), and the
/// version only through a [`ConfigStore`](crate::ports::ConfigStore).
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::model::{OrganizationId, SyncConfig, SyncStatus};
/// let config = SyncConfig::new(OrganizationId::new(2)?, None, Utc::now());
/// assert_eq!(config.status(), SyncStatus::Pending);
/// assert_eq!(config.version(), 0);
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConfig {
    pub(crate) organization: OrganizationId,
    pub(crate) company: Option<SysId>,
    #[serde(default)]
    pub(crate) customer_account: Option<SysId>,
    #[serde(default)]
    pub(crate) ci_mappings: BTreeSet<CiMappingName>,
    #[serde(default)]
    pub(crate) allow_incidents: bool,
    #[serde(default)]
    pub(crate) tickets: TicketKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ticket_template: Option<TicketTemplateName>,
    pub(crate) status: SyncStatus,
    #[serde(default)]
    pub(crate) status_reason: Option<String>,
    #[serde(default)]
    pub(crate) last_error: Option<String>,
    #[serde(default)]
    pub(crate) attempts: u32,
    #[serde(default)]
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) version: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl SyncConfig {
    /// A new, unsaved (version 0) `pending` configuration for `organization`.
    #[must_use]
    pub fn new(organization: OrganizationId, company: Option<SysId>, now: DateTime<Utc>) -> Self {
        Self {
            organization,
            company,
            customer_account: None,
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
    /// [`SyncEvent::Changed`](crate::machine::SyncEvent::Changed) the caller applies.
    pub fn set_company(&mut self, company: Option<SysId>) {
        self.company = company;
    }

    /// Sets the mapped customer account.
    pub fn set_customer_account(&mut self, account: Option<SysId>) {
        self.customer_account = account;
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
