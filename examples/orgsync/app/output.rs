//! What `orgsync` prints: human tables and the JSON shapes other programs script against.
//!
//! # JSON field names (stable)
//! `status --json`: an array of objects with exactly the fields of [`ConfigRow`].
//! `sync --json`: one object with exactly the fields of [`SyncJson`]; each outcome has the
//! fields of [`OutcomeJson`]; `ci` is the CMDB step's `CiReport` as the library serializes it
//! (null when no active configuration has CI mappings); its `held` lists the devices skipped
//! because their first write would take over another company's CI, each with `reason`.
//! `incidents --json`: the library's `IncidentReport` as it serializes it. `audit --json`: an
//! array of [`AuditJson`]. `ticket-template list --json`: an array of
//! `templates::TemplateJson`. Times are RFC 3339 UTC.

use chrono::{DateTime, Utc};
use ninjaone_servicenow::engine::{CiReport, Outcome, Report};
use ninjaone_servicenow::model::{AuditEntry, AuditOutcome, SyncConfig};
use serde::Serialize;

use super::{Exit, Failed, Io};

/// One configuration, as `status --json` prints it.
#[derive(Debug, Serialize)]
pub struct ConfigRow {
    pub organization_id: u32,
    /// The organization's name as last seen (null until a pass or an add saw it).
    pub organization_name: Option<String>,
    pub company_sys_id: Option<String>,
    /// The company's name as last seen (null while unmapped or until seen).
    pub company_name: Option<String>,
    pub customer_account_sys_id: Option<String>,
    /// "active", "pending", "in_queue", "deleted" or "inactive".
    pub status: String,
    /// Why it has this status (paused by whom, why it failed), when there is a reason.
    pub reason: Option<String>,
    pub allow_incidents: bool,
    /// "incident" or "case".
    pub tickets: String,
    pub ci_mappings: Vec<String>,
    pub last_error: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<&SyncConfig> for ConfigRow {
    fn from(config: &SyncConfig) -> Self {
        Self {
            organization_id: config.organization().get(),
            organization_name: config.organization_name().map(str::to_owned),
            company_sys_id: config.company().map(ToString::to_string),
            company_name: config.company_name().map(str::to_owned),
            customer_account_sys_id: config.customer_account().map(ToString::to_string),
            status: serde_json::to_value(config.status())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            reason: config.status_reason().map(str::to_owned),
            allow_incidents: config.allow_incidents(),
            tickets: config.tickets().as_str().to_owned(),
            ci_mappings: config
                .ci_mappings()
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            last_error: config.last_error().map(str::to_owned),
            attempts: config.attempts(),
            next_attempt_at: config.next_attempt_at(),
            updated_at: config.updated_at(),
        }
    }
}

/// One organization's line of `sync --json`.
#[derive(Debug, Serialize)]
pub struct OutcomeJson {
    pub organization_id: u32,
    pub organization_name: Option<String>,
    /// The configuration's status after the pass; null when it has none.
    pub status: Option<String>,
    /// "created", "matched", "activated", "unchanged", "deferred", "held", "failed",
    /// "deleted", "unknown" or "planned".
    pub outcome: &'static str,
    /// The company created or matched.
    pub company_sys_id: Option<String>,
    /// What happened, in words.
    pub detail: String,
}

/// The counts of `sync --json`, over every organization (listed or not).
#[derive(Debug, Serialize)]
#[allow(clippy::struct_field_names)]
pub struct CountsJson {
    pub created: usize,
    pub matched: usize,
    pub activated: usize,
    pub unchanged: usize,
    pub deferred: usize,
    pub held: usize,
    pub failed: usize,
    pub deleted: usize,
    pub unknown: usize,
    pub planned: usize,
}

impl From<&Report> for CountsJson {
    fn from(r: &Report) -> Self {
        Self {
            created: r.created,
            matched: r.matched,
            activated: r.activated,
            unchanged: r.unchanged,
            deferred: r.deferred,
            held: r.held,
            failed: r.failed,
            deleted: r.deleted,
            unknown: r.unknown,
            planned: r.planned,
        }
    }
}

/// The report of `sync --json`.
#[derive(Debug, Serialize)]
pub struct SyncJson {
    /// The integration mode during the pass.
    pub mode: String,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Calls that may have changed ServiceNow.
    pub remote_writes: usize,
    pub counts: CountsJson,
    /// Whether the deletion guard holds changes (run `sync --approve-deletions`).
    pub needs_approval: bool,
    pub approved_by: Option<String>,
    /// Why the pass stopped early (credentials refused), when it did.
    pub stopped: Option<String>,
    /// When to run again, when something is waiting (a backoff, a rate limit).
    pub next_run_at: Option<DateTime<Utc>>,
    pub outcomes: Vec<OutcomeJson>,
    /// The CMDB step: devices sent, skipped, failed; null when nothing was to be pushed.
    pub ci: Option<CiReport>,
}

fn status_name(status: Option<ninjaone_servicenow::model::SyncStatus>) -> Option<String> {
    status
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
}

impl From<&Report> for SyncJson {
    fn from(report: &Report) -> Self {
        Self {
            mode: report.mode.as_str().to_owned(),
            dry_run: report.apply_mode == ninjaone_servicenow::engine::ApplyMode::DryRun,
            started_at: report.started_at,
            finished_at: report.finished_at,
            remote_writes: report.remote_writes,
            counts: CountsJson::from(report),
            needs_approval: report.needs_approval(),
            approved_by: report.approved_by.clone(),
            stopped: report.stop.as_ref().map(ToString::to_string),
            next_run_at: match report.next_run {
                ninjaone_servicenow::engine::NextRun::At(at) => Some(at),
                ninjaone_servicenow::engine::NextRun::Regular => None,
            },
            outcomes: report
                .outcomes
                .iter()
                .map(|line| OutcomeJson {
                    organization_id: line.organization.get(),
                    organization_name: line.organization_name.clone(),
                    status: status_name(line.status),
                    outcome: line.outcome.label(),
                    company_sys_id: match &line.outcome {
                        Outcome::Created { company, .. } | Outcome::Matched { company, .. } => {
                            Some(company.to_string())
                        }
                        _ => None,
                    },
                    detail: line.outcome.to_string(),
                })
                .collect(),
            ci: report.ci.clone(),
        }
    }
}

/// One audit entry of `audit --json`.
#[derive(Debug, Serialize)]
pub struct AuditJson {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// "set_mode", "add_config", … (snake case).
    pub action: String,
    pub organization_id: Option<u32>,
    /// "applied" or "refused".
    pub outcome: &'static str,
    /// Why it was refused.
    pub reason: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// An audit action's name ("set_mode", or the text of an `Other` action).
pub fn action_name(entry: &AuditEntry) -> String {
    match serde_json::to_value(&entry.action) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map
            .values()
            .next()
            .and_then(|v| v.as_str())
            .unwrap_or("other")
            .to_owned(),
        _ => "other".to_owned(),
    }
}

impl From<&AuditEntry> for AuditJson {
    fn from(entry: &AuditEntry) -> Self {
        let (outcome, reason) = match &entry.outcome {
            AuditOutcome::Applied => ("applied", None),
            AuditOutcome::Refused(reason) => ("refused", Some(reason.clone())),
        };
        Self {
            seq: entry.seq,
            at: entry.at,
            actor: entry.actor.clone(),
            action: action_name(entry),
            organization_id: entry
                .organization
                .map(ninjaone_servicenow::model::OrganizationId::get),
            outcome,
            reason,
            before: entry.before.clone(),
            after: entry.after.clone(),
        }
    }
}

/// A plain text table: a header row, a rule, the rows; columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push('\n');
        text
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The CMDB step in one line: what was listed, checked, sent and skipped.
pub fn cmdb_summary(ci: &CiReport) -> String {
    let mut skipped: Vec<String> = ci
        .skipped
        .iter()
        .map(|(reason, n)| {
            let name = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("{n} {name}")
        })
        .collect();
    if skipped.is_empty() {
        skipped.push("none".to_owned());
    }
    let mut line = format!(
        "CMDB step ({}): {} devices listed, {} unchanged, {} sent ({} inserted, {} updated, {} \
         unchanged by ServiceNow, {} partial), {} failed; skipped: {}; {} dry run(s), {} owner \
         query(ies), {} write(s).",
        ci.data_source,
        ci.devices_listed,
        ci.unchanged,
        ci.sent,
        ci.inserted,
        ci.updated,
        ci.no_change,
        ci.partial.len(),
        ci.failed.len(),
        skipped.join(", "),
        ci.dry_runs,
        ci.owner_queries,
        ci.batches,
    );
    if let Some(problem) = &ci.problem {
        line.push_str("\nCMDB problem: ");
        line.push_str(problem);
    }
    line
}

/// One row per device the CMDB step did not write as asked, with why: held back (another
/// company's CI), failed, inserted as partial, or written to another CI than recorded.
pub fn cmdb_rows(ci: &CiReport) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut push = |device: String, name: &str, org: String, what: &str, why: &str| {
        rows.push(vec![
            device,
            name.to_owned(),
            org,
            what.to_owned(),
            why.to_owned(),
        ]);
    };
    for h in &ci.held {
        push(
            h.device.to_string(),
            &h.name,
            h.organization.to_string(),
            "skipped",
            &h.reason,
        );
    }
    for f in &ci.failed {
        push(
            f.device.to_string(),
            &f.name,
            f.organization.to_string(),
            "failed",
            &f.message,
        );
    }
    for p in &ci.partial {
        push(
            p.device.to_string(),
            &p.name,
            p.organization.to_string(),
            "partial",
            &p.message,
        );
    }
    for d in &ci.diverged {
        push(
            d.device.to_string(),
            &d.name,
            d.organization.to_string(),
            "diverged",
            &d.message,
        );
    }
    for b in &ci.failed_batches {
        let devices: Vec<String> = b.devices.iter().map(ToString::to_string).collect();
        push(
            devices.join(","),
            "-",
            "-".to_owned(),
            "failed batch",
            &b.message,
        );
    }
    rows
}

/// `text`, or "-" when empty.
pub fn or_dash(text: Option<&str>) -> String {
    text.filter(|t| !t.is_empty()).unwrap_or("-").to_owned()
}

/// Prints `value` as pretty JSON on standard output.
pub(super) fn json_line(io: &mut Io<'_>, value: &impl Serialize) -> Result<(), Failed> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failed::new(Exit::Failure, format!("could not write JSON: {e}")))?;
    let _ = writeln!(io.out, "{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["ORG", "STATUS"],
            &[
                vec!["1".into(), "active".into()],
                vec!["1234".into(), "-".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ORG   STATUS");
        assert_eq!(lines[1], "----  ------");
        assert_eq!(lines[2], "1     active");
        assert_eq!(lines[3], "1234  -");
    }
}
