//! The ticket plan: one line per alert or record, its decision and the record change to
//! store before any remote write.

use super::{ResolveGuardState, SkipReason, TicketBody};
use crate::model::{AlertUid, OrganizationId, SysId, TicketKind, TicketRecord};

/// What [`plan_tickets`](super::plan_tickets) decided for one alert or record.
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
    /// The alert cleared, but the pass would resolve more tickets than the [`ResolveGuard`](super::ResolveGuard)
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

/// What [`plan_tickets`](super::plan_tickets) decided, one line per open alert or record it concerned, in the
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
