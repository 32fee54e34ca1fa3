//! The store contract on PostgreSQL, tenants kept apart, connections in conflict, no passwords.

use super::*;

#[tokio::test]
async fn postgres_store_keeps_the_contract() {
    let Some(url) = database("postgres_store_keeps_the_contract") else {
        return;
    };
    let store = tenant_store(&url, "contract").await;
    store_contract(&store).await;
    store.purge_tenant().await.expect("purge");
}

#[tokio::test]
async fn tenants_are_kept_apart() {
    let Some(url) = database("tenants_are_kept_apart") else {
        return;
    };
    let a = tenant_store(&url, "apart-a").await;
    let b = tenant_store(&url, "apart-b").await;
    a.write_config(SyncConfig::new(org(1), None, fixed_time()))
        .await
        .expect("insert in a");
    assert_eq!(b.configs().await.expect("b's configs"), Vec::new());
    // The same organization in another tenant is another configuration.
    let in_b = b
        .write_config(SyncConfig::new(org(1), None, fixed_time()))
        .await
        .expect("insert in b");
    assert_eq!(in_b.version(), 1);
    assert_eq!(a.audit(&AuditFilter::all()).await.expect("audit").len(), 0);
}

#[tokio::test]
async fn concurrent_writers_never_lose_an_update() {
    let Some(url) = database("concurrent_writers_never_lose_an_update") else {
        return;
    };
    let first = tenant_store(&url, "race").await;
    // A second store with connections of its own, on the same tenant.
    let second = PostgresStore::connect(&url)
        .await
        .expect("connect")
        .for_tenant(first.tenant().clone());
    // Two inserts of one organization: exactly one wins.
    let (x, y) = tokio::join!(
        first.write_config(SyncConfig::new(org(7), None, fixed_time())),
        second.write_config(SyncConfig::new(org(7), None, fixed_time())),
    );
    let kinds: Vec<_> = [&x, &y]
        .iter()
        .filter_map(|r| {
            r.as_ref()
                .err()
                .map(ninjaone_servicenow::ports::StoreError::kind)
        })
        .collect();
    assert_eq!(kinds, [StoreErrorKind::Conflict], "{x:?} {y:?}");
    // Ten updates from the same version across both stores: exactly one is saved.
    let base = first.config(org(7)).await.expect("read").expect("stored");
    let updates = (0..10).map(|i| {
        let store = if i % 2 == 0 { &first } else { &second };
        let mut edit = base.clone();
        edit.set_allow_incidents(i % 3 == 0);
        async move { store.write_config(edit).await }
    });
    let results = futures::future::join_all(updates).await;
    let saved = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(saved, 1, "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    }
    assert_eq!(
        first.config(org(7)).await.unwrap().unwrap().version(),
        base.version() + 1
    );
}

#[tokio::test]
async fn errors_never_show_the_password() {
    // No database needed: nothing listens on port 1.
    let err = PostgresStore::connect("postgres://orgsync:hunter2-secret@127.0.0.1:1/orgsync")
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        err.message().contains("127.0.0.1:1/orgsync as orgsync"),
        "{err}"
    );
    let err = PostgresStore::connect("postgres://orgsync:hunter2-secret@127.0.0.1:notaport/x")
        .await
        .expect_err("a bad URL");
    assert_eq!(err.kind(), StoreErrorKind::Invalid);
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");

    let Some(url) = database("errors_never_show_the_password (Debug)") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(auth, _)| auth.split_once(':'))
        .map(|(_, pw)| pw.to_owned());
    if let Some(password) = password {
        assert!(!format!("{store:?}").contains(&password), "{store:?}");
    }
}

#[tokio::test]
async fn one_planner_per_tenant_across_connections() {
    let Some(url) = database("one_planner_per_tenant_across_connections") else {
        return;
    };
    let a = tenant_store(&url, "planner").await;
    let b = PostgresStore::connect(&url)
        .await
        .expect("connect")
        .for_tenant(a.tenant().clone());
    let other = tenant_store(&url, "planner-other").await;
    let guard = a.lock_planner().await.expect("lock").expect("free");
    assert!(b.lock_planner().await.expect("try").is_none(), "held by a");
    let elsewhere = other
        .lock_planner()
        .await
        .expect("lock")
        .expect("another tenant's is free");
    elsewhere.release().await.expect("release");
    guard.release().await.expect("release");
    let guard = b.lock_planner().await.expect("lock").expect("free again");
    // Dropped without release: the session closes and PostgreSQL frees the lock.
    drop(guard);
    drop(b);
    let mut freed = false;
    for _ in 0..10_000 {
        if let Some(g) = a.lock_planner().await.expect("lock") {
            g.release().await.expect("release");
            freed = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(freed, "the lock of a closed session is freed");
}
