use std::collections::HashSet;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::machine::SyncEvent;
use crate::model::{
    Company, IntegrationMode, Organization, OrganizationId, SyncConfig, SysId, normalize_name,
};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

fn org(id: u32, name: &str) -> Organization {
    serde_json::from_value(serde_json::json!({ "id": id, "name": name })).expect("organization")
}

fn company(n: u64, name: &str) -> Company {
    serde_json::from_value(serde_json::json!({ "sys_id": format!("{n:032x}"), "name": name }))
        .expect("company")
}

fn sys(n: u64) -> SysId {
    format!("{n:032x}").parse().expect("sys_id")
}

fn active(id: u32, company: u64) -> SyncConfig {
    let mut c = SyncConfig::new(
        OrganizationId::new(id).expect("id"),
        Some(sys(company)),
        now(),
    );
    c.apply(SyncEvent::Enqueue, None, now()).expect("enqueue");
    c.apply(SyncEvent::Succeeded, None, now()).expect("succeed");
    c.set_version(1);
    c
}

fn snapshot(orgs: Vec<Organization>, companies: Vec<Company>) -> Snapshot {
    Snapshot::new(Observed::complete(orgs), Observed::complete(companies))
}

fn run(snapshot: &Snapshot, configs: &[SyncConfig]) -> Plan {
    plan(
        snapshot,
        configs,
        IntegrationMode::Active,
        &Policy::default(),
        now(),
    )
}

fn decision(plan: &Plan, id: u32) -> &Decision {
    &plan
        .items
        .iter()
        .find(|i| i.organization.get() == id)
        .expect("item")
        .decision
}

#[test]
fn disabled_mode_plans_nothing() {
    let s = snapshot(vec![org(1, "Acme")], vec![]);
    let p = plan(
        &s,
        &[],
        IntegrationMode::Disabled,
        &Policy::default(),
        now(),
    );
    assert!(p.items.is_empty());
}

#[test]
fn inactive_mode_leaves_unconfigured_organizations_alone() {
    let s = snapshot(
        vec![org(1, "Acme"), org(2, "Globex")],
        vec![company(1, "Acme")],
    );
    let p = plan(
        &s,
        &[active(1, 1)],
        IntegrationMode::Inactive,
        &Policy::default(),
        now(),
    );
    assert_eq!(p.unconfigured, 1);
    assert_eq!(p.items.len(), 1);
    assert_eq!(*decision(&p, 1), Decision::Unchanged);
}

#[test]
fn the_plan_is_sorted_and_does_not_depend_on_input_order() {
    let orgs: Vec<_> = (1..=40)
        .rev()
        .map(|i| org(i, &format!("Org {i}")))
        .collect();
    let companies: Vec<_> = (1..=20u32)
        .map(|i| company(u64::from(i), &format!("org {i}")))
        .collect();
    let configs: Vec<_> = (1..=10).map(|i| active(i, u64::from(i))).collect();
    let a = run(&snapshot(orgs.clone(), companies.clone()), &configs);
    let mut orgs2 = orgs;
    orgs2.reverse();
    let mut companies2 = companies;
    companies2.reverse();
    let mut configs2 = configs;
    configs2.reverse();
    let b = run(&snapshot(orgs2, companies2), &configs2);
    assert_eq!(a, b);
    assert!(
        a.items
            .windows(2)
            .all(|w| w[0].organization < w[1].organization)
    );
    let counts = a.counts();
    assert_eq!(
        (counts.unchanged, counts.adopt, counts.create_company),
        (10, 10, 20)
    );
}

#[test]
fn incomplete_listings_are_unknown_never_absent() {
    let orgs = Observed::Incomplete {
        items: vec![org(2, "Globex")],
        reason: "1 row could not be decoded".into(),
    };
    let companies = Observed::Unavailable {
        reason: "listing failed".into(),
    };
    let s = Snapshot::new(orgs, companies);
    let p = run(&s, &[active(1, 1)]);
    assert!(matches!(decision(&p, 1), Decision::Unknown { .. }));
    // Organization 2 needs a company, but the company listing is unknown: nothing is created.
    assert!(matches!(decision(&p, 2), Decision::Unknown { .. }));
    assert!(!p.needs_approval());
}

#[test]
fn a_gone_organization_is_tombstoned_and_a_gone_company_fails() {
    let s = snapshot(vec![org(2, "Globex")], vec![company(1, "Acme")]);
    let p = run(&s, &[active(1, 1), active(2, 9)]);
    assert_eq!(*decision(&p, 1), Decision::Tombstone);
    assert_eq!(
        *decision(&p, 2),
        Decision::Fail {
            reason: FailReason::CompanyGone { company: sys(9) }
        }
    );
}

