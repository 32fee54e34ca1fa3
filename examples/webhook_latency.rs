//! NinjaOne webhook deliveries → ServiceNow incidents, through `WebhookReceiver` and the real
//! HTTP clients, against the fake tenant HTTP server answering every request 10 ms late.
//!
//! ```text
//! cargo run --release --features http,test-util --example webhook_latency
//! cargo run --release --features http,test-util --example webhook_latency -- --seconds 5
//! ```
//!
//! 1. Latency: 200 triggers of new alerts, one after another: p50 and p99 of the time from
//!    the body to the created incident, and the ServiceNow and NinjaOne requests per delivery
//!    (goal: ≤ 2 ServiceNow requests, none to NinjaOne, p50 ≤ 2.5 × 10 ms).
//! 2. Throughput: 100 deliveries a second for `--seconds` (default 60): nine in ten trigger a
//!    new alert, one in ten repeats a recent one. Then one incident pass, and the checks: every
//!    alert has exactly one incident (no duplicate), and the pass creates nothing (none lost).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::ApplyMode;
use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
use ninjaone_servicenow::engine::webhook::{
    DeliveryOutcome, ReceiverOptions, WebhookReceiver, WebhookSecret,
};
use ninjaone_servicenow::http::{
    HttpOptions, NinjaOneClient, NinjaOneConfig, Secret, ServiceNowClient, ServiceNowConfig,
};
use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{Alert, Device, IntegrationMode, OrganizationId, SyncConfig};
use ninjaone_servicenow::ports::{ConfigStore, Ports};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{Api, FakeNinjaOne, FakeServer, FakeServiceNow, fixed_time};
use serde_json::json;

const LATENCY: Duration = Duration::from_millis(10);
const SECRET: &str = "webhook-latency-example-secret";
const ORGS: usize = 5;

fn activity(alert: &Alert, device: &Device) -> Vec<u8> {
    #[allow(clippy::cast_precision_loss)] // microseconds of this century fit a f64
    let time = alert.update_time.map(|t| t.timestamp_micros() as f64 / 1e6);
    serde_json::to_vec(&json!({
        "id": 1,
        "activityTime": time,
        "deviceId": device.id.get(),
        "seriesUid": alert.uid.as_str(),
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED",
        "status": "Triggered",
        "sourceType": alert.source_type,
        "subject": alert.subject,
        "message": alert.message,
        "type": "Condition",
        "device": {
            "id": device.id.get(),
            "organizationId": device.organization_id.get(),
            "nodeClass": device.node_class.as_str(),
            "displayName": device.display_name,
        },
    }))
    .expect("an activity is JSON")
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Bench {
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    server: FakeServer,
    router: IncidentRouter,
    receiver: WebhookReceiver,
    devices: Vec<Device>,
}

async fn bench() -> Result<Bench, Box<dyn std::error::Error>> {
    let ninja = FakeNinjaOne::builder()
        .organizations(ORGS)
        .devices_per_organization(20)
        .build();
    let snow = FakeServiceNow::builder().companies(ORGS).build();
    let store = MemoryStore::new();
    store.set_mode(IntegrationMode::Inactive).await?;
    for (i, company) in snow.all_companies().iter().enumerate() {
        let org = OrganizationId::new(u32::try_from(i + 1)?)?;
        let mut config = SyncConfig::new(org, Some(company.sys_id.clone()), fixed_time());
        config.set_allow_incidents(true);
        config.apply(SyncEvent::Enqueue, None, fixed_time())?;
        config.apply(SyncEvent::Succeeded, None, fixed_time())?;
        store.write_config(config).await?;
    }
    let server = FakeServer::builder(ninja.clone(), snow.clone())
        .latency(LATENCY)
        .start()
        .await;
    let options = HttpOptions::builder().concurrency(64).build();
    let ninja_client = NinjaOneClient::new(
        NinjaOneConfig::new(
            &server.ninjaone_origin(),
            FakeServer::NINJAONE_CLIENT_ID,
            Secret::new(FakeServer::NINJAONE_CLIENT_SECRET),
        )?
        .options(options.clone()),
    )?;
    let snow_client = ServiceNowClient::new(
        ServiceNowConfig::basic(
            &server.servicenow_origin(),
            FakeServer::SERVICENOW_USERNAME,
            Secret::new(FakeServer::SERVICENOW_PASSWORD),
        )?
        .options(options),
    )?;
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(ninja_client),
            Arc::new(snow_client),
            Arc::new(store),
            Arc::new(ManualClock::new(fixed_time())),
        ),
        IncidentSettings::new("bench")?,
    );
    let receiver = WebhookReceiver::new(
        router.clone(),
        ReceiverOptions::new(WebhookSecret::from(SECRET.to_owned())),
    );
    let devices = ninja.all_devices();
    Ok(Bench {
        ninja,
        snow,
        server,
        router,
        receiver,
        devices,
    })
}

