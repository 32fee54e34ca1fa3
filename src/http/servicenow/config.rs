//! [`ServiceNowConfig`]: the instance and its credentials (Basic, OAuth password or client
//! credentials), checked before any client is built.

use url::Url;

use crate::http::error::ConfigError;
use crate::http::options::HttpOptions;
use crate::http::origin::{AllowedHosts, servicenow_origin};
use crate::http::secret::Secret;

#[derive(Clone, Debug)]
pub(super) enum Credentials {
    Basic {
        username: String,
        password: Secret,
    },
    OAuthPassword {
        client_id: String,
        client_secret: Secret,
        username: String,
        password: Secret,
    },
    OAuthClient {
        client_id: String,
        client_secret: Secret,
    },
}

impl Credentials {
    /// Every secret this configuration holds, and the user name it sends with one (so the
    /// scrubber also knows `user:password` as Basic puts it on the wire).
    pub(super) fn secrets(&self) -> Vec<Secret> {
        match self {
            Self::Basic { username, password } => vec![
                password.clone(),
                Secret::new(format!("{username}:{}", password.expose())),
            ],
            Self::OAuthPassword {
                client_secret,
                password,
                ..
            } => vec![client_secret.clone(), password.clone()],
            Self::OAuthClient { client_secret, .. } => vec![client_secret.clone()],
        }
    }

    /// How the configuration authenticates, for `Debug`.
    pub(super) fn describe(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Basic { username, .. } => ("basic", Some(username)),
            Self::OAuthPassword { username, .. } => ("oauth password grant", Some(username)),
            Self::OAuthClient { .. } => ("oauth client credentials", None),
        }
    }
}

pub(super) fn not_empty(value: &str, what: &'static str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::EmptyCredential { what })
    } else {
        Ok(())
    }
}

/// How to reach and authenticate to a ServiceNow instance. `Debug` shows no secret.
///
/// ```
/// use ninjaone_servicenow::http::{Secret, ServiceNowConfig};
/// let config = ServiceNowConfig::basic("acme", "integration", Secret::new("pw"))?
///     .allowed_hosts(["*.service-now.com"])?;
/// assert_eq!(config.origin().as_str(), "https://acme.service-now.com/");
/// // A look-alike is neither a bare instance name nor an allowed host.
/// assert!(ServiceNowConfig::basic("acme.service-now.com.evil.com", "u", Secret::new("pw")).is_err());
/// assert!(
///     ServiceNowConfig::basic("https://evilservice-now.com", "u", Secret::new("pw"))?
///         .allowed_hosts(["*.service-now.com"])
///         .is_err()
/// );
/// # Ok::<(), ninjaone_servicenow::http::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServiceNowConfig {
    pub(super) origin: Url,
    pub(super) credentials: Credentials,
    pub(super) options: HttpOptions,
    pub(super) allowed_hosts: AllowedHosts,
}

impl ServiceNowConfig {
    /// Basic authentication. `instance`: a bare instance name (`[a-z0-9-]+`, expanded to
    /// `https://NAME.service-now.com`) or an origin (https, or http on a loopback host).
    ///
    /// # Errors
    /// [`ConfigError`] when the instance is refused or a credential is empty.
    pub fn basic(
        instance: &str,
        username: impl Into<String>,
        password: Secret,
    ) -> Result<Self, ConfigError> {
        let origin = servicenow_origin(instance)?;
        let username = username.into();
        not_empty(&username, "user name")?;
        not_empty(password.expose(), "password")?;
        Ok(Self {
            origin,
            credentials: Credentials::Basic { username, password },
            options: HttpOptions::default(),
            allowed_hosts: AllowedHosts::default(),
        })
    }

    /// The OAuth2 password grant at `/oauth_token.do`, with refresh. `instance` as for
    /// [`basic`](Self::basic).
    ///
    /// # Errors
    /// [`ConfigError`] when the instance is refused or a credential is empty.
    pub fn oauth_password(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        username: impl Into<String>,
        password: Secret,
    ) -> Result<Self, ConfigError> {
        let origin = servicenow_origin(instance)?;
        let client_id = client_id.into();
        let username = username.into();
        not_empty(&client_id, "client id")?;
        not_empty(client_secret.expose(), "client secret")?;
        not_empty(&username, "user name")?;
        not_empty(password.expose(), "password")?;
        Ok(Self {
            origin,
            credentials: Credentials::OAuthPassword {
                client_id,
                client_secret,
                username,
                password,
            },
            options: HttpOptions::default(),
            allowed_hosts: AllowedHosts::default(),
        })
    }

    /// The OAuth2 client credentials grant (`grant_type=client_credentials` at
    /// `/oauth_token.do`): an OAuth application's client id and secret, no user password. The
    /// token is cached and refreshed like the password grant's. `instance` as for
    /// [`basic`](Self::basic).
    ///
    /// ServiceNow offers this grant from the Washington DC release on, and only when the
    /// instance enables it (system property
    /// `glide.oauth.inbound.client.credential.grant_type.enabled`); the OAuth application's
    /// user (its "OAuth Application User") is the identity the calls run as.
    ///
    /// ```
    /// use ninjaone_servicenow::http::{Secret, ServiceNowConfig};
    /// let config =
    ///     ServiceNowConfig::oauth_client_credentials("acme", "client-id", Secret::new("s3cret"))?;
    /// assert!(!format!("{config:?}").contains("s3cret"));
    /// # Ok::<(), ninjaone_servicenow::http::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError`] when the instance is refused or a credential is empty.
    pub fn oauth_client_credentials(
        instance: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self, ConfigError> {
        let origin = servicenow_origin(instance)?;
        let client_id = client_id.into();
        not_empty(&client_id, "client id")?;
        not_empty(client_secret.expose(), "client secret")?;
        Ok(Self {
            origin,
            credentials: Credentials::OAuthClient {
                client_id,
                client_secret,
            },
            options: HttpOptions::default(),
            allowed_hosts: AllowedHosts::default(),
        })
    }

    /// Transport options.
    #[must_use]
    pub fn options(mut self, options: impl Into<HttpOptions>) -> Self {
        self.options = options.into();
        self
    }

    /// Restricts the origin's host to an allow-list of exact hosts and `*.suffix` wildcards,
    /// matched on label boundaries (`*.service-now.com` admits `acme.service-now.com`, not
    /// `evilservice-now.com` nor `service-now.com.evil.com`).
    ///
    /// # Errors
    /// [`ConfigError::AllowedHost`] for a malformed entry; [`ConfigError::HostNotAllowed`] when
    /// the origin's host is not in the list.
    pub fn allowed_hosts(
        mut self,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, ConfigError> {
        let allowed = AllowedHosts::parse(hosts.into_iter().map(Into::into))?;
        allowed.check(&self.origin)?;
        self.allowed_hosts = allowed;
        Ok(self)
    }

    /// The origin requests go to.
    pub fn origin(&self) -> &Url {
        &self.origin
    }
}
