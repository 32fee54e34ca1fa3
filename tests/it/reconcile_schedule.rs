//! Schedules of the reconcile pass, on a manual clock: backoff after transient failures,
//! quarantine and resume, the next-run hint, rate limits and creates that committed before they
//! failed.

use ninjaone_servicenow::testing::ids::org as id;
use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};
use std::time::Duration;

use chrono::TimeDelta;
use futures::executor::block_on;
use ninjaone_servicenow::engine::{
    ApplyMode, EngineOptions, FailureKind, NextRun, Outcome, Report,
};
use ninjaone_servicenow::model::{IntegrationMode, OrganizationId, SyncStatus};
use ninjaone_servicenow::plan::{Policy, RetryPolicy};
use ninjaone_servicenow::ports::ApiErrorKind;
use ninjaone_servicenow::testing::customer_name;

use crate::support::setup::Setup;
use crate::support::world::World;

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// `n` organizations without companies, active mode, on a manual clock.
fn world(organizations: usize, setup: impl Into<Setup>) -> World {
    World::builder()
        .organizations(organizations)
        .setup(setup)
        .admin("a")
        .mode(IntegrationMode::Active)
        .build()
}

impl World {
    /// Calls to create a company (failed ones too).
    fn creates(&self) -> usize {
        self.snow.faults().calls(ServiceNowMethod::CreateCompany)
    }

    fn fail_creates(&self, n: usize, kind: ApiErrorKind) {
        self.snow
            .faults()
            .fail_next(ServiceNowMethod::CreateCompany, n, kind);
    }

    /// Every organization has exactly one company of its name, and an active configuration
    /// mapped to it.
    fn assert_converged(&self, organizations: u32) {
        let count = usize::try_from(organizations).expect("a small count");
        assert_eq!(self.snow.all_companies().len(), count);
        for n in 1..=organizations {
            let name = customer_name(usize::try_from(n).expect("a small index"));
            assert_eq!(self.companies_named(&name).len(), 1, "organization {n}");
            let config = self.config(id(n));
            assert_eq!(config.status(), SyncStatus::Active, "organization {n}");
            assert!(config.company().is_some());
        }
    }
}

/// An organization's outcome; in a compact report an organization without a line is unchanged.
fn outcome(report: &Report, org: OrganizationId) -> &Outcome {
    static UNCHANGED: Outcome = Outcome::Unchanged;
    report.outcome(org).map_or(&UNCHANGED, |line| &line.outcome)
}

fn is_transient_failure(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed {
            kind: FailureKind::Transient,
            ..
        }
    )
}

// ---- backoff ----

#[test]
fn a_transient_create_failure_waits_one_minute_then_retries() {
    let w = world(1, Policy::default());
    let t0 = w.now();
    w.fail_creates(1, ApiErrorKind::Transient);

    let report = w.run();
    assert!(is_transient_failure(outcome(&report, id(1))));
    let config = w.config(id(1));
    assert_eq!(config.status(), SyncStatus::Pending);
    assert_eq!(config.attempts(), 1);
    assert_eq!(config.next_attempt_at(), Some(t0 + minutes(1)));
    assert_eq!(report.next_run, NextRun::At(t0 + minutes(1)));

    // Before the time: deferred, no create.
    w.clock.advance(TimeDelta::seconds(59));
    let report = w.run();
    assert!(matches!(
        outcome(&report, id(1)),
        Outcome::Deferred { until: Some(until), .. } if *until == t0 + minutes(1)
    ));
    assert_eq!(w.creates(), 1);
    assert_eq!(w.config(id(1)).attempts(), 1);

    // Past it: retried, and it succeeds.
    w.clock.advance(TimeDelta::seconds(2));
    let report = w.run();
    assert!(matches!(outcome(&report, id(1)), Outcome::Created { .. }));
    assert_eq!(w.creates(), 2);
    assert_eq!(report.next_run, NextRun::Regular);
    let config = w.config(id(1));
    assert_eq!((config.attempts(), config.next_attempt_at()), (0, None));
    w.assert_converged(1);
}

