//! The RESET path: confirm with NinjaOne's device alerts that the alert cleared, count the
//! resolve against the guard, and resolve as a pass would.

use super::Cost;
use crate::engine::SyncError;
use crate::engine::incidents::IncidentRouter;
use crate::engine::webhook::DeliveryOutcome;
use crate::model::activity::Activity;
use crate::model::{SyncConfig, TicketKind, TicketRecord, TicketRecordState};
use crate::plan::RoutingIndex;
use crate::ports::Remote;

impl IncidentRouter {
    pub(super) async fn reset(
        &self,
        activity: &Activity,
        record: Option<TicketRecord>,
        cost: &mut Cost,
    ) -> Result<DeliveryOutcome, SyncError> {
        let Some(record) = record else {
            return Ok(DeliveryOutcome::Ignored {
                reason: "no ticket is recorded for the alert".to_owned(),
            });
        };
        if record.state != TicketRecordState::Open && record.state != TicketRecordState::Creating {
            return Ok(DeliveryOutcome::AlreadyTicketed {
                ticket: record.ticket.clone(),
                number: record.number.clone(),
            });
        }
        let Some(device) = activity.device_id() else {
            // Not a 503: NinjaOne would retry the same payload, which never names one.
            return Ok(DeliveryOutcome::Ignored {
                reason:
                    "the reset names no device, so it cannot be confirmed; the next pass decides"
                        .to_owned(),
            });
        };
        cost.ninjaone += 1;
        let open = self
            .ninja
            .device_alerts(device)
            .await
            .map_err(SyncError::remote(Remote::NinjaOne, format!(
                "could not read device {device}'s open alerts from NinjaOne to confirm the reset"
            )))?;
        if open.iter().any(|a| a.uid == record.alert) {
            return Ok(DeliveryOutcome::StillOpen);
        }
        // The guard's limit depends on how many tickets are open: the one listing a delivery
        // reads, and only for a reset NinjaOne confirmed (a trigger never reads it).
        let open_tickets = self
            .store
            .ticket_records()
            .await
            .map_err(SyncError::store(
                "could not read the alert → ticket records",
            ))?
            .iter()
            .filter(|r| r.state == TicketRecordState::Open)
            .count();
        let limit = self.settings.resolve_guard.limit(open_tickets);
        if !self.events.reserve_resolve(limit) {
            return Ok(DeliveryOutcome::Held {
                reason: format!(
                    "deliveries resolved {limit} ticket(s) since the last pass, the resolve \
                     guard's limit for {open_tickets} open ticket(s); the next pass decides, and \
                     an administrator approves what it holds"
                ),
            });
        }
        let configs: Vec<SyncConfig> = self
            .store
            .config(record.organization)
            .await
            .map_err(SyncError::store("could not read the configuration"))?
            .into_iter()
            .collect();
        let uses_cases = record.kind == TicketKind::Case;
        let result = async {
            let csm = self.csm(uses_cases, cost).await?;
            let index = RoutingIndex::new(&self.settings, &[], &configs, &[], csm);
            let listing = self
                .tickets_of(&record.correlation_id, uses_cases, csm, cost)
                .await?;
            self.execute(&[], Some(record.clone()), &configs, &index, &listing, cost)
                .await
        }
        .await;
        if !matches!(result, Ok(DeliveryOutcome::Resolved { .. })) {
            self.events.release_resolve();
        }
        result
    }
}
