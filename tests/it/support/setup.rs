//! [`Setup`]: what a test's `OrganizationSync` is built with — a plan policy and engine options,
//! either of which converts into it.

use ninjaone_servicenow::engine::{EngineOptions, EngineOptionsBuilder};
use ninjaone_servicenow::plan::{Policy, PolicyBuilder};

/// A plan policy and engine options; a `Policy`, `EngineOptions` (or their builders) or a pair
/// of both converts into it, the other half taking its defaults.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub policy: Policy,
    pub options: EngineOptions,
}

impl From<Policy> for Setup {
    fn from(policy: Policy) -> Self {
        Self {
            policy,
            options: EngineOptions::default(),
        }
    }
}

impl From<PolicyBuilder> for Setup {
    fn from(policy: PolicyBuilder) -> Self {
        policy.build().into()
    }
}

impl From<EngineOptions> for Setup {
    fn from(options: EngineOptions) -> Self {
        Self {
            policy: Policy::default(),
            options,
        }
    }
}

impl From<EngineOptionsBuilder> for Setup {
    fn from(options: EngineOptionsBuilder) -> Self {
        options.build().into()
    }
}

impl From<(Policy, EngineOptions)> for Setup {
    fn from((policy, options): (Policy, EngineOptions)) -> Self {
        Self { policy, options }
    }
}
