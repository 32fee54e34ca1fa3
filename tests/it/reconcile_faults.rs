//! Randomised fault injection and crash injection for the reconcile pass of `OrganizationSync`:
//! whatever fails (listings, creates, creates that commit and then time out, rate limits, a
//! store write, a dropped future after any number of remote writes), later passes converge to
//! one active configuration per organization and never create a company twice.
//!
//! Rerun one fault seed with `FAULT_SEED=<n> cargo test --all-features --test reconcile_faults`;
//! run more (or fewer) seeds with `FAULT_SEEDS=<count>`.

use ninjaone_servicenow::testing::ServiceNowMethod;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::setup::Setup;
use async_trait::async_trait;
use chrono::TimeDelta;
use futures::FutureExt;
use futures::executor::block_on;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{
    Actor, ApplyMode, EngineOptions, FailureKind, OrganizationSync, Outcome, Report, SyncError,
};
use ninjaone_servicenow::model::{
    AuditEntry, AuditFilter, CiItem, CiItemResult, CiMapping, CiMappingName, Company,
    CustomerAccount, Incident, IncidentUpdate, IntegrationMode, NewCompany, NewIncident,
    OrganizationId, SyncConfig, SyncStatus, SysId, normalize_name,
};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{
    ApiError, ApiErrorKind, ConfigStore, IncidentQuery, Page, PageRequest, ServiceNowApi,
    StoreError, StoreErrorKind, WriteBatch,
};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, Faults, fixed_time};

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

/// SplitMix64: every choice of a seed's run comes from it, so a seed reproduces exactly.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Spread neighbouring seeds apart before the first draw.
        Self(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (n ≤ u32::MAX).
    fn below(&mut self, n: u32) -> u32 {
        u32::try_from(self.next_u64() % u64::from(n)).expect("below n")
    }

    fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

// ---- the tenant ----

/// Both fakes (sharing one `Faults`), a store, a manual clock and the service over them.
struct Tenant {
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    faults: Faults,
    store: MemoryStore,
    clock: ManualClock,
    sync: OrganizationSync,
    setup: Setup,
}

impl Tenant {
    /// `organizations` organizations, the first `companies` of them already in ServiceNow;
    /// active mode.
    fn new(organizations: usize, companies: usize, setup: impl Into<Setup>) -> Self {
        let setup = setup.into();
        let faults = Faults::new();
        let ninja = FakeNinjaOne::builder()
            .organizations(organizations)
            .faults(faults.clone())
            .build();
        let snow = FakeServiceNow::builder()
            .companies(companies)
            .faults(faults.clone())
            .build();
        let store = MemoryStore::new();
        let clock = ManualClock::new(fixed_time());
        let sync = OrganizationSync::new(Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::new(store.clone()),
            Arc::new(clock.clone()),
        ))
        .policy(setup.policy.clone())
        .options(setup.options.clone());
        block_on(sync.set_mode(&Actor::administrator("admin"), IntegrationMode::Active))
            .expect("an administrator sets active mode");
        Self {
            ninja,
            snow,
            faults,
            store,
            clock,
            sync,
            setup,
        }
    }

    /// A service over this tenant's clock and NinjaOne, with another ServiceNow and store.
    fn sync_over(
        &self,
        snow: Arc<dyn ServiceNowApi>,
        store: Arc<dyn ConfigStore>,
    ) -> OrganizationSync {
        OrganizationSync::new(Ports::new(
            Arc::new(self.ninja.clone()),
            snow,
            store,
            Arc::new(self.clock.clone()),
        ))
        .policy(self.setup.policy.clone())
        .options(self.setup.options.clone())
    }

    fn configs(&self) -> Vec<SyncConfig> {
        block_on(self.store.configs()).expect("the memory store reads")
    }

    fn creates(&self) -> usize {
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

// ---- 1. fault injection ----

/// The seeds to run: `FAULT_SEED=<n>` runs one, `FAULT_SEEDS=<count>` runs `0..count`.
fn fault_seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("FAULT_SEED") {
        let seed = one
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("FAULT_SEED must be a number, not {one:?}"));
        return vec![seed];
    }
    let count = std::env::var("FAULT_SEEDS").map_or(DEFAULT_FAULT_SEEDS, |n| {
        n.trim()
            .parse()
            .unwrap_or_else(|_| panic!("FAULT_SEEDS must be a number, not {n:?}"))
    });
    (0..count).collect()
}

