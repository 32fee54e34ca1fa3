//! The planner: both sides as a pass saw them, the stored configurations and the mode in; the
//! [`Plan`] out. Pure, deterministic and sorted by organization: the same input gives the same
//! plan, byte for byte, and nothing here does I/O or reads the clock.
//!
//! # What the planner decides
//!
//! | configuration | decision |
//! | --- | --- |
//! | none, active mode | matched by name: one company → [`Decision::Adopt`]; none → [`Decision::CreateCompany`] (or, with [`UnmatchedPolicy::LeaveUnmapped`], [`Decision::Fail`]); several, or a company another organization holds, or another organization with the same name → [`Decision::Fail`] |
//! | none, inactive mode | nothing (counted in [`Plan::unconfigured`]) |
//! | any but deleted, organization gone from a complete listing | [`Decision::Tombstone`] |
//! | inactive | [`Decision::Unchanged`] until a person resumes it |
//! | pending or in queue, waiting for its backoff | [`Decision::Deferred`] |
//! | pending or in queue without a company | matched by name, as for a new one (look before creating again) |
//! | pending, in queue or active with a company | its references checked: company, customer account, CI mappings and their device roles; all present → [`Decision::Activate`] (or [`Decision::Unchanged`] when active); one gone → [`Decision::Fail`] |
//!
//! Whatever depends on a listing that was incomplete or unavailable is [`Decision::Unknown`]:
//! never "absent", never created again. Tombstones and failures of existing configurations
//! beyond the [`DeletionGuard`] limit are all [`Decision::Held`] until approved
//! ([`Plan::release_held`]).
//!
//! Names are compared with [`normalize_name`]; they are matched
//! here, locally, and never sent to ServiceNow in a query.

mod ci;
mod policy;
mod snapshot;
pub mod tickets;

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use ci::{
    CiHeld, CiMappingConflict, CiPlan, CiSkipReason, CmdbSettings, CmdbSettingsBuilder,
    DEFAULT_CI_BATCH, DEFAULT_CI_DATA_SOURCE, PlannedCi, ci_fingerprint, ci_identity,
    ci_internal_id, plan_cis,
};
pub use policy::{
    DeletionGuard, Policy, PolicyBuilder, RetryPolicy, RetryPolicyBuilder, UnmatchedPolicy,
};
pub use snapshot::{Observed, Snapshot};
pub use tickets::{
    ListedTicket, ListedTickets, PlannedTicket, ResolveGuard, ResolveGuardState, RouteDecision,
    RoutingIndex, SkipReason, StoreChange, TicketBody, TicketDecision, TicketInputs, TicketListing,
    TicketPlan, UrgencyImpactTable, alert_digest, plan_tickets, route,
};

use crate::model::normalize_name_into;
use crate::model::{
    CiMapping, CiMappingName, Company, DeviceRoleId, IntegrationMode, OrganizationId, SyncConfig,
    SyncStatus, SysId, normalize_name,
};

