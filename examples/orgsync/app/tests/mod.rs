//! The orgsync commands over the in-memory fakes: exit codes, output and JSON field names,
//! what is written where, and that no secret is ever printed. This file is the harness (a
//! [`TestEnv`] over the fakes); the tests are in one file per topic.

mod commands;
mod environment;
mod incidents;
mod sync;
mod templates;
mod webhook;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ninjaone_servicenow::clock::{Clock, ManualClock};
use ninjaone_servicenow::model::{IntegrationMode, OrganizationId, SyncStatus};
use ninjaone_servicenow::ports::{ApiErrorKind, ConfigStore, StoreError, StoreErrorKind};
use ninjaone_servicenow::store::MemoryStore;
use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
use serde_json::Value;

use super::environment::ServiceNowAuth;
use super::{
    Environment, Io, NinjaOneSettings, RemoteSettings, Remotes, SetupError, WebhookAdmin, run,
};
use ninjaone_servicenow::http::WebhookRegistration;
use ninjaone_servicenow::ports::ApiError;

/// Records the webhook calls `webhook register|delete` make; fails them with `fail` when set.
#[derive(Default)]
struct RecordingAdmin {
    calls: std::sync::Mutex<Vec<String>>,
    fail: Option<ApiErrorKind>,
}

#[async_trait::async_trait]
impl WebhookAdmin for RecordingAdmin {
    async fn register(&self, registration: &WebhookRegistration) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push(format!(
            "register {} {}",
            registration.url(),
            registration.secret_header()
        ));
        self.fail.map_or(Ok(()), |kind| {
            Err(ApiError::new(
                kind,
                "NinjaOne answered 401: insufficient_privileges",
            ))
        })
    }

    async fn delete(&self) -> Result<(), ApiError> {
        self.calls.lock().unwrap().push("delete".to_owned());
        self.fail
            .map_or(Ok(()), |kind| Err(ApiError::new(kind, "refused")))
    }
}

const NINJA_SECRET: &str = "n1-secret-value-do-not-print";
const SN_PASSWORD: &str = "sn-password-do-not-print";
const SN_CLIENT_SECRET: &str = "sn-oauth-client-secret-Tt55";

struct TestEnv {
    vars: BTreeMap<String, String>,
    ninja: FakeNinjaOne,
    snow: FakeServiceNow,
    store: MemoryStore,
    clock: ManualClock,
    refuse: Option<String>,
    store_error: Option<StoreErrorKind>,
    terminal: bool,
    /// The ServiceNow credential variables of the last `connect`.
    seen_auth: std::cell::RefCell<Option<&'static str>>,
    webhooks: Arc<RecordingAdmin>,
}

impl TestEnv {
    /// Six organizations; companies for the first four (same names); no CI mapping yet.
    fn new() -> Self {
        let vars = [
            ("NINJAONE_BASE_URL", "https://eu.ninjarmm.com"),
            ("NINJAONE_CLIENT_ID", "client-1"),
            ("NINJAONE_CLIENT_SECRET", NINJA_SECRET),
            ("SERVICENOW_INSTANCE", "acme"),
            ("SERVICENOW_USERNAME", "integration"),
            ("SERVICENOW_PASSWORD", SN_PASSWORD),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            vars,
            ninja: FakeNinjaOne::builder()
                .organizations(6)
                .roles_standard()
                .build(),
            snow: FakeServiceNow::builder().companies(4).build(),
            store: MemoryStore::new(),
            clock: ManualClock::new(fixed_time()),
            refuse: None,
            store_error: None,
            terminal: false,
            seen_auth: std::cell::RefCell::new(None),
            webhooks: Arc::default(),
        }
    }

    fn company(&self, index: usize) -> String {
        self.snow.all_companies()[index].sys_id.to_string()
    }

    /// Runs one command line; returns (exit code, stdout, stderr).
    fn run(&self, line: &str) -> (u8, String, String) {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = {
            let mut io = Io {
                out: &mut out,
                err: &mut err,
            };
            futures::executor::block_on(run(&args, self, &mut io))
        };
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        for secret in [NINJA_SECRET, SN_PASSWORD] {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{line}: a secret was printed"
            );
        }
        (exit.code(), out, err)
    }

    fn json(&self, line: &str) -> Value {
        let (code, out, err) = self.run(line);
        assert!(code == 0 || code == 4, "{line}: {code} {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {out}"))
    }
}

impl Environment for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn connect(&self, settings: &RemoteSettings) -> Result<Remotes, SetupError> {
        // What main would hand to the HTTP clients, secrets included (and never shown).
        assert_eq!(settings.ninjaone_client_secret.expose(), NINJA_SECRET);
        match &settings.servicenow_auth {
            ServiceNowAuth::Basic { password, .. }
            | ServiceNowAuth::PasswordGrant { password, .. } => {
                assert_eq!(password.expose(), SN_PASSWORD);
            }
            ServiceNowAuth::ClientCredentials { client_secret, .. } => {
                assert_eq!(client_secret.expose(), SN_CLIENT_SECRET);
            }
        }
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains(NINJA_SECRET) && !shown.contains(SN_PASSWORD),
            "{shown}"
        );
        assert!(!shown.contains(SN_CLIENT_SECRET), "{shown}");
        self.seen_auth
            .replace(Some(settings.servicenow_auth.variables()));
        if let Some(why) = &self.refuse {
            return Err(SetupError(format!(
                "{why} ({}, {}, {}, {})",
                settings.ninjaone_base,
                settings.ninjaone_client_id,
                settings.servicenow_instance,
                settings.servicenow_auth.variables()
            )));
        }
        Ok(Remotes {
            ninjaone: Arc::new(self.ninja.clone()),
            servicenow: Arc::new(self.snow.clone()),
        })
    }

    fn connect_webhooks(
        &self,
        settings: &NinjaOneSettings,
    ) -> Result<Arc<dyn WebhookAdmin>, SetupError> {
        assert_eq!(settings.client_secret.expose(), NINJA_SECRET);
        assert!(!format!("{settings:?}").contains(NINJA_SECRET));
        let admin: Arc<dyn WebhookAdmin> = self.webhooks.clone();
        Ok(admin)
    }

    fn open_store(&self, path: &Path) -> Result<Arc<dyn ConfigStore>, StoreError> {
        match self.store_error {
            Some(kind) => Err(StoreError::new(kind, format!("{} is held", path.display()))),
            None => Ok(Arc::new(self.store.clone())),
        }
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    fn stderr_is_terminal(&self) -> bool {
        self.terminal
    }
}

/// The object's field names, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `names`, sorted.
fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).unwrap()
}
