//! Unit tests of the JSON file store's helpers: sibling paths, the file's schema field and its checks.

use super::*;

#[test]
fn sibling_paths() {
    let path = Path::new("/var/lib/nsn/sync.json");
    assert_eq!(
        sibling(path, "", ".lock").expect("a file path"),
        Path::new("/var/lib/nsn/sync.json.lock")
    );
    assert_eq!(
        sibling(path, ".", ".tmp").expect("a file path"),
        Path::new("/var/lib/nsn/.sync.json.tmp")
    );
    assert_eq!(
        sibling(Path::new("sync.json"), ".", ".tmp").expect("a file path"),
        Path::new(".sync.json.tmp")
    );
    let err = sibling(Path::new("/"), "", ".lock").expect_err("not a file");
    assert_eq!(err.kind(), StoreErrorKind::Invalid);
}

#[test]
fn file_contents_start_with_the_schema() {
    let state = StoreState::default();
    let json = serde_json::to_value(FileContents {
        schema: SCHEMA,
        state: &state,
    })
    .expect("serializable");
    assert_eq!(json["schema"], 2);
    assert_eq!(json["mode"], "disabled");
    assert_eq!(json["configs"], Value::Array(Vec::new()));
}

#[test]
fn schema_checks() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("s.json");
    for (contents, expect) in [
        (r#"{"schema": 1}"#, None),
        (r#"{"schema": 2}"#, None),
        (r#"{"schema": 3}"#, Some("newer version (schema 3")),
        (r#"{"schema": "1"}"#, Some("unknown schema")),
        (r#"{"schema": 0}"#, Some("unknown schema")),
        (r#"{"mode": "active"}"#, Some("no schema number")),
        ("[1, 2]", Some("does not hold a JSON object")),
        (
            r#"{"schema": 1, "mode": "sideways"}"#,
            Some("valid store state"),
        ),
        (r#"{"schema": 1, "mod"#, Some("truncated")),
        ("", Some("truncated")),
        ("\u{0}garbage", Some("not valid JSON")),
    ] {
        fs::write(&path, contents).expect("write the test file");
        match (read_state(&path), expect) {
            (Ok(state), None) => assert_eq!(state, StoreState::default()),
            (Err(e), Some(part)) => {
                assert_eq!(e.kind(), StoreErrorKind::Corrupt, "{contents}: {e}");
                assert!(e.message().contains(part), "{contents}: {e}");
                assert!(e.message().contains("left untouched"), "{contents}: {e}");
            }
            (other, _) => panic!("{contents}: unexpected {other:?}"),
        }
    }
}
