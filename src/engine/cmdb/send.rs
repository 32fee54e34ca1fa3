//! The CMDB step's writes: the batches sent to Identification and Reconciliation, the dry
//! run's preview, and a request that failed as a whole.

use super::answer::{Checked, Steps, batch_failure, take_answer};
use super::report::{CiPlannedLine, CiReport};
use crate::engine::OrganizationSync;
use crate::engine::outcome::FailureKind;
use crate::engine::report::Report;
use crate::engine::throttle::credentials;
use crate::model::CiRecord;
use crate::plan::PlannedCi;
use crate::ports::{ApiError, ApiErrorKind, Remote};

impl OrganizationSync {
    /// Checks the items that need it with dry runs, then sends what may be written in batches,
    /// one request after the other, and returns the records to write.
    pub(super) async fn send(
        &self,
        items: Vec<PlannedCi>,
        records: &[CiRecord],
        data_source: &str,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Vec<CiRecord> {
        let now = self.now();
        let mut put: Vec<CiRecord> = Vec::new();
        let batch_size = self.policy.cmdb.batch_size.max(1);
        let (to_check, direct): (Vec<PlannedCi>, Vec<PlannedCi>) =
            items.into_iter().partition(|p| p.check);
        let mut steps = Steps::default();
        let cleared = self
            .check(
                to_check,
                records,
                data_source,
                batch_size,
                report,
                ci,
                &mut steps,
                &mut put,
                now,
            )
            .await;
        if steps.stopped {
            // Checked or not, nothing more is sent this pass.
            ci.deferred += direct.len() + cleared.len();
            return put;
        }
        let mut writes: Vec<Checked> = direct
            .into_iter()
            .map(|planned| Checked {
                planned,
                expected: None,
            })
            .chain(cleared)
            .collect();
        writes.sort_by_key(|c| c.planned.device);
        let mut batches = writes.chunks(batch_size);
        for batch in batches.by_ref() {
            let payload: Vec<_> = batch.iter().map(|c| c.planned.item.clone()).collect();
            ci.batches += 1;
            report.remote_writes += 1;
            match self.snow.identify_reconcile(data_source, &payload).await {
                Ok(results) if results.len() == batch.len() => {
                    ci.sent += batch.len();
                    for (checked, result) in batch.iter().zip(results) {
                        take_answer(checked, result, now, ci, &mut put);
                    }
                }
                Ok(results) => {
                    // Which answer belongs to which item is unknown: record nothing, send again.
                    ci.failed_batches.push(batch_failure(
                        batch.iter().map(|c| &c.planned),
                        FailureKind::Transient,
                        format!(
                            "the Identification and Reconciliation API answered {} results for \
                             {} items; nothing was recorded, the next pass sends them again",
                            results.len(),
                            batch.len()
                        ),
                    ));
                }
                Err(err) => {
                    let stop =
                        self.batch_failed(&err, batch.iter().map(|c| &c.planned), report, ci);
                    if stop {
                        break;
                    }
                }
            }
        }
        ci.deferred += batches.map(<[Checked]>::len).sum::<usize>();
        put
    }

    /// A dry run of the pass: the read-only half of [`send`](Self::send) (identification dry
    /// runs and owner queries for the items that need them), so what it reports is what an
    /// apply would do: the devices it would write, and in `ci.held` those the guard would hold.
    /// Nothing is written or recorded.
    pub(super) async fn preview(
        &self,
        items: Vec<PlannedCi>,
        records: &[CiRecord],
        data_source: &str,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> Vec<CiPlannedLine> {
        let batch_size = self.policy.cmdb.batch_size.max(1);
        let (to_check, direct): (Vec<PlannedCi>, Vec<PlannedCi>) =
            items.into_iter().partition(|p| p.check);
        let mut steps = Steps::default();
        let mut discarded = Vec::new();
        let cleared = self
            .check(
                to_check,
                records,
                data_source,
                batch_size,
                report,
                ci,
                &mut steps,
                &mut discarded,
                self.now(),
            )
            .await;
        let mut lines: Vec<CiPlannedLine> = direct
            .iter()
            .chain(cleared.iter().map(|c| &c.planned))
            .map(CiPlannedLine::from)
            .collect();
        lines.sort_by_key(|l| l.device);
        lines
    }

    /// Reports a request that failed as a whole; `true` when no further request should be made
    /// (refused credentials, a rate limit).
    pub(super) fn batch_failed<'p>(
        &self,
        err: &ApiError,
        batch: impl Iterator<Item = &'p PlannedCi>,
        report: &mut Report,
        ci: &mut CiReport,
    ) -> bool {
        if err.kind().is_auth() {
            report.stop = Some(credentials(Remote::ServiceNow, err));
            ci.failed_batches.push(batch_failure(
                batch,
                FailureKind::Transient,
                err.to_string(),
            ));
            return true;
        }
        let kind = err.kind();
        let transient = kind.is_transient() || kind == ApiErrorKind::InvalidResponse;
        tracing::warn!(error = %err, "a CMDB request failed");
        let failure_kind = if transient {
            self.hint_retry(err, report);
            FailureKind::Transient
        } else {
            FailureKind::Permanent
        };
        ci.failed_batches
            .push(batch_failure(batch, failure_kind, err.to_string()));
        matches!(kind, ApiErrorKind::RateLimited { .. })
    }
}
