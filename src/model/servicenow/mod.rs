//! ServiceNow Table API types: companies, customer accounts, incidents, Customer Service
//! Management cases and CMDB items.
//!
//! Decoding accepts what the Table API really sends (API-NOTES.md): booleans and numbers as
//! strings, references as `""`, a bare sys_id or `{"link", "value"}`, and UTC
//! `yyyy-MM-dd HH:mm:ss` dates. Use [`decode_rows`](super::decode_rows) on a page so that a row with a malformed
//! `sys_id` is an error for that row only.

mod case;
mod cmdb;
mod company;
mod incident;

pub use case::{Case, CaseState, CaseUpdate, NewCase};
pub use cmdb::{CiClass, CiItem, CiItemError, CiItemResult, CiOperation, CiOwner, CiSourceInfo};
pub use company::{Company, CustomerAccount, NewCompany};
pub use incident::{CorrelationId, Incident, IncidentState, IncidentUpdate, Level, NewIncident};

use serde::{Deserialize, Deserializer, Serializer};

use super::wire::sn_opt_u32;

/// An optional field where ServiceNow sends `""` (or `null`) for none.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A choice field's code as ServiceNow stores it: the number as a string.
fn serialize_code<S: Serializer>(code: u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&code.to_string())
}

/// A choice field's code (`"6"` or `6`); an empty value is an error that names `what`.
fn deserialize_code<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<u32, D::Error> {
    match sn_opt_u32::deserialize(d)? {
        Some(n) => Ok(n),
        None => Err(serde::de::Error::custom(format!("{what} is empty"))),
    }
}
