//! What both engines share about a pass's outcome: [`ApplyMode`], [`FailureKind`], [`Stop`],
//! [`NextRun`], [`ReportDetail`] and the one-line summary every report prints.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ports::Remote;

/// Whether a pass only plans or also applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyMode {
    /// Take the snapshot and plan; write nothing anywhere.
    DryRun,
    /// Plan and apply.
    Apply,
}

/// What kind of failure an organization had in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// A retry will not fix it; the configuration is inactive with the reason.
    Permanent,
    /// It may pass on retry; the configuration is pending with a backoff.
    Transient,
    /// Too many transient failures in a row; the configuration is inactive (quarantined).
    Quarantined,
    /// The configuration changed during the pass (a person edited it); the next pass takes the
    /// new version.
    Conflict,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Quarantined => "quarantined",
            Self::Conflict => "conflict",
        })
    }
}

/// Why a pass stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "stop")]
#[non_exhaustive]
pub enum Stop {
    /// The integration's own credentials were refused (401 or 403). No further write was
    /// started, and no configuration was failed, counted or quarantined for it: those the pass
    /// had queued stay `in_queue` and are picked up by the next pass. Fix the credentials or
    /// their roles: `message` ends with the one fix that applies (the error's own advice, or
    /// [`Remote::action`] for its kind), and `Display` adds no other.
    Credentials {
        /// Which API (serialised as "NinjaOne" or "ServiceNow").
        api: Remote,
        /// The error and what to do about it, without secrets.
        message: String,
    },
    /// Another incident router holds the lock of this integration id (see
    /// [`ConfigStore::lock_router`](crate::ports::ConfigStore::lock_router)): this pass read
    /// and wrote nothing. Run again once the other pass is done.
    RouterBusy {
        /// The integration id.
        integration_id: String,
    },
}

impl Stop {
    /// A short name: "credentials" or "router_busy".
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Credentials { .. } => "credentials",
            Self::RouterBusy { .. } => "router_busy",
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Credentials { api, message } => write!(
                f,
                "the {api} credentials were refused ({message}); the pass stopped its writes and \
                 changed no status for it"
            ),
            Self::RouterBusy { integration_id } => write!(
                f,
                "another incident router is running for integration {integration_id} on this \
                 state, so this pass did nothing: run again once it is done"
            ),
        }
    }
}

/// When the host should run the next pass. The engine never sleeps: it says when, the host
/// owns the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "next_run", content = "at")]
pub enum NextRun {
    /// Nothing is waiting: run on the host's regular schedule.
    Regular,
    /// Something is waiting (a backoff, a rate limit, a listing to retry): run at or after
    /// this time.
    At(DateTime<Utc>),
}

impl NextRun {
    /// The earlier of two hints.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        match (self, other) {
            (Self::At(a), Self::At(b)) => Self::At(a.min(b)),
            (Self::At(a), Self::Regular) | (Self::Regular, Self::At(a)) => Self::At(a),
            (Self::Regular, Self::Regular) => Self::Regular,
        }
    }

    /// How long from `now` until the next run; `None` for the regular schedule, zero when the
    /// time has passed.
    #[must_use]
    pub fn delay_from(self, now: DateTime<Utc>) -> Option<Duration> {
        match self {
            Self::Regular => None,
            Self::At(at) => Some((at - now).to_std().unwrap_or(Duration::ZERO)),
        }
    }
}

/// How much a pass's report holds. Set with
/// [`EngineOptionsBuilder::report`](super::EngineOptionsBuilder::report) for
/// [`OrganizationSync`](super::OrganizationSync) and the
/// [`IncidentRouter`](super::incidents::IncidentRouter) alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportDetail {
    /// Unchanged organizations (or alerts) are counted, not listed, and the plan is left out:
    /// an idle pass over 2,000 organizations serialises to a few hundred bytes instead of
    /// hundreds of kilobytes. The default.
    #[default]
    Compact,
    /// Every line, unchanged ones included, and (for the organization sync) the plan.
    Full,
}

/// The one-line summary every report prints, in the same words:
/// `subject[ (dry run)]: N what, … [, N other, …], N remote writes[; note][; stopped: …]`,
/// where the `if_any` counts appear only when not zero.
pub(crate) struct SummaryLine<'a> {
    pub(crate) subject: &'a str,
    pub(crate) dry_run: bool,
    pub(crate) always: &'a [(usize, &'a str)],
    pub(crate) if_any: &'a [(usize, &'a str)],
    pub(crate) remote_writes: usize,
    pub(crate) note: Option<&'a str>,
    pub(crate) stop: Option<&'a Stop>,
}

impl fmt::Display for SummaryLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.subject)?;
        if self.dry_run {
            f.write_str(" (dry run)")?;
        }
        f.write_str(":")?;
        let counts = self
            .always
            .iter()
            .chain(self.if_any.iter().filter(|(n, _)| *n > 0));
        for (i, (count, what)) in counts.enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{} {what}", Thousands(*count))?;
        }
        let sep = if self.always.is_empty() { " " } else { ", " };
        write!(f, "{sep}{} remote writes", Thousands(self.remote_writes))?;
        if let Some(note) = self.note {
            write!(f, "; {note}")?;
        }
        if let Some(stop) = self.stop {
            write!(f, "; stopped: {}", stop.label())?;
        }
        Ok(())
    }
}

/// A count with thousands separators: `2,000`.
pub(crate) struct Thousands(pub(crate) usize);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        f.write_str(&out)
    }
}
