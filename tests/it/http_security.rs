//! Security of the HTTP clients: origins refused before any request, look-alike hosts,
//! redirects never followed, secrets and tokens absent from `Debug`, errors and `tracing`
//! output, and the response-size cap.

use crate::support::http_server as support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ninjaone_servicenow::http::{
    ConfigError, HttpOptions, NinjaOneClient, NinjaOneConfig, ProxyPolicy, Secret,
    ServiceNowClient, ServiceNowConfig,
};
use ninjaone_servicenow::ports::{ApiErrorKind, NinjaOneApi, PageRequest, ServiceNowApi};
use serde_json::json;
use support::{Reply, Request, Server, fast};

const NINJA_SECRET: &str = "ninja-secret-Zq81x";
const SN_PASSWORD: &str = "sn-password-Kp22w";
const TOKEN: &str = "access-token-Vv93y";

fn ninja(origin: &str) -> Result<NinjaOneClient, ConfigError> {
    NinjaOneConfig::new(origin, "client", Secret::new(NINJA_SECRET))
        .map(|c| c.options(fast()))
        .and_then(NinjaOneClient::new)
}

fn servicenow(origin: &str) -> Result<ServiceNowClient, ConfigError> {
    ServiceNowConfig::basic(origin, "integration", Secret::new(SN_PASSWORD))
        .map(|c| c.options(fast()))
        .and_then(ServiceNowClient::new)
}

#[test]
fn origins_are_refused_before_any_request() {
    let server = Server::start(|_: &Request| Reply::json(200, json!({"result": []})));
    let origin = server.origin();
    let port = server.port();
    let refused = [
        format!("{origin}/api"),
        format!("{origin}/api/now/table"),
        format!("http://user:pw@127.0.0.1:{port}"),
        format!("http://user@127.0.0.1:{port}"),
        format!("{origin}/?sysparm_query=x"),
        format!("{origin}/#fragment"),
        format!("ftp://127.0.0.1:{port}"),
        format!("http://example.com:{port}"),
        format!("http://10.0.0.1:{port}"),
        format!("http://127.0.0.1.nip.io:{port}"),
        format!("127.0.0.1:{port}"),
    ];
    for input in &refused {
        let err = ninja(input).expect_err(input);
        assert!(
            matches!(err, ConfigError::OriginRefused { .. }),
            "{input}: {err}"
        );
        assert!(servicenow(input).is_err(), "{input}");
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
    assert!(server.requests().is_empty());
    // Loopback over plain http is fine, by any loopback name.
    for ok in [
        origin.clone(),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}/"),
        format!("http://127.9.9.9:{port}"),
    ] {
        assert!(ninja(&ok).is_ok(), "{ok}");
        assert!(servicenow(&ok).is_ok(), "{ok}");
    }
}

