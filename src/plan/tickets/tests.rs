use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::digest::{alert_digest_v1, alert_digest_v2};
use super::note::retrigger_note;
use super::text::{DESCRIPTION_MAX, SHORT_DESCRIPTION_MAX};
use super::*;
use crate::machine::SyncEvent;
use crate::model::{CorrelationId, Device, Incident, Listing, SyncConfig, SysId, TicketKind};

const PREFIX: &str = "ninjaone:test:alert:";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

fn sys(n: u64) -> SysId {
    format!("{n:032x}").parse().expect("sys_id")
}

fn prefix() -> CorrelationId {
    PREFIX.parse().expect("prefix")
}

fn uid(n: usize) -> AlertUid {
    format!("alert-{n}").parse().expect("uid")
}

fn correlation(n: usize) -> CorrelationId {
    format!("{PREFIX}alert-{n}").parse().expect("correlation")
}

fn active(org: u32) -> SyncConfig {
    let mut c = SyncConfig::new(
        OrganizationId::new(org).expect("org"),
        Some(sys(u64::from(org))),
        now(),
    );
    c.set_allow_incidents(true);
    c.apply(SyncEvent::Enqueue, None, now()).expect("enqueue");
    c.apply(SyncEvent::Succeeded, None, now()).expect("succeed");
    c
}

fn device(id: u32, org: u32) -> Device {
    serde_json::from_value(serde_json::json!({
        "id": id, "organizationId": org, "nodeClass": "WINDOWS_SERVER", "systemName": format!("SRV-{id}")
    }))
    .expect("device")
}

fn alert(n: usize, device: u32, message: &str, updated: i64) -> Alert {
    serde_json::from_value(serde_json::json!({
        "uid": format!("alert-{n}"), "deviceId": device, "message": message,
        "createTime": 1_704_000_000.0, "updateTime": updated,
    }))
    .expect("alert")
}

fn incident(n: usize, sys_id: u64, state: &str) -> ListedTicket {
    let row: Incident = serde_json::from_value(serde_json::json!({
        "sys_id": format!("{sys_id:032x}"), "number": format!("INC{n:07}"), "state": state,
        "short_description": "x", "correlation_id": format!("{PREFIX}alert-{n}"),
    }))
    .expect("incident");
    ListedTicket::incident(row, PREFIX).expect("ours")
}

fn record(
    n: usize,
    state: TicketRecordState,
    ticket: Option<u64>,
    digest: Option<&str>,
) -> TicketRecord {
    let mut r = TicketRecord::creating(
        uid(n),
        OrganizationId::new(1).expect("org"),
        TicketKind::Incident,
        correlation(n),
        now() - TimeDelta::hours(1),
    );
    r.state = state;
    r.ticket = ticket.map(sys);
    r.alert_digest = digest.map(str::to_owned);
    r
}

/// One generated pass: what each alert slot is.
#[derive(Debug, Clone)]
struct Slot {
    open: bool,
    changed: bool,
    record: Option<TicketRecordState>,
    ticket: Option<&'static str>,
}

fn slot() -> impl Strategy<Value = Slot> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(TicketRecordState::Creating)),
            Just(Some(TicketRecordState::Open)),
            Just(Some(TicketRecordState::FinishedElsewhere)),
        ],
        prop_oneof![
            Just(None),
            Just(Some("1")),
            Just(Some("2")),
            Just(Some("6"))
        ],
    )
        .prop_map(|(open, changed, record, ticket)| Slot {
            open,
            changed,
            record,
            ticket,
        })
}

struct World {
    alerts: Vec<Alert>,
    records: BTreeMap<AlertUid, TicketRecord>,
    configs: Vec<SyncConfig>,
    index: RoutingIndex,
    tickets: TicketListing,
}

fn world(slots: &[Slot], listing_known: bool, duplicate_first: bool) -> World {
    let devices = [device(1, 1), device(2, 1)];
    let configs = vec![active(1)];
    let mut alerts = Vec::new();
    let mut records = BTreeMap::new();
    let mut listed = Vec::new();
    for (n, s) in slots.iter().enumerate() {
        let original = alert(n, 1, "disk full", 1_704_000_000);
        if s.open {
            let now_alert = if s.changed {
                alert(n, 1, "disk full again", 1_704_000_600)
            } else {
                original.clone()
            };
            alerts.push(now_alert);
        }
        let sys_id = 1_000 + n as u64;
        if let Some(state) = s.record {
            let ticket = (state != TicketRecordState::Creating).then_some(sys_id);
            let digest = alert_digest(&original);
            records.insert(uid(n), record(n, state, ticket, Some(&digest)));
        }
        if let Some(state) = s.ticket {
            listed.push(incident(n, sys_id, state));
        }
    }
    if duplicate_first && let Some(first) = alerts.first().cloned() {
        alerts.push(first);
    }
    let incidents = if listing_known {
        ListedTickets::from_listing(
            Listing {
                items: listed,
                rejected: Vec::new(),
                pages: 1,
            },
            "incidents",
        )
    } else {
        ListedTickets::not_listed("the listing failed")
    };
    let index = RoutingIndex::for_prefix(&prefix(), &devices, &configs, &[], Some(false));
    World {
        alerts,
        records,
        configs,
        index,
        tickets: TicketListing::new(incidents, ListedTickets::none()),
    }
}

