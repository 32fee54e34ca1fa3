//! `orgsync webhook register|delete`: NinjaOne's webhook configuration, and the webhook secret
//! that `serve` checks.
//!
//! These commands need only the NinjaOne settings and `ORGSYNC_WEBHOOK_SECRET`: they open no
//! state file (so they run while `serve` holds its lock) and need no ServiceNow settings.

use std::sync::Arc;

use async_trait::async_trait;
use ninjaone_servicenow::engine::webhook::WebhookSecret;
use ninjaone_servicenow::http::{
    DEFAULT_EXPAND, DEFAULT_STATUS_CODES, NinjaOneClient, NinjaOneConfig, Secret,
    WebhookRegistration,
};
use ninjaone_servicenow::ports::{ApiError, ApiErrorKind};
use serde::Serialize;

use super::environment::required_var;
use super::{Environment, Exit, Failed, Io, SetupError, Verbosity, json_line};

/// The variable that holds the webhook secret.
pub const SECRET_VARIABLE: &str = "ORGSYNC_WEBHOOK_SECRET";

/// What the webhook commands need to reach NinjaOne. The secret is a [`Secret`].
#[derive(Debug)]
pub struct NinjaOneSettings {
    /// `NINJAONE_BASE_URL`.
    pub base: String,
    /// `NINJAONE_CLIENT_ID`.
    pub client_id: String,
    /// `NINJAONE_CLIENT_SECRET`.
    pub client_secret: Secret,
}

/// NinjaOne's webhook configuration calls (the management scope).
#[async_trait]
pub trait WebhookAdmin: Send + Sync {
    /// `PUT /v2/webhook`.
    async fn register(&self, registration: &WebhookRegistration) -> Result<(), ApiError>;
    /// `DELETE /v2/webhook`.
    async fn delete(&self) -> Result<(), ApiError>;
}

#[async_trait]
impl WebhookAdmin for NinjaOneClient {
    async fn register(&self, registration: &WebhookRegistration) -> Result<(), ApiError> {
        self.register_webhook(registration).await
    }

    async fn delete(&self) -> Result<(), ApiError> {
        self.delete_webhook().await
    }
}

/// Builds the NinjaOne client for the webhook commands; sends no request.
pub fn connect_webhooks_http(
    settings: &NinjaOneSettings,
) -> Result<Arc<dyn WebhookAdmin>, SetupError> {
    let client = NinjaOneConfig::new(
        &settings.base,
        settings.client_id.clone(),
        settings.client_secret.clone(),
    )
    .and_then(NinjaOneClient::new)
    .map_err(|err| SetupError(err.to_string()))?;
    Ok(Arc::new(client))
}

/// `ORGSYNC_WEBHOOK_SECRET`: required, at least 16 bytes. Never printed.
pub(super) fn secret(env: &dyn Environment) -> Result<WebhookSecret, Failed> {
    let value = env
        .var(SECRET_VARIABLE)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            Failed::new(Exit::Usage, format!("{SECRET_VARIABLE} is not set")).hint(format!(
                "set {SECRET_VARIABLE} to a random value of at least 16 characters (for \
                 example `openssl rand -hex 32`); NinjaOne sends it with every delivery and \
                 `orgsync serve` refuses deliveries without it"
            ))
        })?;
    let secret = WebhookSecret::from(value.trim().to_owned());
    if !secret.is_strong() {
        return Err(Failed::new(
            Exit::Usage,
            format!("{SECRET_VARIABLE} is too short to be a secret"),
        )
        .hint("use at least 16 random characters (for example `openssl rand -hex 32`)"));
    }
    Ok(secret)
}

fn ninjaone_settings(env: &dyn Environment) -> Result<NinjaOneSettings, Failed> {
    let var = |name: &str, what: &str| required_var(env, name, what);
    Ok(NinjaOneSettings {
        base: var(
            "NINJAONE_BASE_URL",
            "a region key (us, eu, oc, ca, us2, fed) or an https origin",
        )?,
        client_id: var("NINJAONE_CLIENT_ID", "the NinjaOne API client id")?,
        client_secret: Secret::new(var(
            "NINJAONE_CLIENT_SECRET",
            "the NinjaOne API client secret",
        )?),
    })
}

/// `--json` of `webhook register` and `webhook delete`.
#[derive(Serialize)]
struct WebhookJson<'a> {
    action: &'static str,
    url: Option<&'a str>,
    status_codes: Vec<&'static str>,
    expand: Vec<&'static str>,
    header: Option<&'a str>,
}

fn api_failure(action: &str, err: &ApiError) -> Failed {
    let message = format!(
        "the webhook could not be {action}: {}",
        super::error_chain(err)
    );
    let hint = match err.kind() {
        ApiErrorKind::Forbidden => {
            "allow the management scope on the NinjaOne API application (webhooks need a \
             system administrator's application); orgsync asks for it only for these commands"
        }
        kind if kind.is_auth() => "check NINJAONE_CLIENT_ID and NINJAONE_CLIENT_SECRET",
        kind if kind.is_transient() => "NinjaOne is busy or unreachable; try again later",
        _ => "check NINJAONE_BASE_URL and the URL given",
    };
    Failed::new(Exit::Failure, message).hint(hint)
}

/// Runs `webhook register --url URL` (`url` given) or `webhook delete` (`None`).
pub(super) async fn run(
    url: Option<&str>,
    json: bool,
    verbosity: Verbosity,
    env: &dyn Environment,
    io: &mut Io<'_>,
) -> Result<Exit, Failed> {
    let secret = secret(env)?;
    let settings = ninjaone_settings(env)?;
    let registration = url
        .map(|url| {
            WebhookRegistration::new(url, Secret::new(secret.expose())).map_err(|err| {
                Failed::new(Exit::Usage, err.to_string()).hint(
                    "give the public https URL of `orgsync serve`, such as \
                     https://orgsync.example.com/ninjaone/webhook; no request was sent",
                )
            })
        })
        .transpose()?;
    let admin = env.connect_webhooks(&settings).map_err(|err| {
        Failed::new(
            Exit::Usage,
            format!("the connection settings are refused: {}", err.0),
        )
        .hint("fix NINJAONE_BASE_URL; no request was sent")
    })?;
    let line = if let Some(registration) = &registration {
        admin
            .register(registration)
            .await
            .map_err(|e| api_failure("registered", &e))?;
        format!(
            "Webhook registered: NinjaOne posts {} activities to {} with the secret in header \
             {}.",
            DEFAULT_STATUS_CODES.join(" and "),
            registration.url(),
            registration.secret_header()
        )
    } else {
        admin
            .delete()
            .await
            .map_err(|e| api_failure("deleted", &e))?;
        "Webhook registration deleted: NinjaOne posts no more activities.".to_owned()
    };
    if json {
        json_line(
            io,
            &WebhookJson {
                action: if registration.is_some() {
                    "register"
                } else {
                    "delete"
                },
                url: registration.as_ref().map(|r| r.url().as_str()),
                status_codes: registration
                    .as_ref()
                    .map(|_| DEFAULT_STATUS_CODES.to_vec())
                    .unwrap_or_default(),
                expand: registration
                    .as_ref()
                    .map(|_| DEFAULT_EXPAND.to_vec())
                    .unwrap_or_default(),
                header: registration
                    .as_ref()
                    .map(WebhookRegistration::secret_header),
            },
        )?;
    } else if verbosity != Verbosity::Quiet {
        let _ = writeln!(io.out, "{line}");
    }
    Ok(Exit::Done)
}
