//! HTTP clients for NinjaOne and ServiceNow (feature `http`): [`NinjaOneClient`] implements
//! [`NinjaOneApi`](crate::ports::NinjaOneApi) and [`ServiceNowClient`] implements
//! [`ServiceNowApi`](crate::ports::ServiceNowApi).
//!
//! Both run on reqwest with rustls (ring, bundled Mozilla roots plus any
//! [extra roots](HttpOptionsBuilder::root_certificate_pem)) and need a tokio runtime with timers.
//! What they share:
//!
//! - **Origins are checked before anything is sent**: https only, except plain http on loopback
//!   hosts (127.0.0.0/8, `::1`, `localhost`) for local testing; user info, paths, queries and
//!   fragments are refused; a ServiceNow instance name must be `[a-z0-9-]+` and an optional host
//!   allow-list matches on label boundaries, so look-alikes such as `evilservice-now.com` fail.
//! - **Redirects are never followed** (reqwest would carry custom auth headers to another host,
//!   and an https → http hop would downgrade): a 3xx is an error that says so.
//! - **Secrets** are [`Secret`]s: redacted `Debug`, no `Display`; they never appear in logs,
//!   errors or the `Debug` of configs and clients, and are scrubbed from server text quoted in
//!   errors.
//! - **Retries** ([`HttpOptions`]): any 429, waiting out `Retry-After` up to a cap (a longer one
//!   ends the call with [`RateLimited`](crate::ports::ApiErrorKind::RateLimited) and the hint);
//!   GET and PATCH again after a 5xx, a timeout or a dropped connection; a POST that creates
//!   something is never re-sent after an unknown failure — the engine looks before it creates
//!   again. Exponential backoff with jitter between attempts (backon).
//! - A per-request timeout (30 s by default), a concurrency limit per client, a response-size
//!   cap, the User-Agent `ninjaone-servicenow/<version>`, an explicit [`ProxyPolicy`] (the
//!   environment's `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` by default, none, or a given URL; a
//!   loopback origin never goes through a proxy; the proxy used is logged once at `info`,
//!   without credentials), and a `tracing` span per request with the service, method, path,
//!   attempt and status — never a credential, a token or a query value.
//! - HTTP statuses become [`ApiErrorKind`](crate::ports::ApiErrorKind)s: 401 `Unauthorized`,
//!   403 `Forbidden`, 404 `NotFound`, 409 `Conflict`, 429 `RateLimited`, 5xx and timeouts
//!   `Transient`, unreadable bodies (HTML, truncated, malformed) `InvalidResponse`.
//! - [`ClientStats`] counts the requests sent.
//!
//! ```no_run
//! use ninjaone_servicenow::http::{
//!     HttpOptions, NinjaOneClient, NinjaOneConfig, Secret, ServiceNowClient, ServiceNowConfig,
//! };
//! use ninjaone_servicenow::ports::{NinjaOneApi, PageRequest, collect_all};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let ninjaone = NinjaOneClient::new(
//!     NinjaOneConfig::new("eu", "client-id", Secret::new("client-secret"))?
//!         .options(HttpOptions::builder().concurrency(4)),
//! )?;
//! let servicenow = ServiceNowClient::new(ServiceNowConfig::basic(
//!     "acme",
//!     "integration.user",
//!     Secret::new("password"),
//! )?)?;
//! let orgs = collect_all(PageRequest::first(500), 1000, |p| ninjaone.organizations(p)).await?;
//! println!("{} organizations in {} pages; {:?}", orgs.items.len(), orgs.pages, ninjaone.stats());
//! # let _ = servicenow;
//! # Ok(()) }
//! ```

mod call;
mod error;
mod ninjaone;
mod options;
mod origin;
mod proxy;
mod query;
mod retry;
mod secret;
mod servicenow;
mod token;
mod transport;
mod webhook;

pub use error::ConfigError;
pub use ninjaone::{NinjaOneClient, NinjaOneConfig};
pub use options::{HttpOptions, HttpOptionsBuilder};
pub use proxy::ProxyPolicy;
pub use query::{EncodedQuery, Plugin, QueryError};
pub use retry::ClientStats;
pub use secret::Secret;
pub use servicenow::{ServiceNowClient, ServiceNowConfig};
pub use transport::USER_AGENT;
pub use webhook::{DEFAULT_EXPAND, DEFAULT_STATUS_CODES, WebhookRegistration};
