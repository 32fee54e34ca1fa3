//! One incident pass: take the router lock, read both sides, plan with
//! [`plan_tickets`](crate::plan::plan_tickets), write the store, create, note and resolve
//! tickets, record the results.
//!
//! - [`read`]: the listings and the plan;
//! - [`guard`]: the resolve guard, its holds and approvals;
//! - [`write`]: the plan's record changes, then the remote writes in bounded concurrency;
//! - [`send`]: one remote write (create, note or resolve) and how its result is settled.

mod guard;
mod read;
mod send;
#[cfg(all(test, feature = "test-util"))]
mod tests;
mod write;

use std::collections::BTreeMap;

use super::IncidentRouter;
use super::report::IncidentReport;
use crate::engine::outcome::{ApplyMode, NextRun, Stop};
use crate::engine::throttle::after;
use crate::engine::{Actor, SyncError};
use crate::model::{AlertUid, IntegrationMode, SyncStatus, TicketRecord};

pub(super) use write::split;

/// The actor of the router's own audit entries.
pub(crate) const ROUTER_ACTOR: &str = "system:incident-router";

impl IncidentRouter {
    pub(super) async fn pass(
        &self,
        apply: ApplyMode,
        approver: Option<&Actor>,
    ) -> Result<IncidentReport, SyncError> {
        let started = self.clock.now();
        let mut report = IncidentReport::start(apply, started);
        let mode = self
            .store
            .mode()
            .await
            .map_err(SyncError::store("could not read the integration mode"))?;
        if mode == IntegrationMode::Disabled {
            tracing::info!("the integration is disabled: no incident pass");
            report.finish(self.clock.now(), self.options.report);
            return Ok(report);
        }
        // One router at a time: the records are read under the lock, so a second pass cannot
        // decide from records the first is about to change. A dry run writes nothing and
        // takes no lock.
        let guard = if apply == ApplyMode::Apply {
            let id = self.settings.integration_id();
            let taken = self
                .store
                .lock_router(id)
                .await
                .map_err(SyncError::store("could not take the incident router lock"))?;
            let Some(guard) = taken else {
                tracing::warn!(
                    integration = id,
                    "another incident router holds the lock: this pass does nothing"
                );
                report.stop = Some(Stop::RouterBusy {
                    integration_id: id.to_owned(),
                });
                report.next_run = NextRun::At(after(started, self.options.retry.initial));
                report.finish(self.clock.now(), self.options.report);
                return Ok(report);
            };
            Some(guard)
        } else {
            None
        };
        // Deliveries in hand finish first, and new ones wait for the pass (see the event
        // path): a pass never decides from listings a delivery is about to change.
        let turn = if guard.is_some() {
            Some(self.events.pass_turn().await)
        } else {
            None
        };
        let result = self.pass_locked(apply, approver, &mut report).await;
        drop(turn);
        if let Some(guard) = guard
            && let Err(err) = guard.release().await
        {
            tracing::warn!(error = %err, "could not release the incident router lock; it ends with the session");
        }
        result?;
        report.finish(self.clock.now(), self.options.report);
        Ok(report)
    }

    async fn pass_locked(
        &self,
        apply: ApplyMode,
        approver: Option<&Actor>,
        report: &mut IncidentReport,
    ) -> Result<(), SyncError> {
        let configs = self
            .store
            .configs()
            .await
            .map_err(SyncError::store("could not read the configurations"))?;
        let records: BTreeMap<AlertUid, TicketRecord> = self
            .store
            .ticket_records()
            .await
            .map_err(SyncError::store(
                "could not read the alert → ticket records",
            ))?
            .into_iter()
            .map(|r| (r.alert.clone(), r))
            .collect();
        let routable = configs.iter().any(|c| {
            c.status() == SyncStatus::Active && c.allow_incidents() && c.company().is_some()
        });
        if !routable && records.is_empty() {
            tracing::info!("no configuration allows incidents and no ticket is recorded");
            return Ok(());
        }
        // Without its templates a pass would raise tickets unassigned and unfiltered: a store
        // that cannot read them fails the pass instead.
        let templates = self
            .store
            .ticket_templates()
            .await
            .map_err(SyncError::store("could not read the ticket templates"))?;
        match self
            .read_and_plan(&configs, &templates, &records, routable, report)
            .await
        {
            Ok(Some(mut plan)) => {
                self.guard_resolves(&mut plan, apply, approver, report)
                    .await?;
                self.apply(split(plan), apply, report).await
            }
            Ok(None) => Ok(()),
            Err(stop) => {
                report.stop = Some(stop);
                Ok(())
            }
        }
    }
}
