//! The NinjaOne client: unpaged listings, fixtures and devices.

use super::*;

#[tokio::test]
async fn unpaged_listings_are_one_request_and_fixtures_decode() {
    let roles = include_str!("../../fixtures/ninjaone/roles.json");
    let alerts = include_str!("../../fixtures/ninjaone/alerts.json");
    let server = Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/roles" => Reply::text(200, "application/json", roles),
        "/v2/alerts" => Reply::text(200, "application/json", alerts),
        _ => Reply::empty(404),
    });
    let client = client(&server);
    let expected_roles = serde_json::from_str::<Vec<serde_json::Value>>(roles)
        .unwrap()
        .len();
    let page = client.device_roles().await.unwrap();
    assert_eq!(page.items.len() + page.rejected.len(), expected_roles);
    assert!(page.next.is_none());
    let page = client.alerts().await.unwrap();
    assert!(page.next.is_none());
    assert!(!page.items.is_empty());
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.raw_query.is_empty())
    );
}

#[tokio::test]
async fn a_cursor_that_is_not_an_id_is_refused_without_a_request() {
    let server = tenant(1);
    let client = client(&server);
    let page = PageRequest::first(10).next(Cursor::new("1 OR 1=1"));
    let err = client.organizations(page).await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Other);
    assert_eq!(server.count("GET", "/v2/organizations"), 0);
}

#[tokio::test]
async fn devices_of_an_organization_page_by_after() {
    let server = Server::start(|r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok"),
        "/v2/organization/3/devices" => {
            let after: u32 = r.param("after").map_or(0, |a| a.parse().unwrap());
            let rows: Vec<_> = (after + 1..=(after + 2).min(3))
                .map(|id| json!({"id": id, "organizationId": 3, "nodeClass": "WINDOWS_SERVER"}))
                .collect();
            Reply::json(200, json!(rows))
        }
        _ => Reply::empty(404),
    });
    let client = client(&server);
    let org = OrganizationId::new(3).unwrap();
    let listing = collect_all(PageRequest::first(2), 10, |p| {
        client.organization_devices(org, p)
    })
    .await
    .unwrap();
    assert_eq!((listing.items.len(), listing.pages), (3, 2));
}

#[tokio::test]
async fn devices_detailed_reads_agents_flat_vm_hosts_and_odd_rows_without_losing_the_page() {
    let fixture = include_str!("../../fixtures/ninjaone/devices_detailed.json");
    let server = Server::start(move |r: &Request| match r.path.as_str() {
        "/ws/oauth/token" => token_reply("tok-1"),
        "/v2/devices-detailed" => Reply::text(200, "application/json", fixture),
        _ => Reply::json(
            404,
            json!({"resultCode": "FAILURE", "errorMessage": "no such path"}),
        ),
    });
    let client = client(&server);
    let page = client
        .devices_detailed(PageRequest::first(100))
        .await
        .unwrap();
    // The row without a valid id is rejected alone; a short page ends the listing.
    assert_eq!((page.items.len(), page.rejected.len()), (3, 1));
    assert!(page.next.is_none());
    let [agent, host, odd] = page.items.as_slice() else {
        panic!("three devices");
    };
    let d = &agent.details;
    assert_eq!(agent.device.name(), "DC01");
    assert_eq!(d.serial_number.as_deref(), Some("7XK2Q53"));
    assert_eq!(d.model.as_deref(), Some("PowerEdge R650"));
    assert_eq!(d.os_name.as_deref(), Some("Windows Server 2022 Standard"));
    assert_eq!(
        (d.os_build.as_deref(), d.os_release.as_deref()),
        (Some("20348"), Some("21H2"))
    );
    assert_eq!(d.ram_bytes, Some(68_719_476_736));
    assert_eq!(
        (d.cpu_mhz, d.cpu_cores, d.cpu_count),
        (Some(2394), Some(16), Some(1))
    );
    assert_eq!(d.disk_bytes, Some(479_491_321_856 + 1_999_843_123_200));
    assert_eq!(d.domain.as_deref(), Some("cc.local"));
    assert_eq!(d.mac_addresses, ["00:50:56:A1:B2:C3"], "duplicates dropped");
    assert_eq!(d.ip_addresses.len(), 2);
    assert_eq!(d.last_logged_in_user.as_deref(), Some("CC\\administrator"));
    // A VMware host's detail is flat.
    let h = &host.details;
    assert_eq!(h.serial_number.as_deref(), Some("CZ2D1X0B7K"));
    assert_eq!(h.manufacturer.as_deref(), Some("HPE"));
    assert_eq!(
        (h.cpu_name.as_deref(), h.cpu_mhz),
        (Some("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"), Some(2095))
    );
    assert_eq!(h.ram_bytes, Some(412_316_860_416));
    // Placeholder serials and fields of the wrong type are left out; the device stays.
    assert_eq!(odd.device.name(), "PC-ODD");
    assert_eq!(odd.details.serial_number, None);
    assert_eq!((odd.details.ram_bytes, odd.details.cpu_count), (None, None));
    assert!(odd.details.ip_addresses.is_empty());
    let sent = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2/devices-detailed")
        .expect("one listing request");
    assert_eq!(sent.param("pageSize").as_deref(), Some("100"));
}
