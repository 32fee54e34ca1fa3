//! NinjaOne webhook deliveries through `engine::webhook::WebhookReceiver` and the router's
//! event path, over the fake tenant HTTP server (`testing::FakeServer`) and the real HTTP
//! clients; and the activity decoder.

use crate::support::incident_world as world;
use ninjaone_servicenow::testing::ServiceNowMethod;

use std::collections::BTreeMap;
use std::sync::Arc;

use ninjaone_servicenow::engine::ApplyMode;
use ninjaone_servicenow::engine::incidents::IncidentRouter;
use ninjaone_servicenow::engine::webhook::{
    DeliveryOutcome, ReceiverOptions, Refusal, WebhookReceiver, WebhookSecret,
};
use ninjaone_servicenow::http::{
    HttpOptions, NinjaOneClient, NinjaOneConfig, Secret, ServiceNowClient, ServiceNowConfig,
};
use ninjaone_servicenow::model::activity::{Activity, ActivityError, ActivityType, StatusCode};
use ninjaone_servicenow::model::{Alert, Device, IncidentState, TicketRecord};
use ninjaone_servicenow::ports::{ConfigStore, Ports};
use ninjaone_servicenow::testing::{Api, FakeServer, LoggedRequest};
use serde_json::{Value, json};
use world::{World, world};

const SECRET: &str = "a-webhook-secret-long-enough";
const HEADER: &str = "x-orgsync-webhook-secret";

struct Tenant {
    world: World,
    server: FakeServer,
    router: IncidentRouter,
    receiver: WebhookReceiver,
}

async fn tenant(orgs: usize, devices: usize, alerts: usize) -> Tenant {
    let world = world(orgs, devices, alerts);
    let server = FakeServer::start(world.ninja.clone(), world.snow.clone()).await;
    let options = HttpOptions::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build();
    let ninja = NinjaOneConfig::new(
        &server.ninjaone_origin(),
        FakeServer::NINJAONE_CLIENT_ID,
        Secret::new(FakeServer::NINJAONE_CLIENT_SECRET),
    )
    .map(|c| c.options(options.clone()))
    .and_then(NinjaOneClient::new)
    .expect("NinjaOne client");
    let snow = ServiceNowConfig::basic(
        &server.servicenow_origin(),
        FakeServer::SERVICENOW_USERNAME,
        Secret::new(FakeServer::SERVICENOW_PASSWORD),
    )
    .map(|c| c.options(options))
    .and_then(ServiceNowClient::new)
    .expect("ServiceNow client");
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(ninja),
            Arc::new(snow),
            world.store.clone(),
            Arc::new(world.clock.clone()),
        ),
        world.settings(),
    );
    let receiver = WebhookReceiver::new(
        router.clone(),
        ReceiverOptions::new(WebhookSecret::from(SECRET.to_owned())),
    );
    Tenant {
        world,
        server,
        router,
        receiver,
    }
}

/// The activity NinjaOne would push for `alert` on `device`.
fn activity(alert: &Alert, device: &Device, status: &str) -> Vec<u8> {
    let at = alert.update_time.expect("the fake's alerts have times");
    #[allow(clippy::cast_precision_loss)] // microseconds of this century fit a f64
    let time = at.timestamp_micros() as f64 / 1e6;
    serde_json::to_vec(&json!({
        "id": 1,
        "activityTime": time,
        "deviceId": device.id.get(),
        "seriesUid": alert.uid.as_str(),
        "activityType": "CONDITION",
        "statusCode": status,
        "status": if status == "RESET" { "Reset" } else { "Triggered" },
        "sourceType": alert.source_type,
        "subject": alert.subject,
        "message": alert.message,
        "type": "Condition",
        "data": {"message": {"code": "x", "params": {"at": 1_742_391_675_556_u64}}},
        "device": {
            "id": device.id.get(),
            "organizationId": device.organization_id.get(),
            "nodeClass": device.node_class.as_str(),
            "displayName": device.display_name,
            "references": {"organization": {"id": device.organization_id.get()}},
        },
    }))
    .expect("JSON")
}

impl Tenant {
    fn alerts(&self) -> Vec<(Alert, Device)> {
        let devices = self.world.ninja.all_devices();
        self.world
            .ninja
            .all_alerts()
            .into_iter()
            .map(|a| {
                let d = devices
                    .iter()
                    .find(|d| Some(d.id) == a.device_id)
                    .expect("the alert's device")
                    .clone();
                (a, d)
            })
            .collect()
    }

