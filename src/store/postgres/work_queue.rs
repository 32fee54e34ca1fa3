//! The [`WorkQueue`] of [`PostgresStore`]: enqueue without duplicates, claims with leases
//! (`FOR UPDATE SKIP LOCKED`), completion and release checked against the claim.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::PostgresStore;
use super::errors::corrupt;
use super::rows::{count, from_row, org_key, to_json};
use crate::ports::{
    Claim, PlannerGuard, QueueCounts, StoreError, WorkItem, WorkQueue, WorkResult, lease_end,
};
use crate::store::queue::lost;

/// The columns a claim is read from.
fn claim_from(row: &Row, worker: &str) -> Result<Claim, StoreError> {
    let id: i64 = row.try_get("id").map_err(|e| corrupt("work item", e))?;
    let claims: i32 = row.try_get("claims").map_err(|e| corrupt("work item", e))?;
    let until: DateTime<Utc> = row
        .try_get("lease_until")
        .map_err(|e| corrupt("work item", e))?;
    let item: WorkItem = from_row(row, "body", "work item")?;
    Ok(Claim::new(
        u64::try_from(id).unwrap_or(0),
        u32::try_from(claims).unwrap_or(0),
        worker,
        until,
        item,
    ))
}

fn claim_key(claim: &Claim) -> (i64, i32) {
    (
        i64::try_from(claim.id).unwrap_or(i64::MAX),
        i32::try_from(claim.claim).unwrap_or(i32::MAX),
    )
}

#[async_trait]
impl WorkQueue for PostgresStore {
    async fn lock_planner(&self) -> Result<Option<Box<dyn PlannerGuard>>, StoreError> {
        self.take_planner_lock().await
    }

    async fn enqueue(&self, items: Vec<WorkItem>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut orgs = Vec::with_capacity(items.len());
        let mut bodies = Vec::with_capacity(items.len());
        for item in &items {
            orgs.push(org_key(item.organization));
            bodies.push(to_json("work item", item)?);
        }
        let rows = self
            .query(
                "could not enqueue work",
                "INSERT INTO work_items (tenant, organization, body, state, enqueued_at)
                 SELECT $1, o, b, 'queued', $4
                 FROM unnest($2::bigint[], $3::jsonb[]) WITH ORDINALITY AS t(o, b, n)
                 ORDER BY n
                 ON CONFLICT (tenant, organization) WHERE state <> 'done' DO NOTHING
                 RETURNING id",
                &[&self.tenant.as_str(), &orgs, &bodies, &now],
            )
            .await?;
        Ok(rows.len())
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        let until = lease_end(now, lease);
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "could not claim work",
                "WITH picked AS (
                     SELECT id FROM work_items
                     WHERE tenant = $1 AND state = 'queued'
                     ORDER BY id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE work_items w
                 SET state = 'claimed', worker = $3, lease_until = $4, claims = w.claims + 1
                 FROM picked WHERE w.id = picked.id
                 RETURNING w.id, w.claims, w.lease_until, w.body",
                &[&self.tenant.as_str(), &max, &worker, &until],
            )
            .await?;
        let mut claims = rows
            .iter()
            .map(|row| claim_from(row, worker))
            .collect::<Result<Vec<_>, _>>()?;
        claims.sort_by_key(|c| c.id);
        Ok(claims)
    }

    async fn complete(
        &self,
        claim: &Claim,
        result: &WorkResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, claims) = claim_key(claim);
        let body = to_json("work result", result)?;
        let rows = self
            .query(
                "could not complete a work item",
                "UPDATE work_items
                 SET state = 'done', result = $5, applied = $6, completed_at = $7,
                     lease_until = NULL
                 WHERE tenant = $1 AND id = $2 AND claims = $3 AND worker = $4
                   AND state = 'claimed'
                 RETURNING id",
                &[
                    &self.tenant.as_str(),
                    &id,
                    &claims,
                    &claim.worker,
                    &body,
                    &result.is_applied(),
                    &now,
                ],
            )
            .await?;
        if rows.is_empty() {
            return Err(lost(claim));
        }
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), StoreError> {
        let (id, claims) = claim_key(claim);
        let rows = self
            .query(
                "could not release a work item",
                "UPDATE work_items SET state = 'queued', worker = NULL, lease_until = NULL
                 WHERE tenant = $1 AND id = $2 AND claims = $3 AND worker = $4
                   AND state = 'claimed'
                 RETURNING id",
                &[&self.tenant.as_str(), &id, &claims, &claim.worker],
            )
            .await?;
        if rows.is_empty() {
            return Err(lost(claim));
        }
        Ok(())
    }

    async fn reclaim_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let rows = self
            .query(
                "could not reclaim expired leases",
                "UPDATE work_items SET state = 'queued', worker = NULL, lease_until = NULL
                 WHERE tenant = $1 AND state = 'claimed' AND lease_until < $2
                 RETURNING id",
                &[&self.tenant.as_str(), &now],
            )
            .await?;
        Ok(rows.len())
    }

    async fn counts(&self) -> Result<QueueCounts, StoreError> {
        let rows = self
            .query(
                "could not count work items",
                "SELECT count(*) FILTER (WHERE state = 'queued'),
                        count(*) FILTER (WHERE state = 'claimed'),
                        count(*) FILTER (WHERE state = 'done'),
                        count(*) FILTER (WHERE applied),
                        coalesce(sum(claims), 0)::bigint
                 FROM work_items WHERE tenant = $1",
                &[&self.tenant.as_str()],
            )
            .await?;
        let mut counts = QueueCounts::default();
        if let Some(row) = rows.first() {
            counts.queued = count(row.get(0));
            counts.claimed = count(row.get(1));
            counts.done = count(row.get(2));
            counts.applied = count(row.get(3));
            counts.claims = count(row.get(4));
        }
        Ok(counts)
    }
}