/// What one seed's run went through, to check that the seeds together cover every fault path.
#[derive(Debug, Default, Clone, Copy)]
struct SeedStats {
    /// Clean passes needed to converge.
    clean_passes: usize,
    /// Decisions left unknown because a listing failed.
    unknown: usize,
    /// Of those, organizations without a company left alone because the company listing
    /// failed (rather than created blind).
    not_created_blind: usize,
    /// Creates that failed transiently (whether or not they committed).
    transient_failures: usize,
    /// Creates deferred for a rate limit.
    rate_limited: usize,
    /// Companies created during the fault passes and reported as created.
    created_under_faults: usize,
    /// Creates that committed but reported a failure.
    ghost_creates: usize,
    /// Companies such creates left, adopted by a later pass instead of created again.
    ghosts_adopted: usize,
}

impl SeedStats {
    fn tally(&mut self, report: &Report, initial: &HashSet<SysId>, under_faults: bool) {
        for line in &report.outcomes {
            match &line.outcome {
                Outcome::Unknown { reason } => {
                    self.unknown += 1;
                    if reason.contains("company listing") {
                        self.not_created_blind += 1;
                    }
                }
                Outcome::Failed {
                    kind: FailureKind::Transient,
                    ..
                } => self.transient_failures += 1,
                Outcome::Deferred {
                    until: Some(_),
                    reason,
                } if reason.starts_with("rate limited") => self.rate_limited += 1,
                Outcome::Created { .. } if under_faults => self.created_under_faults += 1,
                Outcome::Matched { company, .. } if !initial.contains(company) => {
                    self.ghosts_adopted += 1;
                }
                _ => {}
            }
        }
    }

    fn add(&mut self, other: &Self) {
        self.clean_passes = self.clean_passes.max(other.clean_passes);
        self.unknown += other.unknown;
        self.not_created_blind += other.not_created_blind;
        self.transient_failures += other.transient_failures;
        self.rate_limited += other.rate_limited;
        self.created_under_faults += other.created_under_faults;
        self.ghost_creates += other.ghost_creates;
        self.ghosts_adopted += other.ghosts_adopted;
    }
}

