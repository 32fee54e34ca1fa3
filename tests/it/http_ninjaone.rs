//! The NinjaOne HTTP client against a local server: OAuth client credentials (single flight,
//! expiry mid-run, wrong credentials), `pageSize`/`after` paging, error bodies in every form,
//! retries and broken bodies.

use crate::support::http_server as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ninjaone_servicenow::http::{ClientStats, NinjaOneClient, NinjaOneConfig, Secret, USER_AGENT};
use ninjaone_servicenow::model::OrganizationId;
use ninjaone_servicenow::ports::{
    ApiErrorKind, Cursor, NinjaOneApi, PageRequest, Remote, collect_all,
};
use serde_json::json;
use support::{Reply, Request, Server, fast};

const SECRET: &str = "ninja-client-secret-0042";

fn client(server: &Server) -> NinjaOneClient {
    NinjaOneClient::new(
        NinjaOneConfig::new(&server.origin(), "client-7", Secret::new(SECRET))
            .unwrap()
            .options(fast()),
    )
    .unwrap()
}

fn token_reply(token: &str) -> Reply {
    Reply::json(
        200,
        json!({"access_token": token, "expires_in": 3600, "token_type": "bearer", "scope": "monitoring management"}),
    )
}

fn orgs(ids: std::ops::RangeInclusive<u32>) -> Vec<serde_json::Value> {
    ids.map(|id| json!({"id": id, "name": format!("Org {id}"), "nodeApprovalMode": "AUTOMATIC"}))
        .collect()
}

/// A tenant of `count` organizations that pages by `pageSize`/`after` and checks the token.
fn tenant(count: u32) -> Server {
    Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok-1"),
        "/v2/organizations" => {
            if r.bearer() != Some("tok-1") {
                return Reply::json(
                    401,
                    json!({"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
                );
            }
            let size: u32 = r.param("pageSize").unwrap().parse().unwrap();
            let after: u32 = r.param("after").map_or(0, |a| a.parse().unwrap());
            let page: Vec<_> = orgs(1..=count)
                .into_iter()
                .filter(|o| o["id"].as_u64().unwrap() > u64::from(after))
                .take(size as usize)
                .collect();
            Reply::json(200, json!(page))
        }
        _ => Reply::empty(404),
    })
}

#[tokio::test]
async fn paging_walks_every_page_with_one_request_each() {
    let server = tenant(25);
    let client = client(&server);
    let listing = collect_all(PageRequest::first(10), 100, |p| client.organizations(p))
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 25);
    assert_eq!(listing.pages, 3);
    let ids: Vec<u32> = listing.items.iter().map(|o| o.id.get()).collect();
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    let gets: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/organizations")
        .collect();
    assert_eq!(gets.len(), 3);
    let afters: Vec<_> = gets.iter().map(|r| r.param("after")).collect();
    assert_eq!(afters, [None, Some("10".into()), Some("20".into())]);
    assert!(
        gets.iter()
            .all(|r| r.param("pageSize").as_deref() == Some("10"))
    );
    assert_eq!(
        client.stats(),
        ClientStats {
            requests: 4,
            reads: 3,
            writes: 0,
            retries: 0,
            token_requests: 1
        }
    );
}

#[tokio::test]
async fn an_exactly_full_last_page_is_followed_by_one_more_request_never_truncated() {
    let server = tenant(20);
    let client = client(&server);
    let listing = collect_all(PageRequest::first(10), 100, |p| client.organizations(p))
        .await
        .unwrap();
    assert_eq!((listing.items.len(), listing.pages), (20, 3));
    assert_eq!(server.count("GET", "/v2/organizations"), 3);
}

