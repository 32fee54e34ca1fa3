//! Decoding and status-machine benchmarks: `cargo bench --bench model`.
//!
//! Figures are what a sync pass pays per page before any planning: decoding a full page of
//! ServiceNow companies or NinjaOne devices row by row, and walking the status machine.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ninjaone_servicenow::machine::{SyncEvent, transition};
use ninjaone_servicenow::model::{Company, Device, SyncStatus, decode_rows};

const ROWS: usize = 1000;

fn companies_page() -> serde_json::Value {
    (0..ROWS)
        .map(|i| {
            serde_json::json!({
                "sys_id": format!("{i:032x}"),
                "name": format!("Customer {i:04}"),
                "customer": "true",
                "vendor": "false",
                "manufacturer": "false",
                "parent": {"link": "https://dev12345.service-now.com/api/now/table/core_company/0c43f35d4f5a1200c0a8016a9310c7d5", "value": "0c43f35d4f5a1200c0a8016a9310c7d5"},
                "sys_created_on": "2024-01-15 09:30:00",
                "sys_updated_on": "2024-05-01 08:00:00"
            })
        })
        .collect()
}

fn devices_page() -> serde_json::Value {
    (0..ROWS)
        .map(|i| {
            serde_json::json!({
                "id": i + 1, "organizationId": i % 50 + 1, "locationId": 2,
                "nodeClass": "WINDOWS_SERVER", "nodeRoleId": 9, "rolePolicyId": 43,
                "approvalStatus": "APPROVED", "offline": false,
                "displayName": format!("srv-{i:04}"), "systemName": format!("SRV-{i:04}"),
                "dnsName": format!("srv-{i:04}.corp.local"),
                "created": 1_707_363_433.892_432, "lastContact": 1_742_412_252.744,
                "lastUpdate": 1_742_412_252.744
            })
        })
        .collect()
}

fn decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_rows");
    group.throughput(Throughput::Elements(ROWS as u64));
    let companies = companies_page();
    group.bench_function("servicenow_companies_1000", |b| {
        b.iter_batched(
            || companies.clone(),
            |page| black_box(decode_rows::<Company>(page)),
            BatchSize::SmallInput,
        );
    });
    let companies_text = serde_json::to_vec(&companies).unwrap();
    group.bench_function("servicenow_companies_1000_from_bytes", |b| {
        b.iter(|| {
            let value: serde_json::Value = serde_json::from_slice(&companies_text).unwrap();
            black_box(decode_rows::<Company>(value))
        });
    });
    let devices = devices_page();
    group.bench_function("ninjaone_devices_1000", |b| {
        b.iter_batched(
            || devices.clone(),
            |page| black_box(decode_rows::<Device>(page)),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn machine(c: &mut Criterion) {
    c.bench_function("transition_all_45_pairs", |b| {
        b.iter(|| {
            let mut allowed = 0u32;
            for s in SyncStatus::ALL {
                for e in SyncEvent::ALL {
                    allowed += u32::from(transition(black_box(s), black_box(e)).is_ok());
                }
            }
            allowed
        });
    });
}

criterion_group!(benches, decoding, machine);
criterion_main!(benches);