/// One seed: `FAULT_PASSES` passes under faults, then clean passes until convergence.
fn run_fault_seed(seed: u64) -> Result<SeedStats, String> {
    let mut rng = Rng::new(seed);
    let t = Tenant::new(
        FAULT_ORGS,
        FAULT_COMPANIES,
        EngineOptions::builder().page_size(7).concurrency(4).build(),
    );
    let initial: HashSet<SysId> = t
        .snow
        .all_companies()
        .into_iter()
        .map(|c| c.sys_id)
        .collect();
    let mut stats = SeedStats::default();
    let mut active = HashMap::new();
    for pass in 1..=FAULT_PASSES {
        // 30–50 % of calls fail, with a kind each pass picks. Each pass also picks which
        // calls fail: every call (at these rates the 8-page organization listing rarely
        // completes, so such a pass mostly decides nothing), only the company listing (the
        // organizations are seen, and nothing may be created while the companies are not), or
        // only the creates (the create path: backoff, rate limits, commits that time out).
        let rate = f64::from(300 + rng.below(201)) / 1000.0;
        let kind = if rng.coin() {
            ApiErrorKind::Transient
        } else {
            ApiErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(u64::from(1 + rng.below(600)))),
            }
        };
        let fault_seed = rng.next_u64();
        match rng.below(3) {
            0 => t.faults.fail_rate(fault_seed, rate, kind),
            1 => t
                .faults
                .fail_rate_on(ServiceNowMethod::Companies, fault_seed, rate, kind),
            _ => t
                .faults
                .fail_rate_on(ServiceNowMethod::CreateCompany, fault_seed, rate, kind),
        };
        let ghosts = usize::try_from(rng.below(4)).expect("small");
        t.faults.commit_then_fail(
            ServiceNowMethod::CreateCompany,
            ghosts,
            ApiErrorKind::Transient,
        );
        let report = block_on(t.sync.run_once(ApplyMode::Apply))
            .map_err(|e| format!("fault pass {pass} failed: {e}"))?;
        if let Some(stop) = &report.stop {
            return Err(format!("fault pass {pass} stopped: {stop}"));
        }
        stats.tally(&report, &initial, true);
        t.check_invariants(&mut active)
            .map_err(|e| format!("after fault pass {pass}: {e}"))?;
        t.clock.advance(past_any_backoff());
    }
    t.faults.clear_faults();
    let reports = t.converge(MAX_CLEAN_PASSES)?;
    stats.clean_passes = reports.len();
    for report in &reports {
        stats.tally(report, &initial, false);
    }
    t.check_invariants(&mut active)
        .map_err(|e| format!("after the clean passes: {e}"))?;
    t.check_converged(FAULT_ORGS)?;
    let created: usize =
        reports.iter().map(|r| r.created).sum::<usize>() + stats.created_under_faults;
    let committed = t.creates();
    let missing = FAULT_ORGS - FAULT_COMPANIES;
    if committed != missing {
        return Err(format!(
            "{committed} companies were created, expected {missing}"
        ));
    }
    stats.ghost_creates = committed.checked_sub(created).ok_or_else(|| {
        format!("the passes reported {created} companies created, but only {committed} were")
    })?;
    if stats.ghosts_adopted != stats.ghost_creates {
        return Err(format!(
            "{} creates committed but reported a failure, and {} of their companies were \
             adopted later",
            stats.ghost_creates, stats.ghosts_adopted
        ));
    }
    t.check_quiet_pass()?;
    Ok(stats)
}

