//! Configuration items, decided without I/O: which devices go to the CMDB, as which class, with
//! which values, and which are skipped or already there. The rules are on [`plan_cis`].

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::model::{
    CiClass, CiItem, CiMapping, CiMappingName, CiRecord, CiSourceInfo, DetailedDevice, Device,
    DeviceDetails, DeviceId, DeviceRoleId, OrganizationId, SyncConfig, SyncStatus, SysId,
    normalize_name,
};

/// The default data source: a choice of `cmdb_ci.discovery_source` the items are sent with.
pub const DEFAULT_CI_DATA_SOURCE: &str = "NinjaOne";

/// The default number of items per Identification and Reconciliation request.
pub const DEFAULT_CI_BATCH: usize = 100;

/// How devices are pushed into the CMDB.
///
/// ```
/// use ninjaone_servicenow::plan::{CmdbSettings, Policy};
/// let settings = CmdbSettings::builder().data_source("NinjaOne RMM").batch_size(50).build();
/// assert_eq!((settings.data_source(), settings.batch_size()), ("NinjaOne RMM", 50));
/// let policy = Policy::builder().cmdb(settings).build();
/// assert_eq!(policy.cmdb().batch_size(), 50);
/// assert_eq!(Policy::default().cmdb().data_source(), "NinjaOne");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CmdbSettings {
    /// The data source sent with every request (`sysparm_data_source`): one of the choices of
    /// `cmdb_ci.discovery_source` on the instance (default [`DEFAULT_CI_DATA_SOURCE`]). It also
    /// goes into every item's digest, so changing it sends every device again.
    pub(crate) data_source: String,
    /// Items per request (default [`DEFAULT_CI_BATCH`]; at least 1).
    pub(crate) batch_size: usize,
}

impl Default for CmdbSettings {
    fn default() -> Self {
        Self {
            data_source: DEFAULT_CI_DATA_SOURCE.to_owned(),
            batch_size: DEFAULT_CI_BATCH,
        }
    }
}

impl CmdbSettings {
    /// The data source sent with every request (`sysparm_data_source`).
    #[must_use]
    pub fn data_source(&self) -> &str {
        &self.data_source
    }

    /// Items per request.
    #[must_use]
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// A builder starting from the defaults; [`CmdbSettingsBuilder::build`] (or `.into()`)
    /// makes the settings.
    #[must_use]
    pub fn builder() -> CmdbSettingsBuilder {
        CmdbSettingsBuilder::default()
    }

    /// A builder starting from these settings, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> CmdbSettingsBuilder {
        CmdbSettingsBuilder {
            options: self.clone(),
        }
    }
}

/// Sets [`CmdbSettings`]: bare-name `#[must_use]` setters that clamp.
#[derive(Debug, Clone, Default)]
pub struct CmdbSettingsBuilder {
    options: CmdbSettings,
}

impl CmdbSettingsBuilder {
    /// Sets the data source. It must be one of the instance's `cmdb_ci.discovery_source`
    /// choices; a blank one is refused by the pass (reported, nothing sent).
    #[must_use]
    pub fn data_source(mut self, data_source: impl Into<String>) -> Self {
        self.options.data_source = data_source.into();
        self
    }

    /// Sets the number of items per request (at least 1).
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.options.batch_size = batch_size.max(1);
        self
    }

    /// The settings.
    #[must_use]
    pub fn build(self) -> CmdbSettings {
        self.options
    }
}

impl From<CmdbSettingsBuilder> for CmdbSettings {
    fn from(builder: CmdbSettingsBuilder) -> Self {
        builder.build()
    }
}

/// Why a device of an organization with CI mappings is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CiSkipReason {
    /// The device has no role.
    NoRole,
    /// None of the organization's CI mappings has a rule for the device's role.
    UnmappedRole,
    /// Two of the organization's CI mappings map the device's role to different classes (see
    /// [`CiMappingConflict`]).
    ConflictingMappings,
    /// Another device of the pass has the same name once normalised; the identification rule
    /// falls back to the name when the serial number does not match, so the two could become
    /// one CI.
    DuplicateName,
    /// Another device of the pass has the same serial number (cloned VMs, a reused board); the
    /// identification rule tries the serial number first, so the second write would update the
    /// first device's CI (and move it to its own company).
    DuplicateSerial,
    /// The configuration has no company (an active one always should).
    NoCompany,
    /// Its first write would have updated a CI of another company (or one recorded for another
    /// device); it is held back until what identifies it changes ([`CiHeld`]).
    HeldBack,
}

