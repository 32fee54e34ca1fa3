//! `orgsync serve`: health, a webhook delivery turned into one incident, and SIGTERM during a pass.

use super::*;

const HOOK_SECRET: &str = "cli-hook-secret-31f9a07c5d2e";

/// A running `orgsync serve`: its process, the address it listens on, and its output so far.
struct Served {
    child: std::process::Child,
    origin: String,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    /// Reads output lines until one contains `needle` (at most 60 s); returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(err) => panic!(
                    "`orgsync serve` never printed {needle:?} ({err}): {:?}",
                    self.seen
                ),
            }
        }
    }
}

impl Setup {
    /// Starts `orgsync serve --listen 127.0.0.1:0 <extra>` and waits for its address.
    fn serve(&self, extra: &str) -> Served {
        let mut child = Command::new(orgsync_binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra.split_whitespace())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the orgsync binary starts");
        let (send, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let send = send.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if send.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        let mut served = Served {
            child,
            origin: String::new(),
            lines,
            seen: Vec::new(),
        };
        let line = served.wait_for("Listening on http://");
        if let Some(origin) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            origin.clone_into(&mut served.origin);
        }
        served
    }

    /// `GET url`: the status and the body.
    fn get(&self, url: &str) -> (u16, String) {
        self.runtime.block_on(async {
            let response = reqwest::get(url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    /// Raises an alert on `device` in the fake; returns what NinjaOne would post for it.
    fn trigger(&self, device: ninjaone_servicenow::model::DeviceId) -> Vec<u8> {
        let ninja = self.server.ninjaone();
        let uid = ninja
            .raise_alert(
                device,
                "Disk C: has less than 5% free space",
                chrono::Utc::now(),
            )
            .unwrap();
        let alert = ninja
            .all_alerts()
            .into_iter()
            .find(|a| a.uid == uid)
            .unwrap();
        let device = ninja
            .all_devices()
            .into_iter()
            .find(|d| d.id == device)
            .unwrap();
        delivery(&alert, &device)
    }
}

/// What NinjaOne would post for `alert` on `device`.
fn delivery(
    alert: &ninjaone_servicenow::model::Alert,
    device: &ninjaone_servicenow::model::Device,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": 177_210,
        "activityTime": 1_742_391_675.556,
        "deviceId": device.id.get(),
        "seriesUid": alert.uid.as_str(),
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED",
        "status": "Triggered",
        "sourceType": alert.source_type,
        "message": alert.message,
        "type": "Condition",
        "device": {
            "id": device.id.get(),
            "organizationId": device.organization_id.get(),
            "nodeClass": device.node_class.as_str(),
            "references": {"organization": {"id": device.organization_id.get()}},
        },
    }))
    .unwrap()
}

#[test]
fn serve_answers_health_turns_a_delivery_into_one_incident_counts_it_and_exits_0_on_sigterm() {
    let mut setup = Setup::new();
    setup.set("ORGSYNC_WEBHOOK_SECRET", HOOK_SECRET);
    setup.server.servicenow().set_now(chrono::Utc::now());
    let device = setup
        .server
        .ninjaone()
        .add_device("1".parse().unwrap(), Some("9".parse().unwrap()), "SRV-0001")
        .unwrap();
    assert_eq!(setup.run("mode active").0, 0);
    assert_eq!(setup.run("sync").0, 0);
    assert_eq!(setup.run("update --org 1 --allow-incidents true").0, 0);

    let mut served = setup.serve("--every 1h");
    // The first round of passes runs at start; the delivery comes after it, so it is the
    // delivery that creates the incident.
    served.wait_for("incident pass");
    let origin = served.origin.clone();
    assert_eq!(
        setup.get(&format!("{origin}/healthz")),
        (200, "ok\n".to_owned())
    );
    let body = setup.trigger(device);
    let http = reqwest::Client::new();
    let post = |secret: Option<&'static str>, body: Vec<u8>| {
        let mut request = http
            .post(format!("{origin}/ninjaone/webhook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("X-Orgsync-Webhook-Secret", secret);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    setup.server.clear_log();
    let answers = setup.runtime.block_on(async {
        vec![
            post(Some("not-the-secret-at-all"), body.clone()).await,
            post(None, body.clone()).await,
            post(Some(HOOK_SECRET), body[..body.len() / 2].to_vec()).await,
            post(Some(HOOK_SECRET), vec![b' '; 1024 * 1024]).await,
            post(Some(HOOK_SECRET), body.clone()).await,
            post(Some(HOOK_SECRET), body.clone()).await,
        ]
    });
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [403, 401, 400, 413, 200, 200], "{answers:?}");
    assert!(answers[4].1.contains("\"created\""), "{}", answers[4].1);
    assert_eq!(
        setup.server.servicenow().all_incidents().len(),
        1,
        "one incident for two deliveries"
    );
    let creates: Vec<_> = writes(&setup, Api::ServiceNow)
        .into_iter()
        .filter(|w| w.starts_with("POST"))
        .collect();
    assert_eq!(creates, ["POST /api/now/table/incident"]);

    let (status, metrics) = setup.get(&format!("{origin}/metrics"));
    assert_eq!(status, 200);
    for line in [
        r#"orgsync_webhook_deliveries_total{outcome="created"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="already_ticketed"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="wrong_secret"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="missing_secret"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="malformed"} 1"#,
        r#"orgsync_webhook_deliveries_total{outcome="too_large"} 1"#,
        r#"orgsync_tickets_total{action="created",source="delivery"} 1"#,
        r#"orgsync_passes_total{kind="sync",result="ok"} 1"#,
        r#"orgsync_passes_total{kind="incident",result="ok"} 1"#,
        "orgsync_pass_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // `webhook register` runs while `serve` holds the state file.
    let (code, out, err) =
        setup.run("webhook register --url https://orgsync.example.com/ninjaone/webhook");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(HOOK_SECRET) && !err.contains(HOOK_SECRET));
    let registered = setup.server.webhook().expect("registered");
    assert_eq!(
        registered.headers,
        [(
            "x-orgsync-webhook-secret".to_owned(),
            HOOK_SECRET.to_owned()
        )]
    );

    let pid = served.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    served.wait_for("stopped");
    let status = served.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", served.seen);
    let output = served.seen.join("\n");
    for secret in [
        HOOK_SECRET,
        FakeServer::NINJAONE_CLIENT_SECRET,
        FakeServer::SERVICENOW_PASSWORD,
    ] {
        assert!(!output.contains(secret), "serve printed a secret: {output}");
    }
}

#[test]
fn sigterm_while_a_pass_runs_lets_the_pass_finish_then_exits_0() {
    // Every request is answered 150 ms late, so the incident pass (a token, the alert, device
    // and ticket listings) is still running when the signal arrives.
    let mut setup = Setup::with_server(|b| b.latency(std::time::Duration::from_millis(150)));
    setup.set("ORGSYNC_WEBHOOK_SECRET", HOOK_SECRET);
    assert_eq!(setup.run("mode active").0, 0);
    let mut served = setup.serve("--every 1h");
    served.wait_for("sync pass");
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let line = served.wait_for("incident pass");
    assert!(
        line.contains("incident pass (ok)"),
        "the pass in hand finished: {line}"
    );
    served.wait_for("stopped");
    assert_eq!(
        served.child.wait().unwrap().code(),
        Some(0),
        "{:?}",
        served.seen
    );
}
