//! The incident router's lock per tenant and integration id, no duplicate from two routers.

use super::*;

/// An active configuration of `org` mapped to `company`, allowing incidents.
fn routed(org_id: u32, company: ninjaone_servicenow::model::SysId) -> SyncConfig {
    use ninjaone_servicenow::machine::SyncEvent;
    let mut c = SyncConfig::new(org(org_id), Some(company), fixed_time());
    c.set_allow_incidents(true);
    c.apply(SyncEvent::Enqueue, None, fixed_time())
        .expect("enqueue");
    c.apply(SyncEvent::Succeeded, None, fixed_time())
        .expect("succeed");
    c
}

#[tokio::test]
async fn one_router_lock_per_tenant_and_integration_id_across_connections() {
    let Some(url) = database("one_router_lock_per_tenant_and_integration_id_across_connections")
    else {
        return;
    };
    let a = tenant_store(&url, "router-lock").await;
    let b = PostgresStore::connect(&url)
        .await
        .expect("connect")
        .for_tenant(a.tenant().clone());
    let other_tenant = tenant_store(&url, "routers-other").await;
    // Per tenant and integration id, across connections.
    let held = a.lock_router("acme").await.expect("lock").expect("free");
    assert!(
        b.lock_router("acme").await.expect("try").is_none(),
        "held by a"
    );
    let beta = b
        .lock_router("beta")
        .await
        .expect("lock")
        .expect("another id is free");
    let elsewhere = other_tenant
        .lock_router("acme")
        .await
        .expect("lock")
        .expect("another tenant's is free");
    for guard in [held, beta, elsewhere] {
        guard.release().await.expect("release");
    }
}

/// Fakes of 2 organizations × 2 devices with 12 alerts, and `store` configured to route them.
async fn routed_tenant(
    store: &PostgresStore,
) -> (
    ninjaone_servicenow::testing::FakeNinjaOne,
    ninjaone_servicenow::testing::FakeServiceNow,
    ninjaone_servicenow::testing::Faults,
) {
    use ninjaone_servicenow::model::IntegrationMode;
    use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, Faults};
    let faults = Faults::new();
    let ninja = FakeNinjaOne::builder()
        .organizations(2)
        .devices_per_organization(2)
        .alerts(12)
        .faults(faults.clone())
        .build();
    let snow = FakeServiceNow::builder()
        .companies(2)
        .faults(faults.clone())
        .build();
    store
        .set_mode(IntegrationMode::Inactive)
        .await
        .expect("mode");
    for (i, company) in snow.all_companies().into_iter().enumerate() {
        let id = u32::try_from(i + 1).expect("small");
        store
            .write_config(routed(id, company.sys_id))
            .await
            .expect("config");
    }
    (ninja, snow, faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_on_two_connections_create_no_duplicate() {
    use std::collections::BTreeMap;

    use ninjaone_servicenow::clock::ManualClock;
    use ninjaone_servicenow::engine::ApplyMode;
    use ninjaone_servicenow::engine::Stop;
    use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
    let Some(url) = database("two_routers_on_two_connections_create_no_duplicate") else {
        return;
    };
    let a = tenant_store(&url, "routers").await;
    let b = PostgresStore::connect(&url)
        .await
        .expect("connect")
        .for_tenant(a.tenant().clone());
    let (ninja, snow, faults) = routed_tenant(&a).await;
    let router = |store: PostgresStore| {
        IncidentRouter::new(
            Ports::new(
                Arc::new(ninja.clone()),
                Arc::new(snow.clone()),
                Arc::new(store),
                Arc::new(ManualClock::new(fixed_time())),
            ),
            IncidentSettings::new("acme").expect("id"),
        )
    };
    let (first, second) = (router(a.clone()), router(b.clone()));
    let counts = || {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for i in snow.all_incidents() {
            *counts
                .entry(i.correlation_id.unwrap_or_default())
                .or_default() += 1;
        }
        counts
    };

    // The first router is mid-way (3 created, its next write never returns): the second,
    // on its own connection, creates nothing.
    faults.stall_after_writes(3);
    let running = tokio::spawn({
        let first = first.clone();
        async move { first.run_once(ApplyMode::Apply).await }
    });
    for _ in 0..10_000 {
        if snow.all_incidents().len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!(snow.all_incidents().len(), 3);
    let report = second.run_once(ApplyMode::Apply).await.expect("pass");
    assert!(
        matches!(report.stop, Some(Stop::RouterBusy { .. })),
        "{:?}",
        report.stop
    );
    assert_eq!((report.created, report.remote_writes), (0, 0));

    // The first dies there; its session closes and the second converges.
    running.abort();
    let _ = running.await;
    faults.clear_faults();
    let mut converged = None;
    for _ in 0..10_000 {
        let report = second.run_once(ApplyMode::Apply).await.expect("pass");
        if report.stop.is_none() {
            converged = Some(report);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let report = converged.expect("the lock of a closed session is freed");
    assert_eq!((report.adopted, report.created), (3, 9));
    assert!(counts().values().all(|n| *n == 1));

    // Racing passes on both connections: every new alert becomes one incident.
    for round in 0..5 {
        for device in ninja.all_devices() {
            ninja.raise_alert(device.id, format!("round {round}"), fixed_time());
        }
        let (x, y) = tokio::join!(
            first.run_once(ApplyMode::Apply),
            second.run_once(ApplyMode::Apply)
        );
        let (x, y) = (x.expect("pass"), y.expect("pass"));
        for report in [&x, &y] {
            assert!(
                report.stop.is_none() || matches!(report.stop, Some(Stop::RouterBusy { .. })),
                "{:?}",
                report.stop
            );
        }
        // Whoever was busy catches up.
        first.run_once(ApplyMode::Apply).await.expect("pass");
        assert_eq!(snow.all_incidents().len(), 12 + 4 * (round + 1));
        assert!(counts().values().all(|n| *n == 1), "round {round}");
    }
}

#[tokio::test]
async fn a_store_of_one_connection_still_reads_and_writes_while_it_holds_the_router_lock() {
    let Some(url) =
        database("a_store_of_one_connection_still_reads_and_writes_while_it_holds_the_router_lock")
    else {
        return;
    };
    let wide = tenant_store(&url, "one-connection").await;
    let one = PostgresStore::connect_with(&url, 1)
        .await
        .expect("connect")
        .for_tenant(wide.tenant().clone());
    let held = one.lock_router("acme").await.expect("lock").expect("free");
    // The pass reads the configurations under the lock: with the lock on the pool's only
    // connection, this waited for ever (and the lock was never released).
    let read = tokio::time::timeout(Duration::from_secs(30), one.configs()).await;
    assert!(read.is_ok(), "reading under the router lock never returned");
    read.unwrap().expect("configs");
    held.release().await.expect("release");
    let planner = one.lock_planner().await.expect("lock").expect("free");
    let read = tokio::time::timeout(Duration::from_secs(30), one.configs()).await;
    assert!(
        read.is_ok(),
        "reading under the planner lock never returned"
    );
    planner.release().await.expect("release");
}
