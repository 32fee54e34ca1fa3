//! Migrations run twice and concurrently, upgrades from 1, the generic table carried forward.

use super::*;

#[tokio::test]
async fn migrations_run_twice_and_concurrently() {
    let Some(url) = database("migrations_run_twice_and_concurrently") else {
        return;
    };
    // A database of its own, so the four connects race on an empty schema.
    let name = format!("orgsync_migrations_{}", std::process::id());
    let fresh = fresh_database(&url, &name).await;

    let stores = futures::future::join_all((0..4).map(|_| PostgresStore::connect(&fresh))).await;
    let stores: Vec<PostgresStore> = stores.into_iter().map(|s| s.expect("connect")).collect();
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    for store in &stores {
        assert_eq!(store.applied_migrations().await.expect("versions"), all);
    }
    let again = futures::future::join_all(stores.iter().map(PostgresStore::migrate)).await;
    for applied in again {
        assert_eq!(applied.expect("migrate again"), Vec::<i32>::new());
    }
    // The migrated schema works.
    store_contract(&stores[0]).await;
    drop(stores);
    admin(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}

#[tokio::test]
async fn a_database_at_migration_1_gets_ticket_templates_and_keeps_its_configurations() {
    let Some(url) = database("a_database_at_migration_1_gets_ticket_templates") else {
        return;
    };
    let name = format!("orgsync_templates_{}", std::process::id());
    admin(&url, &format!("DROP DATABASE IF EXISTS {name}")).await;
    admin(&url, &format!("CREATE DATABASE {name}")).await;
    let mut fresh = url::Url::parse(&url).expect("a URL");
    fresh.set_path(&name);
    let fresh = fresh.to_string();
    // The schema as version 0.1 left it: migration 1 only, with a configuration in it.
    // (0.1 recorded it in the generic `schema_migrations`, under migration 1's own name.)
    let (_, title, first) = MIGRATIONS[0];
    admin(
        &fresh,
        &format!(
            "{first}
             CREATE TABLE schema_migrations (
                 version integer PRIMARY KEY, name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO schema_migrations (version, name) VALUES (1, '{title}');
             INSERT INTO sync_configs (tenant, organization, version, body) VALUES ('default', 2, 1,
               '{{\"organization\": 2, \"company\": null, \"status\": \"pending\", \"version\": 1,
                 \"created_at\": \"2025-11-02T08:00:00Z\", \"updated_at\": \"2025-11-02T08:00:00Z\"}}');"
        ),
    )
    .await;

    let store = PostgresStore::connect(&fresh)
        .await
        .expect("connect migrates");
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(store.applied_migrations().await.expect("versions"), all);
    let configs = store.configs().await.expect("the old configuration reads");
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].ticket_template(), None);

    let mut template = TicketTemplate::new("servers".parse().expect("a name"));
    template.set_assignment_group(Some(
        "0c43f35d4f5a1200c0a8016a9310c7d5".parse().expect("an id"),
    ));
    template.set_min_severity(Some(MinSeverity::Critical));
    template.set_source_types(["CONDITION_CPU".parse().expect("a type")]);
    template.set_default(true);
    store
        .put_ticket_template(template.clone())
        .await
        .expect("save a template");
    assert_eq!(
        store.ticket_templates().await.expect("read"),
        [template.clone()]
    );
    let other = store.for_tenant("other".parse().expect("a tenant"));
    assert_eq!(other.ticket_templates().await.expect("read"), []);

    // Two defaults saved at once on two connections: never two defaults.
    let saves = futures::future::join_all((0..6).map(|i| {
        let store = store.clone();
        async move {
            let mut t = TicketTemplate::new(format!("t{i}").parse().expect("a name"));
            t.set_default(true);
            store.put_ticket_template(t).await
        }
    }))
    .await;
    for saved in &saves {
        if let Err(err) = saved {
            assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
        }
    }
    let defaults = store
        .ticket_templates()
        .await
        .expect("read")
        .into_iter()
        .filter(TicketTemplate::is_default)
        .count();
    assert_eq!(defaults, 1);
    drop((store, other));
    admin(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}

#[tokio::test]
async fn migrations_recorded_in_the_generic_table_are_carried_forward() {
    let Some(url) = database("migrations_recorded_in_the_generic_table_are_carried_forward") else {
        return;
    };
    // A database migrated by an earlier version: schema applied, recorded in schema_migrations.
    let name = format!("orgsync_forward_{}", std::process::id());
    let old = fresh_database(&url, &name).await;
    let (version, title, sql) = MIGRATIONS[0];
    admin(
        &old,
        &format!(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO schema_migrations (version, name) VALUES ({version}, '{title}'),
                 (20240101, 'another tool''s migration');
             {sql}"
        ),
    )
    .await;
    let store = PostgresStore::connect(&old).await.expect("migrate forward");
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(store.applied_migrations().await.expect("versions"), all);
    store_contract(&store.for_tenant("forward".parse().unwrap())).await;
    let check = admin_client(&old).await;
    let ours: i64 = check
        .query_one(
            &format!("SELECT count(*) FROM {MIGRATIONS_TABLE} WHERE version = 20240101"),
            &[],
        )
        .await
        .expect("ours")
        .get(0);
    assert_eq!(ours, 0, "another tool's row is not carried");
    let left: i64 = check
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .expect("the generic table")
        .get(0);
    assert_eq!(left, 2, "the generic table is left as it was");
    drop((store, check));

    // Another tool's schema_migrations of another shape is no obstacle and left alone.
    let name = format!("orgsync_foreign_{}", std::process::id());
    let foreign = fresh_database(&url, &name).await;
    admin(
        &foreign,
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
         INSERT INTO schema_migrations VALUES ('20230101000000');",
    )
    .await;
    let store = PostgresStore::connect(&foreign).await.expect("migrate");
    assert_eq!(store.applied_migrations().await.expect("versions"), all);
    drop(store);
    admin(
        &url,
        &format!(
            "DROP DATABASE orgsync_forward_{} WITH (FORCE)",
            std::process::id()
        ),
    )
    .await;
    admin(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}
