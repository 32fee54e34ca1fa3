//! JSON bodies into and out of rows, and the integer conversions of keys and counts.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;

use super::errors::corrupt;
use crate::model::OrganizationId;
use crate::ports::{StoreError, StoreErrorKind};

pub(super) fn to_json(what: &str, value: &impl Serialize) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|err| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!("the {what} cannot be written as JSON: {err}"),
        )
    })
}

pub(super) fn from_row<T: DeserializeOwned>(
    row: &Row,
    column: &str,
    what: &str,
) -> Result<T, StoreError> {
    let value: serde_json::Value = row.try_get(column).map_err(|err| corrupt(what, err))?;
    serde_json::from_value(value).map_err(|err| corrupt(what, err))
}

pub(super) fn org_key(organization: OrganizationId) -> i64 {
    i64::from(organization.get())
}

pub(super) fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}
