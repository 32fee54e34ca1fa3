//! The ServiceNow client: what the common failures print.

use super::*;

/// The chain a host logs for a failed company lookup: the context, the cause and the fix, each
/// once.
fn lookup_chain(err: ninjaone_servicenow::ports::ApiError) -> String {
    let err = SyncError::Remote {
        remote: Remote::ServiceNow,
        context: format!("could not look up company {} in ServiceNow", sid(1)),
        error: err,
    };
    ErrorChain(&err).to_string()
}

/// No ": "-separated part of `chain` (a context, a cause, a fix) appears twice.
fn assert_each_part_once(chain: &str) {
    let parts: Vec<&str> = chain.split(": ").flat_map(|p| p.split("; ")).collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "{part:?} appears twice in {chain:?}"
        );
    }
}

#[tokio::test]
async fn the_common_failures_print_what_failed_why_and_what_to_do_once() {
    let answers: [fn() -> Reply; 3] = [
        || {
            envelope(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            )
        },
        || envelope(403, "Operation Failed", "ACL denied"),
        || envelope(429, "Too Many Requests", "rate limit").header("Retry-After", "3600"),
    ];
    let mut chains = Vec::new();
    for reply in answers {
        let server = Server::start(move |_: &Request| reply());
        let client = ServiceNowClient::new(
            ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
                .unwrap()
                .options(fast().max_attempts(1)),
        )
        .unwrap();
        chains.push(lookup_chain(client.company(&sid(1)).await.unwrap_err()));
    }
    let server = Server::start(|_: &Request| Reply::Silence(Duration::from_millis(600)));
    let client = ServiceNowClient::new(
        ServiceNowConfig::basic(&server.origin(), "integration", Secret::new(PASSWORD))
            .unwrap()
            .options(fast().timeout(Duration::from_millis(150)).max_attempts(1)),
    )
    .unwrap();
    chains.push(lookup_chain(client.company(&sid(1)).await.unwrap_err()));
    let path = format!("GET /api/now/table/core_company/{}", sys_id(1));
    let context = format!("could not look up company {} in ServiceNow", sys_id(1));
    assert_eq!(
        chains,
        [
            format!(
                "{context}: unauthorized: ServiceNow answered 401 to {path}: User Not \
                 Authenticated (Required to provide Auth information); check the ServiceNow user \
                 name and password (and the OAuth client)"
            ),
            format!(
                "{context}: forbidden: ServiceNow answered 403 to {path}: Operation Failed (ACL \
                 denied); give the integration user the roles it needs (itil for incidents, \
                 csm_ws_integration for cases, and read and write access to the company and \
                 CMDB tables)"
            ),
            format!(
                "{context}: rate limited (retry after 3600s): ServiceNow answered 429 to {path}: \
                 Too Many Requests (rate limit); retry later"
            ),
            format!(
                "{context}: transient failure: ServiceNow did not answer {path} within 150 ms; \
                 retry later: error sending request: operation timed out"
            ),
        ]
    );
    for chain in &chains {
        assert_each_part_once(chain);
    }
}
