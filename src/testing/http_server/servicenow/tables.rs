//! The Table API endpoints: list, read, create and update rows.

use serde_json::{Map, Value, json};

use super::{
    ACCOUNT, CASE, COMPANY, CSM_PLUGIN, GROUP, INCIDENT, LIST_PARAMETERS, PLUGIN, USER, bad_body,
    check_table, envelope, invalid_query, journal_rows, journaled, not_found, parse_query, row,
    rows,
};
use crate::model::{
    CaseState, CaseUpdate, CorrelationId, IncidentState, IncidentUpdate, Level, NewCase,
    NewCompany, NewIncident, SysId,
};
use crate::ports::{Cursor, IncidentQuery, PageRequest, ServiceNowApi};
use crate::testing::http_server::http1::{Request, Response};
use crate::testing::http_server::{Api, Shared, api_error_response};

pub(super) async fn list(shared: &Shared, table: &str, request: &Request) -> Response {
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

pub(super) async fn get_row(shared: &Shared, table: &str, id: &str) -> Response {
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

pub(super) fn body_object(request: &Request) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_body("the payload must be a JSON object")),
        Err(_) => Err(bad_body("the payload is not valid JSON")),
    }
}

/// A field as text: strings as they are, numbers and booleans written out; `None` when absent
/// or null.
pub(super) fn text(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Response> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(bad_body(&format!("{name} must be a string"))),
    }
}

pub(super) fn sys_id(body: &Map<String, Value>, name: &str) -> Result<Option<SysId>, Response> {
    match text(body, name)?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad_body(&format!("{name} is not a sys_id"))),
    }
}

pub(super) fn code(body: &Map<String, Value>, name: &str) -> Result<Option<u32>, Response> {
    match text(body, name)?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad_body(&format!("{name} must be a number"))),
    }
}

pub(super) fn correlation(body: &Map<String, Value>) -> Result<CorrelationId, Response> {
    text(body, "correlation_id")?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_body("correlation_id is missing or not a valid correlation id"))
}

pub(super) fn level(body: &Map<String, Value>, name: &str) -> Result<Level, Response> {
    Ok(Level::from_code(code(body, name)?.unwrap_or(3)))
}

pub(super) async fn create(shared: &Shared, table: &str, request: &Request) -> Response {
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

pub(super) async fn update(shared: &Shared, table: &str, id: &str, request: &Request) -> Response {
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