#[test]
fn the_deletion_guard_holds_every_removal_over_the_limit() {
    // 30 live configs: limit max(10, 3) = 10. Eleven organizations gone: all held.
    let configs: Vec<_> = (1..=30).map(|i| active(i, u64::from(i))).collect();
    let orgs: Vec<_> = (12..=30).map(|i| org(i, &format!("Org {i}"))).collect();
    let companies: Vec<_> = (1..=30u32)
        .map(|i| company(u64::from(i), &format!("Org {i}")))
        .collect();
    let mut p = run(&snapshot(orgs.clone(), companies.clone()), &configs);
    assert!(p.needs_approval());
    assert_eq!((p.guard.removals, p.guard.limit), (11, 10));
    assert_eq!(p.held().len(), 11);
    p.release_held();
    assert_eq!(p.counts().tombstone, 11);
    // Ten gone: applied without approval.
    let orgs: Vec<_> = (11..=30).map(|i| org(i, &format!("Org {i}"))).collect();
    let p = run(&snapshot(orgs, companies), &configs);
    assert!(!p.needs_approval());
    assert_eq!(p.counts().tombstone, 10);
}

#[test]
fn a_company_held_by_another_organization_is_not_taken() {
    // Organization 1 is mapped to "Acme" by hand; organization 2, named "Acme Ltd", is unrelated;
    // organization 3 has no config and is named like organization 1's company.
    let s = snapshot(
        vec![org(1, "Acme Holdings"), org(3, "ACME")],
        vec![company(1, "Acme")],
    );
    let p = run(&s, &[active(1, 1)]);
    assert_eq!(
        *decision(&p, 3),
        Decision::Fail {
            reason: FailReason::CompanyTaken {
                company: sys(1),
                organization: OrganizationId::new(1).expect("id"),
            }
        }
    );
    assert_eq!(
        p.drift.len(),
        1,
        "organization 1's name differs from its company's"
    );
}

#[test]
fn backoff_defers_and_an_expired_backoff_runs() {
    let mut c = SyncConfig::new(OrganizationId::new(1).expect("id"), None, now());
    c.apply(SyncEvent::Enqueue, None, now()).expect("enqueue");
    c.apply(SyncEvent::FailedTransient, Some("503"), now())
        .expect("fail");
    let later = now() + chrono::TimeDelta::minutes(1);
    c.set_next_attempt_at(Some(later));
    let s = snapshot(vec![org(1, "Acme")], vec![]);
    let p = run(&s, std::slice::from_ref(&c));
    assert_eq!(*decision(&p, 1), Decision::Deferred { until: later });
    let p = plan(&s, &[c], IntegrationMode::Active, &Policy::default(), later);
    assert_eq!(
        *decision(&p, 1),
        Decision::CreateCompany {
            name: "Acme".into()
        }
    );
}

/// Characters that mean something in a ServiceNow encoded query, and other hostile text.
fn hostile_name() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "^",
        "^NQ",
        "^OR",
        "=",
        "!=",
        ",",
        "javascript:",
        "LIKE",
        "ORDERBY",
        " ",
        "\u{00A0}",
        "\t",
        "Ａ",
        "ß",
        "İ",
        "é",
        "e\u{301}",
        "ﬁ",
        "Acme",
        "name=Other",
        "\u{202E}",
        "😀",
    ]);
    prop::collection::vec(pieces, 1..8).prop_map(|parts| parts.concat())
}

proptest! {
    /// Whatever the names contain, an organization is mapped to the one company whose name
    /// normalises like its own, never to a decoy.
    #[test]
    fn hostile_names_map_to_their_own_company_only(
        name in hostile_name(),
        decoys in prop::collection::vec(hostile_name(), 0..6),
    ) {
        let key = normalize_name(&name);
        prop_assume!(!key.is_empty());
        let mut companies = vec![company(1, &format!("  {}  ", name.to_uppercase()))];
        prop_assume!(normalize_name(&companies[0].name) == key);
        let mut n = 2;
        for decoy in &decoys {
            if normalize_name(decoy) != key {
                companies.push(company(n, decoy));
                n += 1;
            }
        }
        companies.push(company(n, "Other"));
        let p = run(&snapshot(vec![org(1, &name)], companies), &[]);
        match decision(&p, 1) {
            Decision::Adopt { company, .. } => prop_assert_eq!(company, &sys(1)),
            other => prop_assert!(false, "expected adopt, got {other:?}"),
        }
    }

    /// No company is given to two organizations, and no two companies of one name are created.
    #[test]
    fn no_company_twice_and_no_duplicate_creates(
        org_names in prop::collection::vec(prop::sample::select(vec![
            "Acme", "acme", " ACME ", "Globex", "Initech", "Umbrella", "Ｇｌｏｂｅｘ", "Hooli",
        ]), 1..12),
        company_names in prop::collection::vec(prop::sample::select(vec![
            "Acme", "Globex", "globex", "Hooli", "Stark",
        ]), 0..6),
    ) {
        let orgs: Vec<_> = org_names
            .iter()
            .enumerate()
            .map(|(i, n)| org(u32::try_from(i + 1).unwrap_or(1), n))
            .collect();
        let companies: Vec<_> = company_names
            .iter()
            .enumerate()
            .map(|(i, n)| company(i as u64 + 1, n))
            .collect();
        let p = run(&snapshot(orgs, companies), &[]);
        let mut adopted = HashSet::new();
        let mut created = HashSet::new();
        for item in &p.items {
            match &item.decision {
                Decision::Adopt { company, .. } => prop_assert!(adopted.insert(company.clone())),
                Decision::CreateCompany { name } => {
                    prop_assert!(created.insert(normalize_name(name)));
                }
                _ => {}
            }
        }
    }
}