impl World {
    fn plan(&self, guard: ResolveGuard) -> TicketPlan {
        let inputs = TicketInputs::new(
            &self.alerts,
            &self.records,
            &self.configs,
            &self.index,
            &self.tickets,
        )
        .resolve_guard(guard);
        plan_tickets(&inputs, now())
    }

    /// The records once the plan's store changes (and its writes, as if they succeeded)
    /// are applied.
    fn apply(&mut self, plan: &TicketPlan) {
        for item in &plan.items {
            match &item.store {
                StoreChange::Keep => {}
                StoreChange::Put(record) => {
                    self.records.insert(item.alert.clone(), record.clone());
                }
                StoreChange::Remove => {
                    self.records.remove(&item.alert);
                }
            }
        }
    }
}

fn no_guard() -> ResolveGuard {
    ResolveGuard::new(usize::MAX, 0)
}

proptest! {
    #[test]
    fn the_plan_is_deterministic_and_decides_each_alert_once(
        slots in prop::collection::vec(slot(), 0..40),
        known in any::<bool>(),
        duplicate in any::<bool>(),
    ) {
        let w = world(&slots, known, duplicate);
        let plan = w.plan(ResolveGuard::default());
        prop_assert_eq!(&plan, &w.plan(ResolveGuard::default()));
        let mut seen: HashMap<&AlertUid, usize> = HashMap::new();
        for item in &plan.items {
            *seen.entry(&item.alert).or_default() += 1;
        }
        prop_assert!(seen.values().all(|n| *n == 1), "one line per alert: {:?}", seen);
        for alert in &w.alerts {
            prop_assert!(seen.contains_key(&alert.uid));
        }
    }

    #[test]
    fn nothing_is_created_beside_a_listed_ticket_or_from_an_unknown_listing(
        slots in prop::collection::vec(slot(), 0..40),
        known in any::<bool>(),
    ) {
        let w = world(&slots, known, false);
        let plan = w.plan(no_guard());
        for item in &plan.items {
            let n: usize = item.alert.as_str().trim_start_matches("alert-").parse().unwrap_or(usize::MAX);
            let slot = &slots[n];
            match &item.decision {
                TicketDecision::Create(body) => {
                    prop_assert!(known);
                    prop_assert!(slot.ticket.is_none(), "created beside a listed ticket");
                    prop_assert!(matches!(slot.record, None | Some(TicketRecordState::Creating)));
                    prop_assert!(matches!(item.store, StoreChange::Put(ref r) if r.state == TicketRecordState::Creating));
                    let TicketBody::Incident(body) = &**body else { panic!("an incident") };
                    prop_assert!(body.short_description.chars().count() <= SHORT_DESCRIPTION_MAX);
                    prop_assert!(body.description.chars().count() <= DESCRIPTION_MAX);
                }
                TicketDecision::Resolve { .. } | TicketDecision::Held { .. } => {
                    prop_assert!(known);
                    prop_assert!(!slot.open);
                    prop_assert!(matches!(slot.ticket, Some("1" | "2")), "resolved a ticket not seen open");
                }
                TicketDecision::Note { .. } => {
                    prop_assert!(known);
                    prop_assert!(slot.open && slot.changed);
                    prop_assert_eq!(slot.record, Some(TicketRecordState::Open));
                    prop_assert!(matches!(slot.ticket, Some("1" | "2")));
                }
                _ => {}
            }
        }
    }

    #[test]
    fn a_change_is_noted_once_and_an_unchanged_pass_plans_no_write(
        slots in prop::collection::vec(slot(), 0..40),
    ) {
        let mut w = world(&slots, true, false);
        let first = w.plan(no_guard());
        let notes = first.items.iter().filter(|i| matches!(i.decision, TicketDecision::Note { .. })).count();
        let expected = slots
            .iter()
            .filter(|s| s.open && s.changed && s.record == Some(TicketRecordState::Open) && matches!(s.ticket, Some("1" | "2")))
            .count();
        prop_assert_eq!(notes, expected);
        w.apply(&first);
        let second = w.plan(no_guard());
        prop_assert!(
            !second.items.iter().any(|i| matches!(i.decision, TicketDecision::Note { .. })),
            "a second pass over the same alerts notes again"
        );
    }

    #[test]
    fn the_guard_holds_every_resolve_beyond_its_limit(
        slots in prop::collection::vec(slot(), 0..60),
        floor in 0usize..15,
        percent in 0usize..50,
    ) {
        let w = world(&slots, true, false);
        let guard = ResolveGuard::new(floor, percent);
        let plan = w.plan(guard);
        let resolves = plan.items.iter().filter(|i| matches!(i.decision, TicketDecision::Resolve { .. })).count();
        let held = plan.held().count();
        let open = w.records.values().filter(|r| r.state == TicketRecordState::Open).count();
        prop_assert_eq!(plan.guard.limit, guard.limit(open));
        if plan.guard.held {
            prop_assert_eq!(resolves, 0);
            prop_assert_eq!(held, plan.guard.resolves);
            prop_assert!(held > guard.limit(open));
        } else {
            prop_assert_eq!(held, 0);
            prop_assert!(resolves <= guard.limit(open));
        }
        let mut released = plan.clone();
        released.release_held();
        let all = released.items.iter().filter(|i| matches!(i.decision, TicketDecision::Resolve { .. })).count();
        prop_assert_eq!(all, plan.guard.resolves);
    }
}

