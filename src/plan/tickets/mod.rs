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
//! leaves the newest message one change behind.//!
//! The plan's types are in `decision.rs`, its inputs in `inputs.rs`, the resolve guard in
//! `guard.rs` and the digests in `digest.rs`; the planner's create, note and resolve paths are
//! `create.rs`, `note.rs` and `resolve.rs`.
mod create;
mod decision;
mod digest;
mod guard;
mod inputs;
pub(crate) mod levels;
mod note;
mod resolve;
pub(crate) mod route;
pub mod text;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

pub use decision::{PlannedTicket, StoreChange, TicketDecision, TicketPlan};
pub use digest::{alert_digest, digest_matches};
pub use guard::{ResolveGuard, ResolveGuardState};
pub use inputs::{ListedTicket, ListedTickets, TicketInputs, TicketListing};
pub use levels::UrgencyImpactTable;
pub(crate) use route::correlation_id;
pub use route::{RouteDecision, RoutingIndex, SkipReason, TicketBody, route};

use crate::model::{Alert, AlertUid, OrganizationId, SyncStatus, TicketRecord, TicketRecordState};

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
}
