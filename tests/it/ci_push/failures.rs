//! The CI push: failed batches and records.

use super::*;

#[test]
fn a_transient_batch_failure_is_retried_by_the_next_pass() {
    let w = world(3, policy(100, 5));
    w.add_all(3);
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::Transient,
    );

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.reconcile_calls(), 3);
    assert_eq!((ci.batches, ci.sent, ci.inserted), (3, 10, 10));
    let [failed] = ci.failed_batches.as_slice() else {
        panic!("one failed batch: {:?}", ci.failed_batches);
    };
    assert_eq!(
        (failed.kind, failed.devices.len()),
        (FailureKind::Transient, 5)
    );
    assert!(failed.devices.iter().all(|d| w.record(*d).is_none()));
    assert_eq!(w.records().len(), 10);
    // The first backoff step (one minute by default).
    assert_eq!(
        report.next_run,
        NextRun::At(fixed_time() + Duration::from_secs(60))
    );

    w.reset_counts();
    let report = w.run();
    assert_eq!(w.reconcile_calls(), 1);
    assert_eq!((cmdb(&report).sent, cmdb(&report).inserted), (5, 5));
    assert_eq!(w.records().len(), 15);
    assert_eq!(report.next_run, NextRun::Regular);
}

#[test]
fn a_rate_limit_defers_the_rest_and_honours_retry_after() {
    let w = world(3, policy(100, 5));
    w.add_all(3);
    let wait = Duration::from_secs(600);
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::RateLimited {
            retry_after: Some(wait),
        },
    );

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(w.reconcile_calls(), 1, "no request after a rate limit");
    assert_eq!((ci.batches, ci.sent, ci.deferred), (1, 0, 10));
    assert_eq!(ci.failed_batches.len(), 1);
    assert_eq!(report.next_run, NextRun::At(fixed_time() + wait));
    assert!(w.records().is_empty());

    w.reset_counts();
    let report = w.run();
    assert_eq!(w.reconcile_calls(), 3);
    assert_eq!(cmdb(&report).sent, 15);
}

#[test]
fn a_timeout_after_commit_is_sent_again_without_a_duplicate() {
    let w = world(1, policy(100, 100));
    w.add_all(1);
    w.snow.faults().commit_then_fail(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::Transient,
    );
    let report = w.run();
    assert_eq!(cmdb(&report).failed_batches.len(), 1);
    assert!(w.records().is_empty());
    assert_eq!(w.snow.cis().len(), MAPPED_PER_ORG);

    let report = w.run();
    let ci = cmdb(&report);
    assert_eq!(
        (ci.sent, ci.no_change, ci.inserted),
        (MAPPED_PER_ORG, MAPPED_PER_ORG, 0)
    );
    assert_eq!(w.snow.cis().len(), MAPPED_PER_ORG, "no CI twice");
    assert_eq!(w.records().len(), MAPPED_PER_ORG);
}

#[test]
fn refused_credentials_stop_the_step() {
    let w = world(3, policy(100, 5));
    w.add_all(3);
    // Refused on the first dry run: nothing more is asked, nothing written.
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcileQuery,
        1,
        ApiErrorKind::Forbidden,
    );
    let report = w.run_refused();
    assert!(
        matches!(&report.stop, Some(Stop::Credentials { api, .. }) if *api == Remote::ServiceNow),
        "{:?}",
        report.stop
    );
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (1, 0));
    assert_eq!(cmdb(&report).deferred, 10);
    assert!(w.records().is_empty());

    // Refused on the first write: the rest waits.
    w.snow.faults().fail_next(
        ServiceNowMethod::IdentifyReconcile,
        1,
        ApiErrorKind::Forbidden,
    );
    w.reset_counts();
    let report = w.run_refused();
    assert!(matches!(&report.stop, Some(Stop::Credentials { .. })));
    assert_eq!((w.dry_run_calls(), w.reconcile_calls()), (3, 1));
    assert_eq!(cmdb(&report).deferred, 10);
    assert!(w.records().is_empty());

    // Refused while listing devices: the step stops before sending anything.
    w.ninja.faults().fail_next(
        NinjaOneMethod::DevicesDetailed,
        1,
        ApiErrorKind::Unauthorized,
    );
    w.reset_counts();
    let report = w.run_refused();
    assert!(
        matches!(&report.stop, Some(Stop::Credentials { api, .. }) if *api == Remote::NinjaOne),
        "{:?}",
        report.stop
    );
    assert_eq!(w.reconcile_calls(), 0);
}

#[test]
fn a_failed_device_listing_sends_nothing_and_asks_for_a_retry() {
    let w = world(2, policy(100, 100));
    w.add_all(2);
    w.run();
    w.ninja
        .add_device(org(1), Some(role(9)), "NEW-SRV")
        .expect("a device id");
    w.ninja
        .faults()
        .fail_next(NinjaOneMethod::DevicesDetailed, 1, ApiErrorKind::Transient);
    w.reset_counts();
    let report = w.run();
    let problem = cmdb(&report).problem.as_deref().expect("a problem");
    assert!(
        problem.contains("listing NinjaOne devices failed"),
        "{problem}"
    );
    assert_eq!(w.reconcile_calls(), 0);
    assert_eq!(w.records().len(), 2 * MAPPED_PER_ORG, "no record removed");
    assert_eq!(
        report.next_run,
        NextRun::At(fixed_time() + Duration::from_secs(60))
    );
    let report = w.run();
    assert_eq!(cmdb(&report).sent, 1);
}

#[test]
fn records_of_gone_devices_and_deleted_configurations_are_removed() {
    let w = world(3, policy(100, 100));
    w.add_all(3);
    w.run();
    let cis = w.snow.cis().len();

    let gone = w.device_with_role(1, 9);
    w.ninja.remove_device(gone.id);
    block_on(w.sync.delete(&w.admin, org(3))).expect("delete");
    w.reset_counts();
    let report = w.run();
    assert_eq!(cmdb(&report).removed, 1 + MAPPED_PER_ORG);
    assert!(w.record(gone.id).is_none());
    assert!(w.records().iter().all(|r| r.organization != org(3)));
    assert_eq!(w.records().len(), 3 * MAPPED_PER_ORG - 1 - MAPPED_PER_ORG);
    // Nothing is deleted from the CMDB.
    assert_eq!(w.snow.cis().len(), cis);
    assert_eq!(w.reconcile_calls(), 0);
}
