//! What the CMDB step reports: [`CiReport`] and its lines.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::outcome::FailureKind;
use crate::model::{CiClass, DeviceId, OrganizationId, SysId};
use crate::plan::{CiHeld, CiMappingConflict, CiSkipReason, PlannedCi};

/// What the CMDB step of a pass did.
///
/// After the configurations are done, a pass (apply or dry run, in active and inactive mode)
/// pushes the devices of **active** configurations that name a CI mapping into the CMDB through
/// the Identification and Reconciliation API, and keeps a device → CI record
/// ([`CiRecord`](crate::model::CiRecord)) with the CI's sys_id, which the incident router uses
/// for `cmdb_ci`. The report is in [`Report::ci`](crate::engine::Report::ci) when some active configuration names a CI
/// mapping, and `None` otherwise (then devices are not even listed). A pass stopped by refused
/// credentials before this step skips it.
///
/// What is sent, skipped or removed is decided by [`plan_cis`] (pure; its documentation gives
/// every rule). Then:
///
/// 1. the tenant's devices are listed once with their details, page by page
///    ([`NinjaOneApi::devices_detailed`], `GET /v2/devices-detailed`) — never per organization
///    or per device;
/// 2. the devices that need it ([`PlannedCi::check`]: no CI yet, or a changed name, serial
///    number or class) go through the Identification and Reconciliation **dry run**
///    ([`ServiceNowApi::identify_reconcile_query`]) in batches of [`CmdbSettings::batch_size`];
///    a steady pass makes none;
/// 3. an item the dry run says would update a CI that is not already the device's is checked:
///    the companies of all such CIs are read in **one** query by validated sys_ids
///    ([`ServiceNowApi::ci_owners`], up to 100 per query). A CI of another company, a CI
///    without a company (it may be any customer's), one recorded for another device, one the
///    dry run of another device of the pass names too, or another CI than the one recorded for
///    the device is **not written**: the device is held back ([`held`](Self::held), counted as
///    [`CiSkipReason::HeldBack`]) with a reason naming the CI and the companies, and is not
///    checked again until its name, serial number or company changes (or a host removes its
///    record with [`ConfigStore::write_ci_records`]). Only a CI of the device's own company is
///    adopted;
/// 4. what may be written is sent in batches of [`CmdbSettings::batch_size`], one request after
///    the other, with [`CmdbSettings::data_source`]: `ceil(items / batch)` writes;
/// 5. each item's answer is read on its own: `INSERT`/`UPDATE`/`NO_CHANGE` record the CI's
///    sys_id and the digests; `INSERT_AS_PARTIAL` records no sys_id and says so
///    ([`partial`](Self::partial)); item errors (also those ServiceNow sends with HTTP 400) are
///    reported per device ([`failed`](Self::failed)) and the record is left as it was, so the
///    next pass sends the device again; an update of another CI than the recorded one (or the
///    one the dry run named, or of any CI when the dry run said insert) is reported
///    ([`diverged`](Self::diverged)), the record is not re-pointed and the device is held back
///    like one the guard stopped (the write may have moved that CI to its company);
/// 6. the records are written in one store write at the end.
///
/// # Guarantees
/// - No write is sent for a device whose dry run named another company's CI, a CI without a
///   company, a CI recorded for another device or named by another device's dry run too, or a
///   CI other than its recorded one; nor for devices of the pass sharing a name or a serial
///   number.
/// - An unchanged pass sends nothing to the Identification and Reconciliation API.
/// - A device's record never silently changes to another CI.
///
/// A request that fails leaves its devices for the next pass ([`failed_batches`]); after a rate
/// limit the remaining requests wait for the next pass too ([`deferred`]), and the pass's
/// [`NextRun`](crate::engine::NextRun) honours the server's `Retry-After`. Refused credentials stop the step
/// ([`Stop::Credentials`]). A [`ServiceNowApi`] implementation without the dry run (the default
/// body) fails the dry-run requests, so devices that need one are not sent (they are reported
/// in [`failed_batches`]). Sending again is safe: the API identifies before it inserts (the
/// source key first), so a batch whose answer was lost (or a pass that crashed before
/// recording) is answered `NO_CHANGE` or `UPDATE` the next time, not inserted twice.
///
/// A dry run lists the devices and reads the records, runs the read-only checks of steps 2 and
/// 3 (identification dry runs, owner queries) for the devices that need them, then reports what
/// it would send ([`planned`](Self::planned)), hold ([`held`](Self::held)) and remove, and
/// writes nothing. It takes the configurations as they are stored: one the plan would activate
/// is pushed by the pass that activates it.
///
/// [`plan_cis`]: crate::plan::plan_cis
/// [`CmdbSettings::batch_size`]: crate::plan::CmdbSettings::batch_size
/// [`CmdbSettings::data_source`]: crate::plan::CmdbSettings::data_source
/// [`NinjaOneApi::devices_detailed`]: crate::ports::NinjaOneApi::devices_detailed
/// [`ServiceNowApi`]: crate::ports::ServiceNowApi
/// [`ServiceNowApi::identify_reconcile_query`]: crate::ports::ServiceNowApi::identify_reconcile_query
/// [`ServiceNowApi::ci_owners`]: crate::ports::ServiceNowApi::ci_owners
/// [`ConfigStore::write_ci_records`]: crate::ports::ConfigStore::write_ci_records
/// [`PlannedCi::check`]: crate::plan::PlannedCi::check
/// [`failed_batches`]: Self::failed_batches
/// [`deferred`]: Self::deferred
/// [`Stop::Credentials`]: crate::engine::Stop::Credentials
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiReport {
    /// The data source the items were (or would be) sent with.
    pub data_source: String,
    /// Why devices were not pushed, or not all of them, when so: the device listing failed or
    /// came back incomplete, the data source is blank, or the store keeps no CI records.
    pub problem: Option<String>,
    /// Devices in the tenant's listing.
    pub devices_listed: usize,
    /// Organizations whose devices were considered (active, with CI mappings).
    pub organizations: usize,
    /// Devices that needed sending (new or changed), before the guard's checks: those it holds
    /// are counted here too (and listed in `held`), in a dry run as in an apply.
    pub to_send: usize,
    /// Items sent (in batches that got an answer).
    pub sent: usize,
    /// Items the API inserted as new CIs.
    pub inserted: usize,
    /// Items the API updated (an operation this crate does not know, with a sys_id, counts here).
    pub updated: usize,
    /// Items sent that the API found unchanged (`NO_CHANGE`).
    pub no_change: usize,
    /// Devices not sent because their record has the same values.
    pub unchanged: usize,
    /// Devices not sent, by reason.
    pub skipped: BTreeMap<CiSkipReason, usize>,
    /// CI mappings of one organization that map a role to different classes.
    pub conflicts: Vec<CiMappingConflict>,
    /// Devices the API answered with errors (sent again by the next pass).
    pub failed: Vec<CiFailure>,
    /// Write requests made (`POST /api/now/identifyreconcile`).
    pub batches: usize,
    /// Requests that failed as a whole (their devices are sent again by the next pass).
    pub failed_batches: Vec<CiBatchFailure>,
    /// Devices left for the next pass without being sent (after a rate limit or a refused
    /// credential).
    pub deferred: usize,
    /// Device → CI records removed (devices gone, organizations deleted).
    pub removed: usize,
    /// A dry run: the devices that would be sent (after the guard's read-only checks: a device
    /// it would hold is in `held` instead). Empty when the pass applies.
    pub planned: Vec<CiPlannedLine>,
    /// Identification dry runs made (`POST /api/now/identifyreconcile/query`), one per batch of
    /// devices that needed one (no CI yet, or a changed name, serial number or company).
    pub dry_runs: usize,
    /// Devices checked by a dry run.
    pub checked: usize,
    /// Queries of the companies of CIs a dry run named (one per 100 CIs).
    pub owner_queries: usize,
    /// Devices held back, with the reason: their first write would update a CI that is not
    /// theirs (another company's, one without a company, one recorded for another device or
    /// named by another device's dry run too). Counted in `skipped` as `held_back`; not sent
    /// again until their name, serial number or company changes.
    pub held: Vec<CiHeld>,
    /// Devices the API inserted as partial payloads (not enough identifying values): no CI was
    /// written and none is recorded.
    pub partial: Vec<CiPartial>,
    /// Devices whose write updated another CI than the one recorded for them (or named by
    /// their dry run, or any CI when their dry run said insert): reported, the record is not
    /// re-pointed, and the device is held back from the next passes (listed in their `held`).
    pub diverged: Vec<CiDiverged>,
}

