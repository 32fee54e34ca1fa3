//! How close the engine's bounded concurrency gets to the ideal when every remote call is slow:
//! a tenant of 1,000 NinjaOne organizations and no ServiceNow companies, in active mode, so one
//! pass creates 1,000 companies. Every call to either fake — reads and writes, ServiceNow and
//! NinjaOne — first sleeps 5 ms (`tokio::time::sleep`, through the fakes' call hook), then
//! answers.
//!
//! ```text
//! cargo run --release --features test-util --example apply_latency
//! ```
//!
//! For concurrency 1 and 8 it prints the pass's wall time next to the ideal
//! `writes / concurrency × latency` and their ratio. The reads (a few listing pages, read one
//! after another before any write) are not in that ideal; the line also shows them. Tokio's
//! timer has a 1 ms resolution, so a 5 ms sleep takes 5 to 6 ms: the calibration line measures
//! what a sleep really takes here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{Actor, ApplyMode, EngineOptions, OrganizationSync};
use ninjaone_servicenow::model::IntegrationMode;
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, Faults, Verdict, fixed_time};

const LATENCY: Duration = Duration::from_millis(5);
const ORGANIZATIONS: usize = 1_000;

/// Every call of the fake behind `faults` first sleeps [`LATENCY`], as a remote API would.
fn slow(faults: &Faults) {
    faults.on_call(|_| Verdict::stall_until(tokio::time::sleep(LATENCY)));
}

/// What one 5 ms sleep really takes on this runtime (mean of 200, one after another).
async fn calibrate() -> Duration {
    let rounds = 200u32;
    let started = Instant::now();
    for _ in 0..rounds {
        tokio::time::sleep(LATENCY).await;
    }
    started.elapsed() / rounds
}

/// One pass creating [`ORGANIZATIONS`] companies at `concurrency`; returns the wall time, the
/// remote writes and the remote reads.
async fn pass(concurrency: usize) -> Result<(Duration, usize, usize), Box<dyn std::error::Error>> {
    let ninja = FakeNinjaOne::builder().organizations(ORGANIZATIONS).build();
    let snow = FakeServiceNow::builder().build();
    slow(ninja.faults());
    slow(snow.faults());
    let sync = OrganizationSync::new(Ports::new(
        Arc::new(ninja.clone()),
        Arc::new(snow.clone()),
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(fixed_time())),
    ))
    .options(EngineOptions::builder().concurrency(concurrency));
    sync.set_mode(&Actor::administrator("bench"), IntegrationMode::Active)
        .await?;

    let started = Instant::now();
    let report = sync.run_once(ApplyMode::Apply).await?;
    let elapsed = started.elapsed();

    let counts = &report;
    let writes = snow.faults().writes();
    let reads = ninja.faults().total_calls() + snow.faults().total_calls() - writes;
    if counts.created != ORGANIZATIONS || writes != ORGANIZATIONS || report.stop.is_some() {
        return Err(format!(
            "expected {ORGANIZATIONS} companies created, got {} ({writes} writes, stop {:?})",
            counts.created, report.stop
        )
        .into());
    }
    Ok((elapsed, writes, reads))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sleep = calibrate().await;
    println!(
        "latency {:.1} ms per remote call; a tokio sleep of it really takes {:.2} ms here",
        ms(LATENCY),
        ms(sleep)
    );
    println!(
        "{ORGANIZATIONS} organizations, no companies, active mode: one pass creates \
         {ORGANIZATIONS} companies"
    );
    for concurrency in [1, 8] {
        let (elapsed, writes, reads) = pass(concurrency).await?;
        let rounds = u32::try_from(writes.div_ceil(concurrency))?;
        let ideal = LATENCY * rounds;
        let ratio = elapsed.as_secs_f64() / ideal.as_secs_f64();
        let with_reads = sleep * (rounds + u32::try_from(reads)?);
        println!(
            "concurrency {concurrency}: {writes} writes, {reads} reads in {:.0} ms; ideal \
             (writes / concurrency × latency) {:.0} ms; ratio {ratio:.2} (at the measured sleep, \
             reads included: {:.0} ms)",
            ms(elapsed),
            ms(ideal),
            ms(with_reads)
        );
    }
    Ok(())
}
