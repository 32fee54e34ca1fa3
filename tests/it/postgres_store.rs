//! `PostgresStore` against a real PostgreSQL (`ORGSYNC_TEST_DATABASE_URL`): the store contract,
//! migrations run twice and concurrently, tenants kept apart, conflicts between connections,
//! errors without passwords, and four workers (and a killed one) on one database; TLS verified
//! (a wrong CA and a wrong host name refused, channel binding on), plain TCP refused off
//! loopback, connect, statement and lock timeouts, the namespaced migrations table.
//!
//! Without `ORGSYNC_TEST_DATABASE_URL` every test prints a SKIPPED line and passes; `.ci/run`
//! always provides one (see `.ci/postgres.sh`): a cluster that takes TCP clients over TLS only,
//! with `sslmode=verify-full&sslrootcert=<its throwaway CA>` in the URL.

use crate::support::workers as support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ninjaone_servicenow::clock::Clock;
use ninjaone_servicenow::model::{
    AuditFilter, MinSeverity, SyncConfig, SyncStatus, TicketTemplate,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{ConfigStore, StoreErrorKind, WorkQueue};
use std::time::Duration;

use ninjaone_servicenow::store::{
    MIGRATIONS, MIGRATIONS_TABLE, PlainTcp, PostgresOptions, PostgresStore, TenantId,
};
use ninjaone_servicenow::testing::ids::org;
use ninjaone_servicenow::testing::{fixed_time, store_contract};
use support::{World, dying, four_workers, kill_one_worker, world};

const URL_VAR: &str = "ORGSYNC_TEST_DATABASE_URL";

/// The test database's URL, or `None` after saying loudly that the test was skipped.
fn database(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            // Straight to stderr, past the test harness's capture, so the skip is seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: set {URL_VAR} (for example: export {URL_VAR}=$(.ci/postgres.sh start)) \
                 to run the PostgreSQL test `{test}`"
            );
            None
        }
    }
}

/// A tenant of its own for each test (tests run in parallel on one database), emptied first.
async fn tenant_store(url: &str, test: &str) -> PostgresStore {
    static N: AtomicUsize = AtomicUsize::new(0);
    let store = PostgresStore::connect(url).await.expect("connect");
    let tenant: TenantId = format!(
        "{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
    .parse()
    .expect("a tenant id");
    let store = store.for_tenant(tenant);
    store.purge_tenant().await.expect("purge the tenant");
    store
}

#[tokio::test]
async fn postgres_store_keeps_the_contract() {
    let Some(url) = database("postgres_store_keeps_the_contract") else {
        return;
    };
    let store = tenant_store(&url, "contract").await;
    store_contract(&store).await;
    store.purge_tenant().await.expect("purge");
}

/// The `sslrootcert` of a URL, when it has one.
fn root_cert(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "sslrootcert")
        .map(|(_, v)| v.into_owned())
}

/// `url` with its `sslrootcert` replaced by `ca` (or removed), and `extra` parameters added.
fn with_ca(url: &str, ca: Option<&str>, extra: &[(&str, &str)]) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "sslrootcert")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(ca) = ca {
        pairs.push(("sslrootcert".to_owned(), ca.to_owned()));
    }
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// A client of its own on the database at `url`, over TLS when the URL names a CA (the test
/// cluster takes TCP clients over TLS only), for administration: creating databases, holding
/// locks, looking at sessions.
async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "sslrootcert" && k != "sslmode")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let plain = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let Some(ca) = root_cert(url) else {
        let (client, connection) = tokio_postgres::connect(&plain, tokio_postgres::NoTls)
            .await
            .expect("connect for administration");
        tokio::spawn(connection);
        return client;
    };
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&ca).expect("the test CA");
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(cert.expect("a certificate")).expect("a root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut config: tokio_postgres::Config = plain.parse().expect("a URL");
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    let (client, connection) = config
        .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        .await
        .expect("connect for administration over TLS");
    tokio::spawn(connection);
    client
}

/// Runs one statement on the database at `url` (for creating and dropping test databases).
async fn admin(url: &str, sql: &str) {
    admin_client(url).await.batch_execute(sql).await.expect(sql);
}

