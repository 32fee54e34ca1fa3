//! [`store_contract`]: the rules every [`ConfigStore`] keeps, as a test suite.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

use super::ids::{device, org, sys_id};
use crate::model::{
    AlertUid, AuditAction, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord,
    DeviceRoleId, IntegrationMode, MinSeverity, OrganizationId, SyncConfig, SyncConfigParts,
    SyncStatus, TicketKind, TicketRecord, TicketRecordState, TicketTemplate, TicketTemplateName,
};
use crate::ports::{ConfigStore, StoreError, StoreErrorKind, WriteBatch};

/// Runs the [`ConfigStore`] contract against `store`, which must be new and empty.
///
/// Checks every rule stated in [`ConfigStore`'s docs](ConfigStore#rules), in order: an empty store reads as empty (no configurations, mode
/// [`IntegrationMode::Disabled`], no CI mappings, an empty audit log); an insert returns version
/// 1 and reads back equal; an update with the stored version returns version 2; a stale version
/// and a second insert for one organization are each a [`StoreErrorKind::Conflict`] that leaves
/// the stored value as it was, and so is an update of a configuration that was never stored
/// (which creates nothing); a batch with one conflicting item — a second insert, a stale version
/// or a never-stored update — writes nothing (not even its audit entries); a batch writing one organization twice is [`StoreErrorKind::Invalid`];
/// configurations come back ordered by organization and the stored ones in the batch's order;
/// `configs_of` returns the stored ones of the given organizations, once each, in order;
/// the mode can be set and read; CI mappings are created, replaced, listed by name and deleted;
/// audit entries keep their order, get increasing sequence numbers and filter by organization,
/// actor, time and limit; the trait's default [`write_config`](ConfigStore::write_config) and
/// [`append_audit`](ConfigStore::append_audit) work; alert → ticket and device → CI records are
/// inserted, replaced by key, removed, listed by key, and a write naming one key twice (put
/// twice, removed twice, or in both lists) is [`StoreErrorKind::Invalid`] and changes nothing; ticket templates are created, replaced,
/// listed by name and deleted with every field kept, a new default takes the flag from the old
/// one (never two defaults), and a configuration keeps the template it names; an incident
/// router lock ([`lock_router`](ConfigStore::lock_router)) is held once per integration id,
/// independently of other ids, and free again once released. It uses no async runtime, so any
/// executor can drive it.
///
/// ```
/// use ninjaone_servicenow::store::MemoryStore;
/// use ninjaone_servicenow::testing::store_contract;
///
/// futures::executor::block_on(store_contract(&MemoryStore::new()));
/// ```
///
/// # Panics
/// On the first rule `store` breaks, with a message naming the rule, what was expected and what
/// the store did.
pub async fn store_contract(store: &dyn ConfigStore) {
    empty_store(store).await;
    insert_update_and_conflicts(store).await;
    batches_are_atomic(store).await;
    one_organization_twice_is_invalid(store).await;
    configs_are_ordered(store).await;
    mode(store).await;
    ci_mappings(store).await;
    audit_log(store).await;
    ticket_records(store).await;
    ci_records(store).await;
    router_locks(store).await;
    ticket_templates(store).await;
    every_config_field_round_trips(store).await;
}

/// One router lock per integration id at a time; ids are independent; a released lock is
/// free again.
async fn router_locks(store: &dyn ConfigStore) {
    let held = ok(store.lock_router("contract-a").await, "lock_router")
        .expect("store_contract: a free router lock is taken");
    assert!(
        ok(store.lock_router("contract-a").await, "lock_router again").is_none(),
        "store_contract: a held router lock must not be taken twice"
    );
    let other = ok(
        store.lock_router("contract-b").await,
        "lock_router of another id",
    )
    .expect("store_contract: another integration id's lock is independent");
    ok(held.release().await, "release the router lock");
    ok(other.release().await, "release the other router lock");
    let again = ok(
        store.lock_router("contract-a").await,
        "lock_router after release",
    )
    .expect("store_contract: a released router lock is free again");
    ok(again.release().await, "release the router lock again");
}

