//! Compile-time checks: the ports are object safe and `Send + Sync` behind `Arc<dyn …>`, the
//! errors are `Send + Sync + 'static`, and the futures hosts will spawn are `Send`.

use std::sync::Arc;

use ninjaone_servicenow::clock::{Clock, ManualClock, SystemClock};
use ninjaone_servicenow::machine::TransitionError;
use ninjaone_servicenow::model::{IdError, SyncConfig};
use ninjaone_servicenow::ports::{
    ApiError, ConfigStore, NinjaOneApi, Page, PageRequest, ServiceNowApi, StoreError,
};
use ninjaone_servicenow::store::{JsonFileStore, MemoryStore};

fn assert_send_sync<T: Send + Sync + ?Sized>() {}
fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn ports_are_object_safe_and_thread_safe() {
    assert_send_sync::<dyn NinjaOneApi>();
    assert_send_sync::<dyn ServiceNowApi>();
    assert_send_sync::<dyn ConfigStore>();
    assert_send_sync::<dyn Clock>();
    assert_send_sync::<Arc<dyn NinjaOneApi>>();
    assert_send_sync::<Arc<dyn ServiceNowApi>>();
    assert_send_sync::<Arc<dyn ConfigStore>>();
    assert_send_sync::<SystemClock>();
    assert_send_sync::<ManualClock>();
    assert_send_sync::<SyncConfig>();
    assert_send_sync::<Page<SyncConfig>>();
    assert_send_sync::<MemoryStore>();
    assert_send_sync::<JsonFileStore>();
}

/// The ready stores plug in where the engine expects a port.
#[test]
fn stores_coerce_to_the_port() {
    let memory: Arc<dyn ConfigStore> = Arc::new(MemoryStore::new());
    let dir = tempfile::tempdir().expect("temporary directory");
    let file: Arc<dyn ConfigStore> =
        Arc::new(JsonFileStore::open(dir.path().join("state.json")).expect("a new store file"));
    assert!(format!("{memory:?}").contains("MemoryStore"));
    assert!(format!("{file:?}").contains("JsonFileStore"));
}

#[test]
fn errors_are_good_errors() {
    assert_error::<ApiError>();
    assert_error::<StoreError>();
    assert_error::<IdError>();
    assert_error::<TransitionError>();
}

/// The futures of trait-object calls can be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(
    n: &Arc<dyn NinjaOneApi>,
    s: &Arc<dyn ServiceNowApi>,
    c: &Arc<dyn ConfigStore>,
) {
    assert_send(&n.organizations(PageRequest::default()));
    assert_send(&s.companies(PageRequest::default()));
    assert_send(&c.configs());
}

/// The engine and the futures of its passes and acts can be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn engine_futures_are_send(
    sync: &ninjaone_servicenow::engine::OrganizationSync,
    actor: &ninjaone_servicenow::engine::Actor,
    org: ninjaone_servicenow::model::OrganizationId,
) {
    use ninjaone_servicenow::engine::{ApplyMode, ConfigChanges};
    assert_send(sync);
    assert_send(&sync.run_once(ApplyMode::Apply));
    assert_send(&sync.approve_deletions(actor));
    assert_send(&sync.update(actor, org, ConfigChanges::new()));
    assert_send(&sync.pause(actor, org));
    assert_send(&sync.list(actor));
    assert_send(&sync.add_dialog(actor));
    assert_send(&sync.company_directory(actor));
    assert_send_sync::<ninjaone_servicenow::engine::AddDialog>();
    assert_send_sync::<ninjaone_servicenow::engine::CompanyDirectory>();
}

#[test]
fn engine_errors_are_good_errors() {
    assert_error::<ninjaone_servicenow::engine::SyncError>();
    assert_send_sync::<ninjaone_servicenow::engine::Report>();
}
