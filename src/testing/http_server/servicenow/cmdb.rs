//! The Identification and Reconciliation and CI-owner endpoints.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::tables::{body_object, text};
use super::{LIST_PARAMETERS, bad_body, invalid_query};
use crate::model::{CiClass, CiItem, CiItemResult, CiSourceInfo, SysId};
use crate::ports::ServiceNowApi;
use crate::testing::http_server::http1::{Request, Response};
use crate::testing::http_server::{Api, Shared, api_error_response};

pub(super) fn ci_item(value: &Value) -> Result<CiItem, Response> {
    let Value::Object(item) = value else {
        return Err(bad_body("each item must be an object"));
    };
    let class_name: CiClass = text(item, "className")?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_body("an item's className is missing or invalid"))?;
    let mut values = BTreeMap::new();
    if let Some(Value::Object(map)) = item.get("values") {
        for (key, value) in map {
            match value {
                Value::Null => {}
                Value::String(s) => {
                    values.insert(key.clone(), s.clone());
                }
                other => {
                    values.insert(key.clone(), other.to_string());
                }
            }
        }
    }
    let source = match item.get("sys_object_source_info") {
        None | Some(Value::Null) => None,
        Some(Value::Object(info)) => {
            match (text(info, "source_name")?, text(info, "source_native_key")?) {
                (Some(name), Some(key)) => Some(CiSourceInfo::new(name, key)),
                _ => {
                    return Err(bad_body(
                        "sys_object_source_info needs source_name and source_native_key",
                    ));
                }
            }
        }
        Some(_) => return Err(bad_body("sys_object_source_info must be an object")),
    };
    Ok(CiItem {
        class_name,
        values,
        internal_id: text(item, "internal_id")?,
        source,
    })
}

/// One item of an answer, shaped as ServiceNow documents it: `sysId` "Unknown" when nothing was
/// identified, `""` as the operation of an item that failed, `inputIndices`, and
/// `partialSysIds`/`warnings` with a partial insert.
pub(super) fn ci_result(index: usize, result: &CiItemResult) -> Value {
    let mut item = json!({
        "className": result.class_name.as_deref().unwrap_or(""),
        "operation": result.operation.as_ref().map_or("", |op| op.as_str()),
        "sysId": result.sys_id.as_ref().map_or("Unknown", SysId::as_str),
        "identifierEntrySysId": "Unknown",
        "inputIndices": [index],
        "internal_id": result.internal_id,
        "errors": result.errors.iter().map(|e| json!({ "error": e.kind, "message": e.message })).collect::<Vec<_>>(),
        "relatedSysIds": [null],
    });
    if let Value::Object(map) = &mut item {
        if !result.warnings.is_empty() {
            map.insert(
                "warnings".to_owned(),
                result
                    .warnings
                    .iter()
                    .map(|w| json!({ "error": w.kind, "message": w.message }))
                    .collect(),
            );
        }
        if !result.partial_sys_ids.is_empty() {
            map.insert("partialSysIds".to_owned(), json!(result.partial_sys_ids));
        }
    }
    item
}

/// `POST /api/now/identifyreconcile` (`commit`) or `.../query` (the dry run). When every item
/// failed, the answer is **HTTP 400** with the item errors inside the `result` envelope and an
/// `errorCount`, as ServiceNow answers an invalid data source.
pub(super) async fn identify(shared: &Shared, request: &Request, commit: bool) -> Response {
    let body = match body_object(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(Value::Array(raw)) = body.get("items") else {
        return bad_body("the payload needs an items array");
    };
    let items = match raw.iter().map(ci_item).collect::<Result<Vec<_>, _>>() {
        Ok(items) => items,
        Err(response) => return response,
    };
    let source = request.query_value("sysparm_data_source").unwrap_or("");
    let sn = &shared.servicenow;
    let answer = if commit {
        sn.identify_reconcile(source, &items).await
    } else {
        sn.identify_reconcile_query(source, &items).await
    };
    match answer {
        Ok(results) => {
            let errors: usize = results.iter().map(|r| r.errors.len()).sum();
            let failed = !results.is_empty() && results.iter().all(|r| !r.errors.is_empty());
            Response::json(
                if failed { 400 } else { 200 },
                &json!({ "result": {
                    "items": results.iter().enumerate().map(|(i, r)| ci_result(i, r)).collect::<Vec<_>>(),
                    "relations": [],
                    "errorCount": errors,
                }}),
            )
        }
        Err(err) => api_error_response(Api::ServiceNow, &err),
    }
}

/// `GET /api/now/table/cmdb_ci?sysparm_query=sys_idIN<ids>`: the owners of CIs, by validated
/// sys_ids only (anything else in the query is refused).
pub(super) async fn ci_owners(shared: &Shared, request: &Request) -> Response {
    for (name, _) in &request.query {
        if !LIST_PARAMETERS.contains(&name.as_str()) {
            return invalid_query(&format!("unknown parameter {name:?}"));
        }
    }
    let query = request.query_value("sysparm_query").unwrap_or("");
    let Some(list) = query.strip_prefix("sys_idIN") else {
        return invalid_query("the fake reads cmdb_ci by sys_idIN<sys_ids> only");
    };
    let ids: Result<Vec<SysId>, _> = list.split(',').map(str::parse::<SysId>).collect();
    let Ok(ids) = ids else {
        return invalid_query("sys_idIN takes sys_ids only");
    };
    match request
        .query_value("sysparm_limit")
        .map(str::parse::<usize>)
    {
        Some(Ok(n)) if n >= ids.len() => {}
        _ => return invalid_query("sysparm_limit must cover every sys_id asked for"),
    }
    match shared.servicenow.ci_owners(&ids).await {
        Ok(owners) => Response::json(200, &json!({ "result": owners })),
        Err(err) => api_error_response(Api::ServiceNow, &err),
    }
}
