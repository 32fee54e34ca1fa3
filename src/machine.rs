//! The status machine: which [`SyncEvent`] moves a [`SyncStatus`] where.
//!
//! | event \ from | Pending | InQueue | Active | Inactive | Deleted |
//! | --- | --- | --- | --- | --- | --- |
//! | Enqueue | InQueue | InQueue | — | — | — |
//! | Succeeded | — | Active | — | — | — |
//! | FailedTransient | — | Pending (+attempt) | — | — | — |
//! | FailedPermanent | — | Inactive (+reason) | Inactive (+reason) | — | — |
//! | Changed | Pending | Pending | Pending | Inactive | refused |
//! | Deactivate | Inactive | Inactive | Inactive | Inactive | refused |
//! | Activate | Pending | InQueue | Active | Pending | refused |
//! | Delete | Deleted | Deleted | Deleted | Deleted | Deleted |
//! | Restore | refused | refused | refused | refused | Pending |
//!
//! "—" is a refusal too. [`transition`] is pure and an exhaustive `match` without a `_` arm, so a
//! new status or event does not compile until every pair is decided. [`SyncConfig::apply`] runs
//! the transition on a configuration and applies its side effects (attempt count, reason), and
//! replaces the status only after a successful transition.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{SyncConfig, SyncStatus};

/// Something that happens to a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncEvent {
    /// A pass picks the configuration up (or re-picks one a crash left in queue).
    Enqueue,
    /// The pass finished the configuration's work.
    Succeeded,
    /// The work failed in a way that may pass on retry (429, 5xx, timeout).
    FailedTransient,
    /// The work failed in a way a retry will not fix (company gone, ambiguous name, invalid
    /// reference).
    FailedPermanent,
    /// A person edited the configuration.
    Changed,
    /// A person paused the configuration, or the engine quarantined it.
    Deactivate,
    /// A person resumed the configuration.
    Activate,
    /// A person deleted the configuration, or its organization is gone.
    Delete,
    /// A person restored a deleted configuration.
    Restore,
}

impl SyncEvent {
    /// Every event, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::Enqueue,
        Self::Succeeded,
        Self::FailedTransient,
        Self::FailedPermanent,
        Self::Changed,
        Self::Deactivate,
        Self::Activate,
        Self::Delete,
        Self::Restore,
    ];

    /// The event's name in lowercase words, as used in messages.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Enqueue => "enqueue",
            Self::Succeeded => "succeeded",
            Self::FailedTransient => "failed (transient)",
            Self::FailedPermanent => "failed (permanent)",
            Self::Changed => "changed",
            Self::Deactivate => "deactivate",
            Self::Activate => "activate",
            Self::Delete => "delete",
            Self::Restore => "restore",
        }
    }
}

impl fmt::Display for SyncEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A refused transition: the event does not apply to the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a configuration in status \"{status}\" cannot take the event \"{event}\"")]
pub struct TransitionError {
    /// The status the configuration was in.
    pub status: SyncStatus,
    /// The refused event.
    pub event: SyncEvent,
}

