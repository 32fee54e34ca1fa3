//! `impl NinjaOneApi for FakeNinjaOne`: each call through `Faults`, then the tenant.

use async_trait::async_trait;
use serde_json::Value;

use super::FakeNinjaOne;
use crate::model::{
    Alert, DetailedDevice, Device, DeviceId, DeviceRole, Organization, OrganizationDetailed,
    OrganizationId, decode_rows,
};
use crate::ports::{ApiError, NinjaOneApi, Page, PageRequest};
use crate::testing::faults::NinjaOneMethod;
use crate::testing::paging::{after_key, page_of};

#[async_trait]
impl NinjaOneApi for FakeNinjaOne {
    async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::Organizations).await?;
        let first = page.after().is_none();
        let result =
            after_key::<OrganizationId>(NinjaOneMethod::Organizations, &page).map(|after| {
                let state = self.lock();
                let listed = page_of(&state.organizations, after.as_ref(), page.limit(), |o| {
                    Some(o.organization.clone())
                });
                if first && !state.rejected_organizations.is_empty() {
                    listed.with_rejected(state.rejected_organizations.clone())
                } else {
                    listed
                }
            });
        admission.finish(result)
    }

    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::Organization).await?;
        let result = self.lock().organizations.get(&id).cloned();
        admission.finish(Ok(result))
    }

    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::DeviceRoles).await?;
        let roles = self.all_device_roles();
        admission.finish(Ok(Page::new(roles, None)))
    }

    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::Devices).await?;
        let result = after_key::<DeviceId>(NinjaOneMethod::Devices, &page).map(|after| {
            page_of(&self.lock().devices, after.as_ref(), page.limit(), |d| {
                Some(d.clone())
            })
        });
        admission.finish(result)
    }

    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError> {
        let admission = self
            .faults
            .admit(NinjaOneMethod::OrganizationDevices)
            .await?;
        let result =
            after_key::<DeviceId>(NinjaOneMethod::OrganizationDevices, &page).map(|after| {
                page_of(&self.lock().devices, after.as_ref(), page.limit(), |d| {
                    (d.organization_id == organization).then(|| d.clone())
                })
            });
        admission.finish(result)
    }

    async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::Alerts).await?;
        let alerts = self.all_alerts();
        admission.finish(Ok(Page::new(alerts, None)))
    }

    async fn device_alerts(&self, device: DeviceId) -> Result<Vec<Alert>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::DeviceAlerts).await?;
        let alerts = self
            .all_alerts()
            .into_iter()
            .filter(|a| a.device_id == Some(device))
            .collect();
        admission.finish(Ok(alerts))
    }

    async fn devices_detailed(&self, page: PageRequest) -> Result<Page<DetailedDevice>, ApiError> {
        let rows = self.devices_detailed_rows(&page).await?;
        let (items, rejected) = decode_rows::<DetailedDevice>(Value::Array(rows.items));
        Ok(Page::new(items, rows.next).with_rejected(rejected))
    }
}