impl CiSkipReason {
    /// The reason in words, for logs.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoRole => "the device has no role",
            Self::UnmappedRole => "no CI mapping of the organization has a rule for the role",
            Self::ConflictingMappings => "two CI mappings map the role to different classes",
            Self::DuplicateName => "another device has the same name, so the CMDB would merge them",
            Self::DuplicateSerial => {
                "another device has the same serial number, so the CMDB would merge them"
            }
            Self::NoCompany => "the configuration has no company",
            Self::HeldBack => {
                "its first write would update a CI that is not its own (another company's, one \
                 without a company, or another device's); held back until its name, serial \
                 number or company changes"
            }
        }
    }
}

/// Two or more CI mappings of one organization map one device role to different classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiMappingConflict {
    /// The organization.
    pub organization: OrganizationId,
    /// The device role.
    pub role: DeviceRoleId,
    /// Each mapping with a rule for the role, and its class.
    pub classes: BTreeMap<CiMappingName, CiClass>,
    /// The organization's devices of that role (all skipped).
    pub devices: usize,
}

/// A device to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PlannedCi {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// The item to send.
    pub item: CiItem,
    /// Its digest ([`ci_fingerprint`]).
    pub fingerprint: String,
    /// The CI sys_id recorded for the device, when any (the device was sent before and changed).
    pub known: Option<SysId>,
    /// The digest of what identifies the device ([`ci_identity`]).
    pub identity: String,
    /// Whether the write must be preceded by a dry run: the device has no CI yet (no record, or
    /// one without a sys_id) or its identity changed since it was last checked.
    pub check: bool,
}

/// A device held back because its first write would take over a CI that is not its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiHeld {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name.
    pub name: String,
    /// Why, naming both companies and the CI.
    pub reason: String,
}

impl PlannedCi {
    /// The device's name as sent.
    #[must_use]
    pub fn name(&self) -> &str {
        self.item.values.get("name").map_or("", String::as_str)
    }
}

/// What [`plan_cis`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiPlan {
    /// Organizations whose devices were considered (active, with CI mappings).
    pub organizations: usize,
    /// The devices to send, by device id.
    pub items: Vec<PlannedCi>,
    /// Devices recorded with the same values: not sent.
    pub unchanged: usize,
    /// Devices not sent, by reason.
    pub skipped: BTreeMap<CiSkipReason, usize>,
    /// Role mapping conflicts, by organization and role.
    pub conflicts: Vec<CiMappingConflict>,
    /// Records to remove, by device id.
    pub remove: Vec<DeviceId>,
    /// Devices still held back from an earlier pass (their identity did not change), by device
    /// id; counted in `skipped` as [`CiSkipReason::HeldBack`].
    pub held: Vec<CiHeld>,
}

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
fn values(device: &Device, details: &DeviceDetails, company: &SysId) -> BTreeMap<String, String> {
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

/// Where a role's class comes from for one organization.
enum ClassFor<'a> {
    None,
    One(&'a CiClass),
    Conflict(BTreeMap<CiMappingName, CiClass>),
}

fn class_for<'a>(mappings: &[&'a CiMapping], role: DeviceRoleId) -> ClassFor<'a> {
    let mut found: Option<&'a CiClass> = None;
    let mut conflict = false;
    for mapping in mappings {
        if let Some(class) = mapping.class_for(role) {
            match found {
                None => found = Some(class),
                Some(first) if first != class => conflict = true,
                Some(_) => {}
            }
        }
    }
    match found {
        None => ClassFor::None,
        Some(class) if !conflict => ClassFor::One(class),
        Some(_) => ClassFor::Conflict(
            mappings
                .iter()
                .filter_map(|m| m.class_for(role).map(|c| (m.name().clone(), c.clone())))
                .collect(),
        ),
    }
}

