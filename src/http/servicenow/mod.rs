//! [`ServiceNowClient`]: the ServiceNow Table API and the Identification and Reconciliation API
//! over HTTP.

mod api;
mod cmdb;
mod config;
mod errors;
mod tables;

pub use config::ServiceNowConfig;

use std::fmt;
use std::sync::Arc;

use url::Url;

use super::call::{Auth, Call, Reply, encode_pairs};
use super::error::ConfigError;
use super::retry::ClientStats;
use super::secret::Secret;
use super::token::{Token, TokenCache};
use super::transport::Transport;
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind};
use config::Credentials;
use errors::{decode_error, decode_token_error};

const SERVICE: Remote = Remote::ServiceNow;
const TOKEN_PATH: &str = "/oauth_token.do";

/// The ServiceNow Table API and the Identification and Reconciliation API
/// ([`ServiceNowApi`](crate::ports::ServiceNowApi)) over HTTP.
///
/// Every list asks for an explicit `sysparm_limit`, the model's `sysparm_fields` and
/// `sysparm_exclude_reference_link=true`, and pages by key (`sys_id>LAST^ORDERBYsys_id`): one
/// [`PageRequest`](crate::ports::PageRequest) is one request, and the cursor is the last sys_id of the page. Queries are
/// built only by [`EncodedQuery`](crate::http::EncodedQuery), so no free text reaches `sysparm_query`. The error envelope is
/// decoded on every status; an HTML answer (a hibernating instance, a single-sign-on page) is an
/// [`InvalidResponse`](ApiErrorKind::InvalidResponse) that says so. Clones share the connection
/// pool, the token, the concurrency limit and the counters.
///
/// Needs a tokio runtime (with timers) to run its futures.
#[derive(Clone, Debug)]
pub struct ServiceNowClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    credentials: Credentials,
    tokens: TokenCache,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (auth, user) = self.credentials.describe();
        let mut out = f.debug_struct("ServiceNowClient");
        out.field("origin", &self.transport.origin().as_str())
            .field("auth", &auth);
        if let Some(user) = user {
            out.field("username", &user);
        }
        out.field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl ServiceNowClient {
    /// A client for `config`. Sends nothing yet.
    ///
    /// # Errors
    /// [`ConfigError::Client`] when the HTTP client cannot be built.
    pub fn new(config: ServiceNowConfig) -> Result<Self, ConfigError> {
        config.allowed_hosts.check(&config.origin)?;
        let transport = Transport::new(
            SERVICE,
            config.origin,
            config.options,
            config.credentials.secrets(),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                credentials: config.credentials,
                tokens: TokenCache::default(),
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

    /// One token request; `refresh` is the refresh token the form carries, if any, so that an
    /// answer echoing it is scrubbed too.
    async fn grant(&self, form: String, refresh: Option<&Secret>) -> Result<Token, ApiError> {
        let call = Call::token(TOKEN_PATH, form);
        let reply = self
            .inner
            .transport
            .send_scrubbing(&call, Auth::None, decode_token_error, refresh)
            .await?;
        let value = reply.json(SERVICE, &call.describe())?;
        Token::from_response(&value, SERVICE)
    }

    /// The OAuth access token: cached; refreshed with the refresh token when there is one, by the
    /// configured grant (password or client credentials) otherwise, or when the refresh is
    /// refused.
    async fn token(&self) -> Result<Secret, ApiError> {
        let (client_id, client_secret, user) = match &self.inner.credentials {
            Credentials::OAuthPassword {
                client_id,
                client_secret,
                username,
                password,
            } => (client_id, client_secret, Some((username, password))),
            Credentials::OAuthClient {
                client_id,
                client_secret,
            } => (client_id, client_secret, None),
            Credentials::Basic { .. } => {
                return Err(ApiError::new(
                    ApiErrorKind::Other,
                    "this ServiceNow client uses Basic authentication, not OAuth",
                ));
            }
        };
        self.inner
            .tokens
            .get(|refresh| async move {
                if let Some(refresh) = refresh {
                    let form = encode_pairs([
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.expose()),
                        ("client_id", client_id.as_str()),
                        ("client_secret", client_secret.expose()),
                    ]);
                    match self.grant(form, Some(&refresh)).await {
                        Ok(mut token) => {
                            if token.refresh.is_none() {
                                token.refresh = Some(refresh);
                            }
                            return Ok(token);
                        }
                        Err(e) if e.kind().is_transient() => return Err(e),
                        Err(e) => {
                            tracing::debug!(error = %e.kind(), "refresh refused; using the configured grant");
                        }
                    }
                }
                let form = match user {
                    Some((username, password)) => encode_pairs([
                        ("grant_type", "password"),
                        ("client_id", client_id.as_str()),
                        ("client_secret", client_secret.expose()),
                        ("username", username.as_str()),
                        ("password", password.expose()),
                    ]),
                    None => encode_pairs([
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id.as_str()),
                        ("client_secret", client_secret.expose()),
                    ]),
                };
                self.grant(form, None).await
            })
            .await
    }

    /// Sends an authenticated call; with OAuth, after a 401 fetches a new token once and sends
    /// it again.
    async fn send(&self, call: &Call) -> Result<Reply, ApiError> {
        let transport = &self.inner.transport;
        match &self.inner.credentials {
            Credentials::Basic { username, password } => {
                transport
                    .send(
                        call,
                        Auth::Basic {
                            user: username,
                            password,
                        },
                        decode_error,
                    )
                    .await
            }
            Credentials::OAuthPassword { .. } | Credentials::OAuthClient { .. } => {
                transport
                    .send_bearer(
                        call,
                        &self.inner.tokens,
                        || self.token(),
                        decode_error,
                        None,
                    )
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests;