/// A fixed time, `secs` seconds after 2024-01-01T00:00:00Z.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200 + secs, 0).expect("store_contract: a valid timestamp")
}

fn name(s: &str) -> CiMappingName {
    s.parse().expect("store_contract: a valid CI mapping name")
}

/// The value of `result`, or a panic naming the step and the store's error.
fn ok<T>(result: Result<T, StoreError>, step: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("store_contract: {step} failed: {e}"),
    }
}

/// The error of `result`, which must be of `kind`.
fn refused<T: Debug>(
    result: Result<T, StoreError>,
    kind: StoreErrorKind,
    step: &str,
) -> StoreError {
    match result {
        Ok(value) => {
            panic!("store_contract: {step} must fail with {kind:?} but returned {value:?}")
        }
        Err(e) => {
            assert_eq!(
                e.kind(),
                kind,
                "store_contract: {step} must fail with {kind:?} but failed with {e}"
            );
            e
        }
    }
}

/// `config` as a store returns it after saving it as `version`.
fn saved(config: &SyncConfig, version: u64) -> SyncConfig {
    let mut config = config.clone();
    config.set_version(version);
    config
}

async fn all_audit(store: &dyn ConfigStore) -> Vec<AuditEntry> {
    ok(
        store.audit(&AuditFilter::all()).await,
        "reading the audit log",
    )
}

async fn empty_store(store: &dyn ConfigStore) {
    assert_eq!(
        ok(store.configs().await, "listing configs of an empty store"),
        Vec::new(),
        "store_contract: a new store must hold no configurations"
    );
    assert_eq!(
        ok(
            store.config(org(1)).await,
            "reading a config of an empty store"
        ),
        None,
        "store_contract: a new store must hold no configuration for organization 1"
    );
    assert_eq!(
        ok(store.mode().await, "reading the mode of an empty store"),
        IntegrationMode::Disabled,
        "store_contract: a new store's mode must be disabled"
    );
    assert_eq!(
        ok(
            store.ci_mappings().await,
            "listing CI mappings of an empty store"
        ),
        Vec::new(),
        "store_contract: a new store must hold no CI mappings"
    );
    assert_eq!(
        all_audit(store).await,
        Vec::new(),
        "store_contract: a new store's audit log must be empty"
    );
    assert_eq!(
        ok(
            store.write(WriteBatch::new()).await,
            "writing an empty batch"
        ),
        Vec::new(),
        "store_contract: an empty batch must store nothing"
    );
}

