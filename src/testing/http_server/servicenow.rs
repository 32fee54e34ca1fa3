//! The ServiceNow side: `/oauth_token.do`, the Table API on the contract's tables, and the
//! Identification and Reconciliation API.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::http1::{Request, Response};
use super::{Api, Shared, api_error_response, base64_decode, strip_scheme};
use crate::model::{
    CaseState, CaseUpdate, CiClass, CiItem, CiItemResult, CiSourceInfo, CorrelationId,
    IncidentState, IncidentUpdate, Level, NewCase, NewCompany, NewIncident, SysId,
};
use crate::ports::{ApiError, Cursor, IncidentQuery, Page, PageRequest, ServiceNowApi};

/// The OAuth token endpoint's path.
pub(super) const TOKEN_PATH: &str = "/oauth_token.do";

const COMPANY: &str = "core_company";
const ACCOUNT: &str = "customer_account";
const INCIDENT: &str = "incident";
const CASE: &str = "sn_customerservice_case";
const PLUGIN: &str = "v_plugin";
const GROUP: &str = "sys_user_group";
const USER: &str = "sys_user";
const CSM_PLUGIN: &str = "com.sn_customerservice";
const CI_TABLE: &str = "cmdb_ci";

/// The `sysparm_*` parameters a list request may carry (`sysparm_offset` is refused: the
/// contract pages by key).
const LIST_PARAMETERS: [&str; 7] = [
    "sysparm_query",
    "sysparm_limit",
    "sysparm_fields",
    "sysparm_exclude_reference_link",
    "sysparm_display_value",
    "sysparm_no_count",
    "sysparm_suppress_pagination_header",
];

pub(super) async fn route(shared: &Shared, request: &Request) -> Response {
    if request.path == TOKEN_PATH {
        return if request.method == "POST" {
            token(shared, request)
        } else {
            envelope(
                405,
                "Method not Supported",
                Some("use POST for /oauth_token.do"),
            )
        };
    }
    if !authorized(shared, request) {
        return envelope(
            401,
            "User Not Authenticated",
            Some("Required to provide Auth information"),
        );
    }
    let method = request.method.as_str();
    match (method, request.segments().as_slice()) {
        ("GET", ["api", "now", "table", CI_TABLE]) => ci_owners(shared, request).await,
        ("GET", ["api", "now", "table", table]) => list(shared, table, request).await,
        ("POST", ["api", "now", "table", table]) => create(shared, table, request).await,
        ("GET", ["api", "now", "table", table, id]) => get_row(shared, table, id).await,
        ("PATCH" | "PUT", ["api", "now", "table", table, id]) => {
            update(shared, table, id, request).await
        }
        ("POST", ["api", "now", "identifyreconcile"]) => identify(shared, request, true).await,
        ("POST", ["api", "now", "identifyreconcile", "query"]) => {
            identify(shared, request, false).await
        }
        (
            _,
            ["api", "now", "table", ..]
            | ["api", "now", "identifyreconcile"]
            | ["api", "now", "identifyreconcile", "query"],
        ) => envelope(
            405,
            "Method not Supported",
            Some(&format!("the fake does not serve {method} here")),
        ),
        _ => envelope(
            400,
            "Requested URI does not represent any resource",
            Some(&request.path),
        ),
    }
}

/// ServiceNow's error envelope.
fn envelope(status: u16, message: &str, detail: Option<&str>) -> Response {
    Response::json(
        status,
        &json!({ "error": { "message": message, "detail": detail }, "status": "failure" }),
    )
}

fn invalid_table(table: &str) -> Response {
    envelope(400, &format!("Invalid table {table}"), None)
}

fn invalid_query(detail: &str) -> Response {
    envelope(400, "Invalid query", Some(detail))
}

fn bad_body(detail: &str) -> Response {
    envelope(400, "Exception while reading request", Some(detail))
}

