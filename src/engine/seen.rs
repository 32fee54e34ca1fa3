//! Names as last seen: what a pass refreshes on the configurations from the listings it
//! already made, so a screen listing configurations needs no remote request.

use std::collections::{HashMap, HashSet};

use crate::model::{SyncConfig, SyncStatus, SysId};
use crate::plan::Snapshot;

/// The company and customer-account names a pass saw, for the companies and accounts the
/// stored configurations map (only those: a pass over 10,000 companies keeps a few names, not
/// all of them). Organization names come with the plan's items.
#[derive(Debug, Default)]
pub(super) struct SeenNames {
    companies: HashMap<SysId, String>,
    accounts: HashMap<SysId, String>,
}

impl SeenNames {
    /// The names in `snapshot` of what `configs` (live ones) map. A listing that failed or is
    /// incomplete gives the names it has; what it lacks keeps its last-seen name.
    pub(super) fn of(snapshot: &Snapshot, configs: &[SyncConfig]) -> Self {
        let live = || configs.iter().filter(|c| c.status() != SyncStatus::Deleted);
        let companies: HashSet<&SysId> = live().filter_map(SyncConfig::company).collect();
        let accounts: HashSet<&SysId> = live().filter_map(SyncConfig::customer_account).collect();
        Self {
            companies: snapshot
                .companies
                .items()
                .iter()
                .filter(|c| companies.contains(&c.sys_id))
                .map(|c| (c.sys_id.clone(), c.name.clone()))
                .collect(),
            accounts: snapshot
                .customer_accounts
                .items()
                .iter()
                .filter(|a| accounts.contains(&a.sys_id))
                .map(|a| (a.sys_id.clone(), a.name.clone()))
                .collect(),
        }
    }

    /// Refreshes the names on `config`: the organization's (when the listing had it), the
    /// company's and the account's. Returns whether a name changed.
    pub(super) fn refresh(&self, config: &mut SyncConfig, organization_name: Option<&str>) -> bool {
        let mut changed = false;
        if let Some(name) = organization_name {
            changed |= config.see_organization_name(name);
        }
        if let Some(name) = config.company().and_then(|c| self.companies.get(c)) {
            changed |= config.see_company_name(name);
        }
        if let Some(name) = config.customer_account().and_then(|a| self.accounts.get(a)) {
            changed |= config.see_customer_account_name(name);
        }
        changed
    }
}
