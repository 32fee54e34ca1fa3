//! Both bundled stores keep the `ConfigStore` contract, and a reopened `JsonFileStore` gives back
//! what was written.

use futures::executor::block_on;
use ninjaone_servicenow::model::AuditFilter;
use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::store::{JsonFileStore, MemoryStore};
use ninjaone_servicenow::testing::store_contract;

#[test]
fn memory_store_keeps_the_contract() {
    block_on(store_contract(&MemoryStore::new()));
}

#[test]
fn json_file_store_keeps_the_contract() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = JsonFileStore::open(dir.path().join("sync.json")).expect("open a new store");
    block_on(store_contract(&store));
}

#[test]
fn json_file_store_reopens_with_the_same_state() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let store = JsonFileStore::open(&path).expect("open a new store");
    block_on(store_contract(&store));
    let snapshot = |store: &dyn ConfigStore| {
        block_on(async {
            (
                store.configs().await.expect("configs"),
                store.mode().await.expect("mode"),
                store.ci_mappings().await.expect("ci mappings"),
                store.audit(&AuditFilter::all()).await.expect("audit"),
            )
        })
    };
    let written = snapshot(&store);
    assert!(!written.0.is_empty() && !written.3.is_empty());
    drop(store);

    let reopened = JsonFileStore::open(&path).expect("reopen the store");
    assert_eq!(snapshot(&reopened), written);
}

#[test]
fn a_memory_store_and_a_json_file_store_agree() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = JsonFileStore::open(dir.path().join("sync.json")).expect("open a new store");
    let memory = MemoryStore::new();
    block_on(store_contract(&file));
    block_on(store_contract(&memory));
    block_on(async {
        assert_eq!(
            file.configs().await.unwrap(),
            memory.configs().await.unwrap()
        );
        assert_eq!(file.mode().await.unwrap(), memory.mode().await.unwrap());
        assert_eq!(
            file.ci_mappings().await.unwrap(),
            memory.ci_mappings().await.unwrap()
        );
        assert_eq!(
            file.audit(&AuditFilter::all()).await.unwrap(),
            memory.audit(&AuditFilter::all()).await.unwrap()
        );
    });
}
