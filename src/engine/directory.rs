//! The Add dialog's data: the organizations an actor may add, the CI mappings, and a cached
//! [`CompanyDirectory`] of ServiceNow's companies (and customer accounts) searched locally.
//!
//! # Costs
//!
//! With `P` the policy's page size, `N` NinjaOne organizations and `C` companies (`A`
//! customer accounts when Customer Service Management is installed):
//!
//! - **cold open** of [`OrganizationSync::add_dialog`]: the organization pages
//!   (`ceil(N / P)`, plus one when the last page is full) + one Customer Service Management
//!   detection + the company pages (`ceil(C / P)`, plus one when the last is full) + the
//!   account pages when installed. At 10,000 companies and 10 organizations with the fakes'
//!   default page size (1,000): 1 + 1 + 11 = 13 requests.
//! - **warm open** (the directory younger than its maximum age): the organization pages only
//!   (1 request in that example).
//! - **each keystroke** ([`CompanyDirectory::search_companies`]): 0 requests; a scan of the
//!   cached, normalised names.
//!
//! Free text never reaches ServiceNow: the directory is a whole listing, and every search runs
//! over it locally.
//!
//! The [`search`] over a listing and the [`cache`] of the listing are modules of their own.

mod cache;
mod search;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::OrganizationSync;
use super::actor::Actor;
use super::error::SyncError;
use crate::model::{
    AuditAction, CiMapping, Organization, OrganizationId, SyncConfig, SyncStatus, normalize_name,
};
use crate::ports::{PageRequest, Remote, collect_all};

pub(crate) use cache::DirectoryCache;
pub use search::{CompanyDirectory, DirectoryKind, DirectoryMatch};

/// How long a directory listing is used before the next open lists again, unless the host
/// sets another age with [`OrganizationSync::directory_max_age`]: 15 minutes.
pub const DEFAULT_DIRECTORY_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// An organization the actor may add: it has no configuration, or only a deleted one (which
/// adding restores, as NinjaOne's screen offers a deleted row's organization again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddableOrganization {
    id: OrganizationId,
    name: String,
    deleted: bool,
    suggested: Option<DirectoryMatch>,
}

impl AddableOrganization {
    /// The organization.
    #[must_use]
    pub fn id(&self) -> OrganizationId {
        self.id
    }

    /// Its name in NinjaOne.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it has a deleted configuration, which adding restores with the new values.
    #[must_use]
    pub fn has_deleted_config(&self) -> bool {
        self.deleted
    }

    /// The company to preselect: see [`CompanyDirectory::suggest`].
    #[must_use]
    pub fn suggested_company(&self) -> Option<&DirectoryMatch> {
        self.suggested.as_ref()
    }
}

/// Everything an "Add organization" dialog shows, from one call: see
/// [`OrganizationSync::add_dialog`].
#[derive(Debug, Clone)]
pub struct AddDialog {
    organizations: Vec<AddableOrganization>,
    ci_mappings: Vec<CiMapping>,
    directory: CompanyDirectory,
    gaps: Vec<String>,
}

impl AddDialog {
    /// The organizations the actor may add, by name (then id), each with a suggested company.
    #[must_use]
    pub fn organizations(&self) -> &[AddableOrganization] {
        &self.organizations
    }

    /// The CI mappings to choose from, by name.
    #[must_use]
    pub fn ci_mappings(&self) -> &[CiMapping] {
        &self.ci_mappings
    }

    /// The company directory, for the company (and customer account) search boxes.
    #[must_use]
    pub fn directory(&self) -> &CompanyDirectory {
        &self.directory
    }

    /// Why the organization list may be incomplete (rows NinjaOne sent that could not be
    /// decoded), when it may; see [`CompanyDirectory::gaps`] for ServiceNow's side.
    #[must_use]
    pub fn gaps(&self) -> &[String] {
        &self.gaps
    }
}

impl OrganizationSync {
    /// Sets how long the company directory is used before an open lists ServiceNow again
    /// (default [`DEFAULT_DIRECTORY_MAX_AGE`]; `Duration::ZERO`: every open lists). Starts an
    /// empty cache. The age is measured on the engine's [`Clock`](crate::clock::Clock): under a
    /// `ManualClock` (tests, the fakes) the listing stays fresh until the clock is advanced,
    /// whatever the wall time.
    #[must_use]
    pub fn directory_max_age(mut self, max_age: Duration) -> Self {
        self.directory = Arc::new(DirectoryCache::new(max_age));
        self
    }

