//! Contract rules for the audit log: order, sequence numbers, filters.

use chrono::{DateTime, Utc};

use super::{all_audit, at, ok};
use crate::model::{AuditAction, AuditEntry, AuditFilter};
use crate::ports::ConfigStore;
use crate::testing::ids::org;

pub(super) async fn audit_log(store: &dyn ConfigStore) {
    let before = all_audit(store).await;
    let t = |secs: i64| at(1_000_000 + secs);
    let entries = vec![
        AuditEntry::applied(t(1), "contract:alice", AuditAction::SetMode),
        AuditEntry::applied(t(2), "contract:bob", AuditAction::AddConfig).for_organization(org(1)),
        AuditEntry::refused(
            t(3),
            "contract:alice",
            AuditAction::DeleteConfig,
            "the user may not see this organization",
        )
        .for_organization(org(5)),
        AuditEntry::applied(t(4), "contract:alice", AuditAction::UpdateConfig)
            .for_organization(org(1))
            .with_states(
                Some(serde_json::json!({"allow_incidents": false})),
                Some(serde_json::json!({"allow_incidents": true})),
            ),
        AuditEntry::applied(
            t(5),
            "contract:bob",
            AuditAction::Other("host-defined".to_owned()),
        ),
    ];
    // The trait's default `append_audit`, split over two calls, plus an empty append.
    ok(
        store.append_audit(entries[..2].to_vec()).await,
        "appending two audit entries",
    );
    ok(
        store.append_audit(Vec::new()).await,
        "appending no audit entries",
    );
    ok(
        store.append_audit(entries[2..].to_vec()).await,
        "appending three audit entries",
    );

    let all = all_audit(store).await;
    assert_eq!(
        all.len(),
        before.len() + entries.len(),
        "store_contract: appending must add exactly the appended entries"
    );
    assert_eq!(
        &all[..before.len()],
        &before[..],
        "store_contract: appending must leave earlier audit entries as they were"
    );
    for pair in all.windows(2) {
        assert!(
            pair[0].seq < pair[1].seq,
            "store_contract: audit seq numbers must increase in log order, got {} then {}",
            pair[0].seq,
            pair[1].seq
        );
    }
    let appended = &all[before.len()..];
    let with_seq = |expected: &[AuditEntry], got: &[AuditEntry]| -> Vec<AuditEntry> {
        expected
            .iter()
            .zip(got)
            .map(|(e, g)| AuditEntry {
                seq: g.seq,
                ..e.clone()
            })
            .collect()
    };
    assert_eq!(
        appended,
        &with_seq(&entries, appended)[..],
        "store_contract: audit entries must be stored as given, in the order appended"
    );
    audit_filters(store).await;
}

/// Filters over the entries `audit_log` appended (at 1 000 001 to 1 000 005 seconds after the
/// suite's epoch, later than any other entry).
pub(super) async fn audit_filters(store: &dyn ConfigStore) {
    let t = |secs: i64| at(1_000_000 + secs);
    let select = |filter: AuditFilter| async move {
        ok(store.audit(&filter).await, "reading a filtered audit log")
            .into_iter()
            .map(|e| e.at)
            .collect::<Vec<_>>()
    };
    let since = AuditFilter::all().since(t(1));
    assert_eq!(
        select(since.clone()).await,
        vec![t(1), t(2), t(3), t(4), t(5)],
        "store_contract: filtering the audit log by time must keep entries at or after it"
    );
    assert_eq!(
        select(AuditFilter::all().since(t(4))).await,
        vec![t(4), t(5)],
        "store_contract: filtering the audit log by time must keep entries at or after it"
    );
    assert_eq!(
        select(since.clone().organization(org(1))).await,
        vec![t(2), t(4)],
        "store_contract: filtering the audit log by organization must keep only its entries"
    );
    assert_eq!(
        select(AuditFilter::all().actor("contract:alice")).await,
        vec![t(1), t(3), t(4)],
        "store_contract: filtering the audit log by actor must keep only that actor's entries"
    );
    assert_eq!(
        select(
            AuditFilter::all()
                .actor("contract:bob")
                .organization(org(1))
        )
        .await,
        vec![t(2)],
        "store_contract: audit filters must combine"
    );
    assert_eq!(
        select(AuditFilter::all().limit(2)).await,
        vec![t(4), t(5)],
        "store_contract: an audit limit must keep the most recent entries, oldest first"
    );
    assert_eq!(
        select(AuditFilter::all().actor("contract:alice").limit(2)).await,
        vec![t(3), t(4)],
        "store_contract: an audit limit must apply after the other filters"
    );
    assert_eq!(
        select(AuditFilter::all().limit(0)).await,
        Vec::<DateTime<Utc>>::new(),
        "store_contract: an audit limit of 0 must return nothing"
    );
    assert_eq!(
        select(AuditFilter::all().actor("contract:nobody")).await,
        Vec::<DateTime<Utc>>::new(),
        "store_contract: filtering by an actor with no entries must return nothing"
    );
}
