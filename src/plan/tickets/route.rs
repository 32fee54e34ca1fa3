//! The pure routing decision: which alert becomes which ticket, and why the others do not.//!
//! The ticket body of a routed alert is in `route/body.rs`.

mod body;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::model::{
    Alert, AlertUid, CiRecord, CorrelationId, Device, DeviceId, FilterRefusal, OrganizationId,
    SyncConfig, SyncStatus, SysId, TicketKind, TicketTemplate, TicketTemplateName,
};

pub use body::TicketBody;

/// What [`route`] knows about one device.
#[derive(Debug, Clone)]
struct DeviceEntry {
    organization: OrganizationId,
    name: String,
}

/// What [`route`] knows about one organization's configuration.
#[derive(Debug, Clone)]
struct ConfigEntry {
    status: SyncStatus,
    allow_incidents: bool,
    company: Option<SysId>,
    account: Option<SysId>,
    tickets: TicketKind,
    /// The template the configuration names, if any.
    template_name: Option<TicketTemplateName>,
    /// The template it uses, resolved once per pass by [`RoutingIndex::with_templates`].
    template: TemplateRef,
}

/// Which ticket template a configuration uses.
#[derive(Debug, Clone)]
enum TemplateRef {
    /// None: it names none and there is no default.
    None,
    /// The template at this index of [`RoutingIndex::templates`].
    At(usize),
    /// It names a template that does not exist.
    Missing(TicketTemplateName),
}

impl TemplateRef {
    fn resolve(named: Option<&TicketTemplateName>, templates: &[TicketTemplate]) -> Self {
        match TicketTemplate::select(named, templates) {
            Ok(Some(found)) => templates
                .iter()
                .position(|t| t.name() == found.name())
                .map_or(Self::None, Self::At),
            Ok(None) => Self::None,
            Err(missing) => Self::Missing(missing),
        }
    }
}

/// Everything [`route`] looks up, indexed once per pass: the tenant's devices, the
/// configurations, the device → CI records, whether Customer Service Management is installed
/// and this integration's correlation-id prefix.
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::engine::incidents::{IncidentSettings, RoutingIndex, SkipReason, RouteDecision, route};
/// use ninjaone_servicenow::model::Alert;
/// let settings = IncidentSettings::new("acme")?;
/// let index = RoutingIndex::new(&settings, &[], &[], &[], None);
/// let alert: Alert = serde_json::from_str(r#"{"uid": "u-1", "deviceId": 7}"#)?;
/// let decision = route(&alert, &index);
/// assert!(matches!(decision, RouteDecision::Skip(SkipReason::UnknownDevice { .. })));
/// assert_eq!(decision.to_string(), "skipped: device 7 is not in NinjaOne's device listing");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RoutingIndex {
    prefix: CorrelationId,
    devices: HashMap<DeviceId, DeviceEntry>,
    configs: HashMap<OrganizationId, ConfigEntry>,
    cis: HashMap<DeviceId, SysId>,
    csm: Option<bool>,
    templates: Vec<TicketTemplate>,
}

impl RoutingIndex {
    /// Indexes `devices`, `configs` and `ci_records` for the integration whose correlation ids
    /// start with `prefix` (`ninjaone:<integration-id>:alert:`; `RoutingIndex::new` takes it
    /// from the router's settings). `csm` is whether Customer Service Management is installed
    /// (`None`: not known, so no case is created).
    #[must_use]
    pub fn for_prefix(
        prefix: &CorrelationId,
        devices: &[Device],
        configs: &[SyncConfig],
        ci_records: &[CiRecord],
        csm: Option<bool>,
    ) -> Self {
        Self {
            prefix: prefix.clone(),
            devices: devices
                .iter()
                .map(|d| {
                    let entry = DeviceEntry {
                        organization: d.organization_id,
                        name: d.name(),
                    };
                    (d.id, entry)
                })
                .collect(),
            configs: configs
                .iter()
                .map(|c| {
                    let entry = ConfigEntry {
                        status: c.status(),
                        allow_incidents: c.allow_incidents(),
                        company: c.company().cloned(),
                        account: c.customer_account().cloned(),
                        tickets: c.tickets(),
                        template_name: c.ticket_template().cloned(),
                        template: TemplateRef::resolve(c.ticket_template(), &[]),
                    };
                    (c.organization(), entry)
                })
                .collect(),
            cis: ci_records
                .iter()
                .filter_map(|r| r.sys_id.clone().map(|id| (r.device, id)))
                .collect(),
            csm,
            templates: Vec::new(),
        }
    }

