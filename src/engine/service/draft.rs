//! What a person asks of the service: a new configuration ([`ConfigDraft`]), changes to one
//! ([`ConfigChanges`]), and what adding one did ([`Added`]).

use std::collections::BTreeSet;

use crate::model::{
    CiMappingName, OrganizationId, SyncConfig, SysId, TicketKind, TicketTemplateName,
};

/// A configuration a person asks to add (inactive mode).
///
/// ```
/// use ninjaone_servicenow::engine::ConfigDraft;
/// use ninjaone_servicenow::model::OrganizationId;
/// let draft = ConfigDraft::new(OrganizationId::new(2)?, "0c43f35d4f5a1200c0a8016a9310c7d5".parse()?)
///     .ci_mapping("servers".parse()?)
///     .allow_incidents(true);
/// assert_eq!(draft.organization().get(), 2);
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ConfigDraft {
    pub(super) organization: OrganizationId,
    pub(super) company: SysId,
    pub(super) customer_account: Option<SysId>,
    pub(super) ci_mappings: BTreeSet<CiMappingName>,
    pub(super) allow_incidents: bool,
    pub(super) tickets: TicketKind,
    pub(super) ticket_template: Option<TicketTemplateName>,
}

impl ConfigDraft {
    /// A draft mapping `organization` to `company`, without customer account, CI mappings or
    /// incidents.
    pub fn new(organization: OrganizationId, company: SysId) -> Self {
        Self {
            organization,
            company,
            customer_account: None,
            ci_mappings: BTreeSet::new(),
            allow_incidents: false,
            tickets: TicketKind::Incident,
            ticket_template: None,
        }
    }

    /// Names the ticket template this organization's tickets use (without one: the default
    /// template, if there is one). It must exist.
    pub fn ticket_template(mut self, name: TicketTemplateName) -> Self {
        self.ticket_template = Some(name);
        self
    }

    /// Maps a Customer Service Management customer account too.
    pub fn customer_account(mut self, account: SysId) -> Self {
        self.customer_account = Some(account);
        self
    }

    /// Adds a CI mapping by name.
    pub fn ci_mapping(mut self, name: CiMappingName) -> Self {
        self.ci_mappings.insert(name);
        self
    }

    /// Whether alerts may become incidents.
    pub fn allow_incidents(mut self, allow: bool) -> Self {
        self.allow_incidents = allow;
        self
    }

    /// What alerts become: incidents (the default) or Customer Service Management cases, which
    /// need a customer account and Customer Service Management installed.
    pub fn tickets(mut self, tickets: TicketKind) -> Self {
        self.tickets = tickets;
        self
    }

    /// The organization.
    #[must_use]
    pub fn organization(&self) -> OrganizationId {
        self.organization
    }
}

/// Changes a person asks for; fields left unset are kept.
///
/// ```
/// use ninjaone_servicenow::engine::ConfigChanges;
/// let changes = ConfigChanges::new().allow_incidents(false).customer_account(None);
/// assert!(!changes.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ConfigChanges {
    pub(super) company: Option<SysId>,
    // Unset, set to none, or set to an account: exactly the three cases an edit has.
    #[allow(clippy::option_option)]
    pub(super) customer_account: Option<Option<SysId>>,
    pub(super) ci_mappings: Option<BTreeSet<CiMappingName>>,
    pub(super) allow_incidents: Option<bool>,
    pub(super) tickets: Option<TicketKind>,
    #[allow(clippy::option_option)]
    pub(super) ticket_template: Option<Option<TicketTemplateName>>,
}

impl ConfigChanges {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps another company.
    pub fn company(mut self, company: SysId) -> Self {
        self.company = Some(company);
        self
    }

    /// Maps another customer account, or none.
    pub fn customer_account(mut self, account: Option<SysId>) -> Self {
        self.customer_account = Some(account);
        self
    }

    /// Replaces the CI mappings.
    pub fn ci_mappings(mut self, names: impl IntoIterator<Item = CiMappingName>) -> Self {
        self.ci_mappings = Some(names.into_iter().collect());
        self
    }

    /// Sets whether alerts may become incidents.
    pub fn allow_incidents(mut self, allow: bool) -> Self {
        self.allow_incidents = Some(allow);
        self
    }

    /// Sets what alerts become: incidents or cases (which need a customer account and Customer
    /// Service Management installed).
    pub fn tickets(mut self, tickets: TicketKind) -> Self {
        self.tickets = Some(tickets);
        self
    }

    /// Names another ticket template (which must exist), or none (the default template, if
    /// there is one).
    pub fn ticket_template(mut self, name: Option<TicketTemplateName>) -> Self {
        self.ticket_template = Some(name);
        self
    }

    /// Whether nothing is asked for.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A configuration added by hand, and the confirmation to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Added {
    /// The saved configuration (status `pending`), with the organization's, company's and
    /// account's names the checks looked up: the row to show.
    pub config: SyncConfig,
    /// "Organization 2 (Contoso) will be synced with company Contoso (…) by the next pass."
    pub confirmation: String,
}
