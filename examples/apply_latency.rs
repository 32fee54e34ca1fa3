//! How close the engine's bounded concurrency gets to the ideal when every remote call is slow:
//! a tenant of 1,000 NinjaOne organizations and no ServiceNow companies, in active mode, so one
//! pass creates 1,000 companies. Every call to either fake — reads and writes, ServiceNow and
//! NinjaOne — first sleeps 5 ms (`tokio::time::sleep`), then answers.
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

use async_trait::async_trait;
use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{Actor, ApplyMode, OrganizationSync};
use ninjaone_servicenow::model::{
    Alert, CiItem, CiItemResult, Company, CustomerAccount, Device, DeviceRole, Incident,
    IncidentUpdate, IntegrationMode, NewCompany, NewIncident, Organization, OrganizationDetailed,
    OrganizationId, SysId,
};
use ninjaone_servicenow::plan::Policy;
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::ports::{
    ApiError, IncidentQuery, NinjaOneApi, Page, PageRequest, ServiceNowApi,
};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};

const LATENCY: Duration = Duration::from_millis(5);
const ORGANIZATIONS: usize = 1_000;

/// A fake that waits [`LATENCY`] before each call, as a remote API would.
#[derive(Debug)]
struct Slow<T>(T);

impl<T> Slow<T> {
    async fn wait(&self) {
        tokio::time::sleep(LATENCY).await;
    }
}

#[async_trait]
impl NinjaOneApi for Slow<FakeNinjaOne> {
    async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError> {
        self.wait().await;
        self.0.organizations(page).await
    }

    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError> {
        self.wait().await;
        self.0.organization(id).await
    }

    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
        self.wait().await;
        self.0.device_roles().await
    }

    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError> {
        self.wait().await;
        self.0.devices(page).await
    }

    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError> {
        self.wait().await;
        self.0.organization_devices(organization, page).await
    }

    async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
        self.wait().await;
        self.0.alerts().await
    }

    async fn devices_detailed(
        &self,
        page: ninjaone_servicenow::ports::PageRequest,
    ) -> Result<
        ninjaone_servicenow::ports::Page<ninjaone_servicenow::model::DetailedDevice>,
        ninjaone_servicenow::ports::ApiError,
    > {
        self.wait().await;
        self.0.devices_detailed(page).await
    }
}

#[async_trait]
impl ServiceNowApi for Slow<FakeServiceNow> {
    async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError> {
        self.wait().await;
        self.0.companies(page).await
    }

    async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError> {
        self.wait().await;
        self.0.company(id).await
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, ApiError> {
        self.wait().await;
        self.0.create_company(company).await
    }

    async fn customer_service_management(&self) -> Result<bool, ApiError> {
        self.wait().await;
        self.0.customer_service_management().await
    }

    async fn customer_accounts(
        &self,
        page: PageRequest,
    ) -> Result<Page<CustomerAccount>, ApiError> {
        self.wait().await;
        self.0.customer_accounts(page).await
    }

    async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError> {
        self.wait().await;
        self.0.customer_account(id).await
    }

    async fn incidents(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Incident>, ApiError> {
        self.wait().await;
        self.0.incidents(query, page).await
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<Incident, ApiError> {
        self.wait().await;
        self.0.create_incident(incident).await
    }

    async fn update_incident(
        &self,
        id: &SysId,
        update: &IncidentUpdate,
    ) -> Result<Incident, ApiError> {
        self.wait().await;
        self.0.update_incident(id, update).await
    }

    async fn identify_reconcile(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        self.wait().await;
        self.0.identify_reconcile(data_source, items).await
    }

    async fn user_group(
        &self,
        id: &SysId,
    ) -> Result<Option<ninjaone_servicenow::model::UserGroup>, ApiError> {
        self.wait().await;
        self.0.user_group(id).await
    }

    async fn user(&self, id: &SysId) -> Result<Option<ninjaone_servicenow::model::User>, ApiError> {
        self.wait().await;
        self.0.user(id).await
    }

    async fn cases(
        &self,
        query: &ninjaone_servicenow::ports::IncidentQuery,
        page: ninjaone_servicenow::ports::PageRequest,
    ) -> Result<
        ninjaone_servicenow::ports::Page<ninjaone_servicenow::model::Case>,
        ninjaone_servicenow::ports::ApiError,
    > {
        self.wait().await;
        self.0.cases(query, page).await
    }

    async fn create_case(
        &self,
        case: &ninjaone_servicenow::model::NewCase,
    ) -> Result<ninjaone_servicenow::model::Case, ninjaone_servicenow::ports::ApiError> {
        self.wait().await;
        self.0.create_case(case).await
    }

    async fn update_case(
        &self,
        id: &ninjaone_servicenow::model::SysId,
        update: &ninjaone_servicenow::model::CaseUpdate,
    ) -> Result<ninjaone_servicenow::model::Case, ninjaone_servicenow::ports::ApiError> {
        self.wait().await;
        self.0.update_case(id, update).await
    }

    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[ninjaone_servicenow::model::CiItem],
    ) -> Result<Vec<ninjaone_servicenow::model::CiItemResult>, ninjaone_servicenow::ports::ApiError>
    {
        self.wait().await;
        self.0.identify_reconcile_query(data_source, items).await
    }

    async fn ci_owners(
        &self,
        ids: &[ninjaone_servicenow::model::SysId],
    ) -> Result<Vec<ninjaone_servicenow::model::CiOwner>, ninjaone_servicenow::ports::ApiError>
    {
        self.wait().await;
        self.0.ci_owners(ids).await
    }
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
    let sync = OrganizationSync::new(Ports::new(
        Arc::new(Slow(ninja.clone())),
        Arc::new(Slow(snow.clone())),
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::new(fixed_time())),
    ))
    .policy(Policy::builder().concurrency(concurrency));
    sync.set_mode(&Actor::administrator("bench"), IntegrationMode::Active)
        .await?;

    let started = Instant::now();
    let report = sync.run_once(ApplyMode::Apply).await?;
    let elapsed = started.elapsed();

    let counts = report.counts();
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
