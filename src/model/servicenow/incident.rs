//! Incidents: their state, urgency and impact levels, the correlation id, and the rows to read,
//! create and update.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ids::{IdError, SysId};
use crate::model::wire::{sn_datetime, sn_opt_string, sn_reference};

use super::{deserialize_code, empty_as_none, serialize_code};

/// An incident's state (`state`). Numbers outside the base system's choices are kept in
/// [`IncidentState::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum IncidentState {
    /// 1: New.
    New,
    /// 2: In Progress.
    InProgress,
    /// 3: On Hold.
    OnHold,
    /// 6: Resolved.
    Resolved,
    /// 7: Closed.
    Closed,
    /// 8: Canceled.
    Canceled,
    /// Another value of the instance's choice list.
    Other(u32),
}

impl IncidentState {
    /// The numeric value ServiceNow stores.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::New => 1,
            Self::InProgress => 2,
            Self::OnHold => 3,
            Self::Resolved => 6,
            Self::Closed => 7,
            Self::Canceled => 8,
            Self::Other(n) => n,
        }
    }

    /// The state for a numeric value.
    #[must_use]
    pub const fn from_code(code: u32) -> Self {
        match code {
            1 => Self::New,
            2 => Self::InProgress,
            3 => Self::OnHold,
            6 => Self::Resolved,
            7 => Self::Closed,
            8 => Self::Canceled,
            n => Self::Other(n),
        }
    }

    /// Whether a person or a process has finished with the incident (resolved, closed or
    /// canceled).
    #[must_use]
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed | Self::Canceled)
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::New => f.write_str("new"),
            Self::InProgress => f.write_str("in progress"),
            Self::OnHold => f.write_str("on hold"),
            Self::Resolved => f.write_str("resolved"),
            Self::Closed => f.write_str("closed"),
            Self::Canceled => f.write_str("canceled"),
            Self::Other(n) => write!(f, "state {n}"),
        }
    }
}

impl Serialize for IncidentState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_code(self.code(), s)
    }
}

impl<'de> Deserialize<'de> for IncidentState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_code(d, "incident state").map(Self::from_code)
    }
}

/// Urgency or impact of an incident: `"1"` high, `"2"` medium, `"3"` low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// 1: High.
    High,
    /// 2: Medium.
    Medium,
    /// 3: Low.
    Low,
    /// Another value of the instance's choice list.
    Other(u32),
}

