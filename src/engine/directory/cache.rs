//! The company directory's cache: one whole listing of ServiceNow's companies (and
//! customer accounts), kept for its maximum age and listed again after it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::search::NameIndex;
use super::{DirectoryKind, OrganizationSync};
use crate::engine::error::SyncError;
use crate::ports::{PageRequest, Remote, collect_all};

/// A whole listing of ServiceNow's companies (and accounts), as cached.
pub(super) struct Listed {
    pub(super) at: DateTime<Utc>,
    pub(super) companies: NameIndex,
    /// `None` when Customer Service Management is not installed.
    pub(super) accounts: Option<NameIndex>,
    pub(super) gaps: Vec<String>,
    pub(super) requests: usize,
}

/// Counts, not the rows: an `OrganizationSync` printed in a log must not dump 10,000 names.
impl std::fmt::Debug for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listed")
            .field("at", &self.at)
            .field("companies", &self.companies.entries.len())
            .field(
                "customer_accounts",
                &self.accounts.as_ref().map(|a| a.entries.len()),
            )
            .field("gaps", &self.gaps)
            .field("requests", &self.requests)
            .finish()
    }
}

/// The cache of the company listing an [`OrganizationSync`] keeps for its Add dialogs.
#[derive(Debug)]
pub(crate) struct DirectoryCache {
    max_age: Duration,
    listed: Mutex<Option<Arc<Listed>>>,
}

impl DirectoryCache {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            listed: Mutex::new(None),
        }
    }

    /// Drops the cached listing: the next open lists again.
    pub(crate) fn invalidate(&self) {
        *self.listed.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(super) fn fresh(&self, now: DateTime<Utc>) -> Option<Arc<Listed>> {
        let listed = self
            .listed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let age = now.signed_duration_since(listed.at).to_std().ok()?;
        (age <= self.max_age).then_some(listed)
    }

    pub(super) fn keep(&self, listed: Arc<Listed>) {
        *self.listed.lock().unwrap_or_else(PoisonError::into_inner) = Some(listed);
    }
}

impl OrganizationSync {
    /// The cached listing if fresh (and `refresh` is false), else a new one, kept.
    pub(super) async fn directory_listing(&self, refresh: bool) -> Result<Arc<Listed>, SyncError> {
        let now = self.now();
        if !refresh && let Some(listed) = self.directory.fresh(now) {
            return Ok(listed);
        }
        let first = PageRequest::first(self.options.page_size);
        let max_pages = self.options.max_pages;
        let (companies, installed) = futures_util::future::join(
            collect_all(first.clone(), max_pages, |page| self.snow.companies(page)),
            self.snow.customer_service_management(),
        )
        .await;
        let companies = companies.map_err(SyncError::remote(
            Remote::ServiceNow,
            "could not list ServiceNow's companies",
        ))?;
        let installed = installed.map_err(SyncError::remote(
            Remote::ServiceNow,
            "could not detect Customer Service Management in ServiceNow",
        ))?;
        let mut gaps = Vec::new();
        if !companies.is_complete() {
            gaps.push(format!(
                "{} ServiceNow companies could not be decoded and are not listed",
                companies.rejected.len()
            ));
        }
        let mut requests = companies.pages.saturating_add(1);
        let accounts = if installed {
            let listing = collect_all(first, max_pages, |page| self.snow.customer_accounts(page))
                .await
                .map_err(SyncError::remote(
                    Remote::ServiceNow,
                    "could not list ServiceNow's customer accounts",
                ))?;
            requests = requests.saturating_add(listing.pages);
            if !listing.is_complete() {
                gaps.push(format!(
                    "{} ServiceNow customer accounts could not be decoded and are not listed",
                    listing.rejected.len()
                ));
            }
            Some(NameIndex::new(
                DirectoryKind::CustomerAccount,
                listing.items.into_iter().map(|a| (a.sys_id, a.name)),
            ))
        } else {
            None
        };
        let listed = Arc::new(Listed {
            at: now,
            companies: NameIndex::new(
                DirectoryKind::Company,
                companies.items.into_iter().map(|c| (c.sys_id, c.name)),
            ),
            accounts,
            gaps,
            requests,
        });
        self.directory.keep(listed.clone());
        Ok(listed)
    }
}
