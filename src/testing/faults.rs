//! Fault injection and call counting shared by [`FakeNinjaOne`](super::FakeNinjaOne) and
//! [`FakeServiceNow`](super::FakeServiceNow).
//!
//! Faults are keyed by the trait method's name (`"organizations"`, `"create_company"`, ...; see
//! [`FakeNinjaOne::METHODS`](super::FakeNinjaOne::METHODS) and
//! [`FakeServiceNow::METHODS`](super::FakeServiceNow::METHODS)). On every call a fake asks its
//! [`Faults`], in this order:
//!
//! 1. the call is counted (failed calls too);
//! 2. a queued [`fail_next`](Faults::fail_next) failure for the method fails the call before
//!    anything happens;
//! 3. a [`fail_rate`](Faults::fail_rate) (all methods) or [`fail_rate_on`](Faults::fail_rate_on)
//!    (one method) failure fails it before anything happens, drawn from a seeded PRNG, so a seed
//!    gives the same failures for the same sequence of calls;
//! 4. a queued [`commit_then_fail`](Faults::commit_then_fail) lets the call do its work and then
//!    returns the error — the "did it happen?" case of a timeout after commit.
//!
//! A method name nobody calls is simply never failed: check [`calls`](Faults::calls) in tests
//! that rely on a fault firing.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::rng::SplitMix64;
use crate::ports::{ApiError, ApiErrorKind};

/// Fault injection and call counting for the fakes. `Clone` shares the state, so a test keeps a
/// handle while the fake is in use, and one `Faults` can serve both fakes.
///
/// ```
/// use ninjaone_servicenow::ports::{ApiErrorKind, NinjaOneApi, PageRequest};
/// use ninjaone_servicenow::testing::FakeNinjaOne;
/// # futures::executor::block_on(async {
/// let ninja = FakeNinjaOne::builder().organizations(3).build();
/// ninja.faults().fail_next("organizations", 1, ApiErrorKind::Transient);
/// let err = ninja.organizations(PageRequest::first(10)).await.unwrap_err();
/// assert_eq!(err.kind(), ApiErrorKind::Transient);
/// assert_eq!(ninja.organizations(PageRequest::first(10)).await?.items.len(), 3);
/// assert_eq!(ninja.faults().calls("organizations"), 2);
/// # Ok::<(), ninjaone_servicenow::ports::ApiError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    fail_next: BTreeMap<&'static str, VecDeque<ApiErrorKind>>,
    commit_then_fail: BTreeMap<&'static str, VecDeque<ApiErrorKind>>,
    rate: Option<RateFault>,
    calls: BTreeMap<&'static str, usize>,
    writes: BTreeMap<&'static str, usize>,
    stall_after_writes: Option<usize>,
}

#[derive(Debug)]
struct RateFault {
    only: Option<&'static str>,
    rng: SplitMix64,
    rate: f64,
    kind: ApiErrorKind,
}

/// What a fake does with a call that was not failed up front.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Do the work and return its result.
    Proceed,
    /// Do the work, then return this error instead of the result.
    CommitThenFail(ApiError),
}

impl Faults {
    /// No faults, no calls counted.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` calls of `method` fail with `kind` before doing anything. Queues after any
    /// failures already queued for the method, so kinds can be chained.
    pub fn fail_next(&self, method: &'static str, n: usize, kind: ApiErrorKind) -> &Self {
        enqueue(&mut self.lock().fail_next, method, n, kind);
        self
    }

    /// Every call of every method fails with `kind` with probability `rate` (clamped to
    /// `0.0..=1.0`; NaN counts as 0), drawn from a PRNG seeded with `seed`. Replaces any earlier
    /// rate fault. The same seed and the same sequence of calls give the same failures.
    pub fn fail_rate(&self, seed: u64, rate: f64, kind: ApiErrorKind) -> &Self {
        self.set_rate(None, seed, rate, kind)
    }

    /// Like [`fail_rate`](Self::fail_rate), for calls of `method` only (other methods never
    /// draw from the PRNG). Replaces any earlier rate fault.
    pub fn fail_rate_on(
        &self,
        method: &'static str,
        seed: u64,
        rate: f64,
        kind: ApiErrorKind,
    ) -> &Self {
        self.set_rate(Some(method), seed, rate, kind)
    }

    fn set_rate(
        &self,
        only: Option<&'static str>,
        seed: u64,
        rate: f64,
        kind: ApiErrorKind,
    ) -> &Self {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.lock().rate = Some(RateFault {
            only,
            rng: SplitMix64::new(seed),
            rate,
            kind,
        });
        self
    }

    /// The next `n` calls of `method` do their work (a write is committed) and then fail with
    /// `kind` — for example [`ApiErrorKind::Transient`] for a timeout after commit.
    pub fn commit_then_fail(&self, method: &'static str, n: usize, kind: ApiErrorKind) -> &Self {
        enqueue(&mut self.lock().commit_then_fail, method, n, kind);
        self
    }

    /// Once `k` writes have been committed (counting from now on, as [`writes`](Self::writes)
    /// does), every further write call never completes: it hangs before doing anything, as
    /// if the process had died there. Poll the code under test until it is stuck, then drop
    /// its future: a crash after exactly `k` remote writes.
    ///
    /// ```
    /// use futures::FutureExt;
    /// use ninjaone_servicenow::model::NewCompany;
    /// use ninjaone_servicenow::ports::ServiceNowApi;
    /// use ninjaone_servicenow::testing::FakeServiceNow;
    /// let sn = FakeServiceNow::new();
    /// sn.faults().stall_after_writes(1);
    /// let body = NewCompany { name: "Acme".into(), customer: true };
    /// assert!(sn.create_company(&body).now_or_never().is_some());
    /// assert!(sn.create_company(&body).now_or_never().is_none()); // stuck: never completes
    /// assert_eq!(sn.all_companies().len(), 1);
    /// ```
    pub fn stall_after_writes(&self, k: usize) -> &Self {
        let mut state = self.lock();
        let done: usize = state.writes.values().sum();
        state.stall_after_writes = Some(done.saturating_add(k));
        self
    }

