//! [`FakeNinjaOne`]: an in-memory NinjaOne that pages, fails and counts like the real one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::faults::{Faults, NinjaOneMethod};
use super::paging::{after_key, page_of};
use super::tenant::fixed_time;
use crate::model::{
    Alert, AlertUid, Device, DeviceId, DeviceRole, DeviceRoleId, Location, Organization,
    OrganizationDetailed, OrganizationId, PolicyAssignment, RowError,
};
use crate::ports::{ApiError, Page, PageRequest};

mod api;
mod builder;
mod details;

pub use self::builder::{FakeNinjaOneBuilder, standard_roles};
use self::builder::{alert, class_of, detailed, device, next_id, plain_organization};
use self::details::detailed_row;

/// An in-memory [`NinjaOneApi`](crate::ports::NinjaOneApi).
///
/// - Paging is NinjaOne's: rows ordered by id, the cursor is the last id of the previous page,
///   `next` is set whenever a page is full — so a listing that is an exact multiple of the page
///   size ends with one extra, empty page. A cursor that is not an id is an
///   [`ApiErrorKind::Other`](crate::ports::ApiErrorKind::Other).
/// - [`device_roles`](crate::ports::NinjaOneApi::device_roles) and [`alerts`](crate::ports::NinjaOneApi::alerts) answer one
///   page with no `next`.
/// - `Clone` shares the state: keep a clone to change the tenant or inspect it while the code
///   under test holds another (for example as `Arc<dyn NinjaOneApi>`).
/// - Every call goes through [`Faults`] ([`faults`](Self::faults)), under its
///   [`NinjaOneMethod`] (every one in [`NinjaOneMethod::ALL`]).
/// - [`devices_detailed`](crate::ports::NinjaOneApi::devices_detailed) serves each device with details shaped
///   as NinjaOne sends them: agent devices nested (`system`, `os`, `memory`, `processors`,
///   `volumes`, `ipAddresses`, `macAddresses` with a repeated entry, `lastLoggedInUser`), VMware
///   hosts flat (`serviceTag`, `vendor`, `model`, `cpuModel`, `cpuMhz`, `memorySize`). They are
///   generated from the device id (serial `NJ` + 8 digits, VM hosts `VMH` + 7), so a rename keeps
///   the serial; [`set_device_details`](Self::set_device_details) replaces them with any JSON,
///   odd shapes included, and the rows are decoded as a client would.
/// - No clock is read: builder-made records carry [`fixed_time`](super::fixed_time)-based times.
///
/// ```
/// use ninjaone_servicenow::ports::{NinjaOneApi, PageRequest, collect_all};
/// use ninjaone_servicenow::testing::{FakeNinjaOne, NinjaOneMethod};
/// # futures::executor::block_on(async {
/// let ninja = FakeNinjaOne::builder()
///     .organizations(5)
///     .roles_standard()
///     .devices_per_organization(2)
///     .build();
/// let listing = collect_all(PageRequest::first(2), 100, |req| ninja.organizations(req)).await?;
/// assert_eq!(listing.items.len(), 5);
/// assert_eq!(listing.items[0].name, "Contoso Dental 0001");
/// assert_eq!(ninja.faults().calls(NinjaOneMethod::Organizations), 3);
///
/// ninja.rename_organization(listing.items[0].id, "Contoso Dental Group");
/// let detailed = ninja.organization(listing.items[0].id).await?.expect("exists");
/// assert_eq!(detailed.organization.name, "Contoso Dental Group");
/// assert_eq!(ninja.all_devices().len(), 10);
/// # Ok::<(), ninjaone_servicenow::ports::ApiError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeNinjaOne {
    state: Arc<Mutex<NinjaState>>,
    faults: Faults,
}

#[derive(Debug, Default)]
struct NinjaState {
    organizations: BTreeMap<OrganizationId, OrganizationDetailed>,
    roles: BTreeMap<DeviceRoleId, DeviceRole>,
    devices: BTreeMap<DeviceId, Device>,
    alerts: Vec<Alert>,
    alert_counter: u64,
    details: BTreeMap<DeviceId, Value>,
    rejected_organizations: Vec<RowError>,
}

impl NinjaState {
    /// Adds `alert`, or replaces the open alert with the same uid.
    fn put_alert(&mut self, alert: Alert) {
        match self.alerts.iter_mut().find(|a| a.uid == alert.uid) {
            Some(existing) => *existing = alert,
            None => self.alerts.push(alert),
        }
    }

    /// Raises a new alert with the next generated uid; `None` only if that uid were refused.
    fn raise_alert(
        &mut self,
        device: Option<DeviceId>,
        message: String,
        at: DateTime<Utc>,
    ) -> Option<AlertUid> {
        self.alert_counter += 1;
        let alert = alert(self.alert_counter, device, message, at)?;
        let uid = alert.uid.clone();
        self.alerts.push(alert);
        Some(uid)
    }
}

impl FakeNinjaOne {
    /// An empty tenant.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for a realistic tenant.
    pub fn builder() -> FakeNinjaOneBuilder {
        FakeNinjaOneBuilder::default()
    }

