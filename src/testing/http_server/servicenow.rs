//! The ServiceNow side: `/oauth_token.do`, the Table API on the contract's tables, and the
//! Identification and Reconciliation API.

use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::http1::{Request, Response};
use super::{Api, Shared, api_error_response, base64_decode, strip_scheme};
use crate::model::{CorrelationId, SysId};
use crate::ports::{ApiError, Page};

mod cmdb;
mod tables;

use self::cmdb::{ci_owners, identify};
use self::tables::{create, get_row, list, update};

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
