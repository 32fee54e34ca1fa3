//! Companies (`core_company`) and Customer Service Management customer accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::ids::SysId;
use crate::model::wire::{sn_bool, sn_datetime, sn_opt_string, sn_raw_reference};

/// A company (`core_company`).
///
/// ```
/// use ninjaone_servicenow::model::Company;
/// let c: Company = serde_json::from_str(r#"{
///     "sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "name": "Acme", "customer": "true",
///     "vendor": "false", "parent": "", "sys_updated_on": "2024-05-01 08:00:00"
/// }"#)?;
/// assert!(c.customer);
/// assert_eq!(c.parent, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Company {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The company's name. Names are expected to be unique but ServiceNow does not enforce it.
    #[serde(default)]
    pub name: String,
    /// Whether the company is a customer.
    #[serde(default, with = "sn_bool")]
    pub customer: bool,
    /// Whether the company is a vendor.
    #[serde(default, with = "sn_bool")]
    pub vendor: bool,
    /// Whether the company is a manufacturer.
    #[serde(default, with = "sn_bool")]
    pub manufacturer: bool,
    /// The parent company, kept as received (not relied on, so not validated).
    #[serde(default, with = "sn_raw_reference")]
    pub parent: Option<String>,
    /// When the row was created.
    #[serde(default, rename = "sys_created_on", with = "sn_datetime")]
    pub created_on: Option<DateTime<Utc>>,
    /// When the row was last updated.
    #[serde(default, rename = "sys_updated_on", with = "sn_datetime")]
    pub updated_on: Option<DateTime<Utc>>,
}

impl Company {
    /// A customer company with a sys_id and a name and nothing else set (for tests and fakes;
    /// the API's answers are decoded with serde).
    #[must_use]
    pub fn new(sys_id: SysId, name: impl Into<String>) -> Self {
        Self {
            sys_id,
            name: name.into(),
            customer: true,
            vendor: false,
            manufacturer: false,
            parent: None,
            created_on: None,
            updated_on: None,
        }
    }
}

/// The body of a company to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCompany {
    /// The name, as it should appear in ServiceNow.
    pub name: String,
    /// Whether the company is a customer (the sync creates customers).
    #[serde(with = "sn_bool")]
    pub customer: bool,
}

/// A Customer Service Management customer account (`customer_account`, which extends
/// `core_company`: its sys_id is valid wherever a company reference is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomerAccount {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The account's name.
    #[serde(default)]
    pub name: String,
    /// The account number (`ACCT...`).
    #[serde(default, with = "sn_opt_string")]
    pub number: Option<String>,
    /// Whether the account is a customer.
    #[serde(default, with = "sn_bool")]
    pub customer: bool,
    /// Whether the account is a partner.
    #[serde(default, with = "sn_bool")]
    pub partner: bool,
    /// An external account code.
    #[serde(default, with = "sn_opt_string")]
    pub account_code: Option<String>,
    /// The parent account (`account_parent`), kept as received.
    #[serde(default, rename = "account_parent", with = "sn_raw_reference")]
    pub parent: Option<String>,
    /// When the row was created.
    #[serde(default, rename = "sys_created_on", with = "sn_datetime")]
    pub created_on: Option<DateTime<Utc>>,
    /// When the row was last updated.
    #[serde(default, rename = "sys_updated_on", with = "sn_datetime")]
    pub updated_on: Option<DateTime<Utc>>,
}

impl CustomerAccount {
    /// A customer account with a sys_id and a name and nothing else set.
    #[must_use]
    pub fn new(sys_id: SysId, name: impl Into<String>) -> Self {
        Self {
            sys_id,
            name: name.into(),
            number: None,
            customer: true,
            partner: false,
            account_code: None,
            parent: None,
            created_on: None,
            updated_on: None,
        }
    }
}
