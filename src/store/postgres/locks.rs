//! Session-level advisory locks, the planner's and the incident routers', each on a
//! connection of its own: released explicitly, or freed by closing the session on drop.

use std::fmt;

use async_trait::async_trait;

use super::errors::db_error;
use super::pool::Conn;
use super::{PostgresStore, TenantId};
use crate::ports::{PlannerGuard, RouterGuard, StoreError};

/// The planner lock of one tenant: a session-level advisory lock on a connection of its own.
struct PgPlannerGuard {
    conn: Conn,
    tenant: TenantId,
    released: bool,
}

impl fmt::Debug for PgPlannerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPlannerGuard")
            .field("tenant", &self.tenant.as_str())
            .finish_non_exhaustive()
    }
}

impl Drop for PgPlannerGuard {
    fn drop(&mut self) {
        // Unless released, close the session: PostgreSQL frees its advisory locks then.
        if !self.released {
            self.conn.discard = true;
        }
    }
}

const PLANNER_LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('ninjaone-servicenow planner'), \
                            hashtext($1))";
const PLANNER_UNLOCK: &str = "SELECT pg_advisory_unlock(hashtext('ninjaone-servicenow planner'), \
                              hashtext($1))";

/// The incident router lock of one tenant's integration id: like the planner lock, a
/// session-level advisory lock on a connection of its own.
struct PgRouterGuard {
    conn: Conn,
    key: String,
    released: bool,
}

impl fmt::Debug for PgRouterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRouterGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Drop for PgRouterGuard {
    fn drop(&mut self) {
        // Unless released, close the session: PostgreSQL frees its advisory locks then.
        if !self.released {
            self.conn.discard = true;
        }
    }
}

/// `<tenant>:<integration id>`: an integration id has no `:`, so no two pairs share a key.
fn router_lock_key(tenant: &TenantId, integration_id: &str) -> String {
    format!("{}:{integration_id}", tenant.as_str())
}

const ROUTER_LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('ninjaone-servicenow router'), \
                           hashtext($1))";
const ROUTER_UNLOCK: &str = "SELECT pg_advisory_unlock(hashtext('ninjaone-servicenow router'), \
                             hashtext($1))";

#[async_trait]
impl RouterGuard for PgRouterGuard {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        let key = self.key.clone();
        let unlocked: bool = self
            .conn
            .client()?
            .query_one(ROUTER_UNLOCK, &[&key])
            .await
            .map_err(|e| db_error("could not release the incident router lock", e))?
            .get(0);
        // Back to the pool only when the session no longer holds the lock.
        self.released = unlocked;
        Ok(())
    }
}

#[async_trait]
impl PlannerGuard for PgPlannerGuard {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        let tenant = self.tenant.as_str().to_owned();
        let unlocked: bool = self
            .conn
            .client()?
            .query_one(PLANNER_UNLOCK, &[&tenant])
            .await
            .map_err(|e| db_error("could not release the planner lock", e))?
            .get(0);
        // Back to the pool only when the session no longer holds the lock.
        self.released = unlocked;
        Ok(())
    }
}

impl PostgresStore {
    /// The incident router lock of `integration_id` ([`ConfigStore::lock_router`]), or `None`
    /// while another session holds it.
    ///
    /// [`ConfigStore::lock_router`]: crate::ports::ConfigStore::lock_router
    pub(super) async fn take_router_lock(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        let key = router_lock_key(&self.tenant, integration_id);
        let mut conn = self.pool.get_for_lock().await?;
        let locked: bool = conn
            .client()?
            .query_one(ROUTER_LOCK, &[&key])
            .await
            .map_err(|e| db_error("could not take the incident router lock", e))?
            .get(0);
        if !locked {
            return Ok(None);
        }
        Ok(Some(Box::new(PgRouterGuard {
            conn,
            key,
            released: false,
        })))
    }

    /// The planner lock of this tenant ([`WorkQueue::lock_planner`]), or `None` while another
    /// session holds it.
    ///
    /// [`WorkQueue::lock_planner`]: crate::ports::WorkQueue::lock_planner
    pub(super) async fn take_planner_lock(
        &self,
    ) -> Result<Option<Box<dyn PlannerGuard>>, StoreError> {
        let mut conn = self.pool.get_for_lock().await?;
        let locked: bool = conn
            .client()?
            .query_one(PLANNER_LOCK, &[&self.tenant.as_str()])
            .await
            .map_err(|e| db_error("could not take the planner lock", e))?
            .get(0);
        if !locked {
            return Ok(None);
        }
        Ok(Some(Box::new(PgPlannerGuard {
            conn,
            tenant: self.tenant.clone(),
            released: false,
        })))
    }
}
