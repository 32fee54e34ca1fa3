//! The ticket planner: NinjaOne's open alerts, the alert → ticket records, the configurations
//! and this integration's tickets as a pass listed them in; a [`TicketPlan`] out — one
//! [`PlannedTicket`] per alert or record, with its [`TicketDecision`] (create, adopt, note,
//! resolve, hold, skip, … and why) and the record change to store before any remote write.
//!
//! Pure and deterministic like [`plan`](super::plan) and [`plan_cis`](super::plan_cis): no
//! I/O, no clock (`now` is a parameter). The incident router
//! (`engine::incidents::IncidentRouter`, a layer up) reads both sides, calls
//! [`plan_tickets`] and executes the plan.
//!
//! # What the planner decides
//!
//! | the alert is | its record | the ticket found by correlation id | the decision |
//! | --- | --- | --- | --- |
//! | open, routed | none | none (complete listing) | [`TicketDecision::Create`], after recording `creating` |
//! | open | none or `creating` | any state | [`TicketDecision::Adopt`] (`open` or `finished_elsewhere`) |
//! | open, routed | `creating` | none (complete listing) | create again (the first never committed) |
//! | open, routed, message or `updateTime` changed since the ticket was written | `open` | open | [`TicketDecision::Note`]: one work note, recorded before it is sent |
//! | open, unchanged | `open` | open | [`TicketDecision::Unchanged`] |
//! | open | `open` | finished or gone | [`TicketDecision::FinishedElsewhere`]: never reopened, never recreated |
//! | gone | `open` (or adopted) | open | [`TicketDecision::Resolve`] — or, beyond the [`ResolveGuard`], [`TicketDecision::Held`] |
//! | gone | any | finished or gone | [`TicketDecision::Prune`] |
//! | gone | `open`, configuration inactive or deleted | — | [`TicketDecision::Left`] |
//!
//! Whatever depends on a listing that failed or came back incomplete is
//! [`TicketDecision::Unknown`]: nothing is created for what it might hold and no ticket is
//! resolved or noted without being seen open.
//!
//! # Re-triggers: once per change, never twice
//! Work notes are a journal: ServiceNow appends each one and never returns them, so whether
//! a note was written cannot be read back. The record keeps a digest of the alert's message
//! and `updateTime` as last written to the ticket ([`alert_digest`]); a note is planned when
//! the open alert's digest says something newer ([`digest_matches`]: a later `updateTime`, or
//! another message at the same one; an older view of the alert never notes), and the new
//! digest is part of the record change stored
//! **before** the note is sent. A crash after that store write and before the PATCH loses that
//! one note (the next change notes again); it never writes a note twice. The plan errs on that
//! side on purpose: a duplicate note pages the service desk again for nothing, a missed one
//! leaves the newest message one change behind.
pub(crate) mod levels;
pub(crate) mod route;
pub mod text;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use levels::UrgencyImpactTable;
pub(crate) use route::correlation_id;
pub use route::{RouteDecision, RoutingIndex, SkipReason, TicketBody, route};

use crate::model::Listing;
use crate::model::{
    Alert, AlertUid, Case, Incident, OrganizationId, SyncConfig, SyncStatus, SysId, TicketKind,
    TicketRecord, TicketRecordState,
};
use text::{DESCRIPTION_MAX, multi_line, truncate};

/// The resolve guard: a pass that would resolve more tickets than [`limit`](Self::limit) of
/// the open ones resolves none of them and holds them all until an administrator approves
/// (`IncidentRouter::approve_resolves`, in the engine a layer up).
/// It catches an alert listing that came back empty or narrowed — an outage, a narrowed API
/// role, credentials of the wrong tenant — before it resolves every open incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolveGuard {
    /// The limit is never below this (default 10).
    pub(crate) floor: usize,
    /// The limit is this percentage of the open tickets, rounded up (default 10).
    pub(crate) percent: usize,
}

