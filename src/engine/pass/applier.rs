//! The state of applying one plan: the [`Applier`], the [`Job`]s it creates companies for and
//! the [`Change`]s it writes.

use std::collections::HashMap;

use crate::engine::OrganizationSync;
use crate::engine::outcome::{NextRun, Stop};
use crate::engine::report::OrganizationOutcome;
use crate::model::{AuditEntry, OrganizationId, SyncConfig};

/// A company to create for one configuration.
pub(super) struct Job {
    pub(super) organization: OrganizationId,
    pub(super) organization_name: Option<String>,
    pub(super) name: String,
    /// The configuration before the pass (`None`: new), for the audit log.
    pub(super) before: Option<SyncConfig>,
    /// The configuration as stored `in_queue`.
    pub(super) queued: SyncConfig,
}

/// The state of one pass while it applies its plan.
pub(super) struct Applier<'a> {
    pub(super) sync: &'a OrganizationSync,
    pub(super) configs: HashMap<OrganizationId, SyncConfig>,
    pub(super) outcomes: Vec<OrganizationOutcome>,
    pub(super) next_run: NextRun,
    pub(super) remote_writes: usize,
    pub(super) stop: Option<Stop>,
}

/// A configuration change and its audit entries, to be written together.
pub(super) struct Change {
    pub(super) config: SyncConfig,
    pub(super) audit: Vec<AuditEntry>,
}
