//! `FakeNinjaOneBuilder`: a generated, realistic tenant (organizations, roles, devices).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{FakeNinjaOne, NinjaState};
use crate::model::{
    Alert, ChassisType, Device, DeviceId, DeviceRole, DeviceRoleId, Location, LocationId,
    NodeApprovalMode, NodeClass, Organization, OrganizationDetailed, OrganizationId,
    PolicyAssignment, PolicyId,
};
use crate::testing::faults::Faults;
use crate::testing::tenant::{customer_name, fixed_time, fixed_time_plus};

/// Builds a [`FakeNinjaOne`] with a realistic tenant.
///
/// Generated records come first (organizations `1..=n` named by
/// [`customer_name`](crate::testing::customer_name), devices numbered from 1, roles from
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
    /// `n` organizations with ids `1..=n`, named [`customer_name`](crate::testing::customer_name)`(id)`,
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

    /// Uses `faults` (for example one shared with a [`FakeServiceNow`](crate::testing::FakeServiceNow)).
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
pub(super) fn next_id<K: Ord + Copy, V>(
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

pub(super) fn plain_organization(id: OrganizationId, name: String) -> Organization {
    Organization {
        id,
        name,
        description: None,
        node_approval_mode: None,
        tags: Vec::new(),
    }
}

pub(super) fn detailed(organization: Organization) -> OrganizationDetailed {
    OrganizationDetailed {
        organization,
        locations: Vec::new(),
        policies: Vec::new(),
    }
}

pub(super) fn class_of(
    roles: &BTreeMap<DeviceRoleId, DeviceRole>,
    role: Option<DeviceRoleId>,
) -> NodeClass {
    role.and_then(|r| roles.get(&r))
        .map_or(NodeClass::WindowsWorkstation, |r| r.node_class.clone())
}

pub(super) fn host_prefix(class: &NodeClass) -> &'static str {
    match class {
        NodeClass::WindowsServer => "SRV",
        NodeClass::LinuxServer => "LNX",
        NodeClass::Mac => "MAC",
        NodeClass::VmwareVmHost => "ESX",
        NodeClass::LinuxWorkstation => "LWS",
        _ => "WS",
    }
}

pub(super) fn device(
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

pub(super) fn alert(
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
