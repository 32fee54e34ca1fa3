//! Paging: a [`PageRequest`] in, a [`Page`] out, and [`collect_all`] to walk every page with a
//! hard upper bound, so no caller writes the loop again and no listing is truncated silently.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiErrorKind};
pub use crate::model::Listing;
use crate::model::RowError;

/// Page size used when a caller has no better idea: large enough to keep request counts low,
/// small enough for every server's cap.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The most pages [`collect_all`] walks before it gives up with an error (not a truncated list).
pub const DEFAULT_MAX_PAGES: usize = 10_000;

/// Where the next page starts: opaque to callers (NinjaOne's `after` id, ServiceNow's last
/// `sys_id`), produced by the API implementation and handed back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor from an implementation's own position marker.
    #[must_use]
    pub fn new(position: impl Into<String>) -> Self {
        Self(position.into())
    }

    /// The position marker.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which page to fetch: the first, or the one after a [`Cursor`]; and how many rows at most.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    after: Option<Cursor>,
    limit: u32,
}

impl PageRequest {
    /// The first page, of at most `limit` rows (at least 1).
    #[must_use]
    pub fn first(limit: u32) -> Self {
        Self {
            after: None,
            limit: limit.max(1),
        }
    }

    /// The page after `cursor`, with the same limit.
    #[must_use]
    pub fn next(&self, cursor: Cursor) -> Self {
        Self {
            after: Some(cursor),
            limit: self.limit,
        }
    }

    /// Where the page starts; `None` for the first page.
    #[must_use]
    pub fn after(&self) -> Option<&Cursor> {
        self.after.as_ref()
    }

    /// The most rows the page may hold.
    #[must_use]
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(DEFAULT_PAGE_SIZE)
    }
}

/// One page of a listing.
///
/// Rows that could not be decoded are in `rejected`, not silently dropped: a listing with
/// rejected rows is incomplete, and callers must not treat what is missing from it as absent.
/// Endpoints that are not paged (NinjaOne's roles and alerts) answer with one page and no
/// `next`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The decoded rows.
    pub items: Vec<T>,
    /// Rows that could not be decoded.
    pub rejected: Vec<RowError>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page of rows, with nothing rejected.
    #[must_use]
    pub fn new(items: Vec<T>, next: Option<Cursor>) -> Self {
        Self {
            items,
            rejected: Vec::new(),
            next,
        }
    }

    /// Adds rows that could not be decoded.
    #[must_use]
    pub fn with_rejected(mut self, rejected: Vec<RowError>) -> Self {
        self.rejected = rejected;
        self
    }

    /// The same page with every row changed by `f` (rejected rows and cursor kept).
    #[must_use]
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            rejected: self.rejected,
            next: self.next,
        }
    }
}

/// Fetches every page, starting with `first`, until a page has no `next`.
///
/// # Errors
/// The first error of `fetch`, unchanged; or [`ApiErrorKind::InvalidResponse`] when the listing
/// has not ended after `max_pages` pages or a page hands back the cursor it was asked for (a
/// server that would loop forever). A partial listing is never returned as if it were whole.
///
/// ```
/// use ninjaone_servicenow::ports::{collect_all, Cursor, Page, PageRequest};
/// # futures::executor::block_on(async {
/// let rows: Vec<u32> = (0..25).collect();
/// let listing = collect_all(PageRequest::first(10), 100, |req: PageRequest| {
///     let start: usize = req.after().map_or(0, |c| c.as_str().parse().unwrap());
///     let end = (start + 10).min(rows.len());
///     let next = (end < rows.len()).then(|| Cursor::new(end.to_string()));
///     std::future::ready(Ok(Page::new(rows[start..end].to_vec(), next)))
/// })
/// .await?;
/// assert_eq!((listing.items.len(), listing.pages), (25, 3));
/// # Ok::<(), ninjaone_servicenow::ports::ApiError>(())
/// # }).unwrap();
/// ```
pub async fn collect_all<T, F, Fut>(
    first: PageRequest,
    max_pages: usize,
    mut fetch: F,
) -> Result<Listing<T>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, ApiError>>,
{
    let mut listing = Listing {
        items: Vec::new(),
        rejected: Vec::new(),
        pages: 0,
    };
    let mut request = first;
    loop {
        if listing.pages >= max_pages {
            return Err(ApiError::new(
                ApiErrorKind::InvalidResponse,
                format!(
                    "the listing did not end after {max_pages} pages; refusing to use a truncated list \
                     (raise the page limit if the tenant really is this large)"
                ),
            ));
        }
        let asked = request.after().cloned();
        let page = fetch(request.clone()).await?;
        listing.pages += 1;
        listing.items.extend(page.items);
        listing.rejected.extend(page.rejected);
        match page.next {
            None => return Ok(listing),
            Some(next) if Some(&next) == asked.as_ref() => {
                return Err(ApiError::new(
                    ApiErrorKind::InvalidResponse,
                    format!(
                        "the server returned the cursor {next} it was asked for; paging would never end"
                    ),
                ));
            }
            Some(next) => request = request.next(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_that_never_ends_is_an_error_not_a_truncation() {
        let mut n = 0u32;
        let result = futures::executor::block_on(collect_all(PageRequest::first(1), 5, |_| {
            n += 1;
            std::future::ready(Ok(Page::new(vec![n], Some(Cursor::new(n.to_string())))))
        }));
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ApiErrorKind::InvalidResponse);
        assert!(err.to_string().contains("5 pages"), "{err}");
    }

    #[test]
    fn a_repeated_cursor_is_an_error() {
        let result = futures::executor::block_on(collect_all(PageRequest::first(1), 50, |req| {
            let next = req.after().cloned().unwrap_or_else(|| Cursor::new("a"));
            std::future::ready(Ok(Page::new(vec![1], Some(next))))
        }));
        assert_eq!(result.unwrap_err().kind(), ApiErrorKind::InvalidResponse);
    }

    #[test]
    fn errors_pass_through_and_rejected_rows_are_kept() {
        let listing = futures::executor::block_on(collect_all(PageRequest::first(1), 5, |_| {
            std::future::ready(Ok(Page::<u8>::new(vec![], None).with_rejected(vec![
                RowError {
                    index: 0,
                    id_prefix: None,
                    message: "bad".into(),
                },
            ])))
        }))
        .unwrap();
        assert!(!listing.is_complete());
        let err = futures::executor::block_on(collect_all(PageRequest::first(1), 5, |_| {
            std::future::ready(Err::<Page<u8>, _>(ApiError::new(
                ApiErrorKind::Transient,
                "x",
            )))
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ApiErrorKind::Transient);
    }
}
