//! The host's own tables, laid out as a relational database would hold them (in memory here,
//! so the example needs no database): one row per configuration with real columns, secondary
//! indexes on status and on company, a join table for the CI mappings a configuration uses,
//! and tables for the rest of what the library asks a store to keep.
//!
//! Nothing here is a serialized `SyncConfig`: a configuration goes in through
//! [`SyncConfig::into_parts`] and comes back through [`SyncConfig::from_parts`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ninjaone_servicenow::model::{
    AuditEntry, CiMapping, CiMappingName, CiRecord, IntegrationMode, OrganizationId, SyncConfig,
    SyncConfigParts, SyncStatus, SysId, TicketKind, TicketRecord, TicketTemplate,
    TicketTemplateName,
};

/// A row of `sync_configs`. The primary key is `organization_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfigRow {
    /// `organization_id INTEGER PRIMARY KEY`
    pub organization_id: u32,
    /// `organization_name TEXT NULL`
    pub organization_name: Option<String>,
    /// `status TEXT NOT NULL` (indexed): `pending`, `in_queue`, `active`, `inactive`, `deleted`.
    pub status: String,
    /// `status_reason TEXT NULL`
    pub status_reason: Option<String>,
    /// `company_sys_id CHAR(32) NULL` (indexed)
    pub company_sys_id: Option<String>,
    /// `company_name TEXT NULL`
    pub company_name: Option<String>,
    /// `customer_account_sys_id CHAR(32) NULL`
    pub customer_account_sys_id: Option<String>,
    /// `customer_account_name TEXT NULL`
    pub customer_account_name: Option<String>,
    /// `allow_incidents BOOLEAN NOT NULL`
    pub allow_incidents: bool,
    /// `tickets TEXT NOT NULL`: `incident` or `case`.
    pub tickets: String,
    /// `ticket_template TEXT NULL`
    pub ticket_template: Option<String>,
    /// `last_error TEXT NULL`
    pub last_error: Option<String>,
    /// `attempts INTEGER NOT NULL`
    pub attempts: u32,
    /// `next_attempt_at TIMESTAMPTZ NULL`
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// `version BIGINT NOT NULL`
    pub version: u64,
    /// `created_at TIMESTAMPTZ NOT NULL`
    pub created_at: DateTime<Utc>,
    /// `updated_at TIMESTAMPTZ NOT NULL`
    pub updated_at: DateTime<Utc>,
}

/// A stored column value the host cannot read back (a corrupt row).
#[derive(Debug)]
pub struct BadColumn(pub String);

/// The `status` column's text for a status (the library's serde names).
pub fn status_column(status: SyncStatus) -> &'static str {
    status.as_str()
}

fn status_from_column(text: &str) -> Result<SyncStatus, BadColumn> {
    text.parse().map_err(|err| BadColumn(format!("{err}")))
}

impl SyncConfigRow {
    /// The row of a configuration, and the CI mapping names for the join table.
    pub fn from_config(config: SyncConfig) -> (Self, BTreeSet<CiMappingName>) {
        let p = config.into_parts();
        let row = Self {
            organization_id: p.organization.get(),
            organization_name: p.organization_name,
            status: status_column(p.status).to_owned(),
            status_reason: p.status_reason,
            company_sys_id: p.company.map(|c| c.as_str().to_owned()),
            company_name: p.company_name,
            customer_account_sys_id: p.customer_account.map(|c| c.as_str().to_owned()),
            customer_account_name: p.customer_account_name,
            allow_incidents: p.allow_incidents,
            tickets: p.tickets.to_string(),
            ticket_template: p.ticket_template.map(|t| t.as_str().to_owned()),
            last_error: p.last_error,
            attempts: p.attempts,
            next_attempt_at: p.next_attempt_at,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        };
        (row, p.ci_mappings)
    }

    /// The configuration of this row and its CI mapping names.
    pub fn to_config(&self, ci_mappings: BTreeSet<CiMappingName>) -> Result<SyncConfig, BadColumn> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            BadColumn(format!(
                "sync_configs row {}: {what}: {e}",
                self.organization_id
            ))
        };
        let organization =
            OrganizationId::new(self.organization_id).map_err(|e| bad("organization_id", &e))?;
        let mut p = SyncConfigParts::new(organization, self.created_at);
        p.organization_name.clone_from(&self.organization_name);
        p.status = status_from_column(&self.status)?;
        p.status_reason.clone_from(&self.status_reason);
        p.company = parse_sys_id(self.company_sys_id.as_deref()).map_err(|e| bad("company", &e))?;
        p.company_name.clone_from(&self.company_name);
        p.customer_account = parse_sys_id(self.customer_account_sys_id.as_deref())
            .map_err(|e| bad("customer account", &e))?;
        p.customer_account_name
            .clone_from(&self.customer_account_name);
        p.ci_mappings = ci_mappings;
        p.allow_incidents = self.allow_incidents;
        p.tickets = self
            .tickets
            .parse::<TicketKind>()
            .map_err(|e| bad("tickets", &e))?;
        p.ticket_template = self
            .ticket_template
            .as_deref()
            .map(str::parse::<TicketTemplateName>)
            .transpose()
            .map_err(|e| bad("ticket_template", &e))?;
        p.last_error.clone_from(&self.last_error);
        p.attempts = self.attempts;
        p.next_attempt_at = self.next_attempt_at;
        p.version = self.version;
        p.updated_at = self.updated_at;
        SyncConfig::from_parts(p).map_err(|e| bad("parts", &e))
    }
}

