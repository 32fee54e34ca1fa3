//! Unit tests of the URL reading, the TLS decision and the options' clamping.

use std::path::Path;

use super::*;

fn plan(url: &str, options: &PostgresOptions) -> Result<Connector, StoreError> {
    connector(url, options)
}

#[test]
fn tls_is_required_off_loopback_and_plain_tcp_there_is_refused() {
    let o = PostgresOptions::default();
    assert!(
        plan("postgres://u:p@db.example.com/x", &o)
            .unwrap()
            .uses_tls()
    );
    assert!(
        plan("postgres://u:p@db.example.com/x?sslmode=prefer", &o)
            .unwrap()
            .uses_tls()
    );
    assert!(
        plan("postgres://u:p@10.1.2.3/x?sslmode=verify-full", &o)
            .unwrap()
            .uses_tls()
    );
    let err = plan("postgres://u:p@db.example.com/x?sslmode=disable", &o)
        .err()
        .expect("refused");
    assert_eq!(err.kind(), StoreErrorKind::Invalid);
    assert!(
        err.message().contains("plain TCP to db.example.com"),
        "{err}"
    );
    assert!(!err.message().contains(":p@"), "{err}");
    let opted_in = o.to_builder().plain_tcp(PlainTcp::Anywhere).build();
    assert!(
        !plan("postgres://u:p@db.example.com/x?sslmode=disable", &opted_in)
            .unwrap()
            .uses_tls()
    );
    // Loopback and Unix sockets: plain unless asked for TLS.
    assert!(!plan("postgres://u:p@127.0.0.1/x", &o).unwrap().uses_tls());
    assert!(!plan("postgres://u:p@[::1]:5433/x", &o).unwrap().uses_tls());
    assert!(
        !plan("host=/run/postgresql user=u dbname=x", &o)
            .unwrap()
            .uses_tls()
    );
    assert!(
        plan("postgres://u:p@localhost/x?sslmode=require", &o)
            .unwrap()
            .uses_tls()
    );
    // One remote host among loopback ones makes the whole URL remote.
    assert!(
        plan("host=127.0.0.1,db.example.com user=u", &o)
            .unwrap()
            .uses_tls()
    );
}

#[test]
fn tls_requires_channel_binding_and_sets_the_timeouts() {
    let o = PostgresOptions::builder()
        .statement_timeout(Duration::from_millis(1500))
        .lock_timeout(Duration::from_secs(2))
        .build();
    let c = plan(
        "postgres://u:p@db.example.com/x?options=-c%20search_path%3Dapp",
        &o,
    )
    .unwrap();
    assert_eq!(c.config.get_channel_binding(), ChannelBinding::Require);
    assert_eq!(c.config.get_ssl_mode(), SslMode::Require);
    assert_eq!(
        c.config.get_options(),
        Some("-c search_path=app -c statement_timeout=1500 -c lock_timeout=2000")
    );
    assert_eq!(
        c.config.get_connect_timeout(),
        Some(&Duration::from_secs(10))
    );
    assert_eq!(c.config.get_application_name(), Some("ninjaone-servicenow"));
}

#[test]
fn libpq_parameters_are_understood() {
    let (url, extras) =
        strip_extras("postgres://u:p@h/x?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem");
    assert_eq!(url, "postgres://u:p@h/x?sslmode=require");
    assert_eq!(extras.root_cert.as_deref(), Some(Path::new("/tmp/ca.pem")));
    let (kv, extras) = strip_extras("host=h sslmode=verify-ca sslrootcert=/etc/ca.pem user=u");
    assert_eq!(kv, "host=h sslmode=require user=u");
    assert_eq!(extras.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
    // A `+` in a query value is a plus to tokio-postgres (and libpq), not a space: a
    // password or an option carrying one is passed on unchanged.
    let (url, _) = strip_extras("postgres://u@h/x?password=a+b%2Bc&sslmode=verify-full");
    let config: Config = url.parse().expect("parses");
    assert_eq!(config.get_password(), Some(&b"a+b+c"[..]));
    let missing = plan(
        "postgres://u:p@db.example.com/x?sslrootcert=/nonexistent/ca.pem",
        &PostgresOptions::default(),
    )
    .err()
    .expect("a missing CA file");
    assert!(
        missing.message().contains("/nonexistent/ca.pem"),
        "{missing}"
    );
}

#[test]
fn options_clamp_nonsense() {
    let o = PostgresOptions::builder()
        .max_connections(0)
        .statement_timeout(Duration::ZERO)
        .lock_timeout(Duration::MAX)
        .build();
    assert_eq!(o.max_connections(), 1);
    assert_eq!(o.statement_timeout(), Duration::from_millis(1));
    assert_eq!(
        o.lock_timeout(),
        Duration::from_millis(i32::MAX.unsigned_abs().into())
    );
    assert!(
        PostgresOptions::builder()
            .root_certificate_pem(b"")
            .is_err()
    );
}