/// Why a configuration fails permanently (it becomes inactive with this reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum FailReason {
    /// The organization's name is empty once normalised.
    NoName,
    /// No company has the organization's name and the policy leaves it unmapped.
    NoMatch {
        /// The organization's name.
        name: String,
    },
    /// Several companies have the organization's name.
    Ambiguous {
        /// The organization's name.
        name: String,
        /// The companies with that name, by sys_id.
        companies: Vec<SysId>,
    },
    /// Several organizations have the same name once normalised: mapping or creating for one
    /// of them would be a guess.
    SharedName {
        /// The organization's name.
        name: String,
        /// Every organization with that name.
        organizations: Vec<OrganizationId>,
    },
    /// The only company with the name is already mapped to another organization.
    CompanyTaken {
        /// The company.
        company: SysId,
        /// The organization it is mapped to.
        organization: OrganizationId,
    },
    /// The mapped company no longer exists in ServiceNow.
    CompanyGone {
        /// The company.
        company: SysId,
    },
    /// A customer account is mapped but Customer Service Management is not installed.
    CustomerServiceManagementMissing {
        /// The mapped account.
        account: SysId,
    },
    /// The mapped customer account no longer exists.
    AccountGone {
        /// The account.
        account: SysId,
    },
    /// A CI mapping the configuration names is not in the store.
    MappingMissing {
        /// The mapping's name.
        mapping: CiMappingName,
    },
    /// A CI mapping names a device role NinjaOne does not have.
    RoleMissing {
        /// The mapping's name.
        mapping: CiMappingName,
        /// The missing role.
        role: DeviceRoleId,
    },
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoName => f.write_str(
                "the organization has no name to match a company by; map a company by hand and resume",
            ),
            Self::NoMatch { name } => write!(
                f,
                "no ServiceNow company is named {name:?} and the policy leaves such organizations \
                 unmapped; map a company by hand and resume"
            ),
            Self::Ambiguous { name, companies } => write!(
                f,
                "{} ServiceNow companies are named {name:?} ({}); map one by hand and resume",
                companies.len(),
                join(companies)
            ),
            Self::SharedName {
                name,
                organizations,
            } => write!(
                f,
                "organizations {} share the name {name:?}; map each by hand and resume",
                join(organizations)
            ),
            Self::CompanyTaken {
                company,
                organization,
            } => write!(
                f,
                "the company with this name ({company}) is already mapped to organization \
                 {organization}; map another company by hand and resume"
            ),
            Self::CompanyGone { company } => write!(
                f,
                "the mapped company {company} no longer exists in ServiceNow; map another and resume"
            ),
            Self::CustomerServiceManagementMissing { account } => write!(
                f,
                "customer account {account} is mapped but Customer Service Management is not \
                 installed; remove the account or install the plugin, then resume"
            ),
            Self::AccountGone { account } => write!(
                f,
                "the mapped customer account {account} no longer exists; map another and resume"
            ),
            Self::MappingMissing { mapping } => write!(
                f,
                "the CI mapping {:?} does not exist; create it or remove it from the \
                 configuration, then resume",
                mapping.as_str()
            ),
            Self::RoleMissing { mapping, role } => write!(
                f,
                "the CI mapping {:?} names device role {role}, which NinjaOne does not have; fix \
                 the mapping, then resume",
                mapping.as_str()
            ),
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&item.to_string());
    }
    out
}

/// What a pass will do for one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
#[non_exhaustive]
pub enum Decision {
    /// Map to this existing company and activate; no remote write.
    Adopt {
        /// The company.
        company: SysId,
        /// Its name.
        company_name: String,
    },
    /// Create a company (a customer) with this name, map it and activate: one remote write.
    CreateCompany {
        /// The name to create, as NinjaOne spells it (trimmed, inner whitespace collapsed).
        name: String,
    },
    /// Every reference checks out: activate; no remote write.
    Activate,
    /// Nothing to do.
    Unchanged,
    /// Waiting for its backoff (or a rate limit) until this time.
    Deferred {
        /// The earliest next attempt.
        until: DateTime<Utc>,
    },
    /// Fails permanently: the configuration becomes inactive with the reason.
    Fail {
        /// Why.
        reason: FailReason,
    },
    /// The organization is gone from NinjaOne: the configuration becomes a `deleted` tombstone.
    Tombstone,
    /// A tombstone or failure held by the deletion guard until approved.
    Held {
        /// The change that is held.
        change: Box<Decision>,
    },
    /// Cannot be decided: a listing it depends on was incomplete or unavailable.
    Unknown {
        /// Which listing and why.
        reason: String,
    },
}

impl Decision {
    /// Whether the decision makes a remote write.
    #[must_use]
    pub fn writes_remotely(&self) -> bool {
        matches!(self, Self::CreateCompany { .. })
    }

    /// Whether the deletion guard counts it: a tombstone or a failure.
    fn is_removal(&self) -> bool {
        matches!(self, Self::Tombstone | Self::Fail { .. })
    }

