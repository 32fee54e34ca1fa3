//! The [`ConfigStore`] of [`PostgresStore`]: configurations with their versions and audit
//! entries in one transaction, the mode, CI mappings, ticket templates and the keyed records.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::TimeDelta;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::PostgresStore;
use super::errors::{corrupt, db_error};
use super::rows::{from_row, org_key, to_json};
use crate::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate, TicketTemplateName,
};
use crate::ports::{ConfigStore, RouterGuard, StoreError, StoreErrorKind, WriteBatch};

impl PostgresStore {
    async fn bodies<T: DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self
            .query(
                &format!("could not read the {what}s"),
                sql,
                &[&self.tenant.as_str()],
            )
            .await?;
        rows.iter().map(|row| from_row(row, "body", what)).collect()
    }

    /// The body stored under `key` in one of the keyed record tables (a primary-key lookup).
    async fn body_by_key<T: DeserializeOwned>(
        &self,
        table: &str,
        what: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let rows = self
            .query(
                &format!("could not read the {what} of {key}"),
                &format!("SELECT body FROM {table} WHERE tenant = $1 AND key = $2"),
                &[&self.tenant.as_str(), &key],
            )
            .await?;
        rows.first()
            .map(|row| from_row(row, "body", what))
            .transpose()
    }

    /// Upserts `put` and removes `remove` by key in one of the keyed record tables.
    async fn write_keyed<V: Serialize>(
        &self,
        table: &str,
        what: &str,
        put: Vec<(String, V)>,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut seen = BTreeSet::new();
        for key in put.iter().map(|(k, _)| k).chain(remove.iter()) {
            if !seen.insert(key.clone()) {
                return Err(StoreError::new(
                    StoreErrorKind::Invalid,
                    format!("the write names {what} {key} twice; merge the changes into one"),
                ));
            }
        }
        let mut keys = Vec::with_capacity(put.len());
        let mut bodies = Vec::with_capacity(put.len());
        for (key, record) in &put {
            keys.push(key.clone());
            bodies.push(to_json(&format!("{what} record"), record)?);
        }
        let context = format!("could not write the {what} records");
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error(&context, e))?;
        let tenant = self.tenant.as_str();
        if !keys.is_empty() {
            tx.execute(
                &format!(
                    "INSERT INTO {table} (tenant, key, body)
                     SELECT $1, k, b FROM unnest($2::text[], $3::jsonb[]) AS t(k, b)
                     ON CONFLICT (tenant, key) DO UPDATE SET body = EXCLUDED.body"
                ),
                &[&tenant, &keys, &bodies],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
        }
        if !remove.is_empty() {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = $1 AND key = ANY($2)"),
                &[&tenant, &remove],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
        }
        tx.commit().await.map_err(|e| db_error(&context, e))
    }

    /// The conflict of a batch whose check failed: names the first configuration whose stored
    /// version is not the expected one.
    async fn conflict(&self, batch: &[SyncConfig]) -> StoreError {
        let stored: Vec<(i64, i64)> = match self
            .query(
                "could not re-read conflicting configurations",
                "SELECT organization, version FROM sync_configs WHERE tenant = $1",
                &[&self.tenant.as_str()],
            )
            .await
        {
            Ok(rows) => rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            Err(err) => return err,
        };
        let stored: std::collections::HashMap<i64, i64> = stored.into_iter().collect();
        for config in batch {
            let organization = config.organization();
            let expected = config.version();
            let now = stored.get(&org_key(organization)).copied();
            let message = match (now, expected) {
                (Some(v), 0) => format!(
                    "organization {organization} already has a configuration (version {v} is \
                     stored) but the write inserts a new one (expected version 0)"
                ),
                (None, e) if e > 0 => format!(
                    "organization {organization} has no stored configuration but the write \
                     expected version {e}"
                ),
                (Some(v), e) if u64::try_from(v).ok() != Some(e) && e > 0 => format!(
                    "organization {organization}'s configuration changed meanwhile: the write \
                     expected version {e} but version {v} is stored"
                ),
                _ => continue,
            };
            return StoreError::new(
                StoreErrorKind::Conflict,
                format!("{message}; read the configuration again and re-apply the change"),
            );
        }
        StoreError::new(
            StoreErrorKind::Conflict,
            "a configuration of the batch changed meanwhile; read again and re-apply the change",
        )
    }
}

