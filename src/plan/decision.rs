//! The sync plan's types: a [`Decision`] per organization with its [`FailReason`], drift and
//! guard check, and the [`Plan`] of one pass with its counts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{
    CiMappingName, DeviceRoleId, IntegrationMode, OrganizationId, SyncStatus, SysId,
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
    pub(super) fn is_removal(&self) -> bool {
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
