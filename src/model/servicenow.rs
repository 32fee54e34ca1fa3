//! ServiceNow Table API types: companies, customer accounts, incidents, Customer Service
//! Management cases and CMDB items.
//!
//! Decoding accepts what the Table API really sends (API-NOTES.md): booleans and numbers as
//! strings, references as `""`, a bare sys_id or `{"link", "value"}`, and UTC
//! `yyyy-MM-dd HH:mm:ss` dates. Use [`decode_rows`](super::decode_rows) on a page so that a row with a malformed
//! `sys_id` is an error for that row only.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{IdError, SysId};
use super::open_enum::open_enum;
use super::wire::{
    sn_bool, sn_datetime, sn_opt_string, sn_opt_u32, sn_raw_reference, sn_reference,
};

/// A company (`core_company`).
///
/// ```
/// use ninjaone_servicenow::model::Company;
/// let c: Company = serde_json::from_str(r#"{
///     "sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "name": "Acme", "customer": "true",
///     "vendor": "false", "parent": "", "sys_updated_on": "2024-05-01 08:00:00"
/// }"#)?;
/// assert!(c.customer);
/// assert_eq!(c.parent, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Company {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The company's name. Names are expected to be unique but ServiceNow does not enforce it.
    #[serde(default)]
    pub name: String,
    /// Whether the company is a customer.
    #[serde(default, with = "sn_bool")]
    pub customer: bool,
    /// Whether the company is a vendor.
    #[serde(default, with = "sn_bool")]
    pub vendor: bool,
    /// Whether the company is a manufacturer.
    #[serde(default, with = "sn_bool")]
    pub manufacturer: bool,
    /// The parent company, kept as received (not relied on, so not validated).
    #[serde(default, with = "sn_raw_reference")]
    pub parent: Option<String>,
    /// When the row was created.
    #[serde(default, rename = "sys_created_on", with = "sn_datetime")]
    pub created_on: Option<DateTime<Utc>>,
    /// When the row was last updated.
    #[serde(default, rename = "sys_updated_on", with = "sn_datetime")]
    pub updated_on: Option<DateTime<Utc>>,
}

impl Company {
    /// A customer company with a sys_id and a name and nothing else set (for tests and fakes;
    /// the API's answers are decoded with serde).
    #[must_use]
    pub fn new(sys_id: SysId, name: impl Into<String>) -> Self {
        Self {
            sys_id,
            name: name.into(),
            customer: true,
            vendor: false,
            manufacturer: false,
            parent: None,
            created_on: None,
            updated_on: None,
        }
    }
}

/// The body of a company to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCompany {
    /// The name, as it should appear in ServiceNow.
    pub name: String,
    /// Whether the company is a customer (the sync creates customers).
    #[serde(with = "sn_bool")]
    pub customer: bool,
}

/// A Customer Service Management customer account (`customer_account`, which extends
/// `core_company`: its sys_id is valid wherever a company reference is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomerAccount {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The account's name.
    #[serde(default)]
    pub name: String,
    /// The account number (`ACCT...`).
    #[serde(default, with = "sn_opt_string")]
    pub number: Option<String>,
    /// Whether the account is a customer.
    #[serde(default, with = "sn_bool")]
    pub customer: bool,
    /// Whether the account is a partner.
    #[serde(default, with = "sn_bool")]
    pub partner: bool,
    /// An external account code.
    #[serde(default, with = "sn_opt_string")]
    pub account_code: Option<String>,
    /// The parent account (`account_parent`), kept as received.
    #[serde(default, rename = "account_parent", with = "sn_raw_reference")]
    pub parent: Option<String>,
    /// When the row was created.
    #[serde(default, rename = "sys_created_on", with = "sn_datetime")]
    pub created_on: Option<DateTime<Utc>>,
    /// When the row was last updated.
    #[serde(default, rename = "sys_updated_on", with = "sn_datetime")]
    pub updated_on: Option<DateTime<Utc>>,
}

impl CustomerAccount {
    /// A customer account with a sys_id and a name and nothing else set.
    #[must_use]
    pub fn new(sys_id: SysId, name: impl Into<String>) -> Self {
        Self {
            sys_id,
            name: name.into(),
            number: None,
            customer: true,
            partner: false,
            account_code: None,
            parent: None,
            created_on: None,
            updated_on: None,
        }
    }
}

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
        s.serialize_str(&self.code().to_string())
    }
}

