//! The company directory's search: ServiceNow's companies (and customer accounts) indexed
//! by normalised name, searched locally by sys_id, prefix and substring.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cache::Listed;
use crate::model::{OrganizationId, SyncConfig, SyncStatus, SysId, normalize_name};

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
    /// The record's sys_id: what a [`ConfigDraft`](crate::engine::ConfigDraft) takes.
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
    /// added for another organization ([`Problem::CompanyTaken`](crate::engine::Problem::CompanyTaken)):
    /// show it disabled, with the holder.
    #[must_use]
    pub fn taken_by(&self) -> Option<OrganizationId> {
        self.taken_by
    }
}

/// One listed record, with its normalised name.
#[derive(Debug)]
pub(super) struct Entry {
    sys_id: SysId,
    name: String,
    key: String,
}

/// Records sorted by normalised name, then sys_id.
#[derive(Debug)]
pub(super) struct NameIndex {
    kind: DirectoryKind,
    pub(super) entries: Vec<Entry>,
    by_id: HashMap<SysId, usize>,
}

impl NameIndex {
    pub(super) fn new(kind: DirectoryKind, rows: impl Iterator<Item = (SysId, String)>) -> Self {
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

/// ServiceNow's companies (and, with Customer Service Management, customer accounts) as one
/// cached listing, with the companies live configurations already map marked. Searched
/// locally: **no search makes a request**, and no text typed into a search ever reaches
/// ServiceNow.
///
/// Get one from [`OrganizationSync::company_directory`](crate::engine::OrganizationSync::company_directory) (or with the rest of the Add dialog
/// from [`OrganizationSync::add_dialog`](crate::engine::OrganizationSync::add_dialog)). Cheap to clone.
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
    pub(super) fn new(listed: Arc<Listed>, configs: &[SyncConfig]) -> Self {
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
