//! Contract rules for named rows: CI mappings and ticket templates.

use super::{at, name, ok};
use crate::model::{
    CiMapping, DeviceRoleId, MinSeverity, SyncConfig, TicketTemplate, TicketTemplateName,
};
use crate::ports::ConfigStore;
use crate::testing::ids::{org, sys_id};

pub(super) async fn ci_mappings(store: &dyn ConfigStore) {
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

pub(super) fn template_name(s: &str) -> TicketTemplateName {
    s.parse()
        .expect("store_contract: a valid ticket template name")
}

/// A template with every field set.
pub(super) fn full_template(name: &str, default: bool) -> TicketTemplate {
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

pub(super) fn defaults(templates: &[TicketTemplate]) -> Vec<String> {
    templates
        .iter()
        .filter(|t| t.is_default())
        .map(|t| t.name().to_string())
        .collect()
}

pub(super) async fn ticket_templates(store: &dyn ConfigStore) {
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
