//! [`Listing`]: every row of a listing, as data — what the planners read and
//! [`ports::collect_all`](crate::ports::collect_all) returns.

use super::RowError;

/// Every row of a listing, walked by [`ports::collect_all`](crate::ports::collect_all).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Listing<T> {
    /// The decoded rows, in the order the pages gave them.
    pub items: Vec<T>,
    /// Rows that could not be decoded, across all pages.
    pub rejected: Vec<RowError>,
    /// How many pages were fetched.
    pub pages: usize,
}

impl<T> Listing<T> {
    /// Whether every row was decoded. An incomplete listing counts as "unknown" for whatever it
    /// might have held, never as "absent".
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty()
    }
}