    /// Adds the ticket templates: each configuration uses the one it names, else the default
    /// (see [`TicketTemplate::select`]). Without this call no template applies, and the alerts
    /// of a configuration that names one are skipped as [`SkipReason::UnknownTemplate`].
    #[must_use]
    pub fn with_templates(mut self, templates: &[TicketTemplate]) -> Self {
        self.templates = templates.to_vec();
        for entry in self.configs.values_mut() {
            entry.template = TemplateRef::resolve(entry.template_name.as_ref(), &self.templates);
        }
        self
    }

    /// The ticket template an organization's tickets use, if any.
    #[must_use]
    pub fn template_of(&self, organization: OrganizationId) -> Option<&TicketTemplate> {
        match self.configs.get(&organization).map(|c| &c.template) {
            Some(TemplateRef::At(i)) => self.templates.get(*i),
            _ => None,
        }
    }

    /// The name of a device in the listing.
    #[must_use]
    pub fn device_name(&self, device: DeviceId) -> Option<&str> {
        self.devices.get(&device).map(|d| d.name.as_str())
    }

    /// The status of an organization's configuration, if it has one.
    #[must_use]
    pub fn config_status(&self, organization: OrganizationId) -> Option<SyncStatus> {
        self.configs.get(&organization).map(|c| c.status)
    }

    /// The correlation id of an alert's ticket under this index's prefix; `None` when the uid
    /// is too long to fit `correlation_id`'s 100 characters.
    #[must_use]
    pub fn correlation_id(&self, alert: &AlertUid) -> Option<CorrelationId> {
        correlation_id(&self.prefix, alert)
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

/// Why an alert does not become a ticket. Shown to people through `Display`; `code()` is a
/// stable name for counting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum SkipReason {
    /// The alert names no device.
    NoDevice,
    /// The alert's device is not in NinjaOne's device listing.
    UnknownDevice {
        /// The device.
        device: DeviceId,
    },
    /// The device's organization has no configuration, or one without a company.
    Unmapped {
        /// The organization.
        organization: OrganizationId,
    },
    /// The organization's configuration is not active.
    NotActive {
        /// The organization.
        organization: OrganizationId,
        /// Its status.
        status: SyncStatus,
    },
    /// The organization's configuration does not allow incidents.
    IncidentsNotAllowed {
        /// The organization.
        organization: OrganizationId,
    },
    /// The configuration asks for cases but maps no customer account.
    CasesNeedAccount {
        /// The organization.
        organization: OrganizationId,
    },
    /// The configuration asks for cases but Customer Service Management is not installed (or
    /// could not be detected in this pass).
    CasesNeedCustomerService {
        /// The organization.
        organization: OrganizationId,
    },
    /// The alert's uid is too long for a `correlation_id` after this integration's prefix.
    UidTooLong,
    /// The configuration's ticket template keeps the alert from making a ticket.
    Filtered {
        /// The organization.
        organization: OrganizationId,
        /// The template.
        template: TicketTemplateName,
        /// Which rule of its filter.
        filter: FilterRefusal,
    },
    /// The configuration names a ticket template that does not exist (it was deleted while
    /// the configuration was saved); name an existing one.
    UnknownTemplate {
        /// The organization.
        organization: OrganizationId,
        /// The name it gives.
        template: TicketTemplateName,
    },
}

impl SkipReason {
    /// A stable name: "no_device", "unknown_device", "unmapped", "not_active",
    /// "incidents_not_allowed", "cases_need_account", "cases_need_customer_service",
    /// "uid_too_long", "filtered", "unknown_template".
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoDevice => "no_device",
            Self::UnknownDevice { .. } => "unknown_device",
            Self::Unmapped { .. } => "unmapped",
            Self::NotActive { .. } => "not_active",
            Self::IncidentsNotAllowed { .. } => "incidents_not_allowed",
            Self::CasesNeedAccount { .. } => "cases_need_account",
            Self::CasesNeedCustomerService { .. } => "cases_need_customer_service",
            Self::UidTooLong => "uid_too_long",
            Self::Filtered { .. } => "filtered",
            Self::UnknownTemplate { .. } => "unknown_template",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDevice => f.write_str("the alert names no device"),
            Self::UnknownDevice { device } => {
                write!(f, "device {device} is not in NinjaOne's device listing")
            }
            Self::Unmapped { organization } => write!(
                f,
                "organization {organization} is not mapped to a ServiceNow company"
            ),
            Self::NotActive {
                organization,
                status,
            } => write!(
                f,
                "organization {organization}'s sync configuration is {status}, not active"
            ),
            Self::IncidentsNotAllowed { organization } => write!(
                f,
                "organization {organization}'s sync configuration does not allow incidents"
            ),
            Self::CasesNeedAccount { organization } => write!(
                f,
                "organization {organization} uses cases but maps no customer account"
            ),
            Self::CasesNeedCustomerService { organization } => write!(
                f,
                "organization {organization} uses cases but Customer Service Management is not \
                 installed (or could not be detected)"
            ),
            Self::UidTooLong => f.write_str(
                "the alert's uid is too long for a correlation id; use a shorter integration id",
            ),
            Self::Filtered {
                organization,
                template,
                filter,
            } => write!(
                f,
                "organization {organization}'s ticket template {:?} filters the alert out: {filter}",
                template.as_str()
            ),
            Self::UnknownTemplate {
                organization,
                template,
            } => write!(
                f,
                "organization {organization} names the ticket template {:?}, which does not \
                 exist; name an existing template",
                template.as_str()
            ),
        }
    }
}

