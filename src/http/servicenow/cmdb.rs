//! The Identification and Reconciliation API: one request of items, a dry run or a write, and
//! its answer read per item.

use std::fmt;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::http::call::{Body, Call, Reply};
use crate::http::error::prefix;
use crate::http::retry::{Counted, Replay};
use crate::model::wire::json_type;
use crate::model::{CiItem, CiItemError, CiItemResult};
use crate::ports::{ApiError, ApiErrorKind};

use super::errors::result;
use super::{SERVICE, ServiceNowClient};

impl ServiceNowClient {
    /// One Identification and Reconciliation request (`commit`: a write, else the dry run).
    ///
    /// Each item's answer is decoded on its own (an item that cannot be read becomes a failed
    /// item with the reason, not a failed call). An HTTP 400 whose body is a `result` envelope
    /// carries item errors (an invalid data source fails every item): they are returned per
    /// item, with ServiceNow's messages. A `result` with `errors` but no `items` applies those
    /// errors to every item.
    pub(super) async fn ire(
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
}
/// The Identification and Reconciliation API answers failed items with a 400 and a `result`
/// envelope (not the error envelope): that answer, kept for the caller to read per item.
/// `None` for any other answer.
pub(super) fn ire_item_errors(reply: &Reply, what: &str) -> Option<ApiError> {
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

/// A `sysparm_data_source` value: a choice of `cmdb_ci.discovery_source`.
pub(super) fn check_data_source(source: &str) -> Result<(), ApiError> {
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
pub(super) struct IreRequest<'a> {
    items: &'a [CiItem],
}

pub(super) const IRE_PATH: &str = "/api/now/identifyreconcile";
pub(super) const IRE_QUERY_PATH: &str = "/api/now/identifyreconcile/query";
/// CIs whose owners are read in one `sys_idIN` query.
pub(super) const OWNERS_PER_QUERY: usize = 100;

/// The `result` of an HTTP 400 from the Identification and Reconciliation API: item errors,
/// carried as the source of the call's error so [`ServiceNowClient::ire`] can read them per item.
#[derive(Debug)]
pub(super) struct IreItemErrors(Value);

impl fmt::Display for IreItemErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("item errors of the Identification and Reconciliation API")
    }
}

impl std::error::Error for IreItemErrors {}

pub(super) fn item_errors_of(err: &ApiError) -> Option<&IreItemErrors> {
    std::error::Error::source(err).and_then(|s| s.downcast_ref::<IreItemErrors>())
}

/// One result per item out of an answer's `result`: `{"items": [...]}` (each decoded on its
/// own; one that cannot be read becomes an item error), a bare list, or `{"errors": [...]}`
/// without items (the errors apply to every item). `Err` when the answer has no usable shape
/// or a different number of items.
pub(super) fn decode_ire_items(value: Value, sent: usize) -> Result<Vec<CiItemResult>, String> {
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
