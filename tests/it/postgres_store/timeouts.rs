//! Connect, statement and lock timeouts: a held migration lock, a held row, a silent server.

use super::*;

#[tokio::test]
async fn a_held_migration_lock_fails_with_its_name_after_the_lock_timeout() {
    let Some(url) = database("a_held_migration_lock_fails_with_its_name_after_the_lock_timeout")
    else {
        return;
    };
    PostgresStore::connect(&url).await.expect("migrated");
    let holder = admin_client(&url).await;
    // The migration lock's key (see src/store/postgres.rs).
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&0x6f72_6773_796e_6301_i64])
        .await
        .expect("hold the migration lock");
    let err = PostgresStore::connect_with_options(
        &url,
        PostgresOptions::builder().lock_timeout(Duration::from_millis(200)),
    )
    .await
    .expect_err("the lock is held");
    assert_eq!(err.kind(), StoreErrorKind::Locked, "{err}");
    assert!(err.message().contains("the migration lock"), "{err}");
    assert!(
        err.message()
            .contains("PostgresOptionsBuilder::lock_timeout"),
        "{err}"
    );
    holder
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&0x6f72_6773_796e_6301_i64],
        )
        .await
        .expect("release");
    PostgresStore::connect(&url).await.expect("free again");
}

#[tokio::test]
async fn a_row_held_elsewhere_fails_after_the_lock_or_the_statement_timeout() {
    let Some(url) = database("a_row_held_elsewhere_fails_after_the_lock_or_the_statement_timeout")
    else {
        return;
    };
    let store = tenant_store(&url, "held-row").await;
    let saved = store
        .write_config(SyncConfig::new(org(3), None, fixed_time()))
        .await
        .expect("insert");
    let holder = admin_client(&url).await;
    holder.batch_execute("BEGIN").await.expect("begin");
    holder
        .execute(
            "SELECT 1 FROM sync_configs WHERE tenant = $1 FOR UPDATE",
            &[&store.tenant().as_str()],
        )
        .await
        .expect("hold the row");
    let short_lock = PostgresStore::connect_with_options(
        &url,
        PostgresOptions::builder().lock_timeout(Duration::from_millis(200)),
    )
    .await
    .expect("connect")
    .for_tenant(store.tenant().clone());
    let mut edit = saved.clone();
    edit.set_allow_incidents(!saved.allow_incidents());
    let err = short_lock
        .write_config(edit.clone())
        .await
        .expect_err("row held");
    assert_eq!(err.kind(), StoreErrorKind::Locked, "{err}");
    // Lock waits unbounded by their own timeout still end with the statement's.
    let short_statement = PostgresStore::connect_with_options(
        &url,
        PostgresOptions::builder()
            .lock_timeout(Duration::from_secs(3600))
            .statement_timeout(Duration::from_millis(200)),
    )
    .await
    .expect("connect")
    .for_tenant(store.tenant().clone());
    let err = short_statement
        .write_config(edit.clone())
        .await
        .expect_err("row held");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("statement timeout"), "{err}");
    assert!(
        err.message()
            .contains("raise PostgresOptionsBuilder::statement_timeout"),
        "{err}"
    );
    holder.batch_execute("ROLLBACK").await.expect("rollback");
    // Nothing was written meanwhile; the edit goes through once the row is free.
    assert_eq!(store.config(org(3)).await.unwrap().unwrap(), saved);
    store.write_config(edit).await.expect("free again");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_connect_timeout() {
    // No database needed: a loopback listener that accepts and stays silent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let err = PostgresStore::connect_with_options(
        &format!("postgres://orgsync:pw@127.0.0.1:{port}/orgsync"),
        PostgresOptions::builder().connect_timeout(Duration::from_millis(300)),
    )
    .await
    .expect_err("no answer");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("no session within 300 ms"), "{err}");
    assert!(
        err.message()
            .contains("raise PostgresOptionsBuilder::connect_timeout"),
        "{err}"
    );
    silent.abort();
}