impl CiReport {
    pub(super) fn new(data_source: &str) -> Self {
        Self {
            data_source: data_source.to_owned(),
            ..Self::default()
        }
    }

    /// Devices skipped, whatever the reason.
    #[must_use]
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// A device the API answered with errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiFailure {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name as sent.
    pub name: String,
    /// The class it was sent as.
    pub class: CiClass,
    /// The API's errors (`KIND: message; ...`), or what was wrong with its answer.
    pub message: String,
}

/// A device the API answered `INSERT_AS_PARTIAL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiPartial {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name as sent.
    pub name: String,
    /// The partial payloads ServiceNow kept (`partialSysIds`).
    pub partial_sys_ids: Vec<SysId>,
    /// What happened, with ServiceNow's warnings.
    pub message: String,
}

/// A device whose write updated another CI than the expected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiDiverged {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name as sent.
    pub name: String,
    /// The CI recorded for the device, or named by its dry run; `None` when its dry run said
    /// the write would insert a new CI.
    pub expected: Option<SysId>,
    /// The CI the write answered with.
    pub answered: SysId,
    /// What happened and what to do.
    pub message: String,
}

/// A request that failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiBatchFailure {
    /// Transient (rate limit, 5xx, timeout, an unreadable answer) or permanent.
    pub kind: FailureKind,
    /// The devices of the batch.
    pub devices: Vec<DeviceId>,
    /// The error.
    pub message: String,
}

/// A device a dry run would send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CiPlannedLine {
    /// The device.
    pub device: DeviceId,
    /// Its organization.
    pub organization: OrganizationId,
    /// Its name.
    pub name: String,
    /// The class it would be sent as.
    pub class: CiClass,
    /// The CI it is recorded as, when it was sent before (changed since).
    pub known: Option<SysId>,
}

impl From<&PlannedCi> for CiPlannedLine {
    fn from(p: &PlannedCi) -> Self {
        Self {
            device: p.device,
            organization: p.organization,
            name: p.name().to_owned(),
            class: p.item.class_name.clone(),
            known: p.known.clone(),
        }
    }
}
