//! [`NinjaOneClient`]: the NinjaOne public API v2 over HTTP.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

mod decode;
mod management;

use super::call::{Auth, Call, Reply};
use super::error::ConfigError;
use super::options::HttpOptions;
use super::origin::ninjaone_origin;
use super::retry::ClientStats;
use super::secret::Secret;
use super::token::TokenCache;
use super::transport::Transport;
use crate::model::{
    Alert, DetailedDevice, Device, DeviceId, DeviceRole, Organization, OrganizationDetailed,
    OrganizationId, decode_rows,
};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind, Cursor, NinjaOneApi, Page, PageRequest};
use decode::{array, decode_api_error, decode_oauth_error, request_token};

const SERVICE: Remote = Remote::NinjaOne;
const TOKEN_PATH: &str = "/ws/oauth/token";
/// The scope asked for by default: read-only, enough for every call of [`NinjaOneApi`].
const DEFAULT_SCOPE: &str = "monitoring";
/// The scope of the webhook calls (`PUT`/`DELETE /v2/webhook`), asked for only by them, with a
/// token of its own.
const MANAGEMENT_SCOPE: &str = "management";
/// The webhook configuration's path.
const WEBHOOK_PATH: &str = "/v2/webhook";

/// How to reach and authenticate to NinjaOne: a region or origin, and the client credentials of
/// a machine-to-machine API application. `Debug` shows no secret.
///
/// ```
/// use ninjaone_servicenow::http::{NinjaOneConfig, Secret};
/// let config = NinjaOneConfig::new("eu", "my-client-id", Secret::new("my-secret"))?;
/// assert_eq!(config.origin().as_str(), "https://eu.ninjarmm.com/");
/// assert!(!format!("{config:?}").contains("my-secret"));
/// // Plain http only on loopback, for local testing.
/// assert!(NinjaOneConfig::new("http://ninja.example.com", "id", Secret::new("s")).is_err());
/// # Ok::<(), ninjaone_servicenow::http::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct NinjaOneConfig {
    origin: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    options: HttpOptions,
}

impl NinjaOneConfig {
    /// `base`: a region key (`us` or `app`, `eu`, `oc`, `ca`, `us2`, `fed`) or an origin (https,
    /// or http on a loopback host).
    ///
    /// # Errors
    /// [`ConfigError`] when the origin is refused or a credential is empty.
    pub fn new(
        base: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self, ConfigError> {
        let origin = ninjaone_origin(base)?;
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(ConfigError::EmptyCredential { what: "client id" });
        }
        if client_secret.is_empty() {
            return Err(ConfigError::EmptyCredential {
                what: "client secret",
            });
        }
        Ok(Self {
            origin,
            client_id,
            client_secret,
            scope: DEFAULT_SCOPE.to_owned(),
            options: HttpOptions::default(),
        })
    }

    /// The OAuth scopes, space separated; default `"monitoring"` (read-only), which is all
    /// [`NinjaOneApi`] needs: every call it makes is a read. Ask for more (`management`) only
    /// for calls of your own that write.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        scope.trim().clone_into(&mut self.scope);
        self
    }

    /// Transport options.
    #[must_use]
    pub fn options(mut self, options: impl Into<HttpOptions>) -> Self {
        self.options = options.into();
        self
    }

    /// The origin requests go to.
    pub fn origin(&self) -> &Url {
        &self.origin
    }
}

