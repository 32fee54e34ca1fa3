//! The built `orgsync` example binary end to end, against `testing::FakeServer` over HTTP with
//! its environment variables: exit codes, JSON field names, what reaches the server, and that
//! no secret or token appears in any output.
//!
//! The binary is found next to this test executable (`target/<profile>/examples/orgsync`):
//! `cargo test --all-features` builds every example before it runs any test. To run this binary
//! alone, build the example first: `cargo build --all-features --example orgsync`.
//!
//! These tests need the real HTTP clients (`http` module, branch h-http). On a branch that
//! carries the TEMP placeholder of the `http` module instead, every remote call fails, and the
//! tests that reach a server fail with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ninjaone_servicenow::ports::ConfigStore;
use ninjaone_servicenow::store::JsonFileStore;
use ninjaone_servicenow::testing::{
    Api, FakeNinjaOne, FakeServer, FakeServerBuilder, FakeServiceNow,
};
use serde_json::Value;

mod refusals;
mod serve;
mod sync;

// ---- harness ----

/// The example binary, beside this test's own executable.
fn orgsync_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/orgsync_cli-<hash> -> target/<profile>
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lies in target/<profile>/deps");
    let binary = profile
        .join("examples")
        .join(format!("orgsync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test --all-features` (which builds the examples first) or \
         `cargo build --all-features --example orgsync`",
        binary.display()
    );
    binary
}

/// A tenant on a fake server, a state file in a temporary directory, and a way to run the
/// binary against them.
struct Setup {
    runtime: tokio::runtime::Runtime,
    server: FakeServer,
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Setup {
    /// Five organizations; companies named like the first three.
    fn new() -> Self {
        Self::with_server(|builder| builder)
    }

    /// As [`new`](Self::new), with the fake server's settings changed by `server`.
    fn with_server(server: impl FnOnce(FakeServerBuilder) -> FakeServerBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let builder = FakeServer::builder(
            FakeNinjaOne::builder()
                .organizations(5)
                .roles_standard()
                .build(),
            FakeServiceNow::builder().companies(3).build(),
        );
        let server = runtime.block_on(server(builder).start());
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("NINJAONE_BASE_URL", server.ninjaone_origin()),
            (
                "NINJAONE_CLIENT_ID",
                FakeServer::NINJAONE_CLIENT_ID.to_owned(),
            ),
            (
                "NINJAONE_CLIENT_SECRET",
                FakeServer::NINJAONE_CLIENT_SECRET.to_owned(),
            ),
            ("SERVICENOW_INSTANCE", server.servicenow_origin()),
            (
                "SERVICENOW_USERNAME",
                FakeServer::SERVICENOW_USERNAME.to_owned(),
            ),
            (
                "SERVICENOW_PASSWORD",
                FakeServer::SERVICENOW_PASSWORD.to_owned(),
            ),
            (
                "ORGSYNC_STATE",
                dir.path().join("state.json").display().to_string(),
            ),
        ];
        Self {
            runtime,
            server,
            dir,
            env,
        }
    }

    fn unset(&mut self, name: &str) {
        self.env.retain(|(n, _)| *n != name);
    }

    fn set(&mut self, name: &'static str, value: &str) {
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.to_owned()));
    }

    fn company(&self, index: usize) -> String {
        self.server.servicenow().all_companies()[index]
            .sys_id
            .to_string()
    }

    /// Runs `orgsync <line>`; checks that no secret or token is in its output.
    fn run(&self, line: &str) -> (i32, String, String) {
        let output: Output = Command::new(orgsync_binary())
            .args(line.split_whitespace())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .output()
            .expect("the orgsync binary runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        let mut secrets = vec![
            FakeServer::NINJAONE_CLIENT_SECRET.to_owned(),
            FakeServer::SERVICENOW_PASSWORD.to_owned(),
        ];
        secrets.extend(self.server.issued_tokens());
        for secret in &secrets {
            assert!(
                !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
                "`orgsync {line}` printed a secret or token"
            );
        }
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn json(&self, line: &str) -> Value {
        let (code, out, err) = self.run(line);
        assert_eq!(code, 0, "`orgsync {line}`: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("`orgsync {line}`: {e}: {out}"))
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

/// The requests of `api` that may have changed something, as "METHOD path".
fn writes(setup: &Setup, api: Api) -> Vec<String> {
    setup
        .server
        .requests()
        .into_iter()
        .filter(|r| r.api == api && r.is_write() && !r.is_token_request())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}
