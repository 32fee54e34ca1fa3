//! Helpers shared by the test modules: a scriptable HTTP server, the one engine `World`, and the worker scenarios over it.

#[cfg(feature = "http")]
pub mod http_server;
#[cfg(feature = "test-util")]
pub mod incident_world;
#[cfg(feature = "test-util")]
pub mod setup;
#[cfg(feature = "test-util")]
pub mod workers;
#[cfg(feature = "test-util")]
pub mod world;
