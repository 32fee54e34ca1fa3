//! The state every bundled store keeps, and the one place that decides how a write changes it.
//!
//! [`MemoryStore`](super::MemoryStore) keeps a [`StoreState`] behind a mutex;
//! [`JsonFileStore`](super::JsonFileStore) keeps one too and persists it as JSON. Both call the
//! same methods here, so [the rules of the `ConfigStore` trait](crate::ports::ConfigStore#rules)
//! are implemented once for both.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::{Deserialize, Serialize};

use crate::model::{
    AlertUid, AuditEntry, AuditFilter, CiMapping, CiMappingName, CiRecord, DeviceId,
    IntegrationMode, OrganizationId, SyncConfig, TicketRecord, TicketTemplate, TicketTemplateName,
};
use crate::ports::{StoreError, StoreErrorKind, WriteBatch};

/// Everything a store holds.
///
/// Serialized through [`StateRepr`] (lists instead of maps), and checked when read back: a
/// state that breaks the store's invariants (two configurations of one organization, a version
/// 0 configuration, audit numbers that do not increase) does not deserialize.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StateRepr", try_from = "StateRepr")]
pub(crate) struct StoreState {
    mode: IntegrationMode,
    configs: BTreeMap<OrganizationId, SyncConfig>,
    ci_mappings: BTreeMap<CiMappingName, CiMapping>,
    audit: Vec<AuditEntry>,
    tickets: BTreeMap<AlertUid, TicketRecord>,
    cis: BTreeMap<DeviceId, CiRecord>,
    templates: BTreeMap<TicketTemplateName, TicketTemplate>,
}

impl StoreState {
    /// Every ticket template, ordered by name.
    pub(crate) fn ticket_templates(&self) -> Vec<TicketTemplate> {
        self.templates.values().cloned().collect()
    }

    /// Creates or replaces a ticket template; a default one takes the flag from the previous
    /// default. `true` when anything changed.
    pub(crate) fn put_ticket_template(&mut self, template: TicketTemplate) -> bool {
        let mut changed = false;
        if template.is_default() {
            for other in self.templates.values_mut() {
                if other.is_default() && other.name() != template.name() {
                    other.set_default(false);
                    changed = true;
                }
            }
        }
        match self.templates.entry(template.name().clone()) {
            Entry::Occupied(stored) if stored.get() == &template => changed,
            Entry::Occupied(mut stored) => {
                stored.insert(template);
                true
            }
            Entry::Vacant(slot) => {
                slot.insert(template);
                true
            }
        }
    }

    /// Deletes a ticket template; `false` when there was none by that name.
    pub(crate) fn delete_ticket_template(&mut self, name: &TicketTemplateName) -> bool {
        self.templates.remove(name).is_some()
    }

    /// Every alert → ticket record, ordered by alert uid.
    pub(crate) fn ticket_records(&self) -> Vec<TicketRecord> {
        self.tickets.values().cloned().collect()
    }

    /// One alert's record.
    pub(crate) fn ticket_record(&self, alert: &AlertUid) -> Option<TicketRecord> {
        self.tickets.get(alert).cloned()
    }

    /// Upserts `put` and removes `remove`, all or nothing; `true` when anything changed.
    ///
    /// # Errors
    /// [`StoreErrorKind::Invalid`] under
    /// [the duplicate-key rule](crate::ports::ConfigStore#duplicate-keys).
    pub(crate) fn write_ticket_records(
        &mut self,
        put: Vec<TicketRecord>,
        remove: &[AlertUid],
    ) -> Result<bool, StoreError> {
        write_keyed(&mut self.tickets, put, remove, |r| r.alert.clone(), "alert")
    }

    /// Every device → CI record, ordered by device id.
    pub(crate) fn ci_records(&self) -> Vec<CiRecord> {
        self.cis.values().cloned().collect()
    }

    /// One device's CI record.
    pub(crate) fn ci_record(&self, device: DeviceId) -> Option<CiRecord> {
        self.cis.get(&device).cloned()
    }

    /// Upserts `put` and removes `remove`, all or nothing; `true` when anything changed.
    ///
    /// # Errors
    /// [`StoreErrorKind::Invalid`] under
    /// [the duplicate-key rule](crate::ports::ConfigStore#duplicate-keys).
    pub(crate) fn write_ci_records(
        &mut self,
        put: Vec<CiRecord>,
        remove: &[DeviceId],
    ) -> Result<bool, StoreError> {
        write_keyed(&mut self.cis, put, remove, |r| r.device, "device")
    }

    /// Every configuration, ordered by organization.
    pub(crate) fn configs(&self) -> Vec<SyncConfig> {
        self.configs.values().cloned().collect()
    }

    /// One organization's configuration.
    pub(crate) fn config(&self, organization: OrganizationId) -> Option<SyncConfig> {
        self.configs.get(&organization).cloned()
    }

