//! TEMPORARY placeholder of the `http` feature's public surface (see the branch h-http for the
//! real clients). Every client call answers [`ApiErrorKind::Other`] "placeholder"; the lead drops
//! this file when merging the real clients.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::{
    Alert, CiItem, CiItemResult, Company, CustomerAccount, Device, DeviceRole, Incident,
    IncidentUpdate, NewCompany, NewIncident, Organization, OrganizationDetailed, OrganizationId,
    SysId,
};
use crate::ports::{
    ApiError, ApiErrorKind, IncidentQuery, NinjaOneApi, Page, PageRequest, ServiceNowApi,
};

/// A secret: `Debug` prints `Secret(<redacted>)`; no `Display`, no `Serialize`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Transport options.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    timeout: Duration,
    max_attempts: u32,
    max_retry_wait: Duration,
    concurrency: usize,
    max_response_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_retry_wait: Duration::from_secs(60),
            concurrency: 8,
            max_response_bytes: 64 << 20,
        }
    }
}

impl HttpOptions {
    /// Request timeout.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Attempts per request.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Cap of a server's Retry-After.
    #[must_use]
    pub fn max_retry_wait(mut self, d: Duration) -> Self {
        self.max_retry_wait = d;
        self
    }

    /// Requests in flight at most.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Largest response body accepted.
    #[must_use]
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Adds root certificates.
    ///
    /// # Errors
    /// Never, in the placeholder.
    pub fn root_certificate_pem(self, pem: &[u8]) -> Result<Self, ConfigError> {
        let _ = pem;
        Ok(self)
    }
}

/// A refused configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The origin or instance name is refused.
    #[error("the origin {0:?} is refused: give an https origin or a region key")]
    Origin(String),
}

/// NinjaOne connection settings.
#[derive(Debug)]
pub struct NinjaOneConfig {
    origin: url::Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    options: HttpOptions,
}

impl NinjaOneConfig {
    /// `base`: a region key or an origin.
    ///
    /// # Errors
    /// [`ConfigError::Origin`] when `base` is neither.
    pub fn new(
        base: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self, ConfigError> {
        let origin = match base {
            "us" | "app" => "https://app.ninjarmm.com".to_owned(),
            "eu" | "oc" | "ca" | "us2" | "fed" => format!("https://{base}.ninjarmm.com"),
            other => other.to_owned(),
        };
        let origin = url::Url::parse(&origin).map_err(|_| ConfigError::Origin(base.to_owned()))?;
        Ok(Self {
            origin,
            client_id: client_id.into(),
            client_secret,
            scope: "monitoring management".to_owned(),
            options: HttpOptions::default(),
        })
    }

    /// The OAuth scope.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        scope.clone_into(&mut self.scope);
        self
    }

    /// Transport options.
    #[must_use]
    pub fn options(mut self, options: HttpOptions) -> Self {
        self.options = options;
        self
    }

    /// The origin.
    #[must_use]
    pub fn origin(&self) -> &url::Url {
        &self.origin
    }
}

/// Request counts of a client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// Requests sent.
    pub requests: u64,
    /// Reads.
    pub reads: u64,
    /// Writes.
    pub writes: u64,
    /// Retries.
    pub retries: u64,
    /// Token requests.
    pub token_requests: u64,
}

fn placeholder() -> ApiError {
    ApiError::new(ApiErrorKind::Other, "placeholder")
}

/// The NinjaOne client (placeholder).
#[derive(Clone, Debug)]
pub struct NinjaOneClient {
    origin: url::Url,
}

impl NinjaOneClient {
    /// A client.
    ///
    /// # Errors
    /// Never, in the placeholder.
    pub fn new(config: NinjaOneConfig) -> Result<Self, ConfigError> {
        let _ = (
            &config.client_id,
            &config.client_secret,
            &config.scope,
            &config.options,
        );
        Ok(Self {
            origin: config.origin,
        })
    }

    /// Request counts.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        let _ = &self.origin;
        ClientStats::default()
    }
}