    /// A short name: "adopt", "create company", "activate", "unchanged", "deferred", "fail",
    /// "tombstone", "held", "unknown".
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Adopt { .. } => "adopt",
            Self::CreateCompany { .. } => "create company",
            Self::Activate => "activate",
            Self::Unchanged => "unchanged",
            Self::Deferred { .. } => "deferred",
            Self::Fail { .. } => "fail",
            Self::Tombstone => "tombstone",
            Self::Held { .. } => "held",
            Self::Unknown { .. } => "unknown",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Adopt {
                company,
                company_name,
            } => write!(f, "map to company {company_name:?} ({company})"),
            Self::CreateCompany { name } => write!(f, "create company {name:?}"),
            Self::Activate => f.write_str("activate"),
            Self::Unchanged => f.write_str("unchanged"),
            Self::Deferred { until } => {
                write!(
                    f,
                    "deferred until {}",
                    until.format("%Y-%m-%d %H:%M:%S UTC")
                )
            }
            Self::Fail { reason } => write!(f, "fail: {reason}"),
            Self::Tombstone => f.write_str("tombstone: the organization is gone from NinjaOne"),
            Self::Held { change } => write!(f, "held for approval: {change}"),
            Self::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// One organization's line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PlanItem {
    /// The organization.
    pub organization: OrganizationId,
    /// Its name, when the listing had it.
    pub organization_name: Option<String>,
    /// The configuration's status now; `None` when the pass creates the configuration.
    pub status: Option<SyncStatus>,
    /// What the pass does.
    #[serde(flatten)]
    pub decision: Decision,
}

impl PlanItem {
    /// Whether the pass inserts a new configuration for the organization.
    #[must_use]
    pub fn is_new(&self) -> bool {
        self.status.is_none()
    }
}

/// A name that differs between an organization and its mapped company. The mapping is by id and
/// is kept; this is reported, not acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Drift {
    /// The organization.
    pub organization: OrganizationId,
    /// Its name in NinjaOne.
    pub organization_name: String,
    /// The mapped company.
    pub company: SysId,
    /// Its name in ServiceNow.
    pub company_name: String,
}

/// What the deletion guard saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct GuardCheck {
    /// Tombstones and failures of existing configurations the pass would apply.
    pub removals: usize,
    /// How many one pass may apply without approval.
    pub limit: usize,
    /// Whether they are held ([`Decision::Held`]).
    pub held: bool,
}

/// Counts of a plan's decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
#[allow(missing_docs)] // one count per `Decision` variant, named after it
pub struct PlanCounts {
    pub adopt: usize,
    pub create_company: usize,
    pub activate: usize,
    pub unchanged: usize,
    pub deferred: usize,
    pub fail: usize,
    pub tombstone: usize,
    pub held: usize,
    pub unknown: usize,
}

/// The plan of one pass: one item per organization concerned, sorted by organization id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// The mode it was planned in.
    pub mode: IntegrationMode,
    /// The time it was planned for.
    pub now: DateTime<Utc>,
    /// One item per organization, sorted by organization id.
    pub items: Vec<PlanItem>,
    /// Names that differ between mapped organizations and companies.
    pub drift: Vec<Drift>,
    /// The deletion guard's check.
    pub guard: GuardCheck,
    /// Organizations without a configuration that the pass leaves alone (inactive mode).
    pub unconfigured: usize,
}

impl Plan {
    /// An empty plan (disabled mode, or nothing seen).
    #[must_use]
    pub fn empty(mode: IntegrationMode, now: DateTime<Utc>) -> Self {
        Self {
            mode,
            now,
            items: Vec::new(),
            drift: Vec::new(),
            guard: GuardCheck {
                removals: 0,
                limit: 0,
                held: false,
            },
            unconfigured: 0,
        }
    }

    /// Counts of the decisions.
    #[must_use]
    pub fn counts(&self) -> PlanCounts {
        let mut c = PlanCounts::default();
        for item in &self.items {
            let slot = match item.decision {
                Decision::Adopt { .. } => &mut c.adopt,
                Decision::CreateCompany { .. } => &mut c.create_company,
                Decision::Activate => &mut c.activate,
                Decision::Unchanged => &mut c.unchanged,
                Decision::Deferred { .. } => &mut c.deferred,
                Decision::Fail { .. } => &mut c.fail,
                Decision::Tombstone => &mut c.tombstone,
                Decision::Held { .. } => &mut c.held,
                Decision::Unknown { .. } => &mut c.unknown,
            };
            *slot += 1;
        }
        c
    }

    /// Whether the deletion guard holds changes that need a person's approval.
    #[must_use]
    pub fn needs_approval(&self) -> bool {
        self.guard.held
    }

    /// The organizations whose changes are held.
    #[must_use]
    pub fn held(&self) -> Vec<OrganizationId> {
        self.items
            .iter()
            .filter(|i| matches!(i.decision, Decision::Held { .. }))
            .map(|i| i.organization)
            .collect()
    }

