//! NinjaOne public API v2 types: organizations, device roles, devices and alerts.
//!
//! Decoding follows what the API really sends (API-NOTES.md): empty fields are omitted, timestamps
//! are epoch seconds as floats, unknown fields are ignored and enums grow. Identifiers are strict:
//! an id that is not an int32 is an error for that record, never a silent `0`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{AlertUid, DeviceId, DeviceRoleId, LocationId, OrganizationId, PolicyId};
use super::open_enum::open_enum;
use super::wire::{epoch_seconds, null_as_default};

open_enum! {
    /// How an organization approves new devices (`nodeApprovalMode`).
    NodeApprovalMode {
        /// Devices are approved automatically.
        Automatic = "AUTOMATIC",
        /// A technician approves each device.
        Manual = "MANUAL",
        /// New devices are rejected.
        Reject = "REJECT",
    }
}

/// A NinjaOne organization (`GET /v2/organizations`).
///
/// ```
/// use ninjaone_servicenow::model::Organization;
/// let org: Organization =
///     serde_json::from_str(r#"{"name":"Solution Logique","nodeApprovalMode":"AUTOMATIC","id":2}"#)?;
/// assert_eq!(org.id.get(), 2);
/// assert_eq!(org.description, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// The organization's id.
    pub id: OrganizationId,
    /// Its name, as shown in NinjaOne.
    pub name: String,
    /// A free-text description; omitted by the API when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How new devices are approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_approval_mode: Option<NodeApprovalMode>,
    /// Tags; omitted by the API when empty.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
}

impl Organization {
    /// An organization with an id and a name and nothing else set (for tests and fakes; the
    /// API's answers are decoded with serde).
    #[must_use]
    pub fn new(id: OrganizationId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            description: None,
            node_approval_mode: None,
            tags: Vec::new(),
        }
    }
}

/// A location of an organization (detailed form only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Location {
    /// The location's id.
    pub id: LocationId,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Postal address, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Description, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Location {
    /// A location with an id and a name and nothing else set.
    #[must_use]
    pub fn new(id: LocationId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            address: None,
            description: None,
        }
    }
}

/// A policy assigned to a device role within an organization (`{"nodeRoleId": 9, "policyId": 43}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PolicyAssignment {
    /// The device role the policy applies to.
    pub node_role_id: DeviceRoleId,
    /// The policy.
    pub policy_id: PolicyId,
}

impl PolicyAssignment {
    /// The policy `policy_id` assigned to the device role `node_role_id`.
    #[must_use]
    pub fn new(node_role_id: DeviceRoleId, policy_id: PolicyId) -> Self {
        Self {
            node_role_id,
            policy_id,
        }
    }
}

/// An organization with its locations and policies (`GET /v2/organizations-detailed`,
/// `GET /v2/organization/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OrganizationDetailed {
    /// The organization itself.
    #[serde(flatten)]
    pub organization: Organization,
    /// Its locations; omitted by the API when empty.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub locations: Vec<Location>,
    /// Policies per device role; omitted by the API when empty.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policies: Vec<PolicyAssignment>,
}

impl OrganizationDetailed {
    /// The detailed form of `organization`, with no locations and no policies.
    #[must_use]
    pub fn new(organization: Organization) -> Self {
        Self {
            organization,
            locations: Vec::new(),
            policies: Vec::new(),
        }
    }
}

