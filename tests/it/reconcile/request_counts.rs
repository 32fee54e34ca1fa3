//! How many requests a pass makes.

use super::*;

/// A full pass over `n` organizations and `c` companies (companies 1..=c match organizations
/// 1..=c), then a second pass that has nothing to do.
fn check_request_counts(n: usize, c: usize, page: u32) {
    let ninja = FakeNinjaOne::builder().organizations(n).build();
    let snow = FakeServiceNow::builder().companies(c).build();
    let w = world(
        ninja,
        snow,
        EngineOptions::builder().page_size(page).build(),
        IntegrationMode::Active,
    );
    let page_rows = usize::try_from(page).expect("a small page");
    let pages = |rows: usize| rows.div_ceil(page_rows);

    let report = w.run();
    let (nf, sf) = (w.ninja.faults(), w.snow.faults());
    assert!(
        nf.calls(NinjaOneMethod::Organizations) <= pages(n) + 1,
        "{:?}",
        nf.call_counts()
    );
    assert!(
        sf.calls(ServiceNowMethod::Companies) <= pages(c) + 1,
        "{:?}",
        sf.call_counts()
    );
    assert_eq!(
        nf.calls(NinjaOneMethod::Organization),
        0,
        "no per-organization read"
    );
    assert_eq!(
        sf.calls(ServiceNowMethod::Company),
        0,
        "no per-company read"
    );
    let counts = &report;
    assert_eq!((counts.matched, counts.created), (c, n - c));
    assert_eq!(sf.writes_of(ServiceNowMethod::CreateCompany), n - c);
    assert_eq!(sf.calls(ServiceNowMethod::CreateCompany), n - c);
    assert_eq!(report.remote_writes, n - c);
    assert_eq!(
        w.snow.all_companies().len(),
        n,
        "one company per organization"
    );
    let configs = w.configs();
    assert_eq!(configs.len(), n);
    assert!(configs.iter().all(|c| c.status() == SyncStatus::Active));

    // Nothing changed: nothing is written anywhere.
    let audit = w.audit_len();
    w.reset_counts();
    let again = w.run();
    assert_eq!(again.remote_writes, 0);
    assert_eq!(w.snow.faults().writes(), 0);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::CreateCompany), 0);
    assert!(w.snow.faults().calls(ServiceNowMethod::Companies) <= pages(n) + 1);
    assert_eq!(again.unchanged, n);
    assert_eq!(w.configs(), configs, "no configuration was written again");
    assert_eq!(w.audit_len(), audit, "no audit entry was written");
}

#[test]
fn a_pass_reads_whole_pages_and_writes_once_per_created_company() {
    check_request_counts(250, 120, 50);
}

#[test]
fn request_counts_hold_when_listings_are_exact_multiples_of_the_page() {
    check_request_counts(200, 100, 50);
    // The fakes end such a listing with one empty page, as the real APIs do: exactly +1.
    let w = world(
        FakeNinjaOne::builder().organizations(100).build(),
        FakeServiceNow::builder().companies(100).build(),
        EngineOptions::builder().page_size(50).build(),
        IntegrationMode::Active,
    );
    w.run();
    assert_eq!(w.ninja.faults().calls(NinjaOneMethod::Organizations), 3);
    assert_eq!(w.snow.faults().calls(ServiceNowMethod::Companies), 3);
}