#[test]
fn random_faults_converge_without_duplicates() {
    let seeds = fault_seeds();
    let mut total = SeedStats::default();
    let mut failures = Vec::new();
    for &seed in &seeds {
        match guarded(|| run_fault_seed(seed)) {
            Ok(stats) => total.add(&stats),
            Err(err) => failures.push(format!(
                "seed {seed}: {err}\n  rerun: FAULT_SEED={seed} {RERUN}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
    println!(
        "{} seeds; at most {} clean passes to converge; totals: {total:?}",
        seeds.len(),
        total.clean_passes
    );
    // Once the faults stop and every backoff has expired, nothing is left waiting: one pass
    // converges.
    assert!(total.clean_passes <= 1, "{total:?}");
    if seeds.len() >= 50 {
        // The seeds together must have gone through every fault path, or the test proves
        // less than it claims.
        assert!(total.unknown > 0, "no listing failed: {total:?}");
        assert!(
            total.not_created_blind > 0,
            "no company listing failed while the organizations were seen: {total:?}"
        );
        assert!(total.transient_failures > 0, "no create failed: {total:?}");
        assert!(
            total.rate_limited > 0,
            "no create was rate limited: {total:?}"
        );
        assert!(
            total.created_under_faults > 0,
            "no create got through: {total:?}"
        );
        assert!(
            total.ghost_creates > 0,
            "no create committed then failed: {total:?}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed| {
        let stats = run_fault_seed(seed).expect("seed 7 converges");
        (
            stats.unknown,
            stats.transient_failures,
            stats.rate_limited,
            stats.created_under_faults,
            stats.ghost_creates,
        )
    };
    assert_eq!(run(7), run(7));
}

// ---- 2. crash injection ----

/// A `ServiceNowApi` that counts the creates started (a create stuck on a stall counts too, so
/// `started - committed` is how many were in flight when the pass was dropped).
#[derive(Debug, Clone)]
struct CountingSnow {
    inner: FakeServiceNow,
    creates_started: Arc<AtomicUsize>,
}

#[async_trait]
impl ServiceNowApi for CountingSnow {
    async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError> {
        self.inner.companies(page).await
    }

    async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError> {
        self.inner.company(id).await
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, ApiError> {
        self.creates_started.fetch_add(1, Ordering::SeqCst);
        self.inner.create_company(company).await
    }

    async fn customer_service_management(&self) -> Result<bool, ApiError> {
        self.inner.customer_service_management().await
    }

    async fn customer_accounts(
        &self,
        page: PageRequest,
    ) -> Result<Page<CustomerAccount>, ApiError> {
        self.inner.customer_accounts(page).await
    }

    async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError> {
        self.inner.customer_account(id).await
    }

    async fn incidents(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Incident>, ApiError> {
        self.inner.incidents(query, page).await
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<Incident, ApiError> {
        self.inner.create_incident(incident).await
    }

    async fn update_incident(
        &self,
        id: &SysId,
        update: &IncidentUpdate,
    ) -> Result<Incident, ApiError> {
        self.inner.update_incident(id, update).await
    }

    async fn identify_reconcile(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        self.inner.identify_reconcile(data_source, items).await
    }

    async fn user_group(
        &self,
        id: &SysId,
    ) -> Result<Option<ninjaone_servicenow::model::UserGroup>, ApiError> {
        self.inner.user_group(id).await
    }

    async fn user(&self, id: &SysId) -> Result<Option<ninjaone_servicenow::model::User>, ApiError> {
        self.inner.user(id).await
    }

    async fn cases(
        &self,
        query: &ninjaone_servicenow::ports::IncidentQuery,
        page: ninjaone_servicenow::ports::PageRequest,
    ) -> Result<
        ninjaone_servicenow::ports::Page<ninjaone_servicenow::model::Case>,
        ninjaone_servicenow::ports::ApiError,
    > {
        self.inner.cases(query, page).await
    }

    async fn create_case(
        &self,
        case: &ninjaone_servicenow::model::NewCase,
    ) -> Result<ninjaone_servicenow::model::Case, ninjaone_servicenow::ports::ApiError> {
        self.inner.create_case(case).await
    }

    async fn update_case(
        &self,
        id: &ninjaone_servicenow::model::SysId,
        update: &ninjaone_servicenow::model::CaseUpdate,
    ) -> Result<ninjaone_servicenow::model::Case, ninjaone_servicenow::ports::ApiError> {
        self.inner.update_case(id, update).await
    }

    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[ninjaone_servicenow::model::CiItem],
    ) -> Result<Vec<ninjaone_servicenow::model::CiItemResult>, ninjaone_servicenow::ports::ApiError>
    {
        self.inner
            .identify_reconcile_query(data_source, items)
            .await
    }

    async fn ci_owners(
        &self,
        ids: &[ninjaone_servicenow::model::SysId],
    ) -> Result<Vec<ninjaone_servicenow::model::CiOwner>, ninjaone_servicenow::ports::ApiError>
    {
        self.inner.ci_owners(ids).await
    }
}

fn crash_policy(concurrency: usize, store_batch: usize) -> EngineOptions {
    EngineOptions::builder()
        .page_size(7)
        .concurrency(concurrency)
        .store_batch(store_batch)
        .build()
}

/// The remote writes of an uninterrupted first pass on a fresh crash tenant.
fn first_pass_writes(policy: &EngineOptions) -> usize {
    let t = Tenant::new(CRASH_ORGS, CRASH_COMPANIES, policy.clone());
    let report = block_on(t.sync.run_once(ApplyMode::Apply)).expect("a clean first pass");
    assert_eq!(report.remote_writes, t.faults.writes());
    assert_eq!(report.created, t.faults.writes());
    assert_eq!(report.matched, CRASH_COMPANIES);
    t.check_converged(CRASH_ORGS)
        .expect("one clean pass converges");
    t.faults.writes()
}

/// What a crash left behind, for the checks specific to a crash position.
struct Crash {
    /// Creates started, committed or stuck.
    started: usize,
    /// Configurations holding a company created by the crashed pass.
    recorded: usize,
    /// Clean passes recovery needed.
    recovery_passes: usize,
}

/// A fresh tenant whose first pass is dropped after exactly `k` remote writes; then clean
/// passes converge. Checks the converged state and that recovery created exactly `w - k`.
fn crash_after(k: usize, w: usize, policy: &EngineOptions) -> Result<Crash, String> {
    let t = Tenant::new(CRASH_ORGS, CRASH_COMPANIES, policy.clone());
    let started = Arc::new(AtomicUsize::new(0));
    let sync = t.sync_over(
        Arc::new(CountingSnow {
            inner: t.snow.clone(),
            creates_started: started.clone(),
        }),
        Arc::new(t.store.clone()),
    );
    t.faults.stall_after_writes(k);
    // The fakes and the store complete at once, so one poll drives the pass until it is stuck
    // on write k + 1; dropping it there is a crash after exactly k remote writes.
    let polled = sync.run_once(ApplyMode::Apply).now_or_never();
    if t.faults.writes() != k {
        return Err(format!(
            "the pass made {} writes, not {k}",
            t.faults.writes()
        ));
    }
    match (polled, k < w) {
        (None, true) => {}
        (Some(Ok(report)), false) if report.remote_writes == w => {}
        (other, _) => {
            return Err(format!(
                "after {k} of {w} writes the pass {}",
                match other {
                    None => "did not complete".to_owned(),
                    Some(Ok(r)) => format!("completed with {} remote writes", r.remote_writes),
                    Some(Err(e)) => format!("failed: {e}"),
                }
            ));
        }
    }
    let initial: HashSet<SysId> = t
        .snow
        .all_companies()
        .into_iter()
        .take(CRASH_COMPANIES)
        .map(|c| c.sys_id)
        .collect();
    let mut crash = Crash {
        started: started.load(Ordering::SeqCst),
        recorded: t
            .configs()
            .iter()
            .filter(|c| c.company().is_some_and(|s| !initial.contains(s)))
            .count(),
        recovery_passes: 0,
    };
    t.check_invariants(&mut HashMap::new())
        .map_err(|e| format!("right after the crash: {e}"))?;
    t.faults.clear_faults();
    let before = t.creates();
    let reports = t.converge(MAX_RECOVERY_PASSES)?;
    crash.recovery_passes = reports.len();
    let recreated = t.creates() - before;
    if recreated != w - k {
        return Err(format!(
            "recovery created {recreated} companies, expected {} (the crashed pass made {k})",
            w - k
        ));
    }
    let reported: usize = reports.iter().map(|r| r.remote_writes).sum();
    if reported != recreated {
        return Err(format!(
            "recovery reported {reported} remote writes but made {recreated}"
        ));
    }
    t.check_converged(CRASH_ORGS)?;
    t.check_quiet_pass()?;
    Ok(crash)
}

#[test]
fn the_crash_tenant_first_pass_makes_thirty_writes() {
    for (concurrency, store_batch) in [(1, 100), (4, 100), (8, 3)] {
        let w = first_pass_writes(&crash_policy(concurrency, store_batch));
        assert_eq!(w, CRASH_WRITES, "concurrency {concurrency}");
    }
}

#[test]
fn a_crash_after_any_number_of_remote_writes_converges_without_duplicates() {
    let mut failures = Vec::new();
    let mut positions = 0;
    let mut most_passes = 0;
    // Concurrency 1 and 4 record results at the end of the pass; concurrency 8 with a store
    // batch of 3 records them as they come, so a crash leaves some companies recorded, some
    // committed but unrecorded, and several creates in flight.
    for (concurrency, store_batch) in [(1, 100), (4, 100), (8, 3)] {
        let policy = crash_policy(concurrency, store_batch);
        let w = first_pass_writes(&policy);
        assert_eq!(w, CRASH_WRITES);
        for k in 0..=w {
            positions += 1;
            let result = guarded(|| crash_after(k, w, &policy)).and_then(|crash| {
                most_passes = most_passes.max(crash.recovery_passes);
                let in_flight = crash.started - k;
                if in_flight != concurrency.min(w - k) {
                    return Err(format!(
                        "{in_flight} creates were in flight at the crash, expected {}",
                        concurrency.min(w - k)
                    ));
                }
                if crash.recorded > k {
                    return Err(format!(
                        "{} configurations hold a company created by a pass that created {k}",
                        crash.recorded
                    ));
                }
                Ok(())
            });
            if let Err(err) = result {
                failures.push(format!(
                    "concurrency {concurrency}, store batch {store_batch}, crash after {k} of \
                     {w} writes: {err}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {positions} crash positions failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{positions} crash positions converged, in at most {most_passes} passes each");
    // Nothing a crash leaves behind waits for a backoff: one pass recovers.
    assert_eq!(most_passes, 1);
}

#[test]
fn a_crash_with_several_creates_in_flight_converges() {
    let policy = crash_policy(8, 3);
    let w = first_pass_writes(&policy);
    for k in [11, 13, 17] {
        let crash = crash_after(k, w, &policy).unwrap_or_else(|e| panic!("k = {k}: {e}"));
        assert_eq!(crash.started - k, 8, "k = {k}: eight creates in flight");
        // Results are recorded in batches of 3: some committed companies were recorded before
        // the crash, and at least one was committed but not recorded.
        assert!(crash.recorded > 0, "k = {k}: nothing was recorded");
        assert!(crash.recorded < k, "k = {k}: every create was recorded");
    }
}

// ---- a store that fails ----

/// A `ConfigStore` over a `MemoryStore` whose `fail_at`-th `write` (counting from 1, 0 for
/// never) fails as unavailable without writing anything.
#[derive(Debug, Clone)]
struct FailingStore {
    inner: MemoryStore,
    writes: Arc<AtomicUsize>,
    fail_at: usize,
}

#[async_trait]
impl ConfigStore for FailingStore {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        self.inner.configs().await
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        self.inner.config(organization).await
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("injected failure of store write {n}"),
            ));
        }
        self.inner.write(batch).await
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        self.inner.mode().await
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        self.inner.set_mode(mode).await
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        self.inner.ci_mappings().await
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        self.inner.put_ci_mapping(mapping).await
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        self.inner.delete_ci_mapping(name).await
    }

    async fn ticket_templates(
        &self,
    ) -> Result<Vec<ninjaone_servicenow::model::TicketTemplate>, StoreError> {
        self.inner.ticket_templates().await
    }

    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn ninjaone_servicenow::ports::RouterGuard>>, StoreError> {
        self.inner.lock_router(integration_id).await
    }

    async fn put_ticket_template(
        &self,
        template: ninjaone_servicenow::model::TicketTemplate,
    ) -> Result<(), StoreError> {
        self.inner.put_ticket_template(template).await
    }

    async fn delete_ticket_template(
        &self,
        name: &ninjaone_servicenow::model::TicketTemplateName,
    ) -> Result<bool, StoreError> {
        self.inner.delete_ticket_template(name).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(filter).await
    }

    async fn ticket_records(
        &self,
    ) -> Result<Vec<ninjaone_servicenow::model::TicketRecord>, ninjaone_servicenow::ports::StoreError>
    {
        self.inner.ticket_records().await
    }

    async fn ticket_record(
        &self,
        alert: &ninjaone_servicenow::model::AlertUid,
    ) -> Result<
        Option<ninjaone_servicenow::model::TicketRecord>,
        ninjaone_servicenow::ports::StoreError,
    > {
        self.inner.ticket_record(alert).await
    }

    async fn write_ticket_records(
        &self,
        put: Vec<ninjaone_servicenow::model::TicketRecord>,
        remove: Vec<ninjaone_servicenow::model::AlertUid>,
    ) -> Result<(), ninjaone_servicenow::ports::StoreError> {
        self.inner.write_ticket_records(put, remove).await
    }

    async fn ci_records(
        &self,
    ) -> Result<Vec<ninjaone_servicenow::model::CiRecord>, ninjaone_servicenow::ports::StoreError>
    {
        self.inner.ci_records().await
    }

    async fn ci_record(
        &self,
        device: ninjaone_servicenow::model::DeviceId,
    ) -> Result<Option<ninjaone_servicenow::model::CiRecord>, ninjaone_servicenow::ports::StoreError>
    {
        self.inner.ci_record(device).await
    }

    async fn write_ci_records(
        &self,
        put: Vec<ninjaone_servicenow::model::CiRecord>,
        remove: Vec<ninjaone_servicenow::model::DeviceId>,
    ) -> Result<(), ninjaone_servicenow::ports::StoreError> {
        self.inner.write_ci_records(put, remove).await
    }
}

/// A first pass over a store whose `fail_at`-th write fails (0: none); returns the pass's
/// result, the tenant, and how many store writes the pass attempted.
fn pass_over_failing_store(
    policy: &EngineOptions,
    fail_at: usize,
) -> (Result<Report, SyncError>, Tenant, usize) {
    let t = Tenant::new(CRASH_ORGS, CRASH_COMPANIES, policy.clone());
    let writes = Arc::new(AtomicUsize::new(0));
    let sync = t.sync_over(
        Arc::new(t.snow.clone()),
        Arc::new(FailingStore {
            inner: t.store.clone(),
            writes: writes.clone(),
            fail_at,
        }),
    );
    let result = block_on(sync.run_once(ApplyMode::Apply));
    let attempted = writes.load(Ordering::SeqCst);
    (result, t, attempted)
}

#[test]
fn a_store_write_failing_at_any_point_of_a_pass_converges_without_duplicates() {
    let mut positions = 0;
    for (concurrency, store_batch) in [(4, 4), (8, 100)] {
        let policy = crash_policy(concurrency, store_batch);
        let (healthy, _, store_writes) = pass_over_failing_store(&policy, 0);
        assert_eq!(healthy.expect("a healthy pass").remote_writes, CRASH_WRITES);
        // One write before any remote write, then the results in batches.
        assert_eq!(
            store_writes,
            1 + CRASH_WRITES.div_ceil(store_batch),
            "store batch {store_batch}"
        );
        for n in 1..=store_writes {
            positions += 1;
            let label = format!("store batch {store_batch}, store write {n} of {store_writes}");
            let (result, t, attempted) = pass_over_failing_store(&policy, n);
            match result {
                Err(SyncError::Store { error, .. }) => {
                    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{label}");
                }
                other => panic!("{label}: expected a store error, got {other:?}"),
            }
            assert_eq!(attempted, n, "{label}: the pass stops at the failed write");
            if n == 1 {
                assert_eq!(
                    t.faults.writes(),
                    0,
                    "{label}: no company is created before the queue is recorded"
                );
            }
            let crashed = t.creates();
            t.check_invariants(&mut HashMap::new())
                .unwrap_or_else(|e| panic!("{label}: right after the failure: {e}"));
            t.converge(MAX_RECOVERY_PASSES)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(
                t.creates(),
                CRASH_WRITES,
                "{label}: {crashed} created by the failed pass, the rest by recovery, none twice"
            );
            t.check_converged(CRASH_ORGS)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            t.check_quiet_pass()
                .unwrap_or_else(|e| panic!("{label}: {e}"));
        }
    }
    println!("{positions} store failure positions converged");
}
