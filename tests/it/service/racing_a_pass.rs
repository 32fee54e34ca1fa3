//! Edits racing a pass.

use super::*;

/// The store's call hook, armed: just before the first `write` it sees after [`arm`], a
/// person pauses an organization (through another service over the same store, while that
/// write waits), then the write goes on.
#[derive(Debug, Default)]
struct PauseBeforeFirstWrite {
    armed: Arc<Mutex<Option<(OrganizationSync, Actor, OrganizationId)>>>,
    paused: Arc<Mutex<Option<SyncConfig>>>,
}

/// A world whose store pauses an organization before the first write after [`arm`], and a
/// second service (the person's) over the same memory.
fn racing_world(mode: IntegrationMode) -> (World, PauseBeforeFirstWrite, OrganizationSync) {
    let plain = world(mode);
    let racing = PauseBeforeFirstWrite::default();
    let (armed, paused) = (Arc::clone(&racing.armed), Arc::clone(&racing.paused));
    plain.store.faults().on_call(move |call| {
        if !call.is(StoreMethod::Write) {
            return Verdict::Proceed;
        }
        let Some((person, actor, organization)) =
            armed.lock().unwrap_or_else(PoisonError::into_inner).take()
        else {
            return Verdict::Proceed;
        };
        let paused = Arc::clone(&paused);
        Verdict::then(async move {
            let config = person
                .pause(&actor, organization)
                .await
                .expect("the person's pause");
            *paused.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
            Verdict::Proceed
        })
    });
    let person = plain.sync.clone();
    let service_store = Arc::new(plain.store.clone());
    let world = World::builder()
        .ninja(plain.ninja)
        .snow(plain.snow)
        .store(plain.store)
        .engine_store(service_store)
        .build();
    (world, racing, person)
}

fn arm(racing: &PauseBeforeFirstWrite, person: &OrganizationSync, who: &Actor, n: u32) {
    *racing.armed.lock().unwrap_or_else(PoisonError::into_inner) =
        Some((person.clone(), who.clone(), org(n)));
}

fn paused_during_the_pass(racing: &PauseBeforeFirstWrite) -> SyncConfig {
    racing
        .paused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .expect("the pause happened during the pass")
}

fn assert_conflict(report: &Report, n: u32) {
    let line = report.outcome(org(n)).expect("a line for the organization");
    assert!(
        matches!(
            line.outcome,
            Outcome::Failed {
                kind: FailureKind::Conflict,
                ..
            }
        ),
        "organization {n}: expected a conflict, got {}",
        line.outcome
    );
    assert_eq!(
        line.status,
        Some(SyncStatus::Inactive),
        "organization {n}: the line shows what the store holds (the person's pause)"
    );
}

#[test]
fn a_pause_between_snapshot_and_write_is_kept_over_an_activation() {
    let (world, racing, person) = racing_world(IntegrationMode::Inactive);
    for n in [1, 2] {
        let draft = ConfigDraft::new(org(n), world.company(n));
        block_on(world.sync.add(&world.admin, draft)).expect("add");
    }
    let bob = technician();
    arm(&racing, &person, &bob, 1);
    let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
    let paused = paused_during_the_pass(&racing);

    let stored = world.config(org(1));
    assert_eq!(stored, paused, "the person's pause is what is stored");
    assert_eq!(stored.status(), SyncStatus::Inactive);
    assert_eq!(stored.status_reason(), Some("paused by bob"));
    assert_conflict(&report, 1);
    assert_eq!(
        world.config(org(2)).status(),
        SyncStatus::Active,
        "the others go on"
    );
    assert_eq!(
        report.outcome(org(2)).map(|l| &l.outcome),
        Some(&Outcome::Activated)
    );
    let claims_active = world.audit().into_iter().any(|e| {
        e.organization == Some(org(1))
            && e.actor == ninjaone_servicenow::engine::SYSTEM_ACTOR
            && status_of(e.after.as_ref()) == Some("active")
    });
    assert!(
        !claims_active,
        "no audit entry for the write that was not made"
    );

    // The next pass takes the new version: a paused configuration stays paused.
    block_on(world.sync.run_once(ApplyMode::Apply)).expect("the next pass");
    assert_eq!(world.config(org(1)), paused);
}

#[test]
fn a_pause_between_snapshot_and_write_is_kept_over_a_company_creation() {
    let (world, racing, person) = racing_world(IntegrationMode::Active);
    // Organization 3 has a configuration without a company, and no company of its name.
    let companies = world.snow.all_companies();
    let renamed = companies
        .iter()
        .find(|c| c.name == customer_name(3))
        .expect("company 3");
    assert!(
        world
            .snow
            .rename_company(&renamed.sys_id, "Someone Else Ltd")
    );
    let config = SyncConfig::new(org(3), None, fixed_time());
    block_on(world.store.write_config(config)).expect("seed");
    let bob = technician();
    arm(&racing, &person, &bob, 3);
    let report = block_on(world.sync.run_once(ApplyMode::Apply)).expect("a pass");
    let paused = paused_during_the_pass(&racing);

    assert_eq!(
        world.config(org(3)),
        paused,
        "the person's pause is what is stored"
    );
    assert_eq!(paused.status_reason(), Some("paused by bob"));
    assert_conflict(&report, 3);
    assert_eq!(
        world.snow.faults().writes(),
        0,
        "no company for a paused configuration"
    );
    assert_eq!(report.remote_writes, 0);
    for n in [1, 2] {
        assert_eq!(
            world.config(org(n)).status(),
            SyncStatus::Active,
            "organization {n}"
        );
    }
}