impl Default for ResolveGuard {
    fn default() -> Self {
        Self {
            floor: 10,
            percent: 10,
        }
    }
}

impl ResolveGuard {
    /// The limit is never below this.
    #[must_use]
    pub fn floor(&self) -> usize {
        self.floor
    }

    /// The limit is this percentage of the open tickets, rounded up.
    #[must_use]
    pub fn percent(&self) -> usize {
        self.percent
    }

    /// A guard with the given floor and percentage.
    #[must_use]
    pub fn new(floor: usize, percent: usize) -> Self {
        Self { floor, percent }
    }

    /// How many tickets one pass may resolve without approval, out of `open` recorded open
    /// tickets: `max(floor, ceil(open × percent / 100))`.
    ///
    /// ```
    /// use ninjaone_servicenow::plan::ResolveGuard;
    /// let guard = ResolveGuard::default();
    /// assert_eq!(guard.limit(40), 10);
    /// assert_eq!(guard.limit(101), 11);
    /// ```
    #[must_use]
    pub fn limit(&self, open: usize) -> usize {
        open.saturating_mul(self.percent)
            .div_ceil(100)
            .max(self.floor)
    }
}

/// What the resolve guard saw in a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolveGuardState {
    /// Tickets recorded open before the pass.
    pub open: usize,
    /// Resolves the pass would make.
    pub resolves: usize,
    /// The guard's limit for `open`.
    pub limit: usize,
    /// Whether the resolves are held ([`TicketDecision::Held`]).
    pub held: bool,
}

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

    fn name(&self) -> String {
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

    fn of(&self, kind: TicketKind) -> &ListedTickets {
        match kind {
            TicketKind::Incident => &self.incidents,
            TicketKind::Case => &self.cases,
        }
    }

    fn unknown(&self, kind: TicketKind) -> Option<&String> {
        self.of(kind).unknown.as_ref()
    }

    /// The ticket with this correlation id: the one with `prefer`'s sys_id, else the oldest;
    /// incidents first, then cases.
    fn find(&self, correlation: &str, prefer: Option<&SysId>) -> Option<&ListedTicket> {
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

/// Everything [`plan_tickets`] decides from.
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
    /// Devices, configurations, CIs and the correlation-id prefix, for [`route`].
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

/// What [`plan_tickets`] decided for one alert or record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketDecision {
    /// Create this ticket (the `creating` record is stored first).
    Create(Box<TicketBody>),
    /// A ticket with the alert's correlation id exists and is recorded; nothing is created.
    Adopt {
        /// Whether it is still open.
        open: bool,
    },
    /// The open alert changed since its ticket was written: add one work note.
    Note {
        /// Incident or case.
        kind: TicketKind,
        /// The ticket.
        ticket: SysId,
        /// The note: the alert's new message, bounded and cleaned.
        note: String,
        /// The record's digest before this note (stored again when the note is known not to
        /// have been sent).
        previous: Option<String>,
    },
    /// The alert cleared: resolve the ticket.
    Resolve {
        /// Incident or case.
        kind: TicketKind,
        /// The ticket.
        ticket: SysId,
    },
    /// The alert cleared, but the pass would resolve more tickets than the [`ResolveGuard`]
    /// allows: nothing is resolved until approved.
    Held {
        /// Incident or case.
        kind: TicketKind,
        /// The ticket.
        ticket: SysId,
    },
    /// Recorded, nothing changed.
    Unchanged,
    /// Finished (or deleted) by a person while the alert is open: never reopened or created
    /// again.
    FinishedElsewhere {
        /// What was found.
        reason: String,
    },
    /// The alert cleared but the ticket is left as it is.
    Left {
        /// Why.
        reason: String,
    },
    /// The record of a finished ticket (or of a create that never happened) is removed.
    Prune,
    /// The alert does not become a ticket.
    Skip(SkipReason),
    /// Not decidable in this pass.
    Unknown {
        /// Why.
        reason: String,
    },
}

impl TicketDecision {
    /// Whether executing the decision takes a remote write.
    #[must_use]
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Self::Create(_) | Self::Note { .. } | Self::Resolve { .. }
        )
    }
}

