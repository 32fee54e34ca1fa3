//! [`FakeNinjaOne`]: an in-memory NinjaOne that pages, fails and counts like the real one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::faults::{Faults, NinjaOneMethod};
use super::paging::{after_key, page_of};
use super::tenant::{customer_name, fixed_time, fixed_time_plus};
use crate::model::{
    Alert, AlertUid, ChassisType, DetailedDevice, Device, DeviceId, DeviceRole, DeviceRoleId,
    Location, LocationId, NodeApprovalMode, NodeClass, Organization, OrganizationDetailed,
    OrganizationId, PolicyAssignment, PolicyId, RowError, decode_rows,
};
use crate::ports::{ApiError, NinjaOneApi, Page, PageRequest};

/// An in-memory [`NinjaOneApi`].
///
/// - Paging is NinjaOne's: rows ordered by id, the cursor is the last id of the previous page,
///   `next` is set whenever a page is full — so a listing that is an exact multiple of the page
///   size ends with one extra, empty page. A cursor that is not an id is an
///   [`ApiErrorKind::Other`](crate::ports::ApiErrorKind::Other).
/// - [`device_roles`](NinjaOneApi::device_roles) and [`alerts`](NinjaOneApi::alerts) answer one
///   page with no `next`.
/// - `Clone` shares the state: keep a clone to change the tenant or inspect it while the code
///   under test holds another (for example as `Arc<dyn NinjaOneApi>`).
/// - Every call goes through [`Faults`] ([`faults`](Self::faults)), under its
///   [`NinjaOneMethod`] (every one in [`NinjaOneMethod::ALL`]).
/// - [`devices_detailed`](NinjaOneApi::devices_detailed) serves each device with details shaped
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
    /// class is its role's, or [`NodeClass::WindowsWorkstation`] without a (known) role. The
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

/// A device's `devices-detailed` row: the device's own fields plus `details` (or generated ones).
fn detailed_row(device: &Device, details: Option<&Value>) -> Value {
    let mut row = serde_json::to_value(device).unwrap_or_else(|_| json!({}));
    let details: std::borrow::Cow<'_, Value> = details.map_or_else(
        || std::borrow::Cow::Owned(generated_details(device)),
        std::borrow::Cow::Borrowed,
    );
    if let (Value::Object(row), Value::Object(details)) = (&mut row, details.as_ref()) {
        for (key, value) in details {
            row.insert(key.clone(), value.clone());
        }
    }
    row
}

/// Details shaped like a real tenant's, derived from the device id and class only.
fn generated_details(device: &Device) -> Value {
    let id = device.id.get();
    let org = device.organization_id.get();
    if device.node_class == NodeClass::VmwareVmHost {
        return json!({
            "deviceType": "VMHost",
            "serviceTag": format!("VMH{id:07}"),
            "vendor": "Dell Inc.",
            "model": "PowerEdge R750",
            "cpuModel": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
            "cpuMhz": 2000,
            "memorySize": 549_755_813_888_u64,
        });
    }
    let server = matches!(
        device.node_class,
        NodeClass::WindowsServer | NodeClass::LinuxServer
    );
    let (model, os, build, memory) = match (&device.node_class, server) {
        (NodeClass::LinuxServer | NodeClass::LinuxWorkstation, _) => (
            "PowerEdge R650",
            "Ubuntu 22.04.4 LTS",
            "5.15.0",
            68_719_476_736_u64,
        ),
        (NodeClass::Mac, _) => ("MacBookPro18,3", "macOS 14.4", "23E214", 17_179_869_184),
        (_, true) => (
            "PowerEdge R650",
            "Windows Server 2022 Standard",
            "20348",
            68_719_476_736,
        ),
        _ => ("OptiPlex 7090", "Windows 11 Pro", "22631", 17_179_869_184),
    };
    let octet = id % 250 + 1;
    json!({
        "system": {
            "manufacturer": "Dell Inc.",
            "model": model,
            "serialNumber": format!("NJ{id:08}"),
            "biosSerialNumber": format!("NJ{id:08}"),
            "domain": format!("org{org:04}.local"),
        },
        "os": {
            "name": os,
            "manufacturer": "Microsoft Corporation",
            "architecture": "64-bit",
            "buildNumber": build,
            "releaseId": "23H2",
        },
        "memory": { "capacity": memory },
        "processors": [{
            "name": "Intel(R) Core(TM) i7-11700 CPU @ 2.50GHz",
            "numCores": 8,
            "clockSpeed": 2_496_000_000_u64,
        }],
        "volumes": [{ "name": "C:", "capacity": 511_101_108_224_u64 }],
        "ipAddresses": [format!("10.{}.0.{octet}", org % 250)],
        "macAddresses": [format!("00:50:56:00:{:02x}:{:02x}", (id >> 8) & 0xff, id & 0xff),
                         format!("00:50:56:00:{:02x}:{:02x}", (id >> 8) & 0xff, id & 0xff)],
        "lastLoggedInUser": format!("ORG{org:04}\\user{id}"),
    })
}