    /// The fault injection and call counts of this fake (shared by its clones).
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The same tenant (changes show on both sides) behind another fault injection: for
    /// example one per worker process, so one worker's calls can be stalled or failed while
    /// another's go through.
    #[must_use]
    pub fn with_faults(&self, faults: Faults) -> Self {
        Self {
            state: Arc::clone(&self.state),
            faults,
        }
    }

    /// From now on the first page of every organization listing also carries `rows` as rows
    /// that failed to decode ([`Page::rejected`]), as a NinjaOne answer with an undecodable row
    /// would; an empty `rows` stops it. The decoded rows are unchanged.
    ///
    /// ```
    /// use ninjaone_servicenow::model::RowError;
    /// use ninjaone_servicenow::ports::{NinjaOneApi, PageRequest};
    /// use ninjaone_servicenow::testing::FakeNinjaOne;
    /// # futures::executor::block_on(async {
    /// let ninja = FakeNinjaOne::builder().organizations(2).build();
    /// ninja.reject_organization_rows(vec![RowError {
    ///     index: 0,
    ///     id_prefix: Some("9".to_owned()),
    ///     message: "invalid type".to_owned(),
    /// }]);
    /// let page = ninja.organizations(PageRequest::first(10)).await?;
    /// assert_eq!((page.items.len(), page.rejected.len()), (2, 1));
    /// # Ok::<(), ninjaone_servicenow::ports::ApiError>(())
    /// # }).unwrap();
    /// ```
    pub fn reject_organization_rows(&self, rows: Vec<RowError>) {
        self.lock().rejected_organizations = rows;
    }

    fn lock(&self) -> MutexGuard<'_, NinjaState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- organizations ----

    /// Adds an organization named `name` with the next free id and returns the id; `None` only
    /// when every int32 id is taken.
    pub fn add_organization(&self, name: impl Into<String>) -> Option<OrganizationId> {
        let mut state = self.lock();
        let id = next_id(
            &state.organizations,
            OrganizationId::get,
            OrganizationId::new,
        )?;
        state
            .organizations
            .insert(id, detailed(plain_organization(id, name.into())));
        Some(id)
    }

    /// Adds or replaces an organization, keeping its stored locations and policies.
    pub fn put_organization(&self, organization: Organization) {
        let mut state = self.lock();
        match state.organizations.get_mut(&organization.id) {
            Some(existing) => existing.organization = organization,
            None => {
                state
                    .organizations
                    .insert(organization.id, detailed(organization));
            }
        }
    }

    /// Adds or replaces an organization with its locations and policies.
    pub fn put_organization_detailed(&self, organization: OrganizationDetailed) {
        self.lock()
            .organizations
            .insert(organization.organization.id, organization);
    }

    /// Removes an organization, as when it is deleted in the product, together with its devices
    /// and their alerts. `false` when there was none.
    pub fn remove_organization(&self, id: OrganizationId) -> bool {
        let mut state = self.lock();
        if state.organizations.remove(&id).is_none() {
            return false;
        }
        let gone: Vec<DeviceId> = state
            .devices
            .values()
            .filter(|d| d.organization_id == id)
            .map(|d| d.id)
            .collect();
        for device in &gone {
            state.devices.remove(device);
        }
        state
            .alerts
            .retain(|a| a.device_id.is_none_or(|d| !gone.contains(&d)));
        true
    }

    /// Renames an organization. `false` when there is none.
    pub fn rename_organization(&self, id: OrganizationId, name: impl Into<String>) -> bool {
        self.lock()
            .organizations
            .get_mut(&id)
            .map(|o| o.organization.name = name.into())
            .is_some()
    }

    /// Replaces an organization's locations. `false` when there is no such organization.
    pub fn set_locations(&self, id: OrganizationId, locations: Vec<Location>) -> bool {
        self.lock()
            .organizations
            .get_mut(&id)
            .map(|o| o.locations = locations)
            .is_some()
    }

    /// Replaces an organization's policies. `false` when there is no such organization.
    pub fn set_policies(&self, id: OrganizationId, policies: Vec<PolicyAssignment>) -> bool {
        self.lock()
            .organizations
            .get_mut(&id)
            .map(|o| o.policies = policies)
            .is_some()
    }

    /// Every organization, ordered by id.
    pub fn all_organizations(&self) -> Vec<Organization> {
        self.lock()
            .organizations
            .values()
            .map(|o| o.organization.clone())
            .collect()
    }

    /// One organization in its detailed form, without going through faults or counts.
    pub fn organization_detailed(&self, id: OrganizationId) -> Option<OrganizationDetailed> {
        self.lock().organizations.get(&id).cloned()
    }

    // ---- roles ----

    /// Adds or replaces device roles.
    pub fn add_device_roles(&self, roles: impl IntoIterator<Item = DeviceRole>) {
        let mut state = self.lock();
        for role in roles {
            state.roles.insert(role.id, role);
        }
    }

    /// Every device role, ordered by id.
    pub fn all_device_roles(&self) -> Vec<DeviceRole> {
        self.lock().roles.values().cloned().collect()
    }