open_enum! {
    /// The class of a device or device role (`nodeClass`). NinjaOne adds values over time; unknown
    /// ones are kept in [`NodeClass::Other`].
    NodeClass {
        /// Windows server.
        WindowsServer = "WINDOWS_SERVER",
        /// Windows workstation.
        WindowsWorkstation = "WINDOWS_WORKSTATION",
        /// Linux workstation.
        LinuxWorkstation = "LINUX_WORKSTATION",
        /// macOS computer.
        Mac = "MAC",
        /// Android device.
        Android = "ANDROID",
        /// iPhone.
        AppleIos = "APPLE_IOS",
        /// iPad.
        AppleIpados = "APPLE_IPADOS",
        /// VMware host.
        VmwareVmHost = "VMWARE_VM_HOST",
        /// VMware guest.
        VmwareVmGuest = "VMWARE_VM_GUEST",
        /// Hyper-V host.
        HypervVmmHost = "HYPERV_VMM_HOST",
        /// Hyper-V guest.
        HypervVmmGuest = "HYPERV_VMM_GUEST",
        /// Linux server.
        LinuxServer = "LINUX_SERVER",
        /// macOS server.
        MacServer = "MAC_SERVER",
        /// Cloud monitoring target.
        CloudMonitorTarget = "CLOUD_MONITOR_TARGET",
        /// Network switch (NMS).
        NmsSwitch = "NMS_SWITCH",
        /// Router (NMS).
        NmsRouter = "NMS_ROUTER",
        /// Firewall (NMS).
        NmsFirewall = "NMS_FIREWALL",
        /// Private network gateway (NMS).
        NmsPrivateNetworkGateway = "NMS_PRIVATE_NETWORK_GATEWAY",
        /// Printer (NMS).
        NmsPrinter = "NMS_PRINTER",
        /// Scanner (NMS).
        NmsScanner = "NMS_SCANNER",
        /// Dial manager (NMS).
        NmsDialManager = "NMS_DIAL_MANAGER",
        /// Wireless access point (NMS).
        NmsWap = "NMS_WAP",
        /// IP SLA probe (NMS).
        NmsIpsla = "NMS_IPSLA",
        /// Computer (NMS).
        NmsComputer = "NMS_COMPUTER",
        /// VM host (NMS).
        NmsVmHost = "NMS_VM_HOST",
        /// Appliance (NMS).
        NmsAppliance = "NMS_APPLIANCE",
        /// Other network device (NMS).
        NmsOther = "NMS_OTHER",
        /// Server (NMS).
        NmsServer = "NMS_SERVER",
        /// Phone (NMS).
        NmsPhone = "NMS_PHONE",
        /// Virtual machine (NMS).
        NmsVirtualMachine = "NMS_VIRTUAL_MACHINE",
        /// Network management agent (NMS).
        NmsNetworkManagementAgent = "NMS_NETWORK_MANAGEMENT_AGENT",
        /// Unmanaged device.
        UnmanagedDevice = "UNMANAGED_DEVICE",
        /// Managed device.
        ManagedDevice = "MANAGED_DEVICE",
    }
}

open_enum! {
    /// The chassis of a device role (`chassisType`).
    ChassisType {
        /// Not known.
        Unknown = "UNKNOWN",
        /// Desktop.
        Desktop = "DESKTOP",
        /// Laptop.
        Laptop = "LAPTOP",
        /// Mobile device.
        Mobile = "MOBILE",
    }
}

/// A device role (`GET /v2/roles`): what the configuration-item mapping maps to a CMDB class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeviceRole {
    /// The role's id.
    pub id: DeviceRoleId,
    /// Its name.
    pub name: String,
    /// Description; omitted or empty when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The device class the role applies to.
    pub node_class: NodeClass,
    /// Whether the role was created by a technician (as opposed to built in).
    #[serde(default)]
    pub custom: bool,
    /// The chassis type, when the API sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chassis_type: Option<ChassisType>,
    /// When the role was created.
    #[serde(
        default,
        with = "epoch_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<DateTime<Utc>>,
    /// The parent role on newer instances (`nodeRoleParentId`).
    #[serde(
        default,
        rename = "nodeRoleParentId",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_id: Option<DeviceRoleId>,
}

impl DeviceRole {
    /// A built-in role with an id, a name and a device class, and nothing else set.
    #[must_use]
    pub fn new(id: DeviceRoleId, name: impl Into<String>, node_class: NodeClass) -> Self {
        Self {
            id,
            name: name.into(),
            description: None,
            node_class,
            custom: false,
            chassis_type: None,
            created: None,
            parent_id: None,
        }
    }
}

