//! Randomised fault and crash injection for the incident router: under rate limits, transient
//! failures of every call, creates and resolves that commit and then time out, and passes
//! dropped after any number of remote writes — while alerts appear and clear and people
//! resolve incidents — later passes converge with exactly one incident per alert that routes,
//! no duplicate, every cleared alert's incident resolved, and a final pass that writes nothing.
//!
//! Rerun one seed with `FAULT_SEED=<n> cargo test --all-features --test incidents_faults`; run
//! more (or fewer) seeds with `FAULT_SEEDS=<count>`.

use ninjaone_servicenow::testing::{ServiceNowMethod, SplitMix64};
use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;
use futures::FutureExt;
use futures::executor::block_on;
use ninjaone_servicenow::engine::{ApplyMode, EngineOptions};
use ninjaone_servicenow::model::{AlertUid, IncidentState};
use ninjaone_servicenow::ports::ApiErrorKind;

use crate::support::incident_world as support;
use support::{INTEGRATION, world};

const DEFAULT_FAULT_SEEDS: u64 = 150;
const ROUNDS: usize = 6;
const MAX_CLEAN_PASSES: usize = 3;

/// `testing::rng::SplitMix64` with this test's seed spread, drawing `usize`s.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(SplitMix64::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03,
        ))
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.0.below(n as u64)).unwrap()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.0.chance(percent)
    }
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("FAULT_SEED") {
        return vec![one.parse().expect("FAULT_SEED must be a number")];
    }
    let count = std::env::var("FAULT_SEEDS").map_or(DEFAULT_FAULT_SEEDS, |n| {
        n.parse().expect("FAULT_SEEDS must be a number")
    });
    (0..count).collect()
}

#[test]
fn random_faults_converge_without_duplicates_or_lost_incidents() {
    let (mut failed, mut crashes) = (0, 0);
    let all = seeds();
    for &seed in &all {
        let (f, c) = run_seed(seed);
        failed += f;
        crashes += c;
    }
    eprintln!(
        "{} seeds; {failed} failed writes and {crashes} crashes injected; no duplicate, \
         no lost incident",
        all.len()
    );
    if all.len() >= 20 {
        // The faults fired: the convergence above was not a fair-weather run.
        assert!(
            failed > 0 && crashes > 0,
            "failed {failed}, crashes {crashes}"
        );
    }
}

/// Runs one seed; returns the failed writes and the crashes it injected.
fn run_seed(seed: u64) -> (usize, usize) {
    let (mut failed, mut crashes) = (0, 0);
    let ctx = format!(
        "seed {seed} (rerun: FAULT_SEED={seed} cargo test --all-features --test incidents_faults)"
    );
    let mut rng = Rng::new(seed);
    let w = world(3, 3, 10);
    let concurrency = 1 + rng.below(4);
    let router = w.router().options(
        EngineOptions::builder()
            .concurrency(concurrency)
            .page_size(u32::try_from(3 + rng.below(8)).unwrap())
            .store_batch(1 + rng.below(5)),
    );
    // Incidents a person finished while their alert was open: never recreated.
    let mut finished_by_person: BTreeSet<String> = BTreeSet::new();
    for round in 0..ROUNDS {
        // The world moves: alerts appear and clear, people resolve incidents.
        let devices = w.ninja.all_devices();
        for _ in 0..rng.below(4) {
            let device = devices[rng.below(devices.len())].id;
            w.ninja
                .raise_alert(device, format!("round {round}"), w.snow.now());
        }
        let alerts = w.ninja.all_alerts();
        for alert in &alerts {
            if rng.chance(15) {
                w.ninja.clear_alert(&alert.uid);
            }
        }
        for incident in w.snow.all_incidents() {
            if !incident.state.is_finished() && rng.chance(5) {
                w.snow
                    .set_incident_state(&incident.sys_id, IncidentState::Resolved);
                finished_by_person.insert(incident.correlation_id.clone().unwrap_or_default());
            }
        }
        // Faults for this round.
        let kind = match rng.below(3) {
            0 => ApiErrorKind::Transient,
            1 => ApiErrorKind::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(30)),
            },
            _ => ApiErrorKind::InvalidResponse,
        };
        w.faults
            .fail_rate(seed.wrapping_add(round as u64), 0.15, kind);
        w.faults.commit_then_fail(
            ServiceNowMethod::CreateIncident,
            rng.below(3),
            ApiErrorKind::Transient,
        );
        w.faults.commit_then_fail(
            ServiceNowMethod::UpdateIncident,
            rng.below(2),
            ApiErrorKind::Transient,
        );
        if rng.chance(30) {
            // A crash after a few remote writes: the pass is dropped where it is stuck.
            w.faults.stall_after_writes(rng.below(5));
            if router.run_once(ApplyMode::Apply).now_or_never().is_none() {
                crashes += 1;
            }
        } else {
            let report = block_on(router.run_once(ApplyMode::Apply))
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            failed += report.failed;
        }
        w.faults.clear_faults();
        w.clock.advance(TimeDelta::minutes(10));
        w.snow.set_now(w.snow.now() + TimeDelta::minutes(10));
        assert_no_duplicates(&w, &ctx);
    }
    // Clean passes converge.
    let mut last = None;
    for _ in 0..MAX_CLEAN_PASSES {
        let report =
            block_on(router.run_once(ApplyMode::Apply)).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let quiet = report.remote_writes == 0;
        last = Some(report);
        if quiet {
            break;
        }
    }
    let last = last.unwrap();
    assert_eq!(last.remote_writes, 0, "{ctx}: did not converge: {last:#?}");
    assert_no_duplicates(&w, &ctx);
    assert_converged(&w, &ctx, &finished_by_person);
    (failed, crashes)
}

fn correlation(uid: &AlertUid) -> String {
    format!("ninjaone:{INTEGRATION}:alert:{uid}")
}

fn assert_no_duplicates(w: &support::World, ctx: &str) {
    for (id, n) in w.incident_counts() {
        assert_eq!(n, 1, "{ctx}: {n} incidents carry {id}");
    }
}

/// Every open alert has its incident; every incident of a cleared alert is finished; the
/// incidents of open alerts are open unless a person finished them.
fn assert_converged(w: &support::World, ctx: &str, finished_by_person: &BTreeSet<String>) {
    let open: BTreeSet<String> = w
        .ninja
        .all_alerts()
        .iter()
        .map(|a| correlation(&a.uid))
        .collect();
    let incidents: BTreeMap<String, IncidentState> = w
        .snow
        .all_incidents()
        .into_iter()
        .map(|i| (i.correlation_id.unwrap_or_default(), i.state))
        .collect();
    for id in &open {
        assert!(
            incidents.contains_key(id),
            "{ctx}: lost the incident of open alert {id}"
        );
    }
    for (id, state) in &incidents {
        if !open.contains(id) {
            assert!(
                state.is_finished(),
                "{ctx}: {id}'s alert cleared but its incident is {state}"
            );
        } else if !finished_by_person.contains(id) {
            assert!(
                !state.is_finished(),
                "{ctx}: {id}'s alert is open but its incident is {state}"
            );
        }
    }
}
