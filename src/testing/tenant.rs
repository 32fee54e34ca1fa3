//! Deterministic, realistic test data shared by both fakes' builders.

use chrono::{DateTime, TimeDelta, Utc};

const FIRST: [&str; 12] = [
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Woodgrove",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Lucerne",
    "Alpine Ski",
    "Coho",
];

const TRADE: [&str; 10] = [
    "Dental",
    "Legal",
    "Accounting",
    "Veterinary",
    "Logistics",
    "Architects",
    "Pharmacy",
    "Insurance",
    "Bakery",
    "Engineering",
];

/// The name the builders give to customer number `index` (1-based), such as
/// `"Contoso Dental 0001"`. [`FakeNinjaOneBuilder::organizations`](super::FakeNinjaOneBuilder::organizations)
/// and [`FakeServiceNowBuilder::companies`](super::FakeServiceNowBuilder::companies) use the same
/// names, so organization `i` and company `i` match by name. The number keeps names unique.
///
/// ```
/// use ninjaone_servicenow::testing::customer_name;
/// assert_eq!(customer_name(1), "Contoso Dental 0001");
/// assert_eq!(customer_name(2), "Fabrikam Legal 0002");
/// ```
#[must_use]
pub fn customer_name(index: usize) -> String {
    let i = index.saturating_sub(1);
    format!(
        "{} {} {index:04}",
        FIRST[i % FIRST.len()],
        TRADE[(i + i / FIRST.len()) % TRADE.len()]
    )
}

/// The fixed time the fakes start at and stamp builder-made records with:
/// 2024-01-01 00:00:00 UTC. Nothing in the fakes reads the system clock.
#[must_use]
pub fn fixed_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

/// [`fixed_time`] plus `minutes`.
pub(crate) fn fixed_time_plus(minutes: usize) -> DateTime<Utc> {
    let minutes = i64::try_from(minutes).unwrap_or(i64::MAX / 60_000);
    fixed_time()
        .checked_add_signed(TimeDelta::try_minutes(minutes).unwrap_or_default())
        .unwrap_or_else(fixed_time)
}