#[test]
fn an_emptied_listing_holds_all_forty_resolves() {
    let slots: Vec<Slot> = (0..40)
        .map(|_| Slot {
            open: false,
            changed: false,
            record: Some(TicketRecordState::Open),
            ticket: Some("1"),
        })
        .collect();
    let w = world(&slots, true, false);
    let plan = w.plan(ResolveGuard::default());
    assert_eq!(
        (
            plan.guard.open,
            plan.guard.resolves,
            plan.guard.limit,
            plan.guard.held
        ),
        (40, 40, 10, true)
    );
    assert_eq!(plan.held().count(), 40);
    assert!(plan.items.iter().all(|i| !i.decision.writes()));
}

#[test]
fn a_record_without_a_digest_takes_the_alert_as_it_is_without_a_note() {
    let mut w = world(
        &[Slot {
            open: true,
            changed: true,
            record: Some(TicketRecordState::Open),
            ticket: Some("1"),
        }],
        true,
        false,
    );
    for r in w.records.values_mut() {
        r.alert_digest = None;
    }
    let plan = w.plan(ResolveGuard::default());
    let item = &plan.items[0];
    assert_eq!(item.decision, TicketDecision::Unchanged);
    let StoreChange::Put(record) = &item.store else {
        panic!("a baseline")
    };
    assert_eq!(record.alert_digest, Some(alert_digest(&w.alerts[0])));
}

#[test]
fn a_note_carries_the_new_message_cleaned_and_bounded() {
    let mut a = alert(0, 1, "", 1_704_000_600);
    a.message = Some(format!(
        "line one\r\nline two\u{1b}[0m{}",
        "x".repeat(5_000)
    ));
    let note = retrigger_note(&a);
    assert!(note.starts_with("The NinjaOne alert changed (updated 2023-12-31 "));
    assert!(note.contains("line one\nline two[0m"));
    assert_eq!(note.chars().count(), DESCRIPTION_MAX);
    assert!(!note.chars().any(|c| c.is_control() && c != '\n'));
}

#[test]
fn the_plan_applies_the_ticket_template_fields_and_filter() {
    use crate::model::TicketTemplate;
    let slots = vec![
        Slot {
            open: true,
            changed: false,
            record: None,
            ticket: None,
        };
        2
    ];
    let mut w = world(&slots, true, false);
    w.alerts[0].source_type = Some("CONDITION_DISK".to_owned());
    w.alerts[1].source_type = Some("CONDITION_PING".to_owned());
    let mut template = TicketTemplate::new("desk".parse().expect("name"));
    template.set_default(true);
    template.set_assignment_group(Some(sys(77)));
    template.set_category(Some("hardware".parse().expect("value")));
    template.set_source_types(["CONDITION_DISK".parse().expect("type")]);
    w.index = w.index.with_templates(std::slice::from_ref(&template));
    let plan = w.plan(ResolveGuard::default());
    let TicketDecision::Create(body) = &plan.items[0].decision else {
        panic!("a create: {:?}", plan.items[0].decision)
    };
    let TicketBody::Incident(incident) = &**body else {
        panic!("an incident")
    };
    assert_eq!(incident.assignment_group, Some(sys(77)));
    assert_eq!(incident.category.as_deref(), Some("hardware"));
    assert!(matches!(
        plan.items[1].decision,
        TicketDecision::Skip(SkipReason::Filtered { .. })
    ));
    assert_eq!(plan.items[1].store, StoreChange::Keep);
}

