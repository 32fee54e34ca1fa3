//! The resolve path: what happens to a record whose alert is gone — resolve, hold for the
//! guard, leave, prune or unknown.

use super::{Planner, StoreChange, TicketDecision, adopt};
use crate::model::{AlertUid, SyncStatus, TicketRecord, TicketRecordState};

impl Planner<'_, '_> {
    /// What happens to a record whose alert is gone.
    pub(super) fn cleared(&mut self, record: &TicketRecord, status: Option<SyncStatus>) {
        let tickets = self.inputs.tickets;
        let uid = &record.alert;
        let mut record = record.clone();
        let keep = StoreChange::Keep;
        if record.state == TicketRecordState::Creating {
            let Some(found) = tickets.find(record.correlation_id.as_str(), None) else {
                self.not_found(&record, uid);
                return;
            };
            adopt(&mut record, found, self.now);
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
            None => self.not_found(&record, uid),
        }
    }

    /// A cleared record whose ticket the listing does not show: pruned when that kind's
    /// listing is complete (the ticket is gone), else unknown and kept.
    fn not_found(&mut self, record: &TicketRecord, uid: &AlertUid) {
        match self.inputs.tickets.unknown(record.kind) {
            None => self.prune(record),
            Some(reason) => {
                let reason = reason.clone();
                self.push(
                    Some(record),
                    uid,
                    None,
                    TicketDecision::Unknown { reason },
                    StoreChange::Keep,
                );
            }
        }
    }
}