impl Level {
    /// The numeric value ServiceNow stores.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::High => 1,
            Self::Medium => 2,
            Self::Low => 3,
            Self::Other(n) => n,
        }
    }

    /// The level for a numeric value.
    #[must_use]
    pub const fn from_code(code: u32) -> Self {
        match code {
            1 => Self::High,
            2 => Self::Medium,
            3 => Self::Low,
            n => Self::Other(n),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::High => f.write_str("1 - high"),
            Self::Medium => f.write_str("2 - medium"),
            Self::Low => f.write_str("3 - low"),
            Self::Other(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_code(self.code(), s)
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_code(d, "level").map(Self::from_code)
    }
}

/// A value for `correlation_id`: the id of the record in the other system.
///
/// Only `[A-Za-z0-9._:-]`, 1 to 100 characters (the field's default length), so that it can also
/// serve as a `STARTSWITH` prefix in an encoded query without any escaping.
///
/// ```
/// use ninjaone_servicenow::model::CorrelationId;
/// assert!("ninjaone:acme:alert:50edcf11".parse::<CorrelationId>().is_ok());
/// assert!("x^NQname=Acme".parse::<CorrelationId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// The value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this id starts with `prefix`.
    #[must_use]
    pub fn starts_with(&self, prefix: &CorrelationId) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CorrelationId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::new("CorrelationId", "empty", s));
        }
        if s.len() > 100 {
            return Err(IdError::new(
                "CorrelationId",
                "longer than 100 characters",
                s,
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(IdError::new(
                "CorrelationId",
                "only letters, digits and . _ : - are allowed",
                s,
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for CorrelationId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CorrelationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incident as read back from ServiceNow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Incident {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The incident number (`INC0010001`).
    #[serde(default, with = "sn_opt_string")]
    pub number: Option<String>,
    /// Its state.
    #[serde(default = "default_state")]
    pub state: IncidentState,
    /// One-line summary.
    #[serde(default)]
    pub short_description: String,
    /// Full description.
    #[serde(default)]
    pub description: String,
    /// The company the incident is for.
    #[serde(default, with = "sn_reference")]
    pub company: Option<SysId>,
    /// The customer account (Customer Service Management), when set.
    #[serde(default, with = "sn_reference")]
    pub account: Option<SysId>,
    /// The configuration item, when set.
    #[serde(default, with = "sn_reference")]
    pub cmdb_ci: Option<SysId>,
    /// The id of the record in the other system. Kept as text: rows written by others may hold
    /// any value, and ServiceNow does not enforce uniqueness.
    #[serde(default, with = "sn_opt_string")]
    pub correlation_id: Option<String>,
    /// The other system's name.
    #[serde(default, with = "sn_opt_string")]
    pub correlation_display: Option<String>,
    /// Urgency, when set.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub urgency: Option<Level>,
    /// Impact, when set.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub impact: Option<Level>,
    /// The assignment group, when set.
    #[serde(default, with = "sn_reference")]
    pub assignment_group: Option<SysId>,
    /// The caller, when set.
    #[serde(default, with = "sn_reference")]
    pub caller_id: Option<SysId>,
    /// The category, when set.
    #[serde(default, with = "sn_opt_string")]
    pub category: Option<String>,
    /// The subcategory, when set.
    #[serde(default, with = "sn_opt_string")]
    pub subcategory: Option<String>,
    /// How the incident was reported, when set.
    #[serde(default, with = "sn_opt_string")]
    pub contact_type: Option<String>,
    /// Resolution code, when resolved.
    #[serde(default, with = "sn_opt_string")]
    pub close_code: Option<String>,
    /// Resolution notes, when resolved.
    #[serde(default, with = "sn_opt_string")]
    pub close_notes: Option<String>,
    /// When the row was created.
    #[serde(default, rename = "sys_created_on", with = "sn_datetime")]
    pub created_on: Option<DateTime<Utc>>,
    /// When the row was last updated.
    #[serde(default, rename = "sys_updated_on", with = "sn_datetime")]
    pub updated_on: Option<DateTime<Utc>>,
}

impl Incident {
    /// A new incident row with a sys_id and nothing else set: set the public fields for the
    /// rest.
    #[must_use]
    pub fn new(sys_id: SysId) -> Self {
        Self {
            sys_id,
            number: None,
            state: IncidentState::New,
            short_description: String::new(),
            description: String::new(),
            company: None,
            account: None,
            cmdb_ci: None,
            correlation_id: None,
            correlation_display: None,
            urgency: None,
            impact: None,
            assignment_group: None,
            caller_id: None,
            category: None,
            subcategory: None,
            contact_type: None,
            close_code: None,
            close_notes: None,
            created_on: None,
            updated_on: None,
        }
    }
}

fn default_state() -> IncidentState {
    IncidentState::New
}

/// The body of an incident to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewIncident {
    /// One-line summary.
    pub short_description: String,
    /// Full description.
    pub description: String,
    /// The mapped company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<SysId>,
    /// The mapped customer account, when Customer Service Management is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<SysId>,
    /// The device's configuration item, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdb_ci: Option<SysId>,
    /// The alert's correlation id.
    pub correlation_id: CorrelationId,
    /// The other system's name (`"NinjaOne"`).
    pub correlation_display: String,
    /// Urgency.
    pub urgency: Level,
    /// Impact.
    pub impact: Level,
    /// The assignment group (a `sys_user_group` sys_id), from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment_group: Option<SysId>,
    /// The caller (a `sys_user` sys_id), from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<SysId>,
    /// The category, from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The subcategory, from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
    /// How the incident was reported (for example `monitoring`), from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
}

/// The fields of an incident to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncidentUpdate {
    /// New state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<IncidentState>,
    /// Resolution code (required by most instances when resolving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_code: Option<String>,
    /// Resolution notes (required by most instances when resolving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_notes: Option<String>,
    /// A work note to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_notes: Option<String>,
}
