//! Device details (`GET /v2/devices-detailed`): the hardware and operating-system facts the CMDB
//! needs, read tolerantly.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::ninjaone::Device;

/// What NinjaOne knows about a device's hardware and operating system, from
/// `GET /v2/devices-detailed`.
///
/// Two shapes are read: an agent device's nested `system`, `os`, `memory`, `processors[]`,
/// `volumes[]`, `ipAddresses[]`, `macAddresses[]`, `lastLoggedInUser`; and a VMware host's flat
/// `serviceTag`, `vendor`, `model`, `cpuModel`, `cpuMhz`, `memorySize`. Every field is optional,
/// and a field of an unexpected type is left out rather than failing the device: a detail is
/// never worth losing the device (or the page) for.
///
/// Units are normalised here: bytes for memory and disk, MHz for the CPU clock. NinjaOne's
/// `processors[].clockSpeed` is in Hz; a value under 100,000 is taken as MHz already (no CPU
/// runs below 100 kHz).
///
/// ```
/// use ninjaone_servicenow::model::DetailedDevice;
/// let agent: DetailedDevice = serde_json::from_str(r#"{
///     "id": 8, "organizationId": 1, "nodeClass": "WINDOWS_SERVER", "systemName": "DC01",
///     "system": {"manufacturer": "Dell Inc.", "model": "PowerEdge R650", "serialNumber": "7XK2Q53"},
///     "os": {"name": "Windows Server 2022 Standard", "buildNumber": "20348"},
///     "memory": {"capacity": 34359738368},
///     "processors": [{"name": "Intel Xeon Silver 4314", "numCores": 16, "clockSpeed": 2400000000}]
/// }"#)?;
/// assert_eq!(agent.details.serial_number.as_deref(), Some("7XK2Q53"));
/// assert_eq!(agent.details.ram_bytes, Some(34_359_738_368));
/// assert_eq!(agent.details.cpu_mhz, Some(2400));
/// let host: DetailedDevice = serde_json::from_str(r#"{
///     "id": 7, "organizationId": 2, "nodeClass": "VMWARE_VM_HOST", "deviceType": "VMHost",
///     "serviceTag": "CZ2D1X0B7K", "vendor": "HPE", "memorySize": "not a number"
/// }"#)?;
/// assert_eq!(host.details.serial_number.as_deref(), Some("CZ2D1X0B7K"));
/// assert_eq!(host.details.ram_bytes, None); // an odd field is left out, the device is kept
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeviceDetails {
    /// The system serial number: `system.serialNumber`, else `system.biosSerialNumber`, else a
    /// VM host's `serviceTag`; placeholder values such as `To Be Filled By O.E.M.` are dropped
    /// ([`is_placeholder_serial`]), since they would identify unrelated machines as one.
    pub serial_number: Option<String>,
    /// The hardware manufacturer (`system.manufacturer`, a VM host's `vendor`).
    pub manufacturer: Option<String>,
    /// The hardware model (`system.model`, a VM host's `model`).
    pub model: Option<String>,
    /// The chassis type (`system.chassisType`), as sent.
    pub chassis_type: Option<String>,
    /// The Windows domain or DNS domain the device is joined to (`system.domain`).
    pub domain: Option<String>,
    /// The operating system's name (`os.name`).
    pub os_name: Option<String>,
    /// The operating system's build (`os.buildNumber`).
    pub os_build: Option<String>,
    /// The operating system's release (`os.releaseId`, such as `22H2`).
    pub os_release: Option<String>,
    /// The architecture (`os.architecture`, such as `64-bit`).
    pub os_architecture: Option<String>,
    /// Physical memory in bytes (`memory.capacity`, a VM host's `memorySize`).
    pub ram_bytes: Option<u64>,
    /// The first processor's name (`processors[0].name`, a VM host's `cpuModel`).
    pub cpu_name: Option<String>,
    /// Cores of the first processor (`processors[0].numCores`).
    pub cpu_cores: Option<u32>,
    /// Number of processors (`processors[]`), when listed.
    pub cpu_count: Option<u32>,
    /// Clock speed in MHz (`processors[0].clockSpeed`, a VM host's `cpuMhz`).
    pub cpu_mhz: Option<u64>,
    /// Total capacity of the volumes in bytes (sum of `volumes[].capacity`), when any is known.
    pub disk_bytes: Option<u64>,
    /// IP addresses (`ipAddresses[]`), in the order sent, without duplicates.
    pub ip_addresses: Vec<String>,
    /// MAC addresses (`macAddresses[]`), in the order sent, without duplicates (NinjaOne
    /// repeats them).
    pub mac_addresses: Vec<String>,
    /// The user last logged in (`lastLoggedInUser`), as NinjaOne names them.
    pub last_logged_in_user: Option<String>,
}