/// Decides which devices to send with `data_source`, which are skipped and why, which are
/// unchanged, and which records go.
///
/// # Which devices
/// A device is considered when its organization's configuration is **active** and names at least
/// one CI mapping. Devices of every other organization are left alone (not counted).
///
/// # Which class: the rule for several mappings
/// A configuration may name several [`CiMapping`]s. For a device's role, every mapping the
/// configuration names (in name order) is asked for a class; mappings without a rule for the
/// role do not matter. When they all agree (or only one has a rule), that is the class. When two
/// of them map the role to different classes, nothing is guessed: the organization's devices of
/// that role are skipped ([`CiSkipReason::ConflictingMappings`]) and the conflict is reported
/// once per organization and role ([`CiMappingConflict`]). A mapping the configuration names but
/// the store does not hold is ignored here: the organization planner fails such a configuration.
///
/// # What is sent
/// One [`CiItem`] per device, with `sys_object_source_info` = the data source and the NinjaOne
/// device id as native key (looked up before any identification rule, so a renamed device keeps
/// its CI), `internal_id` = `ninjaone-device-<id>` ([`ci_internal_id`]) and the values NinjaOne's
/// own CMDB sync fills for `cmdb_ci_computer` and its subclasses (its "SCMDB field mapping
/// reference"), where the device's details ([`DeviceDetails`]) know them:
///
/// | field | from | unit |
/// |-|-|-|
/// | `name` | [`Device::name`] | |
/// | `host_name`, `fqdn` | system name, DNS name | |
/// | `company` | the configuration's company | sys_id |
/// | `serial_number` | system serial, else BIOS serial, else a VM host's service tag | |
/// | `model_number` | hardware model | |
/// | `os`, `os_version`, `os_domain` | OS name, build (else release), domain | |
/// | `ram` | memory | MB (bytes / 2^20) |
/// | `disk_space` | sum of the volumes | GB (bytes / 2^30) |
/// | `cpu_name`, `cpu_core_count`, `cpu_count`, `cpu_speed` | first processor, processors | MHz |
///
/// Reference fields get a sys_id or nothing: `manufacturer` (a `core_company` reference),
/// `model_id`, `cpu_manufacturer` and `assigned_to` are never sent, since NinjaOne knows only
/// names for them. IP and MAC addresses are not sent either: ServiceNow's Computer class
/// documentation keeps them in the network adapter and IP address classes, not in the CI.
///
/// The identification rule of hardware classes tries the serial number, then the name, and a
/// miss falls through, so devices of the pass whose names are equal once normalised
/// ([`normalize_name`]) could still be merged into one CI, and are skipped instead
/// ([`CiSkipReason::DuplicateName`]); so are devices sharing a serial number (compared trimmed
/// and without case: [`CiSkipReason::DuplicateSerial`]), since the rule tries it first.
///
/// # What is not sent again, and what is checked first
/// The digest of what would be sent ([`ci_fingerprint`]: data source, class, source key and
/// values) is compared with the device's [`CiRecord`]: the same digest with a known CI sys_id
/// (or a partial insert) means the CMDB already has these values, and nothing is sent. A device
/// without a CI yet, or whose identity ([`ci_identity`]: class, source key, serial number, name)
/// changed since it was checked, is marked [`PlannedCi::check`]: the CMDB step runs a dry run
/// for it before writing. A device held back by an earlier pass ([`CiRecord::held`]) whose
/// identity did not change is skipped ([`CiSkipReason::HeldBack`], listed in [`CiPlan::held`]).
///
/// # Which records go
/// A record is removed when its device is gone from a **complete** device listing, or when the
/// organization the device now belongs to (or, for a device not listed, the recorded one) has no
/// configuration or a deleted one. Records of organizations that are pending, in queue or
/// inactive are kept, so a configuration that comes back does not send every device again (the
/// digest still catches every change), and incidents keep their `cmdb_ci`. Nothing is ever deleted
/// from the CMDB: the CI of a removed record stays in ServiceNow.
///
/// `devices` is the tenant's device listing; `complete` says whether it is complete (only then are
/// records of unlisted devices removed). Deterministic: the same input gives the same plan, sorted
/// by device id.
///
/// ```
/// use chrono::Utc;
/// use ninjaone_servicenow::machine::SyncEvent;
/// use ninjaone_servicenow::model::{CiMapping, DetailedDevice, DeviceRoleId, OrganizationId, SyncConfig};
/// use ninjaone_servicenow::plan::{CiSkipReason, plan_cis};
/// # fn device(json: &str) -> DetailedDevice { serde_json::from_str(json).unwrap() }
/// let mut servers = CiMapping::new("servers".parse()?);
/// servers.set_rule(DeviceRoleId::new(9)?, "cmdb_ci_win_server".parse()?);
/// let company = "6816f79cc0a8016401c5a33be04be441".parse()?;
/// let mut config = SyncConfig::new(OrganizationId::new(1)?, Some(company), Utc::now());
/// config.set_ci_mappings(["servers".parse()?]);
/// config.apply(SyncEvent::Enqueue, None, Utc::now())?;
/// config.apply(SyncEvent::Succeeded, None, Utc::now())?; // active
/// let devices = [
///     device(r#"{"id": 1, "organizationId": 1, "nodeClass": "WINDOWS_SERVER", "nodeRoleId": 9, "systemName": "SRV-01",
///                "system": {"serialNumber": "7XK2Q53"}, "memory": {"capacity": 17179869184}}"#),
///     device(r#"{"id": 2, "organizationId": 1, "nodeClass": "WINDOWS_WORKSTATION", "nodeRoleId": 1, "systemName": "WS-01"}"#),
/// ];
/// let plan = plan_cis([&config], &[servers], &devices, true, &[], "NinjaOne");
/// assert_eq!(plan.items.len(), 1);
/// let item = &plan.items[0].item;
/// assert_eq!(item.values["company"], "6816f79cc0a8016401c5a33be04be441");
/// assert_eq!((item.values["serial_number"].as_str(), item.values["ram"].as_str()), ("7XK2Q53", "16384"));
/// assert_eq!(item.source.as_ref().map(|s| s.source_native_key.as_str()), Some("1"));
/// assert!(plan.items[0].check); // no CI yet: a dry run comes first
/// assert_eq!(plan.skipped[&CiSkipReason::UnmappedRole], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_cis<'a>(
    configs: impl IntoIterator<Item = &'a SyncConfig>,
    mappings: &[CiMapping],
    devices: &[DetailedDevice],
    complete: bool,
    records: &[CiRecord],
    data_source: &str,
) -> CiPlan {
    let by_name: HashMap<&CiMappingName, &CiMapping> =
        mappings.iter().map(|m| (m.name(), m)).collect();
    let configs: HashMap<OrganizationId, &SyncConfig> =
        configs.into_iter().map(|c| (c.organization(), c)).collect();
    let scoped: HashMap<OrganizationId, Scope<'_>> = configs
        .values()
        .filter(|c| c.status() == SyncStatus::Active && !c.ci_mappings().is_empty())
        .map(|c| {
            let mappings = c
                .ci_mappings()
                .iter()
                .filter_map(|n| by_name.get(n).copied())
                .collect();
            (
                c.organization(),
                Scope {
                    company: c.company(),
                    mappings,
                },
            )
        })
        .collect();
    let records_by_device: HashMap<DeviceId, &CiRecord> =
        records.iter().map(|r| (r.device, r)).collect();
    let mut sorted: Vec<&DetailedDevice> = devices.iter().collect();
    sorted.sort_by_key(|d| d.device.id);
    sorted.dedup_by_key(|d| d.device.id);

    let mut plan = CiPlan {
        organizations: scoped.len(),
        ..CiPlan::default()
    };
    let candidates = candidates(&sorted, &scoped, &records_by_device, data_source, &mut plan);
    // The CMDB identifies by name: devices sharing one would become one CI.
    let mut names: HashMap<&str, usize> = HashMap::with_capacity(candidates.len());
    for (_, key) in &candidates {
        *names.entry(key.as_str()).or_insert(0) += 1;
    }
    let duplicated: HashSet<String> = names
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k.to_owned())
        .collect();
    // It identifies by serial number first: devices sharing one would become one CI too.
    let mut serials: HashMap<String, usize> = HashMap::new();
    for (planned, _) in &candidates {
        if let Some(serial) = serial_key(planned) {
            *serials.entry(serial).or_insert(0) += 1;
        }
    }
    for (planned, key) in candidates {
        if duplicated.contains(&key) {
            *plan.skipped.entry(CiSkipReason::DuplicateName).or_insert(0) += 1;
            continue;
        }
        if serial_key(&planned).is_some_and(|s| serials.get(&s).is_some_and(|n| *n > 1)) {
            *plan
                .skipped
                .entry(CiSkipReason::DuplicateSerial)
                .or_insert(0) += 1;
            continue;
        }
        let record = records_by_device.get(&planned.device);
        let unchanged = record.is_some_and(|r| {
            r.fingerprint == planned.fingerprint && (r.sys_id.is_some() || r.partial)
        });
        let held = record.and_then(|r| {
            r.held
                .as_ref()
                .filter(|_| r.identity.as_deref() == Some(planned.identity.as_str()))
        });
        if let Some(reason) = held {
            *plan.skipped.entry(CiSkipReason::HeldBack).or_insert(0) += 1;
            plan.held.push(CiHeld {
                device: planned.device,
                organization: planned.organization,
                name: planned.name().to_owned(),
                reason: reason.clone(),
            });
        } else if unchanged {
            plan.unchanged += 1;
        } else {
            plan.items.push(planned);
        }
    }
    let plain: Vec<&Device> = sorted.iter().map(|d| &d.device).collect();
    plan.remove = removals(&plain, complete, records, &configs);
    plan
}