#[tokio::test]
async fn a_malformed_row_is_rejected_alone_and_paging_goes_on() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ if r.param("after").is_none() => Reply::json(
            200,
            json!([{"id": 1, "name": "A"}, {"id": "two", "name": "B"}, {"id": 3, "name": "C"}]),
        ),
        _ => {
            assert_eq!(r.param("after").as_deref(), Some("3"));
            Reply::json(200, json!([]))
        }
    });
    let client = client(&server);
    let listing = collect_all(PageRequest::first(3), 10, |p| client.organizations(p))
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 2);
    assert_eq!(listing.rejected.len(), 1);
    assert_eq!(listing.rejected[0].index, 1);
    assert!(!listing.is_complete());
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = tenant(5);
    let client = client(&server);
    let calls = (0..16).map(|_| client.organizations(PageRequest::first(10)));
    let pages = futures::future::join_all(calls).await;
    assert!(pages.iter().all(|p| p.as_ref().unwrap().items.len() == 5));
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);
    assert_eq!(client.stats().token_requests, 1);
    assert_eq!(client.stats().reads, 16);
    // Clones share the token too.
    let clone = client.clone();
    clone.organizations(PageRequest::first(10)).await.unwrap();
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);
}

#[tokio::test]
async fn the_token_request_is_form_encoded_client_credentials() {
    let server = tenant(1);
    let client = client(&server);
    client.organizations(PageRequest::first(10)).await.unwrap();
    let token = &server.requests()[0];
    assert_eq!(
        (token.method.as_str(), token.path.as_str()),
        ("POST", "/ws/oauth/token")
    );
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // Every call this client makes is a read: it asks for the read-only scope only.
    assert_eq!(token.form_field("scope").as_deref(), Some("monitoring"));
    assert_eq!(
        token.form_field("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(token.form_field("client_id").as_deref(), Some("client-7"));
    assert_eq!(token.form_field("client_secret").as_deref(), Some(SECRET));
    let get = &server.requests()[1];
    assert_eq!(get.header("authorization"), Some("Bearer tok-1"));
    assert_eq!(get.header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("ninjaone-servicenow/"));
}

#[tokio::test]
async fn a_token_expired_mid_run_is_replaced_once_and_the_call_succeeds() {
    let issued = Arc::new(AtomicU32::new(0));
    let revoked = Arc::new(AtomicBool::new(false));
    let (i, rv) = (Arc::clone(&issued), Arc::clone(&revoked));
    let server = Server::start(move |r: &Request| {
        if r.path == "/ws/oauth/token" {
            let n = i.fetch_add(1, Ordering::SeqCst) + 1;
            rv.store(false, Ordering::SeqCst);
            return token_reply(&format!("tok-{n}"));
        }
        let current = format!("tok-{}", i.load(Ordering::SeqCst));
        if rv.load(Ordering::SeqCst) || r.bearer() != Some(current.as_str()) {
            return Reply::json(
                401,
                json!({"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
            );
        }
        Reply::json(200, json!(orgs(1..=2)))
    });
    let client = client(&server);
    client.organizations(PageRequest::first(10)).await.unwrap();
    revoked.store(true, Ordering::SeqCst);
    let page = client.organizations(PageRequest::first(10)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let s = client.stats();
    assert_eq!((s.token_requests, s.reads), (2, 3));
}

#[tokio::test]
async fn a_token_refused_twice_is_unauthorized_after_exactly_one_renewal() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ => Reply::json(
            401,
            json!({"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
        ),
    });
    let client = client(&server);
    let err = client
        .organizations(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
    assert!(err.message().contains("Invalid token"), "{err}");
    // The fix is the one every layer names for this remote and kind, kept apart from the
    // message, so a report of the error adds no second one.
    assert_eq!(
        err.advice(),
        Remote::NinjaOne.action(ApiErrorKind::Unauthorized)
    );
    assert!(!err.message().contains("check the"), "{err}");
    assert_eq!(server.count("POST", "/ws/oauth/token"), 2);
    assert_eq!(server.count("GET", "/v2/organizations"), 2);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_with_the_oauth_error_and_no_api_call() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => Reply::json(
            400,
            json!({"error": "invalid_client", "error_description": format!("Bad client credentials {SECRET}")}),
        ),
        _ => Reply::json(200, json!([])),
    });
    let client = client(&server);
    let err = client
        .organizations(PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Unauthorized);
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("invalid_client") && text.contains("Bad client credentials"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn any_4xx_from_the_token_endpoint_is_a_credentials_error_with_its_text() {
    // What NinjaOne really answers an unknown client, not the OAuth shape its spec promises;
    // then other 4xx shapes a token endpoint (or a gateway in front of it) may send.
    let answers = [
        (
            400,
            json!({"resultCode": "Client app not exist"}),
            "Client app not exist",
        ),
        (
            401,
            json!({"resultCode": "FAILURE", "errorMessage": "Bad token"}),
            "Bad token",
        ),
        (403, json!({"error": "access_denied"}), "access_denied"),
        (404, json!({"resultCode": "NOT_FOUND"}), "NOT_FOUND"),
        (400, json!("plain words about the client"), "plain words"),
    ];
    for (status, body, text) in answers {
        let reply = body.clone();
        let server = Server::start(move |r: &Request| match r.path.as_str() {
            "/ws/oauth/token" => Reply::json(status, reply.clone()),
            _ => Reply::json(200, json!([])),
        });
        let err = client(&server)
            .organizations(PageRequest::first(10))
            .await
            .unwrap_err();
        assert!(err.kind().is_auth(), "{status} {body}: {err}");
        assert!(err.message().contains(text), "{err}");
        assert!(
            err.advice()
                .is_some_and(|a| a.contains("client id and secret")),
            "{err}"
        );
        assert_eq!(server.requests().len(), 1, "no API call, no retry");
    }
}

#[tokio::test]
async fn api_errors_decode_in_string_object_and_text_forms() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" => Reply::json(
            400,
            json!({"resultCode": "FAILURE", "errorMessage": {"code": "INVALID_PARAM", "params": {}}, "incidentId": "inc-9"}),
        ),
        "/v2/alerts" => Reply::json(
            401,
            json!({"resultCode": "FAILURE", "errorMessage": "insufficient_privileges"}),
        ),
        "/v2/devices" => Reply::text(502, "text/plain", "upstream broke\n"),
        "/v2/organization/5" => Reply::empty(404),
        "/v2/organization/6" => Reply::json(
            200,
            json!({"id": 6, "name": "Six", "locations": [], "policies": [{"nodeRoleId": 9, "policyId": 43}]}),
        ),
        _ => Reply::empty(500),
    });
    let client = client(&server);
    let err = client.device_roles().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
    assert!(
        err.message().contains("INVALID_PARAM") && err.message().contains("inc-9"),
        "{err}"
    );

    let err = client.alerts().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden, "{err}");
    // A missing scope is not fixed by a new token: no renewal.
    assert_eq!(server.count("POST", "/ws/oauth/token"), 1);

    let err = client.devices(PageRequest::first(10)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient);
    assert!(err.message().contains("upstream broke"), "{err}");
    // A GET is retried after a 5xx: 4 attempts by default.
    assert_eq!(server.count("GET", "/v2/devices"), 4);

    let five = OrganizationId::new(5).unwrap();
    assert_eq!(client.organization(five).await.unwrap(), None);
    let six = client
        .organization(OrganizationId::new(6).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(six.policies.len(), 1);
}

#[tokio::test]
async fn rate_limits_wait_out_a_short_retry_after_and_return_a_long_one() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = Arc::clone(&hits);
    let server = Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" if h.fetch_add(1, Ordering::SeqCst) == 0 => Reply::json(
            429,
            json!({"resultCode": "FAILURE", "errorMessage": "slow down"}),
        )
        .header("Retry-After", "0"),
        "/v2/roles" => Reply::json(200, json!([])),
        _ => Reply::json(429, json!({})).header("Retry-After", "120"),
    });
    let client = client(&server);
    client.device_roles().await.unwrap();
    assert_eq!(server.count("GET", "/v2/roles"), 2);
    assert_eq!(client.stats().retries, 1);

    let err = client.alerts().await.unwrap_err();
    assert_eq!(
        err.kind(),
        ApiErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(server.count("GET", "/v2/alerts"), 1);
}

