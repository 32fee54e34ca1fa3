//! `sync` and `incidents` from the command line: the pass, its report, the exit status it earns.

use ninjaone_servicenow::engine::incidents::IncidentReport;
use ninjaone_servicenow::engine::{ApplyMode, NextRun, Outcome, Report, StoppedReport, SyncError};
use ninjaone_servicenow::model::SyncStatus;

use super::failure::refused_text;
use super::output::{SyncJson, or_dash, table};
use super::{Ctx, Exit, Failed, Io, Verbosity, json_line, output, sync_failure};

impl Ctx {
    /// Shows "orgsync: running `what`…" on standard error while a pass runs: on a terminal only,
    /// never with JSON or `-q`. Returns whether it is shown, for [`clear_progress`].
    fn show_progress(&self, what: &str, json: bool, io: &mut Io<'_>) -> bool {
        let shown = self.terminal && !json && self.verbosity != Verbosity::Quiet;
        if shown {
            let _ = write!(io.err, "orgsync: running {what}…");
            let _ = io.err.flush();
        }
        shown
    }

    pub(super) async fn run_sync(
        &self,
        dry_run: bool,
        approve: bool,
        json: bool,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let progress = self.show_progress("a sync pass", json, io);
        let result = if approve {
            self.sync.approve_deletions(&self.actor).await
        } else {
            let mode = if dry_run {
                ApplyMode::DryRun
            } else {
                ApplyMode::Apply
            };
            self.sync.run_once(mode).await
        };
        clear_progress(progress, io);
        // A pass stopped by refused credentials is an `Err` carrying its report: print the
        // report, then the stop, as for any other stop.
        let report = match result {
            Ok(report) => report,
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Sync(report) => *report,
                _ => return Err(Failed::new(Exit::Failure, refused_text(&refused))),
            },
            Err(e) => return Err(sync_failure(&e)),
        };
        if json {
            json_line(io, &SyncJson::from(&report))?;
        } else {
            self.print_report(&report, io);
        }
        if report.mode == ninjaone_servicenow::model::IntegrationMode::Disabled {
            let message = "The integration is disabled: nothing was synced. Turn it on with \
                           `orgsync mode active` or `orgsync mode inactive`.";
            if json {
                self.note(io, message);
            } else {
                self.say(io, message);
            }
            return Ok(Exit::Done);
        }
        if let Some(stop) = &report.stop {
            return Err(Failed::new(
                Exit::Failure,
                format!("the pass stopped: {stop}"),
            ));
        }
        let counts = &report;
        // Outcomes are "unknown" only when a listing failed or came back incomplete; a retry
        // hint with no failed, deferred or held organization comes from a failed read too.
        // Either way the pass could not read what it needs: a runtime failure, not a partial
        // pass.
        let waiting = matches!(report.next_run, NextRun::At(_));
        if counts.unknown > 0 || (waiting && counts.failed + counts.deferred + counts.held == 0) {
            let cause = report
                .outcomes
                .iter()
                .find_map(|line| match &line.outcome {
                    Outcome::Unknown { reason } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "a NinjaOne or ServiceNow listing failed".to_owned());
            let retry = match report.next_run {
                NextRun::At(at) => format!(
                    "run again at or after {} UTC; nothing was concluded from what could not be read",
                    at.format("%Y-%m-%d %H:%M:%S")
                ),
                NextRun::Regular => {
                    "run again; nothing was concluded from what could not be read".to_owned()
                }
            };
            return Err(Failed::new(
                Exit::Failure,
                format!("the pass could not read everything it needs: {cause}"),
            )
            .hint(format!("check the network and the instances, then {retry}")));
        }
        let unfinished = counts.failed + counts.held + counts.deferred;
        if report.needs_approval() {
            self.note(
                io,
                "Some changes are held by the deletion guard: check them, then run \
                 `orgsync sync --approve-deletions`.",
            );
        }
        if unfinished > 0 || report.needs_approval() {
            self.note(
                io,
                &format!(
                    "{unfinished} organization(s) failed, were deferred or are held; they are \
                     recorded and retried by the next pass (`orgsync status` shows why)."
                ),
            );
            return Ok(Exit::Partial);
        }
        Ok(Exit::Done)
    }

