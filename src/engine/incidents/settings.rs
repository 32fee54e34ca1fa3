//! [`IncidentSettings`]: the integration id behind every correlation id, how tickets are
//! resolved, the listing window, and the [`UrgencyImpactTable`].

use std::fmt;

use chrono::TimeDelta;

use crate::model::{Alert, AlertUid, CorrelationId, IdError, Level, Priority, Severity};
use crate::plan::RetryPolicy;
use crate::ports::{DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE};

/// The longest integration id: `ninjaone:<id>:alert:` is then at most 48 characters, which leaves
/// 52 of `correlation_id`'s 100 for the alert's uid — NinjaOne's uids are 36-character UUIDs.
pub const MAX_INTEGRATION_ID_LEN: usize = 32;

/// How NinjaOne's severity and priority become ServiceNow's impact and urgency.
///
/// Impact follows the alert's severity, urgency its priority; an alert without a (known)
/// priority takes its impact as urgency, and one without a (known) severity gets
/// [`fallback`](Self::fallback) for both. The defaults:
///
/// | severity | impact | | priority | urgency |
/// | --- | --- | --- | --- | --- |
/// | CRITICAL | 1 - high | | HIGH | 1 - high |
/// | MAJOR | 1 - high | | MEDIUM | 2 - medium |
/// | MODERATE | 2 - medium | | LOW | 3 - low |
/// | MINOR | 3 - low | | NONE | 3 - low |
/// | NONE | 3 - low | | | |
///
/// and a fallback of 3 - low. Every cell can be overridden:
///
/// ```
/// use ninjaone_servicenow::engine::incidents::UrgencyImpactTable;
/// use ninjaone_servicenow::model::{Level, Severity};
/// let table = UrgencyImpactTable::default().impact(&Severity::Major, Level::Medium);
/// assert_eq!(table.impact_for(Some(&Severity::Major)), Level::Medium);
/// assert_eq!(table.impact_for(Some(&Severity::Critical)), Level::High);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct UrgencyImpactTable {
    /// By severity: NONE, MINOR, MODERATE, MAJOR, CRITICAL.
    impact: [Level; 5],
    /// By priority: NONE, LOW, MEDIUM, HIGH.
    urgency: [Level; 4],
    fallback: Level,
}

impl Default for UrgencyImpactTable {
    fn default() -> Self {
        Self {
            impact: [
                Level::Low,
                Level::Low,
                Level::Medium,
                Level::High,
                Level::High,
            ],
            urgency: [Level::Low, Level::Low, Level::Medium, Level::High],
            fallback: Level::Low,
        }
    }
}

fn severity_slot(severity: &Severity) -> Option<usize> {
    match severity {
        Severity::None => Some(0),
        Severity::Minor => Some(1),
        Severity::Moderate => Some(2),
        Severity::Major => Some(3),
        Severity::Critical => Some(4),
        _ => None,
    }
}

fn priority_slot(priority: &Priority) -> Option<usize> {
    match priority {
        Priority::None => Some(0),
        Priority::Low => Some(1),
        Priority::Medium => Some(2),
        Priority::High => Some(3),
        _ => None,
    }
}

impl UrgencyImpactTable {
    /// Sets the impact of alerts of `severity` (an unknown severity changes nothing).
    pub fn impact(mut self, severity: &Severity, level: Level) -> Self {
        if let Some(slot) = severity_slot(severity) {
            self.impact[slot] = level;
        }
        self
    }

    /// Sets the urgency of alerts of `priority` (an unknown priority changes nothing).
    pub fn urgency(mut self, priority: &Priority, level: Level) -> Self {
        if let Some(slot) = priority_slot(priority) {
            self.urgency[slot] = level;
        }
        self
    }

    /// Sets the level of alerts without a known severity.
    pub fn fallback(mut self, level: Level) -> Self {
        self.fallback = level;
        self
    }

    /// The impact for a severity.
    #[must_use]
    pub fn impact_for(&self, severity: Option<&Severity>) -> Level {
        severity
            .and_then(severity_slot)
            .map_or(self.fallback, |slot| self.impact[slot])
    }

