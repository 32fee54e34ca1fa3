//! What `orgsync` reads from its surroundings: settings, credentials, clients, the state file.

use std::path::Path;
use std::sync::Arc;

use ninjaone_servicenow::clock::Clock;
use ninjaone_servicenow::http::Secret;
use ninjaone_servicenow::ports::{
    ConfigStore, NinjaOneApi, ServiceNowApi, StoreError, StoreErrorKind,
};

use super::webhook::{NinjaOneSettings, WebhookAdmin};
use super::{Exit, Failed};

/// What the program needs to reach NinjaOne and ServiceNow, read from the environment. The
/// secrets are [`Secret`]s: never printed.
#[derive(Debug)]
pub struct RemoteSettings {
    /// `NINJAONE_BASE_URL`: a region key or an origin.
    pub ninjaone_base: String,
    /// `NINJAONE_CLIENT_ID`.
    pub ninjaone_client_id: String,
    /// `NINJAONE_CLIENT_SECRET`.
    pub ninjaone_client_secret: Secret,
    /// `SERVICENOW_INSTANCE`: an instance name or an origin.
    pub servicenow_instance: String,
    /// How to authenticate to ServiceNow, chosen by which variables are set.
    pub servicenow_auth: ServiceNowAuth,
}

/// ServiceNow authentication, from the variables that are set:
///
/// | set | mode |
/// | --- | --- |
/// | `SERVICENOW_USERNAME`, `SERVICENOW_PASSWORD` | Basic |
/// | `SERVICENOW_CLIENT_ID`, `SERVICENOW_CLIENT_SECRET` | OAuth client credentials |
/// | all four | OAuth password grant |
#[derive(Debug)]
pub enum ServiceNowAuth {
    /// Basic authentication.
    Basic { username: String, password: Secret },
    /// The OAuth password grant.
    PasswordGrant {
        client_id: String,
        client_secret: Secret,
        username: String,
        password: Secret,
    },
    /// The OAuth client credentials grant.
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
}

impl ServiceNowAuth {
    /// The variables that hold this mode's credentials, for hints.
    pub fn variables(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "SERVICENOW_USERNAME and SERVICENOW_PASSWORD",
            Self::PasswordGrant { .. } => {
                "SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET, SERVICENOW_USERNAME and \
                 SERVICENOW_PASSWORD"
            }
            Self::ClientCredentials { .. } => "SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET",
        }
    }
}

/// The two remote APIs.
pub struct Remotes {
    pub ninjaone: Arc<dyn NinjaOneApi>,
    pub servicenow: Arc<dyn ServiceNowApi>,
}

/// Settings the environment refused to connect with (a refused origin, a bad instance name).
/// The message says what is wrong and contains no secret.
#[derive(Debug)]
pub struct SetupError(pub String);

/// Builds the HTTP clients for `settings`; sends no request. A refused origin or instance name
/// is a [`SetupError`] saying why.
pub fn connect_http(settings: &RemoteSettings) -> Result<Remotes, SetupError> {
    use ninjaone_servicenow::http::{
        NinjaOneClient, NinjaOneConfig, ServiceNowClient, ServiceNowConfig,
    };
    let refused = |err: ninjaone_servicenow::http::ConfigError| SetupError(err.to_string());
    let ninjaone = NinjaOneConfig::new(
        &settings.ninjaone_base,
        settings.ninjaone_client_id.clone(),
        settings.ninjaone_client_secret.clone(),
    )
    .and_then(NinjaOneClient::new)
    .map_err(refused)?;
    let instance = &settings.servicenow_instance;
    let servicenow = match &settings.servicenow_auth {
        ServiceNowAuth::Basic { username, password } => {
            ServiceNowConfig::basic(instance, username.clone(), password.clone())
        }
        ServiceNowAuth::PasswordGrant {
            client_id,
            client_secret,
            username,
            password,
        } => ServiceNowConfig::oauth_password(
            instance,
            client_id.clone(),
            client_secret.clone(),
            username.clone(),
            password.clone(),
        ),
        ServiceNowAuth::ClientCredentials {
            client_id,
            client_secret,
        } => ServiceNowConfig::oauth_client_credentials(
            instance,
            client_id.clone(),
            client_secret.clone(),
        ),
    }
    .and_then(ServiceNowClient::new)
    .map_err(refused)?;
    Ok(Remotes {
        ninjaone: Arc::new(ninjaone),
        servicenow: Arc::new(servicenow),
    })
}