    /// Approves the held changes: each [`Decision::Held`] becomes the change it held.
    pub fn release_held(&mut self) {
        for item in &mut self.items {
            if let Decision::Held { change } = &mut item.decision {
                let inner = std::mem::replace(change.as_mut(), Decision::Unchanged);
                item.decision = inner;
            }
        }
        self.guard.held = false;
    }
}

/// Plans one pass. Pure and deterministic; O(organizations + companies + configurations).
///
/// `configs` are the stored configurations (in any order); `now` decides which backoffs are
/// over. In [`IntegrationMode::Disabled`] the plan is empty.
///
/// # Guarantees
/// - Items are sorted by organization id, one per organization at most.
/// - No organization is given a company that another organization's configuration holds, and
///   no two organizations are given the same company or two companies of the same name.
/// - Nothing is concluded from what an incomplete or unavailable listing lacks.
///
/// ```
/// use ninjaone_servicenow::model::{Company, IntegrationMode, Organization};
/// use ninjaone_servicenow::plan::{plan, Decision, Observed, Policy, Snapshot};
/// let orgs: Vec<Organization> = serde_json::from_str(
///     r#"[{"id": 1, "name": "Acme Corp"}, {"id": 2, "name": "Globex"}]"#,
/// )?;
/// let companies: Vec<Company> = serde_json::from_str(
///     r#"[{"sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "name": " ACME  corp "}]"#,
/// )?;
/// let snapshot = Snapshot::new(Observed::complete(orgs), Observed::complete(companies));
/// let now = chrono::Utc::now();
/// let plan = plan(&snapshot, &[], IntegrationMode::Active, &Policy::default(), now);
/// assert!(matches!(plan.items[0].decision, Decision::Adopt { .. }));
/// assert_eq!(plan.items[1].decision, Decision::CreateCompany { name: "Globex".into() });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn plan(
    snapshot: &Snapshot,
    configs: &[SyncConfig],
    mode: IntegrationMode,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Plan {
    let mut out = Plan::empty(mode, now);
    if mode == IntegrationMode::Disabled {
        return out;
    }
    // A store never holds two configurations of one organization; a host's duplicate is
    // ignored rather than guessed about.
    let mut configured: HashSet<OrganizationId> = HashSet::with_capacity(configs.len());
    let unique: Vec<&SyncConfig> = configs
        .iter()
        .filter(|c| configured.insert(c.organization()))
        .collect();
    let ctx = Context::new(snapshot, configs, &configured, mode, policy);
    let mut items = Vec::with_capacity(configs.len().max(snapshot.organizations.items().len()));
    let mut live = 0usize;
    for config in unique {
        if config.status() == SyncStatus::Deleted {
            continue;
        }
        live += 1;
        if let Some(item) = ctx.existing(config, now, &mut out.drift) {
            items.push(item);
        }
    }
    for (index, org) in snapshot.organizations.items().iter().enumerate() {
        if configured.contains(&org.id) {
            continue;
        }
        if mode == IntegrationMode::Active {
            let decision = ctx.match_company(index);
            items.push(PlanItem {
                organization: org.id,
                organization_name: Some(org.name.clone()),
                status: None,
                decision,
            });
        } else {
            out.unconfigured += 1;
        }
    }
    items.sort_unstable_by_key(|i| i.organization);
    // An organization listed twice (a server bug) must not get two configurations.
    items.dedup_by_key(|i| i.organization);
    out.drift.sort_unstable_by_key(|d| d.organization);

    let removals = items
        .iter()
        .filter(|i| !i.is_new() && i.decision.is_removal())
        .count();
    let limit = policy.deletion_guard.limit(live);
    let held = removals > limit;
    if held {
        for item in &mut items {
            if !item.is_new() && item.decision.is_removal() {
                let change = std::mem::replace(&mut item.decision, Decision::Unchanged);
                item.decision = Decision::Held {
                    change: Box::new(change),
                };
            }
        }
    }
    out.guard = GuardCheck {
        removals,
        limit,
        held,
    };
    out.items = items;
    out
}

/// Up to one item inline, more on the heap: most names are held by one company and one
/// organization, and a plan over 100k organizations would otherwise make 200k tiny vectors.
enum Few<T> {
    None,
    One(T),
    Many(Vec<T>),
}

