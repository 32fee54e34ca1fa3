//! [`IncidentSettings`]: the integration id behind every correlation id, how tickets are
//! resolved, the listing window, the [`UrgencyImpactTable`] and the resolve guard.

use std::fmt;

use chrono::TimeDelta;

use super::UrgencyImpactTable;
use crate::model::{AlertUid, CorrelationId, IdError};
use crate::plan::ResolveGuard;

/// The longest integration id: `ninjaone:<id>:alert:` is then at most 48 characters, which leaves
/// 52 of `correlation_id`'s 100 for the alert's uid — NinjaOne's uids are 36-character UUIDs.
pub const MAX_INTEGRATION_ID_LEN: usize = 32;

/// An integration id that is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid integration id {id:?}: {reason}; use 1 to 32 letters, digits, '.', '_' or '-'")]
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
    pub(crate) incident_close_code: String,
    /// `close_notes` of such an incident.
    pub(crate) incident_close_notes: String,
    /// `resolution_code` of a case resolved because its alert cleared (default
    /// "Solution provided").
    pub(crate) case_resolution_code: String,
    /// `close_notes` (resolution notes) of such a case.
    pub(crate) case_close_notes: String,
    /// Subtracted from the oldest open alert's (or unfinished record's) time to bound the
    /// ticket listing: covers clock skew between NinjaOne, ServiceNow and this host. Default
    /// one day.
    pub(crate) window_margin: TimeDelta,
    /// Urgency and impact from severity and priority.
    pub(crate) urgency_impact: UrgencyImpactTable,
    /// `correlation_display` of the tickets (default "NinjaOne").
    pub(crate) correlation_display: String,
    /// The resolve guard: a pass that would resolve more than `max(floor, percent % of the
    /// open tickets)` — by default max(10, 10 %) — resolves none and holds them for an
    /// administrator ([`IncidentRouter::approve_resolves`](super::IncidentRouter::approve_resolves)).
    pub(crate) resolve_guard: ResolveGuard,
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
            resolve_guard: ResolveGuard::default(),
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
        crate::plan::tickets::correlation_id(&self.prefix, alert)
    }

    /// `close_code` of an incident resolved because its alert cleared.
    #[must_use]
    pub fn incident_close_code(&self) -> &str {
        &self.incident_close_code
    }

    /// `close_notes` of such an incident.
    #[must_use]
    pub fn incident_close_notes(&self) -> &str {
        &self.incident_close_notes
    }

    /// `resolution_code` of a case resolved because its alert cleared.
    #[must_use]
    pub fn case_resolution_code(&self) -> &str {
        &self.case_resolution_code
    }

    /// `close_notes` (resolution notes) of such a case.
    #[must_use]
    pub fn case_close_notes(&self) -> &str {
        &self.case_close_notes
    }

    /// The listing window's margin (at least zero: negative values count as zero).
    #[must_use]
    pub fn window_margin(&self) -> TimeDelta {
        self.window_margin
    }

    /// The urgency and impact table.
    pub fn urgency_impact(&self) -> &UrgencyImpactTable {
        &self.urgency_impact
    }

    /// `correlation_display` of the tickets.
    #[must_use]
    pub fn correlation_display(&self) -> &str {
        &self.correlation_display
    }

    /// The resolve guard.
    #[must_use]
    pub fn resolve_guard(&self) -> &ResolveGuard {
        &self.resolve_guard
    }

    /// A builder for the integration `integration_id`, starting from the defaults;
    /// [`IncidentSettingsBuilder::build`] (or `.into()`) makes the settings.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn builder(
        integration_id: impl Into<String>,
    ) -> Result<IncidentSettingsBuilder, InvalidIntegrationId> {
        Self::new(integration_id).map(|options| IncidentSettingsBuilder { options })
    }

    /// A builder starting from these settings, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> IncidentSettingsBuilder {
        IncidentSettingsBuilder {
            options: self.clone(),
        }
    }
}

/// Sets [`IncidentSettings`]: each setter is the setting's bare name, `#[must_use]`, and clamps a
/// value out of range into it (the range is in the setter's docs). The integration id is fixed
/// by [`IncidentSettings::builder`].
#[derive(Debug, Clone)]
pub struct IncidentSettingsBuilder {
    options: IncidentSettings,
}

impl IncidentSettingsBuilder {
    /// Sets `close_code` of an incident resolved because its alert cleared.
    #[must_use]
    pub fn incident_close_code(mut self, value: impl Into<String>) -> Self {
        self.options.incident_close_code = value.into();
        self
    }

    /// Sets `close_notes` of such an incident.
    #[must_use]
    pub fn incident_close_notes(mut self, value: impl Into<String>) -> Self {
        self.options.incident_close_notes = value.into();
        self
    }

    /// Sets `resolution_code` of a case resolved because its alert cleared.
    #[must_use]
    pub fn case_resolution_code(mut self, value: impl Into<String>) -> Self {
        self.options.case_resolution_code = value.into();
        self
    }

    /// Sets `close_notes` (resolution notes) of such a case.
    #[must_use]
    pub fn case_close_notes(mut self, value: impl Into<String>) -> Self {
        self.options.case_close_notes = value.into();
        self
    }

    /// Sets the listing window's margin (at least zero: negative values count as zero).
    #[must_use]
    pub fn window_margin(mut self, value: TimeDelta) -> Self {
        self.options.window_margin = value.max(TimeDelta::zero());
        self
    }

    /// Sets the urgency and impact table.
    #[must_use]
    pub fn urgency_impact(mut self, value: UrgencyImpactTable) -> Self {
        self.options.urgency_impact = value;
        self
    }

    /// Sets `correlation_display` of the tickets.
    #[must_use]
    pub fn correlation_display(mut self, value: impl Into<String>) -> Self {
        self.options.correlation_display = value.into();
        self
    }

    /// Sets the resolve guard.
    ///
    /// ```
    /// use ninjaone_servicenow::engine::incidents::IncidentSettings;
    /// use ninjaone_servicenow::plan::ResolveGuard;
    /// let settings = IncidentSettings::builder("acme")?
    ///     .resolve_guard(ResolveGuard::new(25, 20))
    ///     .build();
    /// assert_eq!(settings.resolve_guard().limit(200), 40);
    /// # Ok::<(), ninjaone_servicenow::engine::incidents::InvalidIntegrationId>(())
    /// ```
    #[must_use]
    pub fn resolve_guard(mut self, value: ResolveGuard) -> Self {
        self.options.resolve_guard = value;
        self
    }

    /// The settings.
    #[must_use]
    pub fn build(self) -> IncidentSettings {
        self.options
    }
}

impl From<IncidentSettingsBuilder> for IncidentSettings {
    fn from(builder: IncidentSettingsBuilder) -> Self {
        builder.build()
    }
}

impl fmt::Display for IncidentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "integration {}", self.integration_id)
    }
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
}
