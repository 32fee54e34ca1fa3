//! What the ticket planner decides from: this integration's tickets as listed, by
//! correlation id, and the pass's other inputs.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{ResolveGuard, RoutingIndex, UrgencyImpactTable};
use crate::model::Listing;
use crate::model::{Alert, AlertUid, Case, Incident, SyncConfig, SysId, TicketKind, TicketRecord};

/// One ticket of this integration found in a ServiceNow listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedTicket {
    /// Its correlation id.
    pub correlation: String,
    /// Its sys_id.
    pub sys_id: SysId,
    /// Its number, when listed.
    pub number: Option<String>,
    /// Incident or case.
    pub kind: TicketKind,
    /// Whether it is finished (resolved, closed or cancelled).
    pub finished: bool,
    /// Its state, in words.
    pub state: String,
    /// When it was created, when listed.
    pub created_on: Option<DateTime<Utc>>,
}

impl ListedTicket {
    /// An incident of the integration whose correlation ids start with `prefix`; `None` for
    /// anyone else's.
    #[must_use]
    pub fn incident(i: Incident, prefix: &str) -> Option<Self> {
        let correlation = i.correlation_id.filter(|c| c.starts_with(prefix))?;
        Some(Self {
            correlation,
            finished: i.state.is_finished(),
            state: i.state.to_string(),
            sys_id: i.sys_id,
            number: i.number,
            kind: TicketKind::Incident,
            created_on: i.created_on,
        })
    }

    /// A case of the integration whose correlation ids start with `prefix`.
    #[must_use]
    pub fn case(c: Case, prefix: &str) -> Option<Self> {
        let correlation = c.correlation_id.filter(|id| id.starts_with(prefix))?;
        Some(Self {
            correlation,
            finished: c.state.is_finished(),
            state: c.state.to_string(),
            sys_id: c.sys_id,
            number: c.number,
            kind: TicketKind::Case,
            created_on: c.created_on,
        })
    }

    pub(super) fn name(&self) -> String {
        self.number
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.kind.as_str(), self.sys_id))
    }
}

/// This integration's tickets of one kind, by correlation id; or why they are not known.
#[derive(Debug, Clone, Default)]
pub struct ListedTickets {
    by_correlation: HashMap<String, Vec<ListedTicket>>,
    /// `None`: complete (or not needed); `Some(reason)`: failed, incomplete or not listed.
    unknown: Option<String>,
}

impl ListedTickets {
    /// Nothing listed because nothing was needed: known to hold nothing.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Not listed, or the listing failed: nothing about these tickets is known, for `reason`.
    #[must_use]
    pub fn not_listed(reason: &str) -> Self {
        Self {
            by_correlation: HashMap::new(),
            unknown: Some(reason.to_owned()),
        }
    }

    /// A listing of `what` ("incidents", "cases"); incomplete when some rows could not be
    /// decoded.
    #[must_use]
    pub fn from_listing(listing: Listing<ListedTicket>, what: &str) -> Self {
        let unknown = (!listing.is_complete()).then(|| {
            format!(
                "{} ServiceNow {what} could not be decoded, so an alert's ticket may be among them",
                listing.rejected.len()
            )
        });
        let mut by_correlation: HashMap<String, Vec<ListedTicket>> = HashMap::new();
        for found in listing.items {
            by_correlation
                .entry(found.correlation.clone())
                .or_default()
                .push(found);
        }
        for tickets in by_correlation.values_mut() {
            tickets.sort_by(|a, b| (a.created_on, &a.sys_id).cmp(&(b.created_on, &b.sys_id)));
        }
        Self {
            by_correlation,
            unknown,
        }
    }

    /// Why these tickets are not (completely) known, if they are not.
    #[must_use]
    pub fn unknown(&self) -> Option<&str> {
        self.unknown.as_deref()
    }
}

/// Both listings of a pass.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TicketListing {
    /// The incidents.
    pub incidents: ListedTickets,
    /// The cases.
    pub cases: ListedTickets,
}

