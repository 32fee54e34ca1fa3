//! Fault injection and call counting shared by [`FakeNinjaOne`](super::FakeNinjaOne),
//! [`FakeServiceNow`](super::FakeServiceNow) and [`MemoryStore`](crate::store::MemoryStore).
//!
//! Faults are keyed by typed methods ([`NinjaOneMethod`], [`ServiceNowMethod`],
//! [`StoreMethod`], all converting into [`Method`]), so a misspelt method does not compile. On
//! every call a fake asks its [`Faults`], in this order:
//!
//! 1. a [`fail_nth`](Faults::fail_nth) failure planned for this call, then the
//!    [call hook](Faults::on_call), which may count the call, stall it on a gate the test
//!    controls, or fail it — before anything else, as a forwarding wrapper around the fake
//!    would;
//! 2. for a ServiceNow write, a [`stall_after_writes`](Faults::stall_after_writes) that is due
//!    hangs the call;
//! 3. the call is counted (failed calls too);
//! 4. a queued [`fail_next`](Faults::fail_next) failure for the method fails the call before
//!    anything happens;
//! 5. a [`fail_rate`](Faults::fail_rate) (all methods) or [`fail_rate_on`](Faults::fail_rate_on)
//!    (one method) failure fails it before anything happens, drawn from a seeded
//!    [`SplitMix64`], so a seed gives the same failures for the same sequence of calls;
//! 6. a queued [`commit_then_fail`](Faults::commit_then_fail) lets the call do its work and then
//!    returns the error — the "did it happen?" case of a timeout after commit.
//!
//! A method nobody calls is simply never failed: check [`calls`](Faults::calls) in tests that
//! rely on a fault firing.

mod hook;
mod methods;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) use self::hook::Injected;
pub use self::hook::{Call, FaultKind, Verdict};
pub use self::methods::{Method, NinjaOneMethod, ServiceNowMethod, StoreMethod};
use super::rng::SplitMix64;

/// Fault injection and call counting for the fakes and the memory store. `Clone` shares the
/// state, so a test keeps a handle while the fake is in use, and one `Faults` can serve
/// several fakes.
///
/// ```
/// use ninjaone_servicenow::ports::{ApiErrorKind, NinjaOneApi, PageRequest};
/// use ninjaone_servicenow::testing::{FakeNinjaOne, NinjaOneMethod};
/// # futures::executor::block_on(async {
/// let ninja = FakeNinjaOne::builder().organizations(3).build();
/// ninja.faults().fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Transient);
/// let err = ninja.organizations(PageRequest::first(10)).await.unwrap_err();
/// assert_eq!(err.kind(), ApiErrorKind::Transient);
/// assert_eq!(ninja.organizations(PageRequest::first(10)).await?.items.len(), 3);
/// assert_eq!(ninja.faults().calls(NinjaOneMethod::Organizations), 2);
/// # Ok::<(), ninjaone_servicenow::ports::ApiError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

/// The call hook: decides each call's fate before the fake does anything.
type Hook = Arc<dyn Fn(&Call) -> Verdict + Send + Sync>;

#[derive(Default)]
struct FaultState {
    fail_next: BTreeMap<Method, VecDeque<FaultKind>>,
    commit_then_fail: BTreeMap<Method, VecDeque<FaultKind>>,
    fail_nth: BTreeMap<(Method, usize), FaultKind>,
    hook: Option<Hook>,
    rate: Option<RateFault>,
    seen: BTreeMap<Method, usize>,
    calls: BTreeMap<Method, usize>,
    writes: BTreeMap<Method, usize>,
    stall_after_writes: Option<usize>,
}

#[derive(Debug)]
struct RateFault {
    only: Option<Method>,
    rng: SplitMix64,
    rate: f64,
    kind: FaultKind,
}

