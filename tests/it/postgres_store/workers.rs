//! Four workers on one database, each with connections of its own; a killed one's leases reclaimed.

use super::*;

/// Four stores with connections of their own on one tenant.
async fn pg_workers(url: &str, world: &World, tenant: &TenantId, n: usize) -> Vec<support::Worker> {
    let mut workers = Vec::with_capacity(n);
    for i in 0..n {
        let store = PostgresStore::connect_with(url, 2)
            .await
            .expect("connect")
            .for_tenant(tenant.clone());
        workers.push(world.worker(
            &format!("worker-{i}"),
            Arc::new(store.clone()) as Arc<dyn ConfigStore>,
            Arc::new(store) as Arc<dyn WorkQueue>,
            Arc::new(world.snow.clone()),
        ));
    }
    workers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_share_five_thousand_organizations() {
    let Some(url) = database("four_workers_share_five_thousand_organizations") else {
        return;
    };
    let base = tenant_store(&url, "four").await;
    let world = world(5_000);
    let workers = pg_workers(&url, &world, base.tenant(), 4).await;
    four_workers(&world, &workers, 5_000).await;
    let configs = base.configs().await.expect("configs");
    assert!(configs.iter().all(|c| c.status() == SyncStatus::Active));
    // Completed items stay for inspection until pruned.
    let later = world.clock.now() + chrono::TimeDelta::seconds(1);
    assert_eq!(base.prune_done(later).await.expect("prune"), 5_000);
    assert_eq!(base.counts().await.expect("counts").done, 0);
    base.purge_tenant().await.expect("purge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_leases_are_reclaimed_and_the_pass_completes() {
    let Some(url) = database("a_killed_worker_s_leases_are_reclaimed_and_the_pass_completes")
    else {
        return;
    };
    let base = tenant_store(&url, "kill").await;
    let world = world(2_000);
    let workers = pg_workers(&url, &world, base.tenant(), 3).await;
    let doomed_store = PostgresStore::connect_with(&url, 2)
        .await
        .expect("connect")
        .for_tenant(base.tenant().clone());
    let (snow, stalled) = dying(&world, 40);
    // Dropping the worker drops its store: its connections close mid-pass.
    let doomed = world.worker(
        "doomed",
        Arc::new(doomed_store.clone()),
        Arc::new(doomed_store),
        snow,
    );
    kill_one_worker(&world, doomed, stalled, &workers, 2_000, 40).await;
    base.purge_tenant().await.expect("purge");
}
