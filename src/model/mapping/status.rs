//! The status and kind types ([`SyncStatus`], [`IntegrationMode`], [`TicketKind`]) and their parse errors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::ids::quote_prefix;

/// The sync status of one organization's configuration.
///
/// Changes only through [`SyncConfig::apply`](super::SyncConfig::apply), which follows the table in
/// [`machine`](crate::machine).
///
/// A store keeping it in a text column writes [`as_str`](Self::as_str) — the serde names
/// `pending`, `in_queue`, `active`, `inactive`, `deleted` — not [`label`](Self::label) (which
/// says "in queue"), and reads them back with [`FromStr`](std::str::FromStr):
///
/// ```
/// use ninjaone_servicenow::model::SyncStatus;
/// assert_eq!(SyncStatus::InQueue.as_str(), "in_queue");
/// assert_eq!("in_queue".parse::<SyncStatus>(), Ok(SyncStatus::InQueue));
/// assert!("in queue".parse::<SyncStatus>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncStatus {
    /// Waiting to be picked up by the next pass.
    Pending,
    /// Picked up by a pass that has not finished with it.
    InQueue,
    /// Synced.
    Active,
    /// Paused by a person, quarantined, or failed permanently; the reason is on the config.
    Inactive,
    /// Deleted by a person or because the organization is gone; kept as a tombstone.
    Deleted,
}

impl SyncStatus {
    /// Every status, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::InQueue,
        Self::Active,
        Self::Inactive,
        Self::Deleted,
    ];

    /// The stored name, as serde writes it: "pending", "in_queue", "active", "inactive",
    /// "deleted" (what [`FromStr`](std::str::FromStr) reads).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InQueue => "in_queue",
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Deleted => "deleted",
        }
    }

    /// The status as shown to people: "pending", "in queue", "active", "inactive", "deleted".
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InQueue => "in queue",
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Deleted => "deleted",
        }
    }
}

impl fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The integration's mode (the app's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrationMode {
    /// Every NinjaOne organization is synced automatically; manual add is refused.
    Active,
    /// Only organizations added by hand are synced.
    Inactive,
    /// Nothing is synced and no remote writes are made. The mode of a new store.
    #[default]
    Disabled,
}

impl IntegrationMode {
    /// The mode's name: "active", "inactive" or "disabled".
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for IntegrationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an organization's alerts become in ServiceNow.
///
/// Cases need a mapped customer account and Customer Service Management installed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TicketKind {
    /// Incidents (`incident`), the default.
    #[default]
    Incident,
    /// Customer Service Management cases (`sn_customerservice_case`).
    Case,
}

impl TicketKind {
    /// The kind's name: "incident" or "case".
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Case => "case",
        }
    }

    /// The ServiceNow table: `incident` or `sn_customerservice_case`.
    #[must_use]
    pub const fn table(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Case => "sn_customerservice_case",
        }
    }
}

impl fmt::Display for TicketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`TicketKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ticket kind {0:?}: expected incidents or cases")]
pub struct UnknownTicketKind(String);

impl FromStr for TicketKind {
    type Err = UnknownTicketKind;

    /// Accepts "incident", "incidents", "case" and "cases", in any case.
    fn from_str(s: &str) -> Result<Self, UnknownTicketKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "incident" | "incidents" => Ok(Self::Incident),
            "case" | "cases" => Ok(Self::Case),
            _ => Err(UnknownTicketKind(quote_prefix(s))),
        }
    }
}

/// A string that is not a stored [`SyncStatus`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown sync status {0:?}: expected pending, in_queue, active, inactive or deleted (the \
     names SyncStatus::as_str writes)"
)]
pub struct UnknownStatus(String);

impl FromStr for SyncStatus {
    type Err = UnknownStatus;

    /// Reads a stored name ([`SyncStatus::as_str`]), exactly: a store that finds anything else
    /// has a corrupt row.
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(quote_prefix(s)))
    }
}

/// A string that is not an [`IntegrationMode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown integration mode {0:?}: expected active, inactive or disabled")]
pub struct UnknownMode(String);

impl FromStr for IntegrationMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, UnknownMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "inactive" => Ok(Self::Inactive),
            "disabled" => Ok(Self::Disabled),
            _ => Err(UnknownMode(quote_prefix(s))),
        }
    }
}