/// Fails the only organization's create once per pass, at each backoff's end, and returns the
/// waits seen.
fn failing_waits(w: &World, failures: usize) -> Vec<TimeDelta> {
    w.fail_creates(failures, ApiErrorKind::Transient);
    let mut waits = Vec::new();
    for attempt in 1..=failures {
        let now = w.now();
        let report = w.run();
        assert_eq!(w.creates(), attempt, "one create per pass");
        let config = w.config(id(1));
        if config.status() == SyncStatus::Inactive {
            break;
        }
        assert!(is_transient_failure(outcome(&report, id(1))));
        assert_eq!(usize::try_from(config.attempts()).ok(), Some(attempt));
        let next = config.next_attempt_at().expect("a backoff");
        assert_eq!(report.next_run, NextRun::At(next));
        waits.push(next - now);
        // One second early: deferred.
        w.clock.set(next - TimeDelta::seconds(1));
        assert!(matches!(outcome(&w.run(), id(1)), Outcome::Deferred { .. }));
        assert_eq!(w.creates(), attempt);
        w.clock.set(next);
    }
    waits
}

#[test]
fn backoff_doubles_and_the_fifth_failure_in_a_row_quarantines() {
    let w = world(1, Policy::default());
    let waits = failing_waits(&w, 5);
    assert_eq!(waits, [1, 2, 4, 8].map(minutes));

    let config = w.config(id(1));
    assert_eq!(config.status(), SyncStatus::Inactive);
    assert!(
        config
            .status_reason()
            .unwrap_or_default()
            .starts_with("quarantined"),
        "{:?}",
        config.status_reason()
    );
    assert_eq!(config.next_attempt_at(), None);

    // Quarantined: passes leave it alone, however long.
    w.clock.advance(TimeDelta::days(2));
    let report = w.run();
    assert_eq!(outcome(&report, id(1)), &Outcome::Unchanged);
    assert_eq!(report.next_run, NextRun::Regular);
    assert_eq!(w.creates(), 5);
    assert_eq!(w.snow.all_companies().len(), 0);

    // A person resumes it: pending again, and the next pass creates the company.
    let resumed = block_on(w.sync.resume(&w.admin, id(1))).expect("resume");
    assert_eq!(resumed.status(), SyncStatus::Pending);
    assert_eq!(resumed.attempts(), 0);
    let report = w.run();
    assert!(matches!(outcome(&report, id(1)), Outcome::Created { .. }));
    w.assert_converged(1);
}

#[test]
fn the_fifth_failure_is_reported_as_a_quarantine() {
    let w = world(1, Policy::default());
    w.fail_creates(5, ApiErrorKind::Transient);
    for _ in 0..4 {
        w.run();
        let next = w.config(id(1)).next_attempt_at().expect("a backoff");
        w.clock.set(next);
    }
    let report = w.run();
    assert!(matches!(
        outcome(&report, id(1)),
        Outcome::Failed {
            kind: FailureKind::Quarantined,
            ..
        }
    ));
    assert_eq!(w.config(id(1)).attempts(), 5);
}

#[test]
fn backoff_is_capped_at_one_hour() {
    let policy = EngineOptions::builder().retry(RetryPolicy::builder().quarantine_after(9));
    let w = world(1, policy.build());
    let waits = failing_waits(&w, 8);
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60].map(minutes));
    assert_eq!(w.config(id(1)).status(), SyncStatus::Pending);

    // A custom cap is honoured the same way.
    let policy = EngineOptions::builder().retry(
        RetryPolicy::builder()
            .initial(Duration::from_secs(30))
            .max(Duration::from_secs(90)),
    );
    let w = world(1, policy.build());
    let waits = failing_waits(&w, 4);
    assert_eq!(
        waits,
        [30, 60, 90, 90].map(TimeDelta::seconds),
        "30 s doubling, capped at 90 s"
    );
}

// ---- next run ----