/// A planned item's serial number as the CMDB compares it (trimmed, without case).
fn serial_key(planned: &PlannedCi) -> Option<String> {
    planned
        .item
        .values
        .get("serial_number")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

/// What an organization in scope contributes: its company and the CI mappings it names.
struct Scope<'a> {
    company: Option<&'a SysId>,
    mappings: Vec<&'a CiMapping>,
}

/// The items of the devices of organizations in scope (with their normalised names), in device
/// order; skips and conflicts go into `plan`.
fn candidates(
    devices: &[&DetailedDevice],
    scoped: &HashMap<OrganizationId, Scope<'_>>,
    records: &HashMap<DeviceId, &CiRecord>,
    data_source: &str,
    plan: &mut CiPlan,
) -> Vec<(PlannedCi, String)> {
    let mut conflicts: BTreeMap<(OrganizationId, DeviceRoleId), CiMappingConflict> =
        BTreeMap::new();
    let mut out = Vec::new();
    for detailed in devices {
        let device = &detailed.device;
        let org = device.organization_id;
        let Some(scope) = scoped.get(&org) else {
            continue;
        };
        let mut skip = |reason| *plan.skipped.entry(reason).or_insert(0) += 1;
        let Some(company) = scope.company else {
            skip(CiSkipReason::NoCompany);
            continue;
        };
        let Some(role) = device.node_role_id else {
            skip(CiSkipReason::NoRole);
            continue;
        };
        let class = match class_for(&scope.mappings, role) {
            ClassFor::None => {
                skip(CiSkipReason::UnmappedRole);
                continue;
            }
            ClassFor::Conflict(classes) => {
                skip(CiSkipReason::ConflictingMappings);
                conflicts
                    .entry((org, role))
                    .or_insert_with(|| CiMappingConflict {
                        organization: org,
                        role,
                        classes,
                        devices: 0,
                    })
                    .devices += 1;
                continue;
            }
            ClassFor::One(class) => class,
        };
        let item = CiItem {
            class_name: class.clone(),
            values: values(device, &detailed.details, company),
            internal_id: Some(ci_internal_id(device.id)),
            source: Some(CiSourceInfo::new(data_source, device.id.to_string())),
        };
        let record = records.get(&device.id);
        let identity = ci_identity(data_source, &item);
        let check = record
            .is_none_or(|r| r.sys_id.is_none() || r.identity.as_deref() != Some(identity.as_str()));
        let planned = PlannedCi {
            device: device.id,
            organization: org,
            fingerprint: ci_fingerprint(data_source, &item),
            item,
            known: record.and_then(|r| r.sys_id.clone()),
            identity,
            check,
        };
        out.push((planned, normalize_name(&device.name())));
    }
    plan.conflicts = conflicts.into_values().collect();
    out
}

