//! A store that fails.

use super::*;

/// A first pass over a store whose `fail_at`-th write fails (0: none); returns the pass's
/// result, the tenant, and how many store writes the pass attempted.
fn pass_over_failing_store(
    policy: &EngineOptions,
    fail_at: usize,
) -> (Result<Report, SyncError>, World, usize) {
    let t = tenant(CRASH_ORGS, CRASH_COMPANIES, policy.clone());
    // The pass's `fail_at`-th store write (counting from 1, 0 for never) fails as unavailable
    // without writing anything.
    let faults = t.store.faults();
    faults.reset_counts();
    faults.fail_nth(StoreMethod::Write, fail_at, StoreErrorKind::Unavailable);
    let result = block_on(t.sync.run_once(ApplyMode::Apply));
    let attempted = faults.calls(StoreMethod::Write);
    (result, t, attempted)
}

#[test]
fn a_store_write_failing_at_any_point_of_a_pass_converges_without_duplicates() {
    let mut positions = 0;
    for (concurrency, store_batch) in [(4, 4), (8, 100)] {
        let policy = crash_policy(concurrency, store_batch);
        let (healthy, _, store_writes) = pass_over_failing_store(&policy, 0);
        assert_eq!(healthy.expect("a healthy pass").remote_writes, CRASH_WRITES);
        // One write before any remote write, then the results in batches.
        assert_eq!(
            store_writes,
            1 + CRASH_WRITES.div_ceil(store_batch),
            "store batch {store_batch}"
        );
        for n in 1..=store_writes {
            positions += 1;
            let label = format!("store batch {store_batch}, store write {n} of {store_writes}");
            let (result, t, attempted) = pass_over_failing_store(&policy, n);
            match result {
                Err(SyncError::Store { error, .. }) => {
                    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{label}");
                }
                other => panic!("{label}: expected a store error, got {other:?}"),
            }
            assert_eq!(attempted, n, "{label}: the pass stops at the failed write");
            if n == 1 {
                assert_eq!(
                    t.faults.writes(),
                    0,
                    "{label}: no company is created before the queue is recorded"
                );
            }
            let crashed = t.create_writes();
            t.check_invariants(&mut HashMap::new())
                .unwrap_or_else(|e| panic!("{label}: right after the failure: {e}"));
            t.converge(MAX_RECOVERY_PASSES)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(
                t.create_writes(),
                CRASH_WRITES,
                "{label}: {crashed} created by the failed pass, the rest by recovery, none twice"
            );
            t.check_converged(CRASH_ORGS)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            t.check_quiet_pass()
                .unwrap_or_else(|e| panic!("{label}: {e}"));
        }
    }
    println!("{positions} store failure positions converged");
}
