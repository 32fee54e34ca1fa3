//! [`ServiceNowClient`]: the ServiceNow Table API and the Identification and Reconciliation API
//! over HTTP.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::call::{Auth, Body, Call, Reply, encode_pairs, json_type, reply_kind, text_snippet};
use super::error::{ConfigError, prefix};
use super::options::HttpOptions;
use super::origin::{AllowedHosts, servicenow_origin};
use super::query::{EncodedQuery, Plugin, QueryError};
use super::retry::{ClientStats, Counted, Replay};
use super::secret::{Scrubber, Secret};
use super::token::{Token, TokenCache};
use super::transport::Transport;
use crate::model::{
    Case, CaseUpdate, CiItem, CiItemError, CiItemResult, CiOwner, Company, CustomerAccount,
    Incident, IncidentUpdate, NewCase, NewCompany, NewIncident, SysId, User, UserGroup,
    decode_rows,
};
use crate::ports::Remote;
use crate::ports::{
    ApiError, ApiErrorKind, Cursor, IncidentQuery, Page, PageRequest, ServiceNowApi,
};

const SERVICE: Remote = Remote::ServiceNow;
const TOKEN_PATH: &str = "/oauth_token.do";

/// The tables this client reads and writes, with the fields it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Company,
    CustomerAccount,
    Incident,
    Case,
    Plugin,
    UserGroup,
    User,
}

impl Table {
    const fn name(self) -> &'static str {
        match self {
            Self::Company => "core_company",
            Self::CustomerAccount => "customer_account",
            Self::Incident => "incident",
            Self::Case => "sn_customerservice_case",
            Self::Plugin => "v_plugin",
            Self::UserGroup => "sys_user_group",
            Self::User => "sys_user",
        }
    }

    /// What a row is called in messages.
    const fn noun(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::CustomerAccount => "customer account",
            Self::Incident => "incident",
            Self::Case => "case",
            Self::Plugin => "plugin",
            Self::UserGroup => "group",
            Self::User => "user",
        }
    }

    /// `sysparm_fields`: the fields the model reads.
    const fn fields(self) -> &'static str {
        match self {
            Self::Company => {
                "sys_id,name,customer,vendor,manufacturer,parent,sys_created_on,sys_updated_on"
            }
            Self::CustomerAccount => {
                "sys_id,name,number,customer,partner,account_code,account_parent,sys_created_on,\
                 sys_updated_on"
            }
            Self::Incident => {
                "sys_id,number,state,short_description,description,company,account,cmdb_ci,\
                 correlation_id,correlation_display,urgency,impact,assignment_group,caller_id,\
                 category,subcategory,contact_type,close_code,close_notes,sys_created_on,\
                 sys_updated_on"
            }
            Self::Case => {
                "sys_id,number,state,short_description,description,account,company,cmdb_ci,\
                 correlation_id,correlation_display,urgency,impact,assignment_group,category,\
                 subcategory,contact_type,resolution_code,close_notes,sys_created_on,\
                 sys_updated_on"
            }
            Self::Plugin => "id,active",
            Self::UserGroup => "sys_id,name,active",
            Self::User => "sys_id,user_name,name,active",
        }
    }

    fn path(self) -> String {
        format!("/api/now/table/{}", self.name())
    }

    fn row_path(self, id: &SysId) -> String {
        format!("/api/now/table/{}/{id}", self.name())
    }
}

#[derive(Clone, Debug)]
enum Credentials {
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
    fn secrets(&self) -> Vec<Secret> {
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
    fn describe(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Basic { username, .. } => ("basic", Some(username)),
            Self::OAuthPassword { username, .. } => ("oauth password grant", Some(username)),
            Self::OAuthClient { .. } => ("oauth client credentials", None),
        }
    }
}

