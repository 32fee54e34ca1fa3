//! Worker scenarios shared by the memory and the PostgreSQL work-queue tests: the same checks
//! run against any `ConfigStore` + `WorkQueue` pair.
#![allow(dead_code)] // each test file uses the part it needs

use ninjaone_servicenow::testing::{ServiceNowMethod, Verdict};

pub use super::world::World;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use futures::future::join_all;
use ninjaone_servicenow::engine::{Actor, OrganizationSync, WorkerOptions, WorkerReport};
use ninjaone_servicenow::model::{AuditFilter, IntegrationMode, SyncStatus, SysId};
use ninjaone_servicenow::ports::{ConfigStore, ServiceNowApi, WorkQueue};
use ninjaone_servicenow::testing::customer_name;
use tokio::sync::Notify;

/// The lease the scenarios use.
pub const LEASE: Duration = Duration::from_secs(60);

/// One worker process: its own store and queue handles (for PostgreSQL: its own connections).
pub struct Worker {
    pub sync: OrganizationSync,
    pub store: Arc<dyn ConfigStore>,
    pub queue: Arc<dyn WorkQueue>,
    pub options: WorkerOptions,
}

/// The shared world: both fakes and the clock every worker reads (each worker brings its own
/// store and queue, see [`World::worker`]). `organizations` organizations; companies already
/// exist for those numbered above `organizations / 2` (so the first half needs a company
/// created, the second is adopted).
pub fn world(organizations: usize) -> World {
    World::builder()
        .organizations(organizations)
        .snow_with(|mut snow| {
            for i in organizations / 2 + 1..=organizations {
                snow = snow.company(customer_name(i), true);
            }
            snow
        })
        .build()
}

impl World {
    /// A worker over the shared fakes and clock, with its own store, queue and ServiceNow.
    pub fn worker(
        &self,
        name: &str,
        store: Arc<dyn ConfigStore>,
        queue: Arc<dyn WorkQueue>,
        snow: Arc<dyn ServiceNowApi>,
    ) -> Worker {
        Worker {
            sync: self.sync_over(snow, store.clone()),
            store,
            queue,
            options: WorkerOptions::builder(name)
                .batch(100)
                .lease(LEASE)
                .max_batches(1)
                .build(),
        }
    }
}

/// Runs every worker at once, one batch each per round, until a round claims nothing (as
/// hosts do: each process calls `run_worker` in a loop). Returns each worker's totals.
pub async fn run_all(workers: &[Worker]) -> Vec<WorkerReport> {
    let mut totals = vec![WorkerReport::default(); workers.len()];
    loop {
        let round: Vec<WorkerReport> = join_all(
            workers
                .iter()
                .map(|w| async { w.sync.run_worker(&*w.queue, &w.options).await }),
        )
        .await
        .into_iter()
        .map(|r| r.expect("a worker runs"))
        .collect();
        let claimed: usize = round.iter().map(|r| r.claimed).sum();
        for (sum, r) in totals.iter_mut().zip(round) {
            sum.batches += r.batches;
            sum.claimed += r.claimed;
            sum.applied += r.applied;
            sum.skipped += r.skipped;
            sum.deferred += r.deferred;
            sum.failed += r.failed;
            sum.lost += r.lost;
            sum.reclaimed += r.reclaimed;
            sum.remote_writes += r.remote_writes;
        }
        if claimed == 0 {
            return totals;
        }
    }
}

/// Sum of one field over reports.
pub fn total(reports: &[WorkerReport], field: impl Fn(&WorkerReport) -> usize) -> usize {
    reports.iter().map(field).sum()
}

/// Every configuration is active with a company, and no company name exists twice.
pub async fn assert_converged(store: &dyn ConfigStore, world: &World, organizations: usize) {
    let configs = store.configs().await.expect("configs");
    assert_eq!(
        configs.len(),
        organizations,
        "one configuration per organization"
    );
    let not_active: Vec<_> = configs
        .iter()
        .filter(|c| c.status() != SyncStatus::Active || c.company().is_none())
        .map(|c| (c.organization(), c.status()))
        .take(5)
        .collect();
    assert!(not_active.is_empty(), "not active: {not_active:?}");
    let companies = world.snow.all_companies();
    let names: HashSet<&str> = companies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), companies.len(), "a company was created twice");
    assert_eq!(
        companies.len(),
        organizations,
        "one company per organization"
    );
    let mapped: HashSet<&SysId> = configs.iter().filter_map(|c| c.company()).collect();
    assert_eq!(
        mapped.len(),
        organizations,
        "one company mapped to two organizations"
    );
}

