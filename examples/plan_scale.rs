//! The planner at scale: builds the snapshot of a 100,000-organization tenant with 100,000
//! ServiceNow companies (half the organizations match one by name), plans the first pass once,
//! and prints the plan's counts and how long `plan()` took.
//!
//! ```text
//! cargo run --release --features test-util --example plan_scale              # first pass
//! cargo run --release --features test-util --example plan_scale -- --no-plan # only build the snapshot
//! cargo run --release --features test-util --example plan_scale -- --steady  # 100k active configurations instead
//! ```
//!
//! With `/usr/bin/time -v`, the difference between the first two runs' maximum resident set
//! size is what planning itself adds. The data is `benches/support/tenant.rs`, the same as
//! `cargo bench --features test-util --bench plan`'s.

#[path = "../benches/support/tenant.rs"]
mod tenant;

use std::time::Instant;

use ninjaone_servicenow::model::IntegrationMode;
use ninjaone_servicenow::plan::{Observed, Policy, Snapshot, plan};

const ORGANIZATIONS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let no_plan = args.iter().any(|a| a == "--no-plan");
    let steady = args.iter().any(|a| a == "--steady");
    if let Some(unknown) = args
        .iter()
        .find(|a| !matches!(a.as_str(), "--no-plan" | "--steady"))
    {
        eprintln!("unknown argument {unknown:?}; expected --no-plan and/or --steady");
        std::process::exit(2);
    }

    let n = ORGANIZATIONS;
    let started = Instant::now();
    let (companies, configs) = if steady {
        (tenant::matching_companies(n), tenant::active_configs(n))
    } else {
        (tenant::first_pass_companies(n), Vec::new())
    };
    let snapshot = Snapshot::new(
        Observed::complete(tenant::organizations(n)),
        Observed::complete(companies),
    );
    println!(
        "snapshot: {} organizations, {} companies, {} configurations, built in {:.1} ms",
        snapshot.organizations.items().len(),
        snapshot.companies.items().len(),
        configs.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    if no_plan {
        println!("--no-plan: not planning");
        return;
    }

    let started = Instant::now();
    let planned = plan(
        &snapshot,
        &configs,
        IntegrationMode::Active,
        &Policy::default(),
        tenant::fixed_time(),
    );
    let elapsed = started.elapsed();
    let c = planned.counts();
    println!(
        "plan: {} items — {} adopt, {} create company, {} activate, {} unchanged, {} deferred, \
         {} fail, {} tombstone, {} held, {} unknown; {} drift",
        planned.items.len(),
        c.adopt,
        c.create_company,
        c.activate,
        c.unchanged,
        c.deferred,
        c.fail,
        c.tombstone,
        c.held,
        c.unknown,
        planned.drift.len()
    );
    println!("plan() took {:.1} ms", elapsed.as_secs_f64() * 1e3);
}