#[async_trait]
impl ConfigStore for PostgresStore {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        self.bodies(
            "configuration",
            "SELECT body FROM sync_configs WHERE tenant = $1 ORDER BY organization",
        )
        .await
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        let rows = self
            .query(
                &format!("could not read organization {organization}'s configuration"),
                "SELECT body FROM sync_configs WHERE tenant = $1 AND organization = $2",
                &[&self.tenant.as_str(), &org_key(organization)],
            )
            .await?;
        rows.first()
            .map(|row| from_row(row, "body", "configuration"))
            .transpose()
    }

    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        let keys: Vec<i64> = organizations.iter().copied().map(org_key).collect();
        let rows = self
            .query(
                "could not read the configurations",
                "SELECT body FROM sync_configs WHERE tenant = $1 AND organization = ANY($2) \
                 ORDER BY organization",
                &[&self.tenant.as_str(), &keys],
            )
            .await?;
        rows.iter()
            .map(|row| from_row(row, "body", "configuration"))
            .collect()
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        batch.validate()?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let WriteBatch { configs, audit } = batch;
        let mut stored = Vec::with_capacity(configs.len());
        let (mut new_orgs, mut new_bodies) = (Vec::new(), Vec::new());
        let (mut upd_orgs, mut upd_versions, mut upd_bodies) = (Vec::new(), Vec::new(), Vec::new());
        for config in &configs {
            let mut saved = config.clone();
            saved.set_version(config.version() + 1);
            let body = to_json("configuration", &saved)?;
            let org = org_key(config.organization());
            if config.version() == 0 {
                new_orgs.push(org);
                new_bodies.push(body);
            } else {
                upd_orgs.push(org);
                upd_versions.push(i64::try_from(config.version()).unwrap_or(i64::MAX));
                upd_bodies.push(body);
            }
            stored.push(saved);
        }
        let context = "could not write the batch";
        let tenant = self.tenant.as_str();
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error(context, e))?;
        let mut ok = true;
        if !upd_orgs.is_empty() {
            let n = tx
                .execute(
                    "UPDATE sync_configs c SET version = c.version + 1, body = t.b
                     FROM unnest($2::bigint[], $3::bigint[], $4::jsonb[]) AS t(o, v, b)
                     WHERE c.tenant = $1 AND c.organization = t.o AND c.version = t.v",
                    &[&tenant, &upd_orgs, &upd_versions, &upd_bodies],
                )
                .await
                .map_err(|e| db_error(context, e))?;
            ok &= u64::try_from(upd_orgs.len()).is_ok_and(|len| len == n);
        }
        if ok && !new_orgs.is_empty() {
            let n = tx
                .execute(
                    "INSERT INTO sync_configs (tenant, organization, version, body)
                     SELECT $1, o, 1, b FROM unnest($2::bigint[], $3::jsonb[]) AS t(o, b)
                     ON CONFLICT (tenant, organization) DO NOTHING",
                    &[&tenant, &new_orgs, &new_bodies],
                )
                .await
                .map_err(|e| db_error(context, e))?;
            ok &= u64::try_from(new_orgs.len()).is_ok_and(|len| len == n);
        }
        if !ok {
            drop(tx);
            drop(conn);
            return Err(self.conflict(&configs).await);
        }
        if !audit.is_empty() {
            let n = i64::try_from(audit.len()).unwrap_or(i64::MAX);
            let last: i64 = tx
                .query_one(
                    "INSERT INTO audit_heads (tenant, last_seq) VALUES ($1, $2)
                     ON CONFLICT (tenant) DO UPDATE SET last_seq = audit_heads.last_seq + $2
                     RETURNING last_seq",
                    &[&tenant, &n],
                )
                .await
                .map_err(|e| db_error(context, e))?
                .get(0);
            let mut seqs = Vec::with_capacity(audit.len());
            let mut orgs = Vec::with_capacity(audit.len());
            let mut actors = Vec::with_capacity(audit.len());
            let mut ats = Vec::with_capacity(audit.len());
            let mut bodies = Vec::with_capacity(audit.len());
            for (i, mut entry) in audit.into_iter().enumerate() {
                let seq = last - n + 1 + i64::try_from(i).unwrap_or(i64::MAX);
                entry.seq = u64::try_from(seq).unwrap_or(0);
                seqs.push(seq);
                orgs.push(entry.organization.map(org_key));
                actors.push(entry.actor.clone());
                ats.push(entry.at);
                bodies.push(to_json("audit entry", &entry)?);
            }
            tx.execute(
                "INSERT INTO audit_log (tenant, seq, organization, actor, at, body)
                 SELECT $1, s, o, a, t, b
                 FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[], $6::jsonb[])
                   AS u(s, o, a, t, b)",
                &[&tenant, &seqs, &orgs, &actors, &ats, &bodies],
            )
            .await
            .map_err(|e| db_error(context, e))?;
        }
        tx.commit().await.map_err(|e| db_error(context, e))?;
        Ok(stored)
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        let rows = self
            .query(
                "could not read the mode",
                "SELECT mode FROM sync_modes WHERE tenant = $1",
                &[&self.tenant.as_str()],
            )
            .await?;
        match rows.first() {
            None => Ok(IntegrationMode::Disabled),
            Some(row) => {
                let text: String = row.try_get(0).map_err(|e| corrupt("mode", e))?;
                serde_json::from_value(serde_json::Value::String(text))
                    .map_err(|e| corrupt("mode", e))
            }
        }
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        let text = match to_json("mode", &mode)? {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        self.query(
            "could not set the mode",
            "INSERT INTO sync_modes (tenant, mode) VALUES ($1, $2)
             ON CONFLICT (tenant) DO UPDATE SET mode = EXCLUDED.mode",
            &[&self.tenant.as_str(), &text],
        )
        .await
        .map(drop)
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        let mut mappings: Vec<CiMapping> = self
            .bodies(
                "CI mapping",
                "SELECT body FROM ci_mappings WHERE tenant = $1",
            )
            .await?;
        mappings.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(mappings)
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        let body = to_json("CI mapping", &mapping)?;
        self.query(
            "could not write the CI mapping",
            "INSERT INTO ci_mappings (tenant, name, body) VALUES ($1, $2, $3)
             ON CONFLICT (tenant, name) DO UPDATE SET body = EXCLUDED.body",
            &[&self.tenant.as_str(), &mapping.name().to_string(), &body],
        )
        .await
        .map(drop)
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "could not delete the CI mapping",
                "DELETE FROM ci_mappings WHERE tenant = $1 AND name = $2 RETURNING name",
                &[&self.tenant.as_str(), &name.to_string()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
        let mut templates: Vec<TicketTemplate> = self
            .bodies(
                "ticket template",
                "SELECT body FROM ticket_templates WHERE tenant = $1",
            )
            .await?;
        templates.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(templates)
    }

    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
        let body = to_json("ticket template", &template)?;
        let name = template.name().to_string();
        let context = format!("could not save the ticket template {name:?}");
        let tenant = self.tenant.as_str();
        let mut conn = self.pool.get().await?;
        let tx = conn
            .client()?
            .transaction()
            .await
            .map_err(|e| db_error(&context, e))?;
        if template.is_default() {
            // The previous default loses its flag in the same transaction; the partial unique
            // index turns a concurrent second default into a conflict.
            tx.execute(
                "UPDATE ticket_templates
                 SET is_default = false, body = jsonb_set(body, '{default}', 'false')
                 WHERE tenant = $1 AND is_default AND name <> $2",
                &[&tenant, &name],
            )
            .await
            .map_err(|e| db_error(&context, e))?;
        }
        tx.execute(
            "INSERT INTO ticket_templates (tenant, name, is_default, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant, name)
             DO UPDATE SET is_default = EXCLUDED.is_default, body = EXCLUDED.body",
            &[&tenant, &name, &template.is_default(), &body],
        )
        .await
        .map_err(|e| db_error(&context, e))?;
        tx.commit().await.map_err(|e| db_error(&context, e))
    }

    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "could not delete the ticket template",
                "DELETE FROM ticket_templates WHERE tenant = $1 AND name = $2 RETURNING name",
                &[&self.tenant.as_str(), &name.to_string()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        // Organization and actor are exact in SQL; the time (stored to the microsecond) is
        // narrowed loosely and the filter's own rules decide.
        let since = filter.since.map(|t| t - TimeDelta::microseconds(1));
        let limit = match (filter.limit, filter.since) {
            (Some(n), None) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
            _ => None,
        };
        let rows = self
            .query(
                "could not read the audit log",
                "SELECT body FROM (
                     SELECT seq, body FROM audit_log
                     WHERE tenant = $1
                       AND ($2::bigint IS NULL OR organization = $2)
                       AND ($3::text IS NULL OR actor = $3)
                       AND ($4::timestamptz IS NULL OR at >= $4)
                     ORDER BY seq DESC
                     LIMIT $5
                 ) AS recent ORDER BY seq",
                &[
                    &self.tenant.as_str(),
                    &filter.organization.map(org_key),
                    &filter.actor,
                    &since,
                    &limit,
                ],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|row| from_row(row, "body", "audit entry"))
            .collect::<Result<Vec<AuditEntry>, _>>()?;
        Ok(filter.select(&entries))
    }

    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        let mut records: Vec<TicketRecord> = self
            .bodies(
                "ticket record",
                "SELECT body FROM ticket_records WHERE tenant = $1",
            )
            .await?;
        records.sort_by(|a, b| a.alert.cmp(&b.alert));
        Ok(records)
    }

    /// A primary-key lookup of (tenant, alert uid).
    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
        self.body_by_key("ticket_records", "ticket record", alert.as_str())
            .await
    }

    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        let put = put.into_iter().map(|r| (r.alert.to_string(), r)).collect();
        let remove = remove.iter().map(ToString::to_string).collect();
        self.write_keyed("ticket_records", "alert", put, remove)
            .await
    }

    /// A session-level advisory lock on a connection of its own, keyed by tenant and
    /// integration id: every router of the tenant's integration, on any host, sees it.
    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        self.take_router_lock(integration_id).await
    }

    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        let mut records: Vec<CiRecord> = self
            .bodies("CI record", "SELECT body FROM ci_records WHERE tenant = $1")
            .await?;
        records.sort_by_key(|r| r.device);
        Ok(records)
    }

    /// A primary-key lookup of (tenant, device id).
    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
        self.body_by_key("ci_records", "CI record", &device.to_string())
            .await
    }

    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        let put = put.into_iter().map(|r| (r.device.to_string(), r)).collect();
        let remove = remove.iter().map(ToString::to_string).collect();
        self.write_keyed("ci_records", "device", put, remove).await
    }
}