impl<'de> Deserialize<'de> for IncidentState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match sn_opt_u32::deserialize(d)? {
            Some(n) => Ok(Self::from_code(n)),
            None => Err(serde::de::Error::custom("incident state is empty")),
        }
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
        s.serialize_str(&self.code().to_string())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match sn_opt_u32::deserialize(d)? {
            Some(n) => Ok(Self::from_code(n)),
            None => Err(serde::de::Error::custom("level is empty")),
        }
    }
}

fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
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
        s.serialize_str(&self.code().to_string())
    }
}

impl<'de> Deserialize<'de> for CaseState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match sn_opt_u32::deserialize(d)? {
            Some(n) => Ok(Self::from_code(n)),
            None => Err(serde::de::Error::custom("case state is empty")),
        }
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

/// A CMDB class, that is a validated table name such as `cmdb_ci_win_server`.
///
/// Table names are lowercase ASCII letters, digits and `_`, start with a letter and are at most
/// 80 characters; custom (`u_`) and scoped (`x_vendor_`) classes are accepted.
///
/// ```
/// use ninjaone_servicenow::model::CiClass;
/// let class: CiClass = "cmdb_ci_win_server".parse()?;
/// assert_eq!(class.as_str(), "cmdb_ci_win_server");
/// assert!("cmdb_ci_win_server^ORname=x".parse::<CiClass>().is_err());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CiClass(String);

impl CiClass {
    /// The table name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CiClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CiClass {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > 80 {
            return Err(IdError::new("CiClass", "must be 1 to 80 characters", s));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(IdError::new(
                "CiClass",
                "must start with a lowercase letter",
                s,
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(IdError::new(
                "CiClass",
                "only lowercase letters, digits and _ are allowed",
                s,
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for CiClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CiClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One item for the Identification and Reconciliation API
/// (`POST /api/now/identifyreconcile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CiItem {
    /// The CMDB class.
    pub class_name: CiClass,
    /// Field values (`name`, `serial_number`, `company`, ...).
    pub values: BTreeMap<String, String>,
    /// The caller's id for the item, echoed back in the result.
    #[serde(rename = "internal_id", skip_serializing_if = "Option::is_none")]
    pub internal_id: Option<String>,
    /// Where the item comes from: looked up in `sys_object_source` **before** any
    /// identification rule, so the CI it was last written to is found again even after a rename.
    #[serde(
        rename = "sys_object_source_info",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<CiSourceInfo>,
}

/// `sys_object_source_info` of an item: the data source and the item's key in it.
///
/// ```
/// use ninjaone_servicenow::model::CiSourceInfo;
/// let info = CiSourceInfo::new("NinjaOne", "8");
/// assert_eq!(
///     serde_json::to_value(&info)?,
///     serde_json::json!({"source_name": "NinjaOne", "source_native_key": "8"})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiSourceInfo {
    /// The data source (a `cmdb_ci.discovery_source` choice).
    pub source_name: String,
    /// The item's id in that source (here the NinjaOne device id).
    pub source_native_key: String,
}

impl CiSourceInfo {
    /// The source info of an item known as `native_key` in `source_name`.
    #[must_use]
    pub fn new(source_name: impl Into<String>, native_key: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            source_native_key: native_key.into(),
        }
    }
}

open_enum! {
    /// What the Identification and Reconciliation API did (or, for a dry run, would do) with an
    /// item.
    CiOperation {
        /// A new CI was inserted.
        Insert = "INSERT",
        /// An existing CI was updated.
        Update = "UPDATE",
        /// An existing CI already had these values.
        NoChange = "NO_CHANGE",
        /// Not enough identifying values: the payload was kept as a partial payload, and no CI
        /// was written (`sysId` is `"Unknown"`, `partialSysIds` names the partial payloads).
        InsertAsPartial = "INSERT_AS_PARTIAL",
    }
}

/// An error (or warning) the Identification and Reconciliation API reported for one item.
///
/// Read from the remote, so it may grow: build one with [`new`](Self::new).
///
/// ```
/// use ninjaone_servicenow::model::CiItemError;
/// let err = CiItemError::new("MISSING_MATCHING_ATTRIBUTES", "no serial number");
/// assert_eq!((err.kind.as_str(), err.message.as_str()), ("MISSING_MATCHING_ATTRIBUTES", "no serial number"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiItemError {
    /// The error's type, such as `MISSING_MATCHING_ATTRIBUTES`.
    #[serde(default, rename = "error", alias = "warning", with = "lenient_string")]
    pub kind: String,
    /// The message.
    #[serde(default, with = "lenient_string")]
    pub message: String,
}

/// The Identification and Reconciliation API's answer for one item.
///
/// Read as ServiceNow documents it: `sysId` is `"Unknown"` (read as `None`) when nothing was
/// identified; `operation` is `""` (read as `None`) when the item was not processed;
/// `relatedSysIds` may hold `null`s (dropped); `partialSysIds` come with `INSERT_AS_PARTIAL`.
///
/// Read from the remote, so it may grow: build one with [`new`](Self::new) (or `default()`)
/// and set the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CiItemResult {
    /// The class the item was identified as.
    #[serde(default)]
    pub class_name: Option<String>,
    /// What was done, when the item was processed (`""` on the wire when it was not).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub operation: Option<CiOperation>,
    /// The CI's sys_id, when identified (`""` or `"Unknown"` on the wire when not).
    #[serde(default, deserialize_with = "unknown_as_none")]
    pub sys_id: Option<SysId>,
    /// The caller's id for the item, when one was sent.
    #[serde(default, rename = "internal_id")]
    pub internal_id: Option<String>,
    /// Errors for this item; empty on success.
    #[serde(default, deserialize_with = "lenient_list")]
    pub errors: Vec<CiItemError>,
    /// Warnings for this item (such as `MISSING_MATCHING_ATTRIBUTES` with a partial insert).
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub warnings: Vec<CiItemError>,
    /// The partial payloads written for an `INSERT_AS_PARTIAL` item.
    #[serde(
        default,
        deserialize_with = "sys_id_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub partial_sys_ids: Vec<SysId>,
    /// Related items' sys_ids (`null`s dropped).
    #[serde(
        default,
        deserialize_with = "sys_id_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_sys_ids: Vec<SysId>,
}

