//! The NinjaOne client: paging by cursor and rejected rows.

use super::*;

#[tokio::test]
async fn paging_walks_every_page_with_one_request_each() {
    let server = tenant(25);
    let client = client(&server);
    let listing = collect_all(PageRequest::first(10), 100, |p| client.organizations(p))
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 25);
    assert_eq!(listing.pages, 3);
    let ids: Vec<u32> = listing.items.iter().map(|o| o.id.get()).collect();
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    let gets: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/organizations")
        .collect();
    assert_eq!(gets.len(), 3);
    let afters: Vec<_> = gets.iter().map(|r| r.param("after")).collect();
    assert_eq!(afters, [None, Some("10".into()), Some("20".into())]);
    assert!(
        gets.iter()
            .all(|r| r.param("pageSize").as_deref() == Some("10"))
    );
    assert_eq!(
        client.stats(),
        ClientStats {
            requests: 4,
            reads: 3,
            writes: 0,
            retries: 0,
            token_requests: 1
        }
    );
}

#[tokio::test]
async fn an_exactly_full_last_page_is_followed_by_one_more_request_never_truncated() {
    let server = tenant(20);
    let client = client(&server);
    let listing = collect_all(PageRequest::first(10), 100, |p| client.organizations(p))
        .await
        .unwrap();
    assert_eq!((listing.items.len(), listing.pages), (20, 3));
    assert_eq!(server.count("GET", "/v2/organizations"), 3);
}

#[tokio::test]
async fn a_malformed_row_is_rejected_alone_and_paging_goes_on() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        _ if r.param("after").is_none() => Reply::json(
            200,
            json!([{"id": 1, "name": "A"}, {"id": "two", "name": "B"}, {"id": 3, "name": "C"}]),
        ),
        _ => {
            assert_eq!(r.param("after").as_deref(), Some("3"));
            Reply::json(200, json!([]))
        }
    });
    let client = client(&server);
    let listing = collect_all(PageRequest::first(3), 10, |p| client.organizations(p))
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 2);
    assert_eq!(listing.rejected.len(), 1);
    assert_eq!(listing.rejected[0].index, 1);
    assert!(!listing.is_complete());
}
