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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::OrganizationSync;
use super::actor::Actor;
use super::error::SyncError;
use crate::model::{
    AuditAction, CiMapping, Organization, OrganizationId, SyncConfig, SyncStatus, SysId,
    normalize_name,
};
use crate::ports::{PageRequest, Remote, collect_all};

/// How long a directory listing is used before the next open lists again, unless the host
/// sets another age with [`OrganizationSync::directory_max_age`]: 15 minutes.
pub const DEFAULT_DIRECTORY_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// The longest query a search looks at, in characters; the rest is ignored.
const MAX_QUERY_CHARS: usize = 200;

/// What a directory entry is in ServiceNow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryKind {
    /// A company (`core_company`).
    Company,
    /// A Customer Service Management customer account (`customer_account`).
    CustomerAccount,
}

/// One company (or customer account) of a [`CompanyDirectory`] search, with the organization
/// whose live configuration maps it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryMatch {
    sys_id: SysId,
    name: String,
    kind: DirectoryKind,
    taken_by: Option<OrganizationId>,
}

impl DirectoryMatch {
    /// The record's sys_id: what a [`ConfigDraft`](super::ConfigDraft) takes.
    #[must_use]
    pub fn sys_id(&self) -> &SysId {
        &self.sys_id
    }

    /// The name as listed.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A company or a customer account.
    #[must_use]
    pub fn kind(&self) -> DirectoryKind {
        self.kind
    }

    /// The organization whose (not deleted) configuration maps it. A taken company cannot be
    /// added for another organization ([`Problem::CompanyTaken`](super::Problem::CompanyTaken)):
    /// show it disabled, with the holder.
    #[must_use]
    pub fn taken_by(&self) -> Option<OrganizationId> {
        self.taken_by
    }
}

/// One listed record, with its normalised name.
#[derive(Debug)]
struct Entry {
    sys_id: SysId,
    name: String,
    key: String,
}

/// Records sorted by normalised name, then sys_id.
#[derive(Debug)]
struct NameIndex {
    kind: DirectoryKind,
    entries: Vec<Entry>,
    by_id: HashMap<SysId, usize>,
}

impl NameIndex {
    fn new(kind: DirectoryKind, rows: impl Iterator<Item = (SysId, String)>) -> Self {
        let mut unique = std::collections::HashSet::new();
        // A record listed twice (a page boundary moved under the listing) is kept once.
        let mut entries: Vec<Entry> = rows
            .filter(|(sys_id, _)| unique.insert(sys_id.clone()))
            .map(|(sys_id, name)| Entry {
                key: normalize_name(&name),
                sys_id,
                name,
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.sys_id.cmp(&b.sys_id)));
        let by_id = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.sys_id.clone(), i))
            .collect();
        Self {
            kind,
            entries,
            by_id,
        }
    }

    /// The entries whose normalised name is exactly `key`.
    fn named(&self, key: &str) -> &[Entry] {
        let start = self.entries.partition_point(|e| e.key.as_str() < key);
        let len = self
            .entries
            .get(start..)
            .map_or(0, |rest| rest.iter().take_while(|e| e.key == key).count());
        self.entries.get(start..start + len).unwrap_or_default()
    }

    /// Exact sys_id, then prefix matches, then substring matches, each in name order.
    fn search(&self, query: &str, limit: usize) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = Vec::new();
        if limit == 0 {
            return out;
        }
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let hit = query
            .trim()
            .parse::<SysId>()
            .ok()
            .and_then(|id| self.by_id.get(&id))
            .and_then(|i| self.entries.get(*i));
        out.extend(hit);
        let is_hit = |e: &Entry| hit.is_some_and(|h| h.sys_id == e.sys_id);
        let key = normalize_name(&query);
        // One scan, in name order: prefix matches go straight out, substring matches wait.
        let mut substring: Vec<&Entry> = Vec::new();
        for entry in &self.entries {
            if out.len() >= limit {
                break;
            }
            if is_hit(entry) {
                continue;
            }
            if entry.key.starts_with(&key) {
                out.push(entry);
            } else if substring.len() < limit && entry.key.contains(&key) {
                substring.push(entry);
            }
        }
        let room = limit.saturating_sub(out.len());
        out.extend(substring.into_iter().take(room));
        out
    }
}

/// A whole listing of ServiceNow's companies (and accounts), as cached.
struct Listed {
    at: DateTime<Utc>,
    companies: NameIndex,
    /// `None` when Customer Service Management is not installed.
    accounts: Option<NameIndex>,
    gaps: Vec<String>,
    requests: usize,
}

/// Counts, not the rows: an `OrganizationSync` printed in a log must not dump 10,000 names.
impl std::fmt::Debug for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listed")
            .field("at", &self.at)
            .field("companies", &self.companies.entries.len())
            .field(
                "customer_accounts",
                &self.accounts.as_ref().map(|a| a.entries.len()),
            )
            .field("gaps", &self.gaps)
            .field("requests", &self.requests)
            .finish()
    }
}

