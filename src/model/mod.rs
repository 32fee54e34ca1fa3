//! Pure data: identifiers, NinjaOne and ServiceNow types, the mapping configuration, ticket
//! templates and the audit trail. Nothing here does I/O or reads the clock.

pub mod activity;
mod audit;
mod details;
mod ids;
mod listing;
mod mapping;
mod names;
mod ninjaone;
mod open_enum;
mod records;
mod rows;
mod servicenow;
mod template;
mod users;
pub(crate) mod wire;

pub use activity::{Activity, ActivityError};
pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditOutcome};
pub use details::{DetailedDevice, DeviceDetails, is_placeholder_serial};
pub use ids::{
    AlertUid, DeviceId, DeviceRoleId, IdError, LocationId, OrganizationId, PolicyId, SysId,
};
pub use listing::Listing;
pub use mapping::{
    CiMapping, CiMappingName, IntegrationMode, InvalidConfig, SyncConfig, SyncConfigParts,
    SyncStatus, TicketKind, UnknownMode, UnknownStatus, UnknownTicketKind,
};
pub use names::normalize_name;
pub(crate) use names::normalize_name_into;
pub use ninjaone::{
    Alert, ChassisType, Device, DeviceRole, Location, NodeApprovalMode, NodeClass, Organization,
    OrganizationDetailed, PolicyAssignment, Priority, Severity,
};
pub use records::{CiRecord, TicketRecord, TicketRecordState};
pub use rows::{RowError, decode_rows};
pub use servicenow::{
    Case, CaseState, CaseUpdate, CiClass, CiItem, CiItemError, CiItemResult, CiOperation, CiOwner,
    CiSourceInfo, Company, CorrelationId, CustomerAccount, Incident, IncidentState, IncidentUpdate,
    Level, NewCase, NewCompany, NewIncident,
};
pub use template::{
    FilterRefusal, MinSeverity, SourceType, TicketFieldValue, TicketTemplate, TicketTemplateName,
    UnknownSeverity,
};
pub use users::{User, UserGroup};
