//! Configuration items, decided without I/O: which devices go to the CMDB, as which class, with
//! which values, and which are skipped or already there. The rules are on [`plan_cis`].

mod payload;
mod planner;
mod types;

pub use payload::{ci_fingerprint, ci_identity, ci_internal_id};
pub use planner::plan_cis;
pub use types::{
    CiHeld, CiMappingConflict, CiPlan, CiSkipReason, CmdbSettings, CmdbSettingsBuilder,
    DEFAULT_CI_BATCH, DEFAULT_CI_DATA_SOURCE, PlannedCi,
};

#[cfg(test)]
mod tests;