#[async_trait]
impl NinjaOneApi for NinjaOneClient {
    async fn organizations(&self, _page: PageRequest) -> Result<Page<Organization>, ApiError> {
        Err(placeholder())
    }
    async fn organization(
        &self,
        _id: OrganizationId,
    ) -> Result<Option<OrganizationDetailed>, ApiError> {
        Err(placeholder())
    }
    async fn device_roles(&self) -> Result<Page<DeviceRole>, ApiError> {
        Err(placeholder())
    }
    async fn devices(&self, _page: PageRequest) -> Result<Page<Device>, ApiError> {
        Err(placeholder())
    }
    async fn organization_devices(
        &self,
        _organization: OrganizationId,
        _page: PageRequest,
    ) -> Result<Page<Device>, ApiError> {
        Err(placeholder())
    }
    async fn alerts(&self) -> Result<Page<Alert>, ApiError> {
        Err(placeholder())
    }
}

/// ServiceNow connection settings.
#[derive(Debug)]
pub struct ServiceNowConfig {
    origin: url::Url,
    username: String,
    password: Secret,
    options: HttpOptions,
}

fn instance_origin(instance: &str) -> Result<url::Url, ConfigError> {
    let text = if !instance.is_empty()
        && instance
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        format!("https://{instance}.service-now.com")
    } else {
        instance.to_owned()
    };
    url::Url::parse(&text).map_err(|_| ConfigError::Origin(instance.to_owned()))
}

impl ServiceNowConfig {
    /// Basic auth.
    ///
    /// # Errors
    /// [`ConfigError::Origin`] when `instance` is neither a name nor a URL.
    pub fn basic(
        instance: &str,
        username: impl Into<String>,
        password: Secret,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            origin: instance_origin(instance)?,
            username: username.into(),
            password,
            options: HttpOptions::default(),
        })
    }

    /// OAuth password grant.
    ///
    /// # Errors
    /// As [`basic`](Self::basic).
    pub fn oauth_password(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        username: impl Into<String>,
        password: Secret,
    ) -> Result<Self, ConfigError> {
        let _ = (client_id.into(), client_secret);
        Self::basic(instance, username, password)
    }

    /// Transport options.
    #[must_use]
    pub fn options(mut self, options: HttpOptions) -> Self {
        self.options = options;
        self
    }

    /// A host allow-list.
    ///
    /// # Errors
    /// Never, in the placeholder.
    pub fn allowed_hosts(
        self,
        hosts: impl IntoIterator<Item = String>,
    ) -> Result<Self, ConfigError> {
        let _ = hosts.into_iter().count();
        Ok(self)
    }

    /// The origin.
    #[must_use]
    pub fn origin(&self) -> &url::Url {
        &self.origin
    }
}

/// The ServiceNow client (placeholder).
#[derive(Clone, Debug)]
pub struct ServiceNowClient {
    origin: url::Url,
}

impl ServiceNowClient {
    /// A client.
    ///
    /// # Errors
    /// Never, in the placeholder.
    pub fn new(config: ServiceNowConfig) -> Result<Self, ConfigError> {
        let _ = (&config.username, &config.password, &config.options);
        Ok(Self {
            origin: config.origin,
        })
    }

    /// Request counts.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        let _ = &self.origin;
        ClientStats::default()
    }
}

#[async_trait]
impl ServiceNowApi for ServiceNowClient {
    async fn companies(&self, _page: PageRequest) -> Result<Page<Company>, ApiError> {
        Err(placeholder())
    }
    async fn company(&self, _id: &SysId) -> Result<Option<Company>, ApiError> {
        Err(placeholder())
    }
    async fn create_company(&self, _company: &NewCompany) -> Result<Company, ApiError> {
        Err(placeholder())
    }
    async fn customer_service_management(&self) -> Result<bool, ApiError> {
        Err(placeholder())
    }
    async fn customer_accounts(
        &self,
        _page: PageRequest,
    ) -> Result<Page<CustomerAccount>, ApiError> {
        Err(placeholder())
    }
    async fn customer_account(&self, _id: &SysId) -> Result<Option<CustomerAccount>, ApiError> {
        Err(placeholder())
    }
    async fn incidents(
        &self,
        _query: &IncidentQuery,
        _page: PageRequest,
    ) -> Result<Page<Incident>, ApiError> {
        Err(placeholder())
    }
    async fn create_incident(&self, _incident: &NewIncident) -> Result<Incident, ApiError> {
        Err(placeholder())
    }
    async fn update_incident(
        &self,
        _id: &SysId,
        _update: &IncidentUpdate,
    ) -> Result<Incident, ApiError> {
        Err(placeholder())
    }
    async fn identify_reconcile(
        &self,
        _data_source: &str,
        _items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        Err(placeholder())
    }
}