fn not_empty(value: &str, what: &'static str) -> Result<(), ConfigError> {
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
    origin: Url,
    credentials: Credentials,
    options: HttpOptions,
    allowed_hosts: AllowedHosts,
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

/// The ServiceNow Table API and the Identification and Reconciliation API
/// ([`ServiceNowApi`]) over HTTP.
///
/// Every list asks for an explicit `sysparm_limit`, the model's `sysparm_fields` and
/// `sysparm_exclude_reference_link=true`, and pages by key (`sys_id>LAST^ORDERBYsys_id`): one
/// [`PageRequest`] is one request, and the cursor is the last sys_id of the page. Queries are
/// built only by [`EncodedQuery`], so no free text reaches `sysparm_query`. The error envelope is
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
        let call = Call {
            method: Method::POST,
            path: TOKEN_PATH.to_owned(),
            query: Vec::new(),
            body: Body::Form(form),
            counted: Counted::Token,
            replay: Replay::Safe,
            not_found_ok: false,
        };
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
                let token = self.token().await?;
                match transport
                    .send(call, Auth::Bearer(&token), decode_error)
                    .await
                {
                    Err(e) if e.kind() == ApiErrorKind::Unauthorized => {
                        tracing::debug!(path = %call.path, "token refused; fetching a new one");
                        self.inner.tokens.invalidate(&token).await;
                        let fresh = self.token().await?;
                        transport
                            .send(call, Auth::Bearer(&fresh), decode_error)
                            .await
                    }
                    other => other,
                }
            }
        }
    }

    /// One page of `table` matching `query`, paged by key.
    async fn list<T: DeserializeOwned>(
        &self,
        table: Table,
        query: EncodedQuery,
        page: &PageRequest,
    ) -> Result<Page<T>, ApiError> {
        let query = match page.after() {
            Some(cursor) => query
                .sys_id_after_str(cursor.as_str())
                .map_err(refused_query)?,
            None => query,
        }
        .order_by_sys_id();
        let limit = page.limit();
        let call = Call::get(
            table.path(),
            vec![
                ("sysparm_query", query.to_string()),
                ("sysparm_limit", limit.to_string()),
                ("sysparm_fields", table.fields().to_owned()),
                ("sysparm_exclude_reference_link", "true".to_owned()),
            ],
        );
        let what = call.describe();
        let reply = self.send(&call).await?;
        let rows = match result(reply.json(SERVICE, &what)?, &what)? {
            Value::Array(rows) => rows,
            other => {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!(
                        "ServiceNow answered {what} with a {} result where a list was expected",
                        json_type(&other)
                    ),
                ));
            }
        };
        // A page shorter than asked ends the listing, unless the server capped the limit and
        // says there is more (`Link: <..>; rel="next"`).
        let full = !rows.is_empty() && (rows.len() >= limit as usize || link_has_next(&reply));
        let last = rows.iter().rev().find_map(|row| {
            row.get("sys_id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<SysId>().ok())
        });
        let (items, rejected) = decode_rows::<T>(Value::Array(rows));
        let next = if full {
            let Some(last) = last else {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!(
                        "ServiceNow answered {what} with a full page in which no row has a valid \
                         sys_id; paging cannot continue, and the listing is not complete"
                    ),
                ));
            };
            Some(Cursor::new(last.as_str()))
        } else {
            None
        };
        Ok(Page::new(items, next).with_rejected(rejected))
    }

    /// One row; `None` when the table has no row with this sys_id.
    async fn row<T: DeserializeOwned>(
        &self,
        table: Table,
        id: &SysId,
    ) -> Result<Option<T>, ApiError> {
        let call = Call::get(
            table.row_path(id),
            vec![
                ("sysparm_fields", table.fields().to_owned()),
                ("sysparm_exclude_reference_link", "true".to_owned()),
            ],
        )
        .not_found_ok();
        let what = call.describe();
        let reply = self.send(&call).await?;
        if reply.status == StatusCode::NOT_FOUND {
            if reply.is_html() {
                return Err(reply.json(SERVICE, &what).err().unwrap_or_else(|| {
                    ApiError::new(ApiErrorKind::InvalidResponse, "HTML answer")
                }));
            }
            return Ok(None);
        }
        let value = result(reply.json(SERVICE, &what)?, &what)?;
        serde_json::from_value(value).map(Some).map_err(|e| {
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "ServiceNow answered {what} with a {} that cannot be read: {e}",
                    table.noun()
                ),
            )
        })
    }

    /// Creates a row (never re-sent after an unknown failure).
    async fn create<T: DeserializeOwned>(
        &self,
        table: Table,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        let call = Call {
            method: Method::POST,
            path: table.path(),
            query: vec![
                ("sysparm_fields", table.fields().to_owned()),
                ("sysparm_exclude_reference_link", "true".to_owned()),
            ],
            body: Body::Json(json_body(body, table)?),
            counted: Counted::Write,
            replay: Replay::Unsafe,
            not_found_ok: false,
        };
        let what = call.describe();
        let noun = table.noun();
        let reply = self.send(&call).await?;
        let read = |e: String| {
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "the {noun} was created, but ServiceNow's answer to {what} cannot be read \
                     ({e}); look it up before creating it again"
                ),
            )
        };
        let value = reply
            .json(SERVICE, &what)
            .and_then(|v| result(v, &what))
            .map_err(|e| read(e.message().to_owned()))?;
        serde_json::from_value(value).map_err(|e| read(e.to_string()))
    }

    /// Changes a row. A PATCH that only sets fields is replay-safe; one that adds a journal
    /// entry (`work_notes`) is not — each PATCH appends one — so `replay` says which.
    async fn update<T: DeserializeOwned>(
        &self,
        table: Table,
        id: &SysId,
        body: &impl Serialize,
        replay: Replay,
    ) -> Result<T, ApiError> {
        let call = Call {
            method: Method::PATCH,
            path: table.row_path(id),
            query: vec![
                ("sysparm_fields", table.fields().to_owned()),
                ("sysparm_exclude_reference_link", "true".to_owned()),
            ],
            body: Body::Json(json_body(body, table)?),
            counted: Counted::Write,
            replay,
            not_found_ok: false,
        };
        let what = call.describe();
        let reply = self.send(&call).await?;
        let value = result(reply.json(SERVICE, &what)?, &what)?;
        serde_json::from_value(value).map_err(|e| {
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "the {} was changed, but ServiceNow's answer to {what} cannot be read: {e}",
                    table.noun()
                ),
            )
        })
    }

    /// One Identification and Reconciliation request (`commit`: a write, else the dry run).
    ///
    /// Each item's answer is decoded on its own (an item that cannot be read becomes a failed
    /// item with the reason, not a failed call). An HTTP 400 whose body is a `result` envelope
    /// carries item errors (an invalid data source fails every item): they are returned per
    /// item, with ServiceNow's messages. A `result` with `errors` but no `items` applies those
    /// errors to every item.
    async fn ire(
        &self,
        path: &str,
        data_source: &str,
        items: &[CiItem],
        commit: bool,
    ) -> Result<Vec<CiItemResult>, ApiError> {
        check_data_source(data_source)?;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let body = serde_json::to_vec(&IreRequest { items }).map_err(|e| {
            ApiError::new(
                ApiErrorKind::Other,
                format!("the configuration items could not be encoded as JSON: {e}"),
            )
        })?;
        let call = Call {
            method: Method::POST,
            path: path.to_owned(),
            query: vec![("sysparm_data_source", data_source.to_owned())],
            body: Body::Json(body),
            counted: if commit {
                Counted::Write
            } else {
                Counted::Read
            },
            replay: if commit { Replay::Unsafe } else { Replay::Safe },
            not_found_ok: false,
        };
        let what = call.describe();
        let unreadable = |why: String| {
            let state = if commit {
                "they may have been written, send them again to learn their state"
            } else {
                "nothing was written (a dry run)"
            };
            ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "{} configuration items were sent, but ServiceNow's answer to {what} cannot \
                     be read ({why}); {state}",
                    items.len()
                ),
            )
        };
        let value = match self.send(&call).await {
            Ok(reply) => reply
                .json(SERVICE, &what)
                .and_then(|v| result(v, &what))
                .map_err(|e| unreadable(e.message().to_owned()))?,
            Err(err) => match item_errors_of(&err) {
                Some(envelope) => envelope.0.clone(),
                None => return Err(err),
            },
        };
        decode_ire_items(value, items.len()).map_err(unreadable)
    }

    fn ticket_query(query: &IncidentQuery) -> Result<EncodedQuery, ApiError> {
        let q = EncodedQuery::new().correlation_id_starts_with(&query.prefix);
        match query.created_since {
            Some(since) => q.created_on_or_after(since).map_err(refused_query),
            None => Ok(q),
        }
    }
}

