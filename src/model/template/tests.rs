//! Unit tests of ticket templates: the filter, the selection and the fields applied.

use proptest::prelude::*;

use super::*;

const SOURCES: [&str; 4] = ["CONDITION_CPU", "CONDITION_DISK", "condition_ping", "OTHER"];

fn severity_of(i: usize) -> Option<Severity> {
    [
        None,
        Some(Severity::None),
        Some(Severity::Minor),
        Some(Severity::Moderate),
        Some(Severity::Major),
        Some(Severity::Critical),
        Some(Severity::Other("CATASTROPHIC".to_owned())),
    ]
    .get(i)
    .cloned()
    .flatten()
}

proptest! {
    /// The filter admits an alert exactly when its source type is listed (or none are) and
    /// its severity reaches the minimum (or there is none, or the alert's cannot be
    /// ranked); and applying the template sets exactly the fields it has.
    #[test]
    fn the_filter_follows_its_two_rules_and_apply_sets_what_is_set(
        listed in proptest::collection::btree_set(0..3usize, 0..3),
        source in proptest::option::of(0..4usize),
        severity in 0..7usize,
        min in proptest::option::of(0..4usize),
        group in any::<bool>(),
        category in any::<bool>(),
    ) {
        let mins = [MinSeverity::Minor, MinSeverity::Moderate, MinSeverity::Major, MinSeverity::Critical];
        let mut t = TicketTemplate::new("t".parse().unwrap());
        t.set_source_types(listed.iter().map(|&i| SOURCES[i].parse::<SourceType>().unwrap()));
        let min = min.map(|i| mins[i]);
        t.set_min_severity(min);
        let mut alert: Alert = serde_json::from_str(r#"{"uid":"a"}"#).unwrap();
        alert.source_type = source.map(|i| SOURCES[i].to_owned());
        alert.severity = severity_of(severity);

        let source_ok = listed.is_empty()
            || source.is_some_and(|s| listed.iter().any(|&l| SOURCES[l].eq_ignore_ascii_case(SOURCES[s])));
        let rank = |s: &Severity| match s {
            Severity::None => Some(0),
            Severity::Minor => Some(1),
            Severity::Moderate => Some(2),
            Severity::Major => Some(3),
            Severity::Critical => Some(4),
            _ => None,
        };
        let min_rank = |m: MinSeverity| mins.iter().position(|x| *x == m).map(|p| p + 1);
        let severity_ok = match (min, alert.severity.as_ref().and_then(rank)) {
            (Some(m), Some(r)) => min_rank(m).is_some_and(|m| r >= m),
            _ => true,
        };
        prop_assert_eq!(t.admits(&alert).is_ok(), source_ok && severity_ok);

        if group {
            t.set_assignment_group(Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()));
        }
        if category {
            t.set_category(Some("hardware".parse().unwrap()));
        }
        let mut case = NewCase {
            short_description: String::new(),
            description: String::new(),
            account: "1c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap(),
            company: None,
            cmdb_ci: None,
            correlation_id: "ninjaone:t:alert:a".parse().unwrap(),
            correlation_display: String::new(),
            urgency: super::super::servicenow::Level::Low,
            impact: super::super::servicenow::Level::Low,
            assignment_group: None,
            category: Some("kept".to_owned()),
            subcategory: Some("kept".to_owned()),
            contact_type: None,
        };
        t.apply_to_case(&mut case);
        prop_assert_eq!(case.assignment_group.is_some(), group);
        prop_assert_eq!(case.category.as_deref(), Some(if category { "hardware" } else { "kept" }));
        prop_assert_eq!(case.subcategory.as_deref(), Some("kept"));
        prop_assert_eq!(case.contact_type, None);
    }
}

fn alert(json: &str) -> Alert {
    serde_json::from_str(json).expect("an alert")
}

#[test]
fn severity_filter_ranks_known_values_and_admits_the_rest() {
    let mut t = TicketTemplate::new("t".parse().unwrap());
    t.set_min_severity(Some(MinSeverity::Moderate));
    for (json, admitted) in [
        (r#"{"uid":"a","severity":"CRITICAL"}"#, true),
        (r#"{"uid":"a","severity":"MODERATE"}"#, true),
        (r#"{"uid":"a","severity":"MINOR"}"#, false),
        (r#"{"uid":"a","severity":"NONE"}"#, false),
        (r#"{"uid":"a"}"#, true),
        (r#"{"uid":"a","severity":"CATASTROPHIC"}"#, true),
    ] {
        assert_eq!(t.admits(&alert(json)).is_ok(), admitted, "{json}");
    }
}

#[test]
fn source_filter_lists_types_and_refuses_alerts_without_one() {
    let mut t = TicketTemplate::new("t".parse().unwrap());
    assert!(t.admits(&alert(r#"{"uid":"a"}"#)).is_ok());
    t.set_source_types(["condition_cpu".parse().unwrap()]);
    assert!(
        t.admits(&alert(r#"{"uid":"a","sourceType":"CONDITION_CPU"}"#))
            .is_ok()
    );
    assert_eq!(
        t.admits(&alert(r#"{"uid":"a","sourceType":"CONDITION_DISK"}"#)),
        Err(FilterRefusal::SourceType {
            source_type: Some("CONDITION_DISK".to_owned())
        })
    );
    assert_eq!(
        t.admits(&alert(r#"{"uid":"a","sourceType":" "}"#)),
        Err(FilterRefusal::SourceType { source_type: None })
    );
}

#[test]
fn names_and_values_are_checked() {
    assert!("a\u{7}b".parse::<TicketTemplateName>().is_err());
    assert!("x".repeat(101).parse::<TicketTemplateName>().is_err());
    assert!("x".repeat(81).parse::<TicketFieldValue>().is_err());
    assert!("hardware".parse::<TicketFieldValue>().is_ok());
    assert!("".parse::<SourceType>().is_err());
    assert_eq!("major".parse::<MinSeverity>(), Ok(MinSeverity::Major));
    assert!("huge".parse::<MinSeverity>().is_err());
}

#[test]
fn select_prefers_the_named_template_then_the_default() {
    let mut a = TicketTemplate::new("a".parse().unwrap());
    let b = TicketTemplate::new("b".parse().unwrap());
    a.set_default(true);
    let all = [a, b];
    let name = |s: &str| s.parse::<TicketTemplateName>().unwrap();
    assert_eq!(
        TicketTemplate::select(None, &all)
            .unwrap()
            .map(|t| t.name().as_str()),
        Some("a")
    );
    assert_eq!(
        TicketTemplate::select(Some(&name("b")), &all)
            .unwrap()
            .map(|t| t.name().as_str()),
        Some("b")
    );
    assert_eq!(
        TicketTemplate::select(Some(&name("gone")), &all),
        Err(name("gone"))
    );
    assert_eq!(TicketTemplate::select(None, &all[1..]), Ok(None));
}

#[test]
fn serde_round_trip_uses_the_servicenow_field_names() {
    let mut t = TicketTemplate::new("t".parse().unwrap());
    t.set_caller(Some("0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()));
    t.set_min_severity(Some(MinSeverity::Critical));
    t.set_default(true);
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["caller_id"], "0c43f35d4f5a1200c0a8016a9310c7d5");
    assert_eq!(json["min_severity"], "CRITICAL");
    assert_eq!(serde_json::from_value::<TicketTemplate>(json).unwrap(), t);
}
