//! Contract rules for configurations: versions, conflicts, atomic batches, order, mode.

use super::named::template_name;
use super::{all_audit, at, name, ok, refused, saved};
use crate::model::{
    AuditAction, AuditEntry, IntegrationMode, OrganizationId, SyncConfig, SyncConfigParts,
    SyncStatus, TicketKind,
};
use crate::ports::{ConfigStore, StoreErrorKind, WriteBatch};
use crate::testing::ids::{org, sys_id};

pub(super) async fn empty_store(store: &dyn ConfigStore) {
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

pub(super) async fn insert_update_and_conflicts(store: &dyn ConfigStore) {
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
pub(super) fn never_stored(organization: OrganizationId) -> SyncConfig {
    let mut config = SyncConfig::new(organization, None, at(0));
    config.set_version(1);
    config
}

pub(super) async fn batches_are_atomic(store: &dyn ConfigStore) {
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

pub(super) async fn one_organization_twice_is_invalid(store: &dyn ConfigStore) {
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

pub(super) async fn configs_are_ordered(store: &dyn ConfigStore) {
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

pub(super) async fn mode(store: &dyn ConfigStore) {
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

/// A configuration with every field set (the names as last seen included) reads back as
/// written, but for the version the store sets; a changed name is kept on the next write.
pub(super) async fn every_config_field_round_trips(store: &dyn ConfigStore) {
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
