//! The ticket a routed alert becomes: an incident or a case, its text bounded, with its
//! organization's ticket template applied.

use super::{RouteDecision, RoutingIndex};
use crate::model::{Alert, NewCase, NewIncident, OrganizationId, TicketKind, TicketTemplate};
use crate::plan::tickets::levels::UrgencyImpactTable;
use crate::plan::tickets::text::{
    DESCRIPTION_MAX, SHORT_DESCRIPTION_MAX, multi_line, one_line, truncate,
};

/// The ticket a [`RouteDecision::Create`] becomes: an incident or a case, its text bounded
/// ([`SHORT_DESCRIPTION_MAX`], [`DESCRIPTION_MAX`]) and without control characters, with the
/// fields of the organization's ticket template (see [`RoutingIndex::with_templates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketBody {
    /// An incident.
    Incident(NewIncident),
    /// A Customer Service Management case.
    Case(NewCase),
}

impl TicketBody {
    /// The body for `alert` routed as `decision`, with `correlation_display` and the levels of
    /// `urgency_impact`; `None` for a skip.
    #[must_use]
    pub fn build(
        alert: &Alert,
        decision: &RouteDecision,
        index: &RoutingIndex,
        correlation_display: &str,
        urgency_impact: &UrgencyImpactTable,
    ) -> Option<Self> {
        let RouteDecision::Create {
            organization,
            device,
            kind,
            company,
            account,
            cmdb_ci,
            correlation_id,
        } = decision
        else {
            return None;
        };
        let device_name = index
            .device_name(*device)
            .map_or_else(|| format!("device {device}"), str::to_owned);
        let (short_description, description) = describe(alert, &device_name, *organization);
        let (urgency, impact) = urgency_impact.levels(alert);
        let mut body = match (kind, account) {
            (TicketKind::Case, Some(account)) => Self::Case(NewCase {
                short_description,
                description,
                account: account.clone(),
                company: Some(company.clone()),
                cmdb_ci: cmdb_ci.clone(),
                correlation_id: correlation_id.clone(),
                correlation_display: correlation_display.to_owned(),
                urgency,
                impact,
                assignment_group: None,
                category: None,
                subcategory: None,
                contact_type: None,
            }),
            _ => Self::Incident(NewIncident {
                short_description,
                description,
                company: Some(company.clone()),
                account: account.clone(),
                cmdb_ci: cmdb_ci.clone(),
                correlation_id: correlation_id.clone(),
                correlation_display: correlation_display.to_owned(),
                urgency,
                impact,
                assignment_group: None,
                caller_id: None,
                category: None,
                subcategory: None,
                contact_type: None,
            }),
        };
        if let Some(template) = index.template_of(*organization) {
            body.apply_template(template);
        }
        Some(body)
    }

    /// Puts the ticket template's fields on the body (a case takes what a case has).
    fn apply_template(&mut self, template: &TicketTemplate) {
        match self {
            Self::Incident(incident) => template.apply_to_incident(incident),
            Self::Case(case) => template.apply_to_case(case),
        }
    }
}

/// The short description and the description of an alert's ticket.
fn describe(alert: &Alert, device_name: &str, organization: OrganizationId) -> (String, String) {
    fn text(s: Option<&String>) -> Option<&str> {
        s.map(|s| s.trim()).filter(|s| !s.is_empty())
    }
    let title = text(alert.subject.as_ref())
        .or(text(alert.source_name.as_ref()))
        .or(text(alert.source_type.as_ref()))
        .unwrap_or("NinjaOne alert");
    let mut short = format!("{device_name}: {title}");
    if let Some(message) = text(alert.message.as_ref()) {
        short.push_str(" - ");
        short.push_str(message);
    }
    let short = truncate(&one_line(&short), SHORT_DESCRIPTION_MAX);
    let mut long = String::new();
    let mut line = |label: &str, value: &str| {
        long.push_str(label);
        long.push_str(": ");
        long.push_str(&one_line(value));
        long.push('\n');
    };
    line("Device", device_name);
    if let Some(device) = alert.device_id {
        line("Device id", &device.to_string());
    }
    line("Organization id", &organization.to_string());
    if let Some(source) = text(alert.source_type.as_ref()) {
        line("Source", source);
    }
    if let Some(name) = text(alert.source_name.as_ref()) {
        line("Condition", name);
    }
    if let Some(subject) = text(alert.subject.as_ref()) {
        line("Subject", subject);
    }
    if let Some(severity) = &alert.severity {
        line("Severity", severity.as_str());
    }
    if let Some(priority) = &alert.priority {
        line("Priority", priority.as_str());
    }
    if let Some(at) = alert.create_time {
        line("Raised", &at.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    }
    line("NinjaOne alert", alert.uid.as_str());
    if let Some(message) = text(alert.message.as_ref()) {
        long.push('\n');
        long.push_str(&multi_line(message));
        long.push('\n');
    }
    (short, truncate(&long, DESCRIPTION_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_carry_the_alert_and_are_bounded() {
        let mut alert: Alert = serde_json::from_str(
            r#"{"uid":"u-1","deviceId":7,"subject":"CPU","sourceType":"CONDITION","message":"hot"}"#,
        )
        .unwrap();
        let org = OrganizationId::new(2).unwrap();
        let (short, long) = describe(&alert, "SRV-01", org);
        assert_eq!(short, "SRV-01: CPU - hot");
        for part in [
            "Device: SRV-01",
            "Source: CONDITION",
            "Subject: CPU",
            "u-1",
            "hot",
        ] {
            assert!(long.contains(part), "{part} in {long}");
        }
        alert.message = Some("x".repeat(500));
        let (short, _) = describe(&alert, "SRV-01", org);
        assert_eq!(short.chars().count(), SHORT_DESCRIPTION_MAX);
        assert!(short.ends_with('…'));
    }
}
