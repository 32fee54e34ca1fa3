//! The fake's CMDB: CI rows, identification and reconciliation by the hardware rule.

use std::collections::BTreeMap;

use super::{FakeServiceNow, SnState};
use crate::model::{CiClass, CiItem, CiItemError, CiItemResult, CiOperation, SysId};

/// A configuration item as the fake's CMDB holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredCi {
    /// The CI's `sys_id`.
    pub sys_id: SysId,
    /// Its class.
    pub class_name: CiClass,
    /// Its field values, as last reconciled.
    pub values: BTreeMap<String, String>,
    /// The data source that last inserted or updated it.
    pub data_source: String,
}

impl SnState {
    /// The identifier entries in priority order: the first attribute with exactly one matching
    /// CI wins, a miss falls through to the next, two matches are an error.
    pub(super) fn identify(
        &self,
        item: &CiItem,
        entries: &[(&str, Option<&String>)],
    ) -> Result<Option<SysId>, CiItemError> {
        for (key, wanted) in entries {
            let Some(wanted) = wanted else {
                continue;
            };
            // ServiceNow's database compares strings without case.
            let folded = wanted.to_lowercase();
            let hits: Vec<&SysId> = self
                .cis
                .values()
                .filter(|ci| {
                    ci.values.get(*key).is_some_and(|v| {
                        v.eq_ignore_ascii_case(wanted)
                            || (!v.is_ascii() && v.to_lowercase() == folded)
                    })
                })
                .map(|ci| &ci.sys_id)
                .collect();
            match hits.as_slice() {
                [] => {}
                [one] => return Ok(Some((*one).clone())),
                many => {
                    return Err(CiItemError {
                        kind: "MULTIPLE_DUPLICATE_RECORDS".to_owned(),
                        message: format!(
                            "Identification rule for [{}] found {} duplicate CIs matching [{key}]",
                            item.class_name,
                            many.len()
                        ),
                    });
                }
            }
        }
        Ok(None)
    }

    /// The hardware identification rule as ServiceNow runs it: `sys_object_source_info` first
    /// (the source's native key names the CI it last wrote), then `serial_number`, then `name`;
    /// a miss falls through to the next. With `commit` false (the dry run), nothing is written
    /// and an insert answers `sysId` `None` ("Unknown" on the wire).
    pub(super) fn reconcile(
        &mut self,
        data_source: &str,
        item: &CiItem,
        commit: bool,
    ) -> CiItemResult {
        let mut result = CiItemResult::new(None, None, item.internal_id.clone());
        result.class_name = Some(item.class_name.as_str().to_owned());
        let error = |kind: &str, message: String| CiItemError {
            kind: kind.to_owned(),
            message,
        };
        if !self.data_sources.contains(data_source) {
            result.errors.push(error(
                "INVALID_INPUT_DATA",
                format!(
                    "In payload invalid data source [{data_source}] exist. You need to provide a \
                     valid choice value from field [discovery_source] in table [cmdb_ci]"
                ),
            ));
            return result;
        }
        let field = |key: &str| item.values.get(key).filter(|v| !v.trim().is_empty());
        let (name, serial) = (field("name"), field("serial_number"));
        if let Some(message) = name.and_then(|n| self.rejected_cis.get(n)) {
            result
                .errors
                .push(error("INVALID_INPUT_DATA", message.clone()));
            return result;
        }
        let source_key = item
            .source
            .as_ref()
            .map(|s| (s.source_name.clone(), s.source_native_key.clone()));
        let by_source = source_key
            .as_ref()
            .and_then(|key| self.sources.get(key))
            .filter(|id| self.cis.contains_key(*id))
            .cloned();
        let found = match by_source {
            Some(id) => Some(id),
            None => match self.identify(item, &[("serial_number", serial), ("name", name)]) {
                Ok(found) => found,
                Err(e) => {
                    result.errors.push(e);
                    return result;
                }
            },
        };
        if found.is_none() && name.is_none() && serial.is_none() {
            // Not enough to identify: kept as a partial payload, no CI.
            result.operation = Some(CiOperation::InsertAsPartial);
            result.warnings.push(error(
                "MISSING_MATCHING_ATTRIBUTES",
                format!(
                    "In payload no matching attributes for class [{}]: neither serial_number nor \
                     name is set",
                    item.class_name
                ),
            ));
            let partial = self.next_sys_id();
            if commit {
                self.partials.insert(partial.clone(), item.clone());
            }
            result.partial_sys_ids.push(partial);
            return result;
        }
        if let Some(id) = found {
            let Some(ci) = self.cis.get_mut(&id) else {
                return result;
            };
            let mut merged = ci.values.clone();
            merged.extend(item.values.iter().map(|(k, v)| (k.clone(), v.clone())));
            if merged == ci.values {
                result.operation = Some(CiOperation::NoChange);
            } else {
                result.operation = Some(CiOperation::Update);
                if commit {
                    ci.values = merged;
                    data_source.clone_into(&mut ci.data_source);
                }
            }
            result.sys_id = Some(id.clone());
            if commit && let Some(key) = source_key {
                self.sources.insert(key, id);
            }
            return result;
        }
        result.operation = Some(CiOperation::Insert);
        if commit {
            let sys_id = self.next_sys_id();
            self.cis.insert(
                sys_id.clone(),
                StoredCi {
                    sys_id: sys_id.clone(),
                    class_name: item.class_name.clone(),
                    values: item.values.clone(),
                    data_source: data_source.to_owned(),
                },
            );
            if let Some(key) = source_key {
                self.sources.insert(key, sys_id.clone());
            }
            result.sys_id = Some(sys_id);
        }
        result
    }
}

