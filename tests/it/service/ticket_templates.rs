//! Ticket templates through the service.

use super::*;

fn template_name(name: &str) -> TicketTemplateName {
    name.parse().expect("a valid ticket template name")
}

fn templates(world: &World) -> Vec<TicketTemplate> {
    block_on(world.store.ticket_templates()).expect("read the ticket templates")
}

#[test]
fn a_template_is_saved_only_after_servicenow_knows_its_group_and_caller() {
    let world = world(IntegrationMode::Inactive);
    let mut template = TicketTemplate::new(template_name("servers"));
    template.set_assignment_group(Some(unknown_sys_id()));
    template.set_caller(Some(
        "ffffffffffffffffffffffffffffff02"
            .parse()
            .expect("a sys_id"),
    ));
    template.set_category(Some("hardware".parse().expect("a value")));
    let before = world.state();
    let calls = world.snow.faults().total_calls();
    let err = block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect_err("unknown group and caller");
    let SyncError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(
        problems,
        &[
            Problem::UnknownAssignmentGroup(unknown_sys_id()),
            Problem::UnknownCaller("ffffffffffffffffffffffffffffff02".parse().unwrap()),
        ],
        "every problem at once: {err}"
    );
    assert!(err.to_string().contains("no group"), "{err}");
    assert_eq!(
        world.snow.faults().total_calls() - calls,
        2,
        "one lookup each"
    );
    assert!(templates(&world).is_empty(), "nothing saved");
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::SetTicketTemplate,
        None,
        &err,
    );

    // Inactive rows are refused too.
    let group = world.snow.add_user_group("Old Desk");
    let caller = world.snow.add_user("ninjaone.integration");
    world.snow.set_user_group_active(&group, false);
    world.snow.set_user_active(&caller, false);
    template.set_assignment_group(Some(group.clone()));
    template.set_caller(Some(caller.clone()));
    let err = block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect_err("inactive group and caller");
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &[
            Problem::InactiveAssignmentGroup(group.clone()),
            Problem::InactiveCaller(caller.clone()),
        ]),
        "{err:?}"
    );
    assert!(templates(&world).is_empty(), "nothing saved");

    world.snow.set_user_group_active(&group, true);
    world.snow.set_user_active(&caller, true);
    block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect("saved");
    assert_eq!(templates(&world), [template.clone()]);
    let entry = world.last_audit();
    assert_eq!(
        (&entry.action, &entry.outcome),
        (&AuditAction::SetTicketTemplate, &AuditOutcome::Applied)
    );
    assert_eq!(
        entry.before,
        Some(json!({"template": null, "default": null}))
    );
    assert_eq!(
        entry
            .after
            .as_ref()
            .map(|a| a["template"]["caller_id"].clone()),
        Some(json!(caller.to_string()))
    );
}

#[test]
fn a_new_default_template_takes_the_flag_and_the_audit_says_so() {
    let world = world(IntegrationMode::Inactive);
    for name in ["a", "b"] {
        let mut t = TicketTemplate::new(template_name(name));
        t.set_default(true);
        block_on(world.sync.put_ticket_template(&world.admin, t)).expect("saved");
    }
    let defaults: Vec<String> = templates(&world)
        .iter()
        .filter(|t| t.is_default())
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(defaults, ["b"]);
    let entry = world.last_audit();
    assert_eq!(
        (
            entry.before.as_ref().map(|b| b["default"].clone()),
            entry.after.as_ref().map(|a| a["default"].clone())
        ),
        (Some(json!("a")), Some(json!("b")))
    );
}

#[test]
fn deleting_a_template_a_configuration_names_is_refused_and_audited() {
    let world = world(IntegrationMode::Inactive);
    let servers = template_name("servers");
    block_on(
        world
            .sync
            .put_ticket_template(&world.admin, TicketTemplate::new(servers.clone())),
    )
    .expect("saved");
    for (n, status) in [(1, SyncStatus::Active), (2, SyncStatus::Deleted)] {
        let mut config = world.seed(n, status);
        config.set_ticket_template(Some(servers.clone()));
        block_on(world.store.write_config(config)).expect("name the template");
    }
    let before = world.state();
    let err =
        block_on(world.sync.delete_ticket_template(&world.admin, &servers)).expect_err("in use");
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &[Problem::TicketTemplateInUse {
            template: servers.clone(),
            organizations: vec![org(1)],
        }]),
        "live configurations only: {err:?}"
    );
    assert!(
        err.to_string()
            .contains("ticket template \"servers\" is used by organization 1"),
        "{err}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::DeleteTicketTemplate,
        None,
        &err,
    );
    assert_eq!(templates(&world).len(), 1, "nothing deleted");

    block_on(world.sync.update(
        &world.admin,
        org(1),
        ConfigChanges::new().ticket_template(None),
    ))
    .expect("stop naming it");
    assert!(block_on(world.sync.delete_ticket_template(&world.admin, &servers)).expect("delete"));
    assert!(!block_on(world.sync.delete_ticket_template(&world.admin, &servers)).expect("again"));
    assert!(templates(&world).is_empty());
    assert_eq!(world.last_audit().action, AuditAction::DeleteTicketTemplate);
}

