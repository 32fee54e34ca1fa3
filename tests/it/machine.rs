//! Property tests of the status machine: every sequence of events, on a bare status and on a
//! configuration.

use chrono::{TimeZone, Utc};
use ninjaone_servicenow::machine::{SyncEvent, transition};
use ninjaone_servicenow::model::{OrganizationId, SyncConfig, SyncStatus};
use proptest::prelude::*;

fn event() -> impl Strategy<Value = SyncEvent> {
    proptest::sample::select(SyncEvent::ALL.to_vec())
}

fn status() -> impl Strategy<Value = SyncStatus> {
    proptest::sample::select(SyncStatus::ALL.to_vec())
}

/// Where DESIGN.md's table allows an event, independently of the implementation's `match`.
fn allowed(from: SyncStatus, event: SyncEvent) -> bool {
    use SyncEvent as E;
    use SyncStatus as S;
    match event {
        E::Enqueue => matches!(from, S::Pending | S::InQueue),
        E::Succeeded | E::FailedTransient => from == S::InQueue,
        E::FailedPermanent => matches!(from, S::InQueue | S::Active),
        E::Changed | E::Deactivate | E::Activate => from != S::Deleted,
        E::Delete => true,
        E::Restore => from == S::Deleted,
        other => panic!("{other:?} has no row in DESIGN.md's table: add one here first"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn refusals_are_exactly_where_the_table_says(from in status(), event in event()) {
        let result = transition(from, event);
        prop_assert_eq!(result.is_ok(), allowed(from, event));
        if let Err(refusal) = result {
            prop_assert_eq!((refusal.status, refusal.event), (from, event));
            let message = refusal.to_string();
            prop_assert!(message.contains(from.label()), "{}", message);
            prop_assert!(message.contains(event.label()), "{}", message);
        }
    }

    #[test]
    fn deleted_is_left_only_by_restore(events in proptest::collection::vec(event(), 0..64)) {
        let mut status = SyncStatus::Deleted;
        for e in events {
            match transition(status, e) {
                Ok(next) => {
                    if status == SyncStatus::Deleted && next != SyncStatus::Deleted {
                        prop_assert_eq!(e, SyncEvent::Restore);
                        prop_assert_eq!(next, SyncStatus::Pending);
                    }
                    status = next;
                }
                Err(_) => prop_assert!(!allowed(status, e)),
            }
        }
    }

    #[test]
    fn any_sequence_on_a_config_keeps_its_invariants(
        events in proptest::collection::vec((event(), proptest::option::of("[a-z ]{0,12}")), 0..64)
    ) {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut config = SyncConfig::new(OrganizationId::new(7).unwrap(), None, t0);
        for (i, (e, note)) in events.into_iter().enumerate() {
            let now = t0 + chrono::Duration::seconds(i64::try_from(i).unwrap() + 1);
            let before = config.clone();
            if let Ok(t) = config.apply(e, note.as_deref(), now) {
                    prop_assert_eq!(t.from, before.status());
                    prop_assert_eq!(t.to, config.status());
                    prop_assert_eq!(config.updated_at(), now);
                    if e == SyncEvent::FailedTransient {
                        prop_assert_eq!(config.attempts(), before.attempts() + 1);
                    }
                    if matches!(e, SyncEvent::Succeeded | SyncEvent::Activate | SyncEvent::Restore) {
                        prop_assert_eq!(config.attempts(), 0);
                    }
                    if config.status() == SyncStatus::Active {
                        prop_assert_eq!(config.next_attempt_at(), None);
                    }
            } else {
                prop_assert_eq!(&config, &before, "a refusal must not change the config");
            }
            prop_assert_eq!(config.version(), 0, "only a store changes the version");
        }
    }
}

#[test]
fn statuses_have_the_documented_names() {
    let names: Vec<(String, String)> = SyncStatus::ALL
        .iter()
        .map(|s| (s.to_string(), serde_json::to_string(s).unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("pending", "\"pending\""),
            ("in queue", "\"in_queue\""),
            ("active", "\"active\""),
            ("inactive", "\"inactive\""),
            ("deleted", "\"deleted\""),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    for s in SyncStatus::ALL {
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SyncStatus>(&json).unwrap(), s);
    }
    assert!(serde_json::from_str::<SyncStatus>("\"in queue\"").is_err());
}

#[test]
fn a_config_round_trips_through_serde() {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut config = SyncConfig::new(
        OrganizationId::new(7).unwrap(),
        Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()),
        t0,
    );
    config.set_allow_incidents(true);
    config.set_ci_mappings(["servers".parse().unwrap(), "laptops".parse().unwrap()]);
    config
        .apply(SyncEvent::Deactivate, Some("paused by alice"), t0)
        .unwrap();
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<SyncConfig>(&json).unwrap(), config);
}