/// The status `event` leads to from `from`, or a refusal naming both.
///
/// # Errors
/// [`TransitionError`] where the table in the [module docs](self) says "—" or "refused".
///
/// ```
/// use ninjaone_servicenow::machine::{SyncEvent, transition};
/// use ninjaone_servicenow::model::SyncStatus;
/// assert_eq!(transition(SyncStatus::Pending, SyncEvent::Enqueue)?, SyncStatus::InQueue);
/// let refused = transition(SyncStatus::Deleted, SyncEvent::Changed).unwrap_err();
/// assert_eq!(
///     refused.to_string(),
///     "a configuration in status \"deleted\" cannot take the event \"changed\""
/// );
/// # Ok::<(), ninjaone_servicenow::machine::TransitionError>(())
/// ```
// Arms follow the table event by event; merging equal outcomes across events would hide it.
#[allow(clippy::match_same_arms)]
pub const fn transition(from: SyncStatus, event: SyncEvent) -> Result<SyncStatus, TransitionError> {
    use SyncEvent as E;
    use SyncStatus as S;
    let to = match (from, event) {
        (S::Pending | S::InQueue, E::Enqueue) => Some(S::InQueue),
        (S::Active | S::Inactive | S::Deleted, E::Enqueue) => None,

        (S::InQueue, E::Succeeded) => Some(S::Active),
        (S::Pending | S::Active | S::Inactive | S::Deleted, E::Succeeded) => None,

        (S::InQueue, E::FailedTransient) => Some(S::Pending),
        (S::Pending | S::Active | S::Inactive | S::Deleted, E::FailedTransient) => None,

        (S::InQueue | S::Active, E::FailedPermanent) => Some(S::Inactive),
        (S::Pending | S::Inactive | S::Deleted, E::FailedPermanent) => None,

        (S::Pending | S::InQueue | S::Active, E::Changed) => Some(S::Pending),
        (S::Inactive, E::Changed) => Some(S::Inactive),
        (S::Deleted, E::Changed) => None,

        (S::Pending | S::InQueue | S::Active | S::Inactive, E::Deactivate) => Some(S::Inactive),
        (S::Deleted, E::Deactivate) => None,

        (S::Pending | S::Inactive, E::Activate) => Some(S::Pending),
        (S::InQueue, E::Activate) => Some(S::InQueue),
        (S::Active, E::Activate) => Some(S::Active),
        (S::Deleted, E::Activate) => None,

        (S::Pending | S::InQueue | S::Active | S::Inactive | S::Deleted, E::Delete) => {
            Some(S::Deleted)
        }

        (S::Deleted, E::Restore) => Some(S::Pending),
        (S::Pending | S::InQueue | S::Active | S::Inactive, E::Restore) => None,
    };
    match to {
        Some(to) => Ok(to),
        None => Err(TransitionError {
            status: from,
            event,
        }),
    }
}

/// A transition that happened: from, event, to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The status before.
    pub from: SyncStatus,
    /// The event.
    pub event: SyncEvent,
    /// The status after.
    pub to: SyncStatus,
}

