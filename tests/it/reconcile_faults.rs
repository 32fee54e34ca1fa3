//! Randomised fault injection and crash injection for the reconcile pass of `OrganizationSync`:
//! whatever fails (listings, creates, creates that commit and then time out, rate limits, a
//! store write, a dropped future after any number of remote writes), later passes converge to
//! one active configuration per organization and never create a company twice.
//!
//! Rerun one fault seed with `FAULT_SEED=<n> cargo test --all-features --test reconcile_faults`;
//! run more (or fewer) seeds with `FAULT_SEEDS=<count>`.

use crate::support::setup::Setup;
use ninjaone_servicenow::testing::ServiceNowMethod;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use futures::FutureExt;
use futures::executor::block_on;
use ninjaone_servicenow::engine::{
    ApplyMode, EngineOptions, FailureKind, Outcome, Report, SyncError,
};
use ninjaone_servicenow::model::{
    Company, IntegrationMode, OrganizationId, SyncConfig, SyncStatus, SysId, normalize_name,
};
use ninjaone_servicenow::ports::{ApiErrorKind, StoreErrorKind};
use ninjaone_servicenow::testing::{SplitMix64, StoreMethod, Verdict};

use crate::support::world::World;

mod crash_injection;
mod failing_store;
mod fault_injection;

// ---- knobs ----

/// Seeds the fault test runs by default (`FAULT_SEEDS` overrides, `FAULT_SEED` runs one).
const DEFAULT_FAULT_SEEDS: u64 = 200;

/// Passes run under faults before the faults are cleared.
///
/// Only a failed create counts as a failed attempt (a failed listing makes decisions
/// "unknown", a rate-limited create is deferred without counting), and a pass attempts each
/// organization's create at most once, so after `FAULT_PASSES` passes a configuration has at
/// most `FAULT_PASSES` failures in a row. The default policy quarantines after 5; 4 keeps every
/// organization out of quarantine, so convergence to "all active" is the right expectation.
const FAULT_PASSES: usize = 4;

/// Clean passes allowed to converge after the faults are cleared.
const MAX_CLEAN_PASSES: usize = 5;

/// Clean passes allowed to converge after a crash.
const MAX_RECOVERY_PASSES: usize = 3;

/// The fault tenant: organizations, and how many of them ServiceNow already has as companies.
const FAULT_ORGS: usize = 50;
const FAULT_COMPANIES: usize = 15;

/// The crash tenant: its first pass creates `CRASH_ORGS - CRASH_COMPANIES` companies.
const CRASH_ORGS: usize = 40;
const CRASH_COMPANIES: usize = 10;
const CRASH_WRITES: usize = CRASH_ORGS - CRASH_COMPANIES;

/// More than the longest wait a pass can set here: backoff is capped at 1 hour and the
/// injected `retry_after` is at most 10 minutes.
fn past_any_backoff() -> TimeDelta {
    TimeDelta::hours(2)
}

const RERUN: &str = "cargo test --all-features --test reconcile_faults random_faults";

// ---- a deterministic PRNG for the test's own choices ----

/// `testing::rng::SplitMix64` with this test's seed spread: every choice of a seed's run comes
/// from it, so a seed reproduces exactly.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Spread neighbouring seeds apart before the first draw.
        Self(SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A value in `0..n` (n ≤ u32::MAX).
    fn below(&mut self, n: u32) -> u32 {
        u32::try_from(self.0.below(u64::from(n))).expect("below n")
    }

    fn coin(&mut self) -> bool {
        self.0.coin()
    }
}

// ---- the tenant ----

/// `organizations` organizations, the first `companies` of them already in ServiceNow, both
/// fakes sharing one `Faults`; active mode.
fn tenant(organizations: usize, companies: usize, setup: impl Into<Setup>) -> World {
    World::builder()
        .organizations(organizations)
        .companies(companies)
        .shared_faults()
        .setup(setup)
        .admin("admin")
        .mode(IntegrationMode::Active)
        .build()
}

impl World {
    /// Companies created (writes that reached the fake, committed-then-failed ones too).
    fn create_writes(&self) -> usize {
        self.faults.writes_of(ServiceNowMethod::CreateCompany)
    }

    /// Whether every organization has an active configuration.
    fn all_active(&self) -> bool {
        let configs = self.configs();
        configs.len() == self.ninja.all_organizations().len()
            && configs.iter().all(|c| c.status() == SyncStatus::Active)
    }

    /// Runs clean passes (at most `max`) until every organization's configuration is active;
    /// returns the reports of the passes run.
    fn converge(&self, max: usize) -> Result<Vec<Report>, String> {
        let mut reports = Vec::new();
        while !self.all_active() {
            if reports.len() == max {
                return Err(format!(
                    "not converged after {max} clean passes: {}",
                    self.describe_unconverged()
                ));
            }
            self.clock.advance(past_any_backoff());
            let report = block_on(self.sync.run_once(ApplyMode::Apply))
                .map_err(|e| format!("clean pass {} failed: {e}", reports.len() + 1))?;
            if let Some(stop) = &report.stop {
                return Err(format!("clean pass {} stopped: {stop}", reports.len() + 1));
            }
            reports.push(report);
        }
        Ok(reports)
    }