/// The NinjaOne public API v2 ([`NinjaOneApi`]) over HTTP.
///
/// OAuth2 client credentials at `/ws/oauth/token`; the token is cached, replaced five minutes
/// before it expires, fetched by one caller at a time however many need it, and fetched again
/// once when a request is answered 401. Listings page with `pageSize`/`after`: one
/// [`PageRequest`] is one request, and the cursor is the last id of the page. Clones share the
/// connection pool, the token, the concurrency limit and the counters.
///
/// Needs a tokio runtime (with timers) to run its futures.
#[derive(Clone, Debug)]
pub struct NinjaOneClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    client_id: String,
    client_secret: Secret,
    scope: String,
    tokens: TokenCache,
    /// Tokens with the management scope, for the webhook calls only.
    management_tokens: TokenCache,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NinjaOneClient")
            .field("origin", &self.transport.origin().as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl NinjaOneClient {
    /// A client for `config`. Sends nothing yet.
    ///
    /// # Errors
    /// [`ConfigError::Client`] when the HTTP client cannot be built.
    pub fn new(config: NinjaOneConfig) -> Result<Self, ConfigError> {
        let transport = Transport::new(
            SERVICE,
            config.origin,
            config.options,
            [config.client_secret.clone()],
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                client_id: config.client_id,
                client_secret: config.client_secret,
                scope: config.scope,
                tokens: TokenCache::default(),
                management_tokens: TokenCache::default(),
            }),
        })
    }

    /// Request counts since the client was created.
    pub fn stats(&self) -> ClientStats {
        self.inner.transport.counters().snapshot()
    }

    /// The origin requests go to.
    pub fn origin(&self) -> &Url {
        self.inner.transport.origin()
    }

    async fn token(&self) -> Result<Secret, ApiError> {
        let inner = &self.inner;
        inner
            .tokens
            .get(|_refresh| request_token(inner, &inner.scope, decode_oauth_error))
            .await
    }

    /// Sends an authenticated call; after a 401, fetches a new token once and sends it again.
    async fn api(&self, call: &Call) -> Result<Reply, ApiError> {
        let token = self.token().await?;
        let transport = &self.inner.transport;
        match transport
            .send(call, Auth::Bearer(&token), decode_api_error)
            .await
        {
            Err(e) if e.kind() == ApiErrorKind::Unauthorized => {
                tracing::debug!(path = %call.path, "token refused; fetching a new one");
                self.inner.tokens.invalidate(&token).await;
                let fresh = self.token().await?;
                transport
                    .send(call, Auth::Bearer(&fresh), decode_api_error)
                    .await
            }
            other => other,
        }
    }

    async fn get_value(
        &self,
        path: String,
        query: Vec<(&'static str, String)>,
    ) -> Result<Value, ApiError> {
        let call = Call::get(path, query);
        let reply = self.api(&call).await?;
        reply.json(SERVICE, &call.describe())
    }

    /// One page of a `pageSize`/`after` listing.
    async fn page<T: DeserializeOwned>(
        &self,
        path: String,
        page: &PageRequest,
    ) -> Result<Page<T>, ApiError> {
        let mut query = vec![("pageSize", page.limit().to_string())];
        if let Some(cursor) = page.after() {
            let after: u32 = cursor.as_str().parse().map_err(|_| {
                ApiError::new(
                    ApiErrorKind::Other,
                    format!(
                        "paging cursor {:?} is not a NinjaOne id; pass the cursor of the previous \
                         page unchanged",
                        super::error::prefix(cursor.as_str(), 40)
                    ),
                )
            })?;
            query.push(("after", after.to_string()));
        }
        let what = format!("GET {path}");
        let value = self.get_value(path, query).await?;
        let rows = array(value, &what)?;
        let full = rows.len() >= page.limit() as usize;
        // The cursor is the last id of the page: of the last row that has one, so that a
        // malformed last row neither ends the listing nor repeats rows.
        let last_id = rows.iter().rev().find_map(|row| {
            row.get("id")
                .and_then(Value::as_u64)
                .and_then(|id| u32::try_from(id).ok())
        });
        let (items, rejected) = decode_rows::<T>(Value::Array(rows));
        let next = if full {
            let Some(id) = last_id else {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!(
                        "NinjaOne answered {what} with a full page in which no row has an id; \
                         paging cannot continue, and the listing is not complete"
                    ),
                ));
            };
            Some(Cursor::new(id.to_string()))
        } else {
            None
        };
        Ok(Page::new(items, next).with_rejected(rejected))
    }

    /// An unpaged listing.
    async fn all<T: DeserializeOwned>(&self, path: &str) -> Result<Page<T>, ApiError> {
        let what = format!("GET {path}");
        let value = self.get_value(path.to_owned(), Vec::new()).await?;
        let rows = array(value, &what)?;
        let (items, rejected) = decode_rows::<T>(Value::Array(rows));
        Ok(Page::new(items, None).with_rejected(rejected))
    }
}

#[async_trait]
impl NinjaOneApi for NinjaOneClient {
    async fn organizations(&self, page: PageRequest) -> Result<Page<Organization>, ApiError> {
        self.page("/v2/organizations".to_owned(), &page).await
    }

    async fn organization(
        &self,
        id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError> {
        let path = format!("/v2/organization/{id}");
        let call = Call::get(path, Vec::new()).not_found_ok();
        let what = call.describe();
        let reply = self.api(&call).await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND && !reply.is_html() {
            return Ok(None);
        }
        let value = reply.json(SERVICE, &what)?;
        serde_json::from_value(value).map(Some).map_err(|e| {
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!("NinjaOne answered {what} with an organization that cannot be read: {e}"),
            )
        })
    }

    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
        self.all("/v2/roles").await
    }

    async fn devices(&self, page: PageRequest) -> Result<Page<Device>, ApiError> {
        self.page("/v2/devices".to_owned(), &page).await
    }

    async fn organization_devices(
        &self,
        organization: OrganizationId,
        page: PageRequest,
    ) -> Result<Page<Device>, ApiError> {
        self.page(format!("/v2/organization/{organization}/devices"), &page)
            .await
    }

    async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
        self.all("/v2/alerts").await
    }

    async fn device_alerts(&self, device: DeviceId) -> Result<Vec<Alert>, ApiError> {
        let path = format!("/v2/device/{device}/alerts");
        let page: Page<Alert> = self.all(&path).await?;
        if !page.rejected.is_empty() {
            return Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "{} of the alerts NinjaOne answered GET {path} with could not be decoded, \
                     so whether an alert is still open is not known; the next pass decides",
                    page.rejected.len()
                ),
            ));
        }
        Ok(page.items)
    }

    async fn devices_detailed(&self, page: PageRequest) -> Result<Page<DetailedDevice>, ApiError> {
        self.page("/v2/devices-detailed".to_owned(), &page).await
    }
}