impl FakeServiceNow {
    /// Identifies `items` as the hardware rule does (committing them when `commit`): the whole
    /// payload is refused when two items share a serial or a name, as ServiceNow does.
    pub(super) fn identify(
        &self,
        data_source: &str,
        items: &[CiItem],
        commit: bool,
    ) -> Vec<CiItemResult> {
        if let Some(rejected) = duplicate_payload(items) {
            return rejected;
        }
        let mut state = self.lock();
        items
            .iter()
            .map(|item| state.reconcile(data_source, item, commit))
            .collect()
    }
}

impl FakeServiceNow {
    // ---- CMDB ----

    /// Every configuration item, in `sys_id` order.
    pub fn cis(&self) -> Vec<StoredCi> {
        self.lock().cis.values().cloned().collect()
    }

    /// Makes [`identify_reconcile`](crate::ports::ServiceNowApi::identify_reconcile) refuse items whose `name`
    /// is `name`, with an `INVALID_INPUT_DATA` error carrying `message` (for that item only).
    pub fn reject_ci(&self, name: impl Into<String>, message: impl Into<String>) {
        self.lock().rejected_cis.insert(name.into(), message.into());
    }

    /// Stops refusing items named `name`.
    pub fn accept_ci(&self, name: &str) {
        self.lock().rejected_cis.remove(name);
    }

    /// Adds a CI as another tool or a person would (data source `Manual Entry`, no source key),
    /// without faults or counts, and returns its `sys_id`. Its `company` value is what
    /// [`ci_owners`](crate::ports::ServiceNowApi::ci_owners) reads.
    pub fn add_ci(&self, class_name: CiClass, values: BTreeMap<String, String>) -> SysId {
        let mut state = self.lock();
        let sys_id = state.next_sys_id();
        state.cis.insert(
            sys_id.clone(),
            StoredCi {
                sys_id: sys_id.clone(),
                class_name,
                values,
                data_source: "Manual Entry".to_owned(),
            },
        );
        sys_id
    }

    /// One CI, without faults or counts.
    pub fn ci(&self, id: &SysId) -> Option<StoredCi> {
        self.lock().cis.get(id).cloned()
    }

    /// Deletes a CI as a person might (its `sys_object_source` rows stay, pointing at nothing,
    /// as in ServiceNow). `false` when there was none.
    pub fn delete_ci(&self, id: &SysId) -> bool {
        self.lock().cis.remove(id).is_some()
    }

    /// The partial payloads kept for items answered `INSERT_AS_PARTIAL`, by `sys_id`.
    pub fn partial_payloads(&self) -> Vec<(SysId, CiItem)> {
        self.lock()
            .partials
            .iter()
            .map(|(id, item)| (id.clone(), item.clone()))
            .collect()
    }

    /// Adds a choice to `cmdb_ci.discovery_source`. The fake starts with
    /// [`DEFAULT_DATA_SOURCES`]; any other data source fails every item with ServiceNow's
    /// `INVALID_INPUT_DATA` message.
    pub fn add_data_source(&self, name: impl Into<String>) {
        self.lock().data_sources.insert(name.into());
    }
}

/// ServiceNow's check of a payload before it identifies anything: two items with the same value
/// of a criterion attribute of the hardware rule (`serial_number`, then `name`) reject the whole
/// payload, every item answered `DUPLICATE_PAYLOAD_RECORDS` and nothing processed. `None` when
/// the payload has no such pair.
pub(super) fn duplicate_payload(items: &[CiItem]) -> Option<Vec<CiItemResult>> {
    let (first, second, field) = ["serial_number", "name"].into_iter().find_map(|field| {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        items.iter().enumerate().find_map(|(index, item)| {
            let value = item.values.get(field).map(|v| v.trim())?;
            if value.is_empty() {
                return None;
            }
            seen.insert(value, index)
                .map(|earlier| (earlier, index, field))
        })
    })?;
    let class = items.get(first).map_or("", |i| i.class_name.as_str());
    let message = format!(
        "Found duplicate items in the payload (index {first} and {second}), using className \
         [{class}] and fields [{field}]. Remove duplicate items from payload"
    );
    Some(
        items
            .iter()
            .map(|item| {
                let mut result = CiItemResult::new(None, None, item.internal_id.clone());
                result.class_name = Some(item.class_name.as_str().to_owned());
                result.errors.push(CiItemError {
                    kind: "DUPLICATE_PAYLOAD_RECORDS".to_owned(),
                    message: message.clone(),
                });
                result
            })
            .collect(),
    )
}

/// The `cmdb_ci.discovery_source` choices the fake accepts from the start: a base instance's
/// (`ServiceNow`, `ServiceWatch`, `SCCM`, `Manual Entry`, `Other Automated`, `ImportSet`) plus `NinjaOne` and
/// `NinjaOne RMM`, as NinjaOne's own app adds one.
pub const DEFAULT_DATA_SOURCES: [&str; 8] = [
    "ServiceNow",
    "ServiceWatch",
    "SCCM",
    "Manual Entry",
    "Other Automated",
    "ImportSet",
    "NinjaOne",
    "NinjaOne RMM",
];
