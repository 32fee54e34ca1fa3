//! `HostStore`: the library's [`ConfigStore`] over the host's own [`Tables`], written from the
//! trait's documentation (its "Guarantees" and each method's rule).
//!
//! One mutex stands for the database's transaction: every method takes it once, checks
//! everything a write could refuse before changing anything, and only then writes — so a
//! refused batch leaves every table as it was.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use ninjaone_servicenow::async_trait;
use ninjaone_servicenow::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, SyncConfigParts, TicketRecord, TicketTemplate,
    TicketTemplateName,
};
use ninjaone_servicenow::ports::{
    ConfigStore, RouterGuard, StoreError, StoreErrorKind, WriteBatch,
};

use crate::tables::{AuditRow, BadColumn, Tables, TemplateRow};

/// The host's store: its tables behind one lock. Clones share the tables.
#[derive(Debug, Clone, Default)]
pub struct HostStore {
    tables: Arc<Mutex<Tables>>,
}

impl HostStore {
    /// A store over empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the "transaction". A poisoned lock means a write panicked half-way: refuse to
    /// read what it may have left.
    fn tables(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables.lock().map_err(|_| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "the host's tables are poisoned by a panicked write; restart the service",
            )
        })
    }

    /// Changes the tables behind the library's back (a migration, a hand edit): for tests.
    #[cfg(test)]
    pub fn with_tables_mut<T>(
        &self,
        change: impl FnOnce(&mut Tables) -> T,
    ) -> Result<T, StoreError> {
        Ok(change(&mut *self.tables()?))
    }

    /// Reads the tables directly, as the host's own code (reports, admin pages) would.
    pub fn with_tables<T>(&self, read: impl FnOnce(&Tables) -> T) -> Result<T, StoreError> {
        Ok(read(&*self.tables()?))
    }
}

fn corrupt(BadColumn(what): BadColumn) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("{what}; fix or delete the row"),
    )
}

fn conflict(organization: OrganizationId, why: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Conflict,
        format!("organization {organization}: {why}; read it again and re-apply the change"),
    )
}

/// The configuration as stored: `version` bumped by one (an insert stores version 1).
fn with_next_version(config: SyncConfig, stored: u64) -> Result<SyncConfig, StoreError> {
    let organization = config.organization();
    let mut parts: SyncConfigParts = config.into_parts();
    parts.version = stored.checked_add(1).ok_or_else(|| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!("organization {organization}: the version cannot grow past {stored}"),
        )
    })?;
    SyncConfig::from_parts(parts).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Invalid,
            format!("organization {organization}: {e}"),
        )
    })
}

