//! Ticket templates: what an alert's ticket carries besides its text (assignment group, caller,
//! category, subcategory, contact type), and which alerts make a ticket at all (a filter on
//! NinjaOne source types and an optional minimum severity).
//!
//! A configuration names its template ([`SyncConfig::ticket_template`]); one that names none
//! uses the default template, if there is one ([`TicketTemplate::select`]). Everything here is
//! pure: the router only calls [`TicketTemplate::admits`] and the `apply_to_*` methods.
//!
//! [`SyncConfig::ticket_template`]: super::SyncConfig::ticket_template

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::{IdError, SysId};
use super::ninjaone::{Alert, Severity};
use super::servicenow::{NewCase, NewIncident};

/// Implements `Display`, `Serialize` and `Deserialize` (through `FromStr`) for a string newtype.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Trimmed text of 1 to `max` characters without control characters.
fn checked_text(
    kind: &'static str,
    s: &str,
    max: usize,
    length_rule: &'static str,
) -> Result<String, IdError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(IdError::new(kind, length_rule, s));
    }
    if t.chars().any(char::is_control) {
        return Err(IdError::new(kind, "control characters are not allowed", s));
    }
    Ok(t.to_owned())
}

/// The name of a [`TicketTemplate`]: trimmed, 1 to 100 characters, no control characters.
///
/// ```
/// use ninjaone_servicenow::model::TicketTemplateName;
/// let name: TicketTemplateName = " servers ".parse()?;
/// assert_eq!(name.as_str(), "servers");
/// assert!("".parse::<TicketTemplateName>().is_err());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketTemplateName(String);

text_newtype!(TicketTemplateName);

impl FromStr for TicketTemplateName {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        checked_text("TicketTemplateName", s, 100, "must be 1 to 100 characters").map(Self)
    }
}

/// A value for a ticket's `category`, `subcategory` or `contact_type`: trimmed, 1 to 80
/// characters, no control characters. It goes into a request body, never into a query.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketFieldValue(String);

text_newtype!(TicketFieldValue);

impl FromStr for TicketFieldValue {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        checked_text("TicketFieldValue", s, 80, "must be 1 to 80 characters").map(Self)
    }
}

/// A NinjaOne alert source type (an alert's `sourceType`), such as
/// `CONDITION_WINDOWS_EVENT_LOG_TRIGGERED`: 1 to 100 ASCII letters, digits and `_`, kept in
/// upper case (parsing accepts any case).
///
/// ```
/// use ninjaone_servicenow::model::SourceType;
/// let t: SourceType = "condition_windows_event_log_triggered".parse()?;
/// assert_eq!(t.as_str(), "CONDITION_WINDOWS_EVENT_LOG_TRIGGERED");
/// assert!("CONDITION OR 1=1".parse::<SourceType>().is_err());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceType(String);

text_newtype!(SourceType);

impl std::borrow::Borrow<str> for SourceType {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for SourceType {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if t.is_empty() || t.len() > 100 {
            return Err(IdError::new("SourceType", "must be 1 to 100 characters", s));
        }
        if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(IdError::new(
                "SourceType",
                "only ASCII letters, digits and _ are allowed",
                s,
            ));
        }
        Ok(Self(t.to_ascii_uppercase()))
    }
}

/// The lowest severity an alert must have to make a ticket (see [`TicketTemplate`] for alerts
/// that carry none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MinSeverity {
    /// `MINOR` and above.
    Minor,
    /// `MODERATE` and above.
    Moderate,
    /// `MAJOR` and above.
    Major,
    /// `CRITICAL` only.
    Critical,
}