/// What to store for a record before any remote write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreChange {
    /// Nothing.
    Keep,
    /// Insert or replace the record.
    Put(TicketRecord),
    /// Remove the alert's record.
    Remove,
}

/// One alert's (or record's) line of a [`TicketPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedTicket {
    /// The alert.
    pub alert: AlertUid,
    /// Its organization, when known.
    pub organization: Option<OrganizationId>,
    /// Incident or case, when there is (or would be) a ticket.
    pub kind: Option<TicketKind>,
    /// The ticket's sys_id, when known.
    pub ticket: Option<SysId>,
    /// The ticket's number, when known.
    pub number: Option<String>,
    /// The decision.
    pub decision: TicketDecision,
    /// The record change to store before the remote writes.
    pub store: StoreChange,
}

/// What [`plan_tickets`] decided, one line per open alert or record it concerned, in the
/// order of the alerts, then the records of cleared alerts by uid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TicketPlan {
    /// The lines.
    pub items: Vec<PlannedTicket>,
    /// What the resolve guard saw.
    pub guard: ResolveGuardState,
}

impl TicketPlan {
    /// Whether the resolve guard holds resolves that need approval.
    #[must_use]
    pub fn needs_approval(&self) -> bool {
        self.guard.held
    }

    /// The lines whose resolves are held.
    pub fn held(&self) -> impl Iterator<Item = &PlannedTicket> {
        self.items
            .iter()
            .filter(|i| matches!(i.decision, TicketDecision::Held { .. }))
    }

    /// Approves the held resolves: each [`TicketDecision::Held`] becomes the resolve it held.
    pub fn release_held(&mut self) {
        self.release_held_where(|_| true);
    }

    /// Approves the held resolves of the tickets `approved` accepts: each of those
    /// [`TicketDecision::Held`] becomes the resolve it held, the others stay held (and
    /// [`ResolveGuardState::held`] stays set while any does). Returns how many were released.
    ///
    /// An approval names what an administrator saw held; a listing that emptied further
    /// since must not ride on it.
    pub fn release_held_where(&mut self, mut approved: impl FnMut(&SysId) -> bool) -> usize {
        let mut released = 0;
        for item in &mut self.items {
            if let TicketDecision::Held { kind, ticket } = &item.decision
                && approved(ticket)
            {
                item.decision = TicketDecision::Resolve {
                    kind: *kind,
                    ticket: ticket.clone(),
                };
                released += 1;
            }
        }
        self.guard.held = self
            .items
            .iter()
            .any(|i| matches!(i.decision, TicketDecision::Held { .. }));
        released
    }
}

/// The digest of what a ticket says about an alert: a hash of its message and its
/// `updateTime` to the millisecond, in the clear (`v3:<hash>:<millis>`). A record keeps the
/// digest of the alert as last written to the ticket (created or noted); stable across runs,
/// platforms and versions of this crate, so it can be stored.
///
/// Milliseconds, because a webhook delivery carries the time with 3 decimals where the alert
/// listing has 9. The time is kept in the clear so that [`digest_matches`] can order what it
/// compares: whether an alert's `updateTime` equals the `activityTime` of the delivery that
/// triggered it is not documented, and a delivery and a pass may see one trigger at two
/// slightly different times. Ordered, a mismatch costs at most one work note per trigger (the
/// pass seeing the later time), never a note back and forth between deliveries and passes.
/// Records written with the earlier digests (`v1:` nanoseconds, `v2:` milliseconds, both
/// hashed) still match an unchanged alert.
///
/// ```
/// use ninjaone_servicenow::model::Alert;
/// use ninjaone_servicenow::plan::alert_digest;
/// let a: Alert = serde_json::from_str(r#"{"uid":"u1","message":"disk full","updateTime":1730332915.123456}"#)?;
/// let mut b = a.clone();
/// b.device_id = None;
/// assert_eq!(alert_digest(&a), alert_digest(&b)); // only message and updateTime count
/// let c: Alert = serde_json::from_str(r#"{"uid":"u1","message":"disk full","updateTime":1730332915.123}"#)?;
/// assert_eq!(alert_digest(&a), alert_digest(&c)); // to the millisecond
/// assert!(alert_digest(&a).ends_with(":1730332915123"));
/// b.message = Some("disk full again".into());
/// assert_ne!(alert_digest(&a), alert_digest(&b));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn alert_digest(alert: &Alert) -> String {
    let millis = alert
        .update_time
        .map_or_else(String::new, |t| t.timestamp_millis().to_string());
    format!("v3:{}:{millis}", message_hash(alert))
}