fn json_body(body: &impl Serialize, table: Table) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body).map_err(|e| {
        ApiError::new(
            ApiErrorKind::Other,
            format!("the {} could not be encoded as JSON: {e}", table.noun()),
        )
    })
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(refused_query)`
fn refused_query(e: QueryError) -> ApiError {
    ApiError::new(ApiErrorKind::Other, e.to_string())
}

fn link_has_next(reply: &Reply) -> bool {
    reply
        .headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|link| link.contains("rel=\"next\"")))
}

/// The `result` of a success envelope; an error envelope on a 2xx is an error too.
fn result(value: Value, what: &str) -> Result<Value, ApiError> {
    match value {
        Value::Object(mut map) => {
            if let Some(result) = map.remove("result") {
                return Ok(result);
            }
            if let Some(error) = map.get("error") {
                let (message, detail) = envelope_text(error, &Scrubber::default());
                return Err(ApiError::new(
                    ApiErrorKind::Other,
                    format!("ServiceNow answered {what} with an error: {message}{detail}"),
                ));
            }
            Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!("ServiceNow answered {what} with JSON that has no result"),
            ))
        }
        other => Err(ApiError::new(
            ApiErrorKind::InvalidResponse,
            format!(
                "ServiceNow answered {what} with a JSON {} instead of a result envelope",
                json_type(&other)
            ),
        )),
    }
}

/// `(message, " (detail)")` of an `error` member: the envelope's object, or an OAuth code.
fn envelope_text(error: &Value, scrub: &Scrubber) -> (String, String) {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| scrub.clean(s, 200))
    };
    match error {
        Value::Object(map) => (
            text(map.get("message")).unwrap_or_else(|| "no message".to_owned()),
            text(map.get("detail"))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
        ),
        Value::String(code) => (scrub.clean(code, 100), String::new()),
        other => (scrub.clean(&other.to_string(), 200), String::new()),
    }
}

/// Decodes an error answer: the envelope `{"error": {"message", "detail"}, "status":
/// "failure"}`, an OAuth error `{"error", "error_description"}`, an HTML page or text.
fn decode_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    if let Some(items) = ire_item_errors(reply, what) {
        return items;
    }
    let (kind, detail) = error_detail(reply, scrub);
    let error = ApiError::new(
        kind,
        format!("ServiceNow answered {status} to {what}: {detail}"),
    );
    // The fix for refused credentials is the one every layer names (`Remote::action`).
    match SERVICE.action(kind) {
        Some(advice) if kind.is_auth() => error.with_advice(advice),
        _ => error,
    }
}

