//! The host's "Organization Sync" screen and its "Add organization" dialog, built from the
//! service API alone, each step with the remote requests it made (the fakes count them).

use std::error::Error;
use std::sync::Arc;

use ninjaone_servicenow::clock::ManualClock;
use ninjaone_servicenow::engine::{Actor, ApplyMode, ConfigDraft, OrganizationSync};
use ninjaone_servicenow::model::{CiMapping, IntegrationMode, OrganizationId, SysId};
use ninjaone_servicenow::ports::Ports;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};

use crate::store::HostStore;

/// The host's service: the engine over the fakes and the host's own store.
#[derive(Debug)]
pub struct Host {
    /// NinjaOne (fake).
    pub ninja: FakeNinjaOne,
    /// ServiceNow (fake).
    pub snow: FakeServiceNow,
    /// The host's tables.
    pub store: HostStore,
    /// The service the admin screen calls.
    pub sync: OrganizationSync,
    /// The administrator using the screen.
    pub admin: Actor,
}

/// Remote requests made by one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    /// To NinjaOne.
    pub ninjaone: usize,
    /// To ServiceNow.
    pub servicenow: usize,
}

impl Requests {
    /// Both remotes together.
    pub fn total(self) -> usize {
        self.ninjaone + self.servicenow
    }
}

impl std::fmt::Display for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests ({} NinjaOne, {} ServiceNow)",
            self.total(),
            self.ninjaone,
            self.servicenow
        )
    }
}

impl Host {
    /// A tenant of `organizations` NinjaOne organizations and `companies` ServiceNow companies
    /// (the first ones named as the organizations), over a new [`HostStore`].
    pub fn new(organizations: usize, companies: usize) -> Self {
        let ninja = FakeNinjaOne::builder().organizations(organizations).build();
        let snow = FakeServiceNow::builder().companies(companies).build();
        let store = HostStore::new();
        let sync = OrganizationSync::new(Ports::new(
            Arc::new(ninja.clone()),
            Arc::new(snow.clone()),
            Arc::new(store.clone()),
            Arc::new(ManualClock::new(fixed_time())),
        ));
        Self {
            ninja,
            snow,
            store,
            sync,
            admin: Actor::administrator("alice"),
        }
    }

    /// Runs `step` and returns what it returned with the requests it made.
    pub async fn measure<T, F: Future<Output = T>>(&self, step: F) -> (T, Requests) {
        self.ninja.faults().reset_counts();
        self.snow.faults().reset_counts();
        let value = step.await;
        let requests = Requests {
            ninjaone: self.ninja.faults().total_calls(),
            servicenow: self.snow.faults().total_calls(),
        };
        (value, requests)
    }

    /// Inactive mode (where people add organizations), a CI mapping "servers", then the first `n` organizations of the
    /// Add dialog added with their suggested companies, then one applied pass.
    pub async fn add_first(&self, n: usize) -> Result<(), Box<dyn Error>> {
        self.sync
            .set_mode(&self.admin, IntegrationMode::Inactive)
            .await?;
        self.sync
            .put_ci_mapping(&self.admin, CiMapping::new("servers".parse()?))
            .await?;
        let dialog = self.sync.add_dialog(&self.admin).await?;
        for org in dialog.organizations().iter().take(n) {
            let company = org
                .suggested_company()
                .ok_or_else(|| format!("no suggested company for {}", org.name()))?;
            self.sync
                .add(
                    &self.admin,
                    ConfigDraft::new(org.id(), company.sys_id().clone()),
                )
                .await?;
        }
        self.sync.run_once(ApplyMode::Apply).await?;
        Ok(())
    }
}

impl Host {
    /// Pauses the last listed configuration (its reason then shows on the screen).
    pub async fn pause_one(&self) -> Result<OrganizationId, Box<dyn Error>> {
        let rows = self.sync.list(&self.admin).await?;
        let last = rows.last().ok_or("nothing to pause")?.organization();
        self.sync.pause(&self.admin, last).await?;
        Ok(last)
    }

    /// The company of the first listed configuration.
    pub async fn first_company(&self) -> Result<SysId, Box<dyn Error>> {
        let rows = self.sync.list(&self.admin).await?;
        let company = rows
            .first()
            .and_then(|c| c.company())
            .ok_or("no mapped configuration")?;
        Ok(company.clone())
    }
}

/// One row of the Organization Sync screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenRow {
    /// The organization.
    pub organization: OrganizationId,
    /// Its name as last seen (the id when it was never seen).
    pub organization_name: String,
    /// The mapped company's name as last seen, or "—".
    pub company_name: String,
    /// The status as shown to people.
    pub status: String,
    /// Why it is inactive or deleted, or the last error; empty otherwise.
    pub reason: String,
}

/// The screen's rows, from [`OrganizationSync::list`] alone.
pub async fn organization_sync_screen(host: &Host) -> Result<Vec<ScreenRow>, Box<dyn Error>> {
    let rows = host.sync.list(&host.admin).await?;
    Ok(rows
        .iter()
        .map(|config| ScreenRow {
            organization: config.organization(),
            organization_name: config
                .organization_name()
                .map_or_else(|| config.organization().to_string(), str::to_owned),
            company_name: config.company_name().unwrap_or("—").to_owned(),
            status: config.status().to_string(),
            reason: config
                .status_reason()
                .or(config.last_error())
                .unwrap_or_default()
                .to_owned(),
        })
        .collect())
}

/// What the Add dialog shows before the person types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogView {
    /// Free organizations: (name, suggested company name).
    pub organizations: Vec<(String, Option<String>)>,
    /// CI mapping names.
    pub ci_mappings: Vec<String>,
    /// How many companies the search box searches.
    pub companies: usize,
}

/// Opens the Add dialog ([`OrganizationSync::add_dialog`]).
pub async fn open_add_dialog(
    host: &Host,
) -> Result<(DialogView, ninjaone_servicenow::engine::CompanyDirectory), Box<dyn Error>> {
    let dialog = host.sync.add_dialog(&host.admin).await?;
    let view = DialogView {
        organizations: dialog
            .organizations()
            .iter()
            .map(|o| {
                (
                    o.name().to_owned(),
                    o.suggested_company().map(|c| c.name().to_owned()),
                )
            })
            .collect(),
        ci_mappings: dialog
            .ci_mappings()
            .iter()
            .map(|m| m.name().as_str().to_owned())
            .collect(),
        companies: dialog.directory().company_count(),
    };
    Ok((view, dialog.directory().clone()))
}
