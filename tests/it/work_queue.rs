//! Work distribution on the in-memory `WorkQueue`: planner lock, claims, leases, reclaim, and
//! the four-worker and crashed-worker scenarios without a database.

use crate::support::workers as support;
use ninjaone_servicenow::testing::{NinjaOneMethod, ServiceNowMethod};

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use ninjaone_servicenow::engine::{Actor, StoppedReport, SyncError};
use ninjaone_servicenow::model::{IntegrationMode, OrganizationId};
use ninjaone_servicenow::ports::{
    ApiErrorKind, ConfigStore, Remote, StoreErrorKind, WorkItem, WorkQueue, WorkResult, WorkTask,
};
use ninjaone_servicenow::store::{MemoryQueue, MemoryStore};
use ninjaone_servicenow::testing::fixed_time;
use support::{World, dying, four_workers, kill_one_worker, world};

fn item(org: u32) -> WorkItem {
    WorkItem::new(
        OrganizationId::new(org).expect("a valid id"),
        None,
        1,
        WorkTask::Activate,
    )
}

fn workers(
    world: &World,
    store: &MemoryStore,
    queue: &MemoryQueue,
    n: usize,
) -> Vec<support::Worker> {
    (0..n)
        .map(|i| {
            world.worker(
                &format!("worker-{i}"),
                Arc::new(store.clone()) as Arc<dyn ConfigStore>,
                Arc::new(queue.clone()) as Arc<dyn WorkQueue>,
                Arc::new(world.snow.clone()),
            )
        })
        .collect()
}

#[tokio::test]
async fn four_workers_share_five_thousand_organizations() {
    let world = world(5_000);
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
    four_workers(&world, &workers(&world, &store, &queue, 4), 5_000).await;
}

#[tokio::test]
async fn a_killed_worker_s_leases_are_reclaimed_and_the_pass_completes() {
    let world = world(2_000);
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
    let (snow, stalled) = dying(&world, 40);
    let doomed = world.worker(
        "doomed",
        Arc::new(store.clone()),
        Arc::new(queue.clone()),
        snow,
    );
    kill_one_worker(
        &world,
        doomed,
        stalled,
        &workers(&world, &store, &queue, 3),
        2_000,
        40,
    )
    .await;
}