fn not_found() -> Response {
    envelope(
        404,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

fn authorized(shared: &Shared, request: &Request) -> bool {
    let Some(value) = request.header("authorization") else {
        return false;
    };
    if let Some(encoded) = strip_scheme(value, "basic") {
        let auth = &shared.auth;
        let expected = format!("{}:{}", auth.servicenow_username, auth.servicenow_password);
        return base64_decode(encoded).is_some_and(|decoded| decoded == expected.as_bytes());
    }
    shared.bearer_ok(Api::ServiceNow, request)
}

/// Refuses unknown tables, and the Customer Service Management tables when it is not installed.
fn check_table(shared: &Shared, table: &str) -> Result<(), Response> {
    match table {
        COMPANY | INCIDENT | PLUGIN | GROUP | USER => Ok(()),
        ACCOUNT | CASE if shared.servicenow.has_customer_service_management() => Ok(()),
        _ => Err(invalid_table(table)),
    }
}

fn rows<T: Serialize>(result: Result<Page<T>, ApiError>) -> Response {
    match result {
        Ok(page) => Response::json(200, &json!({ "result": page.items })),
        Err(err) => api_error_response(Api::ServiceNow, &err),
    }
}

/// An incident or case row as ServiceNow reads it back: `work_notes` is a journal field,
/// written one entry per PATCH that carries a value and always read as `""`.
fn journaled<T: Serialize>(row: T) -> Value {
    let mut value = json!(row);
    if let Value::Object(fields) = &mut value {
        fields.insert("work_notes".to_owned(), Value::String(String::new()));
    }
    value
}

fn journal_rows<T: Serialize>(result: Result<Page<T>, ApiError>) -> Response {
    rows(result.map(|page| Page::new(page.items.into_iter().map(journaled).collect(), page.next)))
}

fn row<T: Serialize>(status: u16, result: Result<T, ApiError>) -> Response {
    match result {
        Ok(row) => Response::json(status, &json!({ "result": row })),
        Err(err) => api_error_response(Api::ServiceNow, &err),
    }
}

/// The terms of an encoded query, as the contract allows them.
#[derive(Debug, Default)]
struct Terms {
    prefix: Option<CorrelationId>,
    since: Option<chrono::DateTime<Utc>>,
    plugin: bool,
    after: Option<SysId>,
    ordered: bool,
}

/// Parses `sysparm_query`: only the contract's five terms, in its order, each at most once.
fn parse_query(query: &str) -> Result<Terms, String> {
    let mut terms = Terms::default();
    if query.is_empty() {
        return Ok(terms);
    }
    let mut stage = 0;
    for term in query.split('^') {
        let at = if let Some(rest) = term.strip_prefix("correlation_idSTARTSWITH") {
            terms.prefix = Some(
                rest.parse()
                    .map_err(|_| format!("{rest:?} is not a valid correlation id prefix"))?,
            );
            1
        } else if let Some(rest) = term.strip_prefix("sys_created_on>=") {
            let at = NaiveDateTime::parse_from_str(rest, "%Y-%m-%d %H:%M:%S")
                .map_err(|_| format!("{rest:?} is not a yyyy-MM-dd HH:mm:ss time"))?;
            terms.since = Some(Utc.from_utc_datetime(&at));
            2
        } else if term == "id=com.sn_customerservice" {
            terms.plugin = true;
            3
        } else if let Some(rest) = term.strip_prefix("sys_id>") {
            terms.after = Some(
                rest.parse()
                    .map_err(|_| format!("{rest:?} after sys_id> is not a sys_id"))?,
            );
            4
        } else if term == "ORDERBYsys_id" {
            terms.ordered = true;
            5
        } else {
            return Err(format!("the term {term:?} is not allowed by the contract"));
        };
        if at <= stage {
            return Err(format!("the term {term:?} is repeated or out of order"));
        }
        stage = at;
    }
    Ok(terms)
}

async fn list(shared: &Shared, table: &str, request: &Request) -> Response {
    if let Err(response) = check_table(shared, table) {
        return response;
    }
    for (name, _) in &request.query {
        if name == "sysparm_offset" {
            return invalid_query(
                "sysparm_offset is not used: page by key with sys_id>LAST^ORDERBYsys_id",
            );
        }
        if !LIST_PARAMETERS.contains(&name.as_str()) {
            return invalid_query(&format!("unknown parameter {name:?}"));
        }
    }
    let limit = match request.query_value("sysparm_limit").map(str::parse::<u32>) {
        Some(Ok(n)) if n > 0 => n,
        _ => return invalid_query("sysparm_limit must be given as a positive integer"),
    };
    let terms = match parse_query(request.query_value("sysparm_query").unwrap_or("")) {
        Ok(terms) => terms,
        Err(detail) => return invalid_query(&detail),
    };
    let sn = &shared.servicenow;
    let page = {
        let first = PageRequest::first(limit);
        match &terms.after {
            Some(after) => first.next(Cursor::new(after.as_str())),
            None => first,
        }
    };
    let paged = |incidents: bool| -> Result<(), Response> {
        if terms.plugin {
            return Err(invalid_query("id= is only for v_plugin"));
        }
        if !incidents && (terms.prefix.is_some() || terms.since.is_some()) {
            return Err(invalid_query(
                "correlation_id and sys_created_on terms are only for incident and case lists",
            ));
        }
        if incidents && terms.prefix.is_none() {
            return Err(invalid_query(
                "the fake lists incidents and cases by correlation_idSTARTSWITH prefix only",
            ));
        }
        if !terms.ordered {
            return Err(invalid_query(
                "a paged list must end with ORDERBYsys_id (stable key paging)",
            ));
        }
        Ok(())
    };
    let incident_query = || {
        let mut query = IncidentQuery::with_prefix(terms.prefix.clone()?);
        if let Some(since) = terms.since {
            query = query.created_since(since);
        }
        Some(query)
    };
    match table {
        PLUGIN => {
            if !terms.plugin
                || terms.prefix.is_some()
                || terms.since.is_some()
                || terms.after.is_some()
            {
                return invalid_query("v_plugin is queried by id=com.sn_customerservice only");
            }
            match sn.customer_service_management().await {
                Ok(true) => Response::json(
                    200,
                    &json!({ "result": [{ "id": CSM_PLUGIN, "active": "active" }] }),
                ),
                Ok(false) => Response::json(200, &json!({ "result": [] })),
                Err(err) => api_error_response(Api::ServiceNow, &err),
            }
        }
        GROUP | USER => {
            invalid_query("the fake serves sys_user_group and sys_user rows by sys_id only")
        }
        COMPANY | ACCOUNT => match paged(false) {
            Err(response) => response,
            Ok(()) if table == COMPANY => rows(sn.companies(page).await),
            Ok(()) => rows(sn.customer_accounts(page).await),
        },
        _ => match (paged(true), incident_query()) {
            (Err(response), _) => response,
            (Ok(()), Some(query)) if table == INCIDENT => {
                journal_rows(sn.incidents(&query, page).await)
            }
            (Ok(()), Some(query)) => journal_rows(sn.cases(&query, page).await),
            (Ok(()), None) => invalid_query("a correlation_idSTARTSWITH term is required"),
        },
    }
}

async fn get_row(shared: &Shared, table: &str, id: &str) -> Response {
    if let Err(response) = check_table(shared, table) {
        return response;
    }
    let Ok(id) = id.parse::<SysId>() else {
        return not_found();
    };
    let sn = &shared.servicenow;
    let found = match table {
        COMPANY => sn.company(&id).await.map(|c| c.map(|c| json!(c))),
        ACCOUNT => sn.customer_account(&id).await.map(|a| a.map(|a| json!(a))),
        GROUP => sn.user_group(&id).await.map(|g| g.map(|g| json!(g))),
        USER => sn.user(&id).await.map(|u| u.map(|u| json!(u))),
        _ => {
            return envelope(
                400,
                "Unsupported by the fake",
                Some(
                    "the fake serves single rows of core_company, customer_account, \
                     sys_user_group and sys_user only",
                ),
            );
        }
    };
    match found {
        Ok(Some(row)) => Response::json(200, &json!({ "result": row })),
        Ok(None) => not_found(),
        Err(err) => api_error_response(Api::ServiceNow, &err),
    }
}

fn body_object(request: &Request) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_body("the payload must be a JSON object")),
        Err(_) => Err(bad_body("the payload is not valid JSON")),
    }
}

