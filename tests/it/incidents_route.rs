//! The incident router's pure routing decision: the full matrix of configuration status ×
//! allow-incidents × mapped company × known device, cases, and what a created ticket carries.

use chrono::Utc;
use ninjaone_servicenow::engine::incidents::{
    IncidentSettings, RouteDecision, RoutingIndex, SkipReason, route,
};
use ninjaone_servicenow::model::{
    Alert, CiRecord, Device, DeviceId, FilterRefusal, MinSeverity, OrganizationId, Severity,
    SyncConfig, SyncStatus, SysId, TicketKind, TicketTemplate,
};

use crate::support::incident_world as support;
use support::config;

fn org() -> OrganizationId {
    OrganizationId::new(2).unwrap()
}

fn company() -> SysId {
    "0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()
}

fn account() -> SysId {
    "1c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()
}

fn device() -> Device {
    serde_json::from_value(serde_json::json!({
        "id": 7, "organizationId": 2, "nodeClass": "WINDOWS_SERVER", "displayName": "SRV-07"
    }))
    .unwrap()
}

fn alert(uid: &str, device: Option<u32>) -> Alert {
    let mut a: Alert = serde_json::from_value(serde_json::json!({ "uid": uid })).unwrap();
    a.device_id = device.map(|d| DeviceId::new(d).unwrap());
    a
}

fn settings() -> IncidentSettings {
    IncidentSettings::new("acme").unwrap()
}

#[test]
fn routing_matrix_creates_only_for_active_mapped_allowed_known() {
    let mut seen = 0;
    for status in SyncStatus::ALL {
        for allow in [true, false] {
            for mapped in [true, false] {
                for known in [true, false] {
                    let configs = vec![config(org(), mapped.then(company), status, allow)];
                    let devices = if known { vec![device()] } else { Vec::new() };
                    let index = RoutingIndex::new(&settings(), &devices, &configs, &[], None);
                    let decision = route(&alert("a-1", Some(7)), &index);
                    let case = format!("{status} allow={allow} mapped={mapped} known={known}");
                    let expected = if !known {
                        Some(SkipReason::UnknownDevice {
                            device: DeviceId::new(7).unwrap(),
                        })
                    } else if !mapped {
                        Some(SkipReason::Unmapped {
                            organization: org(),
                        })
                    } else if status != SyncStatus::Active {
                        Some(SkipReason::NotActive {
                            organization: org(),
                            status,
                        })
                    } else if !allow {
                        Some(SkipReason::IncidentsNotAllowed {
                            organization: org(),
                        })
                    } else {
                        None
                    };
                    match (expected, &decision) {
                        (Some(reason), RouteDecision::Skip(got)) => {
                            assert_eq!(got, &reason, "{case}");
                            assert!(!decision.to_string().is_empty());
                        }
                        (
                            None,
                            RouteDecision::Create {
                                organization,
                                company: c,
                                kind,
                                ..
                            },
                        ) => {
                            assert_eq!(
                                (*organization, c, *kind),
                                (org(), &company(), TicketKind::Incident),
                                "{case}"
                            );
                        }
                        (expected, got) => panic!("{case}: expected {expected:?}, got {got:?}"),
                    }
                    seen += 1;
                }
            }
        }
    }
    assert_eq!(seen, 5 * 2 * 2 * 2);
}

#[test]
fn an_organization_without_configuration_is_unmapped_and_an_alert_without_device_is_skipped() {
    let index = RoutingIndex::new(&settings(), &[device()], &[], &[], None);
    assert_eq!(
        route(&alert("a-1", Some(7)), &index),
        RouteDecision::Skip(SkipReason::Unmapped {
            organization: org()
        })
    );
    assert_eq!(
        route(&alert("a-1", None), &index),
        RouteDecision::Skip(SkipReason::NoDevice)
    );
}

#[test]
fn a_create_carries_company_ci_and_correlation_id() {
    let configs = vec![config(org(), Some(company()), SyncStatus::Active, true)];
    let ci: SysId = "2c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap();
    let cis = vec![CiRecord::new(
        DeviceId::new(7).unwrap(),
        org(),
        "cmdb_ci_win_server".parse().unwrap(),
        Some(ci.clone()),
        "fp",
        Utc::now(),
    )];
    let index = RoutingIndex::new(&settings(), &[device()], &configs, &cis, None);
    let RouteDecision::Create {
        cmdb_ci,
        correlation_id,
        account,
        device: routed,
        ..
    } = route(
        &alert("50edcf11-de92-4ecb-955b-c8066488b6cc", Some(7)),
        &index,
    )
    else {
        panic!("expected a create");
    };
    assert_eq!(cmdb_ci, Some(ci));
    assert_eq!(account, None);
    assert_eq!(routed.get(), 7);
    assert_eq!(
        correlation_id.as_str(),
        "ninjaone:acme:alert:50edcf11-de92-4ecb-955b-c8066488b6cc"
    );
    // Without a CI record the incident goes without cmdb_ci.
    let index = RoutingIndex::new(&settings(), &[device()], &configs, &[], None);
    assert!(matches!(
        route(&alert("a-1", Some(7)), &index),
        RouteDecision::Create { cmdb_ci: None, .. }
    ));
}

