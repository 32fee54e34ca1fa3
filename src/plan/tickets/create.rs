//! The create path: the ticket body of a routed alert, and the `creating` record stored
//! before the create.

use super::{
    PlannedTicket, Planner, RouteDecision, StoreChange, TicketBody, TicketDecision, alert_digest,
};
use crate::model::{Alert, OrganizationId, TicketRecord};

impl Planner<'_, '_> {
    /// A create (or a create again, after one that never happened), when the listing of its
    /// kind is known.
    pub(super) fn create(
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
}