impl MinSeverity {
    /// The wire name: "MINOR", "MODERATE", "MAJOR" or "CRITICAL".
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Minor => "MINOR",
            Self::Moderate => "MODERATE",
            Self::Major => "MAJOR",
            Self::Critical => "CRITICAL",
        }
    }

    const fn rank(self) -> u8 {
        match self {
            Self::Minor => 1,
            Self::Moderate => 2,
            Self::Major => 3,
            Self::Critical => 4,
        }
    }

    /// Whether an alert of `severity` reaches this minimum; `None` for a severity this version
    /// cannot rank ([`Severity::Other`]).
    #[must_use]
    pub fn admits(self, severity: &Severity) -> Option<bool> {
        let rank = match severity {
            Severity::None => 0,
            Severity::Minor => 1,
            Severity::Moderate => 2,
            Severity::Major => 3,
            Severity::Critical => 4,
            _ => return None,
        };
        Some(rank >= self.rank())
    }
}

impl fmt::Display for MinSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`MinSeverity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown minimum severity {0:?}: expected minor, moderate, major or critical")]
pub struct UnknownSeverity(String);

impl FromStr for MinSeverity {
    type Err = UnknownSeverity;

    /// Accepts "minor", "moderate", "major" and "critical", in any case.
    fn from_str(s: &str) -> Result<Self, UnknownSeverity> {
        match s.trim().to_ascii_uppercase().as_str() {
            "MINOR" => Ok(Self::Minor),
            "MODERATE" => Ok(Self::Moderate),
            "MAJOR" => Ok(Self::Major),
            "CRITICAL" => Ok(Self::Critical),
            _ => Err(UnknownSeverity(super::ids::quote_prefix(s))),
        }
    }
}

/// Why a template's filter keeps an alert from making a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "filter")]
#[non_exhaustive]
pub enum FilterRefusal {
    /// The alert's source type is not among the template's (or the alert has none).
    SourceType {
        /// The alert's source type, when it has one.
        source_type: Option<String>,
    },
    /// The alert's severity is below the template's minimum.
    Severity {
        /// The alert's severity.
        severity: Severity,
        /// The template's minimum.
        min_severity: MinSeverity,
    },
}

impl fmt::Display for FilterRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SourceType {
                source_type: Some(t),
            } => write!(f, "its source type {t} is not one the template lists"),
            Self::SourceType { source_type: None } => {
                f.write_str("it has no source type and the template lists source types")
            }
            Self::Severity {
                severity,
                min_severity,
            } => write!(
                f,
                "its severity {severity} is below the template's minimum {min_severity}"
            ),
        }
    }
}

/// A named ticket template: the fields an alert's ticket gets and which alerts make one.
///
/// At most one template is the default; a store that saves a default clears the flag of the
/// previous one in the same write.
///
/// # Alerts without a severity
/// NinjaOne's alert listing does not always carry a severity (API-NOTES: activities do, alerts
/// *may*). A template's minimum severity therefore filters only alerts that carry a severity
/// this crate can rank: `NONE`, `MINOR`, `MODERATE`, `MAJOR`, `CRITICAL`. An alert without a
/// severity, or with a value this version does not know, **passes** the severity filter — a
/// ticket too many is visible and closed in a minute, a ticket never raised is an outage nobody
/// hears of. `NONE` ranks below `MINOR`, so any minimum filters it out.
///
/// # Cases
/// `sn_customerservice_case` has `assignment_group`, `category`, `subcategory` and
/// `contact_type` (ServiceNow's Case API reference), so a case takes those four. It has no
/// `caller_id`: its person is `contact`, a reference to `customer_contact` (the customer's
/// people, not the service desk's `sys_user` rows the caller is checked against), so the
/// template's caller is **not** put on cases. Note that the base system's case `category` and
/// `subcategory` are numeric choices (`0` Question, `1` Issue, `2` Feature), unlike an
/// incident's text choices: a template used for cases should carry the case's values.
///
/// ```
/// use ninjaone_servicenow::model::{Alert, MinSeverity, TicketTemplate};
/// let mut servers = TicketTemplate::new("servers".parse()?);
/// servers.set_assignment_group(Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse()?));
/// servers.set_category(Some("hardware".parse()?));
/// servers.set_source_types(["CONDITION_WINDOWS_EVENT_LOG_TRIGGERED".parse()?]);
/// servers.set_min_severity(Some(MinSeverity::Major));
///
/// let alert: Alert = serde_json::from_str(
///     r#"{"uid": "u-1", "sourceType": "CONDITION_WINDOWS_EVENT_LOG_TRIGGERED", "severity": "CRITICAL"}"#,
/// )?;
/// assert!(servers.admits(&alert).is_ok());
/// let minor: Alert = serde_json::from_str(
///     r#"{"uid": "u-2", "sourceType": "CONDITION_WINDOWS_EVENT_LOG_TRIGGERED", "severity": "MINOR"}"#,
/// )?;
/// assert_eq!(
///     servers.admits(&minor).unwrap_err().to_string(),
///     "its severity MINOR is below the template's minimum MAJOR"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTemplate {
    name: TicketTemplateName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assignment_group: Option<SysId>,
    #[serde(default, rename = "caller_id", skip_serializing_if = "Option::is_none")]
    caller: Option<SysId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<TicketFieldValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subcategory: Option<TicketFieldValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact_type: Option<TicketFieldValue>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    source_types: BTreeSet<SourceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_severity: Option<MinSeverity>,
    #[serde(default)]
    default: bool,
}

