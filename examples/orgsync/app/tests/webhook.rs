//! `webhook register|delete` and `serve`'s secret over the fakes: strength, scope, no state file.

use super::{
    ApiErrorKind, Arc, NINJA_SECRET, NinjaOneSettings, RecordingAdmin, StoreErrorKind, TestEnv,
    keys,
};

const HOOK_SECRET: &str = "hook-secret-0123456789-do-not-print";

#[test]
fn webhook_commands_need_a_strong_secret_open_no_state_file_and_never_print_it() {
    let mut env = TestEnv::new();
    // The state file is held (by `serve`, say): the webhook commands do not open it.
    env.store_error = Some(StoreErrorKind::Locked);
    let url = "https://orgsync.example.com/ninjaone/webhook";
    let (code, _, err) = env.run(&format!("webhook register --url {url}"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ORGSYNC_WEBHOOK_SECRET is not set"), "{err}");
    env.vars
        .insert("ORGSYNC_WEBHOOK_SECRET".to_owned(), "short".to_owned());
    let (code, _, err) = env.run(&format!("webhook register --url {url}"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("too short"), "{err}");
    assert!(env.webhooks.calls.lock().unwrap().is_empty());

    env.vars
        .insert("ORGSYNC_WEBHOOK_SECRET".to_owned(), HOOK_SECRET.to_owned());
    let (code, out, err) = env.run("webhook register --url http://orgsync.example.com/hook");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https"), "{err}");
    let (code, out2, err2) = env.run(&format!("webhook register --url {url}"));
    assert_eq!(code, 0, "{err2}");
    assert_eq!(out2.lines().count(), 1, "{out2}");
    assert!(
        out2.contains(url) && out2.contains("x-orgsync-webhook-secret"),
        "{out2}"
    );
    let json = env.json(&format!("webhook register --url {url} --json"));
    assert_eq!(
        keys(&json),
        ["action", "expand", "header", "status_codes", "url"]
    );
    assert_eq!(
        json["status_codes"],
        serde_json::json!(["TRIGGERED", "RESET"])
    );
    let (code, out3, _) = env.run("webhook delete");
    assert_eq!(code, 0);
    assert!(out3.contains("deleted"), "{out3}");
    for text in [&out, &err, &out2, &err2, &out3, &json.to_string()] {
        assert!(
            !text.contains(HOOK_SECRET),
            "the webhook secret was printed: {text}"
        );
    }
    assert_eq!(
        *env.webhooks.calls.lock().unwrap(),
        [
            format!("register {url} x-orgsync-webhook-secret"),
            format!("register {url} x-orgsync-webhook-secret"),
            "delete".to_owned()
        ]
    );
}

#[test]
fn a_refused_management_scope_is_exit_1_naming_the_scope_to_allow() {
    let mut env = TestEnv::new();
    env.vars
        .insert("ORGSYNC_WEBHOOK_SECRET".to_owned(), HOOK_SECRET.to_owned());
    env.webhooks = Arc::new(RecordingAdmin {
        fail: Some(ApiErrorKind::Forbidden),
        ..RecordingAdmin::default()
    });
    let (code, _, err) = env.run("webhook register --url https://orgsync.example.com/hook");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("management scope"), "{err}");
}

#[test]
fn serve_without_the_secret_is_a_usage_error_before_the_state_file_or_a_remote() {
    let mut env = TestEnv::new();
    env.store_error = Some(StoreErrorKind::Locked);
    let (code, _, err) = env.run("serve --listen 127.0.0.1:0");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ORGSYNC_WEBHOOK_SECRET"), "{err}");
    assert!(env.seen_auth.borrow().is_none(), "no client was built");
}

#[test]
fn the_webhook_client_is_built_without_a_request_and_a_refused_origin_says_why() {
    let settings = |base: &str| NinjaOneSettings {
        base: base.to_owned(),
        client_id: "client-1".to_owned(),
        client_secret: ninjaone_servicenow::http::Secret::new(NINJA_SECRET),
    };
    assert!(super::super::connect_webhooks_http(&settings("eu")).is_ok());
    let Err(err) = super::super::connect_webhooks_http(&settings("http://ninja.example.com"))
    else {
        panic!("plain http to a remote host was accepted");
    };
    assert!(err.0.contains("ninja.example.com"), "{}", err.0);
    assert!(!err.0.contains(NINJA_SECRET));
}