    /// `incidents`: one incident pass — a ticket for each new alert of an organization whose
    /// configuration is active and allows incidents, the tickets of cleared alerts resolved.
    pub(super) async fn incidents(
        &self,
        dry_run: bool,
        approve: bool,
        json: bool,
        io: &mut Io<'_>,
    ) -> Result<Exit, Failed> {
        let progress = self.show_progress("an incident pass", json, io);
        let mode = if dry_run {
            ApplyMode::DryRun
        } else {
            ApplyMode::Apply
        };
        let result = if approve {
            self.router.approve_resolves(&self.actor).await
        } else {
            self.router.run_once(mode).await
        };
        clear_progress(progress, io);
        let report = match result {
            Ok(report) => report,
            Err(SyncError::CredentialsRefused(refused)) => match refused.report {
                StoppedReport::Incidents(report) => *report,
                _ => return Err(Failed::new(Exit::Failure, refused_text(&refused))),
            },
            Err(e) => return Err(sync_failure(&e)),
        };
        if json {
            json_line(io, &report)?;
        } else {
            self.print_incidents(&report, io);
        }
        if let Some(stop) = &report.stop {
            return Err(Failed::new(
                Exit::Failure,
                format!("the incident pass stopped: {stop}"),
            ));
        }
        if !report.listing_problems.is_empty() {
            return Err(Failed::new(
                Exit::Failure,
                format!(
                    "the incident pass could not read everything it needs: {}",
                    report.listing_problems.join("; ")
                ),
            )
            .hint("check the network and the instances, then run again; nothing was created or resolved from what could not be read"));
        }
        if report.needs_approval() {
            self.note(
                io,
                &format!(
                    "{} resolve(s) are held by the resolve guard: this pass would have resolved \
                     {} of {} open ticket(s), more than its limit of {}. Check that NinjaOne's \
                     alert listing is right (credentials, API role, tenant), then run \
                     `orgsync incidents --approve-resolves` to resolve them.",
                    report.held,
                    report.resolve_guard.resolves,
                    report.resolve_guard.open,
                    report.resolve_guard.limit
                ),
            );
        }
        if report.failed + report.unknown > 0 {
            self.note(
                io,
                &format!(
                    "{} alert(s) failed or could not be decided; the next pass retries them.",
                    report.failed + report.unknown
                ),
            );
            return Ok(Exit::Partial);
        }
        if report.needs_approval() {
            return Ok(Exit::Partial);
        }
        Ok(Exit::Done)
    }

    pub(super) fn print_incidents(&self, report: &IncidentReport, io: &mut Io<'_>) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let kind = if report.apply_mode == ApplyMode::DryRun {
            "Incident dry run (nothing written)"
        } else {
            "Incident pass"
        };
        let _ = writeln!(
            io.out,
            "{kind}: {} open alert(s); {} created, {} adopted, {} noted, {} resolved, {} held, \
             {} finished elsewhere, {} skipped, {} failed, {} unknown; {} remote write(s).",
            report.alerts,
            report.created,
            report.adopted,
            report.noted,
            report.resolved,
            report.held,
            report.finished_elsewhere,
            report.skipped,
            report.failed,
            report.unknown,
            report.remote_writes
        );
        for (reason, count) in &report.skip_reasons {
            let _ = writeln!(io.out, "  skipped {count}: {reason}");
        }
        if self.verbosity == Verbosity::Verbose {
            for line in &report.outcomes {
                let _ = writeln!(
                    io.out,
                    "  {} {} {}",
                    line.alert,
                    line.number.as_deref().unwrap_or("-"),
                    line.outcome
                );
            }
        }
    }

    pub(super) fn print_report(&self, report: &Report, io: &mut Io<'_>) {
        if self.verbosity == Verbosity::Quiet
            || report.mode == ninjaone_servicenow::model::IntegrationMode::Disabled
        {
            return;
        }
        let c = report;
        let kind = if report.apply_mode == ApplyMode::DryRun {
            "Dry run (nothing written)"
        } else {
            "Sync pass"
        };
        let _ = writeln!(
            io.out,
            "{kind} in {} mode: {} created, {} matched, {} activated, {} unchanged, {} deferred, \
             {} held, {} failed, {} deleted, {} unknown, {} planned; {} remote write(s).",
            report.mode,
            c.created,
            c.matched,
            c.activated,
            c.unchanged,
            c.deferred,
            c.held,
            c.failed,
            c.deleted,
            c.unknown,
            c.planned,
            report.remote_writes
        );
        let verbose = self.verbosity == Verbosity::Verbose;
        let rows: Vec<Vec<String>> = report
            .outcomes
            .iter()
            .filter(|line| verbose || line.outcome.label() != "unchanged")
            .map(|line| {
                vec![
                    line.organization.to_string(),
                    or_dash(line.organization_name.as_deref()),
                    or_dash(line.status.map(SyncStatus::label)),
                    line.outcome.to_string(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let _ = io
                .out
                .write_all(table(&["ORG", "NAME", "STATUS", "OUTCOME"], &rows).as_bytes());
        }
        if let Some(ci) = &report.ci {
            let _ = writeln!(io.out, "{}", output::cmdb_summary(ci));
            let rows = output::cmdb_rows(ci);
            if !rows.is_empty() {
                let _ = io
                    .out
                    .write_all(table(&["DEVICE", "NAME", "ORG", "CMDB", "WHY"], &rows).as_bytes());
            }
        }
        if verbose && let NextRun::At(at) = report.next_run {
            let _ = writeln!(
                io.out,
                "Run again at or after {} UTC.",
                at.format("%Y-%m-%d %H:%M:%S")
            );
        }
    }
}

/// Erases the line [`Ctx::show_progress`] wrote, if it wrote one.
fn clear_progress(shown: bool, io: &mut Io<'_>) {
    if shown {
        let _ = write!(io.err, "\r\x1b[K");
    }
}