/// The Identification and Reconciliation API answers failed items with a 400 and a `result`
/// envelope (not the error envelope): that answer, kept for the caller to read per item.
/// `None` for any other answer.
fn ire_item_errors(reply: &Reply, what: &str) -> Option<ApiError> {
    if reply.status.as_u16() != 400 || !what.contains("/api/now/identifyreconcile") {
        return None;
    }
    let mut parsed = serde_json::from_slice::<Value>(&reply.body).ok()?;
    if parsed.get("error").is_some() {
        return None;
    }
    let result = parsed.get_mut("result")?.take();
    Some(
        ApiError::new(
            ApiErrorKind::Other,
            format!("ServiceNow answered 400 to {what} with item errors"),
        )
        .with_source(IreItemErrors(result)),
    )
}

/// The kind and the scrubbed text of an error answer.
fn error_detail(reply: &Reply, scrub: &Scrubber) -> (ApiErrorKind, String) {
    let status = reply.status.as_u16();
    let mut kind = reply_kind(reply);
    let parsed = serde_json::from_slice::<Value>(&reply.body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let detail = match error {
        Some(error) => {
            let (message, mut detail) = envelope_text(error, scrub);
            if detail.is_empty()
                && let Some(d) = parsed
                    .as_ref()
                    .and_then(|v| v.get("error_description"))
                    .and_then(Value::as_str)
            {
                detail = format!(" ({})", scrub.clean(d, 200));
            }
            if status == 400 && message.starts_with("Invalid table") {
                kind = ApiErrorKind::NotFound;
                format!(
                    "{message}{detail}; the table does not exist on this instance (is Customer \
                     Service Management installed?)"
                )
            } else {
                format!("{message}{detail}")
            }
        }
        None => text_snippet(reply, scrub),
    };
    (kind, detail)
}

/// Decodes an answer of the token endpoint. Any 4xx but 408 and 429 is a refusal of the
/// credentials — whatever the body says (`invalid_grant`, `access_denied`, an error envelope,
/// text) and whatever the status (ServiceNow answers 401, gateways 400 or 404) — kept as
/// [`Unauthorized`](ApiErrorKind::Unauthorized) (403: `Forbidden`) with its text, so
/// [`is_auth`](ApiErrorKind::is_auth) stops the pass instead of retrying it forever.
fn decode_token_error(reply: &Reply, scrub: &Scrubber, what: &str) -> ApiError {
    let status = reply.status.as_u16();
    if !(400..500).contains(&status) || matches!(status, 408 | 429) {
        return decode_error(reply, scrub, what);
    }
    let (_, text) = error_detail(reply, scrub);
    let kind = if status == 403 {
        ApiErrorKind::Forbidden
    } else {
        ApiErrorKind::Unauthorized
    };
    ApiError::new(
        kind,
        format!("ServiceNow refused the token request ({status} to {what}): {text}"),
    )
    .with_advice(
        "check the OAuth client id and secret (and, for the password grant, the user name and \
         password), and that the grant is enabled on the instance",
    )
}

/// Whether an update may be re-sent after a failure of unknown effect: not when it adds a work
/// note, since each PATCH with a `work_notes` value appends one journal entry (a re-sent
/// timeout would write the note twice); the router records the note before it is sent instead.
fn journal_replay(work_notes: Option<&String>) -> Replay {
    if work_notes.is_some_and(|n| !n.is_empty()) {
        Replay::Unsafe
    } else {
        Replay::Safe
    }
}

/// A `sysparm_data_source` value: a choice of `cmdb_ci.discovery_source`.
fn check_data_source(source: &str) -> Result<(), ApiError> {
    let ok = !source.is_empty()
        && source.len() <= 100
        && source
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b' ' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ApiErrorKind::Other,
            format!(
                "data source {:?} refused: use the value of a cmdb_ci.discovery_source choice \
                 (letters, digits, _ - . and spaces, at most 100)",
                prefix(source, 40)
            ),
        ))
    }
}