async fn insert_update_and_conflicts(store: &dyn ConfigStore) {
    // Insert through the trait's default `write_config`.
    let mut new = SyncConfig::new(org(1), Some(sys_id(1)), at(0));
    new.set_ci_mappings([name("servers")]);
    let v1 = ok(
        store.write_config(new.clone()).await,
        "inserting organization 1",
    );
    assert_eq!(
        v1.version(),
        1,
        "store_contract: an inserted configuration must come back with version 1"
    );
    assert_eq!(
        v1,
        saved(&new, 1),
        "store_contract: an insert must store the configuration as given, with version 1"
    );
    assert_eq!(
        ok(store.config(org(1)).await, "reading organization 1 back"),
        Some(v1.clone()),
        "store_contract: reading an inserted configuration must give it back unchanged"
    );

    // Update with the stored version.
    let mut edit = v1.clone();
    edit.set_company(Some(sys_id(2)));
    edit.set_allow_incidents(true);
    let v2 = ok(
        store.write(WriteBatch::new().config(edit.clone())).await,
        "updating organization 1 with the stored version",
    );
    assert_eq!(
        v2,
        vec![saved(&edit, 2)],
        "store_contract: an update with the stored version must come back with version 2"
    );
    let v2 = v2.into_iter().next().expect("one stored configuration");
    assert_eq!(
        ok(
            store.config(org(1)).await,
            "reading organization 1 after the update"
        ),
        Some(v2.clone()),
        "store_contract: reading an updated configuration must give the update"
    );

    // A stale version is a conflict and changes nothing.
    let mut stale = v1.clone();
    stale.set_company(Some(sys_id(3)));
    let e = refused(
        store.write_config(stale).await,
        StoreErrorKind::Conflict,
        "an update of organization 1 with the stale version 1 (2 is stored)",
    );
    assert!(
        !e.message().is_empty(),
        "store_contract: a conflict must say what conflicted"
    );
    let mut future = v2.clone();
    future.set_version(7);
    refused(
        store.write_config(future).await,
        StoreErrorKind::Conflict,
        "an update of organization 1 with version 7 (2 is stored)",
    );
    assert_eq!(
        ok(
            store.config(org(1)).await,
            "reading organization 1 after conflicts"
        ),
        Some(v2.clone()),
        "store_contract: a conflicting write must leave the stored configuration unchanged"
    );

    // A second insert for the same organization is a conflict too.
    refused(
        store
            .write_config(SyncConfig::new(org(1), None, at(1)))
            .await,
        StoreErrorKind::Conflict,
        "inserting a second configuration for organization 1",
    );
    assert_eq!(
        ok(
            store.config(org(1)).await,
            "reading organization 1 after a second insert"
        ),
        Some(v2),
        "store_contract: a refused insert must leave the stored configuration unchanged"
    );

    // An update of a configuration that was never stored is a conflict (ConfigStore#versions).
    refused(
        store.write_config(never_stored(org(2))).await,
        StoreErrorKind::Conflict,
        "an update (version 1) of organization 2, which has no configuration",
    );
    assert_eq!(
        ok(store.config(org(2)).await, "reading organization 2"),
        None,
        "store_contract: a refused update must not create a configuration"
    );
}

/// A configuration of `organization` that claims to have been stored (version 1) but never was.
fn never_stored(organization: OrganizationId) -> SyncConfig {
    let mut config = SyncConfig::new(organization, None, at(0));
    config.set_version(1);
    config
}

async fn batches_are_atomic(store: &dyn ConfigStore) {
    let base = ok(
        store
            .write_config(SyncConfig::new(org(10), None, at(10)))
            .await,
        "inserting organization 10",
    );
    let configs_before = ok(store.configs().await, "listing configs before batches");
    let audit_before = all_audit(store).await;

    let mut edit = base.clone();
    edit.set_allow_incidents(true);
    let entry = AuditEntry::applied(at(11), "contract:atomic", AuditAction::UpdateConfig);

    // The conflicting item first, last, and as a stale update among valid ones.
    let mut stale = base.clone();
    stale.set_version(base.version() + 1);
    let batches = [
        (
            "a batch whose first item inserts organization 10 again",
            WriteBatch::new()
                .config(SyncConfig::new(org(10), None, at(11)))
                .config(SyncConfig::new(org(11), None, at(11)))
                .audit(entry.clone()),
        ),
        (
            "a batch whose last item inserts organization 10 again",
            WriteBatch::new()
                .config(SyncConfig::new(org(11), None, at(11)))
                .config(SyncConfig::new(org(12), None, at(11)))
                .config(SyncConfig::new(org(10), None, at(11)))
                .audit(entry.clone()),
        ),
        (
            "a batch with a valid insert and a stale update of organization 10",
            WriteBatch::new()
                .config(SyncConfig::new(org(11), None, at(11)))
                .config(stale)
                .audit(entry.clone()),
        ),
        (
            "a batch with a valid update and an update of organization 19, which was never stored",
            WriteBatch::new()
                .config(edit.clone())
                .config(never_stored(org(19)))
                .audit(entry.clone()),
        ),
    ];
    for (what, batch) in batches {
        refused(store.write(batch).await, StoreErrorKind::Conflict, what);
        assert_eq!(
            ok(
                store.configs().await,
                "listing configs after a refused batch"
            ),
            configs_before,
            "store_contract: {what} must write none of its configurations"
        );
        assert_eq!(
            all_audit(store).await,
            audit_before,
            "store_contract: {what} must append none of its audit entries"
        );
    }

    // The same batch without the conflict writes all of it.
    let stored = ok(
        store
            .write(
                WriteBatch::new()
                    .config(SyncConfig::new(org(11), None, at(11)))
                    .config(edit.clone())
                    .audit(entry.clone()),
            )
            .await,
        "a valid batch inserting organization 11 and updating organization 10",
    );
    assert_eq!(
        stored,
        vec![
            saved(&SyncConfig::new(org(11), None, at(11)), 1),
            saved(&edit, base.version() + 1)
        ],
        "store_contract: a batch must return its configurations as stored, in the batch's order"
    );
    let audit_after = all_audit(store).await;
    assert_eq!(
        audit_after.len(),
        audit_before.len() + 1,
        "store_contract: a valid batch must append its audit entries"
    );
    let appended = audit_after.last().expect("one appended entry");
    assert_eq!(
        (appended.actor.as_str(), appended.at),
        (entry.actor.as_str(), entry.at),
        "store_contract: a valid batch must append its audit entry as given"
    );
}

