//! The Table API: the tables this client reads and writes, and one page, one row, one insert
//! or one update of any of them.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::call::{Body, Call, Reply};
use crate::http::query::{EncodedQuery, QueryError};
use crate::http::retry::{Counted, Replay};
use crate::model::wire::json_type;
use crate::model::{SysId, decode_rows};
use crate::ports::{ApiError, ApiErrorKind, Cursor, Page, PageRequest};

use super::errors::result;
use super::{SERVICE, ServiceNowClient};

/// The tables this client reads and writes, with the fields it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Company,
    CustomerAccount,
    Incident,
    Case,
    Plugin,
    UserGroup,
    User,
}

impl Table {
    pub(super) const fn name(self) -> &'static str {
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
    pub(super) const fn noun(self) -> &'static str {
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
    pub(super) const fn fields(self) -> &'static str {
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

    pub(super) fn path(self) -> String {
        format!("/api/now/table/{}", self.name())
    }

    pub(super) fn row_path(self, id: &SysId) -> String {
        format!("/api/now/table/{}/{id}", self.name())
    }
}

impl ServiceNowClient {
    /// One page of `table` matching `query`, paged by key.
    pub(super) async fn list<T: DeserializeOwned>(
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
    pub(super) async fn row<T: DeserializeOwned>(
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
    pub(super) async fn create<T: DeserializeOwned>(
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
    pub(super) async fn update<T: DeserializeOwned>(
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
}
pub(super) fn json_body(body: &impl Serialize, table: Table) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body).map_err(|e| {
        ApiError::new(
            ApiErrorKind::Other,
            format!("the {} could not be encoded as JSON: {e}", table.noun()),
        )
    })
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(refused_query)`
pub(super) fn refused_query(e: QueryError) -> ApiError {
    ApiError::new(ApiErrorKind::Other, e.to_string())
}

pub(super) fn link_has_next(reply: &Reply) -> bool {
    reply
        .headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|link| link.contains("rel=\"next\"")))
}

/// Whether an update may be re-sent after a failure of unknown effect: not when it adds a work
/// note, since each PATCH with a `work_notes` value appends one journal entry (a re-sent
/// timeout would write the note twice); the router records the note before it is sent instead.
pub(super) fn journal_replay(work_notes: Option<&String>) -> Replay {
    if work_notes.is_some_and(|n| !n.is_empty()) {
        Replay::Unsafe
    } else {
        Replay::Safe
    }
}