#[tokio::test]
async fn malformed_truncated_and_html_bodies_are_invalid_responses() {
    let server = Server::start(|r: &Request| {
        match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" => Reply::text(200, "application/json", r#"[{"id": 1, "name": "#),
        "/v2/alerts" => Reply::text(200, "text/html", "<html><body>Maintenance</body></html>"),
        "/v2/devices" => Reply::json(200, json!({"not": "a list"})),
        _ => Reply::Raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n[{\"id\":1"
                .to_vec(),
        ),
    }
    });
    let client = client(&server);
    let err = client.device_roles().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("truncated"), "{err}");
    let err = client.alerts().await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    assert!(err.message().contains("HTML"), "{err}");
    let err = client.devices(PageRequest::first(5)).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
    // A transfer cut off mid-body is a dropped connection: transient, and a GET is retried.
    let org = OrganizationId::new(1).unwrap();
    let err = client
        .organization_devices(org, PageRequest::first(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Transient, "{err}");
    assert_eq!(server.count("GET", "/v2/organization/1/devices"), 4);
}

#[tokio::test]
async fn unpaged_listings_are_one_request_and_fixtures_decode() {
    let roles = include_str!("../fixtures/ninjaone/roles.json");
    let alerts = include_str!("../fixtures/ninjaone/alerts.json");
    let server = Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" => Reply::text(200, "application/json", roles),
        "/v2/alerts" => Reply::text(200, "application/json", alerts),
        _ => Reply::empty(404),
    });
    let client = client(&server);
    let expected_roles = serde_json::from_str::<Vec<serde_json::Value>>(roles)
        .unwrap()
        .len();
    let page = client.device_roles().await.unwrap();
    assert_eq!(page.items.len() + page.rejected.len(), expected_roles);
    assert!(page.next.is_none());
    let page = client.alerts().await.unwrap();
    assert!(page.next.is_none());
    assert!(!page.items.is_empty());
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.raw_query.is_empty())
    );
}

