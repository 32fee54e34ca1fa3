//! What a pass saw of both sides: [`Observed`] listings and the [`Snapshot`] made of them.

use serde::Serialize;

use crate::model::{CiMapping, Company, CustomerAccount, DeviceRole, Organization};

/// A listing as a pass saw it. Only a [`Complete`](Self::Complete) listing lets the planner
/// conclude that something is absent; what an incomplete or unavailable listing might have held
/// is unknown, never absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Observed<T> {
    /// Every row was listed and decoded.
    Complete {
        /// The rows.
        items: Vec<T>,
    },
    /// Some rows could not be decoded (or were otherwise missed): what is here is real, what is
    /// not here is unknown.
    Incomplete {
        /// The rows that were decoded.
        items: Vec<T>,
        /// Why the listing is incomplete.
        reason: String,
    },
    /// The listing was not fetched, or failed.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl<T> Observed<T> {
    /// A complete listing.
    #[must_use]
    pub fn complete(items: Vec<T>) -> Self {
        Self::Complete { items }
    }

    /// The rows seen (none when unavailable).
    #[must_use]
    pub fn items(&self) -> &[T] {
        match self {
            Self::Complete { items } | Self::Incomplete { items, .. } => items,
            Self::Unavailable { .. } => &[],
        }
    }

    /// Whether the listing is complete, so absence means absence.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete { .. })
    }

    /// Why the listing is not complete, when it is not.
    #[must_use]
    pub fn gap(&self) -> Option<&str> {
        match self {
            Self::Complete { .. } => None,
            Self::Incomplete { reason, .. } | Self::Unavailable { reason } => Some(reason),
        }
    }
}

/// Both sides as one pass saw them, plus the store's CI mappings. The input of
/// [`plan`](super::plan).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// NinjaOne organizations.
    pub organizations: Observed<Organization>,
    /// ServiceNow companies (customer accounts included, as `customer_account` extends
    /// `core_company`).
    pub companies: Observed<Company>,
    /// Whether Customer Service Management is installed; `None` when not detected (not needed,
    /// or detection failed).
    pub customer_service_management: Option<bool>,
    /// Customer accounts (listed only when some configuration names one).
    pub customer_accounts: Observed<CustomerAccount>,
    /// NinjaOne device roles (listed only when some configuration uses a CI mapping).
    pub device_roles: Observed<DeviceRole>,
    /// The CI mappings in the store.
    pub ci_mappings: Vec<CiMapping>,
}

impl Snapshot {
    /// A snapshot of the two main listings; customer accounts and device roles are
    /// [`Observed::Unavailable`] ("not listed") and CSM undetected until set.
    #[must_use]
    pub fn new(organizations: Observed<Organization>, companies: Observed<Company>) -> Self {
        Self {
            organizations,
            companies,
            customer_service_management: None,
            customer_accounts: Observed::Unavailable {
                reason: "customer accounts were not listed".to_owned(),
            },
            device_roles: Observed::Unavailable {
                reason: "device roles were not listed".to_owned(),
            },
            ci_mappings: Vec::new(),
        }
    }

    /// Sets what is known of Customer Service Management and its accounts.
    #[must_use]
    pub fn with_customer_accounts(
        mut self,
        installed: Option<bool>,
        accounts: Observed<CustomerAccount>,
    ) -> Self {
        self.customer_service_management = installed;
        self.customer_accounts = accounts;
        self
    }

    /// Sets the device roles and the store's CI mappings.
    #[must_use]
    pub fn with_ci(mut self, roles: Observed<DeviceRole>, mappings: Vec<CiMapping>) -> Self {
        self.device_roles = roles;
        self.ci_mappings = mappings;
        self
    }
}