/// Builds a [`FakeNinjaOne`] with a realistic tenant.
///
/// Generated records come first (organizations `1..=n` named by
/// [`customer_name`](super::customer_name), devices numbered from 1, roles from
/// [`standard_roles`]), then explicit records are added or replace them by id.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct FakeNinjaOneBuilder {
    organizations: usize,
    standard_roles: bool,
    devices_per_organization: usize,
    alerts: usize,
    explicit_organizations: Vec<OrganizationDetailed>,
    explicit_roles: Vec<DeviceRole>,
    explicit_devices: Vec<Device>,
    explicit_alerts: Vec<Alert>,
    faults: Option<Faults>,
}

impl FakeNinjaOneBuilder {
    /// `n` organizations with ids `1..=n`, named [`customer_name`](super::customer_name)`(id)`,
    /// each with one location (id = the organization's id) and, with roles, one policy per role.
    pub fn organizations(mut self, n: usize) -> Self {
        self.organizations = n;
        self
    }

    /// Adds the [`standard_roles`].
    pub fn roles_standard(mut self) -> Self {
        self.standard_roles = true;
        self
    }

    /// `k` devices per generated organization, their roles taken in turn from the roles
    /// (no role when there are none).
    pub fn devices_per_organization(mut self, k: usize) -> Self {
        self.devices_per_organization = k;
        self
    }

    /// `n` open alerts, spread in turn over the generated devices (on no device when there are
    /// none), raised one minute apart from [`fixed_time`](super::fixed_time).
    pub fn alerts(mut self, n: usize) -> Self {
        self.alerts = n;
        self
    }

    /// Adds (or replaces by id) an organization.
    pub fn organization(mut self, organization: Organization) -> Self {
        self.explicit_organizations.push(detailed(organization));
        self
    }

    /// Adds (or replaces by id) an organization with its locations and policies.
    pub fn organization_detailed(mut self, organization: OrganizationDetailed) -> Self {
        self.explicit_organizations.push(organization);
        self
    }

    /// Adds (or replaces by id) a device role.
    pub fn role(mut self, role: DeviceRole) -> Self {
        self.explicit_roles.push(role);
        self
    }

    /// Adds (or replaces by id) a device.
    pub fn device(mut self, device: Device) -> Self {
        self.explicit_devices.push(device);
        self
    }

    /// Adds (or replaces by uid) an alert.
    pub fn alert(mut self, alert: Alert) -> Self {
        self.explicit_alerts.push(alert);
        self
    }

    /// Uses `faults` (for example one shared with a [`FakeServiceNow`](super::FakeServiceNow)).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// The fake.
    #[must_use]
    pub fn build(self) -> FakeNinjaOne {
        let mut state = NinjaState::default();
        if self.standard_roles {
            state
                .roles
                .extend(standard_roles().into_iter().map(|r| (r.id, r)));
        }
        for role in self.explicit_roles {
            state.roles.insert(role.id, role);
        }
        let roles: Vec<DeviceRole> = state.roles.values().cloned().collect();
        let mut device_ids = Vec::new();
        for index in 1..=self.organizations {
            let Some(id) = u32::try_from(index)
                .ok()
                .and_then(|n| OrganizationId::new(n).ok())
            else {
                break;
            };
            let mut org = detailed(plain_organization(id, customer_name(index)));
            org.organization.node_approval_mode = Some(NodeApprovalMode::Automatic);
            if let Ok(location) = LocationId::new(id.get()) {
                org.locations.push(Location {
                    id: location,
                    name: "Head Office".to_owned(),
                    address: None,
                    description: None,
                });
            }
            org.policies = roles
                .iter()
                .filter_map(|r| {
                    let policy =
                        PolicyId::new(r.id.get().saturating_mul(10).min(i32::MAX as u32)).ok()?;
                    Some(PolicyAssignment {
                        node_role_id: r.id,
                        policy_id: policy,
                    })
                })
                .collect();
            for k in 0..self.devices_per_organization {
                let Some(device_id) = u32::try_from(device_ids.len() + 1)
                    .ok()
                    .and_then(|n| DeviceId::new(n).ok())
                else {
                    break;
                };
                let role = (!roles.is_empty()).then(|| roles[k % roles.len()].id);
                let class = class_of(&state.roles, role);
                let name = format!("{}-{:04}-{:02}", host_prefix(&class), id.get(), k + 1);
                let mut d = device(device_id, id, role, class, &name, fixed_time());
                d.location_id = org.locations.first().map(|l| l.id);
                d.dns_name = Some(format!("{}.org{:04}.local", name.to_lowercase(), id.get()));
                state.devices.insert(device_id, d);
                device_ids.push(device_id);
            }
            state.organizations.insert(id, org);
        }
        for i in 0..self.alerts {
            let device = (!device_ids.is_empty()).then(|| device_ids[i % device_ids.len()]);
            let message = format!("CPU utilization above 90% for 5 minutes (check {})", i + 1);
            state.raise_alert(device, message, fixed_time_plus(i));
        }
        for org in self.explicit_organizations {
            state.organizations.insert(org.organization.id, org);
        }
        for d in self.explicit_devices {
            state.devices.insert(d.id, d);
        }
        for a in self.explicit_alerts {
            state.put_alert(a);
        }
        FakeNinjaOne {
            state: Arc::new(Mutex::new(state)),
            faults: self.faults.unwrap_or_default(),
        }
    }
}

