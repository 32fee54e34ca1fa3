//! The `devices-detailed` rows the fake serves, shaped as NinjaOne sends them.

use serde_json::{Value, json};

use crate::model::{Device, NodeClass};

/// A device's `devices-detailed` row: the device's own fields plus `details` (or generated ones).
pub(super) fn detailed_row(device: &Device, details: Option<&Value>) -> Value {
    let mut row = serde_json::to_value(device).unwrap_or_else(|_| json!({}));
    let details: std::borrow::Cow<'_, Value> = details.map_or_else(
        || std::borrow::Cow::Owned(generated_details(device)),
        std::borrow::Cow::Borrowed,
    );
    if let (Value::Object(row), Value::Object(details)) = (&mut row, details.as_ref()) {
        for (key, value) in details {
            row.insert(key.clone(), value.clone());
        }
    }
    row
}

/// Details shaped like a real tenant's, derived from the device id and class only.
pub(super) fn generated_details(device: &Device) -> Value {
    let id = device.id.get();
    let org = device.organization_id.get();
    if device.node_class == NodeClass::VmwareVmHost {
        return json!({
            "deviceType": "VMHost",
            "serviceTag": format!("VMH{id:07}"),
            "vendor": "Dell Inc.",
            "model": "PowerEdge R750",
            "cpuModel": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
            "cpuMhz": 2000,
            "memorySize": 549_755_813_888_u64,
        });
    }
    let server = matches!(
        device.node_class,
        NodeClass::WindowsServer | NodeClass::LinuxServer
    );
    let (model, os, build, memory) = match (&device.node_class, server) {
        (NodeClass::LinuxServer | NodeClass::LinuxWorkstation, _) => (
            "PowerEdge R650",
            "Ubuntu 22.04.4 LTS",
            "5.15.0",
            68_719_476_736_u64,
        ),
        (NodeClass::Mac, _) => ("MacBookPro18,3", "macOS 14.4", "23E214", 17_179_869_184),
        (_, true) => (
            "PowerEdge R650",
            "Windows Server 2022 Standard",
            "20348",
            68_719_476_736,
        ),
        _ => ("OptiPlex 7090", "Windows 11 Pro", "22631", 17_179_869_184),
    };
    let octet = id % 250 + 1;
    json!({
        "system": {
            "manufacturer": "Dell Inc.",
            "model": model,
            "serialNumber": format!("NJ{id:08}"),
            "biosSerialNumber": format!("NJ{id:08}"),
            "domain": format!("org{org:04}.local"),
        },
        "os": {
            "name": os,
            "manufacturer": "Microsoft Corporation",
            "architecture": "64-bit",
            "buildNumber": build,
            "releaseId": "23H2",
        },
        "memory": { "capacity": memory },
        "processors": [{
            "name": "Intel(R) Core(TM) i7-11700 CPU @ 2.50GHz",
            "numCores": 8,
            "clockSpeed": 2_496_000_000_u64,
        }],
        "volumes": [{ "name": "C:", "capacity": 511_101_108_224_u64 }],
        "ipAddresses": [format!("10.{}.0.{octet}", org % 250)],
        "macAddresses": [format!("00:50:56:00:{:02x}:{:02x}", (id >> 8) & 0xff, id & 0xff),
                         format!("00:50:56:00:{:02x}:{:02x}", (id >> 8) & 0xff, id & 0xff)],
        "lastLoggedInUser": format!("ORG{org:04}\\user{id}"),
    })
}
