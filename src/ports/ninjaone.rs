//! [`NinjaOneApi`]: the NinjaOne public API v2 port.

use std::fmt::Debug;

use async_trait::async_trait;

use super::{ApiError, Page, PageRequest};
use crate::model::{
    Alert, DetailedDevice, Device, DeviceId, DeviceRole, Organization, OrganizationDetailed,
    OrganizationId,
};

/// The NinjaOne public API v2, as far as the sync needs it.
///
/// This is an [`#[async_trait]`](macro@async_trait) trait, like every port here: put
/// `#[async_trait]` ([`ports::async_trait`](macro@crate::ports::async_trait)) on the `impl` block,
/// or each method fails with E0195 (see [`ConfigStore`](super::ConfigStore)). Every method is required.
/// [`http::NinjaOneClient`](crate::http) (feature `http`) implements it; a host mostly writes
/// wrappers, such as one that counts requests:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// use ninjaone_servicenow::model::{
///     Alert, DetailedDevice, Device, DeviceId, DeviceRole, Organization, OrganizationDetailed,
///     OrganizationId,
/// };
/// use ninjaone_servicenow::ports::{ApiError, NinjaOneApi, Page, PageRequest, async_trait};
///
/// #[derive(Debug)]
/// struct Counted {
///     inner: Arc<dyn NinjaOneApi>,
///     requests: AtomicUsize,
/// }
///
/// impl Counted {
///     fn count(&self) {
///         self.requests.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// #[async_trait]
/// impl NinjaOneApi for Counted {
///     async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError> {
///         self.count();
///         self.inner.organizations(page).await
///     }
///     async fn organization(
///         &self,
///         id: OrganizationId,
///     ) -> Result<Option<OrganizationDetailed>, ApiError> {
///         self.count();
///         self.inner.organization(id).await
///     }
///     async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
///         self.count();
///         self.inner.device_roles().await
///     }
///     async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError> {
///         self.count();
///         self.inner.devices(page).await
///     }
///     async fn organization_devices(
///         &self,
///         organization: OrganizationId,
///         page: PageRequest,
///     ) -> Result<Page<Device>, ApiError> {
///         self.count();
///         self.inner.organization_devices(organization, page).await
///     }
///     async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
///         self.count();
///         self.inner.alerts().await
///     }
///     async fn devices_detailed(
///         &self,
///         page: PageRequest,
///     ) -> Result<Page<DetailedDevice>, ApiError> {
///         self.count();
///         self.inner.devices_detailed(page).await
///     }
///     async fn device_alerts(&self, device: DeviceId) -> Result<Vec<Alert>, ApiError> {
///         self.count();
///         self.inner.device_alerts(device).await
///     }
/// }
/// ```
///
/// Paged methods follow NinjaOne's `pageSize`/`after` paging: an implementation returns
/// `next = None` only when it knows the listing has ended (a short or empty page).
#[async_trait]
pub trait NinjaOneApi: Send + Sync + Debug {
    /// One page of organizations (`GET /v2/organizations`), ordered by id.
    async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError>;

    /// One organization with its locations and policies; `None` when it does not exist.
    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError>;

    /// Every device role (`GET /v2/roles`, not paged).
    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError>;

    /// One page of the tenant's devices (`GET /v2/devices`), ordered by id.
    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError>;

    /// One page of one organization's devices (`GET /v2/organization/{id}/devices`).
    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError>;

    /// Every open alert (`GET /v2/alerts`, not paged).
    async fn alerts(&self) -> Result<Page<Alert>, ApiError>;

    /// One device's open alerts (`GET /v2/device/{id}/alerts`, not paged): how the incident
    /// router confirms that a reset delivery's alert is really gone.
    ///
    /// # Errors
    /// As the other calls; an answer with a row that cannot be decoded is an error
    /// ([`ApiErrorKind::InvalidResponse`](super::ApiErrorKind::InvalidResponse)), never a shorter list: that row could be the alert
    /// whose reset is being confirmed.
    async fn device_alerts(&self, device: DeviceId) -> Result<Vec<Alert>, ApiError>;

    /// One page of the tenant's devices with their details (`GET /v2/devices-detailed`, paged
    /// like [`devices`](Self::devices), ordered by id): serial number, hardware, operating
    /// system, memory, processors, disks, addresses ([`DetailedDevice`]). A row whose details
    /// are odd still decodes (the details it could not read are left out); a row whose device
    /// fields do not decode is a rejected row of the page, never a failed page.
    ///
    ///
    /// Required: an implementation that reads no details may answer its
    /// [`devices`](Self::devices) with [`DeviceDetails::default()`](crate::model::DeviceDetails) (no serial number), and its
    /// devices are then identified by the NinjaOne id and the name only — a choice the
    /// implementation makes visibly, not a default it inherits.
    async fn devices_detailed(&self, page: PageRequest) -> Result<Page<DetailedDevice>, ApiError>;
}