#[tokio::test]
async fn a_cursor_that_is_not_an_id_is_refused_without_a_request() {
    let server = tenant(1);
    let client = client(&server);
    let page = PageRequest::first(10).next(Cursor::new("1 OR 1=1"));
    let err = client.organizations(page).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
    assert_eq!(server.count("GET", "/v2/organizations"), 0);
}

#[tokio::test]
async fn devices_of_an_organization_page_by_after() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/organization/3/devices" => {
            let after: u32 = r.param("after").map_or(0, |a| a.parse().unwrap());
            let rows: Vec<_> = (after + 1..=(after + 2).min(3))
                .map(|id| json!({"id": id, "organizationId": 3, "nodeClass": "WINDOWS_SERVER"}))
                .collect();
            Reply::json(200, json!(rows))
        }
        _ => Reply::empty(404),
    });
    let client = client(&server);
    let org = OrganizationId::new(3).unwrap();
    let listing = collect_all(PageRequest::first(2), 10, |p| {
        client.organization_devices(org, p)
    })
    .await
    .unwrap();
    assert_eq!((listing.items.len(), listing.pages), (3, 2));
}

#[tokio::test]
async fn devices_detailed_reads_agents_flat_vm_hosts_and_odd_rows_without_losing_the_page() {
    let fixture = include_str!("../fixtures/ninjaone/devices_detailed.json");
    let server = Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok-1"),
        "/v2/devices-detailed" => Reply::text(200, "application/json", fixture),
        _ => Reply::json(
            404,
            json!({"resultCode": "FAILURE", "errorMessage": "no such path"}),
        ),
    });
    let client = client(&server);
    let page = client
        .devices_detailed(PageRequest::first(100))
        .await
        .unwrap();
    // The row without a valid id is rejected alone; a short page ends the listing.
    assert_eq!((page.items.len(), page.rejected.len()), (3, 1));
    assert!(page.next.is_none());
    let [agent, host, odd] = page.items.as_slice() else {
        panic!("three devices");
    };
    let d = &agent.details;
    assert_eq!(agent.device.name(), "DC01");
    assert_eq!(d.serial_number.as_deref(), Some("7XK2Q53"));
    assert_eq!(d.model.as_deref(), Some("PowerEdge R650"));
    assert_eq!(d.os_name.as_deref(), Some("Windows Server 2022 Standard"));
    assert_eq!(
        (d.os_build.as_deref(), d.os_release.as_deref()),
        (Some("20348"), Some("21H2"))
    );
    assert_eq!(d.ram_bytes, Some(68_719_476_736));
    assert_eq!(
        (d.cpu_mhz, d.cpu_cores, d.cpu_count),
        (Some(2394), Some(16), Some(1))
    );
    assert_eq!(d.disk_bytes, Some(479_491_321_856 + 1_999_843_123_200));
    assert_eq!(d.domain.as_deref(), Some("cc.local"));
    assert_eq!(d.mac_addresses, ["00:50:56:A1:B2:C3"], "duplicates dropped");
    assert_eq!(d.ip_addresses.len(), 2);
    assert_eq!(d.last_logged_in_user.as_deref(), Some("CC\\administrator"));
    // A VMware host's detail is flat.
    let h = &host.details;
    assert_eq!(h.serial_number.as_deref(), Some("CZ2D1X0B7K"));
    assert_eq!(h.manufacturer.as_deref(), Some("HPE"));
    assert_eq!(
        (h.cpu_name.as_deref(), h.cpu_mhz),
        (Some("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"), Some(2095))
    );
    assert_eq!(h.ram_bytes, Some(412_316_860_416));
    // Placeholder serials and fields of the wrong type are left out; the device stays.
    assert_eq!(odd.device.name(), "PC-ODD");
    assert_eq!(odd.details.serial_number, None);
    assert_eq!((odd.details.ram_bytes, odd.details.cpu_count), (None, None));
    assert!(odd.details.ip_addresses.is_empty());
    let sent = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2/devices-detailed")
        .expect("one listing request");
    assert_eq!(sent.param("pageSize").as_deref(), Some("100"));
}

