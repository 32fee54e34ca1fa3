//! `orgsync serve`: NinjaOne's webhook, `/healthz` and `/metrics` on axum, and a sync pass and
//! an incident pass every DURATION.
//!
//! - `POST /ninjaone/webhook`: the secret header is checked before a byte of the body is read
//!   (401 missing, 403 wrong); a `Content-Length` over the receiver's cap is refused before
//!   the body is read, and a body without one stops being read at the first byte beyond the
//!   cap (413: a huge body is never buffered); a body that cannot be read (the client hung
//!   up) is a 400, decoded (400), and handled on a task of its own, so a client that hangs up does not
//!   cut a delivery short (200 with the delivery as JSON; 503 when NinjaOne should retry).
//! - The passes run one after the other on the command's own task, so they never overlap;
//!   deliveries are served by the runtime's other tasks meanwhile. The next round comes after
//!   DURATION, or sooner when a pass's `next_run` asks for it.
//! - SIGTERM or SIGINT: the listener stops accepting, the deliveries in hand and the pass
//!   running are finished, and the command returns exit 0.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ninjaone_servicenow::engine::webhook::{
    DeliveryOutcome, ReceiverOptions, Refusal, WebhookReceiver, WebhookSecret,
};
use ninjaone_servicenow::engine::{ApplyMode, NextRun};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use super::{Ctx, Exit, Failed, Io, Verbosity, error_chain};

/// The webhook's path.
pub const WEBHOOK_PATH: &str = "/ninjaone/webhook";

/// The shortest wait between two rounds of passes, whatever a pass's `next_run` says.
const MIN_WAIT: Duration = Duration::from_secs(1);

type Labels = [(&'static str, &'static str); 1];
type PassLabels = [(&'static str, &'static str); 2];

/// What `/metrics` shows.
struct Metrics {
    registry: Registry,
    deliveries: Family<Labels, Counter>,
    delivery_seconds: Histogram,
    passes: Family<PassLabels, Counter>,
    pass_seconds: Family<Labels, Histogram>,
    tickets: Family<PassLabels, Counter>,
    failures: Family<Labels, Counter>,
}