#[tokio::test]
async fn one_outstanding_item_per_organization() {
    let queue = MemoryQueue::new();
    let now = fixed_time();
    assert_eq!(
        queue
            .enqueue(vec![item(1), item(2), item(1)], now)
            .await
            .unwrap(),
        2
    );
    assert_eq!(queue.enqueue(vec![item(2), item(3)], now).await.unwrap(), 1);
    let claims = queue
        .claim("a", 10, now, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(claims.len(), 3);
    // Still outstanding while claimed; once done, the organization may be queued again.
    assert_eq!(queue.enqueue(vec![item(1)], now).await.unwrap(), 0);
    queue
        .complete(&claims[0], &WorkResult::Applied("activated".into()), now)
        .await
        .unwrap();
    assert_eq!(queue.enqueue(vec![item(1)], now).await.unwrap(), 1);
}

#[tokio::test]
async fn claims_skip_held_items_and_expired_leases_are_reclaimed() {
    let queue = MemoryQueue::new();
    let now = fixed_time();
    let lease = Duration::from_secs(30);
    queue
        .enqueue((1..=5).map(item).collect(), now)
        .await
        .unwrap();
    let a = queue.claim("a", 3, now, lease).await.unwrap();
    let b = queue.claim("b", 3, now, lease).await.unwrap();
    assert_eq!((a.len(), b.len()), (3, 2));
    assert!(a.iter().all(|c| b.iter().all(|d| c.id != d.id)));
    assert_eq!(
        queue
            .reclaim_expired(now + TimeDelta::seconds(30))
            .await
            .unwrap(),
        0
    );
    queue
        .complete(&b[0], &WorkResult::Applied("activated".into()), now)
        .await
        .unwrap();
    queue.release(&b[1]).await.unwrap();
    let later = now + TimeDelta::seconds(31);
    assert_eq!(queue.reclaim_expired(later).await.unwrap(), 3);
    let counts = queue.counts().await.unwrap();
    assert_eq!(
        (counts.queued, counts.claimed, counts.done, counts.claims),
        (4, 0, 1, 5)
    );
    // The reclaimed claim is no longer held: completing it is a conflict and changes nothing.
    let err = queue
        .complete(&a[0], &WorkResult::Applied("late".into()), later)
        .await
        .expect_err("a lost lease");
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    assert!(err.message().contains("no longer held"), "{err}");
    let again = queue.claim("c", 10, later, lease).await.unwrap();
    assert_eq!(again.len(), 4);
    assert!(again.iter().any(|c| c.id == a[0].id && c.claim == 2));
    assert_eq!(queue.counts().await.unwrap().applied, 1);
}

#[tokio::test]
async fn one_planner_at_a_time() {
    let queue = MemoryQueue::new();
    let guard = queue
        .lock_planner()
        .await
        .unwrap()
        .expect("the lock is free");
    assert!(queue.lock_planner().await.unwrap().is_none());
    guard.release().await.unwrap();
    let dropped = queue.lock_planner().await.unwrap().expect("free again");
    drop(dropped);
    assert!(queue.lock_planner().await.unwrap().is_some());
}

#[tokio::test]
async fn a_locked_out_planner_does_nothing() {
    let world = world(10);
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
    let workers = workers(&world, &store, &queue, 1);
    let guard = queue
        .lock_planner()
        .await
        .unwrap()
        .expect("the lock is free");
    let plan = workers[0].sync.plan_work(&queue).await.unwrap();
    assert!(!plan.planned);
    assert_eq!(plan.enqueued, 0);
    assert_eq!(world.ninja.faults().total_calls(), 0);
    guard.release().await.unwrap();
}

#[tokio::test]
async fn a_planner_and_a_worker_stopped_by_refused_credentials_are_errors() {
    let world = world(10);
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
    let workers = workers(&world, &store, &queue, 1);
    let sync = &workers[0].sync;
    sync.set_mode(&Actor::administrator("alice"), IntegrationMode::Active)
        .await
        .unwrap();

    // The planner's listing is refused: an `Err` that carries the plan, never a quiet `Ok`.
    world
        .ninja
        .faults()
        .fail_next(NinjaOneMethod::Organizations, 1, ApiErrorKind::Unauthorized);
    let err = sync
        .plan_work(&queue)
        .await
        .expect_err("a dead integration");
    assert!(!err.is_refusal());
    let SyncError::CredentialsRefused(refused) = &err else {
        panic!("not a credentials stop: {err}");
    };
    assert_eq!(refused.remote, Remote::NinjaOne);
    let StoppedReport::Plan(plan) = &refused.report else {
        panic!("not the plan: {:?}", refused.report);
    };
    assert!(plan.planned);
    assert_eq!(plan.enqueued, 0);
    assert!(plan.report.stop.is_some());
    let line = plan.to_string();
    assert!(line.starts_with("planner: 0 enqueued; sync: "), "{line}");
    assert!(line.ends_with("; stopped: credentials"), "{line}");

    // The next planner pass enqueues the ten; the worker's first create is refused.
    let plan = sync.plan_work(&queue).await.expect("plan");
    assert_eq!(plan.enqueued, 10);
    world
        .snow
        .faults()
        .fail_next(ServiceNowMethod::CreateCompany, 1, ApiErrorKind::Forbidden);
    let err = sync
        .run_worker(&queue, &workers[0].options)
        .await
        .expect_err("a dead integration");
    let SyncError::CredentialsRefused(refused) = &err else {
        panic!("not a credentials stop: {err}");
    };
    assert_eq!(refused.remote, Remote::ServiceNow);
    let StoppedReport::Worker(report) = &refused.report else {
        panic!("not the worker's report: {:?}", refused.report);
    };
    assert_eq!(report.claimed, 10);
    assert!(report.stop.is_some());
    assert_eq!(report.applied + report.deferred + report.failed, 10);
    assert_eq!(
        report.failed, 0,
        "refused credentials fail no configuration"
    );
}