impl<T> Few<T> {
    fn push(&mut self, item: T) {
        match std::mem::replace(self, Self::None) {
            Self::None => *self = Self::One(item),
            Self::One(first) => *self = Self::Many(vec![first, item]),
            Self::Many(mut items) => {
                items.push(item);
                *self = Self::Many(items);
            }
        }
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Self::None => &[],
            Self::One(item) => std::slice::from_ref(item),
            Self::Many(items) => items,
        }
    }
}

/// The companies and the organizations that have one normalised name, in listing order.
struct SameName<'a> {
    companies: Few<&'a Company>,
    organizations: Few<OrganizationId>,
}

impl SameName<'_> {
    /// The index in `names` of the entry for the normalised name `key`, added if new; `None`
    /// for a name that is empty once normalised (never matched, so never indexed).
    fn slot<'k>(
        slots: &mut HashMap<&'k str, usize>,
        names: &mut Vec<Self>,
        key: &'k str,
    ) -> Option<usize> {
        if key.is_empty() {
            return None;
        }
        Some(*slots.entry(key).or_insert_with(|| {
            names.push(SameName {
                companies: Few::None,
                organizations: Few::None,
            });
            names.len() - 1
        }))
    }
}

/// Every name of both listings normalised into one buffer, companies first: one allocation
/// instead of one per name, and the keys of the name index are slices of it.
struct NormalisedNames {
    buffer: String,
    ends: Vec<usize>,
}

impl NormalisedNames {
    fn with_capacity(names: usize, bytes: usize) -> Self {
        Self {
            buffer: String::with_capacity(bytes),
            ends: Vec::with_capacity(names),
        }
    }

    fn push(&mut self, name: &str) {
        normalize_name_into(name, &mut self.buffer);
        self.ends.push(self.buffer.len());
    }

    /// The `i`-th normalised name.
    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buffer[start..self.ends[i]]
    }
}

/// Indexes built once per plan.
struct Context<'a> {
    snapshot: &'a Snapshot,
    policy: &'a Policy,
    /// Organization id → its index in the listing (the last one when the listing repeats an
    /// id). Built only when there are configurations.
    organizations: HashMap<OrganizationId, usize>,
    /// Built only when there are configurations.
    companies: HashMap<&'a SysId, &'a Company>,
    /// One entry per distinct, non-empty normalised name (built only when some organization
    /// needs a match).
    names: Vec<SameName<'a>>,
    /// For each organization of the listing, by index, its entry in `names`; `None` when its
    /// name is empty once normalised. Built with `names`.
    org_names: Vec<Option<usize>>,
    /// Which organization's (live) configuration holds each company (built with `names`).
    taken: HashMap<&'a SysId, OrganizationId>,
    accounts: HashSet<&'a SysId>,
    mappings: HashMap<&'a CiMappingName, &'a CiMapping>,
    roles: HashSet<DeviceRoleId>,
}