async fn one_organization_twice_is_invalid(store: &dyn ConfigStore) {
    let base = ok(store.config(org(10)).await, "reading organization 10")
        .expect("store_contract: organization 10 was inserted earlier");
    let configs_before = ok(store.configs().await, "listing configs before batches");
    let audit_before = all_audit(store).await;
    let mut edit = base.clone();
    edit.set_allow_incidents(true);
    let entry = AuditEntry::applied(at(11), "contract:atomic", AuditAction::UpdateConfig);

    // One organization twice in a batch is invalid, even when each write alone would pass.
    let what = "a batch writing organization 10 twice";
    refused(
        store
            .write(
                WriteBatch::new()
                    .config(edit.clone())
                    .config(edit.clone())
                    .audit(entry.clone()),
            )
            .await,
        StoreErrorKind::Invalid,
        what,
    );
    refused(
        store
            .write(
                WriteBatch::new()
                    .config(SyncConfig::new(org(13), None, at(11)))
                    .config(SyncConfig::new(org(13), None, at(12))),
            )
            .await,
        StoreErrorKind::Invalid,
        "a batch inserting organization 13 twice",
    );
    assert_eq!(
        ok(
            store.configs().await,
            "listing configs after an invalid batch"
        ),
        configs_before,
        "store_contract: {what} must write nothing"
    );
    assert_eq!(
        all_audit(store).await,
        audit_before,
        "store_contract: {what} must append nothing"
    );
}

async fn configs_are_ordered(store: &dyn ConfigStore) {
    let batch = [30, 5, 20, 400, 3]
        .map(|id| SyncConfig::new(org(id), None, at(20)))
        .to_vec();
    let stored = ok(
        store.write(WriteBatch::new().configs(batch.clone())).await,
        "inserting organizations 30, 5, 20, 400 and 3 in one batch",
    );
    assert_eq!(
        stored,
        batch.iter().map(|c| saved(c, 1)).collect::<Vec<_>>(),
        "store_contract: a batch's configurations must come back in the batch's order"
    );
    let listed: Vec<OrganizationId> = ok(store.configs().await, "listing configs")
        .iter()
        .map(SyncConfig::organization)
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        listed, sorted,
        "store_contract: configs() must list each organization once, ordered by organization"
    );
    for id in [1, 3, 5, 10, 11, 20, 30, 400] {
        assert!(
            listed.contains(&org(id)),
            "store_contract: configs() must list organization {id}, written earlier"
        );
    }
    let some: Vec<OrganizationId> = ok(
        store
            .configs_of(&[org(400), org(5), org(999_999), org(5), org(3)])
            .await,
        "reading organizations 400, 5, 999999 (none), 5 again and 3",
    )
    .iter()
    .map(SyncConfig::organization)
    .collect();
    assert_eq!(
        some,
        vec![org(3), org(5), org(400)],
        "store_contract: configs_of() must return each stored one of the given organizations \
         once, ordered by organization, and leave out organizations without a configuration"
    );
}

