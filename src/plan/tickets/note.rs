//! The note path: an open alert whose ticket is seen open gets one work note when it changed
//! since the ticket was written.

use super::text::{DESCRIPTION_MAX, multi_line, truncate};
use super::{ListedTicket, Planner, StoreChange, TicketDecision, alert_digest, digest_matches};
use crate::model::{Alert, TicketRecord};

impl Planner<'_, '_> {
    /// An open alert whose ticket is seen open: a note when it changed since the ticket was
    /// written.
    pub(super) fn open_ticket(
        &mut self,
        alert: &Alert,
        record: &TicketRecord,
        found: &ListedTicket,
    ) {
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
}

/// The work note of a re-triggered alert: when it changed and its new message, bounded by
/// [`DESCRIPTION_MAX`] and without control characters but newlines and tabs.
pub(super) fn retrigger_note(alert: &Alert) -> String {
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
