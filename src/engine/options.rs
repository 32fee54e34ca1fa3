//! [`EngineOptions`]: the knobs both engines read — concurrency, paging, store batches, report
//! detail and the retry policy.

use crate::engine::outcome::ReportDetail;
use crate::plan::RetryPolicy;
use crate::ports::{DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE};

/// How an engine runs its passes: the knobs [`OrganizationSync`](super::OrganizationSync) and
/// the [`IncidentRouter`](super::incidents::IncidentRouter) both read, each set in this one
/// place and given to either with `.options(…)`.
///
/// What a pass decides is elsewhere: [`Policy`](crate::plan::Policy) for the sync plan,
/// [`IncidentSettings`](super::incidents::IncidentSettings) for tickets.
///
/// ```
/// use ninjaone_servicenow::engine::{EngineOptions, ReportDetail};
/// let options = EngineOptions::builder()
///     .concurrency(4)
///     .page_size(0) // clamped to 1
///     .report(ReportDetail::Full)
///     .build();
/// assert_eq!((options.concurrency(), options.page_size()), (4, 1));
/// assert_eq!(EngineOptions::default().store_batch(), 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Remote writes in flight at once (default 8; at least 1); halved by each rate limit.
    pub(crate) concurrency: usize,
    /// Rows per listing page (default [`DEFAULT_PAGE_SIZE`]).
    pub(crate) page_size: u32,
    /// Pages a listing may take before it is refused as endless (default
    /// [`DEFAULT_MAX_PAGES`]).
    pub(crate) max_pages: usize,
    /// Configurations (or records) per store write while a pass records results (default 100;
    /// at least 1).
    pub(crate) store_batch: usize,
    /// How much a pass's report holds (default [`ReportDetail::Compact`]).
    pub(crate) report: ReportDetail,
    /// Backoff and quarantine between passes, and the waits after a rate limit.
    pub(crate) retry: RetryPolicy,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            page_size: DEFAULT_PAGE_SIZE,
            max_pages: DEFAULT_MAX_PAGES,
            store_batch: 100,
            report: ReportDetail::default(),
            retry: RetryPolicy::default(),
        }
    }
}

impl EngineOptions {
    /// Remote writes in flight at once.
    #[must_use]
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Rows per listing page.
    #[must_use]
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Pages a listing may take before it is refused as endless.
    #[must_use]
    pub fn max_pages(&self) -> usize {
        self.max_pages
    }

    /// Configurations (or records) per store write while a pass records results.
    #[must_use]
    pub fn store_batch(&self) -> usize {
        self.store_batch
    }

    /// How much a pass's report holds.
    #[must_use]
    pub fn report(&self) -> ReportDetail {
        self.report
    }

    /// Backoff and quarantine, and the waits after a rate limit.
    #[must_use]
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// A builder starting from the defaults; [`EngineOptionsBuilder::build`] (or `.into()`)
    /// makes the options.
    #[must_use]
    pub fn builder() -> EngineOptionsBuilder {
        EngineOptionsBuilder::default()
    }

    /// A builder starting from these options, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> EngineOptionsBuilder {
        EngineOptionsBuilder {
            options: self.clone(),
        }
    }
}

/// Sets [`EngineOptions`]: each setter is the option's bare name, `#[must_use]`, and clamps a
/// value out of range into it (the range is in the setter's docs).
#[derive(Debug, Clone, Default)]
pub struct EngineOptionsBuilder {
    options: EngineOptions,
}

impl EngineOptionsBuilder {
    /// Sets how many remote writes may be in flight at once (at least 1).
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.options.concurrency = concurrency.max(1);
        self
    }

    /// Sets the listing page size (at least 1).
    #[must_use]
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.options.page_size = page_size.max(1);
        self
    }

    /// Sets how many pages a listing may take (at least 1).
    #[must_use]
    pub fn max_pages(mut self, max_pages: usize) -> Self {
        self.options.max_pages = max_pages.max(1);
        self
    }

    /// Sets how many configurations (or records) go into one store write while results are
    /// recorded (at least 1).
    #[must_use]
    pub fn store_batch(mut self, store_batch: usize) -> Self {
        self.options.store_batch = store_batch.max(1);
        self
    }

    /// Sets how much a pass's report holds: [`ReportDetail::Full`] lists unchanged lines and
    /// (for the organization sync) keeps the plan.
    #[must_use]
    pub fn report(mut self, detail: ReportDetail) -> Self {
        self.options.report = detail;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: impl Into<RetryPolicy>) -> Self {
        self.options.retry = retry.into();
        self
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> EngineOptions {
        self.options
    }
}

impl From<EngineOptionsBuilder> for EngineOptions {
    fn from(builder: EngineOptionsBuilder) -> Self {
        builder.build()
    }
}
