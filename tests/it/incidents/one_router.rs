//! One router at a time.

use super::*;

/// Polls `future` once: it runs until its first write stalls.
fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    future.poll(&mut cx).is_ready()
}

#[test]
fn two_concurrent_passes_on_one_memory_store_create_no_duplicate() {
    let w = world(2, 2, 8);
    let first = w.router();
    let second = w.router(); // another worker: its own router, the same store
    // The first pass is mid-way: 3 incidents created, its next write never returns.
    w.faults.stall_after_writes(3);
    let mut running = Box::pin(first.run_once(ApplyMode::Apply));
    assert!(!poll_once(running.as_mut()), "the first pass is mid-way");
    assert_eq!(w.snow.all_incidents().len(), 3);

    w.faults.reset_counts();
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert!(
        matches!(&report.stop, Some(Stop::RouterBusy { integration_id }) if integration_id == INTEGRATION),
        "{:?}",
        report.stop
    );
    assert_eq!((report.created, report.remote_writes), (0, 0));
    assert_eq!(
        w.faults.total_calls(),
        0,
        "a busy pass reads nothing remotely"
    );
    assert!(matches!(
        report.next_run,
        ninjaone_servicenow::engine::NextRun::At(_)
    ));
    assert!(
        matches!(
            &report.stop,
            Some(Stop::RouterBusy { integration_id }) if integration_id == INTEGRATION
        ),
        "{:?}",
        report.stop
    );
    // A dry run takes no lock.
    let report = block_on(second.run_once(ApplyMode::DryRun)).unwrap();
    assert_eq!((report.stop, report.remote_writes), (None, 0));

    // The first pass dies there: its lock goes with it, and the second converges.
    drop(running);
    w.faults.clear_faults();
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!(report.stop, None);
    assert_eq!((report.adopted, report.created), (3, 5));
    assert_eq!(w.snow.all_incidents().len(), 8);
    assert!(w.incident_counts().values().all(|n| *n == 1));

    // Another integration id has a lock of its own.
    w.faults.stall_after_writes(0);
    w.ninja
        .raise_alert(w.ninja.all_devices()[0].id, "new", fixed_time())
        .unwrap();
    let mut running = Box::pin(first.run_once(ApplyMode::Apply));
    assert!(!poll_once(running.as_mut()));
    assert!(
        block_on(w.store.lock_router(INTEGRATION))
            .unwrap()
            .is_none()
    );
    let other = block_on(w.store.lock_router("other")).unwrap();
    assert!(other.is_some());
    drop(running);
    assert!(
        block_on(w.store.lock_router(INTEGRATION))
            .unwrap()
            .is_some()
    );
}

#[test]
fn threads_racing_on_one_store_create_each_incident_once() {
    let w = world(3, 3, 30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let reports = runtime.block_on(async {
        let passes: Vec<_> = (0..4)
            .map(|_| {
                let router = w.router();
                tokio::spawn(async move { router.run_once(ApplyMode::Apply).await })
            })
            .collect();
        let mut reports = Vec::new();
        for pass in passes {
            reports.push(pass.await.unwrap().unwrap());
        }
        reports
    });
    let created: usize = reports.iter().map(|r| r.created).sum();
    assert_eq!(created, 30);
    assert!(
        reports
            .iter()
            .all(|r| r.stop.is_none() || matches!(r.stop, Some(Stop::RouterBusy { .. })))
    );
    assert_eq!(w.snow.all_incidents().len(), 30);
    assert!(w.incident_counts().values().all(|n| *n == 1));
}

#[test]
fn two_routers_on_one_json_file_create_no_duplicate() {
    use std::sync::Arc;

    use ninjaone_servicenow::clock::ManualClock;
    use ninjaone_servicenow::engine::incidents::IncidentRouter;
    use ninjaone_servicenow::ports::StoreErrorKind;
    use ninjaone_servicenow::store::JsonFileStore;
    let w = world(1, 2, 6);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = Arc::new(JsonFileStore::open(&path).unwrap());
    block_on(async {
        store.set_mode(IntegrationMode::Inactive).await.unwrap();
        for config in w.store.configs().await.unwrap() {
            let mut config = config;
            config.set_version(0);
            store.write_config(config).await.unwrap();
        }
    });
    let router = |store: Arc<JsonFileStore>| {
        IncidentRouter::new(
            Ports::new(
                Arc::new(w.ninja.clone()),
                Arc::new(w.snow.clone()),
                store,
                Arc::new(ManualClock::new(fixed_time())),
            ),
            w.settings(),
        )
    };
    // A second store instance on the file (another process, or another open in this one)
    // cannot exist while the first holds the file's lock.
    assert_eq!(
        JsonFileStore::open(&path).unwrap_err().kind(),
        StoreErrorKind::Locked
    );
    // Two routers sharing the open store: one pass at a time.
    let (first, second) = (router(store.clone()), router(store.clone()));
    w.faults.stall_after_writes(2);
    let mut running = Box::pin(first.run_once(ApplyMode::Apply));
    assert!(!poll_once(running.as_mut()));
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert!(matches!(report.stop, Some(Stop::RouterBusy { .. })));
    assert_eq!(report.created, 0);
    drop(running); // the first pass dies mid-way
    w.faults.clear_faults();
    let report = block_on(second.run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.adopted, report.created), (2, 4));
    // The file, reopened after the store is dropped, holds each record once.
    drop((first, second, store));
    let reopened = Arc::new(JsonFileStore::open(&path).unwrap());
    assert_eq!(block_on(reopened.ticket_records()).unwrap().len(), 6);
    let report = block_on(router(reopened).run_once(ApplyMode::Apply)).unwrap();
    assert_eq!((report.created, report.remote_writes), (0, 0));
    assert_eq!(w.snow.all_incidents().len(), 6);
    assert!(w.incident_counts().values().all(|n| *n == 1));
}