/// A few device roles shaped like a real instance's built-in ones: Windows Desktop (1), Windows
/// Laptop (2), Windows Server (9, `WINDOWS_SERVER`), Mac (10), Linux Server (11), VMware ESXi
/// Host (13), Linux Workstation (15).
#[must_use]
pub fn standard_roles() -> Vec<DeviceRole> {
    [
        (
            1,
            "Windows Desktop",
            NodeClass::WindowsWorkstation,
            ChassisType::Desktop,
        ),
        (
            2,
            "Windows Laptop",
            NodeClass::WindowsWorkstation,
            ChassisType::Laptop,
        ),
        (
            9,
            "Windows Server",
            NodeClass::WindowsServer,
            ChassisType::Unknown,
        ),
        (10, "Mac", NodeClass::Mac, ChassisType::Desktop),
        (
            11,
            "Linux Server",
            NodeClass::LinuxServer,
            ChassisType::Unknown,
        ),
        (
            13,
            "VMware ESXi Host",
            NodeClass::VmwareVmHost,
            ChassisType::Unknown,
        ),
        (
            15,
            "Linux Workstation",
            NodeClass::LinuxWorkstation,
            ChassisType::Desktop,
        ),
    ]
    .into_iter()
    .filter_map(|(id, name, node_class, chassis)| {
        Some(DeviceRole {
            id: DeviceRoleId::new(id).ok()?,
            name: name.to_owned(),
            description: None,
            node_class,
            custom: false,
            chassis_type: Some(chassis),
            created: DateTime::from_timestamp(1_600_000_000, 0),
            parent_id: None,
        })
    })
    .collect()
}

/// The id after the highest one in use, or the lowest free one when that is past `i32::MAX`;
/// `None` only when every int32 id is taken.
fn next_id<K: Ord + Copy, V>(
    rows: &BTreeMap<K, V>,
    get: impl Fn(K) -> u32,
    make: impl Fn(u32) -> Result<K, crate::model::IdError>,
) -> Option<K> {
    let after_last = rows
        .keys()
        .next_back()
        .map_or(1, |k| get(*k).saturating_add(1));
    make(after_last).ok().or_else(|| {
        (1..=i32::MAX.unsigned_abs()).find_map(|n| make(n).ok().filter(|k| !rows.contains_key(k)))
    })
}

fn plain_organization(id: OrganizationId, name: String) -> Organization {
    Organization {
        id,
        name,
        description: None,
        node_approval_mode: None,
        tags: Vec::new(),
    }
}

fn detailed(organization: Organization) -> OrganizationDetailed {
    OrganizationDetailed {
        organization,
        locations: Vec::new(),
        policies: Vec::new(),
    }
}

fn class_of(roles: &BTreeMap<DeviceRoleId, DeviceRole>, role: Option<DeviceRoleId>) -> NodeClass {
    role.and_then(|r| roles.get(&r))
        .map_or(NodeClass::WindowsWorkstation, |r| r.node_class.clone())
}

fn host_prefix(class: &NodeClass) -> &'static str {
    match class {
        NodeClass::WindowsServer => "SRV",
        NodeClass::LinuxServer => "LNX",
        NodeClass::Mac => "MAC",
        NodeClass::VmwareVmHost => "ESX",
        NodeClass::LinuxWorkstation => "LWS",
        _ => "WS",
    }
}

fn device(
    id: DeviceId,
    organization: OrganizationId,
    role: Option<DeviceRoleId>,
    node_class: NodeClass,
    name: &str,
    at: DateTime<Utc>,
) -> Device {
    Device {
        id,
        parent_device_id: None,
        organization_id: organization,
        location_id: None,
        node_class,
        node_role_id: role,
        role_policy_id: None,
        approval_status: Some("APPROVED".to_owned()),
        offline: false,
        display_name: Some(name.to_owned()),
        system_name: Some(name.to_owned()),
        dns_name: None,
        created: Some(at),
        last_contact: Some(at),
        last_update: Some(at),
    }
}

fn alert(
    counter: u64,
    device: Option<DeviceId>,
    message: String,
    at: DateTime<Utc>,
) -> Option<Alert> {
    let uid = format!(
        "00000000-0000-4000-8000-{:012x}",
        counter & 0xffff_ffff_ffff
    );
    Some(Alert {
        uid: uid.parse().ok()?,
        device_id: device,
        message: Some(message),
        create_time: Some(at),
        update_time: Some(at),
        source_type: Some("CONDITION".to_owned()),
        source_config_uid: None,
        source_name: None,
        subject: Some("CPU".to_owned()),
        severity: None,
        priority: None,
        psa_ticket_id: None,
        data: BTreeMap::new(),
    })
}
