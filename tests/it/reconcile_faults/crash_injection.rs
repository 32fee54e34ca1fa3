//! Crash injection between a pass's writes.

use super::*;

/// The remote writes of an uninterrupted first pass on a fresh crash tenant.
fn first_pass_writes(policy: &EngineOptions) -> usize {
    let t = tenant(CRASH_ORGS, CRASH_COMPANIES, policy.clone());
    let report = block_on(t.sync.run_once(ApplyMode::Apply)).expect("a clean first pass");
    assert_eq!(report.remote_writes, t.faults.writes());
    assert_eq!(report.created, t.faults.writes());
    assert_eq!(report.matched, CRASH_COMPANIES);
    t.check_converged(CRASH_ORGS)
        .expect("one clean pass converges");
    t.faults.writes()
}

/// What a crash left behind, for the checks specific to a crash position.
struct Crash {
    /// Creates started, committed or stuck.
    started: usize,
    /// Configurations holding a company created by the crashed pass.
    recorded: usize,
    /// Clean passes recovery needed.
    recovery_passes: usize,
}

/// A fresh tenant whose first pass is dropped after exactly `k` remote writes; then clean
/// passes converge. Checks the converged state and that recovery created exactly `w - k`.
fn crash_after(k: usize, w: usize, policy: &EngineOptions) -> Result<Crash, String> {
    let t = tenant(CRASH_ORGS, CRASH_COMPANIES, policy.clone());
    // The creates started, counted by the call hook before any stall (a create stuck on one
    // counts too, so `started - committed` is how many were in flight when the pass was dropped).
    let started = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&started);
    t.faults.on_call(move |call| {
        if call.is(ServiceNowMethod::CreateCompany) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        Verdict::Proceed
    });
    let sync = t.sync_over(Arc::new(t.snow.clone()), Arc::new(t.store.clone()));
    t.faults.stall_after_writes(k);
    // The fakes and the store complete at once, so one poll drives the pass until it is stuck
    // on write k + 1; dropping it there is a crash after exactly k remote writes.
    let polled = sync.run_once(ApplyMode::Apply).now_or_never();
    if t.faults.writes() != k {
        return Err(format!(
            "the pass made {} writes, not {k}",
            t.faults.writes()
        ));
    }
    match (polled, k < w) {
        (None, true) => {}
        (Some(Ok(report)), false) if report.remote_writes == w => {}
        (other, _) => {
            return Err(format!(
                "after {k} of {w} writes the pass {}",
                match other {
                    None => "did not complete".to_owned(),
                    Some(Ok(r)) => format!("completed with {} remote writes", r.remote_writes),
                    Some(Err(e)) => format!("failed: {e}"),
                }
            ));
        }
    }
    let initial: HashSet<SysId> = t
        .snow
        .all_companies()
        .into_iter()
        .take(CRASH_COMPANIES)
        .map(|c| c.sys_id)
        .collect();
    let mut crash = Crash {
        started: started.load(Ordering::SeqCst),
        recorded: t
            .configs()
            .iter()
            .filter(|c| c.company().is_some_and(|s| !initial.contains(s)))
            .count(),
        recovery_passes: 0,
    };
    t.check_invariants(&mut HashMap::new())
        .map_err(|e| format!("right after the crash: {e}"))?;
    t.faults.clear_faults();
    let before = t.create_writes();
    let reports = t.converge(MAX_RECOVERY_PASSES)?;
    crash.recovery_passes = reports.len();
    let recreated = t.create_writes() - before;
    if recreated != w - k {
        return Err(format!(
            "recovery created {recreated} companies, expected {} (the crashed pass made {k})",
            w - k
        ));
    }
    let reported: usize = reports.iter().map(|r| r.remote_writes).sum();
    if reported != recreated {
        return Err(format!(
            "recovery reported {reported} remote writes but made {recreated}"
        ));
    }
    t.check_converged(CRASH_ORGS)?;
    t.check_quiet_pass()?;
    Ok(crash)
}

#[test]
fn the_crash_tenant_first_pass_makes_thirty_writes() {
    for (concurrency, store_batch) in [(1, 100), (4, 100), (8, 3)] {
        let w = first_pass_writes(&crash_policy(concurrency, store_batch));
        assert_eq!(w, CRASH_WRITES, "concurrency {concurrency}");
    }
}

#[test]
fn a_crash_after_any_number_of_remote_writes_converges_without_duplicates() {
    let mut failures = Vec::new();
    let mut positions = 0;
    let mut most_passes = 0;
    // Concurrency 1 and 4 record results at the end of the pass; concurrency 8 with a store
    // batch of 3 records them as they come, so a crash leaves some companies recorded, some
    // committed but unrecorded, and several creates in flight.
    for (concurrency, store_batch) in [(1, 100), (4, 100), (8, 3)] {
        let policy = crash_policy(concurrency, store_batch);
        let w = first_pass_writes(&policy);
        assert_eq!(w, CRASH_WRITES);
        for k in 0..=w {
            positions += 1;
            let result = guarded(|| crash_after(k, w, &policy)).and_then(|crash| {
                most_passes = most_passes.max(crash.recovery_passes);
                let in_flight = crash.started - k;
                if in_flight != concurrency.min(w - k) {
                    return Err(format!(
                        "{in_flight} creates were in flight at the crash, expected {}",
                        concurrency.min(w - k)
                    ));
                }
                if crash.recorded > k {
                    return Err(format!(
                        "{} configurations hold a company created by a pass that created {k}",
                        crash.recorded
                    ));
                }
                Ok(())
            });
            if let Err(err) = result {
                failures.push(format!(
                    "concurrency {concurrency}, store batch {store_batch}, crash after {k} of \
                     {w} writes: {err}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {positions} crash positions failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{positions} crash positions converged, in at most {most_passes} passes each");
    // Nothing a crash leaves behind waits for a backoff: one pass recovers.
    assert_eq!(most_passes, 1);
}

#[test]
fn a_crash_with_several_creates_in_flight_converges() {
    let policy = crash_policy(8, 3);
    let w = first_pass_writes(&policy);
    for k in [11, 13, 17] {
        let crash = crash_after(k, w, &policy).unwrap_or_else(|e| panic!("k = {k}: {e}"));
        assert_eq!(crash.started - k, 8, "k = {k}: eight creates in flight");
        // Results are recorded in batches of 3: some committed companies were recorded before
        // the crash, and at least one was committed but not recorded.
        assert!(crash.recorded > 0, "k = {k}: nothing was recorded");
        assert!(crash.recorded < k, "k = {k}: every create was recorded");
    }
}