/// The records to remove: of devices gone from a complete listing, and of devices whose
/// organization has no configuration or a deleted one.
fn removals(
    devices: &[&Device],
    complete: bool,
    records: &[CiRecord],
    configs: &HashMap<OrganizationId, &SyncConfig>,
) -> Vec<DeviceId> {
    let listed: HashMap<DeviceId, OrganizationId> =
        devices.iter().map(|d| (d.id, d.organization_id)).collect();
    let live = |org: OrganizationId| {
        configs
            .get(&org)
            .is_some_and(|c| c.status() != SyncStatus::Deleted)
    };
    let mut remove: Vec<DeviceId> = records
        .iter()
        .filter(|r| match listed.get(&r.device) {
            Some(org) => !live(*org),
            None => complete || !live(r.organization),
        })
        .map(|r| r.device)
        .collect();
    remove.sort_unstable();
    remove.dedup();
    remove
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::machine::SyncEvent;
    use crate::model::NodeClass;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time")
    }

    fn org(n: u32) -> OrganizationId {
        OrganizationId::new(n).expect("a valid id")
    }

    fn company(n: u32) -> SysId {
        format!("{n:032x}").parse().expect("a valid sys_id")
    }

    fn role(n: u32) -> DeviceRoleId {
        DeviceRoleId::new(n).expect("a valid role")
    }

    fn mapping(name: &str, rules: &[(u32, &str)]) -> CiMapping {
        let mut m = CiMapping::new(name.parse().expect("a valid name"));
        for (r, class) in rules {
            m.set_rule(role(*r), class.parse().expect("a valid class"));
        }
        m
    }

    fn config(n: u32, status: SyncStatus, mappings: &[&str]) -> SyncConfig {
        let mut c = SyncConfig::new(org(n), Some(company(n)), now());
        c.set_ci_mappings(mappings.iter().map(|m| m.parse().expect("a valid name")));
        let events: &[SyncEvent] = match status {
            SyncStatus::Pending => &[],
            SyncStatus::InQueue => &[SyncEvent::Enqueue],
            SyncStatus::Active => &[SyncEvent::Enqueue, SyncEvent::Succeeded],
            SyncStatus::Inactive => &[SyncEvent::Deactivate],
            SyncStatus::Deleted => &[SyncEvent::Delete],
        };
        for e in events {
            c.apply(*e, None, now()).expect("an allowed transition");
        }
        assert_eq!(c.status(), status);
        c
    }

    fn device(id: u32, org_id: u32, role_id: Option<u32>, name: &str) -> DetailedDevice {
        DetailedDevice::new(plain(id, org_id, role_id, name), DeviceDetails::default())
    }

    fn plain(id: u32, org_id: u32, role_id: Option<u32>, name: &str) -> Device {
        Device {
            id: DeviceId::new(id).expect("a valid id"),
            parent_device_id: None,
            organization_id: org(org_id),
            location_id: None,
            node_class: NodeClass::WindowsServer,
            node_role_id: role_id.map(role),
            role_policy_id: None,
            approval_status: None,
            offline: false,
            display_name: None,
            system_name: Some(name.to_owned()),
            dns_name: Some(format!("{}.example.test", name.to_lowercase())),
            created: None,
            last_contact: None,
            last_update: None,
        }
    }

    fn record_of(planned: &PlannedCi) -> CiRecord {
        CiRecord::new(
            planned.device,
            planned.organization,
            planned.item.class_name.clone(),
            Some(company(999)),
            planned.fingerprint.clone(),
            now(),
        )
        .with_identity(planned.identity.clone())
    }

    #[test]
    fn values_and_ids_of_a_mapped_device() {
        let configs = [config(1, SyncStatus::Active, &["servers"])];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let plan = plan_cis(
            &configs,
            &mappings,
            &[device(5, 1, Some(9), "SRV-1")],
            true,
            &[],
            "NinjaOne",
        );
        assert_eq!(plan.organizations, 1);
        let [planned] = plan.items.as_slice() else {
            panic!("one item: {plan:?}");
        };
        assert_eq!(planned.item.class_name.as_str(), "cmdb_ci_win_server");
        assert_eq!(
            planned.item.internal_id.as_deref(),
            Some("ninjaone-device-5")
        );
        let values: Vec<(&str, &str)> = planned
            .item
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let company = company(1);
        assert_eq!(
            values,
            [
                ("company", company.as_str()),
                ("fqdn", "srv-1.example.test"),
                ("host_name", "SRV-1"),
                ("name", "SRV-1"),
            ]
        );
        assert_eq!(planned.known, None);
    }

    #[test]
    fn only_active_configurations_with_mappings_are_considered() {
        let configs = [
            config(1, SyncStatus::Pending, &["servers"]),
            config(2, SyncStatus::InQueue, &["servers"]),
            config(3, SyncStatus::Inactive, &["servers"]),
            config(4, SyncStatus::Deleted, &["servers"]),
            config(5, SyncStatus::Active, &[]),
            config(6, SyncStatus::Active, &["servers"]),
        ];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let devices: Vec<DetailedDevice> = (1..=7)
            .map(|n| device(n, n, Some(9), &format!("D{n}")))
            .collect();
        let plan = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
        assert_eq!(plan.organizations, 1);
        let sent: Vec<u32> = plan.items.iter().map(|p| p.device.get()).collect();
        assert_eq!(sent, [6]);
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn several_mappings_agree_or_conflict() {
        let configs = [config(1, SyncStatus::Active, &["a", "b", "missing"])];
        let mappings = [
            mapping("a", &[(9, "cmdb_ci_win_server"), (1, "cmdb_ci_computer")]),
            mapping(
                "b",
                &[
                    (9, "cmdb_ci_win_server"),
                    (1, "cmdb_ci_pc_hardware"),
                    (11, "cmdb_ci_linux_server"),
                ],
            ),
        ];
        let devices = [
            device(1, 1, Some(9), "SRV"),
            device(2, 1, Some(1), "WS-A"),
            device(3, 1, Some(1), "WS-B"),
            device(4, 1, Some(11), "LNX"),
            device(5, 1, Some(2), "LAPTOP"),
            device(6, 1, None, "NOROLE"),
        ];
        let plan = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
        let sent: Vec<(u32, &str)> = plan
            .items
            .iter()
            .map(|p| (p.device.get(), p.item.class_name.as_str()))
            .collect();
        assert_eq!(
            sent,
            [(1, "cmdb_ci_win_server"), (4, "cmdb_ci_linux_server")]
        );
        assert_eq!(
            plan.skipped,
            BTreeMap::from([
                (CiSkipReason::NoRole, 1),
                (CiSkipReason::UnmappedRole, 1),
                (CiSkipReason::ConflictingMappings, 2),
            ])
        );
        let [conflict] = plan.conflicts.as_slice() else {
            panic!("one conflict: {:?}", plan.conflicts);
        };
        assert_eq!(
            (conflict.organization, conflict.role, conflict.devices),
            (org(1), role(1), 2)
        );
        let classes: Vec<(&str, &str)> = conflict
            .classes
            .iter()
            .map(|(m, c)| (m.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            classes,
            [("a", "cmdb_ci_computer"), ("b", "cmdb_ci_pc_hardware")]
        );
    }

    #[test]
    fn duplicate_names_are_skipped_not_merged() {
        let configs = [
            config(1, SyncStatus::Active, &["servers"]),
            config(2, SyncStatus::Active, &["servers"]),
        ];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let devices = [
            device(1, 1, Some(9), "SRV-01"),
            device(2, 2, Some(9), "srv-01 "),
            device(3, 2, Some(9), "SRV-02"),
        ];
        let plan = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
        assert_eq!(plan.items.len(), 1);
        assert_eq!(
            plan.skipped,
            BTreeMap::from([(CiSkipReason::DuplicateName, 2)])
        );
    }

    #[test]
    fn unchanged_devices_are_not_sent_and_changes_are() {
        let configs = [config(1, SyncStatus::Active, &["servers"])];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let devices = [device(1, 1, Some(9), "A"), device(2, 1, Some(9), "B")];
        let first = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
        let records: Vec<CiRecord> = first.items.iter().map(record_of).collect();
        let again = plan_cis(&configs, &mappings, &devices, true, &records, "NinjaOne");
        assert!(again.items.is_empty());
        assert_eq!(again.unchanged, 2);

        let renamed = [device(1, 1, Some(9), "A2"), device(2, 1, Some(9), "B")];
        let plan = plan_cis(&configs, &mappings, &renamed, true, &records, "NinjaOne");
        let [changed] = plan.items.as_slice() else {
            panic!("one item: {plan:?}");
        };
        assert_eq!((changed.device.get(), changed.name()), (1, "A2"));
        assert_eq!(changed.known, Some(company(999)));

        let other_source = plan_cis(&configs, &mappings, &devices, true, &records, "SCCM");
        assert_eq!(other_source.items.len(), 2);

        // A record without a sys_id is sent again.
        let mut unknown = records.clone();
        unknown[0].sys_id = None;
        let plan = plan_cis(&configs, &mappings, &devices, true, &unknown, "NinjaOne");
        assert_eq!(plan.items.len(), 1);
    }

    #[test]
    fn records_are_removed_for_gone_devices_and_organizations_only() {
        let configs = [
            config(1, SyncStatus::Active, &["servers"]),
            config(2, SyncStatus::Inactive, &["servers"]),
            config(3, SyncStatus::Deleted, &["servers"]),
        ];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let class: CiClass = "cmdb_ci_win_server".parse().expect("a class");
        let record = |d: u32, o: u32| {
            CiRecord::new(
                DeviceId::new(d).expect("id"),
                org(o),
                class.clone(),
                Some(company(d)),
                "x",
                now(),
            )
        };
        // 1: listed, active; 2: gone; 3: listed, inactive; 4: listed, deleted config;
        // 5: listed, no config; 6: not listed, deleted config.
        let records = [
            record(1, 1),
            record(2, 1),
            record(3, 2),
            record(4, 3),
            record(5, 4),
            record(6, 3),
        ];
        let devices = [
            device(1, 1, Some(9), "A"),
            device(3, 2, Some(9), "C"),
            device(4, 3, Some(9), "D"),
            device(5, 4, Some(9), "E"),
        ];
        let ids = |plan: &CiPlan| plan.remove.iter().map(|d| d.get()).collect::<Vec<_>>();
        let complete = plan_cis(&configs, &mappings, &devices, true, &records, "NinjaOne");
        assert_eq!(ids(&complete), [2, 4, 5, 6]);
        let incomplete = plan_cis(&configs, &mappings, &devices, false, &records, "NinjaOne");
        assert_eq!(ids(&incomplete), [4, 5, 6]);
    }

    #[test]
    fn details_are_sent_in_servicenows_units_and_references_are_left_out() {
        let configs = [config(1, SyncStatus::Active, &["servers"])];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let row = serde_json::json!({
            "id": 5, "organizationId": 1, "nodeClass": "WINDOWS_SERVER", "nodeRoleId": 9,
            "systemName": "SRV-1",
            "system": {"manufacturer": "Dell Inc.", "model": "PowerEdge R650",
                       "serialNumber": "7XK2Q53", "domain": "corp.example"},
            "os": {"name": "Windows Server 2022 Standard", "buildNumber": "20348"},
            "memory": {"capacity": 34_359_738_368_u64},
            "processors": [{"name": "Xeon", "numCores": 16, "clockSpeed": 2_400_000_000_u64}],
            "volumes": [{"capacity": 536_870_912_000_u64}, {"capacity": 536_870_912_000_u64}],
            "ipAddresses": ["10.0.0.5"], "macAddresses": ["00:11:22:33:44:55"],
            "lastLoggedInUser": "CORP\\alice"
        });
        let device: DetailedDevice = serde_json::from_value(row).expect("a device");
        let plan = plan_cis(&configs, &mappings, &[device], true, &[], "NinjaOne");
        let values = &plan.items[0].item.values;
        let get = |k: &str| values.get(k).map(String::as_str);
        assert_eq!(get("serial_number"), Some("7XK2Q53"));
        assert_eq!(get("ram"), Some("32768"), "MB");
        assert_eq!(get("disk_space"), Some("1000"), "GB");
        assert_eq!(get("cpu_speed"), Some("2400"), "MHz");
        assert_eq!(
            (get("cpu_core_count"), get("cpu_count")),
            (Some("16"), Some("1"))
        );
        assert_eq!(get("os_version"), Some("20348"));
        assert_eq!(get("os_domain"), Some("corp.example"));
        assert_eq!(get("model_number"), Some("PowerEdge R650"));
        // References take a sys_id or nothing; addresses belong to other classes.
        for absent in [
            "manufacturer",
            "model_id",
            "assigned_to",
            "ip_address",
            "mac_address",
        ] {
            assert_eq!(get(absent), None, "{absent}");
        }
        let source = plan.items[0].item.source.as_ref().expect("a source key");
        assert_eq!(
            (
                source.source_name.as_str(),
                source.source_native_key.as_str()
            ),
            ("NinjaOne", "5")
        );
    }

    #[test]
    fn dry_runs_are_asked_for_new_devices_and_changed_identities_only() {
        let configs = [config(1, SyncStatus::Active, &["servers"])];
        let mappings = [mapping("servers", &[(9, "cmdb_ci_win_server")])];
        let devices = [device(1, 1, Some(9), "A"), device(2, 1, Some(9), "B")];
        let first = plan_cis(&configs, &mappings, &devices, true, &[], "NinjaOne");
        assert!(first.items.iter().all(|p| p.check), "no CI yet");
        let records: Vec<CiRecord> = first.items.iter().map(record_of).collect();

        // RAM changed: sent, no dry run. Renamed: sent after a dry run.
        let mut more_ram = device(1, 1, Some(9), "A");
        more_ram.details.ram_bytes = Some(8 * 1024 * 1024 * 1024);
        let renamed = device(2, 1, Some(9), "B2");
        let plan = plan_cis(
            &configs,
            &mappings,
            &[more_ram, renamed],
            true,
            &records,
            "NinjaOne",
        );
        let checks: Vec<(u32, bool)> = plan
            .items
            .iter()
            .map(|p| (p.device.get(), p.check))
            .collect();
        assert_eq!(checks, [(1, false), (2, true)]);

        // A held device is skipped while its identity stays, and checked once it changes.
        let mut held = records.clone();
        held[1].sys_id = None;
        held[1].held = Some("would update CI x of company B".to_owned());
        let plan = plan_cis(&configs, &mappings, &devices, true, &held, "NinjaOne");
        assert!(plan.items.is_empty());
        assert_eq!(plan.skipped[&CiSkipReason::HeldBack], 1);
        assert_eq!(plan.held[0].reason, "would update CI x of company B");
        let renamed = [device(1, 1, Some(9), "A"), device(2, 1, Some(9), "B2")];
        let plan = plan_cis(&configs, &mappings, &renamed, true, &held, "NinjaOne");
        assert_eq!(plan.items.len(), 1);
        assert!(plan.items[0].check && plan.held.is_empty());
    }

    #[test]
    fn fingerprints_are_stable_and_field_exact() {
        let item = |values: &[(&str, &str)]| CiItem {
            class_name: "cmdb_ci_computer".parse().expect("a class"),
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            internal_id: None,
            source: None,
        };
        let a = ci_fingerprint("NinjaOne", &item(&[("name", "ab"), ("x", "c")]));
        assert_eq!(
            a,
            ci_fingerprint("NinjaOne", &item(&[("x", "c"), ("name", "ab")]))
        );
        assert_ne!(
            a,
            ci_fingerprint("NinjaOne", &item(&[("name", "a"), ("x", "bc")]))
        );
        // Pinned (computed independently of this code), so a change of the digest, which would
        // send every device again, is deliberate.
        assert_eq!(
            ci_fingerprint("NinjaOne", &item(&[("name", "SRV")])),
            "v1:4e5ab5858aa56649"
        );
    }
}