/// Refuses a record write naming a key twice (in `put` twice, or in both lists).
fn check_keys<K: Ord + std::fmt::Display>(
    what: &str,
    put: impl IntoIterator<Item = K>,
    remove: impl IntoIterator<Item = K>,
) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    for key in put.into_iter().chain(remove) {
        if !seen.insert(key.to_string()) {
            return Err(StoreError::new(
                StoreErrorKind::Invalid,
                format!("the {what} write names {key} twice; write each key once"),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl ConfigStore for HostStore {
    async fn configs(&self) -> Result<Vec<SyncConfig>, StoreError> {
        let tables = self.tables()?;
        let mut all = Vec::with_capacity(tables.sync_configs.len());
        for &id in tables.sync_configs.keys() {
            all.extend(tables.config(id).map_err(corrupt)?);
        }
        Ok(all)
    }

    async fn config(&self, organization: OrganizationId) -> Result<Option<SyncConfig>, StoreError> {
        self.tables()?.config(organization.get()).map_err(corrupt)
    }

    /// One "query" (`WHERE organization_id = ANY($1)`) instead of the default's one per id.
    async fn configs_of(
        &self,
        organizations: &[OrganizationId],
    ) -> Result<Vec<SyncConfig>, StoreError> {
        let wanted: BTreeSet<u32> = organizations.iter().map(|o| o.get()).collect();
        let tables = self.tables()?;
        let mut found = Vec::with_capacity(wanted.len());
        for id in wanted {
            found.extend(tables.config(id).map_err(corrupt)?);
        }
        Ok(found)
    }

    async fn write(&self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        batch.validate()?;
        let mut tables = self.tables()?;
        // Check every configuration against its stored version before writing any.
        let mut stored = Vec::with_capacity(batch.configs.len());
        for config in batch.configs {
            let organization = config.organization();
            let current = tables
                .sync_configs
                .get(&organization.get())
                .map(|row| row.version);
            match (config.version(), current) {
                (0, Some(_)) => {
                    return Err(conflict(organization, "it already has a configuration"));
                }
                (0, None) => stored.push(with_next_version(config, 0)?),
                (_, None) => {
                    return Err(conflict(
                        organization,
                        "it has no stored configuration to update",
                    ));
                }
                (version, Some(current)) if version != current => {
                    return Err(conflict(
                        organization,
                        &format!(
                            "the write carries version {version}, the stored one is {current}"
                        ),
                    ));
                }
                (version, Some(_)) => stored.push(with_next_version(config, version)?),
            }
        }
        for config in &stored {
            tables.upsert_config(config.clone());
        }
        let mut seq = tables.audit_log.last().map_or(0, |row| row.seq);
        for mut entry in batch.audit {
            seq += 1;
            entry.seq = seq;
            tables.audit_log.push(AuditRow { seq, entry });
        }
        Ok(stored)
    }

    async fn mode(&self) -> Result<IntegrationMode, StoreError> {
        Ok(self.tables()?.mode.unwrap_or(IntegrationMode::Disabled))
    }

    async fn set_mode(&self, mode: IntegrationMode) -> Result<(), StoreError> {
        self.tables()?.mode = Some(mode);
        Ok(())
    }

    async fn ci_mappings(&self) -> Result<Vec<CiMapping>, StoreError> {
        Ok(self.tables()?.ci_mappings.values().cloned().collect())
    }

    async fn put_ci_mapping(&self, mapping: CiMapping) -> Result<(), StoreError> {
        self.tables()?
            .ci_mappings
            .insert(mapping.name().clone(), mapping);
        Ok(())
    }

    async fn delete_ci_mapping(&self, name: &CiMappingName) -> Result<bool, StoreError> {
        Ok(self.tables()?.ci_mappings.remove(name).is_some())
    }

    async fn ticket_templates(&self) -> Result<Vec<TicketTemplate>, StoreError> {
        Ok(self
            .tables()?
            .ticket_templates
            .values()
            .map(|row| row.template.clone())
            .collect())
    }

    async fn put_ticket_template(&self, template: TicketTemplate) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        if template.is_default() {
            // `UPDATE ticket_templates SET is_default = false WHERE is_default`, same transaction.
            for row in tables.ticket_templates.values_mut() {
                row.is_default = false;
                row.template.set_default(false);
            }
        }
        tables.ticket_templates.insert(
            template.name().clone(),
            TemplateRow {
                is_default: template.is_default(),
                template,
            },
        );
        Ok(())
    }

    async fn delete_ticket_template(&self, name: &TicketTemplateName) -> Result<bool, StoreError> {
        Ok(self.tables()?.ticket_templates.remove(name).is_some())
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let tables = self.tables()?;
        let mut entries: Vec<AuditEntry> = tables
            .audit_log
            .iter()
            .map(|row| &row.entry)
            .filter(|e| {
                filter
                    .organization
                    .is_none_or(|o| e.organization == Some(o))
            })
            .filter(|e| filter.actor.as_ref().is_none_or(|a| &e.actor == a))
            .filter(|e| filter.since.is_none_or(|since| e.at >= since))
            .cloned()
            .collect();
        if let Some(limit) = filter.limit {
            // The most recent `limit`, still oldest first.
            let skip = entries.len().saturating_sub(limit);
            entries.drain(..skip);
        }
        Ok(entries)
    }

    async fn ticket_records(&self) -> Result<Vec<TicketRecord>, StoreError> {
        Ok(self.tables()?.ticket_records.values().cloned().collect())
    }

    async fn ticket_record(&self, alert: &AlertUid) -> Result<Option<TicketRecord>, StoreError> {
        // The table's primary key: a delivery's read does not grow with the tickets made.
        Ok(self.tables()?.ticket_records.get(alert.as_str()).cloned())
    }

    async fn write_ticket_records(
        &self,
        put: Vec<TicketRecord>,
        remove: Vec<AlertUid>,
    ) -> Result<(), StoreError> {
        check_keys(
            "ticket record",
            put.iter().map(|r| r.alert.as_str().to_owned()),
            remove.iter().map(|a| a.as_str().to_owned()),
        )?;
        let mut tables = self.tables()?;
        for alert in remove {
            tables.ticket_records.remove(alert.as_str());
        }
        for record in put {
            tables
                .ticket_records
                .insert(record.alert.as_str().to_owned(), record);
        }
        Ok(())
    }

    async fn ci_records(&self) -> Result<Vec<CiRecord>, StoreError> {
        Ok(self.tables()?.ci_records.values().cloned().collect())
    }

    async fn ci_record(&self, device: DeviceId) -> Result<Option<CiRecord>, StoreError> {
        Ok(self.tables()?.ci_records.get(&device.get()).cloned())
    }

    async fn write_ci_records(
        &self,
        put: Vec<CiRecord>,
        remove: Vec<DeviceId>,
    ) -> Result<(), StoreError> {
        check_keys(
            "CI record",
            put.iter().map(|r| r.device.get()),
            remove.iter().map(|d| d.get()),
        )?;
        let mut tables = self.tables()?;
        for device in remove {
            tables.ci_records.remove(&device.get());
        }
        for record in put {
            tables.ci_records.insert(record.device.get(), record);
        }
        Ok(())
    }

    async fn lock_router(
        &self,
        integration_id: &str,
    ) -> Result<Option<Box<dyn RouterGuard>>, StoreError> {
        let mut tables = self.tables()?;
        if !tables.router_locks.insert(integration_id.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Box::new(HostRouterGuard {
            tables: Arc::clone(&self.tables),
            integration_id: integration_id.to_owned(),
            released: false,
        })))
    }
}

/// A row of `router_locks`, deleted when released or dropped.
#[derive(Debug)]
struct HostRouterGuard {
    tables: Arc<Mutex<Tables>>,
    integration_id: String,
    /// Freed by `release`: the drop must not delete a row another router has taken since.
    released: bool,
}

impl HostRouterGuard {
    fn free(&self) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().map_err(|_| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "the host's tables are poisoned by a panicked write; restart the service",
            )
        })?;
        tables.router_locks.remove(&self.integration_id);
        Ok(())
    }
}

#[async_trait]
impl RouterGuard for HostRouterGuard {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        let mut guard = self;
        guard.released = true;
        guard.free()
    }
}

impl Drop for HostRouterGuard {
    fn drop(&mut self) {
        if !self.released {
            // Nothing to report to: a lock that cannot be freed is freed with the tables.
            let _ = self.free();
        }
    }
}
