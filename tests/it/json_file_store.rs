//! `JsonFileStore` on damaged files, crashes, failing writes and a second open in this process.
//! (A second process is tested in `json_file_store_lock.rs`.)

use std::fs;
use std::path::{Path, PathBuf};

use chrono::DateTime;
use futures::executor::block_on;
use ninjaone_servicenow::model::{
    AuditAction, AuditEntry, AuditFilter, IntegrationMode, OrganizationId, SyncConfig,
    TicketTemplate,
};
use ninjaone_servicenow::ports::{ConfigStore, StoreErrorKind, WriteBatch};
use ninjaone_servicenow::store::JsonFileStore;

fn org(id: u32) -> OrganizationId {
    OrganizationId::new(id).expect("a valid organization id")
}

fn config(id: u32) -> SyncConfig {
    SyncConfig::new(
        org(id),
        None,
        DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time"),
    )
}

fn entry() -> AuditEntry {
    AuditEntry::applied(
        DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time"),
        "tester",
        AuditAction::AddConfig,
    )
}

/// A directory with a store file holding organizations 1 and 2, one audit entry and mode
/// active; the store is closed.
fn populated() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let store = JsonFileStore::open(&path).expect("open a new store");
    block_on(async {
        store
            .write(
                WriteBatch::new()
                    .config(config(1))
                    .config(config(2))
                    .audit(entry()),
            )
            .await
            .expect("write");
        store
            .set_mode(IntegrationMode::Active)
            .await
            .expect("set mode");
    });
    drop(store);
    (dir, path)
}

/// Opening `path` must fail as corrupt, name the file, and leave its bytes as they were.
fn assert_refused_untouched(path: &Path, contents: &[u8], what: &str) {
    fs::write(path, contents).expect("write the damaged file");
    for attempt in 1..=2 {
        let err = JsonFileStore::open(path).expect_err(what);
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{what}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "{what}: the error must name the file: {message}"
        );
        assert!(
            message.contains("left untouched"),
            "{what}: the error must say the file was left untouched: {message}"
        );
        assert_eq!(
            fs::read(path).expect("read the file back"),
            contents,
            "{what}: the file must be unchanged after open attempt {attempt}"
        );
    }
}

#[test]
fn a_missing_file_is_an_empty_store_created_on_first_write() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let store = JsonFileStore::open(&path).expect("open");
    assert_eq!(store.path(), path);
    assert!(format!("{store:?}").contains("sync.json"));
    block_on(async {
        assert!(store.configs().await.unwrap().is_empty());
        // Writes that change nothing do not create the file.
        store.set_mode(IntegrationMode::Disabled).await.unwrap();
        store.write(WriteBatch::new()).await.unwrap();
        assert!(
            !store
                .delete_ci_mapping(&"x".parse().unwrap())
                .await
                .unwrap()
        );
        assert!(
            !path.exists(),
            "a write that changes nothing must not create the file"
        );
        store.write_config(config(1)).await.unwrap();
    });
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("the file exists")).expect("valid JSON");
    assert_eq!(json["schema"], 2);
    assert_eq!(json["configs"][0]["organization"], 1);
    assert!(!dir.path().join(".sync.json.tmp").exists());
}

#[test]
fn a_truncated_file_is_refused_and_left_untouched() {
    let (_dir, path) = populated();
    let good = fs::read(&path).expect("read");
    assert_refused_untouched(&path, &good[..good.len() / 2], "a truncated file");
    assert_refused_untouched(&path, b"", "an empty file");

    // Restoring the file makes the store open again: a refused open kept no lock.
    fs::write(&path, &good).expect("restore");
    let store = JsonFileStore::open(&path).expect("open the restored file");
    assert_eq!(block_on(store.configs()).unwrap().len(), 2);
}

