//! [`UrgencyImpactTable`]: how NinjaOne's severity and priority become ServiceNow's impact and
//! urgency.

use crate::model::{Alert, Level, Priority, Severity};

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
/// use ninjaone_servicenow::plan::UrgencyImpactTable;
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

#[cfg(test)]
mod tests {
    use super::*;

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
