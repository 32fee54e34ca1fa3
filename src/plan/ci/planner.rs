//! [`plan_cis`]: which devices go to the CMDB, as which class, and which records go.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::payload::{ci_fingerprint, ci_identity, ci_internal_id, values};
use super::types::{CiHeld, CiMappingConflict, CiPlan, CiSkipReason, PlannedCi};
use crate::model::{
    CiClass, CiItem, CiMapping, CiMappingName, CiRecord, CiSourceInfo, DetailedDevice, Device,
    DeviceId, DeviceRoleId, OrganizationId, SyncConfig, SyncStatus, SysId, normalize_name,
};

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
/// reference"), where the device's details ([`DeviceDetails`](crate::model::DeviceDetails)) know them:
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