#[test]
fn next_run_is_the_earliest_backoff_while_something_waits() {
    let w = world(1, EngineOptions::builder().concurrency(1).build());
    let t0 = w.now();
    w.fail_creates(1, ApiErrorKind::Transient);
    assert_eq!(w.run().next_run, NextRun::At(t0 + minutes(1)));

    // A second organization fails later: its backoff ends later, the first one's is reported.
    w.clock.advance(TimeDelta::seconds(30));
    let second = w.ninja.add_organization("Second Org").expect("an id");
    w.fail_creates(1, ApiErrorKind::Transient);
    let report = w.run();
    assert!(is_transient_failure(outcome(&report, second)));
    assert!(matches!(outcome(&report, id(1)), Outcome::Deferred { .. }));
    assert_eq!(report.next_run, NextRun::At(t0 + minutes(1)));

    // The first succeeds; the second still waits.
    w.clock.set(t0 + minutes(1));
    let report = w.run();
    assert!(matches!(outcome(&report, id(1)), Outcome::Created { .. }));
    assert!(matches!(outcome(&report, second), Outcome::Deferred { .. }));
    assert_eq!(
        report.next_run,
        NextRun::At(t0 + TimeDelta::seconds(30) + minutes(1))
    );

    // Nothing waits any more.
    w.clock.set(t0 + minutes(2));
    let report = w.run();
    assert!(matches!(outcome(&report, second), Outcome::Created { .. }));
    assert_eq!(report.next_run, NextRun::Regular);
    assert_eq!(w.run().next_run, NextRun::Regular);
    assert_eq!(w.snow.all_companies().len(), 2);
}

// ---- rate limits ----

fn rate_limited(seconds: u64) -> ApiErrorKind {
    ApiErrorKind::RateLimited {
        retry_after: Some(Duration::from_secs(seconds)),
    }
}

#[test]
fn a_rate_limit_defers_one_organization_without_counting_an_attempt() {
    let w = world(3, Policy::default());
    let t0 = w.now();
    let until = t0 + TimeDelta::seconds(120);
    w.fail_creates(1, rate_limited(120));

    let report = w.run();
    let deferred: Vec<OrganizationId> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Deferred { .. }))
        .map(|o| o.organization)
        .collect();
    assert_eq!(deferred.len(), 1, "{:?}", report.outcomes);
    let limited = deferred[0];
    match outcome(&report, limited) {
        Outcome::Deferred { until: at, reason } => {
            assert_eq!(*at, Some(until));
            assert!(reason.contains("rate limited"), "{reason}");
        }
        other => panic!("{other}"),
    }
    // The rest of the pass ran.
    assert_eq!(report.created, 2);
    assert_eq!(report.failed, 0);
    assert_eq!(report.next_run, NextRun::At(until));
    let config = w.config(limited);
    assert!(matches!(
        config.status(),
        SyncStatus::Pending | SyncStatus::InQueue
    ));
    assert_eq!(config.attempts(), 0, "a rate limit is not a failed attempt");
    assert_eq!(config.next_attempt_at(), Some(until));

    // Before the server's time: nothing is sent.
    w.clock.set(until - TimeDelta::seconds(1));
    let report = w.run();
    assert!(matches!(
        outcome(&report, limited),
        Outcome::Deferred { .. }
    ));
    assert_eq!(w.creates(), 3);

    w.clock.set(until);
    let report = w.run();
    assert!(matches!(outcome(&report, limited), Outcome::Created { .. }));
    assert_eq!(w.creates(), 4);
    w.assert_converged(3);
}