    // ---- devices ----

    /// Adds a device to `organization` with the next free id and returns the id. The device's
    /// class is its role's, or [`NodeClass::WindowsWorkstation`](crate::model::NodeClass::WindowsWorkstation) without a (known) role. The
    /// organization need not exist, to model a device left behind by a deleted organization.
    /// `None` only when every int32 id is taken.
    pub fn add_device(
        &self,
        organization: OrganizationId,
        role: Option<DeviceRoleId>,
        name: impl Into<String>,
    ) -> Option<DeviceId> {
        let mut state = self.lock();
        let id = next_id(&state.devices, DeviceId::get, DeviceId::new)?;
        let node_class = class_of(&state.roles, role);
        let name = name.into();
        state.devices.insert(
            id,
            device(id, organization, role, node_class, &name, fixed_time()),
        );
        Some(id)
    }

    /// Adds or replaces a device as given.
    pub fn put_device(&self, device: Device) {
        self.lock().devices.insert(device.id, device);
    }

    /// Removes a device and its alerts. `false` when there was none.
    pub fn remove_device(&self, id: DeviceId) -> bool {
        let mut state = self.lock();
        let removed = state.devices.remove(&id).is_some();
        state.details.remove(&id);
        state.alerts.retain(|a| a.device_id != Some(id));
        removed
    }

    /// Sets (or clears) a device's role; the device's class follows a known role. `false` when
    /// there is no such device.
    pub fn set_device_role(&self, id: DeviceId, role: Option<DeviceRoleId>) -> bool {
        let mut state = self.lock();
        let class = role.and_then(|r| state.roles.get(&r).map(|r| r.node_class.clone()));
        match state.devices.get_mut(&id) {
            Some(device) => {
                device.node_role_id = role;
                if let Some(class) = class {
                    device.node_class = class;
                }
                true
            }
            None => false,
        }
    }

    /// Every device, ordered by id.
    pub fn all_devices(&self) -> Vec<Device> {
        self.lock().devices.values().cloned().collect()
    }

    /// Replaces the detail members of a device's `devices-detailed` row (`system`, `os`,
    /// `serviceTag`, ...; any JSON object, odd shapes included) with `details`. `false` when
    /// there is no such device or `details` is not an object.
    pub fn set_device_details(&self, id: DeviceId, details: Value) -> bool {
        let mut state = self.lock();
        if !state.devices.contains_key(&id) || !details.is_object() {
            return false;
        }
        state.details.insert(id, details);
        true
    }

    /// A device's `devices-detailed` row as NinjaOne sends it, without faults or counts.
    pub fn device_detailed_row(&self, id: DeviceId) -> Option<Value> {
        let state = self.lock();
        state
            .devices
            .get(&id)
            .map(|d| detailed_row(d, state.details.get(&id)))
    }

    /// One page of `devices-detailed` rows as JSON, under the fault name `devices_detailed`
    /// (what the HTTP fake server serves).
    pub(crate) async fn devices_detailed_rows(
        &self,
        page: &PageRequest,
    ) -> Result<Page<Value>, ApiError> {
        let admission = self.faults.admit(NinjaOneMethod::DevicesDetailed).await?;
        let result = after_key::<DeviceId>(NinjaOneMethod::DevicesDetailed, page).map(|after| {
            let state = self.lock();
            page_of(&state.devices, after.as_ref(), page.limit(), |d| {
                Some(detailed_row(d, state.details.get(&d.id)))
            })
        });
        admission.finish(result)
    }

    // ---- alerts ----

    /// Raises an alert (or replaces the one with the same uid).
    pub fn add_alert(&self, alert: Alert) {
        self.lock().put_alert(alert);
    }

    /// Raises an alert on `device` with a generated, UUID-shaped uid
    /// (`00000000-0000-4000-8000-000000000001`, ...), and returns the uid. `None` only if the
    /// generated uid were refused by [`AlertUid`]'s rules, which a UUID shape never is.
    pub fn raise_alert(
        &self,
        device: DeviceId,
        message: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Option<AlertUid> {
        self.lock().raise_alert(Some(device), message.into(), at)
    }

    /// Fires an open alert's condition again, as NinjaOne does: its `message` and `updateTime`
    /// change, its uid stays. `false` when there is no open alert with that uid.
    pub fn retrigger_alert(
        &self,
        uid: &AlertUid,
        message: impl Into<String>,
        at: DateTime<Utc>,
    ) -> bool {
        let mut state = self.lock();
        let Some(alert) = state.alerts.iter_mut().find(|a| &a.uid == uid) else {
            return false;
        };
        alert.message = Some(message.into());
        alert.update_time = Some(at);
        true
    }

    /// Clears an alert, as when its condition resets. `false` when there was none.
    pub fn clear_alert(&self, uid: &AlertUid) -> bool {
        let mut state = self.lock();
        let before = state.alerts.len();
        state.alerts.retain(|a| &a.uid != uid);
        state.alerts.len() != before
    }

    /// Every open alert, in the order raised.
    pub fn all_alerts(&self) -> Vec<Alert> {
        self.lock().alerts.clone()
    }
}