    async fn deliver(&self, body: &[u8]) -> Result<ninjaone_servicenow::engine::Delivery, Refusal> {
        self.receiver
            .receive(
                [
                    (HEADER, SECRET.as_bytes()),
                    ("content-type", b"application/json"),
                ],
                body,
            )
            .await
    }

    async fn records(&self) -> BTreeMap<String, TicketRecord> {
        self.world
            .store
            .ticket_records()
            .await
            .expect("records")
            .into_iter()
            .map(|r| (r.alert.to_string(), r))
            .collect()
    }

    /// Requests other than token requests, of `api`.
    fn calls(&self, api: Api) -> Vec<LoggedRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.api == api && !r.is_token_request())
            .collect()
    }

    fn incidents_per_correlation(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for i in self.world.snow.all_incidents() {
            *counts
                .entry(i.correlation_id.unwrap_or_default())
                .or_default() += 1;
        }
        counts
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_creates_one_incident_with_two_servicenow_requests_and_no_ninjaone_request() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    let delivery = t
        .deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .expect("handled");
    let DeliveryOutcome::Created { ticket, .. } = &delivery.outcome else {
        panic!("not created: {}", delivery.outcome);
    };
    let incidents = t.world.snow.all_incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(&incidents[0].sys_id, ticket);
    assert_eq!(
        incidents[0].correlation_id.as_deref(),
        Some(format!("ninjaone:{}:alert:{}", world::INTEGRATION, alert.uid).as_str())
    );
    assert_eq!(
        (delivery.servicenow_requests, delivery.ninjaone_requests),
        (2, 0)
    );
    let sn = t.calls(Api::ServiceNow);
    assert_eq!(sn.len(), 2, "{sn:?}");
    assert_eq!(sn.iter().filter(|r| r.is_write()).count(), 1);
    assert!(t.calls(Api::NinjaOne).is_empty());
    let records = t.records().await;
    assert_eq!(records[alert.uid.as_str()].ticket.as_ref(), Some(ticket));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_delivery_and_a_concurrent_duplicate_still_make_one_incident() {
    let t = tenant(1, 2, 2).await;
    let alerts = t.alerts();
    let first = activity(&alerts[0].0, &alerts[0].1, "TRIGGERED");
    assert!(matches!(
        t.deliver(&first).await.unwrap().outcome,
        DeliveryOutcome::Created { .. }
    ));
    t.server.clear_log();
    let again = t.deliver(&first).await.unwrap();
    assert!(
        matches!(again.outcome, DeliveryOutcome::AlreadyTicketed { .. }),
        "{}",
        again.outcome
    );
    assert!(
        t.calls(Api::ServiceNow).is_empty(),
        "an identical repeat asks nothing"
    );

    let second = activity(&alerts[1].0, &alerts[1].1, "TRIGGERED");
    let (a, b) = tokio::join!(t.deliver(&second), t.deliver(&second));
    let outcomes = [a.unwrap().outcome, b.unwrap().outcome];
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, DeliveryOutcome::Created { .. }))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    let counts = t.incidents_per_correlation();
    assert_eq!(counts.len(), 2);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_resolves_the_incident_once_ninjaone_no_longer_lists_the_alert() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    t.deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .unwrap();
    assert!(t.world.ninja.clear_alert(&alert.uid));
    t.server.clear_log();
    let delivery = t
        .deliver(&activity(&alert, &device, "RESET"))
        .await
        .unwrap();
    assert!(
        matches!(delivery.outcome, DeliveryOutcome::Resolved { .. }),
        "{}",
        delivery.outcome
    );
    assert_eq!(delivery.ninjaone_requests, 1);
    let ninja = t.calls(Api::NinjaOne);
    assert_eq!(ninja.len(), 1);
    assert_eq!(ninja[0].path, format!("/v2/device/{}/alerts", device.id));
    let incident = &t.world.snow.all_incidents()[0];
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(
        t.records().await.is_empty(),
        "a resolved ticket's record is removed"
    );
    // The same reset again changes nothing.
    let again = t
        .deliver(&activity(&alert, &device, "RESET"))
        .await
        .unwrap();
    assert!(
        matches!(again.outcome, DeliveryOutcome::Ignored { .. }),
        "{}",
        again.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_whose_alert_is_still_open_resolves_nothing() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    t.deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .unwrap();
    let before = t.records().await;
    t.server.clear_log();
    let delivery = t
        .deliver(&activity(&alert, &device, "RESET"))
        .await
        .unwrap();
    assert_eq!(delivery.outcome, DeliveryOutcome::StillOpen);
    assert!(t.calls(Api::ServiceNow).is_empty());
    assert_eq!(t.world.snow.all_incidents()[0].state, IncidentState::New);
    assert_eq!(t.records().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_secret_an_oversized_or_truncated_body_is_refused_and_writes_nothing() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    let body = activity(&alert, &device, "TRIGGERED");
    let missing = t
        .receiver
        .receive([("content-type", &b"application/json"[..])], &body)
        .await;
    let wrong = t
        .receiver
        .receive(
            [(
                "X-OrgSync-Webhook-Secret",
                &b"a-webhook-secret-long-enougH"[..],
            )],
            &body,
        )
        .await;
    let short = t.receiver.receive([(HEADER, &b"a"[..])], &body).await;
    let truncated = t.deliver(&body[..body.len() / 2]).await;
    let mut large = body.clone();
    large.extend(std::iter::repeat_n(b' ', 70 * 1024));
    let too_large = t.deliver(&large).await;
    let statuses: Vec<u16> = [missing, wrong, short, truncated, too_large]
        .into_iter()
        .map(|r| {
            let refusal = r.expect_err("refused");
            assert!(!refusal.is_retryable(), "{refusal}");
            assert!(!refusal.to_string().contains(SECRET));
            refusal.http_status()
        })
        .collect();
    assert_eq!(statuses, [401, 403, 403, 400, 413]);
    assert!(t.server.requests().is_empty(), "no request at all");
    assert!(t.records().await.is_empty(), "nothing stored");
    assert!(t.world.snow.all_incidents().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_message_adds_one_note_and_an_identical_repeat_writes_nothing() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    t.deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .unwrap();
    let later = alert.update_time.unwrap() + chrono::TimeDelta::minutes(5);
    assert!(
        t.world
            .ninja
            .retrigger_alert(&alert.uid, "CPU at 99%", later)
    );
    let changed = t.world.ninja.all_alerts().remove(0);
    t.server.clear_log();
    let noted = t
        .deliver(&activity(&changed, &device, "TRIGGERED"))
        .await
        .unwrap();
    assert!(
        matches!(noted.outcome, DeliveryOutcome::Noted { .. }),
        "{}",
        noted.outcome
    );
    let writes: Vec<_> = t
        .calls(Api::ServiceNow)
        .into_iter()
        .filter(LoggedRequest::is_write)
        .collect();
    assert_eq!(writes.len(), 1);
    t.server.clear_log();
    let repeat = t
        .deliver(&activity(&changed, &device, "TRIGGERED"))
        .await
        .unwrap();
    assert!(matches!(
        repeat.outcome,
        DeliveryOutcome::AlreadyTicketed { .. }
    ));
    assert!(t.server.requests().is_empty());
    // A pass afterwards agrees: nothing to note.
    let report = t.router.run_once(ApplyMode::Apply).await.unwrap();
    assert_eq!(report.remote_writes, 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_after_a_burst_of_deliveries_writes_nothing_remotely_or_in_the_store() {
    let t = tenant(3, 2, 12).await;
    let bodies: Vec<Vec<u8>> = t
        .alerts()
        .iter()
        .map(|(a, d)| activity(a, d, "TRIGGERED"))
        .collect();
    // Every delivery twice, all at once.
    let deliveries = bodies.iter().chain(bodies.iter()).map(|b| t.deliver(b));
    let outcomes = futures::future::join_all(deliveries).await;
    let created = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap().outcome, DeliveryOutcome::Created { .. }))
        .count();
    assert_eq!(created, 12);
    let records = t.records().await;
    t.server.clear_log();
    let report = t.router.run_once(ApplyMode::Apply).await.unwrap();
    assert_eq!((report.created, report.remote_writes), (0, 0), "{report:?}");
    assert!(!t.calls(Api::ServiceNow).iter().any(LoggedRequest::is_write));
    assert_eq!(t.records().await, records, "the pass stores nothing new");
    let counts = t.incidents_per_correlation();
    assert_eq!(counts.len(), 12);
    assert!(counts.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_racing_a_pass_create_each_incident_once() {
    let t = tenant(2, 2, 8).await;
    let bodies: Vec<Vec<u8>> = t
        .alerts()
        .iter()
        .map(|(a, d)| activity(a, d, "TRIGGERED"))
        .collect();
    let deliveries = futures::future::join_all(bodies.iter().map(|b| t.deliver(b)));
    let (outcomes, report) = tokio::join!(deliveries, t.router.run_once(ApplyMode::Apply));
    assert!(outcomes.iter().all(Result::is_ok));
    let report = report.unwrap();
    let created = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap().outcome, DeliveryOutcome::Created { .. }))
        .count();
    assert_eq!(created + report.created, 8, "{report:?}");
    let counts = t.incidents_per_correlation();
    assert_eq!(counts.len(), 8);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

// ---- the decoder ----

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/ninjaone/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

#[test]
fn the_documented_trigger_and_reset_decode_with_every_field() {
    let a = Activity::from_json(&fixture("activity_triggered.json")).unwrap();
    assert_eq!(a.id(), Some(177_210));
    assert_eq!(
        a.activity_time().unwrap().timestamp_millis(),
        1_742_391_675_556
    );
    assert_eq!(a.status_code(), &StatusCode::Triggered);
    assert_eq!(a.activity_type(), Some(&ActivityType::Condition));
    assert_eq!(
        a.device_id().map(ninjaone_servicenow::model::DeviceId::get),
        Some(7)
    );
    assert_eq!(
        a.organization()
            .map(ninjaone_servicenow::model::OrganizationId::get),
        Some(2)
    );
    assert_eq!(a.device().and_then(|d| d.display_name()), Some("FS-01"));
    assert!(a.device().and_then(|d| d.references()).is_some());
    assert_eq!(a.source_name(), Some("Disk space"));
    assert_eq!(a.kind(), Some("Condition"));
    assert!(a.data().is_some());
    assert!(a.ignored_fields().is_empty());
    let alert = a.to_alert();
    assert_eq!(alert.uid, *a.series_uid());
    assert_eq!(alert.message.as_deref(), Some("Disk C: has 4% free space"));
    let device = a.to_device().unwrap();
    assert_eq!((device.id.get(), device.organization_id.get()), (7, 2));

    let r = Activity::from_json(&fixture("activity_reset.json")).unwrap();
    assert_eq!(r.status_code(), &StatusCode::Reset);
    // An integer `activityTime` is whole seconds.
    assert_eq!(r.activity_time().unwrap().timestamp(), 1_742_392_011);
    assert_eq!(r.series_uid(), a.series_uid());
}

#[test]
fn fields_of_the_wrong_type_are_left_out_and_named_never_a_failure() {
    let mut value: Value = serde_json::from_slice(&fixture("activity_triggered.json")).unwrap();
    value["id"] = json!("not a number");
    value["activityTime"] = json!({"at": 1});
    value["deviceId"] = json!([7]);
    value["message"] = json!(42);
    value["severity"] = json!(3);
    value["device"]["organizationId"] = json!("two");
    value["data"] = json!("text");
    let a = Activity::from_json(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert_eq!((a.id(), a.activity_time(), a.message()), (None, None, None));
    assert_eq!(
        a.device_id().map(ninjaone_servicenow::model::DeviceId::get),
        Some(7),
        "the expansion's id stands in"
    );
    assert_eq!(a.organization(), None);
    assert!(a.to_device().is_none());
    for field in [
        "id",
        "activityTime",
        "deviceId",
        "message",
        "severity",
        "data",
        "device.organizationId",
    ] {
        assert!(
            a.ignored_fields().contains(&field),
            "{field}: {:?}",
            a.ignored_fields()
        );
    }
    // A device expansion that is not an object is left out too.
    value["device"] = json!("seven");
    let a = Activity::from_json(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert!(a.device().is_none());
    assert!(a.ignored_fields().contains(&"device"));
}

#[test]
fn unknown_activity_types_and_status_codes_are_kept() {
    let a = Activity::from_json(
        br#"{"seriesUid":"u1","statusCode":"SNOOZED","activityType":"QUANTUM"}"#,
    )
    .unwrap();
    assert_eq!(a.status_code(), &StatusCode::Other("SNOOZED".into()));
    assert_eq!(
        a.activity_type(),
        Some(&ActivityType::Other("QUANTUM".into()))
    );
    assert!(!a.is_condition());
    assert_eq!(a.status_code().as_str(), "SNOOZED");
}

#[test]
fn a_body_without_a_usable_series_uid_or_status_code_says_which_field() {
    let cases: [(&[u8], &str); 7] = [
        (br#"{"statusCode":"TRIGGERED"}"#, "seriesUid"),
        (br#"{"seriesUid":17,"statusCode":"TRIGGERED"}"#, "seriesUid"),
        (
            br#"{"seriesUid":"has spaces","statusCode":"TRIGGERED"}"#,
            "seriesUid",
        ),
        (br#"{"seriesUid":"u1"}"#, "statusCode"),
        (br#"{"seriesUid":"u1","statusCode":""}"#, "statusCode"),
        (br#"{"seriesUid":"u1","statusCode":null}"#, "statusCode"),
        (br#"{"seriesUid":"u1","statusCode":5}"#, "statusCode"),
    ];
    for (body, field) in cases {
        let err = Activity::from_json(body).unwrap_err();
        assert!(
            matches!(&err, ActivityError::Field { field: f, .. } if *f == field),
            "{}: {err}",
            String::from_utf8_lossy(body)
        );
        assert!(err.to_string().contains(field));
    }
    assert!(matches!(
        Activity::from_json(b"[1,2]"),
        Err(ActivityError::NotAnObject { found: "array" })
    ));
    assert!(matches!(
        Activity::from_json(b"{\"seriesUid\":"),
        Err(ActivityError::NotJson { .. })
    ));
    assert!(matches!(
        Activity::from_json(b""),
        Err(ActivityError::NotJson { .. })
    ));
}

#[test]
fn the_secret_is_redacted_and_the_options_clamp() {
    let secret = WebhookSecret::from(SECRET.to_owned());
    assert!(!format!("{secret:?}").contains(SECRET));
    let options = ReceiverOptions::builder(secret)
        .header_name("bad header")
        .max_body_bytes(usize::MAX)
        .build();
    assert_eq!(options.header_name(), HEADER);
    assert_eq!(options.max_body_bytes(), 16 * 1024 * 1024);
    assert!(!format!("{options:?}").contains(SECRET));
    assert!(options.secret().is_strong());
    assert!(!WebhookSecret::from(String::new()).is_strong());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_beyond_the_resolve_guard_are_held_for_the_pass() {
    let t = tenant(2, 6, 12).await;
    let alerts = t.alerts();
    for (a, d) in &alerts {
        t.deliver(&activity(a, d, "TRIGGERED")).await.unwrap();
    }
    for (a, _) in &alerts {
        assert!(t.world.ninja.clear_alert(&a.uid));
    }
    let mut outcomes = Vec::new();
    for (a, d) in &alerts {
        outcomes.push(t.deliver(&activity(a, d, "RESET")).await.unwrap().outcome);
    }
    let resolved = outcomes
        .iter()
        .filter(|o| matches!(o, DeliveryOutcome::Resolved { .. }))
        .count();
    let held = outcomes
        .iter()
        .filter(|o| matches!(o, DeliveryOutcome::Held { .. }))
        .count();
    // The default guard: max(10, 10% of the open tickets) per pass interval.
    assert_eq!((resolved, held), (10, 2), "{outcomes:?}");
    assert_eq!(t.records().await.len(), 2, "held tickets stay recorded");
    // The pass decides the rest, under its own guard.
    let report = t.router.run_once(ApplyMode::Apply).await.unwrap();
    assert_eq!(report.resolved, 2, "{report:?}");
    assert!(t.records().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_with_a_millisecond_time_leaves_nothing_for_a_pass_whose_listing_has_more_decimals()
 {
    let t = tenant(1, 1, 1).await;
    let (mut alert, device) = t.alerts().remove(0);
    // The listing answers with microseconds, the delivery with 3 decimals (API-NOTES).
    let listed = alert.update_time.unwrap() + chrono::TimeDelta::microseconds(556_123);
    alert.update_time = Some(listed);
    alert.create_time = Some(listed);
    t.world.ninja.add_alert(alert.clone());
    let mut body: Value = serde_json::from_slice(&activity(&alert, &device, "TRIGGERED")).unwrap();
    #[allow(clippy::cast_precision_loss)]
    let millis = listed.timestamp_millis() as f64 / 1e3;
    body["activityTime"] = json!(millis);
    let delivery = t
        .deliver(&serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert!(matches!(delivery.outcome, DeliveryOutcome::Created { .. }));
    let report = t.router.run_once(ApplyMode::Apply).await.unwrap();
    assert_eq!((report.noted, report.remote_writes), (0, 0), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_without_the_device_expansion_looks_the_device_up_and_other_activities_are_ignored()
 {
    let t = tenant(2, 2, 2).await;
    let (alert, device) = t.alerts().remove(1);
    let mut body: Value = serde_json::from_slice(&activity(&alert, &device, "TRIGGERED")).unwrap();
    body.as_object_mut().unwrap().remove("device");
    let delivery = t
        .deliver(&serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert!(
        matches!(delivery.outcome, DeliveryOutcome::Created { .. }),
        "{}",
        delivery.outcome
    );
    assert!(delivery.ninjaone_requests >= 1);
    assert!(
        t.calls(Api::NinjaOne)
            .iter()
            .all(|r| r.path == "/v2/devices")
    );
    let incident = &t.world.snow.all_incidents()[0];
    let org = usize::try_from(device.organization_id.get()).unwrap();
    let company = t.world.snow.all_companies()[org - 1].sys_id.clone();
    assert_eq!(
        incident.company.as_ref(),
        Some(&company),
        "the device's organization"
    );

    t.server.clear_log();
    for (kind, status) in [("ACTIONSET", "TRIGGERED"), ("CONDITION", "ACKNOWLEDGED")] {
        body["activityType"] = json!(kind);
        body["statusCode"] = json!(status);
        let delivery = t
            .deliver(&serde_json::to_vec(&body).unwrap())
            .await
            .unwrap();
        assert!(
            matches!(delivery.outcome, DeliveryOutcome::Ignored { .. }),
            "{}",
            delivery.outcome
        );
    }
    assert!(t.server.requests().is_empty());
}

// ---- what a delivery reads ----

/// A store that counts the listings (every configuration, every ticket record, every CI
/// record): what grows with the tenant.
#[derive(Debug, Default)]
struct ListingCounter {
    inner: ninjaone_servicenow::store::MemoryStore,
    listings: std::sync::Mutex<Vec<&'static str>>,
}

impl ListingCounter {
    fn listed(&self, what: &'static str) {
        self.listings.lock().unwrap().push(what);
    }

    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.listings.lock().unwrap())
    }
}

mod counted {
    use ninjaone_servicenow::model::{
        AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
        IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate,
        TicketTemplateName,
    };
    use ninjaone_servicenow::ports::{
        ConfigStore, RouterGuard, StoreError, WriteBatch, async_trait,
    };

    use super::ListingCounter;

    #[async_trait]
    impl ConfigStore for ListingCounter {
        async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
            self.listed("configs");
            self.inner.configs().await
        }
        async fn config(&self, o: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
            self.inner.config(o).await
        }
        async fn configs_of(&self, o: &[OrganizationId]) -> Result<Vec<SyncConfig>, StoreError> {
            self.inner.configs_of(o).await
        }
        async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
            self.inner.write(batch).await
        }
        async fn mode(&self) -> Result<IntegrationMode, StoreError> {
            self.inner.mode().await
        }
        async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
            self.inner.set_mode(mode).await
        }
        async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
            self.inner.ci_mappings().await
        }
        async fn put_ci_mapping(&self, m: CiMapping) -> Result<(), StoreError> {
            self.inner.put_ci_mapping(m).await
        }
        async fn delete_ci_mapping(&self, n: &CiMappingName) -> Result<bool, StoreError> {
            self.inner.delete_ci_mapping(n).await
        }
        async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
            self.inner.ticket_templates().await
        }
        async fn put_ticket_template(&self, t: TicketTemplate) -> Result<(), StoreError> {
            self.inner.put_ticket_template(t).await
        }
        async fn delete_ticket_template(&self, n: &TicketTemplateName) -> Result<bool, StoreError> {
            self.inner.delete_ticket_template(n).await
        }
        async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
            self.inner.audit(f).await
        }
        async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
            self.listed("ticket_records");
            self.inner.ticket_records().await
        }
        async fn ticket_record(&self, a: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
            self.inner.ticket_record(a).await
        }
        async fn write_ticket_records(
            &self,
            put: Vec<TicketRecord>,
            remove: Vec<AlertUid>,
        ) -> Result<(), StoreError> {
            self.inner.write_ticket_records(put, remove).await
        }
        async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
            self.listed("ci_records");
            self.inner.ci_records().await
        }
        async fn ci_record(&self, d: DeviceId) -> Result<Option<CiRecord>, StoreError> {
            self.inner.ci_record(d).await
        }
        async fn write_ci_records(
            &self,
            put: Vec<CiRecord>,
            remove: Vec<DeviceId>,
        ) -> Result<(), StoreError> {
            self.inner.write_ci_records(put, remove).await
        }
        async fn lock_router(&self, id: &str) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
            self.inner.lock_router(id).await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_reads_its_own_records_by_key_and_lists_nothing_that_grows_with_the_tenant() {
    let w = world(2, 3, 6);
    let store = Arc::new(ListingCounter::default());
    // The world's configurations, seeded into the counted store.
    for config in w.store.configs().await.unwrap() {
        let seeded = world::config(
            config.organization(),
            config.company().cloned(),
            config.status(),
            config.allow_incidents(),
        );
        store.inner.write_config(seeded).await.unwrap();
    }
    store
        .inner
        .set_mode(w.store.mode().await.unwrap())
        .await
        .unwrap();
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(w.ninja.clone()),
            Arc::new(w.snow.clone()),
            store.clone(),
            Arc::new(w.clock.clone()),
        ),
        w.settings(),
    );
    let receiver = WebhookReceiver::new(
        router.clone(),
        ReceiverOptions::new(WebhookSecret::from(SECRET.to_owned())),
    );
    let devices = w.ninja.all_devices();
    let mut created = 0;
    for alert in w.ninja.all_alerts() {
        let device = devices
            .iter()
            .find(|d| Some(d.id) == alert.device_id)
            .unwrap();
        let body = activity(&alert, device, "TRIGGERED");
        for _ in 0..2 {
            let delivery = receiver
                .receive([(HEADER, SECRET.as_bytes())], &body)
                .await
                .unwrap();
            created += usize::from(matches!(delivery.outcome, DeliveryOutcome::Created { .. }));
        }
    }
    assert_eq!(created, 6);
    assert_eq!(
        store.take(),
        Vec::<&str>::new(),
        "triggers and their repeats read point records only"
    );
    // A confirmed reset counts the open tickets for the resolve guard: one listing.
    let (alert, device) = {
        let alert = w.ninja.all_alerts().remove(0);
        let device = devices
            .iter()
            .find(|d| Some(d.id) == alert.device_id)
            .unwrap()
            .clone();
        (alert, device)
    };
    assert!(w.ninja.clear_alert(&alert.uid));
    let reset = receiver
        .receive(
            [(HEADER, SECRET.as_bytes())],
            &activity(&alert, &device, "RESET"),
        )
        .await
        .unwrap();
    assert!(
        matches!(reset.outcome, DeliveryOutcome::Resolved { .. }),
        "{}",
        reset.outcome
    );
    assert_eq!(store.take(), ["ticket_records"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_is_checked_on_its_own_before_any_body_and_never_echoed() {
    let t = tenant(1, 1, 1).await;
    let r = &t.receiver;
    assert!(matches!(
        r.check_secret([("content-type", &b"application/json"[..])]),
        Err(Refusal::MissingSecret { .. })
    ));
    let sent = "a-guess-that-is-not-the-secret";
    let wrong = r
        .check_secret([(HEADER, sent.as_bytes())])
        .expect_err("a wrong secret");
    assert!(matches!(wrong, Refusal::WrongSecret { .. }));
    assert_eq!(wrong.http_status(), 403);
    for text in [wrong.to_string(), format!("{wrong:?}")] {
        assert!(!text.contains(sent) && !text.contains(SECRET), "{text}");
    }
    // The first occurrence counts, whatever the case of its name and the spaces around it.
    r.check_secret([
        (
            "X-OrgSync-Webhook-Secret",
            format!("  {SECRET} ").as_bytes(),
        ),
        (HEADER, &b"later-and-wrong"[..]),
    ])
    .expect("the right secret");
    // `accept` refuses the secret before it looks at the body: an empty body with a wrong
    // secret is a 403, not a 400.
    assert!(matches!(
        r.accept([(HEADER, sent.as_bytes())], b""),
        Err(Refusal::WrongSecret { .. })
    ));
    assert!(t.server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_time_unlike_the_deliverys_costs_at_most_one_note_and_repeats_none() {
    // Whether an alert's `updateTime` equals its trigger's `activityTime` is not documented:
    // take the worst case, the listing 1.5 s later than the delivery.
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    let delivered = activity(&alert, &device, "TRIGGERED");
    let mut listed = alert.clone();
    listed.update_time = alert
        .update_time
        .map(|at| at + chrono::TimeDelta::milliseconds(1500));
    assert!(t.world.ninja.clear_alert(&alert.uid));
    t.world.ninja.add_alert(listed);
    assert!(matches!(
        t.deliver(&delivered).await.unwrap().outcome,
        DeliveryOutcome::Created { .. }
    ));
    let mut notes = 0;
    for round in 0..3 {
        // NinjaOne retries the delivery (say, its 2xx was lost), then a pass runs.
        let again = t.deliver(&delivered).await.unwrap();
        notes += usize::from(matches!(again.outcome, DeliveryOutcome::Noted { .. }));
        let report = t.router.run_once(ApplyMode::Apply).await.unwrap();
        assert_eq!(report.created, 0, "round {round}: {report:?}");
        notes += report.noted;
    }
    let ticket = t.world.snow.all_incidents().remove(0).sys_id;
    assert_eq!(t.world.snow.work_notes(&ticket).len(), notes);
    assert!(notes <= 1, "{notes} notes for one trigger");
}

/// `body` with its `activityTime` moved by `ms` milliseconds.
fn shifted(body: &[u8], ms: i64) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(body).unwrap();
    #[allow(clippy::cast_precision_loss)]
    let moved = value["activityTime"].as_f64().unwrap() + ms as f64 / 1e3;
    value["activityTime"] = json!(moved);
    serde_json::to_vec(&value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_arriving_after_its_reset_creates_nothing() {
    let t = tenant(1, 2, 2).await;
    let alerts = t.alerts();
    // A trigger, its reset, then the trigger again (NinjaOne retries it, late).
    let (alert, device) = &alerts[0];
    let trigger = activity(alert, device, "TRIGGERED");
    t.deliver(&trigger).await.unwrap();
    assert!(t.world.ninja.clear_alert(&alert.uid));
    let reset = shifted(&activity(alert, device, "RESET"), 60_000);
    let resolved = t.deliver(&reset).await.unwrap();
    assert!(
        matches!(resolved.outcome, DeliveryOutcome::Resolved { .. }),
        "{}",
        resolved.outcome
    );
    let late = t.deliver(&trigger).await.unwrap();
    assert!(
        matches!(late.outcome, DeliveryOutcome::Ignored { .. }),
        "{}",
        late.outcome
    );
    // A reset that overtakes its trigger: the trigger, older than the reset, creates nothing.
    let (alert, device) = &alerts[1];
    assert!(t.world.ninja.clear_alert(&alert.uid));
    let trigger = activity(alert, device, "TRIGGERED");
    let reset = shifted(&activity(alert, device, "RESET"), 60_000);
    let first = t.deliver(&reset).await.unwrap();
    assert!(
        matches!(first.outcome, DeliveryOutcome::Ignored { .. }),
        "{}",
        first.outcome
    );
    let overtaken = t.deliver(&trigger).await.unwrap();
    assert!(
        matches!(overtaken.outcome, DeliveryOutcome::Ignored { .. }),
        "{}",
        overtaken.outcome
    );
    let incidents = t.world.snow.all_incidents();
    assert_eq!(incidents.len(), 1, "only the first alert's, resolved");
    assert_eq!(incidents[0].state, IncidentState::Resolved);
    assert!(t.records().await.is_empty());
    // A trigger after the reset (a new firing) is news again.
    t.world.ninja.add_alert(alert.clone());
    let refired = t.deliver(&shifted(&trigger, 120_000)).await.unwrap();
    assert!(
        matches!(refired.outcome, DeliveryOutcome::Created { .. }),
        "{}",
        refired.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_without_a_device_is_answered_2xx_and_resolves_nothing() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    t.deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .unwrap();
    assert!(t.world.ninja.clear_alert(&alert.uid));
    let mut body: Value = serde_json::from_slice(&activity(&alert, &device, "RESET")).unwrap();
    let object = body.as_object_mut().unwrap();
    object.remove("deviceId");
    object.remove("device");
    // A retry of the same payload could never be confirmed: no 503 for NinjaOne to repeat.
    let delivery = t
        .deliver(&serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert!(
        matches!(delivery.outcome, DeliveryOutcome::Ignored { .. }),
        "{}",
        delivery.outcome
    );
    assert_eq!(t.world.snow.all_incidents()[0].state, IncidentState::New);
    // The pass, which lists NinjaOne's alerts, resolves it.
    let report = t.router.run_once(ApplyMode::Apply).await.unwrap();
    assert_eq!(report.resolved, 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_create_is_refused_for_credentials_is_the_same_err_as_a_pass() {
    let t = tenant(1, 1, 1).await;
    let (alert, device) = t.alerts().remove(0);
    t.world.snow.faults().fail_next(
        ServiceNowMethod::CreateIncident,
        1,
        ninjaone_servicenow::ports::ApiErrorKind::Unauthorized,
    );
    let refusal = t
        .deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .expect_err("refused credentials are not a handled delivery");
    assert!(
        matches!(
            &refusal,
            Refusal::Failed(ninjaone_servicenow::engine::SyncError::CredentialsRefused(
                _
            ))
        ),
        "{refusal:?}"
    );
    assert_eq!(refusal.http_status(), 503, "NinjaOne retries it");
    assert!(t.world.snow.all_incidents().is_empty());

    // Once the credentials work again, the retried delivery creates the one incident.
    let delivery = t
        .deliver(&activity(&alert, &device, "TRIGGERED"))
        .await
        .expect("handled");
    assert!(
        matches!(delivery.outcome, DeliveryOutcome::Created { .. }),
        "{}",
        delivery.outcome
    );
    assert_eq!(t.world.snow.all_incidents().len(), 1);
}
