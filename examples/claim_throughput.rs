//! Claim throughput of the PostgreSQL work queue: items claimed and completed per second with
//! 1, 2 and 4 workers, each with connections of its own, on one tenant.
//!
//! ```text
//! export ORGSYNC_TEST_DATABASE_URL=$(.ci/postgres.sh start)
//! cargo run --release --features postgres,test-util --example claim_throughput [items] [batch]
//! ```
//!
//! Each worker loops: claim a batch (`FOR UPDATE SKIP LOCKED`), then complete each item (one
//! statement per item, as `run_worker` does), until nothing is left to claim. The in-memory
//! queue is measured the same way for comparison.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ninjaone_servicenow::model::OrganizationId;
use ninjaone_servicenow::ports::{WorkItem, WorkQueue, WorkResult, WorkTask};
use ninjaone_servicenow::store::{MemoryQueue, PostgresStore, TenantId};
use ninjaone_servicenow::testing::fixed_time;

const LEASE: Duration = Duration::from_secs(300);

fn items(n: u32) -> Vec<WorkItem> {
    (1..=n)
        .filter_map(|i| OrganizationId::new(i).ok())
        .map(|org| WorkItem::new(org, None, 1, WorkTask::Activate))
        .collect()
}

/// Drains `queues` (one per worker) concurrently; returns (items done, seconds).
async fn drain(queues: Vec<Arc<dyn WorkQueue>>, batch: usize) -> Result<(usize, f64), String> {
    let start = Instant::now();
    let tasks: Vec<_> = queues
        .into_iter()
        .enumerate()
        .map(|(i, queue)| {
            tokio::spawn(async move {
                let worker = format!("worker-{i}");
                let now = fixed_time();
                let result = WorkResult::Applied("activated".to_owned());
                let mut done = 0usize;
                loop {
                    let claims = queue
                        .claim(&worker, batch, now, LEASE)
                        .await
                        .map_err(|e| e.to_string())?;
                    if claims.is_empty() {
                        return Ok::<usize, String>(done);
                    }
                    for claim in &claims {
                        queue
                            .complete(claim, &result, now)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    done += claims.len();
                }
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.map_err(|e| e.to_string())??;
    }
    Ok((total, start.elapsed().as_secs_f64()))
}

/// Items per second.
fn rate(done: usize, secs: f64) -> f64 {
    f64::from(u32::try_from(done).unwrap_or(u32::MAX)) / secs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let batch: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let url = std::env::var("ORGSYNC_TEST_DATABASE_URL").ok();
    println!("items {n}, batch {batch}");
    println!(
        "{:<10} {:>8} {:>10} {:>12}",
        "queue", "workers", "seconds", "items/s"
    );
    for workers in [1usize, 2, 4] {
        let queue = MemoryQueue::new();
        queue.enqueue(items(n), fixed_time()).await?;
        let queues: Vec<Arc<dyn WorkQueue>> =
            (0..workers).map(|_| Arc::new(queue.clone()) as _).collect();
        let (done, secs) = drain(queues, batch).await?;
        println!(
            "{:<10} {workers:>8} {secs:>10.3} {:>12.0}",
            "memory",
            rate(done, secs)
        );
    }
    let Some(url) = url else {
        println!(
            "SKIPPED PostgreSQL: set ORGSYNC_TEST_DATABASE_URL (export \
             ORGSYNC_TEST_DATABASE_URL=$(.ci/postgres.sh start))"
        );
        return Ok(());
    };
    for workers in [1usize, 2, 4] {
        let tenant: TenantId = format!("claim-throughput-{workers}").parse()?;
        let base = PostgresStore::connect(&url)
            .await?
            .for_tenant(tenant.clone());
        base.purge_tenant().await?;
        base.enqueue(items(n), fixed_time()).await?;
        let mut queues: Vec<Arc<dyn WorkQueue>> = Vec::new();
        for _ in 0..workers {
            let store = PostgresStore::connect_with(&url, 1)
                .await?
                .for_tenant(tenant.clone());
            queues.push(Arc::new(store));
        }
        let (done, secs) = drain(queues, batch).await?;
        let counts = base.counts().await?;
        let expected = usize::try_from(n)?;
        if (counts.done, counts.claims) != (expected, expected) {
            return Err(format!(
                "expected {expected} items done, each claimed once; found {counts:?}"
            )
            .into());
        }
        println!(
            "{:<10} {workers:>8} {secs:>10.3} {:>12.0}",
            "postgres",
            rate(done, secs)
        );
        base.purge_tenant().await?;
    }
    Ok(())
}