/// A database of its own, created empty; returns its URL.
async fn fresh_database(url: &str, name: &str) -> String {
    admin(url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    admin(url, &format!("CREATE DATABASE {name}")).await;
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut fresh = url::Url::parse(base).expect("a URL");
    fresh.set_path(name);
    if query.is_empty() {
        fresh.to_string()
    } else {
        format!("{fresh}?{query}")
    }
}

#[tokio::test]
async fn migrations_run_twice_and_concurrently() {
    let Some(url) = database("migrations_run_twice_and_concurrently") else {
        return;
    };
    // A database of its own, so the four connects race on an empty schema.
    let name = format!("orgsync_migrations_{}", std::process::id());
    let fresh = fresh_database(&url, &name).await;

    let stores = futures::future::join_all((0..4).map(|_| PostgresStore::connect(&fresh))).await;
    let stores: Vec<PostgresStore> = stores.into_iter().map(|s| s.expect("connect")).collect();
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    for store in &stores {
        assert_eq!(store.applied_migrations().await.expect("versions"), all);
    }
    let again = futures::future::join_all(stores.iter().map(PostgresStore::migrate)).await;
    for applied in again {
        assert_eq!(applied.expect("migrate again"), Vec::<i32>::new());
    }
    // The migrated schema works.
    store_contract(&stores[0]).await;
    drop(stores);
    admin(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}

#[tokio::test]
async fn a_database_at_migration_1_gets_ticket_templates_and_keeps_its_configurations() {
    let Some(url) = database("a_database_at_migration_1_gets_ticket_templates") else {
        return;
    };
    let name = format!("orgsync_templates_{}", std::process::id());
    admin(&url, &format!("DROP DATABASE IF EXISTS {name}")).await;
    admin(&url, &format!("CREATE DATABASE {name}")).await;
    let mut fresh = url::Url::parse(&url).expect("a URL");
    fresh.set_path(&name);
    let fresh = fresh.to_string();
    // The schema as version 0.1 left it: migration 1 only, with a configuration in it.
    // (0.1 recorded it in the generic `schema_migrations`, under migration 1's own name.)
    let (_, title, first) = MIGRATIONS[0];
    admin(
        &fresh,
        &format!(
            "{first}
             CREATE TABLE schema_migrations (
                 version integer PRIMARY KEY, name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO schema_migrations (version, name) VALUES (1, '{title}');
             INSERT INTO sync_configs (tenant, organization, version, body) VALUES ('default', 2, 1,
               '{{\"organization\": 2, \"company\": null, \"status\": \"pending\", \"version\": 1,
                 \"created_at\": \"2025-11-02T08:00:00Z\", \"updated_at\": \"2025-11-02T08:00:00Z\"}}');"
        ),
    )
    .await;

    let store = PostgresStore::connect(&fresh)
        .await
        .expect("connect migrates");
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(store.applied_migrations().await.expect("versions"), all);
    let configs = store.configs().await.expect("the old configuration reads");
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].ticket_template(), None);

    let mut template = TicketTemplate::new("servers".parse().expect("a name"));
    template.set_assignment_group(Some(
        "0c43f35d4f5a1200c0a8016a9310c7d5".parse().expect("an id"),
    ));
    template.set_min_severity(Some(MinSeverity::Critical));
    template.set_source_types(["CONDITION_CPU".parse().expect("a type")]);
    template.set_default(true);
    store
        .put_ticket_template(template.clone())
        .await
        .expect("save a template");
    assert_eq!(
        store.ticket_templates().await.expect("read"),
        [template.clone()]
    );
    let other = store.for_tenant("other".parse().expect("a tenant"));
    assert_eq!(other.ticket_templates().await.expect("read"), []);

    // Two defaults saved at once on two connections: never two defaults.
    let saves = futures::future::join_all((0..6).map(|i| {
        let store = store.clone();
        async move {
            let mut t = TicketTemplate::new(format!("t{i}").parse().expect("a name"));
            t.set_default(true);
            store.put_ticket_template(t).await
        }
    }))
    .await;
    for saved in &saves {
        if let Err(err) = saved {
            assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
        }
    }
    let defaults = store
        .ticket_templates()
        .await
        .expect("read")
        .into_iter()
        .filter(TicketTemplate::is_default)
        .count();
    assert_eq!(defaults, 1);
    drop((store, other));
    admin(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
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

#[tokio::test]
async fn plain_tcp_off_loopback_is_refused_before_anything_is_sent() {
    // No database needed: refused while reading the URL.
    for url in [
        "postgres://orgsync:hunter2-secret@db.example.com/orgsync?sslmode=disable",
        "host=10.0.0.7 user=orgsync password=hunter2-secret sslmode=disable",
    ] {
        let err = PostgresStore::connect(url).await.expect_err(url);
        assert_eq!(err.kind(), StoreErrorKind::Invalid, "{err}");
        assert!(err.message().contains("plain TCP"), "{err}");
        assert!(err.message().contains("PlainTcp::Anywhere"), "{err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    }
    // Opted in, it tries (and fails to resolve a name that cannot exist).
    let err = PostgresStore::connect_with_options(
        "postgres://orgsync:pw@db.invalid/orgsync?sslmode=disable",
        PostgresOptions::builder().plain_tcp(PlainTcp::Anywhere),
    )
    .await
    .expect_err("no such host");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn the_store_talks_tls_with_channel_binding_to_the_test_cluster() {
    let Some(url) = database("the_store_talks_tls_with_channel_binding_to_the_test_cluster") else {
        return;
    };
    assert!(
        root_cert(&url).is_some(),
        "the test cluster's URL names its CA (sslrootcert): {URL_VAR} comes from .ci/postgres.sh"
    );
    let store = tenant_store(&url, "tls").await;
    store.configs().await.expect("a read over TLS");
    assert!(format!("{store:?}").contains("tls: true"), "{store:?}");
    // Every session of the store's, seen from the server: TLS, and SCRAM with channel binding
    // (the only authentication the cluster's hostssl lines accept, and what the store requires).
    let admin = admin_client(&url).await;
    let row = admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl)
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.application_name = 'ninjaone-servicenow'",
            &[],
        )
        .await
        .expect("sessions");
    let (all, tls): (i64, i64) = (row.get(0), row.get(1));
    assert!(all >= 1, "the store's sessions are visible");
    assert_eq!(all, tls, "every session of the store uses TLS");
}

#[tokio::test]
async fn a_wrong_ca_and_a_wrong_host_name_are_refused() {
    let Some(url) = database("a_wrong_ca_and_a_wrong_host_name_are_refused") else {
        return;
    };
    let unrelated = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/postgres/unrelated-ca.pem"
    );
    // A CA that did not sign the server's certificate; then the bundled Mozilla roots only.
    for wrong in [
        with_ca(&url, Some(unrelated), &[]),
        with_ca(&url, None, &[]),
    ] {
        let err = PostgresStore::connect(&wrong).await.expect_err("refused");
        assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
        assert!(err.message().contains("UnknownIssuer"), "{err}");
        assert!(!format!("{err} {err:?}").contains("orgsync-test"), "{err}");
    }
    // The right CA, but a host name the certificate does not carry (reached at 127.0.0.1).
    let port = url::Url::parse(url.split_once('?').map_or(url.as_str(), |(b, _)| b))
        .expect("a URL")
        .port()
        .unwrap_or(5432);
    let renamed = url.replacen(
        &format!("127.0.0.1:{port}"),
        &format!("db.wrong.example:{port}"),
        1,
    );
    let renamed = with_ca(
        &renamed,
        root_cert(&url).as_deref(),
        &[("hostaddr", "127.0.0.1")],
    );
    let err = PostgresStore::connect(&renamed)
        .await
        .expect_err("wrong name");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(
        err.message()
            .contains("not valid for name \"db.wrong.example\""),
        "{err}"
    );
}

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

#[tokio::test]
async fn migrations_recorded_in_the_generic_table_are_carried_forward() {
    let Some(url) = database("migrations_recorded_in_the_generic_table_are_carried_forward") else {
        return;
    };
    // A database migrated by an earlier version: schema applied, recorded in schema_migrations.
    let name = format!("orgsync_forward_{}", std::process::id());
    let old = fresh_database(&url, &name).await;
    let (version, title, sql) = MIGRATIONS[0];
    admin(
        &old,
        &format!(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO schema_migrations (version, name) VALUES ({version}, '{title}'),
                 (20240101, 'another tool''s migration');
             {sql}"
        ),
    )
    .await;
    let store = PostgresStore::connect(&old).await.expect("migrate forward");
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(store.applied_migrations().await.expect("versions"), all);
    store_contract(&store.for_tenant("forward".parse().unwrap())).await;
    let check = admin_client(&old).await;
    let ours: i64 = check
        .query_one(
            &format!("SELECT count(*) FROM {MIGRATIONS_TABLE} WHERE version = 20240101"),
            &[],
        )
        .await
        .expect("ours")
        .get(0);
    assert_eq!(ours, 0, "another tool's row is not carried");
    let left: i64 = check
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .expect("the generic table")
        .get(0);
    assert_eq!(left, 2, "the generic table is left as it was");
    drop((store, check));

    // Another tool's schema_migrations of another shape is no obstacle and left alone.
    let name = format!("orgsync_foreign_{}", std::process::id());
    let foreign = fresh_database(&url, &name).await;
    admin(
        &foreign,
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
         INSERT INTO schema_migrations VALUES ('20230101000000');",
    )
    .await;
    let store = PostgresStore::connect(&foreign).await.expect("migrate");
    assert_eq!(store.applied_migrations().await.expect("versions"), all);
    drop(store);
    admin(
        &url,
        &format!(
            "DROP DATABASE orgsync_forward_{} WITH (FORCE)",
            std::process::id()
        ),
    )
    .await;
    admin(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}

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