#[test]
fn a_ticket_whose_configuration_no_longer_routes_gets_no_note() {
    let mut w = world(
        &[Slot {
            open: true,
            changed: true,
            record: Some(TicketRecordState::Open),
            ticket: Some("1"),
        }],
        true,
        false,
    );
    let mut paused = active(1);
    paused
        .apply(SyncEvent::Deactivate, Some("paused"), now())
        .expect("pause");
    w.configs = vec![paused];
    w.index = RoutingIndex::for_prefix(&prefix(), &[device(1, 1)], &w.configs, &[], Some(false));
    let plan = w.plan(ResolveGuard::default());
    assert_eq!(plan.items[0].decision, TicketDecision::Unchanged);
    assert_eq!(plan.items[0].store, StoreChange::Keep);
}

#[test]
fn digests_compare_to_the_millisecond_and_records_with_the_nanosecond_digest_still_match() {
    let listed: Alert = serde_json::from_str(
        r#"{"uid":"u1","message":"disk full","updateTime":1742391675.556123}"#,
    )
    .expect("alert");
    let delivered: Alert =
        serde_json::from_str(r#"{"uid":"u1","message":"disk full","updateTime":1742391675.556}"#)
            .expect("alert");
    assert_eq!(alert_digest(&listed), alert_digest(&delivered));
    assert!(digest_matches(&alert_digest(&delivered), &listed));
    let v1 = alert_digest_v1(&listed);
    assert!(v1.starts_with("v1:"));
    assert!(digest_matches(&v1, &listed));
    assert!(!digest_matches(&v1, &delivered), "v1 kept nanoseconds");
    let mut changed = listed.clone();
    changed.message = Some("disk full again".into());
    assert!(!digest_matches(&alert_digest(&listed), &changed));
    assert!(!digest_matches(&v1, &changed));
    let v2 = alert_digest_v2(&listed);
    assert!(v2.starts_with("v2:"));
    assert!(digest_matches(&v2, &delivered));
    assert!(!digest_matches(&v2, &changed));
}

#[test]
fn digests_are_ordered_by_time_so_an_older_view_never_notes() {
    let at = |secs: f64, message: &str| -> Alert {
        serde_json::from_value(serde_json::json!({
            "uid": "u1", "message": message, "updateTime": secs,
        }))
        .expect("alert")
    };
    let stored = alert_digest(&at(1_742_391_675.556, "disk full"));
    // The same trigger seen later (a listing whose updateTime is after the activityTime):
    // news, noted once.
    assert!(!digest_matches(&stored, &at(1_742_391_676.1, "disk full")));
    // Seen earlier, whatever its message (a retried or out-of-order delivery): nothing.
    assert!(digest_matches(&stored, &at(1_742_391_675.0, "disk full")));
    assert!(digest_matches(
        &stored,
        &at(1_742_391_600.0, "an older message")
    ));
    // The same millisecond: a note only for another message.
    assert!(digest_matches(
        &stored,
        &at(1_742_391_675.556_9, "disk full")
    ));
    assert!(!digest_matches(
        &stored,
        &at(1_742_391_675.556, "disk full again")
    ));
    // Without a time: message and (missing) time must both agree.
    let timeless: Alert = serde_json::from_str(r#"{"uid":"u1","message":"m"}"#).expect("alert");
    assert!(digest_matches(&alert_digest(&timeless), &timeless));
    assert!(!digest_matches(&alert_digest(&timeless), &at(1.0, "m")));
    assert!(!digest_matches(&stored, &timeless));
    // A digest that does not parse matches nothing: one note, then a current digest.
    assert!(!digest_matches("v3:garbage", &timeless));
    assert!(!digest_matches("v9:x:1", &timeless));
}

#[test]
fn a_cleared_record_without_its_ticket_is_pruned_after_a_complete_listing_and_unknown_otherwise() {
    for state in [TicketRecordState::Creating, TicketRecordState::Open] {
        let slots = [Slot {
            open: false,
            changed: false,
            record: Some(state),
            ticket: None,
        }];
        let complete = world(&slots, true, false).plan(no_guard());
        assert_eq!(complete.items.len(), 1);
        assert_eq!(
            complete.items[0].decision,
            TicketDecision::Prune,
            "{state:?}"
        );
        assert_eq!(complete.items[0].store, StoreChange::Remove, "{state:?}");

        let failed = world(&slots, false, false).plan(no_guard());
        assert_eq!(failed.items.len(), 1);
        assert_eq!(
            failed.items[0].decision,
            TicketDecision::Unknown {
                reason: "the listing failed".to_owned()
            },
            "{state:?}"
        );
        assert_eq!(failed.items[0].store, StoreChange::Keep, "{state:?}");
    }
}
