//! Keyset paging shared by both fakes: rows in key order, `after` = the last key of the previous
//! page, `next` = the last key when the page is full (so a listing that is an exact multiple of
//! the page size ends with one empty page, as the real APIs do).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::ops::Bound;
use std::str::FromStr;

use crate::model::IdError;
use crate::ports::{ApiError, ApiErrorKind, Cursor, Page, PageRequest};

/// Parses the request's cursor as a key; a cursor that is not a valid key is an
/// [`ApiErrorKind::Other`] (the real APIs answer 400).
pub(crate) fn after_key<K>(
    method: impl std::fmt::Display,
    request: &PageRequest,
) -> Result<Option<K>, ApiError>
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

/// The keys of `index` entries whose name starts with `prefix` (an ordered index: the names
/// that start with it are one range), merged into one ordered set.
pub(crate) fn keys_with_prefix<'a, K: Ord>(
    index: &'a BTreeMap<String, BTreeSet<K>>,
    prefix: &str,
) -> BTreeSet<&'a K> {
    index
        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(|(name, _)| name.starts_with(prefix))
        .flat_map(|(_, keys)| keys.iter())
        .collect()
}

/// [`page_of`] over only the rows of `keys` (a subset of `rows`' keys, from an index): one
/// page in key order after `after`, with the same `next` rule.
pub(crate) fn page_of_keys<K, V, T>(
    rows: &BTreeMap<K, V>,
    keys: &BTreeSet<&K>,
    after: Option<&K>,
    limit: u32,
    mut keep: impl FnMut(&V) -> Option<T>,
) -> Page<T>
where
    K: Ord + Display,
{
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
    let mut items = Vec::new();
    let mut last = None;
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    for key in keys.range::<K, _>((lower, Bound::Unbounded)) {
        if let Some(item) = rows.get(*key).and_then(&mut keep) {
            items.push(item);
            last = Some(*key);
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