/// The cache of the company listing an [`OrganizationSync`] keeps for its Add dialogs.
#[derive(Debug)]
pub(crate) struct DirectoryCache {
    max_age: Duration,
    listed: Mutex<Option<Arc<Listed>>>,
}

impl DirectoryCache {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            listed: Mutex::new(None),
        }
    }

    /// Drops the cached listing: the next open lists again.
    pub(crate) fn invalidate(&self) {
        *self.listed.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn fresh(&self, now: DateTime<Utc>) -> Option<Arc<Listed>> {
        let listed = self
            .listed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let age = now.signed_duration_since(listed.at).to_std().ok()?;
        (age <= self.max_age).then_some(listed)
    }

    fn keep(&self, listed: Arc<Listed>) {
        *self.listed.lock().unwrap_or_else(PoisonError::into_inner) = Some(listed);
    }
}

/// ServiceNow's companies (and, with Customer Service Management, customer accounts) as one
/// cached listing, with the companies live configurations already map marked. Searched
/// locally: **no search makes a request**, and no text typed into a search ever reaches
/// ServiceNow.
///
/// Get one from [`OrganizationSync::company_directory`] (or with the rest of the Add dialog
/// from [`OrganizationSync::add_dialog`]). Cheap to clone.
///
/// ```
/// # use std::sync::Arc;
/// # use ninjaone_servicenow::clock::ManualClock;
/// # use ninjaone_servicenow::engine::{Actor, OrganizationSync};
/// # use ninjaone_servicenow::store::MemoryStore;
/// # use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
/// # futures::executor::block_on(async {
/// # let snow = FakeServiceNow::builder().companies(3).build();
/// # let sync = OrganizationSync::new(ninjaone_servicenow::ports::Ports::new(
/// #     Arc::new(FakeNinjaOne::new()), Arc::new(snow.clone()),
/// #     Arc::new(MemoryStore::new()), Arc::new(ManualClock::new(fixed_time()))));
/// let admin = Actor::administrator("alice");
/// let directory = sync.company_directory(&admin).await?; // lists once
/// let calls = snow.faults().total_calls();
/// for typed in ["c", "co", "con", "contoso"] {
///     let matches = directory.search_companies(typed, 10);
///     assert_eq!(matches[0].name(), "Contoso Dental 0001");
/// }
/// assert_eq!(snow.faults().total_calls(), calls, "no request per keystroke");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct CompanyDirectory {
    listed: Arc<Listed>,
    taken_companies: Arc<HashMap<SysId, OrganizationId>>,
    taken_accounts: Arc<HashMap<SysId, OrganizationId>>,
}

impl std::fmt::Debug for CompanyDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanyDirectory")
            .field("listed", &self.listed)
            .field("taken_companies", &self.taken_companies.len())
            .field("taken_accounts", &self.taken_accounts.len())
            .finish()
    }
}

impl CompanyDirectory {
    fn new(listed: Arc<Listed>, configs: &[SyncConfig]) -> Self {
        let live = || configs.iter().filter(|c| c.status() != SyncStatus::Deleted);
        Self {
            listed,
            taken_companies: Arc::new(
                live()
                    .filter_map(|c| c.company().map(|s| (s.clone(), c.organization())))
                    .collect(),
            ),
            taken_accounts: Arc::new(
                live()
                    .filter_map(|c| c.customer_account().map(|s| (s.clone(), c.organization())))
                    .collect(),
            ),
        }
    }

    /// Companies for a search box: the company whose sys_id is `query` first, then those whose
    /// normalised name (see [`normalize_name`]) starts with the normalised query, then those
    /// that contain it, each group in name order; at most `limit`. An empty query lists the
    /// first `limit` companies by name. Taken companies are included, marked
    /// ([`DirectoryMatch::taken_by`]). Makes no request.
    #[must_use]
    pub fn search_companies(&self, query: &str, limit: usize) -> Vec<DirectoryMatch> {
        self.matches(&self.listed.companies, &self.taken_companies, query, limit)
    }

    /// Customer accounts, searched as [`search_companies`](Self::search_companies) does; none
    /// when Customer Service Management is not installed. Makes no request.
    #[must_use]
    pub fn search_customer_accounts(&self, query: &str, limit: usize) -> Vec<DirectoryMatch> {
        self.listed
            .accounts
            .as_ref()
            .map_or_else(Vec::new, |accounts| {
                self.matches(accounts, &self.taken_accounts, query, limit)
            })
    }

    /// The company with this sys_id, if listed.
    #[must_use]
    pub fn company(&self, sys_id: &SysId) -> Option<DirectoryMatch> {
        let index = &self.listed.companies;
        let entry = index
            .by_id
            .get(sys_id)
            .and_then(|i| index.entries.get(*i))?;
        Some(self.entry(index, &self.taken_companies, entry))
    }