    /// Removes every queued and rate fault and any stall; counts are kept.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.fail_next.clear();
        state.commit_then_fail.clear();
        state.rate = None;
        state.stall_after_writes = None;
    }

    /// Never completes when [`stall_after_writes`](Self::stall_after_writes) says the next
    /// write must hang.
    pub(crate) async fn stall_if_due(&self) {
        let due = {
            let state = self.lock();
            let done: usize = state.writes.values().sum();
            state.stall_after_writes.is_some_and(|limit| done >= limit)
        };
        if due {
            std::future::pending::<()>().await;
        }
    }

    /// How many times `method` was called, failed calls included.
    pub fn calls(&self, method: &str) -> usize {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// How many calls were made in all, failed calls included.
    pub fn total_calls(&self) -> usize {
        self.lock().calls.values().sum()
    }

    /// Calls per method, failed calls included, ordered by method name.
    pub fn call_counts(&self) -> BTreeMap<&'static str, usize> {
        self.lock().calls.clone()
    }

    /// How many write calls changed the remote side: successful writes plus those committed
    /// before an injected [`commit_then_fail`](Self::commit_then_fail) error. One call is one
    /// write, however many rows it touched.
    pub fn writes(&self) -> usize {
        self.lock().writes.values().sum()
    }

    /// Like [`writes`](Self::writes), for one method.
    pub fn writes_of(&self, method: &str) -> usize {
        self.lock().writes.get(method).copied().unwrap_or(0)
    }

    /// Sets every call and write count back to 0; faults are kept.
    pub fn reset_counts(&self) {
        let mut state = self.lock();
        state.calls.clear();
        state.writes.clear();
    }

    /// Counts a call of `method` and decides its fate.
    pub(crate) fn admit(&self, method: &'static str) -> Result<Admission, ApiError> {
        let mut state = self.lock();
        let count = state.calls.entry(method).or_insert(0);
        *count += 1;
        let call = *count;
        if let Some(kind) = state
            .fail_next
            .get_mut(method)
            .and_then(VecDeque::pop_front)
        {
            return Err(injected(kind, method, call, "before doing anything"));
        }
        if let Some(rate) = state.rate.as_mut()
            && rate.only.is_none_or(|m| m == method)
            && rate.rng.next_f64() < rate.rate
        {
            return Err(injected(
                rate.kind,
                method,
                call,
                "at random, before doing anything",
            ));
        }
        match state
            .commit_then_fail
            .get_mut(method)
            .and_then(VecDeque::pop_front)
        {
            Some(kind) => Ok(Admission::CommitThenFail(injected(
                kind,
                method,
                call,
                "after its work was committed",
            ))),
            None => Ok(Admission::Proceed),
        }
    }

    /// Counts a committed write of `method`.
    pub(crate) fn record_write(&self, method: &'static str) {
        *self.lock().writes.entry(method).or_insert(0) += 1;
    }
}

/// Queues `n` failures of `kind` for `method`, after those already queued.
fn enqueue(
    queues: &mut BTreeMap<&'static str, VecDeque<ApiErrorKind>>,
    method: &'static str,
    n: usize,
    kind: ApiErrorKind,
) {
    queues
        .entry(method)
        .or_default()
        .extend(std::iter::repeat_n(kind, n));
}

fn injected(kind: ApiErrorKind, method: &str, call: usize, when: &str) -> ApiError {
    ApiError::new(
        kind,
        format!("injected failure of {method} (call {call}), {when}"),
    )
}

impl Admission {
    /// The call's result after its work: `result` itself, or the injected error.
    pub(crate) fn finish<T>(self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        match self {
            Self::Proceed => result,
            Self::CommitThenFail(err) => result.and(Err(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_faults_and_counts() {
        let faults = Faults::new();
        faults
            .fail_next("a", 1, ApiErrorKind::Transient)
            .commit_then_fail("a", 1, ApiErrorKind::Conflict);
        assert!(faults.admit("a").is_err());
        assert!(matches!(
            faults.admit("a"),
            Ok(Admission::CommitThenFail(_))
        ));
        assert!(matches!(faults.admit("a"), Ok(Admission::Proceed)));
        assert!(matches!(faults.admit("b"), Ok(Admission::Proceed)));
        assert_eq!((faults.calls("a"), faults.total_calls()), (3, 4));
        faults.reset_counts();
        assert_eq!(faults.total_calls(), 0);
    }

    #[test]
    fn rate_extremes_and_nan() {
        let faults = Faults::new();
        faults.fail_rate(7, 1.0, ApiErrorKind::Transient);
        assert!((0..50).all(|_| faults.admit("x").is_err()));
        faults.fail_rate(7, f64::NAN, ApiErrorKind::Transient);
        assert!((0..50).all(|_| faults.admit("x").is_ok()));
        faults.fail_rate_on("y", 7, 1.0, ApiErrorKind::Transient);
        assert!(faults.admit("x").is_ok());
        assert!(faults.admit("y").is_err());
    }
}
