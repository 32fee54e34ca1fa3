//! The bundled stores keep the `ConfigStore` contract.

use futures::executor::block_on;
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::store_contract;

#[test]
fn memory_store_keeps_the_contract() {
    block_on(store_contract(&MemoryStore::new()));
}
