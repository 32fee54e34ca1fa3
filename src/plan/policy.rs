//! The knobs of the plan: what to do with unmatched organizations, the deletion guard, the
//! CMDB settings; and the retry policy's type (the engines hold the retry policy itself).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ci::CmdbSettings;

/// What active mode does with an organization whose name matches no ServiceNow company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPolicy {
    /// Create a company with the organization's name, as a customer (the default).
    #[default]
    CreateCompany,
    /// Create nothing: the configuration is saved inactive, with a reason, for a person to map.
    LeaveUnmapped,
}

/// Retries between passes: exponential backoff and quarantine.
///
/// The `n`-th transient failure in a row waits `initial × 2^(n-1)`, capped at `max`, or longer
/// when the server asked for longer (a server's wait is believed up to `max_server_wait`); after
/// `quarantine_after` failures in a row the configuration is deactivated with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The wait after the first failure (default 1 minute).
    pub(crate) initial: Duration,
    /// The longest wait (default 1 hour).
    pub(crate) max: Duration,
    /// Failures in a row before quarantine (default 5; at least 1).
    pub(crate) quarantine_after: u32,
    /// The longest wait a server's `Retry-After` may impose (default 24 hours), so a buggy
    /// header cannot park a configuration for years.
    pub(crate) max_server_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            quarantine_after: 5,
            max_server_wait: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` transient failures in a row (at least
    /// 1), honouring the server's `retry_after` when it asked for longer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ninjaone_servicenow::plan::RetryPolicy;
    /// let retry = RetryPolicy::default();
    /// assert_eq!(retry.backoff(1, None), Duration::from_secs(60));
    /// assert_eq!(retry.backoff(3, None), Duration::from_secs(240));
    /// assert_eq!(retry.backoff(30, None), Duration::from_secs(3600));
    /// assert_eq!(retry.backoff(1, Some(Duration::from_secs(600))), Duration::from_secs(600));
    /// assert_eq!(retry.backoff(1, Some(Duration::MAX)), retry.max_server_wait());
    /// ```
    #[must_use]
    pub fn backoff(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        let wait = self
            .initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max);
        retry_after.map_or(wait, |server| wait.max(self.server_wait(server)))
    }

    /// A server's requested wait, capped at [`max_server_wait`](Self::max_server_wait()).
    #[must_use]
    pub fn server_wait(&self, requested: Duration) -> Duration {
        requested.min(self.max_server_wait)
    }
}

/// The deletion guard: a pass that would tombstone or deactivate more configurations than
/// [`limit`](Self::limit) holds all of those changes until a person approves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletionGuard {
    /// The limit is never below this (default 10).
    pub(crate) floor: usize,
    /// The limit is this percentage of the live configurations, rounded up (default 10).
    pub(crate) percent: usize,
    /// The limit is never above this (default 500).
    pub(crate) ceiling: usize,
}

impl Default for DeletionGuard {
    fn default() -> Self {
        Self {
            floor: 10,
            percent: 10,
            ceiling: 500,
        }
    }
}

impl DeletionGuard {
    /// How many configurations one pass may tombstone or deactivate without approval, out of
    /// `live` (not deleted) ones: `min(max(floor, ceil(live × percent / 100)), ceiling)`.
    ///
    /// ```
    /// use ninjaone_servicenow::plan::DeletionGuard;
    /// let guard = DeletionGuard::default();
    /// assert_eq!(guard.limit(0), 10);
    /// assert_eq!(guard.limit(101), 11);
    /// assert_eq!(guard.limit(1_000_000), 500);
    /// ```
    #[must_use]
    pub fn limit(&self, live: usize) -> usize {
        let share = live.saturating_mul(self.percent).div_ceil(100);
        share.max(self.floor).min(self.ceiling)
    }
}

/// What the sync plan is told, with the defaults DESIGN.md gives: what [`plan`](super::plan)
/// and [`plan_cis`](super::plan_cis) read. How a pass runs (concurrency, paging, store
/// batches, report detail, retries) is the engine's `EngineOptions`, a layer up.
///
/// ```
/// use ninjaone_servicenow::plan::{Policy, UnmatchedPolicy};
/// let policy = Policy::builder()
///     .unmatched(UnmatchedPolicy::LeaveUnmapped)
///     .build();
/// assert_eq!(policy.unmatched(), UnmatchedPolicy::LeaveUnmapped);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// What to do with organizations that match no company (active mode).
    pub(crate) unmatched: UnmatchedPolicy,
    /// The deletion guard.
    pub(crate) deletion_guard: DeletionGuard,
    /// How devices are pushed into the CMDB (data source, batch size).
    pub(crate) cmdb: CmdbSettings,
}

impl Policy {
    /// What to do with organizations that match no company (active mode).
    #[must_use]
    pub fn unmatched(&self) -> UnmatchedPolicy {
        self.unmatched
    }

