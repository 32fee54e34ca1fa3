//! What the engine remembers between passes about the records it wrote in ServiceNow: which
//! ticket each alert became ([`TicketRecord`]) and which configuration item each device is
//! ([`CiRecord`]).
//!
//! Stores keep them by key — the alert's uid and the device's id — and treat the rest as data,
//! so a database may keep each record as one JSON document.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{AlertUid, DeviceId, OrganizationId, SysId};
use super::mapping::TicketKind;
use super::servicenow::{CiClass, CorrelationId};

/// Where a [`TicketRecord`]'s ticket stands, as far as this integration knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TicketRecordState {
    /// A create was sent and its outcome is not known yet (no sys_id): the next pass looks the
    /// ticket up by correlation id before it creates anything.
    Creating,
    /// The ticket exists and is open.
    Open,
    /// This integration resolved the ticket because the alert cleared.
    Resolved,
    /// A person (or another process) finished the ticket while the alert was still open; it is
    /// neither reopened nor created again.
    FinishedElsewhere,
}

/// The ticket (incident or case) one alert became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TicketRecord {
    /// The alert.
    pub alert: AlertUid,
    /// The alert's organization when the ticket was created.
    pub organization: OrganizationId,
    /// Incident or case.
    pub kind: TicketKind,
    /// The correlation id the ticket carries.
    pub correlation_id: CorrelationId,
    /// The ticket's sys_id, once known.
    #[serde(default)]
    pub ticket: Option<SysId>,
    /// The ticket's number (`INC0010001`, `CS0001001`), once known.
    #[serde(default)]
    pub number: Option<String>,
    /// Where it stands.
    pub state: TicketRecordState,
    /// When the record was first written.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// The digest of the alert's message and `updateTime` as last written to the ticket
    /// (created, adopted or noted; see
    /// [`plan::alert_digest`](crate::plan::alert_digest)): a different digest on the open
    /// alert is a re-trigger, worth one work note. `None` on records written before this was
    /// kept; the next pass that sees the ticket open fills it in without a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_digest: Option<String>,
}

impl TicketRecord {
    /// A record of a create about to be sent (state [`TicketRecordState::Creating`]).
    #[must_use]
    pub fn creating(
        alert: AlertUid,
        organization: OrganizationId,
        kind: TicketKind,
        correlation_id: CorrelationId,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            alert,
            organization,
            kind,
            correlation_id,
            ticket: None,
            number: None,
            state: TicketRecordState::Creating,
            created_at: now,
            updated_at: now,
            alert_digest: None,
        }
    }
}

/// The configuration item one device is in the CMDB, and what was last sent for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiRecord {
    /// The device.
    pub device: DeviceId,
    /// The device's organization.
    pub organization: OrganizationId,
    /// The CMDB class it was sent as.
    pub class: CiClass,
    /// The CI's sys_id, as the Identification and Reconciliation API reported it.
    #[serde(default)]
    pub sys_id: Option<SysId>,
    /// A digest of the values last sent; a device whose values have the same digest is not sent
    /// again.
    pub fingerprint: String,
    /// When the device was last sent.
    pub updated_at: DateTime<Utc>,
    /// A digest of what identifies the device to the CMDB (class, source key, serial number,
    /// name) when it was last checked; when it changes, the next write is preceded by a dry run.
    /// `None` in records written before this was kept (the next pass checks them once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Why the device is held back: its first write would have updated a CI of another company
    /// (the reason names both companies and the CI). Not sent again until its identity changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The last write was answered `INSERT_AS_PARTIAL`: no CI was written, so there is no sys_id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl CiRecord {
    /// A record of `device` sent as `class` with values whose digest is `fingerprint`.
    #[must_use]
    pub fn new(
        device: DeviceId,
        organization: OrganizationId,
        class: CiClass,
        sys_id: Option<SysId>,
        fingerprint: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            device,
            organization,
            class,
            sys_id,
            fingerprint: fingerprint.into(),
            updated_at: now,
            identity: None,
            held: None,
            partial: false,
        }
    }

    /// The same record, with the identity digest it was checked with.
    #[must_use]
    pub fn with_identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }
}
