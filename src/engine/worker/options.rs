//! How a worker claims work: its name, batch size, lease and batch limit.

use std::time::Duration;

/// How a worker claims work.
///
/// ```
/// use std::time::Duration;
/// use ninjaone_servicenow::engine::WorkerOptions;
/// let options = WorkerOptions::builder("host-a/1")
///     .batch(100)
///     .lease(Duration::from_secs(120))
///     .build();
/// assert_eq!((options.worker(), options.batch()), ("host-a/1", 100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    pub(super) worker: String,
    pub(super) batch: usize,
    pub(super) lease: Duration,
    pub(super) max_batches: Option<usize>,
}

impl WorkerOptions {
    /// Options for the worker named `worker` (unique per process, shown on its claims):
    /// batches of 50 items, a lease of 5 minutes, until the queue is empty.
    #[must_use]
    pub fn new(worker: impl Into<String>) -> Self {
        Self {
            worker: worker.into(),
            batch: 50,
            lease: Duration::from_secs(300),
            max_batches: None,
        }
    }

    /// A builder for the worker named `worker`, starting from [`new`](Self::new)'s defaults;
    /// [`WorkerOptionsBuilder::build`] (or `.into()`) makes the options.
    #[must_use]
    pub fn builder(worker: impl Into<String>) -> WorkerOptionsBuilder {
        WorkerOptionsBuilder {
            options: Self::new(worker),
        }
    }

    /// A builder starting from these options, to change some of them.
    #[must_use]
    pub fn to_builder(&self) -> WorkerOptionsBuilder {
        WorkerOptionsBuilder {
            options: self.clone(),
        }
    }

    /// The worker's name.
    #[must_use]
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Items claimed at a time.
    #[must_use]
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// How long a claim is held before other workers may reclaim it.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The most batches a run takes; `None`: until the queue is empty.
    #[must_use]
    pub fn max_batches(&self) -> Option<usize> {
        self.max_batches
    }
}

/// Sets [`WorkerOptions`]: bare-name `#[must_use]` setters that clamp (the range is in each
/// setter's docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptionsBuilder {
    options: WorkerOptions,
}

impl WorkerOptionsBuilder {
    /// Items claimed at a time (at least 1).
    #[must_use]
    pub fn batch(mut self, items: usize) -> Self {
        self.options.batch = items.max(1);
        self
    }

    /// How long a claim is held before other workers may reclaim it (at least 1 s). Choose it
    /// well above the time one batch takes.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.options.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// Stops after this many batches (at least 1), even if work is left.
    #[must_use]
    pub fn max_batches(mut self, batches: usize) -> Self {
        self.options.max_batches = Some(batches.max(1));
        self
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> WorkerOptions {
        self.options
    }
}

impl From<WorkerOptionsBuilder> for WorkerOptions {
    fn from(builder: WorkerOptionsBuilder) -> Self {
        builder.build()
    }
}