/// Four workers, one planner, `organizations` organizations in active mode: every config ends
/// active, every item is claimed and applied exactly once, no company is created twice, and a
/// second pass writes nothing.
pub async fn four_workers(world: &World, workers: &[Worker], organizations: usize) {
    let admin = Actor::administrator("alice");
    workers[0]
        .sync
        .set_mode(&admin, IntegrationMode::Active)
        .await
        .expect("set the mode");
    let plan = workers[0]
        .sync
        .plan_work(&*workers[0].queue)
        .await
        .expect("plan");
    assert!(plan.planned);
    assert_eq!(plan.enqueued, organizations);
    assert_eq!(
        world.snow.faults().writes(),
        0,
        "the planner writes nothing remotely"
    );

    let reports = run_all(workers).await;
    assert_eq!(total(&reports, |r| r.claimed), organizations);
    assert_eq!(total(&reports, |r| r.applied), organizations);
    assert_eq!(
        total(&reports, |r| r.skipped + r.failed + r.deferred + r.lost),
        0
    );
    assert!(
        reports.iter().filter(|r| r.claimed > 0).count() >= 2,
        "the work is shared: {:?}",
        reports.iter().map(|r| r.claimed).collect::<Vec<_>>()
    );
    let counts = workers[0].queue.counts().await.expect("counts");
    assert_eq!(
        (
            counts.queued,
            counts.claimed,
            counts.done,
            counts.applied,
            counts.claims
        ),
        (0, 0, organizations, organizations, organizations),
        "each item claimed once and applied once"
    );
    let creates = organizations - organizations / 2;
    assert_eq!(
        world
            .snow
            .faults()
            .writes_of(ServiceNowMethod::CreateCompany),
        creates
    );
    assert_eq!(total(&reports, |r| r.remote_writes), creates);
    assert_converged(&*workers[0].store, world, organizations).await;

    // A second pass changes nothing: no item, no remote write, no store write.
    let audit = workers[0]
        .store
        .audit(&AuditFilter::all())
        .await
        .expect("audit")
        .len();
    let configs = workers[0].store.configs().await.expect("configs");
    let plan = workers[1]
        .sync
        .plan_work(&*workers[1].queue)
        .await
        .expect("plan again");
    assert_eq!(plan.enqueued, 0);
    let again = run_all(workers).await;
    assert_eq!(total(&again, |r| r.claimed), 0);
    assert_eq!(world.snow.faults().writes(), creates);
    assert_eq!(
        workers[0]
            .store
            .audit(&AuditFilter::all())
            .await
            .expect("audit")
            .len(),
        audit
    );
    assert_eq!(workers[0].store.configs().await.expect("configs"), configs);
}

/// A worker dies mid-pass after `allow` creates (its future and its handles are dropped with
/// its claims held); the others finish the rest; once the lease has run out its items are
/// reclaimed and the queue drains; the next planner pass finds the companies the dead worker
/// created (no company twice) and the configurations all end active.
pub async fn kill_one_worker(
    world: &World,
    doomed: Worker,
    stalled: Arc<Notify>,
    workers: &[Worker],
    organizations: usize,
    allow: usize,
) {
    let admin = Actor::administrator("alice");
    workers[0]
        .sync
        .set_mode(&admin, IntegrationMode::Active)
        .await
        .expect("set the mode");
    let plan = workers[0]
        .sync
        .plan_work(&*workers[0].queue)
        .await
        .expect("plan");
    assert_eq!(plan.enqueued, organizations);

    // The doomed worker claims the first batch (all creates) and dies after `allow` of them.
    let batch = 100;
    tokio::select! {
        report = doomed.sync.run_worker(&*doomed.queue, &doomed.options) => {
            panic!("the doomed worker should have stalled, but finished: {report:?}");
        }
        () = stalled.notified() => {}
    }
    drop(doomed); // its connections close; its claims stay held until the lease runs out
    world.snow.faults().clear_faults(); // the other workers' creates go through
    assert_eq!(
        world
            .snow
            .faults()
            .writes_of(ServiceNowMethod::CreateCompany),
        allow
    );

    let reports = run_all(workers).await;
    assert_eq!(total(&reports, |r| r.claimed), organizations - batch);
    let counts = workers[0].queue.counts().await.expect("counts");
    assert_eq!(
        (counts.claimed, counts.queued),
        (batch, 0),
        "the dead worker's leases"
    );

    // Before the lease ends nothing is reclaimed; after it, the queue drains.
    assert_eq!(total(&run_all(workers).await, |r| r.reclaimed), 0);
    world
        .clock
        .advance(TimeDelta::from_std(LEASE).expect("a lease") + TimeDelta::seconds(1));
    let reports = run_all(workers).await;
    assert_eq!(total(&reports, |r| r.reclaimed), batch);
    assert_eq!(total(&reports, |r| r.claimed), batch);
    // The dead worker saved them `in_queue` before its creates: they are left to the planner.
    assert_eq!(total(&reports, |r| r.skipped), batch);
    let counts = workers[0].queue.counts().await.expect("counts");
    assert_eq!(
        (counts.queued, counts.claimed, counts.done),
        (0, 0, organizations)
    );

    // The next planner pass adopts the companies the dead worker created and creates the rest.
    let plan = workers[1]
        .sync
        .plan_work(&*workers[1].queue)
        .await
        .expect("plan again");
    assert_eq!(plan.enqueued, batch);
    let reports = run_all(workers).await;
    assert_eq!(total(&reports, |r| r.applied), batch);
    assert_eq!(total(&reports, |r| r.remote_writes), batch - allow);
    assert_eq!(
        world
            .snow
            .faults()
            .writes_of(ServiceNowMethod::CreateCompany),
        organizations - organizations / 2
    );
    assert_converged(&*workers[0].store, world, organizations).await;

    // And then nothing is left to do.
    let plan = workers[2]
        .sync
        .plan_work(&*workers[2].queue)
        .await
        .expect("a third plan");
    assert_eq!(plan.enqueued, 0);
}

/// The doomed worker's `ServiceNowApi` and the notice it gives when it stalls: the shared fake,
/// whose call hook lets `allow` company creates through and then never answers another,
/// telling `stalled` (a worker process that dies mid-pass). The doomed worker runs alone until
/// it stalls; [`kill_one_worker`] clears the hook once it is dropped.
pub fn dying(world: &World, allow: usize) -> (Arc<dyn ServiceNowApi>, Arc<Notify>) {
    let stalled = Arc::new(Notify::new());
    let notify = Arc::clone(&stalled);
    let left = AtomicUsize::new(allow);
    world.snow.faults().on_call(move |call| {
        if !call.is(ServiceNowMethod::CreateCompany)
            || left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Verdict::Proceed;
        }
        notify.notify_one();
        Verdict::hang()
    });
    (Arc::new(world.snow.clone()), stalled)
}
