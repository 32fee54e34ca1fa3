//! `JsonFileStore` against a second process: the lock keeps it out while the store is open.
//!
//! This lives in its own test binary on purpose. Spawning a child process copies every open
//! file descriptor into the child until it executes the new program, and an `flock` lock lives
//! as long as any copy; a test in the same binary that drops a store and reopens it at that
//! moment would see `Locked`. Here nothing else runs beside the spawning test.

use std::path::Path;
use std::process::Command;

use chrono::DateTime;
use futures::executor::block_on;
use ninjaone_servicenow::model::{OrganizationId, SyncConfig};
use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::store::JsonFileStore;

/// Set in a child process to the file it must try to open.
const CHILD_PATH_VAR: &str = "NSN_LOCK_CHILD_PATH";
/// The line a child prints with the result of its open.
const CHILD_MARKER: &str = "NSN_LOCK_CHILD_RESULT=";

fn config(id: u32) -> SyncConfig {
    SyncConfig::new(
        OrganizationId::new(id).expect("a valid organization id"),
        None,
        DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time"),
    )
}

/// Runs this test binary's `lock_child` test in a new process against `path` and returns the
/// result it printed.
fn open_in_child(path: &Path) -> String {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "lock_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_PATH_VAR, path)
        .output()
        .expect("run the child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child process failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        // The test harness may print "test lock_child ... " before the marker on the same line.
        .find_map(|line| {
            line.split_once(CHILD_MARKER)
                .map(|(_, result)| result.trim())
        })
        .unwrap_or_else(|| panic!("the child printed no result: {stdout}"))
        .to_owned()
}

#[test]
fn another_process_cannot_open_the_file_while_it_is_open() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let store = JsonFileStore::open(&path).expect("open in this process");
    block_on(async {
        store.write_config(config(1)).await.expect("write");
        store.write_config(config(2)).await.expect("write");
    });
    assert_eq!(open_in_child(&path), "Locked");
    // The store here still works while the other process was refused.
    block_on(store.write_config(config(3))).expect("write");
    drop(store);
    assert_eq!(open_in_child(&path), "opened 3");
}

/// The child side of `another_process_cannot_open_the_file_while_it_is_open`: does nothing
/// unless started by it.
#[test]
fn lock_child() {
    let Some(path) = std::env::var_os(CHILD_PATH_VAR) else {
        return;
    };
    match JsonFileStore::open(&path) {
        Ok(store) => {
            let configs = block_on(store.configs()).expect("configs");
            println!("{CHILD_MARKER}opened {}", configs.len());
        }
        Err(e) => println!("{CHILD_MARKER}{:?}", e.kind()),
    }
}
