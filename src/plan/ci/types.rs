//! The CI plan's types: the CMDB settings and what [`plan_cis`](super::plan_cis) decides for each
//! device (sent, held back, skipped, in conflict).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{CiClass, CiItem, CiMappingName, DeviceId, DeviceRoleId, OrganizationId, SysId};

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
    /// Its digest ([`ci_fingerprint`](super::ci_fingerprint)).
    pub fingerprint: String,
    /// The CI sys_id recorded for the device, when any (the device was sent before and changed).
    pub known: Option<SysId>,
    /// The digest of what identifies the device ([`ci_identity`](super::ci_identity)).
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

/// What [`plan_cis`](super::plan_cis) decided.
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
