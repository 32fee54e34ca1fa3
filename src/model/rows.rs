//! Row-by-row decoding of a page, so one bad record never costs the whole page.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ids::quote_prefix;

/// A row of a page (either API) that could not be decoded. The rest of the page is still used, but
/// a listing with rejected rows is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The row's position in the page.
    pub index: usize,
    /// A short prefix of the row's own id (`sys_id`, `id` or `uid`), when it had one.
    pub id_prefix: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id_prefix {
            Some(p) => write!(f, "row {} (id {p:?}): {}", self.index, self.message),
            None => write!(f, "row {}: {}", self.index, self.message),
        }
    }
}

/// Decodes each element of a JSON array on its own: good rows are returned, bad rows become
/// [`RowError`]s. A value that is not an array is one error at index 0.
///
/// ```
/// use ninjaone_servicenow::model::{Company, decode_rows};
/// let page = serde_json::json!([
///     {"sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "name": "Acme"},
///     {"sys_id": "oops", "name": "Broken"}
/// ]);
/// let (rows, errors) = decode_rows::<Company>(page);
/// assert_eq!(rows.len(), 1);
/// assert_eq!(errors[0].index, 1);
/// ```
pub fn decode_rows<T: DeserializeOwned>(value: serde_json::Value) -> (Vec<T>, Vec<RowError>) {
    let serde_json::Value::Array(items) = value else {
        return (
            Vec::new(),
            vec![RowError {
                index: 0,
                id_prefix: None,
                message: "expected a JSON array of rows".to_owned(),
            }],
        );
    };
    let mut rows = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let id_prefix = ["sys_id", "id", "uid"]
            .iter()
            .find_map(|key| item.get(*key))
            .map(|v| match v {
                serde_json::Value::String(s) => quote_prefix(s),
                other => quote_prefix(&other.to_string()),
            });
        match T::deserialize(item) {
            Ok(row) => rows.push(row),
            Err(e) => errors.push(RowError {
                index,
                id_prefix,
                message: e.to_string(),
            }),
        }
    }
    (rows, errors)
}