#[test]
fn look_alike_hosts_fool_neither_the_instance_name_nor_the_allow_list() {
    let origin = |instance: &str| {
        ServiceNowConfig::basic(instance, "u", Secret::new("pw")).map(|c| c.origin().to_string())
    };
    assert_eq!(origin("acme").unwrap(), "https://acme.service-now.com/");
    assert_eq!(
        origin("ACME-dev").unwrap(),
        "https://acme-dev.service-now.com/"
    );
    for bad in [
        "evilservice-now.com",
        "acme.service-now.com.evil.com",
        "acme.evil.com",
        "acme/../evil",
        "acme@evil.com",
        "acme:443",
        "acme%2eevil",
    ] {
        assert!(origin(bad).is_err(), "{bad} was expanded");
    }
    let allow = |instance: &str| {
        ServiceNowConfig::basic(instance, "u", Secret::new("pw"))
            .and_then(|c| c.allowed_hosts(["*.service-now.com"]))
    };
    assert!(allow("acme").is_ok());
    assert!(allow("https://acme.service-now.com").is_ok());
    for bad in [
        "https://evilservice-now.com",
        "https://service-now.com.evil.com",
        "https://acme.service-now.com.evil.com",
        "https://service-now.com",
    ] {
        let err = allow(bad).expect_err(bad);
        assert!(
            matches!(err, ConfigError::HostNotAllowed { .. }),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let target = Server::start(|_: &Request| Reply::json(200, json!({"result": []})));
    let to = format!("{}/elsewhere", target.origin());
    let redirector = Server::start(move |r: &Request| {
        let status = if r.method == "POST" { 307 } else { 302 };
        Reply::empty(status).header("Location", &to)
    });
    let ninja = ninja(&redirector.origin()).unwrap();
    let err = ninja
        .organizations(PageRequest::first(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(
        err.message().contains("redirect") && err.message().contains("307"),
        "{err}"
    );
    let sn = servicenow(&redirector.origin()).unwrap();
    let err = sn.companies(PageRequest::first(5)).await.unwrap_err();
    assert!(
        err.message().contains("redirect") && err.message().contains("302"),
        "{err}"
    );
    assert!(err.message().contains("127.0.0.1"), "names the host: {err}");
    assert!(
        !err.message().contains("elsewhere"),
        "no path or query of the target: {err}"
    );
    assert!(target.requests().is_empty());
    assert_eq!(redirector.requests().len(), 2, "a redirect is not retried");
}

#[tokio::test]
async fn secrets_and_tokens_appear_in_no_debug_and_no_error() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => Reply::json(200, json!({"access_token": TOKEN, "expires_in": 3600})),
        // A server that echoes credentials and the token back in its errors.
        "/v2/roles" => Reply::json(
            500,
            json!({"resultCode": "FAILURE", "errorMessage": format!("bad token {TOKEN} for {NINJA_SECRET}")}),
        ),
        _ => Reply::text(
            400,
            "text/plain",
            &format!("Authorization: Basic ... {SN_PASSWORD} rejected"),
        ),
    });
    let ninja_config = NinjaOneConfig::new(&server.origin(), "client", Secret::new(NINJA_SECRET))
        .unwrap()
        .options(fast());
    let sn_config = ServiceNowConfig::oauth_password(
        &server.origin(),
        "sn-client",
        Secret::new("sn-client-secret-Qq11"),
        "integration",
        Secret::new(SN_PASSWORD),
    )
    .unwrap();
    let sn_basic =
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(SN_PASSWORD))
            .unwrap()
            .options(fast());
    let ninja = NinjaOneClient::new(ninja_config.clone()).unwrap();
    let sn = ServiceNowClient::new(sn_basic.clone()).unwrap();
    let ninja_err = ninja.device_roles().await.unwrap_err();
    let sn_err = sn.companies(PageRequest::first(5)).await.unwrap_err();
    assert_eq!(sn_err.kind(), ApiErrorKind::Other);
    assert!(sn_err.message().contains("rejected"), "{sn_err}");

    let mut text = String::new();
    write!(
        text,
        "{ninja_config:?} {sn_config:?} {sn_basic:?} {ninja:?} {sn:?} {:?} \
         {ninja_err} {ninja_err:?} {sn_err} {sn_err:?} {:?}",
        HttpOptions::default(),
        Secret::new(NINJA_SECRET),
    )
    .unwrap();
    for secret in [NINJA_SECRET, SN_PASSWORD, TOKEN, "sn-client-secret-Qq11"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(text.contains("<redacted>"));
}

#[tokio::test]
async fn the_response_size_cap_holds() {
    let big = "x".repeat(5000);
    let server = Server::start(move |_: &Request| {
        Reply::json(
            200,
            json!({"result": [{"sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "name": big}]}),
        )
    });
    let client = ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "u", Secret::new("pw"))
            .unwrap()
            .options(fast().max_response_bytes(1024)),
    )
    .unwrap();
    let err = client.companies(PageRequest::first(5)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("more than 1024 bytes"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

/// A `tracing` subscriber that writes every span and event, with all fields, to a buffer.
struct Capture {
    out: Arc<Mutex<String>>,
    next: AtomicU64,
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut out = self.out.lock().unwrap();
        let _ = write!(out, "\nspan {}", span.metadata().name());
        span.record(&mut Fields(&mut out));
        tracing::span::Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut out = self.out.lock().unwrap();
        out.push_str("\nrecord");
        values.record(&mut Fields(&mut out));
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.out.lock().unwrap();
        out.push_str("\nevent");
        event.record(&mut Fields(&mut out));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn tracing_shows_method_path_and_status_but_no_secret_token_or_query() {
    let out = Arc::new(Mutex::new(String::new()));
    // Other tests of this binary run the clients on other threads meanwhile. With one
    // dispatcher alive, tracing computes a new callsite's interest from the registering
    // thread's default only, so a callsite first hit there would be disabled for this test
    // too; a second live dispatcher makes it ask every one of them.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(Capture {
        out: Arc::clone(&out),
        next: AtomicU64::new(0),
    });
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => Reply::json(200, json!({"access_token": TOKEN, "expires_in": 3600})),
        "/v2/organizations" => Reply::json(200, json!([{"id": 1, "name": "A"}])),
        _ => Reply::json(200, json!({"result": []})),
    });
    let ninja = ninja(&server.origin()).unwrap();
    ninja.organizations(PageRequest::first(5)).await.unwrap();
    let sn = servicenow(&server.origin()).unwrap();
    sn.companies(PageRequest::first(5)).await.unwrap();
    let text = out.lock().unwrap().clone();
    assert!(text.contains("span http_request"), "{text}");
    assert!(
        text.contains("method=GET") && text.contains("path=/v2/organizations"),
        "{text}"
    );
    assert!(text.contains("path=/api/now/table/core_company"), "{text}");
    assert!(text.contains("path=/ws/oauth/token"), "{text}");
    assert!(text.contains("status=200"), "{text}");
    for leak in [
        NINJA_SECRET,
        SN_PASSWORD,
        TOKEN,
        "Bearer",
        "Basic",
        "sysparm",
        "pageSize",
        "ORDERBY",
    ] {
        assert!(!text.contains(leak), "{leak} in the trace: {text}");
    }
}

/// `expires_in` as token endpoints have been seen to send it, and as a hostile one could:
/// numbers of every size and sign, floats, numeric and non-numeric strings, nothing at all.
fn expires_in_values() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(json!(18_446_744_073_709_551_615_u64)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!("18446744073709551616")),
        Just(json!("1e400")),
        Just(json!(null)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n.to_string())),
        any::<i64>().prop_map(|n| json!(n.to_string())),
        "\\PC{0,12}".prop_map(|s| json!(s)),
    ]
}

