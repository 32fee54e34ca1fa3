//! CMDB types: classes, the items and answers of the Identification and Reconciliation API, and
//! a CI's owner.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ids::{IdError, SysId};
use crate::model::open_enum::open_enum;
use crate::model::wire::{sn_opt_string, sn_reference};

use super::empty_as_none;

/// A CMDB class, that is a validated table name such as `cmdb_ci_win_server`.
///
/// Table names are lowercase ASCII letters, digits and `_`, start with a letter and are at most
/// 80 characters; custom (`u_`) and scoped (`x_vendor_`) classes are accepted.
///
/// ```
/// use ninjaone_servicenow::model::CiClass;
/// let class: CiClass = "cmdb_ci_win_server".parse()?;
/// assert_eq!(class.as_str(), "cmdb_ci_win_server");
/// assert!("cmdb_ci_win_server^ORname=x".parse::<CiClass>().is_err());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CiClass(String);

impl CiClass {
    /// The table name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CiClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CiClass {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > 80 {
            return Err(IdError::new("CiClass", "must be 1 to 80 characters", s));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(IdError::new(
                "CiClass",
                "must start with a lowercase letter",
                s,
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(IdError::new(
                "CiClass",
                "only lowercase letters, digits and _ are allowed",
                s,
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for CiClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CiClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One item for the Identification and Reconciliation API
/// (`POST /api/now/identifyreconcile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CiItem {
    /// The CMDB class.
    pub class_name: CiClass,
    /// Field values (`name`, `serial_number`, `company`, ...).
    pub values: BTreeMap<String, String>,
    /// The caller's id for the item, echoed back in the result.
    #[serde(rename = "internal_id", skip_serializing_if = "Option::is_none")]
    pub internal_id: Option<String>,
    /// Where the item comes from: looked up in `sys_object_source` **before** any
    /// identification rule, so the CI it was last written to is found again even after a rename.
    #[serde(
        rename = "sys_object_source_info",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<CiSourceInfo>,
}

/// `sys_object_source_info` of an item: the data source and the item's key in it.
///
/// ```
/// use ninjaone_servicenow::model::CiSourceInfo;
/// let info = CiSourceInfo::new("NinjaOne", "8");
/// assert_eq!(
///     serde_json::to_value(&info)?,
///     serde_json::json!({"source_name": "NinjaOne", "source_native_key": "8"})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiSourceInfo {
    /// The data source (a `cmdb_ci.discovery_source` choice).
    pub source_name: String,
    /// The item's id in that source (here the NinjaOne device id).
    pub source_native_key: String,
}

impl CiSourceInfo {
    /// The source info of an item known as `native_key` in `source_name`.
    #[must_use]
    pub fn new(source_name: impl Into<String>, native_key: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            source_native_key: native_key.into(),
        }
    }
}

open_enum! {
    /// What the Identification and Reconciliation API did (or, for a dry run, would do) with an
    /// item.
    CiOperation {
        /// A new CI was inserted.
        Insert = "INSERT",
        /// An existing CI was updated.
        Update = "UPDATE",
        /// An existing CI already had these values.
        NoChange = "NO_CHANGE",
        /// Not enough identifying values: the payload was kept as a partial payload, and no CI
        /// was written (`sysId` is `"Unknown"`, `partialSysIds` names the partial payloads).
        InsertAsPartial = "INSERT_AS_PARTIAL",
    }
}

/// An error (or warning) the Identification and Reconciliation API reported for one item.
///
/// Read from the remote, so it may grow: build one with [`new`](Self::new).
///
/// ```
/// use ninjaone_servicenow::model::CiItemError;
/// let err = CiItemError::new("MISSING_MATCHING_ATTRIBUTES", "no serial number");
/// assert_eq!((err.kind.as_str(), err.message.as_str()), ("MISSING_MATCHING_ATTRIBUTES", "no serial number"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiItemError {
    /// The error's type, such as `MISSING_MATCHING_ATTRIBUTES`.
    #[serde(default, rename = "error", alias = "warning", with = "lenient_string")]
    pub kind: String,
    /// The message.
    #[serde(default, with = "lenient_string")]
    pub message: String,
}

/// The Identification and Reconciliation API's answer for one item.
///
/// Read as ServiceNow documents it: `sysId` is `"Unknown"` (read as `None`) when nothing was
/// identified; `operation` is `""` (read as `None`) when the item was not processed;
/// `relatedSysIds` may hold `null`s (dropped); `partialSysIds` come with `INSERT_AS_PARTIAL`.
///
/// Read from the remote, so it may grow: build one with [`new`](Self::new) (or `default()`)
/// and set the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CiItemResult {
    /// The class the item was identified as.
    #[serde(default)]
    pub class_name: Option<String>,
    /// What was done, when the item was processed (`""` on the wire when it was not).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub operation: Option<CiOperation>,
    /// The CI's sys_id, when identified (`""` or `"Unknown"` on the wire when not).
    #[serde(default, deserialize_with = "unknown_as_none")]
    pub sys_id: Option<SysId>,
    /// The caller's id for the item, when one was sent.
    #[serde(default, rename = "internal_id")]
    pub internal_id: Option<String>,
    /// Errors for this item; empty on success.
    #[serde(default, deserialize_with = "lenient_list")]
    pub errors: Vec<CiItemError>,
    /// Warnings for this item (such as `MISSING_MATCHING_ATTRIBUTES` with a partial insert).
    #[serde(
        default,
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub warnings: Vec<CiItemError>,
    /// The partial payloads written for an `INSERT_AS_PARTIAL` item.
    #[serde(
        default,
        deserialize_with = "sys_id_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub partial_sys_ids: Vec<SysId>,
    /// Related items' sys_ids (`null`s dropped).
    #[serde(
        default,
        deserialize_with = "sys_id_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_sys_ids: Vec<SysId>,
}