/// Whether `serial` is a placeholder firmware writes when no serial number was set (`To Be
/// Filled By O.E.M.`, `Default string`, `0`, `None`, ...), compared without case and spaces.
/// Such a value is shared by unrelated machines, so it must never identify one.
///
/// ```
/// use ninjaone_servicenow::model::is_placeholder_serial;
/// assert!(is_placeholder_serial("To Be Filled By O.E.M."));
/// assert!(is_placeholder_serial(" 0000000 "));
/// assert!(!is_placeholder_serial("7XK2Q53"));
/// ```
#[must_use]
pub fn is_placeholder_serial(serial: &str) -> bool {
    let key: String = serial
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    key.is_empty()
        || key.bytes().all(|b| b == b'0')
        || matches!(
            key.as_str(),
            "tobefilledbyoem"
                | "defaultstring"
                | "systemserialnumber"
                | "none"
                | "na"
                | "null"
                | "unknown"
                | "notspecified"
                | "notapplicable"
                | "chassisserialnumber"
                | "serialnumber"
                | "123456789"
                | "oem"
        )
}

impl DeviceDetails {
    /// Reads the details out of one `devices-detailed` row (the whole row object); never fails.
    #[must_use]
    pub fn from_row(row: &Value) -> Self {
        let system = row.get("system");
        let os = row.get("os");
        let serial = [
            system.and_then(|s| text(s.get("serialNumber"))),
            system.and_then(|s| text(s.get("biosSerialNumber"))),
            text(row.get("serviceTag")),
        ]
        .into_iter()
        .flatten()
        .find(|s| !is_placeholder_serial(s));
        let processors: Option<&Vec<Value>> = row.get("processors").and_then(Value::as_array);
        let first_cpu = processors.and_then(|p| p.first());
        let clock = first_cpu
            .and_then(|p| number(p.get("clockSpeed")))
            .map(|hz| if hz < 100_000 { hz } else { hz / 1_000_000 })
            .or_else(|| number(row.get("cpuMhz")));
        let disk = row.get("volumes").and_then(Value::as_array).and_then(|v| {
            v.iter()
                .filter_map(|vol| number(vol.get("capacity")))
                .try_fold(None::<u64>, |sum, c| {
                    Some(Some(sum.unwrap_or(0).checked_add(c)?))
                })
                .flatten()
        });
        Self {
            serial_number: serial,
            manufacturer: system
                .and_then(|s| text(s.get("manufacturer")))
                .or_else(|| text(row.get("vendor"))),
            model: system
                .and_then(|s| text(s.get("model")))
                .or_else(|| text(row.get("model"))),
            chassis_type: system.and_then(|s| text(s.get("chassisType"))),
            domain: system.and_then(|s| text(s.get("domain"))),
            os_name: os.and_then(|o| text(o.get("name"))),
            os_build: os.and_then(|o| text(o.get("buildNumber"))),
            os_release: os.and_then(|o| text(o.get("releaseId"))),
            os_architecture: os.and_then(|o| text(o.get("architecture"))),
            ram_bytes: row
                .get("memory")
                .and_then(|m| number(m.get("capacity")))
                .or_else(|| number(row.get("memorySize"))),
            cpu_name: first_cpu
                .and_then(|p| text(p.get("name")))
                .or_else(|| text(row.get("cpuModel"))),
            cpu_cores: first_cpu
                .and_then(|p| number(p.get("numCores")))
                .and_then(|n| u32::try_from(n).ok()),
            cpu_count: processors
                .filter(|p| !p.is_empty())
                .and_then(|p| u32::try_from(p.len()).ok()),
            cpu_mhz: clock,
            disk_bytes: disk,
            ip_addresses: texts(row.get("ipAddresses")),
            mac_addresses: texts(row.get("macAddresses")),
            last_logged_in_user: text(row.get("lastLoggedInUser")),
        }
    }
}