fn seconds_histogram() -> Histogram {
    // 10 ms to ~40 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("orgsync");
        let deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by outcome (what the delivery did, or why it was refused)",
            deliveries.clone(),
        );
        let delivery_seconds = seconds_histogram();
        registry.register(
            "webhook_delivery_duration_seconds",
            "Time to handle an accepted delivery",
            delivery_seconds.clone(),
        );
        let passes = Family::<PassLabels, Counter>::default();
        registry.register(
            "passes",
            "Passes run, by kind (sync, incident) and result (ok, partial, failed)",
            passes.clone(),
        );
        let pass_seconds = Family::<Labels, Histogram>::new_with_constructor(seconds_histogram);
        registry.register(
            "pass_duration_seconds",
            "Duration of passes, by kind",
            pass_seconds.clone(),
        );
        let tickets = Family::<PassLabels, Counter>::default();
        registry.register(
            "tickets",
            "Tickets created and resolved, by action and by source (delivery or pass)",
            tickets.clone(),
        );
        let failures = Family::<Labels, Counter>::default();
        registry.register(
            "failures",
            "Failures, by source (delivery, sync_pass, incident_pass)",
            failures.clone(),
        );
        Self {
            registry,
            deliveries,
            delivery_seconds,
            passes,
            pass_seconds,
            tickets,
            failures,
        }
    }

    fn tickets(&self, action: &'static str, source: &'static str, n: usize) {
        if n > 0 {
            self.tickets
                .get_or_create(&[("action", action), ("source", source)])
                .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    fn pass(&self, kind: &'static str, result: &'static str, took: Duration) {
        self.passes
            .get_or_create(&[("kind", kind), ("result", result)])
            .inc();
        self.pass_seconds
            .get_or_create(&[("kind", kind)])
            .observe(took.as_secs_f64());
        if result == "failed" {
            let source = if kind == "sync" {
                "sync_pass"
            } else {
                "incident_pass"
            };
            self.failures.get_or_create(&[("source", source)]).inc();
        }
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// What the handlers share.
struct Shared {
    receiver: WebhookReceiver,
    metrics: Metrics,
}

fn refusal_name(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::MissingSecret { .. } => "missing_secret",
        Refusal::WrongSecret { .. } => "wrong_secret",
        Refusal::TooLarge { .. } => "too_large",
        Refusal::Malformed(_) => "malformed",
        Refusal::Unfinished(_) => "unfinished",
        _ => "failed",
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn refused(shared: &Shared, refusal: &Refusal) -> Response {
    shared
        .metrics
        .deliveries
        .get_or_create(&[("outcome", refusal_name(refusal))])
        .inc();
    if refusal.is_retryable() {
        shared
            .metrics
            .failures
            .get_or_create(&[("source", "delivery")])
            .inc();
    }
    let status =
        StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    json_response(status, &serde_json::json!({ "error": refusal.to_string() }))
}

fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect()
}

/// Why a body was not read.
enum BodyError {
    /// Over the cap: said by `Content-Length` before a byte is read, or found while reading
    /// (a chunked body), when reading stops.
    TooLarge,
    /// The stream failed (the client hung up, a broken chunk).
    Unreadable(axum::Error),
}

/// Reads at most `limit` bytes of `body`: a `Content-Length` above it is refused before
/// anything is read, and a body without one stops being read at the first byte beyond it.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    use futures_util::StreamExt as _;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes =
        Vec::with_capacity(declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit)));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Unreadable)?;
        if bytes.len().saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn webhook(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The secret first, before a byte of the body is read.
    if let Err(refusal) = shared.receiver.check_secret(header_pairs(&parts.headers)) {
        return refused(&shared, &refusal);
    }
    let limit = shared.receiver.options().max_body_bytes();
    let bytes = match read_body(&parts.headers, Body::new(body), limit).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return refused(&shared, &Refusal::TooLarge { limit }),
        Err(BodyError::Unreadable(err)) => {
            // The client stopped sending or sent a broken stream: nothing is handled, and
            // NinjaOne's retry (if it was NinjaOne) is welcome.
            shared
                .metrics
                .deliveries
                .get_or_create(&[("outcome", "unreadable")])
                .inc();
            return json_response(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": format!("the body could not be read: {err}") }),
            );
        }
    };
    let activity = match shared.receiver.accept(header_pairs(&parts.headers), &bytes) {
        Ok(activity) => activity,
        Err(refusal) => return refused(&shared, &refusal),
    };
    let started = Instant::now();
    let task = {
        let receiver = shared.receiver.clone();
        tokio::spawn(async move { receiver.handle(activity).await })
    };
    let result = task.await;
    shared
        .metrics
        .delivery_seconds
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(Ok(delivery)) => {
            let metrics = &shared.metrics;
            metrics
                .deliveries
                .get_or_create(&[("outcome", delivery.outcome.name())])
                .inc();
            match delivery.outcome {
                DeliveryOutcome::Created { .. } => metrics.tickets("created", "delivery", 1),
                DeliveryOutcome::Resolved { .. } => metrics.tickets("resolved", "delivery", 1),
                _ => {}
            }
            let body = serde_json::to_value(&delivery).unwrap_or_default();
            json_response(StatusCode::OK, &body)
        }
        Ok(Err(refusal)) => refused(&shared, &refusal),
        Err(_) => {
            tracing::error!("a delivery's task ended without an answer");
            shared
                .metrics
                .failures
                .get_or_create(&[("source", "delivery")])
                .inc();
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "error": "the delivery could not be handled; retry it" }),
            )
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match shared.metrics.render() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Resolves once SIGTERM or SIGINT arrives (or at once when they cannot be watched: then the
/// caller still stops cleanly rather than run unstoppable).
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            tracing::error!("SIGTERM cannot be watched; stopping");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How long until `next`, at least [`MIN_WAIT`] and at most `every`.
fn wait_for(next: NextRun, every: Duration) -> Duration {
    match next {
        NextRun::Regular => every,
        NextRun::At(at) => (at - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(MIN_WAIT, every.max(MIN_WAIT)),
    }
}

/// `humantime`-like text for a whole number of seconds: `90s`, `5m`, `1h`.
fn shown(every: Duration) -> String {
    let secs = every.as_secs();
    let mut text = String::new();
    let _ = if secs.is_multiple_of(3600) {
        write!(text, "{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        write!(text, "{}m", secs / 60)
    } else {
        write!(text, "{secs}s")
    };
    text
}

impl Ctx {
    /// One sync pass, then one incident pass; returns when the next round is due.
    async fn round(&self, metrics: &Metrics, every: Duration, io: &mut Io<'_>) -> Duration {
        let mut wait = every;
        let started = Instant::now();
        let sync = self.sync.run_once(ApplyMode::Apply).await;
        let took = started.elapsed();
        let line = match &sync {
            Ok(report) => {
                let c = report;
                let result = if report.stop.is_some() || c.unknown > 0 {
                    "failed"
                } else if c.failed + c.deferred + c.held > 0 || report.needs_approval() {
                    "partial"
                } else {
                    "ok"
                };
                metrics.pass("sync", result, took);
                wait = wait.min(wait_for(report.next_run, every));
                format!(
                    "sync pass ({result}): {} created, {} matched, {} failed, {} deferred, {} \
                     held; {} remote write(s)",
                    c.created, c.matched, c.failed, c.deferred, c.held, report.remote_writes
                )
            }
            Err(err) => {
                metrics.pass("sync", "failed", took);
                format!("sync pass failed: {}", error_chain(err))
            }
        };
        self.log(io, &line);
        let started = Instant::now();
        let incidents = self.router.run_once(ApplyMode::Apply).await;
        let took = started.elapsed();
        let line = match &incidents {
            Ok(report) => {
                let result = if report.stop.is_some() || !report.listing_problems.is_empty() {
                    "failed"
                } else if report.failed + report.unknown > 0 || report.needs_approval() {
                    "partial"
                } else {
                    "ok"
                };
                metrics.pass("incident", result, took);
                metrics.tickets("created", "pass", report.created);
                metrics.tickets("resolved", "pass", report.resolved);
                wait = wait.min(wait_for(report.next_run, every));
                format!(
                    "incident pass ({result}): {} created, {} resolved, {} noted, {} held, {} \
                     failed, {} unknown",
                    report.created,
                    report.resolved,
                    report.noted,
                    report.held,
                    report.failed,
                    report.unknown
                )
            }
            Err(err) => {
                metrics.pass("incident", "failed", took);
                format!("incident pass failed: {}", error_chain(err))
            }
        };
        self.log(io, &line);
        wait
    }

    fn log(&self, io: &mut Io<'_>, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
            let _ = writeln!(io.out, "{now} {line}");
            let _ = io.out.flush();
        }
    }

    /// `serve --listen ADDR --every DURATION`.
    pub(super) async fn serve(
        &self,
        listen: SocketAddr,
        every: Duration,
        secret: WebhookSecret,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|err| {
            Failed::new(
                Exit::Failure,
                format!("could not listen on {listen}: {err}"),
            )
            .hint("choose another --listen port, or stop what holds this one")
        })?;
        let local = listener.local_addr().unwrap_or(listen);
        let shared = Arc::new(Shared {
            receiver: WebhookReceiver::new(self.router.clone(), ReceiverOptions::new(secret)),
            metrics: Metrics::new(),
        });
        let app = Router::new()
            .route(WEBHOOK_PATH, post(webhook))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = watch::channel(false);
        let mut server_stopped = stopped.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_stopped.wait_for(|s| *s).await;
                })
                .await
        });
        tokio::spawn(async move {
            termination().await;
            let _ = stop.send(true);
        });
        // Always printed (also with -q): it is how a caller learns the port of `:0`.
        let _ = writeln!(
            io.out,
            "Listening on http://{local} (POST {WEBHOOK_PATH}, GET /healthz, GET /metrics); \
             passes every {}.",
            shown(every)
        );
        let _ = io.out.flush();
        let mut until_stop = stopped;
        loop {
            if *until_stop.borrow() {
                break;
            }
            let wait = self.round(&shared.metrics, every, io).await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = until_stop.wait_for(|s| *s) => break,
            }
        }
        self.log(io, "stopping: finishing the deliveries in hand");
        match server.await {
            Ok(Ok(())) => {
                self.log(io, "stopped");
                Ok(Exit::Done)
            }
            Ok(Err(err)) => Err(Failed::new(
                Exit::Failure,
                format!("the webhook server failed: {err}"),
            )),
            Err(err) => Err(Failed::new(
                Exit::Failure,
                format!("the webhook server ended abnormally: {err}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<Result<&'static [u8], std::io::Error>>) -> Body {
        Body::from_stream(futures_util::stream::iter(parts))
    }

    fn length(n: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, n.into());
        headers
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused_before_or_while_reading_and_a_broken_one_is_unreadable()
    {
        // Declared too large: refused before the stream is polled (polling it would fail).
        let broken = || chunks(vec![Err(std::io::Error::other("hung up"))]);
        assert!(matches!(
            read_body(&length(2048), broken(), 1024).await,
            Err(BodyError::TooLarge)
        ));
        // Undeclared (chunked): reading stops at the chunk that crosses the cap.
        let big: &'static [u8] = &[b' '; 700];
        let endless = chunks(vec![
            Ok(big),
            Ok(big),
            Err(std::io::Error::other("never read")),
        ]);
        assert!(matches!(
            read_body(&HeaderMap::new(), endless, 1024).await,
            Err(BodyError::TooLarge)
        ));
        assert!(matches!(
            read_body(&HeaderMap::new(), broken(), 1024).await,
            Err(BodyError::Unreadable(_))
        ));
        let fits = chunks(vec![Ok(&b"{\"a\":"[..]), Ok(&b"1}"[..])]);
        assert_eq!(
            read_body(&length(7), fits, 1024).await.ok().as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
    }

    #[test]
    fn a_retry_hint_shortens_the_wait_within_bounds() {
        let every = Duration::from_secs(300);
        assert_eq!(wait_for(NextRun::Regular, every), every);
        let soon = chrono::Utc::now() + chrono::TimeDelta::seconds(30);
        let wait = wait_for(NextRun::At(soon), every);
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28));
        let past = chrono::Utc::now() - chrono::TimeDelta::seconds(30);
        assert_eq!(wait_for(NextRun::At(past), every), MIN_WAIT);
        let late = chrono::Utc::now() + chrono::TimeDelta::hours(3);
        assert_eq!(wait_for(NextRun::At(late), every), every);
        assert_eq!(shown(Duration::from_secs(300)), "5m");
        assert_eq!(shown(Duration::from_secs(7200)), "2h");
        assert_eq!(shown(Duration::from_secs(90)), "90s");
    }
}