impl<'a> Context<'a> {
    fn new(
        snapshot: &'a Snapshot,
        configs: &'a [SyncConfig],
        configured: &HashSet<OrganizationId>,
        mode: IntegrationMode,
        policy: &'a Policy,
    ) -> Self {
        let orgs = snapshot.organizations.items();
        let companies = snapshot.companies.items();
        let needs_matching = configs.iter().any(|c| {
            c.company().is_none()
                && matches!(
                    c.status(),
                    SyncStatus::Pending | SyncStatus::InQueue | SyncStatus::Active
                )
        }) || (mode == IntegrationMode::Active
            && orgs.iter().any(|o| !configured.contains(&o.id)));
        let mut names: Vec<SameName> = Vec::new();
        let mut org_names: Vec<Option<usize>> = Vec::new();
        if needs_matching {
            // Each name is normalised once, into one buffer; the keys are dropped with `slots`,
            // and matching reads the entries by index.
            let bytes = companies.iter().map(|c| c.name.len()).sum::<usize>()
                + orgs.iter().map(|o| o.name.len()).sum::<usize>();
            let mut normalised =
                NormalisedNames::with_capacity(companies.len() + orgs.len(), bytes);
            for company in companies {
                normalised.push(&company.name);
            }
            for org in orgs {
                normalised.push(&org.name);
            }
            let mut slots: HashMap<&str, usize> =
                HashMap::with_capacity(companies.len() + orgs.len());
            names.reserve(companies.len() + orgs.len());
            for (i, company) in companies.iter().enumerate() {
                if let Some(slot) = SameName::slot(&mut slots, &mut names, normalised.get(i)) {
                    names[slot].companies.push(company);
                }
            }
            org_names.reserve(orgs.len());
            for (i, org) in orgs.iter().enumerate() {
                let key = normalised.get(companies.len() + i);
                let slot = SameName::slot(&mut slots, &mut names, key);
                if let Some(slot) = slot {
                    names[slot].organizations.push(org.id);
                }
                org_names.push(slot);
            }
        }
        // Only matching reads it.
        let taken = if needs_matching {
            configs
                .iter()
                .filter(|c| c.status() != SyncStatus::Deleted)
                .filter_map(|c| c.company().map(|s| (s, c.organization())))
                .collect()
        } else {
            HashMap::new()
        };
        Self {
            snapshot,
            policy,
            organizations: if configs.is_empty() {
                HashMap::new()
            } else {
                orgs.iter().enumerate().map(|(i, o)| (o.id, i)).collect()
            },
            companies: if configs.is_empty() {
                HashMap::new()
            } else {
                companies.iter().map(|c| (&c.sys_id, c)).collect()
            },
            names,
            org_names,
            taken,
            accounts: snapshot
                .customer_accounts
                .items()
                .iter()
                .map(|a| &a.sys_id)
                .collect(),
            mappings: snapshot.ci_mappings.iter().map(|m| (m.name(), m)).collect(),
            roles: snapshot.device_roles.items().iter().map(|r| r.id).collect(),
        }
    }

    /// The item for an existing, not deleted configuration.
    fn existing(
        &self,
        config: &SyncConfig,
        now: DateTime<Utc>,
        drift: &mut Vec<Drift>,
    ) -> Option<PlanItem> {
        let found = self
            .organizations
            .get(&config.organization())
            .map(|&index| (index, &self.snapshot.organizations.items()[index]));
        let item = |decision| PlanItem {
            organization: config.organization(),
            organization_name: found.map(|(_, o)| o.name.clone()),
            status: Some(config.status()),
            decision,
        };
        let Some((index, org)) = found else {
            return Some(item(match self.snapshot.organizations.gap() {
                None => Decision::Tombstone,
                Some(gap) => Decision::Unknown {
                    reason: format!(
                        "the organization is not in the NinjaOne listing, which was not complete \
                         ({gap})"
                    ),
                },
            }));
        };
        match config.status() {
            SyncStatus::Deleted => return None,
            SyncStatus::Inactive => return Some(item(Decision::Unchanged)),
            SyncStatus::Pending | SyncStatus::InQueue => {
                if let Some(until) = config.next_attempt_at().filter(|t| *t > now) {
                    return Some(item(Decision::Deferred { until }));
                }
            }
            SyncStatus::Active => {}
        }
        let Some(company) = config.company() else {
            return Some(item(self.match_company(index)));
        };
        let decision = match self.check_references(config, company) {
            Err(decision) => decision,
            Ok(found) => {
                if found.name != org.name
                    && normalize_name(&found.name) != normalize_name(&org.name)
                {
                    drift.push(Drift {
                        organization: org.id,
                        organization_name: org.name.clone(),
                        company: found.sys_id.clone(),
                        company_name: found.name.clone(),
                    });
                }
                if config.status() == SyncStatus::Active {
                    Decision::Unchanged
                } else {
                    Decision::Activate
                }
            }
        };
        Some(item(decision))
    }