impl CiItemError {
    /// An error (or warning) of `kind` (such as `MISSING_MATCHING_ATTRIBUTES`) with its message.
    #[must_use]
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

impl CiItemResult {
    /// The answer `operation` with `sys_id` for the item `internal_id`, without errors.
    #[must_use]
    pub fn new(
        operation: Option<CiOperation>,
        sys_id: Option<SysId>,
        internal_id: Option<String>,
    ) -> Self {
        Self {
            operation,
            sys_id,
            internal_id,
            ..Self::default()
        }
    }
}

/// A sys_id, with `""`, `null` and `"Unknown"` (what the API sends when nothing was identified)
/// as `None`; any other value that is not a sys_id is an error.
fn unknown_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SysId>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() || s.eq_ignore_ascii_case("unknown") => {
            Ok(None)
        }
        Some(serde_json::Value::String(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        Some(other) => Err(serde::de::Error::custom(format!(
            "sysId must be a string, not {other}"
        ))),
    }
}

/// The sys_ids of a list; `null`s, `"Unknown"` and values that are not sys_ids are dropped, and
/// a value that is not a list reads as empty.
fn sys_id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SysId>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect())
}

/// The errors of a list; entries that are not objects are kept as messages, and a value that is
/// not a list reads as empty.
fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CiItemError>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| match v {
            serde_json::Value::Object(_) => {
                serde_json::from_value(v.clone()).unwrap_or_else(|_| CiItemError {
                    kind: String::new(),
                    message: v.to_string(),
                })
            }
            serde_json::Value::String(s) => CiItemError {
                kind: String::new(),
                message: s.clone(),
            },
            other => CiItemError {
                kind: String::new(),
                message: other.to_string(),
            },
        })
        .collect())
}

/// A string, or anything else written out; `null` as empty.
mod lenient_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
        })
    }
}

/// One CI's owner as the Table API reads it (`cmdb_ci`: `sys_id`, `name`, `sys_class_name`,
/// `company`), to tell whether a CI the Identification and Reconciliation API would update
/// belongs to the company a device is synced to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CiOwner {
    /// The CI.
    pub sys_id: SysId,
    /// Its name.
    #[serde(default, with = "sn_opt_string")]
    pub name: Option<String>,
    /// Its class.
    #[serde(default, rename = "sys_class_name", with = "sn_opt_string")]
    pub class_name: Option<String>,
    /// Its company (`None` when the reference is empty).
    #[serde(default, with = "sn_reference")]
    pub company: Option<SysId>,
}

impl CiOwner {
    /// The CI `sys_id`, named `name`, of `company`.
    #[must_use]
    pub fn new(sys_id: SysId, name: Option<String>, company: Option<SysId>) -> Self {
        Self {
            sys_id,
            name,
            class_name: None,
            company,
        }
    }
}
