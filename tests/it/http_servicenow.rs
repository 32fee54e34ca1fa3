//! The ServiceNow HTTP client against a local server: key paging, the contract's encoded-query
//! terms only, the error envelope, HTML and broken bodies, retries (GET and PATCH yes, a POST
//! create never after an unknown failure), Customer Service Management detection, cases,
//! identification and reconciliation, Basic auth and the OAuth password grant with refresh.

use crate::support::http_server as support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ninjaone_servicenow::engine::{ErrorChain, SyncError};
use ninjaone_servicenow::http::{EncodedQuery, Secret, ServiceNowClient, ServiceNowConfig};
use ninjaone_servicenow::model::{
    CaseState, CaseUpdate, CiItem, CiOperation, CiSourceInfo, CorrelationId, IncidentState,
    IncidentUpdate, Level, NewCase, NewCompany, NewIncident, SysId,
};
use ninjaone_servicenow::ports::{
    ApiErrorKind, IncidentQuery, PageRequest, Remote, ServiceNowApi, collect_all,
};
use serde_json::json;
use support::{Reply, Request, Server, base64, fast};

mod errors_and_retries;
mod failure_text;
mod identify_reconcile;
mod oauth;
mod paging;
mod tables;

const PASSWORD: &str = "sn-password-for-tests-77";
const COMPANY_FIELDS: &str =
    "sys_id,name,customer,vendor,manufacturer,parent,sys_created_on,sys_updated_on";

fn basic(server: &Server) -> ServiceNowClient {
    ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
            .unwrap()
            .options(fast()),
    )
    .unwrap()
}

fn sys_id(n: u32) -> String {
    format!("{:032x}", u64::from(n) * 7919)
}

fn sid(n: u32) -> SysId {
    sys_id(n).parse().unwrap()
}

fn envelope(status: u16, message: &str, detail: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": message, "detail": detail}, "status": "failure"}),
    )
}

/// The contract's encoded-query terms, checked independently of the crate's own parser: each
/// term one of five shapes, in the contract's order, none twice.
fn contract_query(q: &str) -> bool {
    let mut rank = 0;
    for term in q.split('^') {
        let this = if let Some(v) = term.strip_prefix("correlation_idSTARTSWITH") {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c))
            {
                return false;
            }
            1
        } else if let Some(v) = term.strip_prefix("sys_created_on>=") {
            let shape = v.len() == 19
                && v.char_indices().all(|(i, c)| match i {
                    4 | 7 => c == '-',
                    10 => c == ' ',
                    13 | 16 => c == ':',
                    _ => c.is_ascii_digit(),
                });
            if !shape {
                return false;
            }
            2
        } else if term == "id=com.sn_customerservice" {
            3
        } else if let Some(v) = term.strip_prefix("sys_id>") {
            if v.len() != 32
                || !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            {
                return false;
            }
            4
        } else if term == "ORDERBYsys_id" {
            5
        } else {
            return false;
        };
        if this <= rank {
            return false;
        }
        rank = this;
    }
    true
}

/// A tenant with `count` companies, paging by key; every query is checked and kept.
fn tenant(count: u32, queries: Arc<Mutex<Vec<String>>>) -> Server {
    Server::start(move |r: &Request| {
        if let Some(q) = r.param("sysparm_query") {
            queries.lock().unwrap().push(q.clone());
            if !contract_query(&q) {
                return envelope(400, "Invalid query", &q);
            }
        }
        let after = r.param("sysparm_query").and_then(|q| {
            q.split('^')
                .find_map(|t| t.strip_prefix("sys_id>").map(str::to_owned))
        });
        let limit: usize = r
            .param("sysparm_limit")
            .map_or(10_000, |l| l.parse().unwrap());
        match r.path.as_str() {
            "/api/now/table/core_company" => {
                let rows: Vec<_> = (1..=count)
                    .map(|n| json!({"sys_id": sys_id(n), "name": format!("Company {n}"), "customer": "true", "parent": ""}))
                    .filter(|row| after.as_deref().is_none_or(|a| row["sys_id"].as_str().unwrap() > a))
                    .take(limit)
                    .collect();
                Reply::json(200, json!({"result": rows}))
            }
            "/api/now/table/incident" | "/api/now/table/sn_customerservice_case" => {
                let rows: Vec<_> = (1..=3)
                    .map(|n| json!({"sys_id": sys_id(n), "number": format!("X{n}"), "state": "1", "correlation_id": format!("ninjaone:acme:alert:{n}")}))
                    .filter(|row| after.as_deref().is_none_or(|a| row["sys_id"].as_str().unwrap() > a))
                    .take(limit)
                    .collect();
                Reply::json(200, json!({"result": rows}))
            }
            "/api/now/table/v_plugin" => Reply::json(
                200,
                json!({"result": [{"id": "com.sn_customerservice", "active": "active"}]}),
            ),
            "/api/now/table/customer_account" => Reply::json(200, json!({"result": []})),
            _ => envelope(404, "No Record found", "Record doesn't exist"),
        }
    })
}