    /// Checks every reference of a configuration: a definite failure first, then anything
    /// unknown.
    fn check_references(
        &self,
        config: &SyncConfig,
        company: &SysId,
    ) -> Result<&'a Company, Decision> {
        let mut unknown: Option<String> = None;
        let mut note = |reason: String| {
            unknown.get_or_insert(reason);
        };
        let fail = |reason| Err(Decision::Fail { reason });
        let found = self.companies.get(company).copied();
        if found.is_none() {
            match self.snapshot.companies.gap() {
                None => {
                    return fail(FailReason::CompanyGone {
                        company: company.clone(),
                    });
                }
                Some(gap) => note(format!(
                    "company {company} is not in the ServiceNow listing, which was not complete ({gap})"
                )),
            }
        }
        if let Some(account) = config.customer_account() {
            match self.snapshot.customer_service_management {
                Some(false) => {
                    return fail(FailReason::CustomerServiceManagementMissing {
                        account: account.clone(),
                    });
                }
                None => note(
                    "whether Customer Service Management is installed could not be detected"
                        .to_owned(),
                ),
                Some(true) => {
                    if !self.accounts.contains(account) {
                        match self.snapshot.customer_accounts.gap() {
                            None => {
                                return fail(FailReason::AccountGone {
                                    account: account.clone(),
                                });
                            }
                            Some(gap) => note(format!(
                                "customer account {account} is not in the listing, which was not \
                                 complete ({gap})"
                            )),
                        }
                    }
                }
            }
        }
        for name in config.ci_mappings() {
            let Some(mapping) = self.mappings.get(name) else {
                return fail(FailReason::MappingMissing {
                    mapping: name.clone(),
                });
            };
            for (role, _) in mapping.rules() {
                if !self.roles.contains(&role) {
                    match self.snapshot.device_roles.gap() {
                        None => {
                            return fail(FailReason::RoleMissing {
                                mapping: name.clone(),
                                role,
                            });
                        }
                        Some(gap) => note(format!(
                            "device role {role} of CI mapping {:?} is not in the listing, which \
                             was not complete ({gap})",
                            name.as_str()
                        )),
                    }
                }
            }
        }
        match (unknown, found) {
            (None, Some(found)) => Ok(found),
            (Some(reason), _) => Err(Decision::Unknown { reason }),
            // Unreachable: a missing company either failed or noted a gap above.
            (None, None) => Err(Decision::Unknown {
                reason: format!("company {company} was not seen"),
            }),
        }
    }

    /// Matches an organization that needs a company to the companies by name: the
    /// organization at `index` in the listing. Called only when [`Context::new`] built the name
    /// index (some organization needs a match).
    fn match_company(&self, index: usize) -> Decision {
        let org = &self.snapshot.organizations.items()[index];
        debug_assert_eq!(
            self.org_names.len(),
            self.snapshot.organizations.items().len()
        );
        let Some(same) = self.org_names[index].map(|slot| &self.names[slot]) else {
            return Decision::Fail {
                reason: FailReason::NoName,
            };
        };
        if let Some(gap) = self.snapshot.companies.gap() {
            return Decision::Unknown {
                reason: format!(
                    "the ServiceNow company listing was not complete ({gap}); a company named \
                     {:?} may exist, so none is created",
                    display_name(&org.name)
                ),
            };
        }
        let sharing = same.organizations.as_slice();
        if sharing.len() > 1 {
            let mut organizations = sharing.to_vec();
            organizations.sort_unstable();
            organizations.dedup();
            if organizations.len() > 1 {
                return Decision::Fail {
                    reason: FailReason::SharedName {
                        name: display_name(&org.name),
                        organizations,
                    },
                };
            }
        }
        match same.companies.as_slice() {
            [] => match self.policy.unmatched {
                UnmatchedPolicy::CreateCompany => Decision::CreateCompany {
                    name: display_name(&org.name),
                },
                UnmatchedPolicy::LeaveUnmapped => Decision::Fail {
                    reason: FailReason::NoMatch {
                        name: display_name(&org.name),
                    },
                },
            },
            [company] => match self.taken.get(&company.sys_id) {
                Some(holder) if *holder != org.id => Decision::Fail {
                    reason: FailReason::CompanyTaken {
                        company: company.sys_id.clone(),
                        organization: *holder,
                    },
                },
                _ => Decision::Adopt {
                    company: company.sys_id.clone(),
                    company_name: company.name.clone(),
                },
            },
            several => {
                let mut companies: Vec<SysId> = several.iter().map(|c| c.sys_id.clone()).collect();
                companies.sort_unstable();
                Decision::Fail {
                    reason: FailReason::Ambiguous {
                        name: display_name(&org.name),
                        companies,
                    },
                }
            }
        }
    }
}

/// A name as it should appear in ServiceNow: trimmed, inner whitespace collapsed, case kept.
fn display_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests;