const HOOK_SECRET: &str = "hook-secret-value-6Tz8";

fn registration() -> ninjaone_servicenow::http::WebhookRegistration {
    ninjaone_servicenow::http::WebhookRegistration::new(
        "https://orgsync.example.com/ninjaone/webhook",
        Secret::new(HOOK_SECRET),
    )
    .unwrap()
}

/// A tenant whose token endpoint issues one token per scope; the webhook path takes only the
/// management token and the listing only the monitoring one, as NinjaOne checks scopes.
fn scoped_tenant() -> Server {
    Server::start(|r: &Request| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/ws/oauth/token") => match r.form_field("scope").as_deref() {
            Some("monitoring") => token_reply("tok-monitoring"),
            Some("management") => token_reply("tok-management"),
            other => panic!("unexpected scope {other:?}"),
        },
        (_, "/v2/webhook") if r.bearer() == Some("tok-management") => Reply::empty(204),
        ("GET", "/v2/organizations") if r.bearer() == Some("tok-monitoring") => {
            Reply::json(200, json!(orgs(1..=2)))
        }
        _ => Reply::json(
            401,
            json!({"error": "insufficient_privileges", "error_description": "wrong scope"}),
        ),
    })
}

#[tokio::test]
async fn registering_a_webhook_sends_the_documented_body_with_a_management_token_no_other_call_uses()
 {
    let server = scoped_tenant();
    let client = client(&server);
    let first = client.organizations(PageRequest::first(10)).await.unwrap();
    client.register_webhook(&registration()).await.unwrap();
    let again = client.organizations(PageRequest::first(10)).await.unwrap();
    client.delete_webhook().await.unwrap();
    assert_eq!((first.items.len(), again.items.len()), (2, 2));

    let requests = server.requests();
    let scopes: Vec<Option<String>> = requests
        .iter()
        .filter(|r| r.path == "/ws/oauth/token")
        .map(|r| r.form_field("scope"))
        .collect();
    assert_eq!(
        scopes,
        [Some("monitoring".to_owned()), Some("management".to_owned())],
        "one token per scope, each cached"
    );
    let put = requests
        .iter()
        .find(|r| r.method == "PUT")
        .expect("one PUT /v2/webhook");
    assert_eq!(put.path, "/v2/webhook");
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(
        put.json(),
        json!({
            "url": "https://orgsync.example.com/ninjaone/webhook",
            "activities": {"statusCode": ["TRIGGERED", "RESET"]},
            "expand": ["device", "organization"],
            "headers": [{"name": "x-orgsync-webhook-secret", "value": HOOK_SECRET}],
        })
    );
    for r in requests.iter().filter(|r| r.path != "/ws/oauth/token") {
        let expected = if r.path == "/v2/webhook" {
            "tok-management"
        } else {
            "tok-monitoring"
        };
        assert_eq!(r.bearer(), Some(expected), "{} {}", r.method, r.path);
    }
    assert_eq!(server.count("DELETE", "/v2/webhook"), 1);
    let stats = client.stats();
    assert_eq!((stats.writes, stats.token_requests), (2, 2));
}

