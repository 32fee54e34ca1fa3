//! A pass's snapshot: both sides listed whole, page by page, concurrently; a failed listing
//! becomes `Observed::Unavailable` with a retry hint.

use std::time::Duration;

use crate::engine::OrganizationSync;
use crate::engine::outcome::Stop;
use crate::engine::throttle::credentials;
use crate::model::{CiMapping, RowError, SyncConfig, SyncStatus};
use crate::plan::{Observed, Snapshot};
use crate::ports::Remote;
use crate::ports::{ApiError, ApiErrorKind, Listing, PageRequest, collect_all};

impl OrganizationSync {
    /// Lists both sides. Listings that fail are [`Observed::Unavailable`]; only a failure of the
    /// integration's own credentials stops the pass.
    pub(super) async fn snapshot(
        &self,
        configs: &[SyncConfig],
        mappings: Vec<CiMapping>,
    ) -> Result<(Snapshot, Option<Duration>), Stop> {
        let first = PageRequest::first(self.options.page_size);
        // How soon a failed read is worth trying again (the earliest over all reads).
        let mut retry: Option<Duration> = None;
        let max_pages = self.options.max_pages;
        let (organizations, companies) = futures_util::future::join(
            collect_all(first.clone(), max_pages, |page| {
                self.ninja.organizations(page)
            }),
            collect_all(first.clone(), max_pages, |page| self.snow.companies(page)),
        )
        .await;
        let organizations =
            self.observe(Remote::NinjaOne, "organizations", organizations, &mut retry)?;
        let companies = self.observe(Remote::ServiceNow, "companies", companies, &mut retry)?;
        let live = || configs.iter().filter(|c| c.status() != SyncStatus::Deleted);
        let mut snapshot = Snapshot::new(organizations, companies);
        if live().any(|c| c.customer_account().is_some()) {
            let installed = match self.snow.customer_service_management().await {
                Ok(installed) => Some(installed),
                Err(err) if err.kind().is_auth() => {
                    return Err(credentials(Remote::ServiceNow, &err));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not detect Customer Service Management");
                    self.retry_after_failure(&err, &mut retry);
                    None
                }
            };
            let accounts = if installed == Some(true) {
                let listing = collect_all(first.clone(), max_pages, |page| {
                    self.snow.customer_accounts(page)
                })
                .await;
                self.observe(Remote::ServiceNow, "customer accounts", listing, &mut retry)?
            } else {
                Observed::Unavailable {
                    reason: "customer accounts were not listed".to_owned(),
                }
            };
            snapshot = snapshot.with_customer_accounts(installed, accounts);
        }
        let roles = if live().any(|c| !c.ci_mappings().is_empty()) {
            let page = self.ninja.device_roles().await.map(|page| Listing {
                items: page.items,
                rejected: page.rejected,
                pages: 1,
            });
            self.observe(Remote::NinjaOne, "device roles", page, &mut retry)?
        } else {
            Observed::Unavailable {
                reason: "device roles were not listed".to_owned(),
            }
        };
        Ok((snapshot.with_ci(roles, mappings), retry))
    }

    /// Turns a listing into what the planner may conclude from it; a failed one also says when
    /// to try again.
    pub(super) fn observe<T>(
        &self,
        api: Remote,
        what: &str,
        listing: Result<Listing<T>, ApiError>,
        retry: &mut Option<Duration>,
    ) -> Result<Observed<T>, Stop> {
        match listing {
            Ok(listing) if listing.is_complete() => Ok(Observed::complete(listing.items)),
            Ok(listing) => {
                let reason = rejected_reason(api, what, &listing.rejected);
                tracing::warn!("{reason}");
                Ok(Observed::Incomplete {
                    items: listing.items,
                    reason,
                })
            }
            Err(err) if err.kind().is_auth() => Err(credentials(api, &err)),
            Err(err) => {
                tracing::warn!(error = %err, "could not list {api} {what}");
                self.retry_after_failure(&err, retry);
                Ok(Observed::Unavailable {
                    reason: format!("listing {api} {what} failed: {err}"),
                })
            }
        }
    }

    /// Notes when a failed read is worth trying again: the server's wait after a rate limit,
    /// else the first backoff step.
    pub(in crate::engine) fn retry_after_failure(
        &self,
        err: &ApiError,
        retry: &mut Option<Duration>,
    ) {
        let policy = &self.options.retry;
        let wait = match err.kind() {
            ApiErrorKind::RateLimited {
                retry_after: Some(wait),
            } => policy.server_wait(wait),
            _ => policy.initial,
        };
        *retry = Some(retry.map_or(wait, |w| w.min(wait)));
    }
}

pub(super) fn rejected_reason(api: Remote, what: &str, rejected: &[RowError]) -> String {
    let first = rejected
        .first()
        .map(|r| format!("; first: {r}"))
        .unwrap_or_default();
    format!(
        "{} {api} {what} could not be decoded{first}",
        rejected.len()
    )
}
