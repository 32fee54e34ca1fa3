//! A large, deterministic tenant for the planner's benchmarks (`benches/plan.rs`) and the
//! `plan_scale` example, which include this file with `#[path]` so both measure the same data.
//!
//! Names are the fakes' customer names ([`customer_name`], "Contoso Dental 0042"); one in ten
//! starts with a non-ASCII word ("Zürich", "Ørsted", "東京", ...), which takes `normalize_name`'s Unicode path,
//! and one in ten is spelled differently on the ServiceNow side (capitals, doubled and trailing
//! spaces), so matching depends on normalisation. Both kinds fall on matched and unmatched
//! organizations alike. The number keeps every name unique, so the
//! plan has no shared or ambiguous names.

use ninjaone_servicenow::machine::SyncEvent;
use ninjaone_servicenow::model::{Company, Organization, OrganizationId, SyncConfig, SysId};
use ninjaone_servicenow::testing::customer_name;
pub use ninjaone_servicenow::testing::fixed_time;

const FIRST_NON_ASCII: [&str; 8] = [
    "Zürich",
    "Ørsted",
    "Café Müller",
    "Łódź",
    "Société Générale",
    "Fjällräven",
    "東京",
    "Ｓｅｏｕｌ", // full-width: NFKC folds it to "Seoul"
];

/// Customer `index`'s name as NinjaOne spells it.
pub fn name(index: usize) -> String {
    if matches!(index % 20, 3 | 14) {
        let first = FIRST_NON_ASCII[(index / 20) % FIRST_NON_ASCII.len()];
        format!("{first} {}", customer_name(index))
    } else {
        customer_name(index)
    }
}

/// Customer `index`'s name as ServiceNow spells it: one in ten in capitals with stray spaces.
pub fn company_name(index: usize) -> String {
    let plain = name(index);
    if matches!(index % 20, 7 | 18) {
        format!("  {}  ", plain.to_uppercase().replace(' ', "  "))
    } else {
        plain
    }
}

fn organization_id(index: usize) -> OrganizationId {
    u32::try_from(index)
        .ok()
        .and_then(|n| OrganizationId::new(n).ok())
        .expect("organization ids are 1..=u32::MAX")
}

fn sys_id(index: usize) -> SysId {
    format!("{index:032x}").parse().expect("32 hex digits")
}

/// Organizations `1..=n`, ordered by id as NinjaOne lists them.
pub fn organizations(n: usize) -> Vec<Organization> {
    (1..=n)
        .map(|i| Organization::new(organization_id(i), name(i)))
        .collect()
}

fn company(index: usize, name: String) -> Company {
    let mut company = Company::new(sys_id(index), name);
    company.created_on = Some(fixed_time());
    company.updated_on = Some(fixed_time());
    company
}

/// `n` companies for a first pass over [`organizations`]`(n)`: company `i` has organization
/// `i`'s name when `i` is even, and a name no organization has (customer `n + i`'s) when `i` is
/// odd — half the organizations are adopted, half get a new company. Take `n` a multiple of 20
/// so the unmatched names have the same mix of spellings.
pub fn first_pass_companies(n: usize) -> Vec<Company> {
    (1..=n)
        .map(|i| {
            let name = if i % 2 == 0 {
                company_name(i)
            } else {
                company_name(n + i)
            };
            company(i, name)
        })
        .collect()
}

/// `n` companies of which company `i` has organization `i`'s name (the steady state).
pub fn matching_companies(n: usize) -> Vec<Company> {
    (1..=n).map(|i| company(i, company_name(i))).collect()
}

/// One active configuration per organization, organization `i` mapped to company `i` (of
/// [`matching_companies`]), driven to `active` through the status machine.
pub fn active_configs(n: usize) -> Vec<SyncConfig> {
    (1..=n)
        .map(|i| {
            let mut config = SyncConfig::new(organization_id(i), Some(sys_id(i)), fixed_time());
            config
                .apply(SyncEvent::Enqueue, None, fixed_time())
                .expect("pending -> in_queue");
            config
                .apply(SyncEvent::Succeeded, None, fixed_time())
                .expect("in_queue -> active");
            config
        })
        .collect()
}