/// A device (`GET /v2/devices`, `GET /v2/organization/{id}/devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Device {
    /// The device's id.
    pub id: DeviceId,
    /// The parent device (a VM's host), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_device_id: Option<DeviceId>,
    /// The organization the device belongs to.
    pub organization_id: OrganizationId,
    /// Its location, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<LocationId>,
    /// Its device class.
    pub node_class: NodeClass,
    /// Its device role, when assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_role_id: Option<DeviceRoleId>,
    /// The policy applied through its role, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_policy_id: Option<PolicyId>,
    /// `APPROVED` or `PENDING`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_status: Option<String>,
    /// Whether the agent is offline.
    #[serde(default)]
    pub offline: bool,
    /// The name shown in NinjaOne.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The operating system's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
    /// The DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// When the device was added.
    #[serde(
        default,
        with = "epoch_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<DateTime<Utc>>,
    /// Last contact with the agent.
    #[serde(
        default,
        with = "epoch_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_contact: Option<DateTime<Utc>>,
    /// Last update of the device's data.
    #[serde(
        default,
        with = "epoch_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update: Option<DateTime<Utc>>,
}

impl Device {
    /// An online device of `organization_id` with a device class and nothing else set (no
    /// role, no names): set the public fields for the rest.
    #[must_use]
    pub fn new(id: DeviceId, organization_id: OrganizationId, node_class: NodeClass) -> Self {
        Self {
            id,
            parent_device_id: None,
            organization_id,
            location_id: None,
            node_class,
            node_role_id: None,
            role_policy_id: None,
            approval_status: None,
            offline: false,
            display_name: None,
            system_name: None,
            dns_name: None,
            created: None,
            last_contact: None,
            last_update: None,
        }
    }
}

impl Device {
    /// The best name to show for the device: display name, then system name, then DNS name,
    /// then `device <id>`.
    #[must_use]
    pub fn name(&self) -> String {
        [&self.display_name, &self.system_name, &self.dns_name]
            .into_iter()
            .flatten()
            .find(|s| !s.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| format!("device {}", self.id))
    }
}

open_enum! {
    /// An alert's severity, where NinjaOne sends one.
    Severity {
        /// No severity.
        None = "NONE",
        /// Minor.
        Minor = "MINOR",
        /// Moderate.
        Moderate = "MODERATE",
        /// Major.
        Major = "MAJOR",
        /// Critical.
        Critical = "CRITICAL",
    }
}

open_enum! {
    /// An alert's priority, where NinjaOne sends one.
    Priority {
        /// No priority.
        None = "NONE",
        /// Low.
        Low = "LOW",
        /// Medium.
        Medium = "MEDIUM",
        /// High.
        High = "HIGH",
    }
}

/// A severity or priority: a non-empty string is a value (unknown ones kept), anything else —
/// `null`, `""`, a number, an object — is none. Alerts may or may not carry these fields
/// (API-NOTES), so a shape nobody documented must not cost the whole alert.
fn lenient_level<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = std::convert::Infallible>,
{
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => s.trim().parse().ok(),
        _ => None,
    })
}

/// A triggered condition (`GET /v2/alerts`). It disappears when its condition resets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Alert {
    /// The alert's uid.
    pub uid: AlertUid,
    /// The device that raised it, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    /// The alert's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it was raised.
    #[serde(
        default,
        with = "epoch_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<DateTime<Utc>>,
    /// When it last changed.
    #[serde(
        default,
        with = "epoch_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_time: Option<DateTime<Utc>>,
    /// What raised it, such as `CONDITION_WINDOWS_EVENT_LOG_TRIGGERED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// The uid of the condition's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_config_uid: Option<String>,
    /// The condition's name; often empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// A short subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Severity, when the API sends one (as text; anything else, or `""`, is taken as none
    /// rather than failing the alert).
    #[serde(
        default,
        deserialize_with = "lenient_level",
        skip_serializing_if = "Option::is_none"
    )]
    pub severity: Option<Severity>,
    /// Priority, when the API sends one (decoded like `severity`).
    #[serde(
        default,
        deserialize_with = "lenient_level",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<Priority>,
    /// The PSA ticket already linked to the alert, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psa_ticket_id: Option<serde_json::Value>,
    /// Structured data about the alert, kept as received.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, serde_json::Value>,
}

impl Alert {
    /// An alert with a uid and nothing else set: set the public fields for the rest.
    #[must_use]
    pub fn new(uid: AlertUid) -> Self {
        Self {
            uid,
            device_id: None,
            message: None,
            create_time: None,
            update_time: None,
            source_type: None,
            source_config_uid: None,
            source_name: None,
            subject: None,
            severity: None,
            priority: None,
            psa_ticket_id: None,
            data: BTreeMap::new(),
        }
    }
}