    /// The company to suggest for an organization named `organization_name`: the only company
    /// whose normalised name equals it, when that company is not taken (the "auto map" of
    /// NinjaOne's other PSA integrations). `None` when no company, or more than one, has that
    /// name.
    #[must_use]
    pub fn suggest(&self, organization_name: &str) -> Option<DirectoryMatch> {
        let key = normalize_name(organization_name);
        if key.is_empty() {
            return None;
        }
        let index = &self.listed.companies;
        match index.named(&key) {
            [only] if !self.taken_companies.contains_key(&only.sys_id) => {
                Some(self.entry(index, &self.taken_companies, only))
            }
            _ => None,
        }
    }

    /// How many companies are listed.
    #[must_use]
    pub fn company_count(&self) -> usize {
        self.listed.companies.entries.len()
    }

    /// How many customer accounts are listed (0 without Customer Service Management).
    #[must_use]
    pub fn customer_account_count(&self) -> usize {
        self.listed.accounts.as_ref().map_or(0, |a| a.entries.len())
    }

    /// Whether Customer Service Management was installed when the directory was listed.
    #[must_use]
    pub fn customer_service_management(&self) -> bool {
        self.listed.accounts.is_some()
    }

    /// When ServiceNow was listed.
    #[must_use]
    pub fn listed_at(&self) -> DateTime<Utc> {
        self.listed.at
    }

    /// Requests the listing took (the cold open's ServiceNow cost; a warm open costs none).
    #[must_use]
    pub fn listing_requests(&self) -> usize {
        self.listed.requests
    }

    /// Why the listing is incomplete (rows ServiceNow sent that could not be decoded), when it
    /// is: what is listed is real, and a company may be missing.
    #[must_use]
    pub fn gaps(&self) -> &[String] {
        &self.listed.gaps
    }

    fn matches(
        &self,
        index: &NameIndex,
        taken: &HashMap<SysId, OrganizationId>,
        query: &str,
        limit: usize,
    ) -> Vec<DirectoryMatch> {
        index
            .search(query, limit)
            .into_iter()
            .map(|e| self.entry(index, taken, e))
            .collect()
    }

    #[allow(clippy::unused_self)]
    fn entry(
        &self,
        index: &NameIndex,
        taken: &HashMap<SysId, OrganizationId>,
        entry: &Entry,
    ) -> DirectoryMatch {
        DirectoryMatch {
            sys_id: entry.sys_id.clone(),
            name: entry.name.clone(),
            kind: index.kind,
            taken_by: taken.get(&entry.sys_id).copied(),
        }
    }
}

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
        let first = PageRequest::first(self.policy.page_size);
        let max_pages = self.policy.max_pages;
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

    /// The cached listing if fresh (and `refresh` is false), else a new one, kept.
    async fn directory_listing(&self, refresh: bool) -> Result<Arc<Listed>, SyncError> {
        let now = self.now();
        if !refresh && let Some(listed) = self.directory.fresh(now) {
            return Ok(listed);
        }
        let first = PageRequest::first(self.policy.page_size);
        let max_pages = self.policy.max_pages;
        let (companies, installed) = futures_util::future::join(
            collect_all(first.clone(), max_pages, |page| self.snow.companies(page)),
            self.snow.customer_service_management(),
        )
        .await;
        let companies = companies.map_err(SyncError::remote(
            Remote::ServiceNow,
            "could not list ServiceNow's companies",
        ))?;
        let installed = installed.map_err(SyncError::remote(
            Remote::ServiceNow,
            "could not detect Customer Service Management in ServiceNow",
        ))?;
        let mut gaps = Vec::new();
        if !companies.is_complete() {
            gaps.push(format!(
                "{} ServiceNow companies could not be decoded and are not listed",
                companies.rejected.len()
            ));
        }
        let mut requests = companies.pages.saturating_add(1);
        let accounts = if installed {
            let listing = collect_all(first, max_pages, |page| self.snow.customer_accounts(page))
                .await
                .map_err(SyncError::remote(
                    Remote::ServiceNow,
                    "could not list ServiceNow's customer accounts",
                ))?;
            requests = requests.saturating_add(listing.pages);
            if !listing.is_complete() {
                gaps.push(format!(
                    "{} ServiceNow customer accounts could not be decoded and are not listed",
                    listing.rejected.len()
                ));
            }
            Some(NameIndex::new(
                DirectoryKind::CustomerAccount,
                listing.items.into_iter().map(|a| (a.sys_id, a.name)),
            ))
        } else {
            None
        };
        let listed = Arc::new(Listed {
            at: now,
            companies: NameIndex::new(
                DirectoryKind::Company,
                companies.items.into_iter().map(|c| (c.sys_id, c.name)),
            ),
            accounts,
            gaps,
            requests,
        });
        self.directory.keep(listed.clone());
        Ok(listed)
    }
}