impl CiItemError {
    /// An error (or warning) of `kind` (such as `MISSING_MATCHING_ATTRIBUTES`) with its message.
    #[must_use]
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

impl CiItemResult {
    /// The answer `operation` with `sys_id` for the item `internal_id`, without errors.
    #[must_use]
    pub fn new(
        operation: Option<CiOperation>,
        sys_id: Option<SysId>,
        internal_id: Option<String>,
    ) -> Self {
        Self {
            operation,
            sys_id,
            internal_id,
            ..Self::default()
        }
    }
}

/// A sys_id, with `""`, `null` and `"Unknown"` (what the API sends when nothing was identified)
/// as `None`; any other value that is not a sys_id is an error.
fn unknown_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SysId>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() || s.eq_ignore_ascii_case("unknown") => {
            Ok(None)
        }
        Some(serde_json::Value::String(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        Some(other) => Err(serde::de::Error::custom(format!(
            "sysId must be a string, not {other}"
        ))),
    }
}

/// The sys_ids of a list; `null`s, `"Unknown"` and values that are not sys_ids are dropped, and
/// a value that is not a list reads as empty.
fn sys_id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SysId>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect())
}

/// The errors of a list; entries that are not objects are kept as messages, and a value that is
/// not a list reads as empty.
fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CiItemError>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| match v {
            serde_json::Value::Object(_) => {
                serde_json::from_value(v.clone()).unwrap_or_else(|_| CiItemError {
                    kind: String::new(),
                    message: v.to_string(),
                })
            }
            serde_json::Value::String(s) => CiItemError {
                kind: String::new(),
                message: s.clone(),
            },
            other => CiItemError {
                kind: String::new(),
                message: other.to_string(),
            },
        })
        .collect())
}

/// A string, or anything else written out; `null` as empty.
mod lenient_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
        })
    }
}

/// One CI's owner as the Table API reads it (`cmdb_ci`: `sys_id`, `name`, `sys_class_name`,
/// `company`), to tell whether a CI the Identification and Reconciliation API would update
/// belongs to the company a device is synced to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiOwner {
    /// The CI.
    pub sys_id: SysId,
    /// Its name.
    #[serde(default, with = "sn_opt_string")]
    pub name: Option<String>,
    /// Its class.
    #[serde(default, rename = "sys_class_name", with = "sn_opt_string")]
    pub class_name: Option<String>,
    /// Its company (`None` when the reference is empty).
    #[serde(default, with = "sn_reference")]
    pub company: Option<SysId>,
}

impl CiOwner {
    /// The CI `sys_id`, named `name`, of `company`.
    #[must_use]
    pub fn new(sys_id: SysId, name: Option<String>, company: Option<SysId>) -> Self {
        Self {
            sys_id,
            name,
            class_name: None,
            company,
        }
    }
}
