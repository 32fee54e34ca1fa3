//! [`plan`]: the organization planner, which matches, checks and guards every configuration
//! against both listings.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::decision::{Decision, Drift, FailReason, GuardCheck, Plan, PlanItem};
use super::names::{NormalisedNames, SameName};
use super::{Policy, Snapshot, UnmatchedPolicy};
use crate::model::{
    CiMapping, CiMappingName, Company, DeviceRoleId, IntegrationMode, OrganizationId, SyncConfig,
    SyncStatus, SysId, normalize_name,
};

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
