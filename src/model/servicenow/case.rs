//! Customer Service Management cases (`sn_customerservice_case`): their state and the rows to
//! read, create and update.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ids::SysId;
use crate::model::wire::{sn_datetime, sn_opt_string, sn_reference};

use super::incident::{CorrelationId, Level};
use super::{deserialize_code, empty_as_none, serialize_code};

/// A Customer Service Management case's state (`sn_customerservice_case.state`).
///
/// The base system's choices: 1 New, 10 Open, 18 Awaiting Info, 6 Resolved, 3 Closed,
/// 7 Cancelled. Other numbers of an instance's choice list are kept in [`CaseState::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CaseState {
    /// 1: New.
    New,
    /// 10: Open (assigned to an agent).
    Open,
    /// 18: Awaiting Info (from the customer).
    AwaitingInfo,
    /// 6: Resolved (a solution was proposed).
    Resolved,
    /// 3: Closed.
    Closed,
    /// 7: Cancelled.
    Canceled,
    /// Another value of the instance's choice list.
    Other(u32),
}

impl CaseState {
    /// The numeric value ServiceNow stores.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::New => 1,
            Self::Open => 10,
            Self::AwaitingInfo => 18,
            Self::Resolved => 6,
            Self::Closed => 3,
            Self::Canceled => 7,
            Self::Other(n) => n,
        }
    }

    /// The state for a numeric value.
    #[must_use]
    pub const fn from_code(code: u32) -> Self {
        match code {
            1 => Self::New,
            10 => Self::Open,
            18 => Self::AwaitingInfo,
            6 => Self::Resolved,
            3 => Self::Closed,
            7 => Self::Canceled,
            n => Self::Other(n),
        }
    }

    /// Whether an agent or a process has finished with the case (resolved, closed or cancelled).
    #[must_use]
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed | Self::Canceled)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::New => f.write_str("new"),
            Self::Open => f.write_str("open"),
            Self::AwaitingInfo => f.write_str("awaiting info"),
            Self::Resolved => f.write_str("resolved"),
            Self::Closed => f.write_str("closed"),
            Self::Canceled => f.write_str("cancelled"),
            Self::Other(n) => write!(f, "state {n}"),
        }
    }
}

impl Serialize for CaseState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_code(self.code(), s)
    }
}

impl<'de> Deserialize<'de> for CaseState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_code(d, "case state").map(Self::from_code)
    }
}

/// A Customer Service Management case (`sn_customerservice_case`) as read back from ServiceNow.
///
/// The table extends `task`, so it has `company`, `cmdb_ci`, `correlation_id` and
/// `correlation_display` like an incident, plus the customer `account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Case {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The case number (`CS0001001`).
    #[serde(default, with = "sn_opt_string")]
    pub number: Option<String>,
    /// Its state.
    #[serde(default = "default_case_state")]
    pub state: CaseState,
    /// One-line summary.
    #[serde(default)]
    pub short_description: String,
    /// Full description.
    #[serde(default)]
    pub description: String,
    /// The customer account the case is for.
    #[serde(default, with = "sn_reference")]
    pub account: Option<SysId>,
    /// The company, when set.
    #[serde(default, with = "sn_reference")]
    pub company: Option<SysId>,
    /// The configuration item, when set.
    #[serde(default, with = "sn_reference")]
    pub cmdb_ci: Option<SysId>,
    /// The id of the record in the other system (not unique in ServiceNow).
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
    /// The category, when set.
    #[serde(default, with = "sn_opt_string")]
    pub category: Option<String>,
    /// The subcategory, when set.
    #[serde(default, with = "sn_opt_string")]
    pub subcategory: Option<String>,
    /// The channel (`contact_type`), when set.
    #[serde(default, with = "sn_opt_string")]
    pub contact_type: Option<String>,
    /// Resolution code, when resolved.
    #[serde(default, with = "sn_opt_string")]
    pub resolution_code: Option<String>,
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

impl Case {
    /// A new case row with a sys_id and nothing else set: set the public fields for the rest.
    #[must_use]
    pub fn new(sys_id: SysId) -> Self {
        Self {
            sys_id,
            number: None,
            state: CaseState::New,
            short_description: String::new(),
            description: String::new(),
            account: None,
            company: None,
            cmdb_ci: None,
            correlation_id: None,
            correlation_display: None,
            urgency: None,
            impact: None,
            assignment_group: None,
            category: None,
            subcategory: None,
            contact_type: None,
            resolution_code: None,
            close_notes: None,
            created_on: None,
            updated_on: None,
        }
    }
}

fn default_case_state() -> CaseState {
    CaseState::New
}

/// The body of a case to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCase {
    /// One-line summary.
    pub short_description: String,
    /// Full description.
    pub description: String,
    /// The mapped customer account (required for a case).
    pub account: SysId,
    /// The mapped company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<SysId>,
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
    /// The category (the base system's choices are numbers: `0` Question, `1` Issue, `2`
    /// Feature), from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The subcategory, from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
    /// The channel the case came through (`contact_type`), from the ticket template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
}

/// The fields of a case to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaseUpdate {
    /// New state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<CaseState>,
    /// Resolution code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_code: Option<String>,
    /// Resolution notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_notes: Option<String>,
    /// A work note to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_notes: Option<String>,
}