/// What a fake does with a call that was not failed up front.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Do the work and return its result.
    Proceed,
    /// Do the work, then return this error instead of the result.
    CommitThenFail(Injected),
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Faults")
            .field("fail_next", &state.fail_next)
            .field("commit_then_fail", &state.commit_then_fail)
            .field("fail_nth", &state.fail_nth)
            .field("hook", &state.hook.as_ref().map(|_| ".."))
            .field("rate", &state.rate)
            .field("calls", &state.calls)
            .field("writes", &state.writes)
            .field("stall_after_writes", &state.stall_after_writes)
            .finish()
    }
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
    pub fn fail_next(
        &self,
        method: impl Into<Method>,
        n: usize,
        kind: impl Into<FaultKind>,
    ) -> &Self {
        enqueue(&mut self.lock().fail_next, method.into(), n, kind.into());
        self
    }

    /// The `nth` call of `method` (counting from 1 as [`Call::nth`] does; `0` is never a call)
    /// fails with `kind` before doing anything — before the call hook, and before a stall.
    ///
    /// ```
    /// use ninjaone_servicenow::ports::{ConfigStore, StoreErrorKind};
    /// use ninjaone_servicenow::store::MemoryStore;
    /// use ninjaone_servicenow::testing::StoreMethod;
    /// # futures::executor::block_on(async {
    /// let store = MemoryStore::new();
    /// store.faults().fail_nth(StoreMethod::Mode, 2, StoreErrorKind::Unavailable);
    /// assert!(store.mode().await.is_ok());
    /// assert_eq!(store.mode().await.unwrap_err().kind(), StoreErrorKind::Unavailable);
    /// assert!(store.mode().await.is_ok());
    /// assert_eq!(store.faults().calls(StoreMethod::Mode), 3);
    /// # });
    /// ```
    pub fn fail_nth(
        &self,
        method: impl Into<Method>,
        nth: usize,
        kind: impl Into<FaultKind>,
    ) -> &Self {
        if nth > 0 {
            self.lock()
                .fail_nth
                .insert((method.into(), nth), kind.into());
        }
        self
    }

    /// Every call of every method fails with `kind` with probability `rate` (clamped to
    /// `0.0..=1.0`; NaN counts as 0), drawn from a PRNG seeded with `seed`. Replaces any earlier
    /// rate fault. The same seed and the same sequence of calls give the same failures.
    pub fn fail_rate(&self, seed: u64, rate: f64, kind: impl Into<FaultKind>) -> &Self {
        self.set_rate(None, seed, rate, kind.into())
    }

    /// Like [`fail_rate`](Self::fail_rate), for calls of `method` only (other methods never
    /// draw from the PRNG). Replaces any earlier rate fault.
    pub fn fail_rate_on(
        &self,
        method: impl Into<Method>,
        seed: u64,
        rate: f64,
        kind: impl Into<FaultKind>,
    ) -> &Self {
        self.set_rate(Some(method.into()), seed, rate, kind.into())
    }

    fn set_rate(&self, only: Option<Method>, seed: u64, rate: f64, kind: FaultKind) -> &Self {
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
    /// `kind` — for example [`ApiErrorKind::Transient`](crate::ports::ApiErrorKind::Transient)
    /// for a timeout after commit.
    pub fn commit_then_fail(
        &self,
        method: impl Into<Method>,
        n: usize,
        kind: impl Into<FaultKind>,
    ) -> &Self {
        enqueue(
            &mut self.lock().commit_then_fail,
            method.into(),
            n,
            kind.into(),
        );
        self
    }

    /// Sets the call hook (replacing any earlier one): `hook` sees every call first, before
    /// the fake (or store) does anything, and returns its [`Verdict`] — go on, fail, or stall on
    /// a gate the test controls. It is called without any lock held and its stall is awaited
    /// the same way, so it may call the fake; it works on any executor. What a hand-written
    /// forwarding wrapper used to do:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use futures::FutureExt;
    /// use futures::channel::oneshot;
    /// use ninjaone_servicenow::model::NewCompany;
    /// use ninjaone_servicenow::ports::{ApiErrorKind, ServiceNowApi};
    /// use ninjaone_servicenow::testing::{FakeServiceNow, ServiceNowMethod, Verdict};
    /// let sn = FakeServiceNow::new();
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let (open, gate) = oneshot::channel::<()>();
    /// let gate = std::sync::Mutex::new(Some(gate));
    /// let counter = started.clone();
    /// sn.faults().on_call(move |call| {
    ///     if !call.is(ServiceNowMethod::CreateCompany) {
    ///         return Verdict::Proceed;
    ///     }
    ///     counter.fetch_add(1, Ordering::SeqCst); // count
    ///     match call.nth() {
    ///         1 => match gate.lock().unwrap().take() {
    ///             // stall until the test opens the gate
    ///             Some(gate) => Verdict::stall_until(async { let _ = gate.await; }),
    ///             None => Verdict::Proceed,
    ///         },
    ///         2 => Verdict::fail(ApiErrorKind::Transient), // fail the second create
    ///         _ => Verdict::Proceed,
    ///     }
    /// });
    /// let body = NewCompany { name: "Acme".into(), customer: true };
    /// let mut first = sn.create_company(&body);
    /// assert!((&mut first).now_or_never().is_none()); // stalled on the gate
    /// assert!(sn.create_company(&body).now_or_never().unwrap().is_err());
    /// open.send(()).unwrap();
    /// assert!(first.now_or_never().unwrap().is_ok());
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// assert_eq!(sn.all_companies().len(), 1);
    /// ```
    pub fn on_call(&self, hook: impl Fn(&Call) -> Verdict + Send + Sync + 'static) -> &Self {
        self.lock().hook = Some(Arc::new(hook));
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

    /// Removes every queued, planned and rate fault, the call hook and any stall; counts are
    /// kept.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.fail_next.clear();
        state.commit_then_fail.clear();
        state.fail_nth.clear();
        state.hook = None;
        state.rate = None;
        state.stall_after_writes = None;
    }

    /// Never completes when [`stall_after_writes`](Self::stall_after_writes) says the next
    /// write must hang.
    async fn stall_if_due(&self) {
        let due = {
            let state = self.lock();
            let done: usize = state.writes.values().sum();
            state.stall_after_writes.is_some_and(|limit| done >= limit)
        };
        if due {
            std::future::pending::<()>().await;
        }
    }

    /// How many times `method` was called, failed calls included (a call still stalled is
    /// counted once it goes on).
    pub fn calls(&self, method: impl Into<Method>) -> usize {
        self.lock().calls.get(&method.into()).copied().unwrap_or(0)
    }

    /// How many calls were made in all, failed calls included.
    pub fn total_calls(&self) -> usize {
        self.lock().calls.values().sum()
    }

    /// Calls per method, failed calls included, ordered by [`Method`].
    pub fn call_counts(&self) -> BTreeMap<Method, usize> {
        self.lock().calls.clone()
    }

    /// How many write calls changed the remote side: successful writes plus those committed
    /// before an injected [`commit_then_fail`](Self::commit_then_fail) error. One call is one
    /// write, however many rows it touched. Only [`FakeServiceNow`](super::FakeServiceNow)
    /// counts writes ([`ServiceNowMethod::is_write`]).
    pub fn writes(&self) -> usize {
        self.lock().writes.values().sum()
    }

    /// Like [`writes`](Self::writes), for one method.
    pub fn writes_of(&self, method: impl Into<Method>) -> usize {
        self.lock().writes.get(&method.into()).copied().unwrap_or(0)
    }

    /// Sets every call and write count back to 0 (and [`Call::nth`]'s numbering); faults are
    /// kept.
    pub fn reset_counts(&self) {
        let mut state = self.lock();
        state.seen.clear();
        state.calls.clear();
        state.writes.clear();
    }

    /// Decides a call's fate: the planned failure and the hook (awaiting its stall), a due
    /// write stall, then [`admit_now`](Self::admit_now).
    pub(crate) async fn admit(&self, method: impl Into<Method>) -> Result<Admission, Injected> {
        let method = method.into();
        let (call, planned, hook) = {
            let mut state = self.lock();
            let seen = state.seen.entry(method).or_insert(0);
            *seen += 1;
            let call = Call::new(method, *seen);
            let planned = state.fail_nth.remove(&(method, call.nth()));
            (call, planned, state.hook.clone())
        };
        if let Some(kind) = planned {
            return Err(self.fail_now(method, kind, "before doing anything"));
        }
        if let Some(hook) = hook {
            let mut verdict = hook(&call);
            loop {
                match verdict {
                    Verdict::Proceed => break,
                    Verdict::Fail(kind) => {
                        return Err(self.fail_now(
                            method,
                            kind,
                            "by the call hook, before doing anything",
                        ));
                    }
                    Verdict::Stall(gate) => verdict = gate.await,
                }
            }
        }
        if method.stalls() {
            self.stall_if_due().await;
        }
        self.admit_now(method)
    }

    /// Counts a call of `method` and fails it with `kind`.
    fn fail_now(&self, method: Method, kind: FaultKind, when: &str) -> Injected {
        let call = count(&mut self.lock(), method);
        Injected::new(kind, method, call, when)
    }

    /// Counts a call of `method` and decides its fate from the queued and rate faults.
    fn admit_now(&self, method: Method) -> Result<Admission, Injected> {
        let mut state = self.lock();
        let call = count(&mut state, method);
        if let Some(kind) = state
            .fail_next
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
        {
            return Err(Injected::new(kind, method, call, "before doing anything"));
        }
        if let Some(rate) = state.rate.as_mut()
            && rate.only.is_none_or(|m| m == method)
            && rate.rng.next_f64() < rate.rate
        {
            return Err(Injected::new(
                rate.kind,
                method,
                call,
                "at random, before doing anything",
            ));
        }
        match state
            .commit_then_fail
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
        {
            Some(kind) => Ok(Admission::CommitThenFail(Injected::new(
                kind,
                method,
                call,
                "after its work was committed",
            ))),
            None => Ok(Admission::Proceed),
        }
    }

    /// Counts a committed write of `method`.
    pub(crate) fn record_write(&self, method: impl Into<Method>) {
        *self.lock().writes.entry(method.into()).or_insert(0) += 1;
    }
}