    /// The data of an "Add organization" dialog, in one call: the organizations the actor may
    /// manage that have no live configuration (none, or a deleted one), each with the company
    /// to preselect when exactly one company has its normalised name and is free; the CI
    /// mappings; and the [`CompanyDirectory`] to search while the person types.
    ///
    /// Adding is allowed in inactive mode only ([`can_add`](Self::can_add)); this call works in
    /// every mode.
    ///
    /// # Costs
    /// With `P` the policy's page size (default 1,000), `N` organizations and `C` companies:
    ///
    /// - **cold open**: the organization pages (`ceil(N / P)`, one more when the last page is
    ///   full) + one Customer Service Management detection + the company pages (`ceil(C / P)`,
    ///   one more when the last is full) + the customer account pages when installed; the
    ///   NinjaOne and ServiceNow listings run concurrently. 10 organizations and 10,000
    ///   companies: 1 + 1 + 11 = 13 requests.
    /// - **warm open** (the directory younger than
    ///   [`directory_max_age`](Self::directory_max_age)): the organization pages only; 1
    ///   request in that example.
    /// - **each keystroke** ([`CompanyDirectory::search_companies`]): 0 requests.
    ///
    /// Plus two store reads (configurations and CI mappings) per open.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use ninjaone_servicenow::clock::ManualClock;
    /// # use ninjaone_servicenow::engine::{Actor, ConfigDraft, OrganizationSync};
    /// # use ninjaone_servicenow::model::IntegrationMode;
    /// # use ninjaone_servicenow::store::MemoryStore;
    /// # use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
    /// # futures::executor::block_on(async {
    /// # let sync = OrganizationSync::new(ninjaone_servicenow::ports::Ports::new(
    /// #     Arc::new(FakeNinjaOne::builder().organizations(2).build()),
    /// #     Arc::new(FakeServiceNow::builder().companies(2).build()),
    /// #     Arc::new(MemoryStore::new()), Arc::new(ManualClock::new(fixed_time()))));
    /// let admin = Actor::administrator("alice");
    /// sync.set_mode(&admin, IntegrationMode::Inactive).await?;
    /// let dialog = sync.add_dialog(&admin).await?;
    /// let first = &dialog.organizations()[0];
    /// let company = first.suggested_company().expect("a company of the same name");
    /// let added = sync.add(&admin, ConfigDraft::new(first.id(), company.sys_id().clone())).await?;
    /// assert_eq!(added.config.company_name(), Some(company.name()));
    ///
    /// // The organization is taken now: the next dialog offers only the other one.
    /// let dialog = sync.add_dialog(&admin).await?;
    /// assert_eq!(dialog.organizations().len(), 1);
    /// let taken = dialog.directory().company(company.sys_id()).expect("listed");
    /// assert_eq!(taken.taken_by(), Some(first.id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] without the integration permission;
    /// [`SyncError::Remote`] when a listing fails; [`SyncError::Store`].
    pub async fn add_dialog(&self, actor: &Actor) -> Result<AddDialog, SyncError> {
        self.require_read(actor, "open the add dialog").await?;
        let first = PageRequest::first(self.options.page_size);
        let max_pages = self.options.max_pages;
        let (organizations, directory) = futures_util::future::join(
            collect_all(first, max_pages, |page| self.ninja.organizations(page)),
            self.directory_listing(false),
        )
        .await;
        let organizations = organizations.map_err(SyncError::remote(
            Remote::NinjaOne,
            "could not list NinjaOne's organizations",
        ))?;
        let listed = directory?;
        let configs = self.read_configs().await?;
        let ci_mappings = self
            .store
            .ci_mappings()
            .await
            .map_err(SyncError::store("could not read the CI mappings"))?;
        let directory = CompanyDirectory::new(listed, &configs);
        let status: HashMap<OrganizationId, SyncStatus> = configs
            .iter()
            .map(|c| (c.organization(), c.status()))
            .collect();
        let gaps = if organizations.is_complete() {
            Vec::new()
        } else {
            vec![format!(
                "{} NinjaOne organizations could not be decoded and are not offered",
                organizations.rejected.len()
            )]
        };
        let mut addable: Vec<(String, AddableOrganization)> = organizations
            .items
            .into_iter()
            .filter(|o| actor.may_manage(o.id))
            .filter_map(|Organization { id, name, .. }| {
                let deleted = match status.get(&id) {
                    None => false,
                    Some(SyncStatus::Deleted) => true,
                    Some(_) => return None,
                };
                let suggested = directory.suggest(&name);
                Some((
                    normalize_name(&name),
                    AddableOrganization {
                        id,
                        name,
                        deleted,
                        suggested,
                    },
                ))
            })
            .collect();
        addable.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.id.cmp(&y.id)));
        Ok(AddDialog {
            organizations: addable.into_iter().map(|(_, o)| o).collect(),
            ci_mappings,
            directory,
            gaps,
        })
    }

    /// The company directory: the cached listing when younger than
    /// [`directory_max_age`](Self::directory_max_age), else a new one; with the companies live
    /// configurations map marked as of now (read from the store).
    ///
    /// # Errors
    /// [`SyncError::PermissionDenied`] without the integration permission;
    /// [`SyncError::Remote`] when a listing fails (the cache is kept); [`SyncError::Store`].
    pub async fn company_directory(&self, actor: &Actor) -> Result<CompanyDirectory, SyncError> {
        self.require_read(actor, "read the company directory")
            .await?;
        let listed = self.directory_listing(false).await?;
        Ok(CompanyDirectory::new(listed, &self.read_configs().await?))
    }

    /// Lists ServiceNow again whatever the directory's age (a "refresh" button), and returns
    /// the new directory.
    ///
    /// # Errors
    /// As for [`company_directory`](Self::company_directory).
    pub async fn refresh_company_directory(
        &self,
        actor: &Actor,
    ) -> Result<CompanyDirectory, SyncError> {
        self.require_read(actor, "read the company directory")
            .await?;
        let listed = self.directory_listing(true).await?;
        Ok(CompanyDirectory::new(listed, &self.read_configs().await?))
    }

    /// Drops the cached directory, so the next open lists ServiceNow. A pass calls it after it
    /// creates a company; call it when companies were changed in ServiceNow by other means.
    pub fn invalidate_company_directory(&self) {
        self.directory.invalidate();
    }

    async fn require_read(&self, actor: &Actor, act: &str) -> Result<(), SyncError> {
        self.require(
            actor.read_refusal(),
            actor,
            act,
            AuditAction::Other("read".to_owned()),
            None,
        )
        .await
    }

    async fn read_configs(&self) -> Result<Vec<SyncConfig>, SyncError> {
        self.store
            .configs()
            .await
            .map_err(SyncError::store("could not read the configurations"))
    }
}