fn parse_sys_id(text: Option<&str>) -> Result<Option<SysId>, impl std::fmt::Display> {
    text.map(str::parse::<SysId>).transpose()
}

/// A row of `audit_log`; `seq BIGSERIAL PRIMARY KEY`.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// The sequence number the table assigned.
    pub seq: u64,
    /// The entry (a host would spread it over columns too; the filter reads `at`, `actor` and
    /// `organization`).
    pub entry: AuditEntry,
}

/// A row of `ticket_templates`: the name, the `is_default` flag (a partial unique index keeps
/// at most one), and the template's settings.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    /// `is_default BOOLEAN NOT NULL`
    pub is_default: bool,
    /// The template.
    pub template: TicketTemplate,
}

/// Every table of the host's schema.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// `sync_configs`, by primary key.
    pub sync_configs: BTreeMap<u32, SyncConfigRow>,
    /// `CREATE INDEX sync_configs_status ON sync_configs (status)`.
    pub by_status: BTreeMap<String, BTreeSet<u32>>,
    /// `CREATE INDEX sync_configs_company ON sync_configs (company_sys_id)`.
    pub by_company: BTreeMap<String, BTreeSet<u32>>,
    /// `sync_config_ci_mappings (organization_id, mapping_name)`: the join table, grouped by
    /// organization as its primary key `(organization_id, mapping_name)` orders it.
    pub sync_config_ci_mappings: BTreeMap<u32, BTreeSet<CiMappingName>>,
    /// `ci_mappings`, by name.
    pub ci_mappings: BTreeMap<CiMappingName, CiMapping>,
    /// `ticket_templates`, by name.
    pub ticket_templates: BTreeMap<TicketTemplateName, TemplateRow>,
    /// `audit_log`, in `seq` order.
    pub audit_log: Vec<AuditRow>,
    /// `ticket_records`, by alert uid.
    pub ticket_records: BTreeMap<String, TicketRecord>,
    /// `ci_records`, by device id.
    pub ci_records: BTreeMap<u32, CiRecord>,
    /// `settings.mode`: `None` until set.
    pub mode: Option<IntegrationMode>,
    /// `router_locks (integration_id PRIMARY KEY)`.
    pub router_locks: BTreeSet<String>,
}

impl Tables {
    /// Inserts or replaces a configuration's row, keeping the indexes and the join table.
    pub fn upsert_config(&mut self, config: SyncConfig) {
        let (row, mappings) = SyncConfigRow::from_config(config);
        let id = row.organization_id;
        self.remove_config_indexes(id);
        self.by_status
            .entry(row.status.clone())
            .or_default()
            .insert(id);
        if let Some(company) = &row.company_sys_id {
            self.by_company
                .entry(company.clone())
                .or_default()
                .insert(id);
        }
        if mappings.is_empty() {
            self.sync_config_ci_mappings.remove(&id);
        } else {
            self.sync_config_ci_mappings.insert(id, mappings);
        }
        self.sync_configs.insert(id, row);
    }

    fn remove_config_indexes(&mut self, id: u32) {
        if let Some(old) = self.sync_configs.get(&id) {
            if let Some(ids) = self.by_status.get_mut(&old.status) {
                ids.remove(&id);
            }
            if let Some(company) = &old.company_sys_id
                && let Some(ids) = self.by_company.get_mut(company)
            {
                ids.remove(&id);
            }
        }
    }

    /// The configuration stored for `id`, joined with its CI mappings.
    pub fn config(&self, id: u32) -> Result<Option<SyncConfig>, BadColumn> {
        let Some(row) = self.sync_configs.get(&id) else {
            return Ok(None);
        };
        let mappings = self
            .sync_config_ci_mappings
            .get(&id)
            .cloned()
            .unwrap_or_default();
        row.to_config(mappings).map(Some)
    }

    /// `SELECT organization_id FROM sync_configs WHERE status = $1`, through the index.
    pub fn organizations_with_status(&self, status: SyncStatus) -> Vec<u32> {
        self.by_status
            .get(status_column(status))
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    /// `SELECT organization_id FROM sync_configs WHERE company_sys_id = $1`, through the index.
    pub fn organizations_with_company(&self, company: &SysId) -> Vec<u32> {
        self.by_company
            .get(company.as_str())
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }
}
