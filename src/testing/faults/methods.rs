//! The typed method keys of fault injection: one enum per port, and [`Method`] over all three.

use std::fmt;

/// Declares one port's method enum: its variants, their names and `ALL`.
macro_rules! methods {
    (
        $(#[$meta:meta])*
        $name:ident ($port:literal, $count:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`.")] $variant, )*
        }

        impl $name {
            #[doc = concat!("Every method of the ", $port, ", in the trait's order.")]
            pub const ALL: [Self; $count] = [$(Self::$variant),*];

            /// The trait method's name (`"create_company"`), as injected errors spell it.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

methods! {
    /// A [`NinjaOneApi`](crate::ports::NinjaOneApi) method of
    /// [`FakeNinjaOne`](crate::testing::FakeNinjaOne), as [`Faults`](super::Faults) knows it.
    NinjaOneMethod ("`NinjaOneApi` fake", 8) {
        Organizations => "organizations",
        Organization => "organization",
        DeviceRoles => "device_roles",
        Devices => "devices",
        OrganizationDevices => "organization_devices",
        Alerts => "alerts",
        DevicesDetailed => "devices_detailed",
        DeviceAlerts => "device_alerts",
    }
}

methods! {
    /// A [`ServiceNowApi`](crate::ports::ServiceNowApi) method of
    /// [`FakeServiceNow`](crate::testing::FakeServiceNow), as [`Faults`](super::Faults) knows
    /// it. [`is_write`](Self::is_write) says which count as writes.
    ServiceNowMethod ("`ServiceNowApi` fake", 17) {
        Companies => "companies",
        Company => "company",
        CreateCompany => "create_company",
        CustomerServiceManagement => "customer_service_management",
        CustomerAccounts => "customer_accounts",
        CustomerAccount => "customer_account",
        Incidents => "incidents",
        CreateIncident => "create_incident",
        UpdateIncident => "update_incident",
        IdentifyReconcile => "identify_reconcile",
        Cases => "cases",
        CreateCase => "create_case",
        UpdateCase => "update_case",
        IdentifyReconcileQuery => "identify_reconcile_query",
        CiOwners => "ci_owners",
        UserGroup => "user_group",
        User => "user",
    }
}

methods! {
    /// A [`ConfigStore`](crate::ports::ConfigStore) method of
    /// [`MemoryStore`](crate::store::MemoryStore), as [`Faults`](super::Faults) knows it. The
    /// trait's provided methods (`write_config`, `append_audit`) call `write`.
    StoreMethod ("`ConfigStore` memory store", 20) {
        Configs => "configs",
        Config => "config",
        ConfigsOf => "configs_of",
        Write => "write",
        Mode => "mode",
        SetMode => "set_mode",
        CiMappings => "ci_mappings",
        PutCiMapping => "put_ci_mapping",
        DeleteCiMapping => "delete_ci_mapping",
        TicketTemplates => "ticket_templates",
        PutTicketTemplate => "put_ticket_template",
        DeleteTicketTemplate => "delete_ticket_template",
        Audit => "audit",
        TicketRecords => "ticket_records",
        TicketRecord => "ticket_record",
        WriteTicketRecords => "write_ticket_records",
        CiRecords => "ci_records",
        CiRecord => "ci_record",
        WriteCiRecords => "write_ci_records",
        LockRouter => "lock_router",
    }
}

impl ServiceNowMethod {
    /// Whether a call changes the instance, so [`Faults::writes`](super::Faults::writes) counts
    /// it when it commits: `create_company`, `create_incident`, `update_incident`,
    /// `create_case`, `update_case` and `identify_reconcile`.
    #[must_use]
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            Self::CreateCompany
                | Self::CreateIncident
                | Self::UpdateIncident
                | Self::CreateCase
                | Self::UpdateCase
                | Self::IdentifyReconcile
        )
    }

    /// Whether [`Faults::stall_after_writes`](super::Faults::stall_after_writes) hangs the call:
    /// the writes, and `identify_reconcile_query` (the CMDB step's dry run of a write).
    pub(crate) const fn stalls(self) -> bool {
        self.is_write() || matches!(self, Self::IdentifyReconcileQuery)
    }
}

/// Any method a fake or the memory store knows: the one key type [`Faults`](super::Faults)
/// takes. Every port's method enum converts into it, so `faults.calls(ServiceNowMethod::Companies)`
/// reads as it should and a misspelt method does not compile.
///
/// Ordered by port (NinjaOne, ServiceNow, store), then in the trait's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Method {
    /// A [`FakeNinjaOne`](crate::testing::FakeNinjaOne) method.
    NinjaOne(NinjaOneMethod),
    /// A [`FakeServiceNow`](crate::testing::FakeServiceNow) method.
    ServiceNow(ServiceNowMethod),
    /// A [`MemoryStore`](crate::store::MemoryStore) method.
    Store(StoreMethod),
}

impl Method {
    /// The trait method's name (`"create_company"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::NinjaOne(m) => m.name(),
            Self::ServiceNow(m) => m.name(),
            Self::Store(m) => m.name(),
        }
    }

    /// Whether [`Faults::stall_after_writes`](super::Faults::stall_after_writes) hangs the call.
    pub(crate) const fn stalls(self) -> bool {
        match self {
            Self::ServiceNow(m) => m.stalls(),
            Self::NinjaOne(_) | Self::Store(_) => false,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<NinjaOneMethod> for Method {
    fn from(method: NinjaOneMethod) -> Self {
        Self::NinjaOne(method)
    }
}

impl From<ServiceNowMethod> for Method {
    fn from(method: ServiceNowMethod) -> Self {
        Self::ServiceNow(method)
    }
}

impl From<StoreMethod> for Method {
    fn from(method: StoreMethod) -> Self {
        Self::Store(method)
    }
}
