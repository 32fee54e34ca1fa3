//! The HTTP wiring and the ServiceNow authentication the variables choose, without a request.

use super::{NINJA_SECRET, RemoteSettings, SN_CLIENT_SECRET, SN_PASSWORD, ServiceNowAuth, TestEnv};

#[test]
fn the_http_wiring_refuses_bad_origins_and_builds_on_good_ones() {
    let settings = |ninjaone: &str, servicenow: &str| RemoteSettings {
        ninjaone_base: ninjaone.to_owned(),
        ninjaone_client_id: "client-1".to_owned(),
        ninjaone_client_secret: ninjaone_servicenow::http::Secret::new(NINJA_SECRET),
        servicenow_instance: servicenow.to_owned(),
        servicenow_auth: ServiceNowAuth::Basic {
            username: "integration".to_owned(),
            password: ninjaone_servicenow::http::Secret::new(SN_PASSWORD),
        },
    };
    assert!(super::super::connect_http(&settings("eu", "acme")).is_ok());
    assert!(
        super::super::connect_http(&settings("http://127.0.0.1:9", "http://127.0.0.1:9")).is_ok()
    );
    for (ninjaone, servicenow) in [
        ("http://eu.ninjarmm.com", "acme"),
        ("eu", "https://user:pw@acme.service-now.com"),
    ] {
        let err = super::super::connect_http(&settings(ninjaone, servicenow))
            .err()
            .unwrap_or_else(|| panic!("{ninjaone} / {servicenow} must be refused"));
        assert!(!err.0.is_empty());
        assert!(!err.0.contains(NINJA_SECRET) && !err.0.contains(SN_PASSWORD));
    }
}

#[test]
fn the_servicenow_auth_mode_follows_the_variables_that_are_set() {
    let mode = |set: &[(&str, &str)], unset: &[&str]| {
        let mut env = TestEnv::new();
        for name in unset {
            env.vars.remove(*name);
        }
        for (k, v) in set {
            env.vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let (code, _, err) = env.run("status");
        (code, err, env.seen_auth.borrow().unwrap_or("none"))
    };
    let user = ["SERVICENOW_USERNAME", "SERVICENOW_PASSWORD"];
    let client = [
        ("SERVICENOW_CLIENT_ID", "sn-client"),
        ("SERVICENOW_CLIENT_SECRET", SN_CLIENT_SECRET),
    ];
    assert_eq!(
        mode(&[], &[]).2,
        "SERVICENOW_USERNAME and SERVICENOW_PASSWORD",
        "Basic, as before"
    );
    assert_eq!(
        mode(&client, &user).2,
        "SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET",
        "client credentials"
    );
    assert!(
        mode(&client, &[]).2.starts_with("SERVICENOW_CLIENT_ID, "),
        "password grant"
    );
    // Half a pair is a usage error naming what is missing; nothing is connected.
    let (code, err, seen) = mode(&client[..1], &user);
    assert_eq!((code, seen), (2, "none"), "{err}");
    assert!(err.contains("SERVICENOW_CLIENT_SECRET is not set"), "{err}");
    let (code, err, _) = mode(&[], &user);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SERVICENOW_CLIENT_ID"), "{err}");
    assert!(
        !err.contains(SN_CLIENT_SECRET) && !err.contains(SN_PASSWORD),
        "{err}"
    );
}