/// What [`route`] decided for one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteDecision {
    /// The alert becomes a ticket (unless it already has one).
    Create {
        /// The device's organization.
        organization: OrganizationId,
        /// The device.
        device: DeviceId,
        /// Incident or case.
        kind: TicketKind,
        /// The mapped company.
        company: SysId,
        /// The mapped customer account, when any.
        account: Option<SysId>,
        /// The device's configuration item, when known.
        cmdb_ci: Option<SysId>,
        /// The ticket's correlation id.
        correlation_id: CorrelationId,
    },
    /// The alert does not become a ticket.
    Skip(SkipReason),
}

impl fmt::Display for RouteDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create {
                organization,
                kind,
                company,
                ..
            } => write!(
                f,
                "create an {kind} for organization {organization} (company {company})",
                kind = kind.as_str()
            ),
            Self::Skip(reason) => write!(f, "skipped: {reason}"),
        }
    }
}

/// Decides whether `alert` becomes a ticket: only when its device is known, belongs to an
/// organization whose configuration is active, mapped to a company and allows incidents —
/// and, for a configuration that asks for cases, maps a customer account while Customer
/// Service Management is installed — and whose ticket template (the configuration's, else the
/// default) admits it. Every other alert is a [`RouteDecision::Skip`] with the first reason
/// found, in that order.
///
/// Pure and cheap: hash lookups, no I/O. Whether the alert already has a ticket is the pass's
/// business, not this function's.
#[must_use]
pub fn route(alert: &Alert, index: &RoutingIndex) -> RouteDecision {
    let skip = RouteDecision::Skip;
    let Some(device) = alert.device_id else {
        return skip(SkipReason::NoDevice);
    };
    let Some(entry) = index.devices.get(&device) else {
        return skip(SkipReason::UnknownDevice { device });
    };
    let organization = entry.organization;
    let Some((config, company)) = index
        .configs
        .get(&organization)
        .and_then(|c| c.company.as_ref().map(|company| (c, company)))
    else {
        return skip(SkipReason::Unmapped { organization });
    };
    if config.status != SyncStatus::Active {
        return skip(SkipReason::NotActive {
            organization,
            status: config.status,
        });
    }
    if !config.allow_incidents {
        return skip(SkipReason::IncidentsNotAllowed { organization });
    }
    if config.tickets == TicketKind::Case {
        if config.account.is_none() {
            return skip(SkipReason::CasesNeedAccount { organization });
        }
        if index.csm != Some(true) {
            return skip(SkipReason::CasesNeedCustomerService { organization });
        }
    }
    if let Some(reason) = template_skip(alert, organization, config, index) {
        return skip(reason);
    }
    let Some(correlation_id) = correlation_id(&index.prefix, &alert.uid) else {
        return skip(SkipReason::UidTooLong);
    };
    RouteDecision::Create {
        organization,
        device,
        kind: config.tickets,
        company: company.clone(),
        account: config.account.clone(),
        cmdb_ci: index.cis.get(&device).cloned(),
        correlation_id,
    }
}

/// Why the configuration's ticket template keeps `alert` out, if it does.
fn template_skip(
    alert: &Alert,
    organization: OrganizationId,
    config: &ConfigEntry,
    index: &RoutingIndex,
) -> Option<SkipReason> {
    match &config.template {
        TemplateRef::None => None,
        TemplateRef::Missing(template) => Some(SkipReason::UnknownTemplate {
            organization,
            template: template.clone(),
        }),
        TemplateRef::At(i) => {
            let template = index.templates.get(*i)?;
            template
                .admits(alert)
                .err()
                .map(|filter| SkipReason::Filtered {
                    organization,
                    template: template.name().clone(),
                    filter,
                })
        }
    }
}