impl Bench {
    /// Raises the `n`-th alert on a device and returns its delivery body (built from what
    /// was raised, without reading the fake's listing back).
    fn raise(&self, n: usize) -> Vec<u8> {
        let device = &self.devices[n % self.devices.len()];
        let at = fixed_time() + chrono::TimeDelta::seconds(i64::try_from(n).unwrap_or(0));
        let message = format!("condition {n} triggered");
        let uid = self
            .ninja
            .raise_alert(device.id, message.clone(), at)
            .expect("a generated uid");
        let mut alert = Alert::new(uid);
        alert.device_id = Some(device.id);
        alert.message = Some(message);
        alert.create_time = Some(at);
        alert.update_time = Some(at);
        alert.source_type = Some("CONDITION".to_owned());
        alert.subject = Some("CPU".to_owned());
        activity(&alert, device)
    }

    async fn deliver(
        receiver: &WebhookReceiver,
        body: &[u8],
    ) -> (Duration, DeliveryOutcome, usize, usize) {
        let start = Instant::now();
        let headers = [("x-orgsync-webhook-secret", SECRET.as_bytes())];
        match receiver.receive(headers, body).await {
            Ok(d) => (
                start.elapsed(),
                d.outcome,
                d.servicenow_requests,
                d.ninjaone_requests,
            ),
            Err(refusal) => panic!("a delivery was refused: {refusal}"),
        }
    }
}

/// Phase 1: `runs` triggers one at a time; returns how many alerts it raised.
async fn latency(b: &Bench) -> usize {
    let mut latencies = Vec::new();
    let (mut sn, mut ninja) = (0, 0);
    let runs = 200;
    b.server.clear_log();
    for n in 1..=runs {
        let body = b.raise(n);
        let (took, outcome, s, k) = Bench::deliver(&b.receiver, &body).await;
        assert!(
            matches!(outcome, DeliveryOutcome::Created { .. }),
            "{outcome}"
        );
        latencies.push(took);
        sn += s;
        ninja += k;
    }
    let logged_sn = b
        .server
        .requests()
        .iter()
        .filter(|r| r.api == Api::ServiceNow && !r.is_token_request())
        .count();
    latencies.sort();
    #[allow(clippy::cast_precision_loss)]
    let per = |n: usize| n as f64 / runs as f64;
    println!(
        "latency  {runs} triggers: p50 {:.1} ms, p99 {:.1} ms (goal p50 <= {:.1} ms); per delivery \
         {:.2} ServiceNow requests ({:.2} logged by the server), {:.2} NinjaOne requests",
        ms(percentile(&latencies, 50)),
        ms(percentile(&latencies, 99)),
        ms(LATENCY) * 2.5,
        per(sn),
        per(logged_sn),
        per(ninja),
    );

    runs
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60);
    let b = bench().await?;
    let mut sleeps = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        tokio::time::sleep(LATENCY).await;
        sleeps.push(start.elapsed());
    }
    sleeps.sort();
    println!(
        "calibration: a {} ms tokio sleep takes {:.1} ms (p50) here",
        LATENCY.as_millis(),
        ms(percentile(&sleeps, 50))
    );
    println!(
        "webhook deliveries over FakeServer, {} ms per request, real HTTP clients",
        LATENCY.as_millis()
    );

    // Warm-up: tokens, connections.
    let body = b.raise(0);
    Bench::deliver(&b.receiver, &body).await;

    let runs = latency(&b).await;

    // 2. Throughput: 100 deliveries a second.
    let total = usize::try_from(seconds * 100)?;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut handles = Vec::with_capacity(total);
    let mut recent: Vec<Vec<u8>> = Vec::new();
    let mut raised = runs + 1;
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let body = if i % 10 == 9 && !recent.is_empty() {
            recent[i % recent.len()].clone()
        } else {
            let body = b.raise(raised);
            raised += 1;
            if recent.len() >= 50 {
                recent.remove(0);
            }
            recent.push(body.clone());
            body
        };
        let receiver = b.receiver.clone();
        handles.push(tokio::spawn(async move {
            Bench::deliver(&receiver, &body).await
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let (mut created, mut already) = (0, 0);
    for handle in handles {
        let (took, outcome, _, _) = handle.await?;
        latencies.push(took);
        match outcome {
            DeliveryOutcome::Created { .. } => created += 1,
            DeliveryOutcome::AlreadyTicketed { .. } => already += 1,
            other => panic!("unexpected outcome: {other}"),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "sustained {total} deliveries in {:.1} s ({rate:.0}/s): {created} created, {already} \
         repeats already ticketed; p50 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        ms(percentile(&latencies, 50)),
        ms(percentile(&latencies, 99)),
    );

    // 3. A pass afterwards, and the checks.
    let report = b.router.run_once(ApplyMode::Apply).await?;
    let alerts = b.ninja.all_alerts().len();
    let mut per_correlation = std::collections::BTreeMap::<String, usize>::new();
    for incident in b.snow.all_incidents() {
        *per_correlation
            .entry(incident.correlation_id.unwrap_or_default())
            .or_default() += 1;
    }
    let duplicates = per_correlation.values().filter(|n| **n > 1).count();
    println!(
        "pass afterwards: {} created, {} remote writes; {alerts} open alerts, {} incidents, \
         {duplicates} duplicated",
        report.created,
        report.remote_writes,
        per_correlation.values().sum::<usize>(),
    );
    assert_eq!(duplicates, 0, "no alert has two incidents");
    assert_eq!(report.created, 0, "no delivery was lost");
    assert_eq!(
        per_correlation.len(),
        alerts,
        "every alert has its incident"
    );
    println!("ok: no duplicate, none lost");
    Ok(())
}