/// A trimmed, non-empty string (numbers are written out: some serials come as numbers).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative whole number, from a number or a numeric string; fractions are cut.
fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
                .map(|f| {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let whole = f as u64; // checked: finite, non-negative, in range
                    whole
                })
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The strings of an array, trimmed, non-empty, each once.
fn texts(value: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in value.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = text(Some(v))
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    out
}

/// A device with its details: one row of `GET /v2/devices-detailed`.
///
/// The device's own fields decode as [`Device`] does (a bad id rejects the row); the details
/// never reject it ([`DeviceDetails::from_row`]). It serializes as `{"device": ..., "details":
/// ...}`, not in NinjaOne's wire shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DetailedDevice {
    /// The device.
    pub device: Device,
    /// Its details.
    pub details: DeviceDetails,
}

impl DetailedDevice {
    /// A device with `details`.
    #[must_use]
    pub fn new(device: Device, details: DeviceDetails) -> Self {
        Self { device, details }
    }
}

impl<'de> Deserialize<'de> for DetailedDevice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let row = Value::deserialize(d)?;
        let device = Device::deserialize(&row).map_err(D::Error::custom)?;
        let details = DeviceDetails::from_row(&row);
        Ok(Self { device, details })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn agent_rows_read_every_detail_and_drop_duplicates() {
        let row = json!({
            "id": 1, "organizationId": 1, "nodeClass": "WINDOWS_WORKSTATION",
            "system": {"manufacturer": "LENOVO", "model": "20XW", "serialNumber": "To be filled by O.E.M.",
                       "biosSerialNumber": "PF3ABC12", "domain": "corp.example", "chassisType": "LAPTOP"},
            "os": {"name": "Windows 11 Pro", "buildNumber": "22631", "releaseId": "23H2", "architecture": "64-bit"},
            "memory": {"capacity": 17_179_869_184_u64},
            "processors": [{"name": "Intel Core i7", "numCores": 4, "clockSpeed": 2800},
                           {"name": "Intel Core i7", "numCores": 4}],
            "volumes": [{"capacity": 500_000_000_000_u64}, {"capacity": "12"}, {"capacity": -1}],
            "ipAddresses": ["10.0.0.5", "10.0.0.5", ""],
            "macAddresses": ["00:11:22:33:44:55", "00:11:22:33:44:55"],
            "lastLoggedInUser": "CORP\\alice"
        });
        let d = DeviceDetails::from_row(&row);
        assert_eq!(d.serial_number.as_deref(), Some("PF3ABC12"));
        assert_eq!(d.cpu_mhz, Some(2800));
        assert_eq!((d.cpu_cores, d.cpu_count), (Some(4), Some(2)));
        assert_eq!(d.disk_bytes, Some(500_000_000_012));
        assert_eq!(d.ip_addresses, ["10.0.0.5"]);
        assert_eq!(d.mac_addresses, ["00:11:22:33:44:55"]);
        assert_eq!(d.os_release.as_deref(), Some("23H2"));
        assert_eq!(d.last_logged_in_user.as_deref(), Some("CORP\\alice"));
    }

    #[test]
    fn odd_fields_are_left_out_and_bad_ids_reject_the_row() {
        let row = json!({"id": 3, "organizationId": 1, "nodeClass": "MAC",
            "system": "nope", "os": [1], "memory": {"capacity": {}}, "processors": "x",
            "volumes": [{"capacity": 1.8e30}], "ipAddresses": {"a": 1}});
        let d: DetailedDevice = serde_json::from_value(row).expect("decodes");
        assert_eq!(d.details, DeviceDetails::default());
        let bad = json!({"id": "x", "organizationId": 1, "nodeClass": "MAC"});
        assert!(serde_json::from_value::<DetailedDevice>(bad).is_err());
    }
}
