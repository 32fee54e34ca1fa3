//! TLS verified (channel binding; wrong CA and host name refused), plain TCP off loopback refused.

use super::*;

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