/// Requests `server` has seen for the token endpoints.
fn token_requests(server: &Server) -> usize {
    server.count("POST", "/ws/oauth/token") + server.count("POST", "/oauth_token.do")
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn any_expires_in_leaves_both_token_caches_working(expires_in in expires_in_values()) {
        let token = json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": expires_in});
        let server = Server::start(move |r: &Request| match r.path.as_str() {
            "/ws/oauth/token" | "/oauth_token.do" => Reply::json(200, token.clone()),
            "/v2/organizations" => Reply::json(200, json!([])),
            _ => Reply::json(200, json!({"result": []})),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let ninja = ninja(&server.origin()).expect("client");
            let sn = ServiceNowClient::new(
                ServiceNowConfig::oauth_password(
                    &server.origin(),
                    "sn-client",
                    Secret::new("sn-client-secret-Qq11"),
                    "integration",
                    Secret::new(SN_PASSWORD),
                )
                .expect("config")
                .options(fast()),
            )
            .expect("client");
            for _ in 0..2 {
                ninja.organizations(PageRequest::first(10)).await.expect("NinjaOne call");
                sn.companies(PageRequest::first(10)).await.expect("ServiceNow call");
            }
        });
        // Two calls per client: one token each at best, one per call for an expired token.
        let tokens = token_requests(&server);
        proptest::prop_assert!((2..=4).contains(&tokens), "{tokens} token requests");
    }
}

#[tokio::test]
async fn a_token_lifetime_past_the_end_of_time_is_capped_not_a_panic() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => Reply::json(
            200,
            json!({"access_token": TOKEN, "expires_in": 18_446_744_073_709_551_615_u64}),
        ),
        _ => Reply::json(200, json!([])),
    });
    let ninja = ninja(&server.origin()).unwrap();
    for _ in 0..3 {
        ninja.organizations(PageRequest::first(10)).await.unwrap();
    }
    // Capped at a day, the token is still cached: one token request for three calls.
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);
}