impl TicketTemplate {
    /// A template that sets no field and admits every alert; not the default.
    #[must_use]
    pub fn new(name: TicketTemplateName) -> Self {
        Self {
            name,
            assignment_group: None,
            caller: None,
            category: None,
            subcategory: None,
            contact_type: None,
            source_types: BTreeSet::new(),
            min_severity: None,
            default: false,
        }
    }

    /// The template's name.
    #[must_use]
    pub fn name(&self) -> &TicketTemplateName {
        &self.name
    }

    /// The `assignment_group` (a `sys_user_group` sys_id) its tickets get.
    #[must_use]
    pub fn assignment_group(&self) -> Option<&SysId> {
        self.assignment_group.as_ref()
    }

    /// The `caller_id` (a `sys_user` sys_id) its incidents get; cases take no caller.
    #[must_use]
    pub fn caller(&self) -> Option<&SysId> {
        self.caller.as_ref()
    }

    /// The `category` its tickets get.
    #[must_use]
    pub fn category(&self) -> Option<&TicketFieldValue> {
        self.category.as_ref()
    }

    /// The `subcategory` its tickets get.
    #[must_use]
    pub fn subcategory(&self) -> Option<&TicketFieldValue> {
        self.subcategory.as_ref()
    }

    /// The `contact_type` its tickets get (for example `monitoring`).
    #[must_use]
    pub fn contact_type(&self) -> Option<&TicketFieldValue> {
        self.contact_type.as_ref()
    }

    /// The source types whose alerts make tickets; empty: every source type.
    #[must_use]
    pub fn source_types(&self) -> &BTreeSet<SourceType> {
        &self.source_types
    }

    /// The lowest severity that makes a ticket, when there is one.
    #[must_use]
    pub fn min_severity(&self) -> Option<MinSeverity> {
        self.min_severity
    }