/// The digest records kept before [`alert_digest`] went to milliseconds.
fn alert_digest_v1(alert: &Alert) -> String {
    let updated = alert.update_time.map_or_else(String::new, |t| {
        format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
    });
    digest("v1", alert, &updated)
}

/// The digest records kept before [`alert_digest`] kept the time in the clear.
fn alert_digest_v2(alert: &Alert) -> String {
    let updated = alert
        .update_time
        .map_or_else(String::new, |t| t.timestamp_millis().to_string());
    digest("v2", alert, &updated)
}

/// Whether a record's stored digest says its ticket already shows `alert` — as it is, or as
/// it was at a later `updateTime` — so there is nothing to note:
/// - the same message and time: nothing changed (a repeat);
/// - an older time than the stored one: a stale view (a delivery out of order, a retried one,
///   or a listing at a time that differs from the delivery's), whatever its message;
/// - a later time, or the same time with another message: a change, to note.
///
/// Without a time on either side, message and time must both be equal. Earlier digests
/// (`v1:`, `v2:`) match only an unchanged alert; a digest that does not parse matches nothing
/// (one note, then the record holds a current digest).
#[must_use]
pub fn digest_matches(stored: &str, alert: &Alert) -> bool {
    if stored.starts_with("v1:") {
        return stored == alert_digest_v1(alert);
    }
    if stored.starts_with("v2:") {
        return stored == alert_digest_v2(alert);
    }
    let Some((hash, millis)) = stored
        .strip_prefix("v3:")
        .and_then(|rest| rest.split_once(':'))
    else {
        return false;
    };
    let same_message = hash == message_hash(alert);
    let stored_at = millis.parse::<i64>().ok();
    let alert_at = alert.update_time.map(|t| t.timestamp_millis());
    match (stored_at, alert_at) {
        (Some(stored_at), Some(alert_at)) => {
            alert_at < stored_at || (alert_at == stored_at && same_message)
        }
        (None, None) => millis.is_empty() && same_message,
        _ => false,
    }
}

/// The message's part of [`alert_digest`]: 16 hex digits.
fn message_hash(alert: &Alert) -> String {
    let message = alert.message.as_deref().unwrap_or("");
    format!("{:016x}", fnv1a(&[message.as_bytes()]))
}

fn digest(version: &str, alert: &Alert, updated: &str) -> String {
    let message = alert.message.as_deref().unwrap_or("");
    let hash = fnv1a(&[message.as_bytes(), updated.as_bytes()]);
    format!("{version}:{hash:016x}")
}

