//! The NinjaOne HTTP client against a local server: OAuth client credentials (single flight,
//! expiry mid-run, wrong credentials), `pageSize`/`after` paging, error bodies in every form,
//! retries and broken bodies.

use crate::support::http_server as support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ninjaone_servicenow::http::{ClientStats, NinjaOneClient, NinjaOneConfig, Secret, USER_AGENT};
use ninjaone_servicenow::model::OrganizationId;
use ninjaone_servicenow::ports::{
    ApiErrorKind, Cursor, NinjaOneApi, PageRequest, Remote, collect_all,
};
use serde_json::json;
use support::{Reply, Request, Server, fast};

mod errors;
mod listings;
mod paging;
mod tokens;
mod webhooks;

const SECRET: &str = "ninja-client-secret-0042";

fn client(server: &Server) -> NinjaOneClient {
    NinjaOneClient::new(
        NinjaOneConfig::new(&server.origin(), "client-7", Secret::new(SECRET))
            .unwrap()
            .options(fast()),
    )
    .unwrap()
}

fn token_reply(token: &str) -> Reply {
    Reply::json(
        200,
        json!({"access_token": token, "expires_in": 3600, "token_type": "bearer", "scope": "monitoring management"}),
    )
}

fn orgs(ids: std::ops::RangeInclusive<u32>) -> Vec<serde_json::Value> {
    ids.map(|id| json!({"id": id, "name": format!("Org {id}"), "nodeApprovalMode": "AUTOMATIC"}))
        .collect()
}

/// A tenant of `count` organizations that pages by `pageSize`/`after` and checks the token.
fn tenant(count: u32) -> Server {
    Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok-1"),
        "/v2/organizations" => {
            if r.bearer() != Some("tok-1") {
                return Reply::json(
                    401,
                    json!({"resultCode": "FAILURE", "errorMessage": "Invalid token"}),
                );
            }
            let size: u32 = r.param("pageSize").unwrap().parse().unwrap();
            let after: u32 = r.param("after").map_or(0, |a| a.parse().unwrap());
            let page: Vec<_> = orgs(1..=count)
                .into_iter()
                .filter(|o| o["id"].as_u64().unwrap() > u64::from(after))
                .take(size as usize)
                .collect();
            Reply::json(200, json!(page))
        }
        _ => Reply::empty(404),
    })
}

const HOOK_SECRET: &str = "hook-secret-value-6Tz8";
