//! NinjaOne webhook deliveries through `engine::webhook::WebhookReceiver` and the router's
//! event path, over the fake tenant HTTP server (`testing::FakeServer`) and the real HTTP
//! clients; and the activity decoder.

use crate::support::incident_world as world;
use ninjaone_servicenow::testing::{ServiceNowMethod, StoreMethod};

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

mod decoder;
mod delivery_reads;

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
            world.engine_store(),
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