impl TicketListing {
    /// Both listings.
    #[must_use]
    pub fn new(incidents: ListedTickets, cases: ListedTickets) -> Self {
        Self { incidents, cases }
    }

    pub(super) fn of(&self, kind: TicketKind) -> &ListedTickets {
        match kind {
            TicketKind::Incident => &self.incidents,
            TicketKind::Case => &self.cases,
        }
    }

    pub(super) fn unknown(&self, kind: TicketKind) -> Option<&String> {
        self.of(kind).unknown.as_ref()
    }

    /// The ticket with this correlation id: the one with `prefer`'s sys_id, else the oldest;
    /// incidents first, then cases.
    pub(super) fn find(&self, correlation: &str, prefer: Option<&SysId>) -> Option<&ListedTicket> {
        let mut all = self
            .incidents
            .by_correlation
            .get(correlation)
            .into_iter()
            .chain(self.cases.by_correlation.get(correlation))
            .flatten();
        match prefer {
            Some(id) => {
                let candidates: Vec<&ListedTicket> = all.collect();
                candidates
                    .iter()
                    .find(|f| &f.sys_id == id)
                    .or(candidates.first())
                    .copied()
            }
            None => all.next(),
        }
    }
}

/// Everything [`plan_tickets`](super::plan_tickets) decides from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TicketInputs<'a> {
    /// NinjaOne's open alerts.
    pub alerts: &'a [Alert],
    /// Whether every alert of the listing could be decoded (if not, no ticket is resolved).
    pub alerts_complete: bool,
    /// The alert → ticket records, by alert.
    pub records: &'a BTreeMap<AlertUid, TicketRecord>,
    /// The configurations.
    pub configs: &'a [SyncConfig],
    /// Devices, configurations, CIs and the correlation-id prefix, for [`route`](super::route).
    pub index: &'a RoutingIndex,
    /// This integration's tickets as listed.
    pub tickets: &'a TicketListing,
    /// `correlation_display` of created tickets.
    pub correlation_display: &'a str,
    /// Urgency and impact of created tickets.
    pub urgency_impact: &'a UrgencyImpactTable,
    /// The resolve guard.
    pub resolve_guard: ResolveGuard,
}

impl<'a> TicketInputs<'a> {
    /// Inputs with a complete alert listing, `correlation_display` "NinjaOne", the default
    /// [`UrgencyImpactTable`] and the default [`ResolveGuard`]; change them with the fields'
    /// setters.
    #[must_use]
    pub fn new(
        alerts: &'a [Alert],
        records: &'a BTreeMap<AlertUid, TicketRecord>,
        configs: &'a [SyncConfig],
        index: &'a RoutingIndex,
        tickets: &'a TicketListing,
    ) -> Self {
        static DEFAULT_LEVELS: std::sync::LazyLock<UrgencyImpactTable> =
            std::sync::LazyLock::new(UrgencyImpactTable::default);
        Self {
            alerts,
            alerts_complete: true,
            records,
            configs,
            index,
            tickets,
            correlation_display: "NinjaOne",
            urgency_impact: &DEFAULT_LEVELS,
            resolve_guard: ResolveGuard::default(),
        }
    }

    /// Whether the alert listing was complete.
    #[must_use]
    pub fn alerts_complete(mut self, complete: bool) -> Self {
        self.alerts_complete = complete;
        self
    }

    /// `correlation_display` and the urgency and impact table of created tickets.
    #[must_use]
    pub fn texts(
        mut self,
        correlation_display: &'a str,
        urgency_impact: &'a UrgencyImpactTable,
    ) -> Self {
        self.correlation_display = correlation_display;
        self.urgency_impact = urgency_impact;
        self
    }

    /// The resolve guard.
    #[must_use]
    pub fn resolve_guard(mut self, guard: ResolveGuard) -> Self {
        self.resolve_guard = guard;
        self
    }
}