#[tokio::test]
async fn a_management_scope_the_app_lacks_is_forbidden_naming_it_and_the_secret_never_shows() {
    // NinjaOne refuses a token request for a scope the application was not given.
    let server = Server::start(|r: &Request| match r.form_field("scope").as_deref() {
        Some("management") => Reply::json(
            400,
            json!({"error": "invalid_scope", "error_description": "Invalid scope management for client"}),
        ),
        _ => token_reply("tok"),
    });
    let err = client(&server)
        .register_webhook(&registration())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden);
    assert!(
        err.to_string().contains("allow the scope management"),
        "{err}"
    );
    assert_eq!(server.count("PUT", "/v2/webhook"), 0);

    // A token without the scope: a 401 `insufficient_privileges` is a refusal of the scope,
    // not a stale token — no new token, no second PUT — and the echoed secret is scrubbed.
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ => Reply::json(
            401,
            json!({
                "error": "insufficient_privileges",
                "error_description": format!("not allowed: {}", String::from_utf8_lossy(&r.body)),
            }),
        ),
    });
    let client = client(&server);
    let err = client.register_webhook(&registration()).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden);
    assert!(err.to_string().contains("management scope"), "{err}");
    assert!(!err.to_string().contains(HOOK_SECRET), "{err}");
    assert!(!format!("{err:?}").contains(HOOK_SECRET));
    assert_eq!(server.count("PUT", "/v2/webhook"), 1);
    assert_eq!(client.stats().token_requests, 1);
}

#[tokio::test]
async fn a_refused_webhook_registration_names_the_management_scope_as_its_one_fix() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ => Reply::json(
            403,
            json!({"resultCode": "FAILURE", "errorMessage": "Forbidden"}),
        ),
    });
    let err = client(&server)
        .register_webhook(&registration())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Forbidden);
    // The fix is advice, not part of the message: a `SyncError` or a stop built from it adds
    // no second, general one.
    assert!(
        err.advice().is_some_and(|a| a.contains("management scope")),
        "{err}"
    );
    assert!(!err.message().contains("management scope"), "{err}");
    assert_eq!(
        err.to_string().matches("management scope").count(),
        1,
        "{err}"
    );
}