#[test]
fn cases_need_an_account_and_customer_service_management() {
    let with = |account: Option<SysId>| {
        let mut c: SyncConfig = config(org(), Some(company()), SyncStatus::Active, true);
        c.set_customer_account(account);
        c.set_tickets(TicketKind::Case);
        vec![c]
    };
    let a = alert("a-1", Some(7));
    let index = RoutingIndex::new(&settings(), &[device()], &with(None), &[], Some(true));
    assert_eq!(
        route(&a, &index),
        RouteDecision::Skip(SkipReason::CasesNeedAccount {
            organization: org()
        })
    );
    for csm in [None, Some(false)] {
        let index = RoutingIndex::new(&settings(), &[device()], &with(Some(account())), &[], csm);
        assert_eq!(
            route(&a, &index),
            RouteDecision::Skip(SkipReason::CasesNeedCustomerService {
                organization: org()
            })
        );
    }
    let index = RoutingIndex::new(
        &settings(),
        &[device()],
        &with(Some(account())),
        &[],
        Some(true),
    );
    assert!(matches!(
        route(&a, &index),
        RouteDecision::Create { kind: TicketKind::Case, account: Some(ref acc), .. } if *acc == account()
    ));
}

#[test]
fn a_uid_too_long_for_the_correlation_id_is_skipped_with_a_reason() {
    let configs = vec![config(org(), Some(company()), SyncStatus::Active, true)];
    let index = RoutingIndex::new(&settings(), &[device()], &configs, &[], None);
    let decision = route(&alert(&"x".repeat(90), Some(7)), &index);
    assert_eq!(decision, RouteDecision::Skip(SkipReason::UidTooLong));
    assert!(decision.to_string().contains("shorter integration id"));
}

#[test]
fn skip_reasons_have_stable_codes_and_serialize() {
    let reason = SkipReason::NotActive {
        organization: org(),
        status: SyncStatus::Inactive,
    };
    assert_eq!(reason.code(), "not_active");
    assert_eq!(
        serde_json::to_value(&reason).unwrap(),
        serde_json::json!({"reason": "not_active", "organization": 2, "status": "inactive"})
    );
    assert_eq!(
        reason.to_string(),
        "organization 2's sync configuration is inactive, not active"
    );
}

#[test]
fn the_named_template_then_the_default_decides_and_fills_the_ticket() {
    let mut named = config(org(), Some(company()), SyncStatus::Active, true);
    named.set_ticket_template(Some("servers".parse().unwrap()));
    let unnamed = config(org(), Some(company()), SyncStatus::Active, true);
    let mut servers = TicketTemplate::new("servers".parse().unwrap());
    servers.set_source_types(["CONDITION_DISK".parse().unwrap()]);
    let mut default = TicketTemplate::new("default".parse().unwrap());
    default.set_default(true);
    default.set_min_severity(Some(MinSeverity::Critical));
    let templates = [servers, default];
    let mut a = alert("a-1", Some(7));
    a.source_type = Some("CONDITION_CPU".to_owned());
    a.severity = Some(Severity::Major);

    let index = RoutingIndex::new(&settings(), &[device()], &[named.clone()], &[], None)
        .with_templates(&templates);
    assert_eq!(
        index.template_of(org()).map(|t| t.name().as_str()),
        Some("servers")
    );
    assert_eq!(
        route(&a, &index),
        RouteDecision::Skip(SkipReason::Filtered {
            organization: org(),
            template: "servers".parse().unwrap(),
            filter: FilterRefusal::SourceType {
                source_type: Some("CONDITION_CPU".to_owned())
            },
        })
    );
    let index = RoutingIndex::new(
        &settings(),
        &[device()],
        std::slice::from_ref(&unnamed),
        &[],
        None,
    )
    .with_templates(&templates);
    assert_eq!(
        route(&a, &index).to_string(),
        "skipped: organization 2's ticket template \"default\" filters the alert out: its \
         severity MAJOR is below the template's minimum CRITICAL"
    );
    // No default: no template, every alert routes.
    let index = RoutingIndex::new(&settings(), &[device()], &[unnamed], &[], None)
        .with_templates(&templates[..1]);
    assert!(index.template_of(org()).is_none());
    assert!(matches!(route(&a, &index), RouteDecision::Create { .. }));
    // An index built without the templates knows none: a named one is unknown.
    let index = RoutingIndex::new(&settings(), &[device()], &[named], &[], None);
    assert_eq!(
        route(&a, &index),
        RouteDecision::Skip(SkipReason::UnknownTemplate {
            organization: org(),
            template: "servers".parse().unwrap(),
        })
    );
}
