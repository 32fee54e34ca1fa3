//! Planner benchmarks: `cargo bench --features test-util --bench plan`.
//!
//! `plan/first_pass/N`: the first pass in active mode over N organizations and N companies, no
//! configurations, half the organizations matching a company by name (so the plan is half
//! `Adopt`, half `CreateCompany`). `plan/baseline/N`: the least any matcher must do on the same
//! data — normalise every name and hash-join organizations to companies, nothing more.
//! `plan/steady_state/100000`: 100k organizations with 100k active, mapped configurations (every
//! reference checked, nothing to do). The data is `benches/support/tenant.rs`, shared with the
//! `plan_scale` example.
//!
//! The planner's timings leave out dropping the returned plan (`iter_with_large_drop`), as the
//! example's wall time of `plan()` does: freeing 100k items is the caller's, later. The baseline
//! has no output to drop; it frees its index inside the timing.
#![allow(missing_docs)]

#[path = "support/tenant.rs"]
mod tenant;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use ninjaone_servicenow::model::{Company, IntegrationMode, Organization, normalize_name};
use ninjaone_servicenow::plan::{Observed, Policy, Snapshot, plan};

/// Normalises every name and joins organizations to companies by name; returns how many
/// organizations matched a company.
fn baseline(organizations: &[Organization], companies: &[Company]) -> usize {
    let mut by_name: HashMap<String, Vec<&Company>> = HashMap::with_capacity(companies.len());
    for company in companies {
        by_name
            .entry(normalize_name(&company.name))
            .or_default()
            .push(company);
    }
    organizations
        .iter()
        .filter(|org| by_name.contains_key(&normalize_name(&org.name)))
        .count()
}

/// Few samples for the large sizes, so the whole bench takes a few minutes on 2 cores.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    let (samples, seconds) = match n {
        0..=1_000 => (50, 2),
        1_001..=10_000 => (20, 3),
        _ => (10, 5),
    };
    group
        .sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds));
}

fn planner(c: &mut Criterion) {
    let policy = Policy::default();
    let now = tenant::fixed_time();
    let mut group = c.benchmark_group("plan");
    for n in [1_000, 10_000, 100_000] {
        let snapshot = Snapshot::new(
            Observed::complete(tenant::organizations(n)),
            Observed::complete(tenant::first_pass_companies(n)),
        );
        // The data is what the benchmark claims: half adopted, half created, nothing else.
        let counts = plan(&snapshot, &[], IntegrationMode::Active, &policy, now).counts();
        assert_eq!((counts.adopt, counts.create_company), (n / 2, n / 2));
        assert_eq!(
            baseline(snapshot.organizations.items(), snapshot.companies.items()),
            n / 2
        );

        configure(&mut group, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("first_pass", n), &snapshot, |b, s| {
            b.iter_with_large_drop(|| {
                plan(black_box(s), &[], IntegrationMode::Active, &policy, now)
            });
        });
        group.bench_with_input(BenchmarkId::new("baseline", n), &snapshot, |b, s| {
            b.iter(|| {
                baseline(
                    black_box(s.organizations.items()),
                    black_box(s.companies.items()),
                )
            });
        });
    }

    let n = 100_000;
    let snapshot = Snapshot::new(
        Observed::complete(tenant::organizations(n)),
        Observed::complete(tenant::matching_companies(n)),
    );
    let configs = tenant::active_configs(n);
    let steady = plan(&snapshot, &configs, IntegrationMode::Active, &policy, now);
    assert_eq!(steady.counts().unchanged, n);
    assert!(steady.drift.is_empty());
    configure(&mut group, n);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_with_input(
        BenchmarkId::new("steady_state", n),
        &(snapshot, configs),
        |b, (s, configs)| {
            b.iter_with_large_drop(|| {
                plan(
                    black_box(s),
                    black_box(configs),
                    IntegrationMode::Active,
                    &policy,
                    now,
                )
            });
        },
    );
    group.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
