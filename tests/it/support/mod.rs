//! Helpers shared by the test modules: a scriptable HTTP server, incident and worker worlds.

#[cfg(feature = "http")]
pub mod http_server;
#[cfg(feature = "test-util")]
pub mod incident_world;
#[cfg(feature = "test-util")]
pub mod setup;
#[cfg(feature = "test-util")]
pub mod workers;