#[derive(Serialize)]
struct IreRequest<'a> {
    items: &'a [CiItem],
}

const IRE_PATH: &str = "/api/now/identifyreconcile";
const IRE_QUERY_PATH: &str = "/api/now/identifyreconcile/query";
/// CIs whose owners are read in one `sys_idIN` query.
const OWNERS_PER_QUERY: usize = 100;

/// The `result` of an HTTP 400 from the Identification and Reconciliation API: item errors,
/// carried as the source of the call's error so [`ServiceNowClient::ire`] can read them per item.
#[derive(Debug)]
struct IreItemErrors(Value);

impl fmt::Display for IreItemErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("item errors of the Identification and Reconciliation API")
    }
}

impl std::error::Error for IreItemErrors {}

fn item_errors_of(err: &ApiError) -> Option<&IreItemErrors> {
    std::error::Error::source(err).and_then(|s| s.downcast_ref::<IreItemErrors>())
}

/// One result per item out of an answer's `result`: `{"items": [...]}` (each decoded on its
/// own; one that cannot be read becomes an item error), a bare list, or `{"errors": [...]}`
/// without items (the errors apply to every item). `Err` when the answer has no usable shape
/// or a different number of items.
fn decode_ire_items(value: Value, sent: usize) -> Result<Vec<CiItemResult>, String> {
    let (rows, shared_errors) = match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(rows) => (rows, None),
            None => (Value::Null, map.remove("errors")),
        },
        other => (other, None),
    };
    if let Some(errors) = shared_errors {
        let mut template: CiItemResult =
            serde_json::from_value(serde_json::json!({ "errors": errors }))
                .map_err(|e| format!("its errors cannot be read: {e}"))?;
        if template.errors.is_empty() {
            return Err("it has neither items nor errors".to_owned());
        }
        template.operation = None;
        return Ok(vec![template; sent]);
    }
    let Value::Array(rows) = rows else {
        return Err(format!("items is a JSON {}, not a list", json_type(&rows)));
    };
    if rows.len() != sent {
        return Err(format!("{} results for {sent} items", rows.len()));
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let internal_id = row
                .get("internal_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            serde_json::from_value::<CiItemResult>(row).unwrap_or_else(|e| {
                let mut failed = CiItemResult::new(None, None, internal_id);
                failed.errors.push(CiItemError {
                    kind: "UNREADABLE_ANSWER".to_owned(),
                    message: format!("ServiceNow's answer for this item cannot be read: {e}"),
                });
                failed
            })
        })
        .collect())
}