    /// The configurations of `organizations`, ordered by organization.
    pub(crate) fn configs_of(&self, organizations: &[OrganizationId]) -> Vec<SyncConfig> {
        let wanted: std::collections::BTreeSet<_> = organizations.iter().copied().collect();
        wanted
            .into_iter()
            .filter_map(|organization| self.configs.get(&organization).cloned())
            .collect()
    }

    /// How many configurations, CI mappings and audit entries are stored.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.configs.len(), self.ci_mappings.len(), self.audit.len())
    }

    /// The integration mode.
    pub(crate) fn mode(&self) -> IntegrationMode {
        self.mode
    }

    /// Sets the mode; `true` when it changed.
    pub(crate) fn set_mode(&mut self, mode: IntegrationMode) -> bool {
        let changed = self.mode != mode;
        self.mode = mode;
        changed
    }

    /// Every CI mapping, ordered by name.
    pub(crate) fn ci_mappings(&self) -> Vec<CiMapping> {
        self.ci_mappings.values().cloned().collect()
    }

    /// Creates or replaces a CI mapping; `true` when anything changed.
    pub(crate) fn put_ci_mapping(&mut self, mapping: CiMapping) -> bool {
        match self.ci_mappings.entry(mapping.name().clone()) {
            Entry::Occupied(mut stored) if stored.get() != &mapping => {
                stored.insert(mapping);
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(mapping);
                true
            }
        }
    }

    /// Deletes a CI mapping; `false` when there was none by that name.
    pub(crate) fn delete_ci_mapping(&mut self, name: &CiMappingName) -> bool {
        self.ci_mappings.remove(name).is_some()
    }

    /// Audit entries matching `filter`, oldest first.
    pub(crate) fn audit(&self, filter: &AuditFilter) -> Vec<AuditEntry> {
        filter.select(&self.audit)
    }

    /// Checks a batch against the state without changing anything.
    ///
    /// # Errors
    /// As [the rules](crate::ports::ConfigStore#rules) say: [`StoreErrorKind::Invalid`] for a
    /// duplicate key, [`StoreErrorKind::Conflict`] for a version that does not match.
    pub(crate) fn check(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        batch.validate()?;
        for config in &batch.configs {
            let organization = config.organization();
            let expected = config.version();
            match (self.configs.get(&organization), expected) {
                (None, 0) => {}
                (Some(stored), 0) => {
                    return Err(StoreError::new(
                        StoreErrorKind::Conflict,
                        format!(
                            "organization {organization} already has a configuration (version {} is \
                             stored) but the write inserts a new one (expected version 0); read \
                             the configuration again and re-apply the change",
                            stored.version()
                        ),
                    ));
                }
                (None, _) => {
                    return Err(StoreError::new(
                        StoreErrorKind::Conflict,
                        format!(
                            "organization {organization} has no stored configuration but the write \
                             expected version {expected}; read the configuration again and \
                             re-apply the change"
                        ),
                    ));
                }
                (Some(stored), _) if stored.version() != expected => {
                    return Err(StoreError::new(
                        StoreErrorKind::Conflict,
                        format!(
                            "organization {organization}'s configuration changed meanwhile: the \
                             write expected version {expected} but version {} is stored; read the \
                             configuration again and re-apply the change",
                            stored.version()
                        ),
                    ));
                }
                (Some(_), _) => {}
            }
        }
        Ok(())
    }

    /// Applies a batch all together or not at all: checks every item first (see
    /// [`check`](Self::check)), then stores each configuration with its version plus one and
    /// appends the audit entries with the next sequence numbers.
    ///
    /// Returns the configurations as stored, in the batch's order.
    ///
    /// # Errors
    /// As [`check`](Self::check); the state is unchanged on error.
    pub(crate) fn apply(&mut self, batch: WriteBatch) -> Result<Vec<SyncConfig>, StoreError> {
        self.check(&batch)?;
        let WriteBatch { configs, audit } = batch;
        let mut stored = Vec::with_capacity(configs.len());
        for mut config in configs {
            config.set_version(config.version() + 1);
            self.configs.insert(config.organization(), config.clone());
            stored.push(config);
        }
        let mut seq = self.last_seq();
        for mut entry in audit {
            seq += 1;
            entry.seq = seq;
            self.audit.push(entry);
        }
        Ok(stored)
    }

    /// The sequence number of the newest audit entry; 0 for an empty log.
    fn last_seq(&self) -> u64 {
        self.audit.last().map_or(0, |e| e.seq)
    }
}