#[test]
fn garbage_and_newer_schemas_are_refused_and_left_untouched() {
    let (_dir, path) = populated();
    let good: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("read")).expect("valid JSON");

    assert_refused_untouched(&path, b"\x00\xffnot json at all", "garbage");
    assert_refused_untouched(&path, b"[1, 2, 3]", "a JSON list");
    assert_refused_untouched(&path, br#"{"configs": []}"#, "no schema");

    let mut newer = good.clone();
    newer["schema"] = 3.into();
    let bytes = serde_json::to_vec(&newer).unwrap();
    assert_refused_untouched(&path, &bytes, "a newer schema");
    let err = JsonFileStore::open(&path).unwrap_err();
    assert!(err.message().contains("newer version"), "{err}");

    let mut twice = good.clone();
    let first = twice["configs"][0].clone();
    twice["configs"].as_array_mut().unwrap().push(first);
    let bytes = serde_json::to_vec(&twice).unwrap();
    assert_refused_untouched(&path, &bytes, "one organization configured twice");

    let mut bad_value = good;
    bad_value["configs"][0]["status"] = "sideways".into();
    let bytes = serde_json::to_vec(&bad_value).unwrap();
    assert_refused_untouched(&path, &bytes, "an unknown status");
}

#[test]
fn an_unreadable_path_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    fs::create_dir(&path).expect("a directory where the file should be");
    let err = JsonFileStore::open(&path).expect_err("a directory is not a store file");
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert!(err.message().contains("could not be read"), "{err}");
    assert!(path.is_dir(), "the directory must be left alone");
}

#[test]
fn a_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("absent").join("sync.json");
    let err = JsonFileStore::open(&path).expect_err("no directory");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("sync.json"), "{err}");
}

#[test]
fn a_crash_before_the_rename_leaves_the_old_state() {
    let (dir, path) = populated();
    let before = fs::read(&path).expect("read");
    // A crash after writing the temporary file and before renaming it.
    let temp = dir.path().join(".sync.json.tmp");
    fs::write(
        &temp,
        br#"{"schema": 1, "mode": "inactive", "configs": [], "ci_mappi"#,
    )
    .expect("write a stray temp file");

    let store = JsonFileStore::open(&path).expect("a stray temp file is ignored");
    block_on(async {
        assert_eq!(store.mode().await.unwrap(), IntegrationMode::Active);
        assert_eq!(store.configs().await.unwrap().len(), 2);
    });
    assert_eq!(fs::read(&path).unwrap(), before);

    // The next write replaces the stray file and renames it into place.
    block_on(store.write_config(config(3))).expect("write over the stray temp file");
    assert!(!temp.exists(), "the temporary file must have been renamed");
    drop(store);
    let reopened = JsonFileStore::open(&path).expect("reopen");
    assert_eq!(block_on(reopened.configs()).unwrap().len(), 3);
}

#[test]
fn a_failing_write_changes_neither_memory_nor_file() {
    let (dir, path) = populated();
    let store = JsonFileStore::open(&path).expect("open");
    let before_file = fs::read(&path).expect("read");
    let stored = block_on(store.config(org(1)))
        .unwrap()
        .expect("organization 1");
    let audit_before = block_on(store.audit(&AuditFilter::all())).unwrap();

    // Creating the temporary file fails while a directory has its name.
    let temp = dir.path().join(".sync.json.tmp");
    fs::create_dir(&temp).expect("block the temp path");

    let mut edit = stored.clone();
    edit.set_allow_incidents(true);
    block_on(async {
        let err = store
            .write(WriteBatch::new().config(edit.clone()).audit(entry()))
            .await
            .expect_err("the temp file cannot be created");
        assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
        assert!(
            err.message().contains(&path.display().to_string()),
            "the error must name the file: {err}"
        );
        assert!(std::error::Error::source(&err).is_some());

        let err = store
            .set_mode(IntegrationMode::Inactive)
            .await
            .expect_err("the mode cannot be saved either");
        assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");

        assert_eq!(store.config(org(1)).await.unwrap(), Some(stored.clone()));
        assert_eq!(
            store.audit(&AuditFilter::all()).await.unwrap(),
            audit_before
        );
        assert_eq!(store.mode().await.unwrap(), IntegrationMode::Active);
    });
    assert_eq!(
        fs::read(&path).unwrap(),
        before_file,
        "the file must be unchanged"
    );

    // Once the obstacle is gone, the same write (same expected version) succeeds.
    fs::remove_dir(&temp).expect("unblock");
    let saved = block_on(store.write_config(edit)).expect("the retried write");
    assert_eq!(saved.version(), stored.version() + 1);
    drop(store);
    let reopened = JsonFileStore::open(&path).expect("reopen");
    assert_eq!(block_on(reopened.config(org(1))).unwrap(), Some(saved));
}