    /// The urgency and impact of an alert.
    #[must_use]
    pub fn levels(&self, alert: &Alert) -> (Level, Level) {
        let impact = self.impact_for(alert.severity.as_ref());
        let urgency = alert
            .priority
            .as_ref()
            .and_then(priority_slot)
            .map_or(impact, |slot| self.urgency[slot]);
        (urgency, impact)
    }
}

/// An integration id that is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid integration id {id:?}: {reason}")]
pub struct InvalidIntegrationId {
    id: String,
    reason: &'static str,
}

/// The incident router's knobs.
///
/// The integration id names this integration in every ticket's correlation id
/// (`ninjaone:<id>:alert:<uid>`): two integrations with different ids on one ServiceNow never
/// see, adopt or resolve each other's tickets. It is 1 to [`MAX_INTEGRATION_ID_LEN`] letters,
/// digits, `.`, `_` or `-` — no `:`, so no id's prefix is a prefix of another's.
///
/// ```
/// use ninjaone_servicenow::engine::incidents::IncidentSettings;
/// let settings = IncidentSettings::new("acme-prod")?;
/// assert_eq!(settings.prefix().as_str(), "ninjaone:acme-prod:alert:");
/// assert!(IncidentSettings::new("acme:prod").is_err());
/// # Ok::<(), ninjaone_servicenow::engine::incidents::InvalidIntegrationId>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncidentSettings {
    integration_id: String,
    prefix: CorrelationId,
    /// `close_code` of an incident resolved because its alert cleared (default
    /// "Solved (Permanently)"; instances rename their choices, so set yours).
    pub incident_close_code: String,
    /// `close_notes` of such an incident.
    pub incident_close_notes: String,
    /// `resolution_code` of a case resolved because its alert cleared (default
    /// "Solution provided").
    pub case_resolution_code: String,
    /// `close_notes` (resolution notes) of such a case.
    pub case_close_notes: String,
    /// Subtracted from the oldest open alert's (or unfinished record's) time to bound the
    /// ticket listing: covers clock skew between NinjaOne, ServiceNow and this host. Default
    /// one day.
    pub window_margin: TimeDelta,
    /// Urgency and impact from severity and priority.
    pub urgency_impact: UrgencyImpactTable,
    /// `correlation_display` of the tickets (default "NinjaOne").
    pub correlation_display: String,
    /// How many ticket writes may be in flight (default 8); halved by each rate limit.
    pub concurrency: usize,
    /// Page size of the ticket and device listings.
    pub page_size: u32,
    /// The most pages a listing may have before it is refused as endless.
    pub max_pages: usize,
    /// Results are written to the store in batches of this many records.
    pub store_batch: usize,
    /// Waits after a rate limit (the server's `Retry-After`, capped).
    pub retry: RetryPolicy,
}

impl IncidentSettings {
    /// Settings for the integration `integration_id`, with the defaults.
    ///
    /// # Errors
    /// [`InvalidIntegrationId`] when the id is empty, longer than [`MAX_INTEGRATION_ID_LEN`] or
    /// holds anything but letters, digits, `.`, `_` and `-`.
    pub fn new(integration_id: impl Into<String>) -> Result<Self, InvalidIntegrationId> {
        let id = integration_id.into();
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id.len() > MAX_INTEGRATION_ID_LEN {
            Some("it is longer than 32 characters")
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            Some("only letters, digits and . _ - are allowed")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(InvalidIntegrationId { id, reason });
        }
        let prefix = format!("ninjaone:{id}:alert:")
            .parse()
            .map_err(|_: IdError| InvalidIntegrationId {
                id: id.clone(),
                reason: "it does not make a valid correlation id",
            })?;
        Ok(Self {
            integration_id: id,
            prefix,
            incident_close_code: "Solved (Permanently)".to_owned(),
            incident_close_notes: "The NinjaOne alert cleared: its condition reset.".to_owned(),
            case_resolution_code: "Solution provided".to_owned(),
            case_close_notes: "The NinjaOne alert cleared: its condition reset.".to_owned(),
            window_margin: TimeDelta::days(1),
            urgency_impact: UrgencyImpactTable::default(),
            correlation_display: "NinjaOne".to_owned(),
            concurrency: 8,
            page_size: DEFAULT_PAGE_SIZE,
            max_pages: DEFAULT_MAX_PAGES,
            store_batch: 100,
            retry: RetryPolicy::default(),
        })
    }