#[test]
fn a_configuration_may_name_only_an_existing_template() {
    let world = world(IntegrationMode::Inactive);
    let draft = ConfigDraft::new(org(1), world.company(1)).ticket_template(template_name("nope"));
    let before = world.state();
    let err = block_on(world.sync.add(&world.admin, draft)).expect_err("unknown template");
    assert!(
        matches!(&err, SyncError::Invalid(p) if p == &[Problem::UnknownTicketTemplate(template_name("nope"))]),
        "{err:?}"
    );
    assert_refusal_recorded(
        &world,
        &before,
        "alice",
        &AuditAction::AddConfig,
        Some(org(1)),
        &err,
    );

    block_on(
        world
            .sync
            .put_ticket_template(&world.admin, TicketTemplate::new(template_name("servers"))),
    )
    .expect("saved");
    let draft =
        ConfigDraft::new(org(1), world.company(1)).ticket_template(template_name("servers"));
    let added = block_on(world.sync.add(&world.admin, draft)).expect("added");
    assert_eq!(
        added.config.ticket_template(),
        Some(&template_name("servers"))
    );
    assert_eq!(
        world
            .last_audit()
            .after
            .map(|a| a["ticket_template"].clone()),
        Some(json!("servers"))
    );

    let err = block_on(world.sync.update(
        &world.admin,
        org(1),
        ConfigChanges::new().ticket_template(Some(template_name("nope"))),
    ))
    .expect_err("unknown template");
    assert!(matches!(err, SyncError::Invalid(_)), "{err:?}");
    assert_eq!(
        world.config(org(1)).ticket_template(),
        Some(&template_name("servers")),
        "nothing saved"
    );
}

#[test]
fn technicians_read_templates_and_only_administrators_change_them() {
    let world = world(IntegrationMode::Inactive);
    let bob = technician();
    assert!(
        block_on(world.sync.ticket_templates(&bob))
            .expect("a technician with the permission reads")
            .is_empty()
    );
    let err = block_on(
        world
            .sync
            .put_ticket_template(&bob, TicketTemplate::new(template_name("t"))),
    )
    .expect_err("not an administrator");
    assert!(matches!(err, SyncError::PermissionDenied { .. }), "{err:?}");
    let err = block_on(world.sync.delete_ticket_template(&bob, &template_name("t")))
        .expect_err("not an administrator");
    assert!(matches!(err, SyncError::PermissionDenied { .. }), "{err:?}");
    assert_eq!(
        world.last_audit().action,
        AuditAction::DeleteTicketTemplate,
        "refusals are audited"
    );
    let stranger = Actor::technician("eve");
    assert!(block_on(world.sync.ticket_templates(&stranger)).is_err());
}

#[test]
fn a_failed_group_lookup_is_a_remote_error_and_saves_nothing() {
    let world = world(IntegrationMode::Inactive);
    let group = world.snow.add_user_group("Service Desk");
    world.snow.faults().fail_next(
        ServiceNowMethod::UserGroup,
        1,
        ninjaone_servicenow::ports::ApiErrorKind::Transient,
    );
    let mut template = TicketTemplate::new(template_name("servers"));
    template.set_assignment_group(Some(group.clone()));
    let before = world.state();
    let err = block_on(
        world
            .sync
            .put_ticket_template(&world.admin, template.clone()),
    )
    .expect_err("the lookup failed");
    assert!(matches!(err, SyncError::Remote { .. }), "{err:?}");
    assert!(!err.is_refusal());
    assert!(err.to_string().contains(&group.to_string()), "{err}");
    assert!(templates(&world).is_empty(), "nothing saved");
    assert_eq!(
        world.state().audit,
        before.audit,
        "a failure is not a refusal"
    );
    // Once ServiceNow answers again, the same call saves.
    block_on(world.sync.put_ticket_template(&world.admin, template)).expect("saved");
    assert_eq!(templates(&world).len(), 1);
}