#[test]
fn a_second_open_in_this_process_is_locked() {
    let (_dir, path) = populated();
    let first = JsonFileStore::open(&path).expect("the first open");
    let err = JsonFileStore::open(&path).expect_err("the second open");
    assert_eq!(err.kind(), StoreErrorKind::Locked, "{err}");
    assert!(err.message().contains(&path.display().to_string()), "{err}");
    assert!(err.message().contains("another process"), "{err}");
    drop(first);
    JsonFileStore::open(&path).expect("an open after the first store is dropped");
}

/// The permission bits of `path`.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn the_state_file_and_its_temporary_file_are_created_0600_and_stay_so() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let temp = dir.path().join(".sync.json.tmp");
    let store = JsonFileStore::open(&path).expect("open");
    block_on(store.write_config(config(1))).expect("first write");
    assert_eq!(mode(&path), 0o600, "created owner-only");
    assert_eq!(mode(&dir.path().join("sync.json.lock")), 0o600);
    // A file made readable by someone (an older version, a restore) and a stray temporary
    // file left world-writable by a crash: the next write leaves both owner-only again.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::write(&temp, b"stale").expect("a stray temporary file");
    fs::set_permissions(&temp, fs::Permissions::from_mode(0o666)).expect("chmod");
    block_on(store.write_config(config(2))).expect("second write");
    assert_eq!(mode(&path), 0o600, "kept owner-only across writes");
    assert!(!temp.exists(), "the temporary file became the state file");
    for _ in 0..3 {
        let next = block_on(store.configs()).expect("read").len();
        block_on(store.write_config(config(u32::try_from(next).unwrap() + 10))).expect("write");
        assert_eq!(mode(&path), 0o600);
    }
}

#[test]
fn a_schema_1_file_is_read_and_upgraded_to_schema_2_by_the_next_write() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/store/schema1.json"
    );
    let old = fs::read(fixture).expect("the schema 1 fixture");
    fs::write(&path, &old).expect("copy the fixture");

    let store = JsonFileStore::open(&path).expect("a schema 1 file opens");
    block_on(async {
        let configs = store.configs().await.unwrap();
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0].version(), 3);
        assert_eq!(configs[0].ticket_template(), None);
        assert_eq!(store.ci_mappings().await.unwrap().len(), 1);
        assert_eq!(store.audit(&AuditFilter::all()).await.unwrap().len(), 1);
        assert!(store.ticket_templates().await.unwrap().is_empty());
    });
    // Reading changes nothing on disk.
    assert_eq!(fs::read(&path).unwrap(), old);

    let mut template = TicketTemplate::new("servers".parse().unwrap());
    template.set_default(true);
    block_on(store.put_ticket_template(template.clone())).unwrap();
    drop(store);
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["schema"], 2);
    assert_eq!(json["ticket_templates"][0]["name"], "servers");
    assert_eq!(
        json["configs"][0]["version"], 3,
        "the upgrade rewrites, it does not edit"
    );

    let reopened = JsonFileStore::open(&path).expect("the upgraded file opens");
    assert_eq!(block_on(reopened.ticket_templates()).unwrap(), [template]);
    assert_eq!(block_on(reopened.configs()).unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_at_the_temporary_path_is_replaced_not_followed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("sync.json");
    let temp = dir.path().join(".sync.json.tmp");
    let victim = dir.path().join("victim");
    fs::write(&victim, b"keep me").expect("a file someone else owns");
    std::os::unix::fs::symlink(&victim, &temp).expect("a planted symlink");
    let store = JsonFileStore::open(&path).expect("open");
    block_on(store.write_config(config(1))).expect("write");
    assert_eq!(
        fs::read(&victim).expect("victim"),
        b"keep me",
        "not written through"
    );
    let meta = fs::symlink_metadata(&path).expect("the state file");
    assert!(
        meta.file_type().is_file(),
        "the state file is a regular file"
    );
    assert_eq!(mode(&path), 0o600);
    assert_eq!(block_on(store.configs()).expect("read").len(), 1);
}
