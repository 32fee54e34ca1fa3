//! The integration tests, one crate: one module per former test binary, gated on the features it needs.
//!
//! One binary links once and compiles the shared `support` modules once; the `cfg(feature)`
//! gates keep a plain `cargo test` (no features) running the tests that need none. Two tests
//! stay binaries of their own because they start processes (see `Cargo.toml`).

mod support;

#[cfg(feature = "test-util")]
mod ci_push;
mod decode_robustness;
#[cfg(all(feature = "test-util", feature = "http"))]
mod fake_server;
#[cfg(feature = "test-util")]
mod fakes;
#[cfg(feature = "http")]
mod http_ninjaone;
#[cfg(feature = "http")]
mod http_security;
#[cfg(feature = "http")]
mod http_servicenow;
#[cfg(feature = "test-util")]
mod incidents;
#[cfg(feature = "test-util")]
mod incidents_faults;
#[cfg(feature = "test-util")]
mod incidents_route;
mod json_file_store;
mod machine;
mod model_ninjaone;
mod model_servicenow;
#[cfg(all(feature = "http", feature = "test-util"))]
mod orgsync_app;
#[cfg(all(feature = "postgres", feature = "test-util"))]
mod postgres_store;
#[cfg(feature = "test-util")]
mod reconcile;
#[cfg(feature = "test-util")]
mod reconcile_faults;
#[cfg(feature = "test-util")]
mod reconcile_schedule;
mod send_sync;
#[cfg(feature = "test-util")]
mod service;
#[cfg(feature = "test-util")]
mod store_contract;
#[cfg(all(feature = "http", feature = "test-util"))]
mod webhook;
#[cfg(feature = "test-util")]
mod work_queue;
