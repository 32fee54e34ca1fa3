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

mod contract;
mod migrations;
mod routers;
mod timeouts;
mod tls;
mod workers;

// ---- harness ----

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