async fn mode(store: &dyn ConfigStore) {
    for mode in [
        IntegrationMode::Active,
        IntegrationMode::Inactive,
        IntegrationMode::Inactive,
        IntegrationMode::Disabled,
        IntegrationMode::Active,
    ] {
        ok(store.set_mode(mode).await, "setting the mode");
        assert_eq!(
            ok(store.mode().await, "reading the mode"),
            mode,
            "store_contract: the mode must read back as set"
        );
    }
}

async fn ci_mappings(store: &dyn ConfigStore) {
    let mut servers = CiMapping::new(name("servers"));
    servers.set_rule(
        DeviceRoleId::new(9).expect("store_contract: a valid role id"),
        "cmdb_ci_win_server"
            .parse()
            .expect("store_contract: a valid class"),
    );
    let mut laptops = CiMapping::new(name("laptops"));
    laptops.set_rule(
        DeviceRoleId::new(3).expect("store_contract: a valid role id"),
        "cmdb_ci_computer"
            .parse()
            .expect("store_contract: a valid class"),
    );
    let desktops = CiMapping::new(name("desktops"));

    for mapping in [&servers, &laptops, &desktops] {
        ok(
            store.put_ci_mapping(mapping.clone()).await,
            "creating a CI mapping",
        );
    }
    assert_eq!(
        ok(store.ci_mappings().await, "listing CI mappings"),
        vec![desktops.clone(), laptops.clone(), servers.clone()],
        "store_contract: CI mappings must be listed ordered by name"
    );

    let mut replaced = servers.clone();
    replaced.set_rule(
        DeviceRoleId::new(10).expect("store_contract: a valid role id"),
        "cmdb_ci_linux_server"
            .parse()
            .expect("store_contract: a valid class"),
    );
    ok(
        store.put_ci_mapping(replaced.clone()).await,
        "replacing the CI mapping \"servers\"",
    );
    assert_eq!(
        ok(
            store.ci_mappings().await,
            "listing CI mappings after a replace"
        ),
        vec![desktops.clone(), laptops.clone(), replaced.clone()],
        "store_contract: putting a CI mapping with an existing name must replace it"
    );

    assert!(
        ok(
            store.delete_ci_mapping(laptops.name()).await,
            "deleting the CI mapping \"laptops\""
        ),
        "store_contract: deleting an existing CI mapping must return true"
    );
    assert!(
        !ok(
            store.delete_ci_mapping(laptops.name()).await,
            "deleting the CI mapping \"laptops\" again"
        ),
        "store_contract: deleting a CI mapping that does not exist must return false"
    );
    assert!(
        !ok(
            store.delete_ci_mapping(&name("never-stored")).await,
            "deleting a CI mapping never stored"
        ),
        "store_contract: deleting a CI mapping that never existed must return false"
    );
    assert_eq!(
        ok(
            store.ci_mappings().await,
            "listing CI mappings after a delete"
        ),
        vec![desktops, replaced],
        "store_contract: a deleted CI mapping must no longer be listed"
    );
}