/// 64-bit FNV-1a over length-prefixed fields: stable, and enough to tell one change from the
/// next (a collision costs one missed note, never a duplicate).
fn fnv1a(fields: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for field in fields {
        for b in (field.len() as u64).to_le_bytes().iter().chain(*field) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// The work note of a re-triggered alert: when it changed and its new message, bounded by
/// [`DESCRIPTION_MAX`] and without control characters but newlines and tabs.
fn retrigger_note(alert: &Alert) -> String {
    let mut note = match alert.update_time {
        Some(at) => format!(
            "The NinjaOne alert changed (updated {}):\n",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => "The NinjaOne alert changed:\n".to_owned(),
    };
    match alert
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        Some(message) => note.push_str(&multi_line(message)),
        None => note.push_str("(no message)"),
    }
    truncate(&note, DESCRIPTION_MAX)
}

/// Plans one incident pass; see the [module](self) for the rules.
///
/// # Guarantees
/// - Pure and deterministic: the same inputs and `now` give the same plan.
/// - At most one create per alert uid (a uid listed twice is decided once), and a create only
///   when the complete listing of its kind has no ticket with the alert's correlation id.
/// - No resolve or note of a ticket not seen open in a complete listing; no resolve at all
///   when the alert listing was incomplete.
/// - At most one note per alert and pass, and only when its digest changed.
/// - More resolves than the [`ResolveGuard`] allows are all [`TicketDecision::Held`].
#[must_use]
pub fn plan_tickets(inputs: &TicketInputs<'_>, now: DateTime<Utc>) -> TicketPlan {
    let mut planner = Planner {
        inputs,
        now,
        items: Vec::with_capacity(inputs.alerts.len()),
    };
    let mut open: HashSet<&AlertUid> = HashSet::with_capacity(inputs.alerts.len());
    for alert in inputs.alerts {
        if !open.insert(&alert.uid) {
            continue; // a uid listed twice is decided once
        }
        let decision = route(alert, inputs.index);
        planner.open_alert(alert, decision, inputs.records.get(&alert.uid));
    }
    let statuses: HashMap<OrganizationId, SyncStatus> = inputs
        .configs
        .iter()
        .map(|c| (c.organization(), c.status()))
        .collect();
    for record in inputs.records.values().filter(|r| !open.contains(&r.alert)) {
        if !inputs.alerts_complete {
            if matches!(
                record.state,
                TicketRecordState::Creating | TicketRecordState::Open
            ) {
                let reason = "NinjaOne's alert listing was incomplete: the alert may still be open"
                    .to_owned();
                planner.push(
                    Some(record),
                    &record.alert,
                    None,
                    TicketDecision::Unknown { reason },
                    StoreChange::Keep,
                );
            }
            continue;
        }
        planner.cleared(record, statuses.get(&record.organization).copied());
    }
    let mut items = planner.items;
    let open_tickets = inputs
        .records
        .values()
        .filter(|r| r.state == TicketRecordState::Open)
        .count();
    let resolves = items
        .iter()
        .filter(|i| matches!(i.decision, TicketDecision::Resolve { .. }))
        .count();
    let limit = inputs.resolve_guard.limit(open_tickets);
    let held = resolves > limit;
    if held {
        for item in &mut items {
            if let TicketDecision::Resolve { kind, ticket } = &item.decision {
                item.decision = TicketDecision::Held {
                    kind: *kind,
                    ticket: ticket.clone(),
                };
            }
        }
    }
    TicketPlan {
        items,
        guard: ResolveGuardState {
            open: open_tickets,
            resolves,
            limit,
            held,
        },
    }
}

struct Planner<'i, 'a> {
    inputs: &'i TicketInputs<'a>,
    now: DateTime<Utc>,
    items: Vec<PlannedTicket>,
}

fn decision_organization(decision: &RouteDecision) -> Option<OrganizationId> {
    match decision {
        RouteDecision::Create { organization, .. }
        | RouteDecision::Skip(
            SkipReason::Unmapped { organization }
            | SkipReason::NotActive { organization, .. }
            | SkipReason::IncidentsNotAllowed { organization }
            | SkipReason::CasesNeedAccount { organization }
            | SkipReason::CasesNeedCustomerService { organization },
        ) => Some(*organization),
        RouteDecision::Skip(_) => None,
    }
}

/// Records a found ticket on a record: open, or finished elsewhere.
fn adopt(record: &mut TicketRecord, found: &ListedTicket, now: DateTime<Utc>) {
    record.ticket = Some(found.sys_id.clone());
    record.number.clone_from(&found.number);
    record.kind = found.kind;
    record.state = if found.finished {
        TicketRecordState::FinishedElsewhere
    } else {
        TicketRecordState::Open
    };
    record.updated_at = now;
    // The record's first time bounds the listing window of later passes: an adopted ticket
    // older than the record (a store restored from before it) must stay inside it, or the
    // pass that sees its alert clear no longer lists it and drops the record unresolved.
    if let Some(created_on) = found.created_on
        && created_on < record.created_at
    {
        record.created_at = created_on;
    }
}

impl Planner<'_, '_> {
    fn push(
        &mut self,
        record: Option<&TicketRecord>,
        alert: &AlertUid,
        organization: Option<OrganizationId>,
        decision: TicketDecision,
        store: StoreChange,
    ) {
        self.items.push(PlannedTicket {
            alert: alert.clone(),
            organization: record.map(|r| r.organization).or(organization),
            kind: record.map(|r| r.kind),
            ticket: record.and_then(|r| r.ticket.clone()),
            number: record.and_then(|r| r.number.clone()),
            decision,
            store,
        });
    }

    /// Adopts `found` for `alert` on `record` (a new one when `None`).
    fn adopt(&mut self, alert: &Alert, record: TicketRecord, found: &ListedTicket) {
        let mut adopted = record;
        adopt(&mut adopted, found, self.now);
        // What the adopted ticket says cannot be read; take it as the alert as it is now, so
        // no note is written for a change the ticket may already show.
        adopted.alert_digest = Some(alert_digest(alert));
        let open = !found.finished;
        self.push(
            Some(&adopted),
            &alert.uid,
            None,
            TicketDecision::Adopt { open },
            StoreChange::Put(adopted.clone()),
        );
    }

    fn open_alert(
        &mut self,
        alert: &Alert,
        decision: RouteDecision,
        record: Option<&TicketRecord>,
    ) {
        let uid = &alert.uid;
        let tickets = self.inputs.tickets;
        let organization = decision_organization(&decision);
        let Some(record) = record else {
            let correlation = self.inputs.index.correlation_id(uid);
            let found = correlation
                .as_ref()
                .and_then(|c| tickets.find(c.as_str(), None));
            match (found, decision, organization, correlation) {
                (Some(found), _, Some(org), Some(correlation)) => {
                    let record =
                        TicketRecord::creating(uid.clone(), org, found.kind, correlation, self.now);
                    self.adopt(alert, record, found);
                }
                (_, RouteDecision::Skip(reason), _, _) => {
                    self.push(
                        None,
                        uid,
                        organization,
                        TicketDecision::Skip(reason),
                        StoreChange::Keep,
                    );
                }
                (_, decision @ RouteDecision::Create { .. }, Some(org), _) => {
                    self.create(alert, &decision, None, org);
                }
                (_, RouteDecision::Create { .. }, None, _) => {
                    // A create decision always names its organization.
                }
            }
            return;
        };
        match record.state {
            TicketRecordState::Creating => {
                if let Some(found) = tickets.find(record.correlation_id.as_str(), None) {
                    self.adopt(alert, record.clone(), found);
                } else if let Some(reason) = tickets.unknown(record.kind) {
                    let reason = reason.clone();
                    self.push(
                        Some(record),
                        uid,
                        None,
                        TicketDecision::Unknown { reason },
                        StoreChange::Keep,
                    );
                } else {
                    match decision {
                        RouteDecision::Skip(reason) => {
                            // The create never happened and the alert no longer routes.
                            self.push(
                                Some(record),
                                uid,
                                organization,
                                TicketDecision::Skip(reason),
                                StoreChange::Remove,
                            );
                        }
                        decision @ RouteDecision::Create { .. } => {
                            let org = organization.unwrap_or(record.organization);
                            self.create(alert, &decision, Some(record), org);
                        }
                    }
                }
            }
            TicketRecordState::Open => {
                match tickets.find(record.correlation_id.as_str(), record.ticket.as_ref()) {
                    Some(found) if found.finished => {
                        let reason = format!(
                            "{} is {} while the alert is open",
                            found.name(),
                            found.state
                        );
                        self.finished_elsewhere(record, uid, reason);
                    }
                    None if tickets.unknown(record.kind).is_none() => {
                        let reason =
                            "the ticket is gone from ServiceNow (deleted?) while the alert is open"
                                .to_owned();
                        self.finished_elsewhere(record, uid, reason);
                    }
                    // Tickets of configurations that no longer route (paused, incidents
                    // no longer allowed, filtered) are left as they are: no note. The digest
                    // stays, so a change is noted once they route again.
                    Some(found) if matches!(decision, RouteDecision::Create { .. }) => {
                        self.open_ticket(alert, record, found);
                    }
                    // Not routed, or not known in this pass: nothing to do.
                    Some(_) | None => self.unchanged(record),
                }
            }
            TicketRecordState::Resolved | TicketRecordState::FinishedElsewhere => {
                self.unchanged(record);
            }
        }
    }

    fn finished_elsewhere(&mut self, record: &TicketRecord, uid: &AlertUid, reason: String) {
        let mut finished = record.clone();
        finished.state = TicketRecordState::FinishedElsewhere;
        finished.updated_at = self.now;
        self.push(
            Some(&finished),
            uid,
            None,
            TicketDecision::FinishedElsewhere { reason },
            StoreChange::Put(finished.clone()),
        );
    }

    /// An open alert whose ticket is seen open: a note when it changed since the ticket was
    /// written.
    fn open_ticket(&mut self, alert: &Alert, record: &TicketRecord, found: &ListedTicket) {
        let digest = alert_digest(alert);
        match &record.alert_digest {
            Some(previous) if digest_matches(previous, alert) => self.push(
                Some(record),
                &alert.uid,
                None,
                TicketDecision::Unchanged,
                StoreChange::Keep,
            ),
            None => {
                // A record written before digests were kept: what its ticket says is not
                // known, so take the alert as it is now (no note) and note later changes.
                let mut baseline = record.clone();
                baseline.alert_digest = Some(digest);
                self.push(
                    Some(record),
                    &alert.uid,
                    None,
                    TicketDecision::Unchanged,
                    StoreChange::Put(baseline),
                );
            }
            Some(previous) => {
                let previous = Some(previous.clone());
                let mut noted = record.clone();
                noted.alert_digest = Some(digest);
                noted.updated_at = self.now;
                let decision = TicketDecision::Note {
                    kind: found.kind,
                    ticket: found.sys_id.clone(),
                    note: retrigger_note(alert),
                    previous,
                };
                self.push(
                    Some(&noted),
                    &alert.uid,
                    None,
                    decision,
                    StoreChange::Put(noted.clone()),
                );
            }
        }
    }

    /// A create (or a create again, after one that never happened), when the listing of its
    /// kind is known.
    fn create(
        &mut self,
        alert: &Alert,
        decision: &RouteDecision,
        record: Option<&TicketRecord>,
        organization: OrganizationId,
    ) {
        let uid = &alert.uid;
        let RouteDecision::Create {
            kind,
            correlation_id,
            ..
        } = decision
        else {
            return;
        };
        if let Some(reason) = self.inputs.tickets.unknown(*kind) {
            self.items.push(PlannedTicket {
                alert: uid.clone(),
                organization: Some(organization),
                kind: Some(*kind),
                ticket: None,
                number: None,
                decision: TicketDecision::Unknown {
                    reason: format!("not created: {reason}"),
                },
                store: StoreChange::Keep,
            });
            return;
        }
        let Some(body) = TicketBody::build(
            alert,
            decision,
            self.inputs.index,
            self.inputs.correlation_display,
            self.inputs.urgency_impact,
        ) else {
            return;
        };
        let mut creating = TicketRecord::creating(
            uid.clone(),
            organization,
            *kind,
            correlation_id.clone(),
            self.now,
        );
        creating.alert_digest = Some(alert_digest(alert));
        if let Some(previous) = record {
            // Keep the first time: it bounds the listing window of later passes.
            creating.created_at = previous.created_at;
        }
        self.push(
            Some(&creating),
            uid,
            None,
            TicketDecision::Create(Box::new(body)),
            StoreChange::Put(creating.clone()),
        );
    }

    /// Recorded, nothing to do.
    fn unchanged(&mut self, record: &TicketRecord) {
        self.push(
            Some(record),
            &record.alert,
            None,
            TicketDecision::Unchanged,
            StoreChange::Keep,
        );
    }

    /// The record of a finished ticket (or of a create that never happened) is removed.
    fn prune(&mut self, record: &TicketRecord) {
        self.push(
            Some(record),
            &record.alert,
            None,
            TicketDecision::Prune,
            StoreChange::Remove,
        );
    }

    /// What happens to a record whose alert is gone.
    fn cleared(&mut self, record: &TicketRecord, status: Option<SyncStatus>) {
        let tickets = self.inputs.tickets;
        let uid = &record.alert;
        let mut record = record.clone();
        let keep = StoreChange::Keep;
        if record.state == TicketRecordState::Creating {
            match tickets.find(record.correlation_id.as_str(), None) {
                Some(found) => adopt(&mut record, found, self.now),
                None if tickets.unknown(record.kind).is_none() => {
                    self.prune(&record);
                    return;
                }
                None => {
                    let reason = tickets.unknown(record.kind).cloned().unwrap_or_default();
                    self.push(
                        Some(&record),
                        uid,
                        None,
                        TicketDecision::Unknown { reason },
                        keep,
                    );
                    return;
                }
            }
        }
        if record.state != TicketRecordState::Open {
            // Finished by us or by a person, and the alert is gone: nothing left to track.
            self.prune(&record);
            return;
        }
        match status {
            None | Some(SyncStatus::Deleted) => {
                let reason = format!(
                    "organization {}'s sync configuration is deleted; the ticket is no longer tracked",
                    record.organization
                );
                self.push(
                    Some(&record),
                    uid,
                    None,
                    TicketDecision::Left { reason },
                    StoreChange::Remove,
                );
                return;
            }
            Some(SyncStatus::Inactive) => {
                let reason = format!(
                    "organization {}'s sync configuration is inactive; it is resolved once resumed",
                    record.organization
                );
                self.push(
                    Some(&record),
                    uid,
                    None,
                    TicketDecision::Left { reason },
                    keep,
                );
                return;
            }
            Some(_) => {}
        }
        match tickets.find(record.correlation_id.as_str(), record.ticket.as_ref()) {
            Some(found) if !found.finished => {
                let ticket = found.sys_id.clone();
                record.ticket = Some(ticket.clone());
                record.kind = found.kind;
                let kind = found.kind;
                self.push(
                    Some(&record),
                    uid,
                    None,
                    TicketDecision::Resolve { kind, ticket },
                    keep,
                );
            }
            Some(_) => self.prune(&record),
            None if tickets.unknown(record.kind).is_none() => self.prune(&record),
            None => {
                let reason = tickets.unknown(record.kind).cloned().unwrap_or_default();
                self.push(
                    Some(&record),
                    uid,
                    None,
                    TicketDecision::Unknown { reason },
                    keep,
                );
            }
        }
    }
}
