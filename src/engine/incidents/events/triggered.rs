//! The TRIGGERED path: route the alert of one activity, look for its ticket by correlation
//! id, and create or note it as a pass would.

use super::Cost;
use crate::engine::SyncError;
use crate::engine::incidents::IncidentRouter;
use crate::engine::webhook::DeliveryOutcome;
use crate::model::activity::Activity;
use crate::model::{Device, OrganizationId, TicketKind, TicketRecord, TicketRecordState};
use crate::plan::{RouteDecision, RoutingIndex, digest_matches, route};
use crate::ports::{PageRequest, Remote, collect_all};

impl IncidentRouter {
    pub(super) async fn triggered(
        &self,
        activity: &Activity,
        record: Option<TicketRecord>,
        cost: &mut Cost,
    ) -> Result<DeliveryOutcome, SyncError> {
        let alert = activity.to_alert();
        if let Some(record) = &record {
            let unchanged = record
                .alert_digest
                .as_deref()
                .is_some_and(|stored| digest_matches(stored, &alert));
            if record.state != TicketRecordState::Open
                && record.state != TicketRecordState::Creating
                || record.state == TicketRecordState::Open && unchanged
            {
                // A repeat, or a ticket finished elsewhere: what a pass would leave alone.
                return Ok(DeliveryOutcome::AlreadyTicketed {
                    ticket: record.ticket.clone(),
                    number: record.number.clone(),
                });
            }
        }
        let devices = self
            .device_of(activity, record.as_ref(), cost)
            .await?
            .into_iter()
            .collect::<Vec<_>>();
        // Only the configurations the decision looks at: the device's organization (routing)
        // and the record's (a cleared record's status), by key.
        let organizations: Vec<OrganizationId> = devices
            .iter()
            .map(|d| d.organization_id)
            .chain(record.as_ref().map(|r| r.organization))
            .collect();
        let configs = self
            .store
            .configs_of(&organizations)
            .await
            .map_err(SyncError::store("could not read the configurations"))?;
        let templates = self
            .store
            .ticket_templates()
            .await
            .map_err(SyncError::store("could not read the ticket templates"))?;
        let ci_records = self.ci_record(devices.first()).await;
        let organization = devices.first().map(|d| d.organization_id);
        let config = organization.and_then(|o| configs.iter().find(|c| c.organization() == o));
        let uses_cases = config.is_some_and(|c| c.tickets() == TicketKind::Case)
            || record.as_ref().is_some_and(|r| r.kind == TicketKind::Case);
        let csm = self.csm(uses_cases, cost).await?;
        let index = RoutingIndex::new(&self.settings, &devices, &configs, &ci_records, csm)
            .with_templates(&templates);
        if record.is_none()
            && let RouteDecision::Skip(reason) = route(&alert, &index)
        {
            // Nothing to look up: a pass writes nothing for a skipped alert without a record.
            return Ok(DeliveryOutcome::Skipped { reason });
        }
        let Some(correlation) = record
            .as_ref()
            .map(|r| r.correlation_id.clone())
            .or_else(|| index.correlation_id(&alert.uid))
        else {
            return Ok(DeliveryOutcome::Ignored {
                reason: "the alert's uid does not fit a correlation id".to_owned(),
            });
        };
        let listing = self.tickets_of(&correlation, uses_cases, csm, cost).await?;
        self.execute(
            std::slice::from_ref(&alert),
            record,
            &configs,
            &index,
            &listing,
            cost,
        )
        .await
    }

    /// The activity's device: from the payload, else with the record's organization, else
    /// looked up in NinjaOne's device listing.
    async fn device_of(
        &self,
        activity: &Activity,
        record: Option<&TicketRecord>,
        cost: &mut Cost,
    ) -> Result<Option<Device>, SyncError> {
        if let Some(device) = activity.to_device() {
            return Ok(Some(device));
        }
        let Some(id) = activity.device_id() else {
            return Ok(None);
        };
        if let Some(record) = record {
            return Ok(minimal_device(id.get(), record.organization));
        }
        let first = PageRequest::first(self.options.page_size);
        let pages = std::sync::atomic::AtomicUsize::new(0);
        let listing = collect_all(first, self.options.max_pages, |p| {
            pages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.ninja.devices(p)
        })
        .await;
        cost.ninjaone += pages.into_inner();
        let listing = listing.map_err(SyncError::remote(
            Remote::NinjaOne,
            format!("could not look up device {id} in NinjaOne's device listing"),
        ))?;
        Ok(listing.items.into_iter().find(|d| d.id == id))
    }

    /// The device's CI record (a point read), for the ticket's `cmdb_ci`.
    async fn ci_record(&self, device: Option<&Device>) -> Vec<crate::model::CiRecord> {
        let Some(device) = device else {
            return Vec::new();
        };
        match self.store.ci_record(device.id).await {
            Ok(record) => record.into_iter().collect(),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the CI records; the ticket goes without cmdb_ci");
                Vec::new()
            }
        }
    }
}

fn minimal_device(id: u32, organization: OrganizationId) -> Option<Device> {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "organizationId": organization.get(),
        "nodeClass": "",
    }))
    .ok()
}