/// Upserts `put` (by `key`) and removes `remove` in `map`, after checking that no key is named
/// twice; `true` when anything changed.
fn write_keyed<K, V>(
    map: &mut BTreeMap<K, V>,
    put: Vec<V>,
    remove: &[K],
    key: impl Fn(&V) -> K,
    what: &str,
) -> Result<bool, StoreError>
where
    K: Ord + Clone + std::fmt::Display,
    V: PartialEq,
{
    let mut seen = std::collections::BTreeSet::new();
    for k in put.iter().map(&key).chain(remove.iter().cloned()) {
        if !seen.insert(k.clone()) {
            return Err(StoreError::new(
                StoreErrorKind::Invalid,
                format!("the write names {what} {k} twice; merge the changes into one"),
            ));
        }
    }
    let mut changed = false;
    for record in put {
        match map.entry(key(&record)) {
            Entry::Occupied(mut stored) => {
                if stored.get() != &record {
                    stored.insert(record);
                    changed = true;
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(record);
                changed = true;
            }
        }
    }
    for k in remove {
        changed |= map.remove(k).is_some();
    }
    Ok(changed)
}

/// How a [`StoreState`] is written: lists, so the JSON needs no map keys, in the store's order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRepr {
    #[serde(default)]
    mode: IntegrationMode,
    #[serde(default)]
    configs: Vec<SyncConfig>,
    #[serde(default)]
    ci_mappings: Vec<CiMapping>,
    #[serde(default)]
    audit: Vec<AuditEntry>,
    #[serde(default)]
    ticket_records: Vec<TicketRecord>,
    #[serde(default)]
    ci_records: Vec<CiRecord>,
    #[serde(default)]
    ticket_templates: Vec<TicketTemplate>,
}

impl From<StoreState> for StateRepr {
    fn from(state: StoreState) -> Self {
        Self {
            mode: state.mode,
            configs: state.configs.into_values().collect(),
            ci_mappings: state.ci_mappings.into_values().collect(),
            audit: state.audit,
            ticket_records: state.tickets.into_values().collect(),
            ci_records: state.cis.into_values().collect(),
            ticket_templates: state.templates.into_values().collect(),
        }
    }
}

impl TryFrom<StateRepr> for StoreState {
    type Error = String;