async fn audit_log(store: &dyn ConfigStore) {
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
async fn audit_filters(store: &dyn ConfigStore) {
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

fn ticket(uid: &str, secs: i64) -> TicketRecord {
    let alert: AlertUid = uid.parse().expect("store_contract: a valid alert uid");
    let correlation = format!("ninjaone:contract:alert:{uid}")
        .parse()
        .expect("store_contract: a valid correlation id");
    TicketRecord::creating(alert, org(1), TicketKind::Incident, correlation, at(secs))
}

fn alert(uid: &str) -> AlertUid {
    uid.parse().expect("store_contract: a valid alert uid")
}

async fn ticket_records(store: &dyn ConfigStore) {
    assert_eq!(
        ok(
            store.ticket_records().await,
            "listing ticket records of a new store"
        ),
        Vec::new(),
        "store_contract: a new store has no ticket records"
    );
    let (b, a, c) = (ticket("b-2", 1), ticket("a-1", 2), ticket("c-3", 3));
    ok(
        store
            .write_ticket_records(vec![b.clone(), a.clone(), c.clone()], Vec::new())
            .await,
        "inserting three ticket records",
    );
    assert_eq!(
        ok(store.ticket_records().await, "listing ticket records"),
        vec![a.clone(), b.clone(), c.clone()],
        "store_contract: ticket records come back ordered by alert uid"
    );

    let mut opened = a.clone();
    opened.ticket = Some(sys_id(7));
    opened.number = Some("INC0010001".to_owned());
    opened.state = TicketRecordState::Open;
    opened.updated_at = at(10);
    ok(
        store
            .write_ticket_records(vec![opened.clone()], vec![alert("c-3"), alert("zz-none")])
            .await,
        "replacing one ticket record and removing another (and one that never existed)",
    );
    assert_eq!(
        ok(store.ticket_records().await, "listing ticket records"),
        vec![opened.clone(), b.clone()],
        "store_contract: a put replaces the record by alert uid and a remove deletes it"
    );
    assert_eq!(
        ok(
            store.ticket_record(&alert("a-1")).await,
            "reading one ticket record"
        ),
        Some(opened.clone()),
        "store_contract: ticket_record reads the record stored (and replaced) for its alert"
    );
    assert_eq!(
        ok(
            store.ticket_record(&alert("c-3")).await,
            "reading a removed ticket record"
        ),
        None,
        "store_contract: ticket_record of a removed record is None"
    );
    assert_eq!(
        ok(
            store.ticket_record(&alert("a")).await,
            "reading a ticket record that never existed"
        ),
        None,
        "store_contract: ticket_record matches the uid exactly (not a prefix of one stored)"
    );

    refused(
        store
            .write_ticket_records(vec![ticket("d-4", 4)], vec![alert("d-4")])
            .await,
        StoreErrorKind::Invalid,
        "a ticket-record write naming one alert in both lists",
    );
    refused(
        store
            .write_ticket_records(vec![ticket("e-5", 5), ticket("e-5", 6)], Vec::new())
            .await,
        StoreErrorKind::Invalid,
        "a ticket-record write putting one alert twice",
    );
    refused(
        store
            .write_ticket_records(Vec::new(), vec![alert("b-2"), alert("b-2")])
            .await,
        StoreErrorKind::Invalid,
        "a ticket-record write removing one alert twice",
    );
    assert_eq!(
        ok(store.ticket_records().await, "listing ticket records"),
        vec![opened, b],
        "store_contract: a refused ticket-record write changes nothing"
    );
}

fn ci(id: u32, fingerprint: &str) -> CiRecord {
    CiRecord::new(
        device(id),
        org(1),
        "cmdb_ci_win_server"
            .parse()
            .expect("store_contract: a valid CI class"),
        Some(sys_id(u64::from(id % 200))),
        fingerprint,
        at(i64::from(id)),
    )
}

async fn ci_records(store: &dyn ConfigStore) {
    assert_eq!(
        ok(
            store.ci_records().await,
            "listing CI records of a new store"
        ),
        Vec::new(),
        "store_contract: a new store has no CI records"
    );
    ok(
        store
            .write_ci_records(vec![ci(30, "x"), ci(4, "y"), ci(12, "z")], Vec::new())
            .await,
        "inserting three CI records",
    );
    assert_eq!(
        ok(store.ci_records().await, "listing CI records"),
        vec![ci(4, "y"), ci(12, "z"), ci(30, "x")],
        "store_contract: CI records come back ordered by device id"
    );
    ok(
        store
            .write_ci_records(vec![ci(4, "changed")], vec![device(30), device(999)])
            .await,
        "replacing one CI record and removing another (and one that never existed)",
    );
    assert_eq!(
        ok(store.ci_records().await, "listing CI records"),
        vec![ci(4, "changed"), ci(12, "z")],
        "store_contract: a put replaces the CI record by device and a remove deletes it"
    );
    assert_eq!(
        ok(store.ci_record(device(4)).await, "reading one CI record"),
        Some(ci(4, "changed")),
        "store_contract: ci_record reads the record stored (and replaced) for its device"
    );
    assert_eq!(
        ok(
            store.ci_record(device(30)).await,
            "reading a removed CI record"
        ),
        None,
        "store_contract: ci_record of a removed record is None"
    );
    assert_eq!(
        ok(
            store.ci_record(device(1)).await,
            "reading a CI record that never existed"
        ),
        None,
        "store_contract: ci_record of a device without a record is None"
    );
    refused(
        store
            .write_ci_records(vec![ci(5, "a")], vec![device(5)])
            .await,
        StoreErrorKind::Invalid,
        "a CI-record write naming one device in both lists",
    );
    refused(
        store
            .write_ci_records(vec![ci(6, "a"), ci(6, "b")], Vec::new())
            .await,
        StoreErrorKind::Invalid,
        "a CI-record write putting one device twice",
    );
    refused(
        store
            .write_ci_records(Vec::new(), vec![device(12), device(12)])
            .await,
        StoreErrorKind::Invalid,
        "a CI-record write removing one device twice",
    );
    assert_eq!(
        ok(store.ci_records().await, "listing CI records"),
        vec![ci(4, "changed"), ci(12, "z")],
        "store_contract: a refused CI-record write changes nothing"
    );
}

fn template_name(s: &str) -> TicketTemplateName {
    s.parse()
        .expect("store_contract: a valid ticket template name")
}

/// A template with every field set.
fn full_template(name: &str, default: bool) -> TicketTemplate {
    let mut t = TicketTemplate::new(template_name(name));
    t.set_assignment_group(Some(sys_id(0x61)));
    t.set_caller(Some(sys_id(0x62)));
    t.set_category(Some("hardware".parse().expect("store_contract: a value")));
    t.set_subcategory(Some("disk".parse().expect("store_contract: a value")));
    t.set_contact_type(Some("monitoring".parse().expect("store_contract: a value")));
    t.set_source_types([
        "CONDITION_WINDOWS_EVENT_LOG_TRIGGERED"
            .parse()
            .expect("store_contract: a source type"),
        "CONDITION_DISK_FREE_SPACE"
            .parse()
            .expect("store_contract: a source type"),
    ]);
    t.set_min_severity(Some(MinSeverity::Major));
    t.set_default(default);
    t
}

fn defaults(templates: &[TicketTemplate]) -> Vec<String> {
    templates
        .iter()
        .filter(|t| t.is_default())
        .map(|t| t.name().to_string())
        .collect()
}

async fn ticket_templates(store: &dyn ConfigStore) {
    let list = |step: &'static str| async move { ok(store.ticket_templates().await, step) };
    assert_eq!(
        list("listing the ticket templates of an empty store").await,
        Vec::new(),
        "store_contract: a new store has no ticket templates"
    );
    let servers = full_template("servers", false);
    ok(
        store.put_ticket_template(servers.clone()).await,
        "creating a ticket template",
    );
    ok(
        store
            .put_ticket_template(TicketTemplate::new(template_name("desktops")))
            .await,
        "creating a second ticket template",
    );
    let listed = list("listing ticket templates").await;
    let names: Vec<&str> = listed.iter().map(|t| t.name().as_str()).collect();
    assert_eq!(
        names,
        ["desktops", "servers"],
        "store_contract: ticket templates come back ordered by name"
    );
    assert_eq!(
        listed.get(1),
        Some(&servers),
        "store_contract: a ticket template reads back with every field as saved"
    );

    let mut desktops = TicketTemplate::new(template_name("desktops"));
    desktops.set_default(true);
    ok(
        store.put_ticket_template(desktops.clone()).await,
        "making a ticket template the default",
    );
    assert_eq!(
        defaults(&list("listing ticket templates").await),
        ["desktops"],
        "store_contract: the template saved as default is the default"
    );
    ok(
        store
            .put_ticket_template(full_template("servers", true))
            .await,
        "making another ticket template the default",
    );
    let listed = list("listing ticket templates").await;
    assert_eq!(
        defaults(&listed),
        ["servers"],
        "store_contract: a new default takes the flag from the old one in the same write"
    );
    assert_eq!(
        listed.len(),
        2,
        "store_contract: replacing a template by name keeps one template of that name"
    );

    let mut config = SyncConfig::new(org(77), Some(sys_id(0x63)), at(0));
    config.set_ticket_template(Some(template_name("servers")));
    let stored = ok(
        store.write_config(config.clone()).await,
        "writing a configuration that names a ticket template",
    );
    assert_eq!(
        ok(store.config(org(77)).await, "reading it back")
            .as_ref()
            .and_then(SyncConfig::ticket_template),
        Some(&template_name("servers")),
        "store_contract: a configuration keeps the ticket template it names"
    );
    assert_eq!(stored.ticket_template(), config.ticket_template());

    assert!(
        ok(
            store
                .delete_ticket_template(&template_name("servers"))
                .await,
            "deleting a ticket template",
        ),
        "store_contract: deleting an existing ticket template returns true"
    );
    assert!(
        !ok(
            store
                .delete_ticket_template(&template_name("servers"))
                .await,
            "deleting it again",
        ),
        "store_contract: deleting a missing ticket template returns false"
    );
    assert_eq!(
        list("listing ticket templates").await,
        vec![TicketTemplate::new(template_name("desktops"))],
        "store_contract: only the deleted template is gone (and the old default lost its flag)"
    );
}

/// A configuration with every field set (the names as last seen included) reads back as
/// written, but for the version the store sets; a changed name is kept on the next write.
async fn every_config_field_round_trips(store: &dyn ConfigStore) {
    let mut parts = SyncConfigParts::new(org(88), at(0));
    parts.organization_name = Some("Contoso Dental".to_owned());
    parts.company = Some(sys_id(0x88));
    parts.company_name = Some("Contoso Dental Ltd".to_owned());
    parts.customer_account = Some(sys_id(0x89));
    parts.customer_account_name = Some("Contoso Account".to_owned());
    parts.ci_mappings = [name("servers"), name("workstations")]
        .into_iter()
        .collect();
    parts.allow_incidents = true;
    parts.tickets = TicketKind::Case;
    parts.ticket_template = Some(template_name("standard"));
    parts.status = SyncStatus::Inactive;
    parts.status_reason = Some("paused by zoe".to_owned());
    parts.last_error = Some("could not create company".to_owned());
    parts.attempts = 3;
    parts.next_attempt_at = Some(at(90));
    parts.updated_at = at(60);
    let config = SyncConfig::from_parts(parts).expect("store_contract: valid parts");
    let stored = ok(
        store.write_config(config.clone()).await,
        "writing a configuration with every field set",
    );
    assert_eq!(
        stored,
        saved(&config, 1),
        "store_contract: the write returns every field as given, with version 1"
    );
    let read = ok(store.config(org(88)).await, "reading it back");
    assert_eq!(
        read.as_ref(),
        Some(&stored),
        "store_contract: every field reads back as written, names as last seen included"
    );

    let mut renamed = stored.into_parts();
    renamed.organization_name = Some("Contoso Group".to_owned());
    renamed.company_name = None;
    let renamed = SyncConfig::from_parts(renamed).expect("store_contract: valid parts");
    let stored = ok(
        store.write_config(renamed.clone()).await,
        "writing a rename",
    );
    assert_eq!(
        ok(store.config(org(88)).await, "reading the rename back"),
        Some(saved(&renamed, 2)),
        "store_contract: a changed (or cleared) name is kept"
    );
    assert_eq!(stored.organization_name(), Some("Contoso Group"));
}