#[test]
fn a_rate_limit_at_concurrency_one_defers_everything_not_yet_attempted() {
    let w = world(4, EngineOptions::builder().concurrency(1).build());
    let t0 = w.now();
    w.fail_creates(1, rate_limited(120));

    let report = w.run();
    assert_eq!(w.creates(), 1, "no further create in this pass");
    assert_eq!(report.deferred, 4);
    assert_eq!(report.remote_writes, 0);
    assert!(matches!(
        outcome(&report, id(1)),
        Outcome::Deferred { until: Some(at), .. } if *at == t0 + TimeDelta::seconds(120)
    ));
    for n in 2..=4 {
        match outcome(&report, id(n)) {
            Outcome::Deferred { reason, .. } => assert!(reason.contains("rate limit"), "{reason}"),
            other => panic!("organization {n}: {other}"),
        }
    }
    assert_eq!(report.next_run, NextRun::At(t0 + TimeDelta::seconds(120)));
    assert!(w.configs().iter().all(|c| c.attempts() == 0));
    // Everything not attempted waits for the server's window too.
    assert!(
        w.configs()
            .iter()
            .all(|c| c.next_attempt_at() == Some(t0 + TimeDelta::seconds(120)))
    );

    // A pass inside the window sends nothing, and a dry run says when to come back.
    w.clock.set(t0 + TimeDelta::seconds(10));
    let early = w.run();
    assert_eq!(w.creates(), 1, "nothing is sent inside the server's window");
    assert_eq!(early.deferred, 4);
    let dry = block_on(w.sync.run_once(ApplyMode::DryRun)).expect("a dry run");
    assert_eq!(dry.next_run, NextRun::At(t0 + TimeDelta::seconds(120)));

    w.clock.set(t0 + TimeDelta::seconds(120));
    let report = w.run();
    assert_eq!(report.created, 4);
    assert_eq!(w.creates(), 5);
    w.assert_converged(4);
}

#[test]
fn a_second_rate_limit_after_halving_to_one_defers_the_rest() {
    let w = world(6, EngineOptions::builder().concurrency(2).build());
    let t0 = w.now();
    w.fail_creates(2, rate_limited(120));

    let report = w.run();
    // Two in flight at concurrency 2; the first 429 halves it to 1, the second defers the rest.
    assert_eq!(w.creates(), 2);
    assert_eq!(report.deferred, 6);
    assert_eq!(report.created + report.failed, 0);
    assert!(w.snow.all_companies().is_empty());
    assert!(w.configs().iter().all(|c| c.attempts() == 0));

    w.clock.set(t0 + TimeDelta::seconds(120));
    w.run();
    assert_eq!(w.creates(), 8);
    w.assert_converged(6);
}

// ---- a create that committed, then failed ----

#[test]
fn a_create_that_committed_before_failing_is_matched_not_repeated() {
    let w = world(2, EngineOptions::builder().concurrency(1).build());
    let t0 = w.now();
    w.snow
        .faults()
        .commit_then_fail(ServiceNowMethod::CreateCompany, 1, ApiErrorKind::Transient);

    let report = w.run();
    assert!(is_transient_failure(outcome(&report, id(1))));
    assert!(matches!(outcome(&report, id(2)), Outcome::Created { .. }));
    assert_eq!(
        w.companies_named(&customer_name(1)).len(),
        1,
        "the create did happen"
    );
    let config = w.config(id(1));
    assert_eq!(config.status(), SyncStatus::Pending);
    assert_eq!(config.company(), None);
    assert_eq!(config.next_attempt_at(), Some(t0 + minutes(1)));

    w.clock.set(t0 + minutes(1));
    let report = w.run();
    let created = w
        .snow
        .all_companies()
        .into_iter()
        .find(|c| c.name == customer_name(1))
        .expect("the company");
    match outcome(&report, id(1)) {
        Outcome::Matched { company, .. } => assert_eq!(company, &created.sys_id),
        other => panic!("{other}"),
    }
    assert_eq!(w.creates(), 2, "no second create for organization 1");
    assert_eq!(w.config(id(1)).company(), Some(&created.sys_id));
    w.assert_converged(2);
}

#[test]
fn a_rate_limited_listing_asks_to_come_back_when_the_server_says() {
    let w = world(3, Policy::default());
    let t0 = w.now();
    w.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, rate_limited(300));
    let report = w.run();
    assert_eq!(report.next_run, NextRun::At(t0 + TimeDelta::seconds(300)));
    assert_eq!(
        w.snow.faults().writes(),
        0,
        "nothing is decided from a failed listing"
    );

    // Any other failure asks for the first backoff step.
    w.ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Transient);
    let report = w.run();
    assert_eq!(report.next_run, NextRun::At(t0 + minutes(1)));
    w.run();
    w.assert_converged(3);
}
