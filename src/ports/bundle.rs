//! [`Ports`]: the four `Arc`s both engines are built from.

use std::sync::Arc;

use super::{ConfigStore, NinjaOneApi, ServiceNowApi};
use crate::clock::Clock;

/// The four ports taken apart, for the engines' constructors.
pub(crate) type Parts = (
    Arc<dyn NinjaOneApi>,
    Arc<dyn ServiceNowApi>,
    Arc<dyn ConfigStore>,
    Arc<dyn Clock>,
);

/// The ports an engine works through — NinjaOne, ServiceNow, the store and the clock — built
/// once and handed to both engines:
/// [`OrganizationSync::new(ports)`](crate::engine::OrganizationSync::new) and
/// [`IncidentRouter::new(ports, settings)`](crate::engine::incidents::IncidentRouter::new).
///
/// Cloning is cheap (four `Arc`s) and every clone shares the same clients, store and clock.
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::sync::Arc;
///
/// use ninjaone_servicenow::clock::ManualClock;
/// use ninjaone_servicenow::engine::OrganizationSync;
/// use ninjaone_servicenow::engine::incidents::{IncidentRouter, IncidentSettings};
/// use ninjaone_servicenow::ports::Ports;
/// use ninjaone_servicenow::store::MemoryStore;
/// use ninjaone_servicenow::testing::{FakeNinjaOne, FakeServiceNow, fixed_time};
///
/// let ports = Ports::new(
///     Arc::new(FakeNinjaOne::new()),
///     Arc::new(FakeServiceNow::new()),
///     Arc::new(MemoryStore::new()),
///     Arc::new(ManualClock::new(fixed_time())),
/// );
/// let sync = OrganizationSync::new(ports.clone());
/// let router = IncidentRouter::new(ports, IncidentSettings::new("acme-prod")?);
/// # let _ = (sync, router);
/// # }
/// # Ok::<(), ninjaone_servicenow::engine::incidents::InvalidIntegrationId>(())
/// ```
#[derive(Debug, Clone)]
pub struct Ports {
    ninja: Arc<dyn NinjaOneApi>,
    snow: Arc<dyn ServiceNowApi>,
    store: Arc<dyn ConfigStore>,
    clock: Arc<dyn Clock>,
}

impl Ports {
    /// The bundle of the two APIs, the store and the clock.
    #[must_use]
    pub fn new(
        ninja: Arc<dyn NinjaOneApi>,
        snow: Arc<dyn ServiceNowApi>,
        store: Arc<dyn ConfigStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ninja,
            snow,
            store,
            clock,
        }
    }

    /// NinjaOne.
    #[must_use]
    pub fn ninja(&self) -> &Arc<dyn NinjaOneApi> {
        &self.ninja
    }

    /// ServiceNow.
    #[must_use]
    pub fn servicenow(&self) -> &Arc<dyn ServiceNowApi> {
        &self.snow
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ConfigStore> {
        &self.store
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The four ports, taken apart.
    pub(crate) fn into_parts(self) -> Parts {
        (self.ninja, self.snow, self.store, self.clock)
    }
}
