//! What a delivery reads.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_reads_its_own_records_by_key_and_lists_nothing_that_grows_with_the_tenant() {
    let w = world(2, 3, 6);
    // The listings (every configuration, every ticket record, every CI record) are what grows
    // with the tenant: the store's call counts of each, from here on.
    w.store.faults().reset_counts();
    let listings = || {
        [
            StoreMethod::Configs,
            StoreMethod::TicketRecords,
            StoreMethod::CiRecords,
        ]
        .map(|method| w.store.faults().calls(method))
    };
    let router = IncidentRouter::new(
        Ports::new(
            Arc::new(w.ninja.clone()),
            Arc::new(w.snow.clone()),
            w.engine_store(),
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
        listings(),
        [0, 0, 0],
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
    assert_eq!(listings(), [0, 1, 0], "configs, ticket records, CI records");
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
