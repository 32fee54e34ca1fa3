//! Keyset paging shared by both fakes: rows in key order, `after` = the last key of the previous
//! page, `next` = the last key when the page is full (so a listing that is an exact multiple of
//! the page size ends with one empty page, as the real APIs do).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::Bound;
use std::str::FromStr;

use crate::model::IdError;
use crate::ports::{ApiError, ApiErrorKind, Cursor, Page, PageRequest};

/// Parses the request's cursor as a key; a cursor that is not a valid key is an
/// [`ApiErrorKind::Other`] (the real APIs answer 400).
pub(crate) fn after_key<K>(method: &str, request: &PageRequest) -> Result<Option<K>, ApiError>
where
    K: FromStr<Err = IdError>,
{
    request
        .after()
        .map(|cursor| {
            cursor.as_str().parse::<K>().map_err(|e| {
                ApiError::new(
                    ApiErrorKind::Other,
                    format!("{method}: the after cursor is not a valid id"),
                )
                .with_source(e)
            })
        })
        .transpose()
}

/// One page of the rows of `rows` after `after` that `keep` maps to `Some`.
pub(crate) fn page_of<K, V, T>(
    rows: &BTreeMap<K, V>,
    after: Option<&K>,
    limit: u32,
    mut keep: impl FnMut(&V) -> Option<T>,
) -> Page<T>
where
    K: Ord + Display,
{
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut items = Vec::new();
    let mut last = None;
    for (key, row) in rows.range((lower, Bound::Unbounded)) {
        if let Some(item) = keep(row) {
            items.push(item);
            last = Some(key);
            if items.len() == limit {
                break;
            }
        }
    }
    let next = if items.len() == limit {
        last.map(|key| Cursor::new(key.to_string()))
    } else {
        None
    };
    Page::new(items, next)
}
