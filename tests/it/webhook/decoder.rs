//! The webhook decoder.

use super::*;

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