/// What the program gets from its surroundings. `main` implements it with the HTTP clients, a
/// [`JsonFileStore`](ninjaone_servicenow::store::JsonFileStore) and the system clock; the tests
/// with the fakes.
pub trait Environment {
    /// An environment variable.
    fn var(&self, name: &str) -> Option<String>;
    /// Builds the API clients. Must not send any request.
    fn connect(&self, settings: &RemoteSettings) -> Result<Remotes, SetupError>;
    /// Builds the NinjaOne client of `webhook register|delete` (the management scope). Must
    /// not send any request.
    fn connect_webhooks(
        &self,
        settings: &NinjaOneSettings,
    ) -> Result<Arc<dyn WebhookAdmin>, SetupError>;
    /// Opens the state store at `path`.
    fn open_store(&self, path: &Path) -> Result<Arc<dyn ConfigStore>, StoreError>;
    /// The clock.
    fn clock(&self) -> Arc<dyn Clock>;
    /// Whether standard error is a terminal (a progress indicator is shown only then).
    fn stderr_is_terminal(&self) -> bool;
}

/// Reads the remote settings; a missing variable is a usage error naming it.
/// The variable `name`, which must be set and not blank; otherwise a usage error saying to set
/// it to `what`.
pub(super) fn required_var(
    env: &dyn Environment,
    name: &str,
    what: &str,
) -> Result<String, Failed> {
    env.var(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            Failed::new(Exit::Usage, format!("{name} is not set")).hint(format!(
                "set {name} to {what} (see `orgsync --help`, section Environment)"
            ))
        })
}

pub(super) fn settings(env: &dyn Environment) -> Result<RemoteSettings, Failed> {
    let var = |name: &str, what: &str| required_var(env, name, what);
    Ok(RemoteSettings {
        ninjaone_base: var(
            "NINJAONE_BASE_URL",
            "a region key (us, eu, oc, ca, us2, fed) or an https origin",
        )?,
        ninjaone_client_id: var("NINJAONE_CLIENT_ID", "the NinjaOne API client id")?,
        ninjaone_client_secret: Secret::new(var(
            "NINJAONE_CLIENT_SECRET",
            "the NinjaOne API client secret",
        )?),
        servicenow_instance: var(
            "SERVICENOW_INSTANCE",
            "an instance name (acme) or an https origin",
        )?,
        servicenow_auth: servicenow_auth(env)?,
    })
}

/// Chooses the ServiceNow authentication from the variables that are set (see
/// [`ServiceNowAuth`]); a half-set pair is a usage error naming the missing variable.
pub(super) fn servicenow_auth(env: &dyn Environment) -> Result<ServiceNowAuth, Failed> {
    let get = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
    let pair = |first: &str, second: &str, what: &str| match (get(first), get(second)) {
        (Some(a), Some(b)) => Ok(Some((a, Secret::new(b)))),
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => {
            let missing = if get(first).is_none() { first } else { second };
            Err(
                Failed::new(Exit::Usage, format!("{missing} is not set")).hint(format!(
                    "{first} and {second} ({what}) go together: set both, or neither (see \
                 `orgsync --help`, section Environment)"
                )),
            )
        }
    };
    let user = pair(
        "SERVICENOW_USERNAME",
        "SERVICENOW_PASSWORD",
        "the integration user and its password",
    )?;
    let client = pair(
        "SERVICENOW_CLIENT_ID",
        "SERVICENOW_CLIENT_SECRET",
        "an OAuth application's client id and secret",
    )?;
    match (user, client) {
        (Some((username, password)), None) => Ok(ServiceNowAuth::Basic { username, password }),
        (None, Some((client_id, client_secret))) => Ok(ServiceNowAuth::ClientCredentials {
            client_id,
            client_secret,
        }),
        (Some((username, password)), Some((client_id, client_secret))) => {
            Ok(ServiceNowAuth::PasswordGrant {
                client_id,
                client_secret,
                username,
                password,
            })
        }
        (None, None) => Err(
            Failed::new(Exit::Usage, "SERVICENOW_USERNAME is not set").hint(
                "set SERVICENOW_USERNAME and SERVICENOW_PASSWORD (Basic), or SERVICENOW_CLIENT_ID \
             and SERVICENOW_CLIENT_SECRET (OAuth client credentials), or all four (OAuth \
             password grant); see `orgsync --help`, section Environment",
            ),
        ),
    }
}

pub(super) fn store_failure(path: &Path, err: &StoreError) -> Failed {
    let shown = path.display();
    match err.kind() {
        StoreErrorKind::Locked => Failed::new(
            Exit::Failure,
            format!("the state file {shown} is in use by another orgsync process"),
        )
        .hint("wait for the other run to finish (its lock is released when it exits), then try again"),
        StoreErrorKind::Corrupt => Failed::new(
            Exit::Failure,
            format!("the state file {shown} cannot be read: {err}"),
        )
        .hint("restore it from a backup or move it aside; orgsync never overwrites a file it cannot read"),
        _ => Failed::new(
            Exit::Failure,
            format!("the state file {shown} could not be opened: {err}"),
        )
        .hint("check that its directory exists and is writable, or set ORGSYNC_STATE"),
    }
}
