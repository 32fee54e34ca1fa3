//! The mapping side: named configuration-item mappings, one [`SyncConfig`] per organization, its
//! [`SyncStatus`] and the integration's [`IntegrationMode`].

mod ci_mapping;
mod config;
mod status;
#[cfg(test)]
mod tests;

pub use ci_mapping::{CiMapping, CiMappingName};
pub use config::{InvalidConfig, SyncConfig, SyncConfigParts};
pub use status::{
    IntegrationMode, SyncStatus, TicketKind, UnknownMode, UnknownStatus, UnknownTicketKind,
};