    /// The integration id.
    #[must_use]
    pub fn integration_id(&self) -> &str {
        &self.integration_id
    }

    /// `ninjaone:<integration-id>:alert:`, the prefix of this integration's correlation ids.
    #[must_use]
    pub fn prefix(&self) -> &CorrelationId {
        &self.prefix
    }

    /// The correlation id of an alert's ticket; `None` when the uid is too long to fit
    /// `correlation_id`'s 100 characters after the prefix.
    #[must_use]
    pub fn correlation_id(&self, alert: &AlertUid) -> Option<CorrelationId> {
        correlation_id(&self.prefix, alert)
    }

    /// Sets the concurrency of ticket writes (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets the page size of the listings (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Sets the store batch size (at least 1).
    #[must_use]
    pub fn with_store_batch(mut self, store_batch: usize) -> Self {
        self.store_batch = store_batch.max(1);
        self
    }

    /// Sets the urgency and impact table.
    #[must_use]
    pub fn with_urgency_impact(mut self, table: UrgencyImpactTable) -> Self {
        self.urgency_impact = table;
        self
    }

    /// Sets the listing window's margin (negative values count as zero).
    #[must_use]
    pub fn with_window_margin(mut self, margin: TimeDelta) -> Self {
        self.window_margin = margin.max(TimeDelta::zero());
        self
    }
}

impl fmt::Display for IncidentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "integration {}", self.integration_id)
    }
}

/// `prefix` + `alert`, when it fits.
pub(crate) fn correlation_id(prefix: &CorrelationId, alert: &AlertUid) -> Option<CorrelationId> {
    let mut id = String::with_capacity(prefix.as_str().len() + alert.as_str().len());
    id.push_str(prefix.as_str());
    id.push_str(alert.as_str());
    // Both parts use only the allowed characters, so only the length can fail.
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_id_still_fits_a_uuid() {
        let settings = IncidentSettings::new("a".repeat(MAX_INTEGRATION_ID_LEN)).unwrap();
        let uid: AlertUid = "50edcf11-de92-4ecb-955b-c8066488b6cc".parse().unwrap();
        let id = settings.correlation_id(&uid).unwrap();
        assert!(id.as_str().len() <= 100);
        assert!(id.starts_with(settings.prefix()));
        let long: AlertUid = "x".repeat(60).parse().unwrap();
        assert_eq!(settings.correlation_id(&long), None);
    }

    #[test]
    fn ids_are_validated() {
        for bad in ["", "a:b", "a b", "x^NQ", &"a".repeat(33)] {
            assert!(IncidentSettings::new(bad).is_err(), "{bad:?}");
        }
        let err = IncidentSettings::new("a:b").unwrap_err();
        assert!(err.to_string().contains("only letters"), "{err}");
    }

    #[test]
    fn levels_follow_the_table() {
        let table = UrgencyImpactTable::default();
        let mut alert: Alert = serde_json::from_str(r#"{"uid":"u1"}"#).unwrap();
        assert_eq!(table.levels(&alert), (Level::Low, Level::Low));
        alert.severity = Some(Severity::Critical);
        assert_eq!(table.levels(&alert), (Level::High, Level::High));
        alert.priority = Some(Priority::Low);
        assert_eq!(table.levels(&alert), (Level::Low, Level::High));
        let table = table
            .urgency(&Priority::Low, Level::Medium)
            .fallback(Level::Medium);
        assert_eq!(table.levels(&alert), (Level::Medium, Level::High));
        alert.severity = Some(Severity::Other("WEIRD".into()));
        alert.priority = None;
        assert_eq!(table.levels(&alert), (Level::Medium, Level::Medium));
    }
}
