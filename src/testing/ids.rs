//! Id helpers for tests: `org(2)` instead of `OrganizationId::new(2).unwrap()`, and friends.
//!
//! Every helper panics on a value the id's rules refuse (`0` for NinjaOne ids): a test that
//! passes one has a bug, and the panic names the helper and the value.
//!
//! ```
//! use ninjaone_servicenow::testing::ids::{device, org, role, sys_id};
//! assert_eq!(org(2).get(), 2);
//! assert_eq!(device(7).get(), 7);
//! assert_eq!(role(3).get(), 3);
//! assert_eq!(sys_id(10).as_str(), "0000000000000000000000000000000a");
//! ```

use crate::model::{DeviceId, DeviceRoleId, OrganizationId, SysId};

/// The organization id `n`.
///
/// # Panics
///
/// When `n` is `0`.
#[must_use]
#[track_caller]
pub fn org(n: u32) -> OrganizationId {
    OrganizationId::new(n).unwrap_or_else(|_| panic!("testing::ids::org({n}): not an id"))
}

/// The device id `n`.
///
/// # Panics
///
/// When `n` is `0`.
#[must_use]
#[track_caller]
pub fn device(n: u32) -> DeviceId {
    DeviceId::new(n).unwrap_or_else(|_| panic!("testing::ids::device({n}): not an id"))
}

/// The device role id `n`.
///
/// # Panics
///
/// When `n` is `0`.
#[must_use]
#[track_caller]
pub fn role(n: u32) -> DeviceRoleId {
    DeviceRoleId::new(n).unwrap_or_else(|_| panic!("testing::ids::role({n}): not an id"))
}

/// The `sys_id` that is `n` in 32 lowercase hexadecimal digits (`sys_id(1)` is
/// `000…001`). Never panics: every `u64` fits.
#[must_use]
pub fn sys_id(n: u64) -> SysId {
    let hex = format!("{n:032x}");
    match hex.parse() {
        Ok(id) => id,
        Err(_) => unreachable!("32 hexadecimal digits are a sys_id"),
    }
}