/// A field as text: strings as they are, numbers and booleans written out; `None` when absent
/// or null.
fn text(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Response> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(bad_body(&format!("{name} must be a string"))),
    }
}

fn sys_id(body: &Map<String, Value>, name: &str) -> Result<Option<SysId>, Response> {
    match text(body, name)?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad_body(&format!("{name} is not a sys_id"))),
    }
}

fn code(body: &Map<String, Value>, name: &str) -> Result<Option<u32>, Response> {
    match text(body, name)?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad_body(&format!("{name} must be a number"))),
    }
}

fn correlation(body: &Map<String, Value>) -> Result<CorrelationId, Response> {
    text(body, "correlation_id")?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_body("correlation_id is missing or not a valid correlation id"))
}

fn level(body: &Map<String, Value>, name: &str) -> Result<Level, Response> {
    Ok(Level::from_code(code(body, name)?.unwrap_or(3)))
}

async fn create(shared: &Shared, table: &str, request: &Request) -> Response {
    if let Err(response) = check_table(shared, table) {
        return response;
    }
    let body = match body_object(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let sn = &shared.servicenow;
    let created = async {
        Ok(match table {
            COMPANY => {
                let name =
                    text(&body, "name")?.ok_or_else(|| bad_body("a company needs a name"))?;
                let customer = matches!(text(&body, "customer")?.as_deref(), Some("true" | "1"));
                row(201, sn.create_company(&NewCompany { name, customer }).await)
            }
            INCIDENT => {
                let incident = NewIncident {
                    short_description: text(&body, "short_description")?.unwrap_or_default(),
                    description: text(&body, "description")?.unwrap_or_default(),
                    company: sys_id(&body, "company")?,
                    account: sys_id(&body, "account")?,
                    cmdb_ci: sys_id(&body, "cmdb_ci")?,
                    correlation_id: correlation(&body)?,
                    correlation_display: text(&body, "correlation_display")?.unwrap_or_default(),
                    urgency: level(&body, "urgency")?,
                    impact: level(&body, "impact")?,
                    assignment_group: sys_id(&body, "assignment_group")?,
                    caller_id: sys_id(&body, "caller_id")?,
                    category: text(&body, "category")?.filter(|s| !s.is_empty()),
                    subcategory: text(&body, "subcategory")?.filter(|s| !s.is_empty()),
                    contact_type: text(&body, "contact_type")?.filter(|s| !s.is_empty()),
                };
                row(201, sn.create_incident(&incident).await.map(journaled))
            }
            CASE => {
                let case = NewCase {
                    short_description: text(&body, "short_description")?.unwrap_or_default(),
                    description: text(&body, "description")?.unwrap_or_default(),
                    account: sys_id(&body, "account")?
                        .ok_or_else(|| bad_body("a case needs an account"))?,
                    company: sys_id(&body, "company")?,
                    cmdb_ci: sys_id(&body, "cmdb_ci")?,
                    correlation_id: correlation(&body)?,
                    correlation_display: text(&body, "correlation_display")?.unwrap_or_default(),
                    urgency: level(&body, "urgency")?,
                    impact: level(&body, "impact")?,
                    assignment_group: sys_id(&body, "assignment_group")?,
                    category: text(&body, "category")?.filter(|s| !s.is_empty()),
                    subcategory: text(&body, "subcategory")?.filter(|s| !s.is_empty()),
                    contact_type: text(&body, "contact_type")?.filter(|s| !s.is_empty()),
                };
                row(201, sn.create_case(&case).await.map(journaled))
            }
            _ => envelope(
                400,
                "Unsupported by the fake",
                Some(&format!("the fake cannot create rows in {table}")),
            ),
        })
    };
    created.await.unwrap_or_else(|response: Response| response)
}

async fn update(shared: &Shared, table: &str, id: &str, request: &Request) -> Response {
    if let Err(response) = check_table(shared, table) {
        return response;
    }
    let Ok(id) = id.parse::<SysId>() else {
        return not_found();
    };
    let body = match body_object(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let sn = &shared.servicenow;
    let updated = async {
        Ok(match table {
            INCIDENT => {
                let update = IncidentUpdate {
                    state: code(&body, "state")?.map(IncidentState::from_code),
                    close_code: text(&body, "close_code")?,
                    close_notes: text(&body, "close_notes")?,
                    work_notes: text(&body, "work_notes")?,
                };
                row(200, sn.update_incident(&id, &update).await.map(journaled))
            }
            CASE => {
                let update = CaseUpdate {
                    state: code(&body, "state")?.map(CaseState::from_code),
                    resolution_code: text(&body, "resolution_code")?,
                    close_notes: text(&body, "close_notes")?,
                    work_notes: text(&body, "work_notes")?,
                };
                row(200, sn.update_case(&id, &update).await.map(journaled))
            }
            _ => envelope(
                400,
                "Unsupported by the fake",
                Some(&format!("the fake cannot update rows of {table}")),
            ),
        })
    };
    updated.await.unwrap_or_else(|response: Response| response)
}

fn ci_item(value: &Value) -> Result<CiItem, Response> {
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
fn ci_result(index: usize, result: &CiItemResult) -> Value {
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
async fn identify(shared: &Shared, request: &Request, commit: bool) -> Response {
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
async fn ci_owners(shared: &Shared, request: &Request) -> Response {
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

fn token(shared: &Shared, request: &Request) -> Response {
    let form = request.form();
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let auth = &shared.auth;
    let client_ok = field("client_id") == Some(auth.servicenow_client_id.as_str())
        && field("client_secret") == Some(auth.servicenow_client_secret.as_str());
    let refresh_token = match field("grant_type") {
        Some("client_credentials") if client_ok && auth.servicenow_client_credentials => None,
        Some("password")
            if client_ok
                && field("username") == Some(auth.servicenow_username.as_str())
                && field("password") == Some(auth.servicenow_password.as_str()) =>
        {
            Some(shared.issue_refresh_token())
        }
        Some("refresh_token")
            if client_ok
                && field("refresh_token").is_some_and(|t| shared.knows_refresh_token(t)) =>
        {
            Some(field("refresh_token").unwrap_or_default().to_owned())
        }
        // Also `client_credentials` while the instance has not enabled it.
        Some("password" | "refresh_token" | "client_credentials") => {
            return Response::json(
                401,
                &json!({ "error": "access_denied", "error_description": "access_denied" }),
            );
        }
        _ => {
            return Response::json(
                400,
                &json!({
                    "error": "unsupported_grant_type",
                    "error_description": "use grant_type=password, client_credentials or refresh_token"
                }),
            );
        }
    };
    let access_token = shared.issue_token(Api::ServiceNow);
    let mut body = json!({
        "access_token": access_token,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": auth.token_lifetime.as_secs(),
    });
    if let (Some(refresh), Some(map)) = (refresh_token, body.as_object_mut()) {
        map.insert("refresh_token".to_owned(), json!(refresh));
    }
    Response::json(200, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_terms_parse_in_order() {
        let q = "correlation_idSTARTSWITHninjaone:alert:^sys_created_on>=2024-01-01 00:00:00\
                 ^sys_id>0123456789abcdef0123456789abcdef^ORDERBYsys_id";
        let terms = parse_query(q).unwrap();
        assert_eq!(
            terms.prefix.as_ref().map(CorrelationId::as_str),
            Some("ninjaone:alert:")
        );
        assert!(terms.since.is_some() && terms.after.is_some() && terms.ordered);
        assert!(parse_query("id=com.sn_customerservice").unwrap().plugin);
        assert!(parse_query("").is_ok());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "name=Acme",
            "ORDERBYsys_id^sys_id>0123456789abcdef0123456789abcdef",
            "ORDERBYsys_id^ORDERBYsys_id",
            "sys_id>nope^ORDERBYsys_id",
            "correlation_idSTARTSWITHa^b^ORDERBYsys_id",
            "nameLIKEZed^NQname=Acme",
            "sys_created_on>=yesterday",
            "ORDERBYname",
            "javascript:gs.getUserID()",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