/// Counts one call of `method`; its number.
fn count(state: &mut FaultState, method: Method) -> usize {
    let count = state.calls.entry(method).or_insert(0);
    *count += 1;
    *count
}

/// Queues `n` failures of `kind` for `method`, after those already queued.
fn enqueue(
    queues: &mut BTreeMap<Method, VecDeque<FaultKind>>,
    method: Method,
    n: usize,
    kind: FaultKind,
) {
    queues
        .entry(method)
        .or_default()
        .extend(std::iter::repeat_n(kind, n));
}

impl Admission {
    /// The call's result after its work: `result` itself, or the injected error.
    pub(crate) fn finish<T, E: From<Injected>>(self, result: Result<T, E>) -> Result<T, E> {
        match self {
            Self::Proceed => result,
            Self::CommitThenFail(err) => result.and(Err(err.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::ports::{ApiError, ApiErrorKind, StoreError, StoreErrorKind};

    const A: NinjaOneMethod = NinjaOneMethod::Organizations;
    const B: ServiceNowMethod = ServiceNowMethod::Companies;

    fn admit(faults: &Faults, method: impl Into<Method>) -> Result<Admission, Injected> {
        block_on(faults.admit(method))
    }

    #[test]
    fn order_of_faults_and_counts() {
        let faults = Faults::new();
        faults
            .fail_next(A, 1, ApiErrorKind::Transient)
            .commit_then_fail(A, 1, ApiErrorKind::Conflict);
        assert!(admit(&faults, A).is_err());
        assert!(matches!(
            admit(&faults, A),
            Ok(Admission::CommitThenFail(_))
        ));
        assert!(matches!(admit(&faults, A), Ok(Admission::Proceed)));
        assert!(matches!(admit(&faults, B), Ok(Admission::Proceed)));
        assert_eq!((faults.calls(A), faults.total_calls()), (3, 4));
        faults.reset_counts();
        assert_eq!(faults.total_calls(), 0);
    }

    #[test]
    fn rate_extremes_and_nan() {
        let faults = Faults::new();
        faults.fail_rate(7, 1.0, ApiErrorKind::Transient);
        assert!((0..50).all(|_| admit(&faults, A).is_err()));
        faults.fail_rate(7, f64::NAN, ApiErrorKind::Transient);
        assert!((0..50).all(|_| admit(&faults, A).is_ok()));
        faults.fail_rate_on(B, 7, 1.0, ApiErrorKind::Transient);
        assert!(admit(&faults, A).is_ok());
        assert!(admit(&faults, B).is_err());
    }

    #[test]
    fn the_hook_and_planned_failures_come_first_and_count() {
        let faults = Faults::new();
        faults
            .fail_nth(StoreMethod::Write, 2, StoreErrorKind::Unavailable)
            .fail_next(StoreMethod::Write, 1, StoreErrorKind::Conflict)
            .on_call(|call| {
                if call.is(StoreMethod::Write) && call.nth() == 3 {
                    Verdict::fail(ApiErrorKind::Transient)
                } else {
                    Verdict::Proceed
                }
            });
        let kind = |r: Result<Admission, Injected>| r.err().map(|e| e.kind);
        let w = StoreMethod::Write;
        assert_eq!(
            kind(admit(&faults, w)),
            Some(FaultKind::Store(StoreErrorKind::Conflict))
        );
        assert_eq!(
            kind(admit(&faults, w)),
            Some(FaultKind::Store(StoreErrorKind::Unavailable))
        );
        assert_eq!(
            kind(admit(&faults, w)),
            Some(FaultKind::Api(ApiErrorKind::Transient))
        );
        assert!(admit(&faults, w).is_ok());
        assert_eq!(faults.calls(w), 4);
        faults.clear_faults();
        faults.reset_counts();
        assert!(admit(&faults, w).is_ok());
    }

    #[test]
    fn kinds_of_the_other_port_translate() {
        let err: StoreError = Injected::new(
            ApiErrorKind::Transient.into(),
            StoreMethod::Write.into(),
            1,
            "now",
        )
        .into();
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        let err: ApiError = Injected::new(
            StoreErrorKind::Conflict.into(),
            ServiceNowMethod::CreateCompany.into(),
            1,
            "now",
        )
        .into();
        assert_eq!(err.kind(), ApiErrorKind::Conflict);
        assert!(
            err.to_string()
                .contains("injected failure of create_company (call 1), now")
        );
    }
}
