//! [`store_contract`]: the rules every [`ConfigStore`] keeps, as a test suite.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

use crate::model::{AuditEntry, AuditFilter, CiMappingName, SyncConfig};
use crate::ports::{ConfigStore, StoreError, StoreErrorKind};

mod audit;
mod configs;
mod named;
mod records;

use self::audit::audit_log;
use self::configs::{
    batches_are_atomic, configs_are_ordered, empty_store, every_config_field_round_trips,
    insert_update_and_conflicts, mode, one_organization_twice_is_invalid,
};
use self::named::{ci_mappings, ticket_templates};
use self::records::{ci_records, ticket_records};

/// Runs the [`ConfigStore`] contract against `store`, which must be new and empty.
///
/// Checks every rule stated in [`ConfigStore`'s docs](ConfigStore#rules), in order: an empty store reads as empty (no configurations, mode
/// [`IntegrationMode::Disabled`](crate::model::IntegrationMode::Disabled), no CI mappings, an empty audit log); an insert returns version
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