    fn describe_unconverged(&self) -> String {
        let configs = self.configs();
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for config in &configs {
            *by_status.entry(config.status().to_string()).or_default() += 1;
        }
        let first = configs
            .iter()
            .find(|c| c.status() != SyncStatus::Active)
            .map(|c| {
                format!(
                    "; first: organization {} is {} (reason {:?}, last error {:?})",
                    c.organization(),
                    c.status(),
                    c.status_reason(),
                    c.last_error()
                )
            })
            .unwrap_or_default();
        format!("{} configurations {by_status:?}{first}", configs.len())
    }

    /// What must hold after every pass, converged or not: no company is duplicated (by
    /// normalised name), every company a configuration names exists and has the
    /// organization's name, no two configurations hold one company, and no active
    /// configuration was lost, changed its company or left active.
    fn check_invariants(
        &self,
        active_before: &mut HashMap<OrganizationId, SysId>,
    ) -> Result<(), String> {
        let companies = self.snow.all_companies();
        let mut names = HashSet::new();
        for company in &companies {
            if !names.insert(normalize_name(&company.name)) {
                return Err(format!(
                    "ServiceNow has two companies named {:?}",
                    company.name
                ));
            }
        }
        let by_id: HashMap<&SysId, &Company> = companies.iter().map(|c| (&c.sys_id, c)).collect();
        let org_names: HashMap<OrganizationId, String> = self
            .ninja
            .all_organizations()
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let configs: HashMap<OrganizationId, SyncConfig> = self
            .configs()
            .into_iter()
            .map(|c| (c.organization(), c))
            .collect();
        let mut holders: HashMap<&SysId, OrganizationId> = HashMap::new();
        for (org, config) in &configs {
            let Some(name) = org_names.get(org) else {
                return Err(format!("a configuration for unknown organization {org}"));
            };
            if let Some(company) = config.company() {
                let Some(found) = by_id.get(company) else {
                    return Err(format!(
                        "organization {org}'s company {company} is not in ServiceNow"
                    ));
                };
                if normalize_name(&found.name) != normalize_name(name) {
                    return Err(format!(
                        "organization {org} ({name:?}) is mapped to company {:?}",
                        found.name
                    ));
                }
                if let Some(other) = holders.insert(company, *org) {
                    return Err(format!(
                        "organizations {other} and {org} both hold company {company}"
                    ));
                }
            }
        }
        for (org, company) in active_before.iter() {
            match configs.get(org) {
                None => return Err(format!("organization {org}'s configuration was lost")),
                Some(c) if c.status() != SyncStatus::Active || c.company() != Some(company) => {
                    return Err(format!(
                        "organization {org} was active with company {company} and is now {} \
                         with {:?}",
                        c.status(),
                        c.company()
                    ));
                }
                Some(_) => {}
            }
        }
        for (org, config) in &configs {
            if let (SyncStatus::Active, Some(company)) = (config.status(), config.company()) {
                active_before.insert(*org, company.clone());
            }
        }
        Ok(())
    }

    /// The converged state: every organization has exactly one configuration, active, whose
    /// company exists and has its name; ServiceNow has exactly `companies` companies, no two
    /// with the same normalised name.
    fn check_converged(&self, companies: usize) -> Result<(), String> {
        self.check_invariants(&mut HashMap::new())?;
        let orgs = self.ninja.all_organizations();
        let configs = self.configs();
        if configs.len() != orgs.len() {
            return Err(format!(
                "{} configurations for {} organizations",
                configs.len(),
                orgs.len()
            ));
        }
        let by_org: HashMap<OrganizationId, &SyncConfig> =
            configs.iter().map(|c| (c.organization(), c)).collect();
        for org in &orgs {
            match by_org.get(&org.id) {
                None => return Err(format!("organization {} has no configuration", org.id)),
                Some(c) if c.status() != SyncStatus::Active || c.company().is_none() => {
                    return Err(format!(
                        "organization {} is {} with company {:?} (reason {:?})",
                        org.id,
                        c.status(),
                        c.company(),
                        c.status_reason()
                    ));
                }
                Some(_) => {}
            }
        }
        let found = self.snow.all_companies().len();
        if found != companies {
            return Err(format!(
                "ServiceNow has {found} companies, expected {companies}"
            ));
        }
        Ok(())
    }

    /// A pass over a converged tenant writes nothing: no remote write, no store write.
    fn check_quiet_pass(&self) -> Result<(), String> {
        let writes = self.faults.writes();
        let before = self.configs();
        self.clock.advance(past_any_backoff());
        let report = block_on(self.sync.run_once(ApplyMode::Apply))
            .map_err(|e| format!("the quiet pass failed: {e}"))?;
        if report.remote_writes != 0 || self.faults.writes() != writes {
            return Err(format!(
                "a pass over a converged tenant made {} remote writes ({} counted by the fake)",
                report.remote_writes,
                self.faults.writes() - writes
            ));
        }
        if self.configs() != before {
            return Err("a pass over a converged tenant changed the store".to_owned());
        }
        Ok(())
    }
}

/// Runs `body`, turning a panic into an error message so one bad seed or position is
/// reported with its number rather than hiding the others.
fn guarded<T>(body: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .map_or_else(|| "panicked".to_owned(), |msg| format!("panicked: {msg}"))),
    }
}

fn crash_policy(concurrency: usize, store_batch: usize) -> EngineOptions {
    EngineOptions::builder()
        .page_size(7)
        .concurrency(concurrency)
        .store_batch(store_batch)
        .build()
}
