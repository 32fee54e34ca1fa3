//! Unit tests of the stored form of [`SyncConfig`](super::SyncConfig): fixtures and docs.

use super::{SyncConfig, SyncConfigParts, SyncStatus, TicketKind};

const SCHEMA2: &str = include_str!("../../../tests/fixtures/store/sync_config_schema2.json");
const SCHEMA1: &str = include_str!("../../../tests/fixtures/store/sync_config_schema1.json");

fn value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("a JSON fixture")
}

#[test]
fn the_stored_form_is_pinned_by_its_fixture_and_the_docs_show_it() {
    let config: SyncConfig = serde_json::from_str(SCHEMA2).expect("schema 2 reads");
    assert_eq!(config.organization_name(), Some("Contoso Dental"));
    assert_eq!(config.company_name(), Some("Contoso Dental"));
    assert_eq!(config.status(), SyncStatus::Active);
    assert_eq!(config.version(), 3);
    let written = serde_json::to_value(&config).expect("serialise");
    assert_eq!(written, value(SCHEMA2), "written exactly as the fixture");
    // The JSON example in `SyncConfig`'s docs is the fixture.
    let docs = include_str!("config.rs");
    let example: String = docs
        .split("/// ```json\n")
        .nth(1)
        .and_then(|rest| rest.split("/// ```\n").next())
        .expect("a JSON example in the docs")
        .lines()
        .map(|l| l.trim_start().trim_start_matches("///").trim_start())
        .collect();
    assert_eq!(value(&example), value(SCHEMA2));
}

#[test]
fn the_previous_form_without_schema_or_names_still_reads() {
    let old: SyncConfig = serde_json::from_str(SCHEMA1).expect("schema 1 reads");
    let new: SyncConfig = serde_json::from_str(SCHEMA2).expect("schema 2 reads");
    let mut unnamed = new.into_parts();
    unnamed.organization_name = None;
    unnamed.company_name = None;
    assert_eq!(old, SyncConfig::from_parts(unnamed).expect("valid"));
    // Read once, written in the current form.
    let written = serde_json::to_value(&old).expect("serialise");
    assert_eq!(written["schema"], 2);
}

#[test]
fn a_newer_schema_is_refused_with_what_to_do() {
    let mut newer = value(SCHEMA2);
    newer["schema"] = 3.into();
    let err = serde_json::from_value::<SyncConfig>(newer).expect_err("schema 3 is unknown");
    let message = err.to_string();
    assert!(message.contains("schema 3"), "{message}");
    assert!(message.contains("upgrade"), "{message}");
}

#[test]
fn parts_and_the_serde_form_apply_the_same_checks() {
    let config: SyncConfig = serde_json::from_str(SCHEMA2).expect("schema 2 reads");
    let mut parts: SyncConfigParts = config.clone().into_parts();
    assert_eq!(SyncConfig::from_parts(parts.clone()), Ok(config));

    parts.tickets = TicketKind::Case;
    let err = SyncConfig::from_parts(parts.clone()).expect_err("cases need an account");
    assert!(err.problem().contains("customer account"), "{err}");
    let mut doc = value(SCHEMA2);
    doc["tickets"] = "case".into();
    let serde_err = serde_json::from_value::<SyncConfig>(doc).expect_err("the same check");
    assert_eq!(serde_err.to_string(), err.to_string());

    // Blank names are no names; a name without its id is dropped.
    parts.tickets = TicketKind::Incident;
    parts.organization_name = Some("  ".to_owned());
    parts.company = None;
    let config = SyncConfig::from_parts(parts).expect("valid");
    assert_eq!(config.organization_name(), None);
    assert_eq!(config.company_name(), None);
}

#[test]
fn another_company_clears_the_company_name() {
    let mut config: SyncConfig = serde_json::from_str(SCHEMA2).expect("schema 2 reads");
    let same = config.company().cloned();
    config.set_company(same);
    assert_eq!(
        config.company_name(),
        Some("Contoso Dental"),
        "same company"
    );
    config.set_company(Some(
        "0c43f35d4f5a1200c0a8016a9310c7d6".parse().expect("sys_id"),
    ));
    assert_eq!(config.company_name(), None);
    assert!(config.see_company_name(" Other "));
    assert!(!config.see_company_name("Other"), "unchanged: no write");
    assert_eq!(config.company_name(), Some("Other"));
}