    fn try_from(repr: StateRepr) -> Result<Self, String> {
        let mut configs = BTreeMap::new();
        for config in repr.configs {
            let organization = config.organization();
            if config.version() == 0 {
                return Err(format!(
                    "organization {organization}'s configuration has version 0, which is never stored"
                ));
            }
            if configs.insert(organization, config).is_some() {
                return Err(format!(
                    "organization {organization} has more than one configuration"
                ));
            }
        }
        let mut ci_mappings = BTreeMap::new();
        for mapping in repr.ci_mappings {
            let name = mapping.name().clone();
            if ci_mappings.insert(name.clone(), mapping).is_some() {
                return Err(format!("CI mapping {name:?} appears more than once"));
            }
        }
        let mut last = 0;
        for entry in &repr.audit {
            if entry.seq <= last {
                return Err(format!(
                    "audit entry number {} follows number {last}; numbers must increase",
                    entry.seq
                ));
            }
            last = entry.seq;
        }
        let mut tickets = BTreeMap::new();
        for record in repr.ticket_records {
            let alert = record.alert.clone();
            if tickets.insert(alert.clone(), record).is_some() {
                return Err(format!("alert {alert} has more than one ticket record"));
            }
        }
        let mut cis = BTreeMap::new();
        for record in repr.ci_records {
            let device = record.device;
            if cis.insert(device, record).is_some() {
                return Err(format!("device {device} has more than one CI record"));
            }
        }
        let mut templates = BTreeMap::new();
        for template in repr.ticket_templates {
            let name = template.name().clone();
            if templates.insert(name.clone(), template).is_some() {
                return Err(format!("ticket template {name:?} appears more than once"));
            }
        }
        if templates.values().filter(|t| t.is_default()).count() > 1 {
            return Err("more than one ticket template is the default".to_owned());
        }
        Ok(Self {
            mode: repr.mode,
            configs,
            ci_mappings,
            audit: repr.audit,
            tickets,
            cis,
            templates,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::model::AuditAction;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("a valid timestamp")
    }

    fn org(id: u32) -> OrganizationId {
        OrganizationId::new(id).expect("a valid organization id")
    }

    fn entry(secs: i64) -> AuditEntry {
        AuditEntry::applied(at(secs), "tester", AuditAction::UpdateConfig)
    }

    #[test]
    fn apply_numbers_versions_and_audit() {
        let mut state = StoreState::default();
        let stored = state
            .apply(
                WriteBatch::new()
                    .config(SyncConfig::new(org(2), None, at(0)))
                    .config(SyncConfig::new(org(1), None, at(0)))
                    .audit(entry(1))
                    .audit(entry(2)),
            )
            .expect("a valid batch");
        assert_eq!(
            stored.iter().map(SyncConfig::version).collect::<Vec<_>>(),
            [1, 1]
        );
        assert_eq!(
            state
                .configs()
                .iter()
                .map(SyncConfig::organization)
                .collect::<Vec<_>>(),
            [org(1), org(2)]
        );
        let seqs: Vec<u64> = state
            .audit(&AuditFilter::all())
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
    }

    #[test]
    fn a_failed_batch_changes_nothing() {
        let mut state = StoreState::default();
        state
            .apply(WriteBatch::new().config(SyncConfig::new(org(1), None, at(0))))
            .expect("insert");
        let before = state.clone();
        let err = state
            .apply(
                WriteBatch::new()
                    .config(SyncConfig::new(org(2), None, at(0)))
                    .config(SyncConfig::new(org(1), None, at(0)))
                    .audit(entry(1)),
            )
            .expect_err("an insert over an existing configuration");
        assert_eq!(err.kind(), StoreErrorKind::Conflict);
        assert!(err.message().contains("organization 1"), "{err}");
        assert!(err.message().contains("re-apply the change"), "{err}");
        assert_eq!(state, before);
    }

    #[test]
    fn stale_version_message_names_both_versions() {
        let mut state = StoreState::default();
        let mut config = state
            .apply(WriteBatch::new().config(SyncConfig::new(org(7), None, at(0))))
            .expect("insert")
            .remove(0);
        state
            .apply(WriteBatch::new().config(config.clone()))
            .expect("update");
        config.set_version(1);
        let err = state
            .apply(WriteBatch::new().config(config))
            .expect_err("stale");
        assert_eq!(err.kind(), StoreErrorKind::Conflict);
        let message = err.message();
        assert!(message.contains("organization 7"), "{message}");
        assert!(message.contains("expected version 1"), "{message}");
        assert!(message.contains("version 2 is stored"), "{message}");
        assert!(
            message.contains("read the configuration again and re-apply the change"),
            "{message}"
        );
    }

    #[test]
    fn serde_round_trip_and_invariants() {
        let mut state = StoreState::default();
        state.set_mode(IntegrationMode::Inactive);
        state
            .apply(
                WriteBatch::new()
                    .config(SyncConfig::new(org(3), None, at(0)))
                    .audit(entry(1)),
            )
            .expect("insert");
        state.put_ci_mapping(CiMapping::new("servers".parse().expect("a name")));
        let json = serde_json::to_value(&state).expect("serializable");
        let back: StoreState = serde_json::from_value(json.clone()).expect("readable");
        assert_eq!(back, state);

        let mut twice = json.clone();
        let config = twice["configs"][0].clone();
        twice["configs"]
            .as_array_mut()
            .expect("a list")
            .push(config);
        assert!(serde_json::from_value::<StoreState>(twice).is_err());

        let mut unsaved = json.clone();
        unsaved["configs"][0]["version"] = 0.into();
        assert!(serde_json::from_value::<StoreState>(unsaved).is_err());

        let mut unknown = json;
        unknown["extra"] = true.into();
        assert!(serde_json::from_value::<StoreState>(unknown).is_err());
    }

    #[test]
    fn one_default_template_at_a_time_and_checked_on_read() {
        let mut state = StoreState::default();
        let template = |name: &str, default: bool| {
            let mut t = TicketTemplate::new(name.parse().expect("a name"));
            t.set_default(default);
            t
        };
        assert!(state.put_ticket_template(template("a", true)));
        assert!(!state.put_ticket_template(template("a", true)));
        assert!(state.put_ticket_template(template("b", true)));
        let defaults: Vec<String> = state
            .ticket_templates()
            .iter()
            .filter(|t| t.is_default())
            .map(|t| t.name().to_string())
            .collect();
        assert_eq!(defaults, ["b"]);

        let mut json = serde_json::to_value(&state).expect("serializable");
        json["ticket_templates"][0]["default"] = true.into();
        let err = serde_json::from_value::<StoreState>(json).expect_err("two defaults");
        assert!(err.to_string().contains("more than one"), "{err}");
        assert!(state.delete_ticket_template(&"a".parse().expect("a name")));
        assert!(!state.delete_ticket_template(&"a".parse().expect("a name")));
    }

    #[test]
    fn unchanged_mode_and_mapping_report_no_change() {
        let mut state = StoreState::default();
        assert!(!state.set_mode(IntegrationMode::Disabled));
        assert!(state.set_mode(IntegrationMode::Active));
        let mapping = CiMapping::new("servers".parse().expect("a name"));
        assert!(state.put_ci_mapping(mapping.clone()));
        assert!(!state.put_ci_mapping(mapping.clone()));
        assert!(state.delete_ci_mapping(mapping.name()));
        assert!(!state.delete_ci_mapping(mapping.name()));
    }
}