#[test]
fn the_proxy_in_use_is_logged_once_at_info_without_its_credentials() {
    let out = Arc::new(Mutex::new(String::new()));
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(Capture {
        out: Arc::clone(&out),
        next: AtomicU64::new(0),
    });
    let proxy = ProxyPolicy::url("http://proxy-user:proxy-pass-Qw12@proxy.corp.example:3128")
        .expect("a proxy URL");
    let options = fast().proxy(proxy);
    let client = NinjaOneClient::new(
        NinjaOneConfig::new("eu", "client", Secret::new(NINJA_SECRET))
            .unwrap()
            .options(options.clone()),
    )
    .unwrap();
    let text = out.lock().unwrap().clone();
    assert_eq!(
        text.matches("requests go through a proxy").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("proxy=http://proxy.corp.example:3128"),
        "{text}"
    );
    assert!(
        text.contains("from=\"HttpOptionsBuilder::proxy\""),
        "{text}"
    );
    let shown = format!("{text} {client:?} {options:?}");
    assert!(
        !shown.contains("proxy-pass") && !shown.contains("proxy-user"),
        "{shown}"
    );
    // A loopback origin goes direct even with this policy: nothing is logged about a proxy.
    out.lock().unwrap().clear();
    let _local = ninja_with("http://127.0.0.1:9", options);
    let text = out.lock().unwrap().clone();
    assert!(!text.contains("through a proxy"), "{text}");
    assert!(text.contains("without a proxy"), "{text}");
}

fn ninja_with(origin: &str, options: impl Into<HttpOptions>) -> NinjaOneClient {
    NinjaOneClient::new(
        NinjaOneConfig::new(origin, "client", Secret::new(NINJA_SECRET))
            .unwrap()
            .options(options),
    )
    .unwrap()
}

/// A password with every character that encodes differently in a form, a URL and base64.
const ODD_PASSWORD: &str = "p@ss w0rd+/=&%é-Lm45";
const REFRESH: &str = "refresh-token-Yy77u";

#[tokio::test]
async fn secrets_are_scrubbed_in_every_encoding_a_server_may_echo() {
    // Every answer echoes the request back: headers and body, as some gateways do.
    let server = Server::start(|r: &Request| {
        let echo = format!(
            "rejected: {} {}",
            r.header("authorization").unwrap_or(""),
            String::from_utf8_lossy(&r.body)
        );
        match (r.path.as_str(), r.form_field("grant_type").as_deref()) {
            ("/oauth_token.do", Some("password")) => Reply::json(
                200,
                json!({"access_token": TOKEN, "refresh_token": REFRESH, "expires_in": 3600}),
            ),
            // The refresh grant fails transiently, echoing its form (and its refresh token).
            ("/oauth_token.do", _) => Reply::text(503, "text/plain", &echo),
            (_, _) if r.bearer().is_some() => Reply::text(401, "text/plain", &echo),
            _ => Reply::text(400, "text/plain", &echo),
        }
    });
    let basic = ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(ODD_PASSWORD))
            .unwrap()
            .options(fast()),
    )
    .unwrap();
    let basic_err = basic.companies(PageRequest::first(5)).await.unwrap_err();
    assert!(
        basic_err.message().contains("Basic <redacted>"),
        "{basic_err}"
    );

    let oauth = ServiceNowClient::new(
        ServiceNowConfig::oauth_password(
            &server.origin(),
            "sn-client",
            Secret::new("client-secret-&=+ Xx"),
            "integration",
            Secret::new(ODD_PASSWORD),
        )
        .unwrap()
        .options(fast().max_attempts(1)),
    )
    .unwrap();
    // The token is refused by the API: the client refreshes, and the refresh answer (a 503)
    // echoes the refresh token and the client secret in their form encoding.
    let refresh_err = oauth.companies(PageRequest::first(5)).await.unwrap_err();
    assert!(
        refresh_err.message().contains("<redacted>"),
        "{refresh_err}"
    );

    let shown = format!("{basic_err} {basic_err:?} {refresh_err} {refresh_err:?}");
    let form = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let base64 = support::base64(format!("integration:{ODD_PASSWORD}").as_bytes());
    for leak in [
        ODD_PASSWORD.to_owned(),
        form(ODD_PASSWORD),
        form(ODD_PASSWORD).replace('+', "%20"),
        base64.trim_end_matches('=').to_owned(),
        REFRESH.to_owned(),
        form("client-secret-&=+ Xx"),
        form("client-secret-&=+ Xx").replace('+', "%20"),
        TOKEN.to_owned(),
    ] {
        assert!(!shown.contains(&leak), "{leak} leaked: {shown}");
    }
}

#[test]
fn a_refused_instance_name_quotes_no_user_info() {
    for instance in [
        "integration:hunter2-pw@acme",
        "integration:hunter2-pw@acme.service-now.com",
        "hunter2-pw@",
        "a:b:hunter2-pw@@acme",
    ] {
        let err = ServiceNowConfig::basic(instance, "u", Secret::new("pw")).expect_err(instance);
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{instance}: {text}");
        assert!(text.contains("user info"), "{instance}: {text}");
    }
}
