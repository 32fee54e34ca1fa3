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
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SOURCES: [&str; 4] = ["CONDITION_CPU", "CONDITION_DISK", "condition_ping", "OTHER"];

    fn severity_of(i: usize) -> Option<Severity> {
        [
            None,
            Some(Severity::None),
            Some(Severity::Minor),
            Some(Severity::Moderate),
            Some(Severity::Major),
            Some(Severity::Critical),
            Some(Severity::Other("CATASTROPHIC".to_owned())),
        ]
        .get(i)
        .cloned()
        .flatten()
    }

    proptest! {
        /// The filter admits an alert exactly when its source type is listed (or none are) and
        /// its severity reaches the minimum (or there is none, or the alert's cannot be
        /// ranked); and applying the template sets exactly the fields it has.
        #[test]
        fn the_filter_follows_its_two_rules_and_apply_sets_what_is_set(
            listed in proptest::collection::btree_set(0..3usize, 0..3),
            source in proptest::option::of(0..4usize),
            severity in 0..7usize,
            min in proptest::option::of(0..4usize),
            group in any::<bool>(),
            category in any::<bool>(),
        ) {
            let mins = [MinSeverity::Minor, MinSeverity::Moderate, MinSeverity::Major, MinSeverity::Critical];
            let mut t = TicketTemplate::new("t".parse().unwrap());
            t.set_source_types(listed.iter().map(|&i| SOURCES[i].parse::<SourceType>().unwrap()));
            let min = min.map(|i| mins[i]);
            t.set_min_severity(min);
            let mut alert: Alert = serde_json::from_str(r#"{"uid":"a"}"#).unwrap();
            alert.source_type = source.map(|i| SOURCES[i].to_owned());
            alert.severity = severity_of(severity);

            let source_ok = listed.is_empty()
                || source.is_some_and(|s| listed.iter().any(|&l| SOURCES[l].eq_ignore_ascii_case(SOURCES[s])));
            let rank = |s: &Severity| match s {
                Severity::None => Some(0),
                Severity::Minor => Some(1),
                Severity::Moderate => Some(2),
                Severity::Major => Some(3),
                Severity::Critical => Some(4),
                _ => None,
            };
            let min_rank = |m: MinSeverity| mins.iter().position(|x| *x == m).map(|p| p + 1);
            let severity_ok = match (min, alert.severity.as_ref().and_then(rank)) {
                (Some(m), Some(r)) => min_rank(m).is_some_and(|m| r >= m),
                _ => true,
            };
            prop_assert_eq!(t.admits(&alert).is_ok(), source_ok && severity_ok);

            if group {
                t.set_assignment_group(Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()));
            }
            if category {
                t.set_category(Some("hardware".parse().unwrap()));
            }
            let mut case = NewCase {
                short_description: String::new(),
                description: String::new(),
                account: "1c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap(),
                company: None,
                cmdb_ci: None,
                correlation_id: "ninjaone:t:alert:a".parse().unwrap(),
                correlation_display: String::new(),
                urgency: super::super::servicenow::Level::Low,
                impact: super::super::servicenow::Level::Low,
                assignment_group: None,
                category: Some("kept".to_owned()),
                subcategory: Some("kept".to_owned()),
                contact_type: None,
            };
            t.apply_to_case(&mut case);
            prop_assert_eq!(case.assignment_group.is_some(), group);
            prop_assert_eq!(case.category.as_deref(), Some(if category { "hardware" } else { "kept" }));
            prop_assert_eq!(case.subcategory.as_deref(), Some("kept"));
            prop_assert_eq!(case.contact_type, None);
        }
    }

    fn alert(json: &str) -> Alert {
        serde_json::from_str(json).expect("an alert")
    }

    #[test]
    fn severity_filter_ranks_known_values_and_admits_the_rest() {
        let mut t = TicketTemplate::new("t".parse().unwrap());
        t.set_min_severity(Some(MinSeverity::Moderate));
        for (json, admitted) in [
            (r#"{"uid":"a","severity":"CRITICAL"}"#, true),
            (r#"{"uid":"a","severity":"MODERATE"}"#, true),
            (r#"{"uid":"a","severity":"MINOR"}"#, false),
            (r#"{"uid":"a","severity":"NONE"}"#, false),
            (r#"{"uid":"a"}"#, true),
            (r#"{"uid":"a","severity":"CATASTROPHIC"}"#, true),
        ] {
            assert_eq!(t.admits(&alert(json)).is_ok(), admitted, "{json}");
        }
    }

    #[test]
    fn source_filter_lists_types_and_refuses_alerts_without_one() {
        let mut t = TicketTemplate::new("t".parse().unwrap());
        assert!(t.admits(&alert(r#"{"uid":"a"}"#)).is_ok());
        t.set_source_types(["condition_cpu".parse().unwrap()]);
        assert!(
            t.admits(&alert(r#"{"uid":"a","sourceType":"CONDITION_CPU"}"#))
                .is_ok()
        );
        assert_eq!(
            t.admits(&alert(r#"{"uid":"a","sourceType":"CONDITION_DISK"}"#)),
            Err(FilterRefusal::SourceType {
                source_type: Some("CONDITION_DISK".to_owned())
            })
        );
        assert_eq!(
            t.admits(&alert(r#"{"uid":"a","sourceType":" "}"#)),
            Err(FilterRefusal::SourceType { source_type: None })
        );
    }

    #[test]
    fn names_and_values_are_checked() {
        assert!("a\u{7}b".parse::<TicketTemplateName>().is_err());
        assert!("x".repeat(101).parse::<TicketTemplateName>().is_err());
        assert!("x".repeat(81).parse::<TicketFieldValue>().is_err());
        assert!("hardware".parse::<TicketFieldValue>().is_ok());
        assert!("".parse::<SourceType>().is_err());
        assert_eq!("major".parse::<MinSeverity>(), Ok(MinSeverity::Major));
        assert!("huge".parse::<MinSeverity>().is_err());
    }

    #[test]
    fn select_prefers_the_named_template_then_the_default() {
        let mut a = TicketTemplate::new("a".parse().unwrap());
        let b = TicketTemplate::new("b".parse().unwrap());
        a.set_default(true);
        let all = [a, b];
        let name = |s: &str| s.parse::<TicketTemplateName>().unwrap();
        assert_eq!(
            TicketTemplate::select(None, &all)
                .unwrap()
                .map(|t| t.name().as_str()),
            Some("a")
        );
        assert_eq!(
            TicketTemplate::select(Some(&name("b")), &all)
                .unwrap()
                .map(|t| t.name().as_str()),
            Some("b")
        );
        assert_eq!(
            TicketTemplate::select(Some(&name("gone")), &all),
            Err(name("gone"))
        );
        assert_eq!(TicketTemplate::select(None, &all[1..]), Ok(None));
    }

    #[test]
    fn serde_round_trip_uses_the_servicenow_field_names() {
        let mut t = TicketTemplate::new("t".parse().unwrap());
        t.set_caller(Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()));
        t.set_min_severity(Some(MinSeverity::Critical));
        t.set_default(true);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["caller_id"], "0c43f35d4f5a1200c0a8016a9310c7d5");
        assert_eq!(json["min_severity"], "CRITICAL");
        assert_eq!(serde_json::from_value::<TicketTemplate>(json).unwrap(), t);
    }
}