#[async_trait]
impl ServiceNowApi for ServiceNowClient {
    async fn companies(&self, page: PageRequest) -> Result<Page<Company>, ApiError> {
        self.list(Table::Company, EncodedQuery::new(), &page).await
    }

    async fn company(&self, id: &SysId) -> Result<Option<Company>, ApiError> {
        self.row(Table::Company, id).await
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, ApiError> {
        self.create(Table::Company, company).await
    }

    async fn customer_service_management(&self) -> Result<bool, ApiError> {
        let table = Table::Plugin;
        let call = Call::get(
            table.path(),
            vec![
                (
                    "sysparm_query",
                    EncodedQuery::new()
                        .plugin(Plugin::CustomerService)
                        .to_string(),
                ),
                ("sysparm_fields", table.fields().to_owned()),
                ("sysparm_limit", "1".to_owned()),
                ("sysparm_exclude_reference_link", "true".to_owned()),
            ],
        );
        let what = call.describe();
        match self.send(&call).await {
            Ok(reply) => {
                let rows = result(reply.json(SERVICE, &what)?, &what)?;
                let Value::Array(rows) = rows else {
                    return Err(ApiError::new(
                        ApiErrorKind::InvalidResponse,
                        format!("ServiceNow answered {what} with a result that is not a list"),
                    ));
                };
                Ok(rows.iter().any(|row| {
                    row.get("id").and_then(Value::as_str) == Some(Plugin::CustomerService.id())
                        && matches!(
                            row.get("active").and_then(Value::as_str),
                            Some("active" | "true")
                        )
                }))
            }
            // The user may not read v_plugin: probe the table instead.
            Err(e) if matches!(e.kind(), ApiErrorKind::Forbidden | ApiErrorKind::NotFound) => {
                match self
                    .list::<Value>(
                        Table::CustomerAccount,
                        EncodedQuery::new(),
                        &PageRequest::first(1),
                    )
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == ApiErrorKind::NotFound => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn customer_accounts(
        &self,
        page: PageRequest,
    ) -> Result<Page<CustomerAccount>, ApiError> {
        self.list(Table::CustomerAccount, EncodedQuery::new(), &page)
            .await
    }

    async fn customer_account(&self, id: &SysId) -> Result<Option<CustomerAccount>, ApiError> {
        self.row(Table::CustomerAccount, id).await
    }

    async fn incidents(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Incident>, ApiError> {
        self.list(Table::Incident, Self::ticket_query(query)?, &page)
            .await
    }

    async fn create_incident(&self, incident: &NewIncident) -> Result<Incident, ApiError> {
        self.create(Table::Incident, incident).await
    }

    async fn update_incident(
        &self,
        id: &SysId,
        update: &IncidentUpdate,
    ) -> Result<Incident, ApiError> {
        self.update(
            Table::Incident,
            id,
            update,
            journal_replay(update.work_notes.as_ref()),
        )
        .await
    }

    async fn identify_reconcile(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        self.ire(IRE_PATH, data_source, items, true).await
    }

    async fn cases(
        &self,
        query: &IncidentQuery,
        page: PageRequest,
    ) -> Result<Page<Case>, ApiError> {
        self.list(Table::Case, Self::ticket_query(query)?, &page)
            .await
    }

    async fn create_case(&self, case: &NewCase) -> Result<Case, ApiError> {
        self.create(Table::Case, case).await
    }

    async fn update_case(&self, id: &SysId, update: &CaseUpdate) -> Result<Case, ApiError> {
        self.update(
            Table::Case,
            id,
            update,
            journal_replay(update.work_notes.as_ref()),
        )
        .await
    }

    async fn user_group(&self, id: &SysId) -> Result<Option<UserGroup>, ApiError> {
        self.row(Table::UserGroup, id).await
    }

    async fn user(&self, id: &SysId) -> Result<Option<User>, ApiError> {
        self.row(Table::User, id).await
    }

    async fn identify_reconcile_query(
        &self,
        data_source: &str,
        items: &[CiItem],
    ) -> Result<Vec<CiItemResult>, ApiError> {
        self.ire(IRE_QUERY_PATH, data_source, items, false).await
    }

    async fn ci_owners(&self, ids: &[SysId]) -> Result<Vec<CiOwner>, ApiError> {
        let mut owners = Vec::new();
        for chunk in ids.chunks(OWNERS_PER_QUERY) {
            if chunk.is_empty() {
                continue;
            }
            // Only validated sys_ids (32 hex digits) go into the query: no free text.
            let list: Vec<&str> = chunk.iter().map(SysId::as_str).collect();
            let call = Call::get(
                "/api/now/table/cmdb_ci".to_owned(),
                vec![
                    ("sysparm_query", format!("sys_idIN{}", list.join(","))),
                    ("sysparm_limit", chunk.len().to_string()),
                    (
                        "sysparm_fields",
                        "sys_id,name,sys_class_name,company".to_owned(),
                    ),
                    ("sysparm_exclude_reference_link", "true".to_owned()),
                ],
            );
            let what = call.describe();
            let reply = self.send(&call).await?;
            let rows = result(reply.json(SERVICE, &what)?, &what)?;
            if !rows.is_array() {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!("ServiceNow answered {what} with a result that is not a list"),
                ));
            }
            let (found, rejected) = decode_rows::<CiOwner>(rows);
            if let Some(first) = rejected.first() {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!("ServiceNow answered {what} with a CI that cannot be read: {first}"),
                ));
            }
            owners.extend(found);
        }
        Ok(owners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_sources_are_checked() {
        assert!(check_data_source("ServiceNow").is_ok());
        assert!(check_data_source("NinjaOne RMM").is_ok());
        assert!(check_data_source("").is_err());
        assert!(check_data_source("a&b=c").is_err());
    }

    #[test]
    fn result_envelopes() {
        assert_eq!(
            result(serde_json::json!({"result": []}), "GET x").unwrap(),
            serde_json::json!([])
        );
        let e = result(
            serde_json::json!({"error": {"message": "Invalid query", "detail": null}, "status": "failure"}),
            "GET x",
        )
        .unwrap_err();
        assert!(e.message().contains("Invalid query"), "{e}");
        assert_eq!(
            result(serde_json::json!([1]), "GET x").unwrap_err().kind(),
            ApiErrorKind::InvalidResponse
        );
    }
}