    /// Whether this is the default template (used by configurations that name none).
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.default
    }

    /// Sets the assignment group.
    pub fn set_assignment_group(&mut self, group: Option<SysId>) {
        self.assignment_group = group;
    }

    /// Sets the caller (incidents only).
    pub fn set_caller(&mut self, caller: Option<SysId>) {
        self.caller = caller;
    }

    /// Sets the category.
    pub fn set_category(&mut self, category: Option<TicketFieldValue>) {
        self.category = category;
    }

    /// Sets the subcategory.
    pub fn set_subcategory(&mut self, subcategory: Option<TicketFieldValue>) {
        self.subcategory = subcategory;
    }

    /// Sets the contact type.
    pub fn set_contact_type(&mut self, contact_type: Option<TicketFieldValue>) {
        self.contact_type = contact_type;
    }

    /// Replaces the source types (none: every source type).
    pub fn set_source_types(&mut self, types: impl IntoIterator<Item = SourceType>) {
        self.source_types = types.into_iter().collect();
    }

    /// Sets the minimum severity (none: every severity).
    pub fn set_min_severity(&mut self, min: Option<MinSeverity>) {
        self.min_severity = min;
    }

    /// Makes this the default template, or not.
    pub fn set_default(&mut self, default: bool) {
        self.default = default;
    }

    /// Whether `alert` makes a ticket under this template: its source type is listed (or the
    /// list is empty), and its severity reaches the minimum (or there is none, or the alert
    /// carries no severity this version can rank — see [`TicketTemplate`]).
    ///
    /// # Errors
    /// The [`FilterRefusal`] saying which rule keeps the alert out.
    pub fn admits(&self, alert: &Alert) -> Result<(), FilterRefusal> {
        if !self.source_types.is_empty() {
            let source = alert.source_type.as_deref().map(str::trim);
            // NinjaOne sends source types in upper case, as they are stored: an exact lookup,
            // and a case-insensitive scan only for what it misses.
            let listed = source.is_some_and(|s| {
                self.source_types.contains(s)
                    || self
                        .source_types
                        .iter()
                        .any(|t| t.as_str().eq_ignore_ascii_case(s))
            });
            if !listed {
                return Err(FilterRefusal::SourceType {
                    source_type: source.filter(|s| !s.is_empty()).map(str::to_owned),
                });
            }
        }
        if let (Some(min), Some(severity)) = (self.min_severity, &alert.severity)
            && min.admits(severity) == Some(false)
        {
            return Err(FilterRefusal::Severity {
                severity: severity.clone(),
                min_severity: min,
            });
        }
        Ok(())
    }

    /// Puts the template's fields on an incident: `assignment_group`, `caller_id`, `category`,
    /// `subcategory`, `contact_type`. Fields the template leaves unset are not touched.
    pub fn apply_to_incident(&self, incident: &mut NewIncident) {
        if let Some(group) = &self.assignment_group {
            incident.assignment_group = Some(group.clone());
        }
        if let Some(caller) = &self.caller {
            incident.caller_id = Some(caller.clone());
        }
        set_text(&mut incident.category, self.category.as_ref());
        set_text(&mut incident.subcategory, self.subcategory.as_ref());
        set_text(&mut incident.contact_type, self.contact_type.as_ref());
    }

    /// Puts the template's fields that exist on `sn_customerservice_case` on a case:
    /// `assignment_group`, `category`, `subcategory`, `contact_type` — not the caller (see
    /// [`TicketTemplate`]). Fields the template leaves unset are not touched.
    pub fn apply_to_case(&self, case: &mut NewCase) {
        if let Some(group) = &self.assignment_group {
            case.assignment_group = Some(group.clone());
        }
        set_text(&mut case.category, self.category.as_ref());
        set_text(&mut case.subcategory, self.subcategory.as_ref());
        set_text(&mut case.contact_type, self.contact_type.as_ref());
    }

    /// The template a configuration uses: the one it names, else the default, else none.
    ///
    /// # Errors
    /// The name a configuration gives when no template has it (deleted meanwhile): its alerts
    /// are not routed with another template.
    pub fn select<'a>(
        named: Option<&TicketTemplateName>,
        templates: &'a [TicketTemplate],
    ) -> Result<Option<&'a TicketTemplate>, TicketTemplateName> {
        match named {
            Some(name) => templates
                .iter()
                .find(|t| &t.name == name)
                .map(Some)
                .ok_or_else(|| name.clone()),
            None => Ok(templates.iter().find(|t| t.default)),
        }
    }
}

fn set_text(field: &mut Option<String>, value: Option<&TicketFieldValue>) {
    if let Some(value) = value {
        *field = Some(value.as_str().to_owned());
    }
}

#[cfg(test)]
mod tests;