impl SyncConfig {
    /// Applies `event` to the configuration at `now`, with an optional note (the reason for
    /// `FailedPermanent`, `Deactivate` and `Delete`; the error for `FailedTransient`).
    ///
    /// Side effects, applied only when the transition is allowed:
    /// - `Succeeded`: attempts, last error, next attempt time and reason are cleared;
    /// - `FailedTransient`: one more attempt, the note becomes the last error (the engine sets
    ///   the next attempt time from its backoff policy);
    /// - `FailedPermanent`, `Deactivate`, `Delete`: the note becomes the reason (and, for a
    ///   failure, the last error);
    /// - `Changed`: a pending result resets attempts and backoff; an inactive config keeps its
    ///   reason until a person resumes it;
    /// - `Activate` and `Restore`: reason, attempts and backoff are cleared.
    ///
    /// # Errors
    /// [`TransitionError`] when the event does not apply; the configuration is then unchanged.
    ///
    /// ```
    /// use chrono::Utc;
    /// use ninjaone_servicenow::machine::SyncEvent;
    /// use ninjaone_servicenow::model::{OrganizationId, SyncConfig, SyncStatus};
    /// let mut config = SyncConfig::new(OrganizationId::new(2)?, None, Utc::now());
    /// config.apply(SyncEvent::Enqueue, None, Utc::now())?;
    /// config.apply(SyncEvent::FailedPermanent, Some("company was deleted"), Utc::now())?;
    /// assert_eq!(config.status(), SyncStatus::Inactive);
    /// assert_eq!(config.status_reason(), Some("company was deleted"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(
        &mut self,
        event: SyncEvent,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Transition, TransitionError> {
        let from = self.status;
        let to = transition(from, event)?;
        let note = note.map(str::to_owned);
        match event {
            SyncEvent::Enqueue => {}
            SyncEvent::Succeeded => {
                self.attempts = 0;
                self.last_error = None;
                self.next_attempt_at = None;
                self.status_reason = None;
            }
            SyncEvent::FailedTransient => {
                self.attempts = self.attempts.saturating_add(1);
                self.last_error = note;
            }
            SyncEvent::FailedPermanent => {
                self.last_error.clone_from(&note);
                self.status_reason = note;
                self.next_attempt_at = None;
            }
            SyncEvent::Deactivate | SyncEvent::Delete => {
                self.status_reason = note;
                self.next_attempt_at = None;
            }
            SyncEvent::Changed => {
                if to == SyncStatus::Pending {
                    self.attempts = 0;
                    self.next_attempt_at = None;
                }
            }
            SyncEvent::Activate | SyncEvent::Restore => {
                self.status_reason = None;
                self.attempts = 0;
                self.next_attempt_at = None;
            }
        }
        self.status = to;
        self.updated_at = now;
        Ok(Transition { from, event, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DESIGN.md table, row by row, as data: `None` is a refusal.
    const TABLE: [(SyncEvent, [Option<SyncStatus>; 5]); 9] = {
        use SyncStatus::{Active as A, Deleted as D, InQueue as Q, Inactive as I, Pending as P};
        [
            (SyncEvent::Enqueue, [Some(Q), Some(Q), None, None, None]),
            (SyncEvent::Succeeded, [None, Some(A), None, None, None]),
            (
                SyncEvent::FailedTransient,
                [None, Some(P), None, None, None],
            ),
            (
                SyncEvent::FailedPermanent,
                [None, Some(I), Some(I), None, None],
            ),
            (
                SyncEvent::Changed,
                [Some(P), Some(P), Some(P), Some(I), None],
            ),
            (
                SyncEvent::Deactivate,
                [Some(I), Some(I), Some(I), Some(I), None],
            ),
            (
                SyncEvent::Activate,
                [Some(P), Some(Q), Some(A), Some(P), None],
            ),
            (
                SyncEvent::Delete,
                [Some(D), Some(D), Some(D), Some(D), Some(D)],
            ),
            (SyncEvent::Restore, [None, None, None, None, Some(P)]),
        ]
    };

    #[test]
    fn every_pair_matches_the_design_table() {
        for (event, row) in TABLE {
            for (from, expected) in SyncStatus::ALL.into_iter().zip(row) {
                match (transition(from, event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from} + {event}"),
                    (Err(e), None) => {
                        assert_eq!((e.status, e.event), (from, event));
                    }
                    (got, want) => panic!("{from} + {event}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn a_refused_event_leaves_the_config_unchanged() {
        let now = Utc::now();
        let mut config = SyncConfig::new(crate::model::OrganizationId::new(1).unwrap(), None, now);
        let before = config.clone();
        let err = config.apply(SyncEvent::Succeeded, None, now).unwrap_err();
        assert_eq!(err.status, SyncStatus::Pending);
        assert_eq!(config, before);
    }

    #[test]
    fn failures_count_attempts_and_success_clears_them() {
        let now = Utc::now();
        let mut c = SyncConfig::new(crate::model::OrganizationId::new(1).unwrap(), None, now);
        for n in 1..=3 {
            c.apply(SyncEvent::Enqueue, None, now).unwrap();
            c.apply(SyncEvent::FailedTransient, Some("503"), now)
                .unwrap();
            assert_eq!(c.attempts(), n);
            assert_eq!(c.last_error(), Some("503"));
        }
        c.apply(SyncEvent::Enqueue, None, now).unwrap();
        c.apply(SyncEvent::Succeeded, None, now).unwrap();
        assert_eq!(
            (c.attempts(), c.last_error(), c.status()),
            (0, None, SyncStatus::Active)
        );
    }

    #[test]
    fn an_inactive_config_keeps_its_reason_through_edits() {
        let now = Utc::now();
        let mut c = SyncConfig::new(crate::model::OrganizationId::new(1).unwrap(), None, now);
        c.apply(SyncEvent::Deactivate, Some("paused by alice"), now)
            .unwrap();
        c.apply(SyncEvent::Changed, None, now).unwrap();
        assert_eq!(c.status(), SyncStatus::Inactive);
        assert_eq!(c.status_reason(), Some("paused by alice"));
        c.apply(SyncEvent::Activate, None, now).unwrap();
        assert_eq!((c.status(), c.status_reason()), (SyncStatus::Pending, None));
    }
}