    /// The deletion guard.
    #[must_use]
    pub fn deletion_guard(&self) -> &DeletionGuard {
        &self.deletion_guard
    }

    /// How devices are pushed into the CMDB.
    #[must_use]
    pub fn cmdb(&self) -> &CmdbSettings {
        &self.cmdb
    }

    /// A builder starting from the defaults; [`PolicyBuilder::build`] (or `.into()`) makes the
    /// policy.
    #[must_use]
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// A builder starting from these settings, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> PolicyBuilder {
        PolicyBuilder {
            options: self.clone(),
        }
    }
}

/// Sets a [`Policy`]: each setter is the setting's bare name, `#[must_use]`, and clamps a value
/// out of range into it (the range is in the setter's docs).
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    options: Policy,
}

impl PolicyBuilder {
    /// Sets what to do with unmatched organizations.
    #[must_use]
    pub fn unmatched(mut self, unmatched: UnmatchedPolicy) -> Self {
        self.options.unmatched = unmatched;
        self
    }

    /// Sets the deletion guard.
    #[must_use]
    pub fn deletion_guard(mut self, guard: DeletionGuard) -> Self {
        self.options.deletion_guard = guard;
        self
    }

    /// Sets how devices are pushed into the CMDB.
    #[must_use]
    pub fn cmdb(mut self, cmdb: impl Into<CmdbSettings>) -> Self {
        self.options.cmdb = cmdb.into();
        self
    }

    /// The settings.
    #[must_use]
    pub fn build(self) -> Policy {
        self.options
    }
}

impl From<PolicyBuilder> for Policy {
    fn from(builder: PolicyBuilder) -> Self {
        builder.build()
    }
}

impl RetryPolicy {
    /// The wait after the first failure.
    #[must_use]
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest wait.
    #[must_use]
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Failures in a row before quarantine.
    #[must_use]
    pub fn quarantine_after(&self) -> u32 {
        self.quarantine_after
    }

    /// The longest wait a server's `Retry-After` may impose.
    #[must_use]
    pub fn max_server_wait(&self) -> Duration {
        self.max_server_wait
    }

    /// A builder starting from the defaults; [`RetryPolicyBuilder::build`] (or `.into()`) makes the
    /// retry policy.
    #[must_use]
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::default()
    }

    /// A builder starting from these settings, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> RetryPolicyBuilder {
        RetryPolicyBuilder { options: *self }
    }
}

/// Sets a [`RetryPolicy`]: bare-name `#[must_use]` setters that clamp.
#[derive(Debug, Clone, Default)]
pub struct RetryPolicyBuilder {
    options: RetryPolicy,
}

impl RetryPolicyBuilder {
    /// Sets the first wait.
    #[must_use]
    pub fn initial(mut self, initial: Duration) -> Self {
        self.options.initial = initial;
        self
    }

    /// Sets the longest wait.
    #[must_use]
    pub fn max(mut self, max: Duration) -> Self {
        self.options.max = max;
        self
    }

    /// Sets the longest wait a server's `Retry-After` may impose.
    #[must_use]
    pub fn max_server_wait(mut self, cap: Duration) -> Self {
        self.options.max_server_wait = cap;
        self
    }

    /// Sets the failures in a row before quarantine (at least 1).
    #[must_use]
    pub fn quarantine_after(mut self, attempts: u32) -> Self {
        self.options.quarantine_after = attempts.max(1);
        self
    }

    /// The settings.
    #[must_use]
    pub fn build(self) -> RetryPolicy {
        self.options
    }
}

impl From<RetryPolicyBuilder> for RetryPolicy {
    fn from(builder: RetryPolicyBuilder) -> Self {
        builder.build()
    }
}

impl DeletionGuard {
    /// The limit is never below this.
    #[must_use]
    pub fn floor(&self) -> usize {
        self.floor
    }

    /// The limit is this percentage of the live configurations, rounded up.
    #[must_use]
    pub fn percent(&self) -> usize {
        self.percent
    }

    /// The limit is never above this.
    #[must_use]
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// A guard with the given floor, percentage and ceiling.
    #[must_use]
    pub fn new(floor: usize, percent: usize, ceiling: usize) -> Self {
        Self {
            floor,
            percent,
            ceiling,
        }
    }
}

#[cfg(test)]
mod layer_rule {
    use std::path::Path;

    /// Every `.rs` file below `dir`, with its text.
    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("src/plan is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file reads");
                out.push((path.display().to_string(), text));
            }
        }
    }

    #[test]
    fn the_plan_layer_names_nothing_above_model() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/plan");
        let mut files = Vec::new();
        sources(&dir, &mut files);
        assert!(files.len() > 3, "the plan sources were found");
        for (path, text) in files {
            for layer in ["ports", "engine", "store", "http", "testing"] {
                let needle = format!("crate::{layer}");
                assert!(
                    !text.contains(&needle),
                    "{path} names {needle}: the plan layer imports only model, machine and itself"
                );
            }
        }
    }
}
