//! The resolve guard: a pass that would resolve more than it allows holds them all, audits
//! the hold once, and releases what an approver's audited hold covers.

use serde_json::json;

use super::ROUTER_ACTOR;
use crate::engine::incidents::IncidentRouter;
use crate::engine::incidents::report::IncidentReport;
use crate::engine::outcome::ApplyMode;
use crate::engine::{Actor, SyncError};
use crate::model::{AuditAction, AuditEntry, AuditFilter, SysId};
use crate::plan::{PlannedTicket, TicketDecision, TicketPlan};

impl IncidentRouter {
    /// The resolve guard: releases held resolves for an approver, and audits what it holds
    /// and what was approved (an applied pass only; a dry run writes nothing).
    pub(super) async fn guard_resolves(
        &self,
        plan: &mut TicketPlan,
        apply: ApplyMode,
        approver: Option<&Actor>,
        report: &mut IncidentReport,
    ) -> Result<(), SyncError> {
        if !plan.needs_approval() {
            report.resolve_guard = plan.guard;
            return Ok(());
        }
        let now = self.clock.now();
        let mut entries = Vec::new();
        if let Some(actor) = approver {
            // The approval releases what was held and audited before it, never more: a
            // listing that emptied further since is held again, for a new approval.
            let audited = self.last_hold().await;
            let approved = |t: &SysId| audited.contains(t.as_str());
            let released: Vec<serde_json::Value> = plan
                .held()
                .filter(|item| held_ticket(item).is_some_and(approved))
                .map(held_json)
                .collect();
            plan.release_held_where(approved);
            if !released.is_empty() {
                report.approved_by = Some(actor.name().to_owned());
                tracing::info!(
                    approver = actor.name(),
                    resolves = released.len(),
                    "held resolves approved"
                );
                let counts = json!({
                    "open": plan.guard.open,
                    "resolves": plan.guard.resolves,
                    "limit": plan.guard.limit,
                    "tickets": released,
                });
                entries.push(
                    AuditEntry::applied(now, actor.name(), AuditAction::ApproveResolves)
                        .with_states(None, Some(counts)),
                );
            }
        }
        report.resolve_guard = plan.guard;
        if plan.needs_approval() {
            let held: Vec<serde_json::Value> = plan.held().map(held_json).collect();
            tracing::warn!(
                resolves = held.len(),
                open = plan.guard.open,
                limit = plan.guard.limit,
                "the resolve guard holds this pass's resolves until an administrator approves them"
            );
            let counts = json!({
                "open": plan.guard.open,
                "resolves": plan.guard.resolves,
                "limit": plan.guard.limit,
                "tickets": held,
            });
            let entry = AuditEntry::applied(now, ROUTER_ACTOR, AuditAction::HoldResolves)
                .with_states(None, Some(counts));
            if !self.holds_as_audited(&entry).await {
                entries.push(entry);
            }
        }
        if apply == ApplyMode::Apply && !entries.is_empty() {
            self.store
                .append_audit(entries)
                .await
                .map_err(SyncError::store("could not audit the resolve guard"))?;
        }
        Ok(())
    }

    /// The tickets of the router's last audited hold (none when its last entry is not one,
    /// or the audit log cannot be read: then nothing is approved).
    async fn last_hold(&self) -> std::collections::BTreeSet<String> {
        let filter = AuditFilter::all().actor(ROUTER_ACTOR).limit(1);
        match self.store.audit(&filter).await {
            Ok(last) => last
                .last()
                .filter(|e| e.action == AuditAction::HoldResolves)
                .and_then(|e| e.after.as_ref())
                .and_then(|after| after["tickets"].as_array())
                .map(|tickets| {
                    tickets
                        .iter()
                        .filter_map(|t| t["ticket"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the audit log; no held resolve is approved");
                std::collections::BTreeSet::new()
            }
        }
    }

    /// Whether `entry` is a hold the router's last audit entry already records (the same
    /// tickets held pass after pass): audited once, not once per pass.
    async fn holds_as_audited(&self, entry: &AuditEntry) -> bool {
        if entry.action != AuditAction::HoldResolves {
            return false;
        }
        let filter = AuditFilter::all().actor(ROUTER_ACTOR).limit(1);
        match self.store.audit(&filter).await {
            Ok(last) => last.last().is_some_and(|previous| {
                previous.action == AuditAction::HoldResolves
                    && previous.after.as_ref().map(|a| &a["tickets"])
                        == entry.after.as_ref().map(|a| &a["tickets"])
            }),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the audit log; the hold is audited again");
                false
            }
        }
    }
}

/// The ticket a held line would resolve.
fn held_ticket(item: &PlannedTicket) -> Option<&SysId> {
    match &item.decision {
        TicketDecision::Held { ticket, .. } => Some(ticket),
        _ => None,
    }
}

/// A held line as the audit records it.
fn held_json(item: &PlannedTicket) -> serde_json::Value {
    json!({
        "alert": item.alert,
        "organization": item.organization,
        "ticket": held_ticket(item).or(item.ticket.as_ref()),
        "number": item.number,
    })
}
