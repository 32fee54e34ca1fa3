//! The Identification and Reconciliation payload of a device: its internal id, the values sent,
//! and the digests of what is sent and of what identifies it.

use std::collections::BTreeMap;

use crate::model::{CiItem, Device, DeviceDetails, DeviceId, SysId};

/// The `internal_id` sent with a device's item: `ninjaone-device-<id>`.
///
/// ```
/// use ninjaone_servicenow::model::DeviceId;
/// use ninjaone_servicenow::plan::ci_internal_id;
/// assert_eq!(ci_internal_id(DeviceId::new(8)?), "ninjaone-device-8");
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[must_use]
pub fn ci_internal_id(device: DeviceId) -> String {
    format!("ninjaone-device-{device}")
}

/// The digest of an item as sent with `data_source`: `v1:` and 16 hex digits of a 64-bit FNV-1a
/// over the data source, the class, every value (length-prefixed, in key order) and the source
/// key (`sys_object_source_info`, when the item has one). Stable across
/// runs, platforms and versions of this crate, so it can be stored.
///
/// ```
/// use std::collections::BTreeMap;
/// use ninjaone_servicenow::model::CiItem;
/// use ninjaone_servicenow::plan::ci_fingerprint;
/// let item = CiItem {
///     class_name: "cmdb_ci_win_server".parse()?,
///     values: BTreeMap::from([("name".to_owned(), "SRV-01".to_owned())]),
///     internal_id: None,
///     source: None,
/// };
/// let digest = ci_fingerprint("NinjaOne", &item);
/// assert!(digest.starts_with("v1:") && digest.len() == 19);
/// assert_ne!(digest, ci_fingerprint("SCCM", &item));
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[must_use]
pub fn ci_fingerprint(data_source: &str, item: &CiItem) -> String {
    let mut hash = Fnv64::new();
    hash.field(data_source);
    hash.field(item.class_name.as_str());
    for (key, value) in &item.values {
        hash.field(key);
        hash.field(value);
    }
    if let Some(source) = &item.source {
        // After the values, so items without a source keep their digest.
        hash.field("sys_object_source_info");
        hash.field(&source.source_name);
        hash.field(&source.source_native_key);
    }
    format!("v1:{:016x}", hash.0)
}

/// The digest of what identifies an item to the CMDB: `id1:` and 16 hex digits over the data
/// source, the class, the source key (`sys_object_source_info`), `serial_number`, `name` and
/// `company`. When it changes, the next write is preceded by a dry run, since the item may now
/// be identified as another CI; and the company decides whether the CI it names may be
/// updated, so a device held back for another company's CI is checked again once it moves to
/// that company.
///
/// ```
/// use std::collections::BTreeMap;
/// use ninjaone_servicenow::model::{CiItem, CiSourceInfo};
/// use ninjaone_servicenow::plan::ci_identity;
/// let mut item = CiItem {
///     class_name: "cmdb_ci_win_server".parse()?,
///     values: BTreeMap::from([("name".to_owned(), "SRV-01".to_owned())]),
///     internal_id: None,
///     source: Some(CiSourceInfo::new("NinjaOne", "8")),
/// };
/// let before = ci_identity("NinjaOne", &item);
/// item.values.insert("ram".to_owned(), "16384".to_owned());
/// assert_eq!(ci_identity("NinjaOne", &item), before); // RAM does not identify
/// item.values.insert("name".to_owned(), "SRV-02".to_owned());
/// assert_ne!(ci_identity("NinjaOne", &item), before);
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[must_use]
pub fn ci_identity(data_source: &str, item: &CiItem) -> String {
    let mut hash = Fnv64::new();
    hash.field(data_source);
    hash.field(item.class_name.as_str());
    match &item.source {
        Some(source) => {
            hash.field(&source.source_name);
            hash.field(&source.source_native_key);
        }
        None => hash.field(""),
    }
    for key in ["serial_number", "name", "company"] {
        hash.field(item.values.get(key).map_or("", String::as_str));
    }
    format!("id1:{:016x}", hash.0)
}

/// 64-bit FNV-1a.
struct Fnv64(u64);

impl Fnv64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Self(Self::OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// A length-prefixed field, so `("ab", "c")` and `("a", "bc")` differ.
    fn field(&mut self, s: &str) {
        self.bytes(&(s.len() as u64).to_le_bytes());
        self.bytes(s.as_bytes());
    }
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * 1024 * 1024;

/// The values sent for a device of an organization mapped to `company`: the fields NinjaOne's own
/// CMDB sync fills for `cmdb_ci_computer` and its subclasses, in ServiceNow's units.
pub(super) fn values(
    device: &Device,
    details: &DeviceDetails,
    company: &SysId,
) -> BTreeMap<String, String> {
    let known = |s: Option<&String>| {
        s.map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut values = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            values.insert(key.to_owned(), value);
        }
    };
    put("name", Some(device.name()));
    put("host_name", known(device.system_name.as_ref()));
    put("fqdn", known(device.dns_name.as_ref()));
    put("company", Some(company.as_str().to_owned()));
    put("serial_number", known(details.serial_number.as_ref()));
    put("model_number", known(details.model.as_ref()));
    put("os", known(details.os_name.as_ref()));
    put(
        "os_version",
        known(details.os_build.as_ref()).or_else(|| known(details.os_release.as_ref())),
    );
    put("os_domain", known(details.domain.as_ref()));
    // RAM (MB) and Disk space (GB) as the Computer class documents them.
    put(
        "ram",
        details
            .ram_bytes
            .map(|b| b / MIB)
            .filter(|mb| *mb > 0)
            .map(|mb| mb.to_string()),
    );
    put(
        "disk_space",
        details
            .disk_bytes
            .map(|b| b / GIB)
            .filter(|gb| *gb > 0)
            .map(|gb| gb.to_string()),
    );
    put("cpu_name", known(details.cpu_name.as_ref()));
    put(
        "cpu_core_count",
        details.cpu_cores.filter(|n| *n > 0).map(|n| n.to_string()),
    );
    put(
        "cpu_count",
        details.cpu_count.filter(|n| *n > 0).map(|n| n.to_string()),
    );
    put(
        "cpu_speed",
        details.cpu_mhz.filter(|n| *n > 0).map(|n| n.to_string()),
    );
    values
}
