//! [`EncodedQuery`]: the only way this crate writes a ServiceNow `sysparm_query`.
//!
//! An encoded query has no documented escape for `^` or `=`, a condition on an unknown field is
//! silently dropped, and `javascript:` values run on the server (API-NOTES.md). So no free text
//! ever goes into one: the builder takes validated values only — [`SysId`]s, [`CorrelationId`]s
//! (letters, digits and `. _ : -`), UTC timestamps and fixed constants — and renders a fixed set of
//! terms in a fixed order. Anything else is refused with a [`QueryError`].

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Timelike, Utc};

use super::error::prefix;
use crate::model::{CorrelationId, SysId};

/// ServiceNow's date-time format in encoded queries (UTC).
const DATETIME: &str = "%Y-%m-%d %H:%M:%S";

const CORRELATION: &str = "correlation_idSTARTSWITH";
const CREATED: &str = "sys_created_on>=";
const PLUGIN: &str = "id=";
const AFTER: &str = "sys_id>";
const ORDER: &str = "ORDERBYsys_id";

/// A plugin id, as a fixed constant (`v_plugin.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Plugin {
    /// Customer Service Management: `com.sn_customerservice`.
    CustomerService,
}

impl Plugin {
    /// The plugin's id.
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::CustomerService => "com.sn_customerservice",
        }
    }

    fn from_id(id: &str) -> Option<Self> {
        (id == Self::CustomerService.id()).then_some(Self::CustomerService)
    }
}

/// Why a query term was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A value meant to be a sys_id is not 32 hexadecimal characters.
    #[error(
        "{value:?} is not a sys_id (32 hexadecimal characters), so it cannot go into an encoded \
         query; pass the cursor the client returned, unchanged"
    )]
    NotASysId {
        /// The value, cut short.
        value: String,
    },
    /// A timestamp outside the years 1 to 9999, which ServiceNow's format cannot hold.
    #[error("timestamp {value} is outside the years 1 to 9999; use a realistic date")]
    TimestampOutOfRange {
        /// The timestamp, in RFC 3339.
        value: String,
    },
    /// A term that is not one this crate writes (free text, an unknown field or operator, a
    /// `javascript:` value).
    #[error(
        "query term {term:?} is not one of the terms this client may send (correlation_id \
         prefix, sys_created_on lower bound, plugin id, sys_id key, ORDERBYsys_id)"
    )]
    UnknownTerm {
        /// The term, cut short.
        term: String,
    },
    /// A known term whose value is invalid.
    #[error(
        "query term {term:?} has an invalid value: {reason}; build the query with \
         EncodedQuery's methods"
    )]
    InvalidValue {
        /// The term, cut short.
        term: String,
        /// Why.
        reason: String,
    },
    /// A term repeated or out of the fixed order.
    #[error(
        "query term {term:?} is repeated or out of order; build the query with EncodedQuery's \
         methods, which keep the fixed order"
    )]
    OutOfOrder {
        /// The term, cut short.
        term: String,
    },
}

/// A ServiceNow encoded query made only of validated values, rendered in a fixed order:
///
/// 1. `correlation_idSTARTSWITH<prefix>`
/// 2. `sys_created_on>=YYYY-MM-DD HH:MM:SS` (UTC)
/// 3. `id=<plugin id>`
/// 4. `sys_id><last sys_id>` (key paging)
/// 5. `ORDERBYsys_id`
///
/// ```
/// use ninjaone_servicenow::http::EncodedQuery;
/// use ninjaone_servicenow::model::{CorrelationId, SysId};
/// let prefix: CorrelationId = "ninjaone:acme:".parse()?;
/// let last: SysId = "0c43f35d4f5a1200c0a8016a9310c7d5".parse()?;
/// let q = EncodedQuery::new()
///     .order_by_sys_id()
///     .sys_id_after(&last)
///     .correlation_id_starts_with(&prefix);
/// assert_eq!(
///     q.to_string(),
///     "correlation_idSTARTSWITHninjaone:acme:^sys_id>0c43f35d4f5a1200c0a8016a9310c7d5^ORDERBYsys_id"
/// );
/// // A cursor coming back from a caller is checked before it goes in.
/// assert!(EncodedQuery::new().sys_id_after_str("x^NQname=Acme").is_err());
/// // And a query seen on the wire can be checked term by term.
/// assert!(EncodedQuery::parse(&q.to_string()).is_ok());
/// assert!(EncodedQuery::parse("name=Acme^ORDERBYsys_id").is_err());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedQuery {
    correlation_prefix: Option<CorrelationId>,
    created_since: Option<NaiveDateTime>,
    plugin: Option<Plugin>,
    sys_id_after: Option<SysId>,
    order_by_sys_id: bool,
}

impl EncodedQuery {
    /// An empty query (matches every row).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Only rows whose `correlation_id` starts with `prefix`.
    #[must_use]
    pub fn correlation_id_starts_with(mut self, prefix: &CorrelationId) -> Self {
        self.correlation_prefix = Some(prefix.clone());
        self
    }

    /// Only rows created at or after `at` (to the second, rounded down).
    ///
    /// # Errors
    /// [`QueryError::TimestampOutOfRange`] outside the years 1 to 9999.
    pub fn created_on_or_after(mut self, at: DateTime<Utc>) -> Result<Self, QueryError> {
        if !(1..=9999).contains(&at.year()) {
            return Err(QueryError::TimestampOutOfRange {
                value: at.to_rfc3339(),
            });
        }
        let naive = at.naive_utc();
        self.created_since = Some(naive.with_nanosecond(0).unwrap_or(naive));
        Ok(self)
    }

    /// Only the row of this plugin (`v_plugin`).
    #[must_use]
    pub fn plugin(mut self, plugin: Plugin) -> Self {
        self.plugin = Some(plugin);
        self
    }

    /// Only rows whose sys_id sorts after `last` (key paging).
    #[must_use]
    pub fn sys_id_after(mut self, last: &SysId) -> Self {
        self.sys_id_after = Some(last.clone());
        self
    }

    /// As [`sys_id_after`](Self::sys_id_after), for a value that is not known to be a sys_id yet
    /// (a paging cursor handed back by a caller).
    ///
    /// # Errors
    /// [`QueryError::NotASysId`] unless `last` is 32 hexadecimal characters.
    pub fn sys_id_after_str(self, last: &str) -> Result<Self, QueryError> {
        let id: SysId = last.parse().map_err(|_| QueryError::NotASysId {
            value: prefix(last, 40),
        })?;
        Ok(self.sys_id_after(&id))
    }

    /// Orders rows by sys_id (every page of a paged listing).
    #[must_use]
    pub fn order_by_sys_id(mut self) -> Self {
        self.order_by_sys_id = true;
        self
    }

    /// Whether the query has no term.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks an encoded query term by term: it must be made only of the terms above, each at
    /// most once and in that order, with valid values. Used by tests (and fake servers) to prove
    /// that no free text was sent.
    ///
    /// # Errors
    /// The first term that is unknown, invalid, repeated or out of order.
    pub fn parse(query: &str) -> Result<Self, QueryError> {
        let mut out = Self::new();
        if query.is_empty() {
            return Ok(out);
        }
        let mut rank = 0u8;
        for term in query.split('^') {
            let shown = prefix(term, 60);
            let invalid = |reason: String| QueryError::InvalidValue {
                term: shown.clone(),
                reason,
            };
            let this_rank = if let Some(value) = term.strip_prefix(CORRELATION) {
                let id: CorrelationId = value.parse().map_err(|e| invalid(format!("{e}")))?;
                out.correlation_prefix = Some(id);
                1
            } else if let Some(value) = term.strip_prefix(CREATED) {
                let at = NaiveDateTime::parse_from_str(value, DATETIME)
                    .ok()
                    .filter(|t| t.format(DATETIME).to_string() == value)
                    .ok_or_else(|| invalid("not a yyyy-MM-dd HH:mm:ss time".to_owned()))?;
                out.created_since = Some(at);
                2
            } else if let Some(value) = term.strip_prefix(PLUGIN) {
                let plugin = Plugin::from_id(value)
                    .ok_or_else(|| invalid("not a known plugin".to_owned()))?;
                out.plugin = Some(plugin);
                3
            } else if let Some(value) = term.strip_prefix(AFTER) {
                let id: SysId = value
                    .parse()
                    .ok()
                    .filter(|id: &SysId| id.as_str() == value)
                    .ok_or_else(|| invalid("not a lowercase sys_id".to_owned()))?;
                out.sys_id_after = Some(id);
                4
            } else if term == ORDER {
                out.order_by_sys_id = true;
                5
            } else {
                return Err(QueryError::UnknownTerm { term: shown });
            };
            if this_rank <= rank {
                return Err(QueryError::OutOfOrder { term: shown });
            }
            rank = this_rank;
        }
        Ok(out)
    }
}

impl fmt::Display for EncodedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            if first {
                first = false;
                Ok(())
            } else {
                f.write_str("^")
            }
        };
        if let Some(p) = &self.correlation_prefix {
            sep(f)?;
            write!(f, "{CORRELATION}{p}")?;
        }
        if let Some(t) = &self.created_since {
            sep(f)?;
            write!(f, "{CREATED}{}", Utc.from_utc_datetime(t).format(DATETIME))?;
        }
        if let Some(p) = self.plugin {
            sep(f)?;
            write!(f, "{PLUGIN}{}", p.id())?;
        }
        if let Some(id) = &self.sys_id_after {
            sep(f)?;
            write!(f, "{AFTER}{id}")?;
        }
        if self.order_by_sys_id {
            sep(f)?;
            f.write_str(ORDER)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys_id() -> SysId {
        "0c43f35d4f5a1200c0a8016a9310c7d5".parse().unwrap()
    }

    #[test]
    fn renders_every_term_in_the_contract_order() {
        let since = Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap()
            + chrono::Duration::milliseconds(999);
        let q = EncodedQuery::new()
            .order_by_sys_id()
            .sys_id_after(&sys_id())
            .created_on_or_after(since)
            .unwrap()
            .correlation_id_starts_with(&"ninjaone:".parse().unwrap());
        let text = q.to_string();
        assert_eq!(
            text,
            "correlation_idSTARTSWITHninjaone:^sys_created_on>=2024-05-01 08:00:00^\
             sys_id>0c43f35d4f5a1200c0a8016a9310c7d5^ORDERBYsys_id"
        );
        assert_eq!(EncodedQuery::parse(&text).unwrap(), q);
        let plugin = EncodedQuery::new().plugin(Plugin::CustomerService);
        assert_eq!(plugin.to_string(), "id=com.sn_customerservice");
        assert_eq!(
            EncodedQuery::parse("id=com.sn_customerservice").unwrap(),
            plugin
        );
        assert_eq!(EncodedQuery::new().to_string(), "");
        assert!(EncodedQuery::new().is_empty());
    }

    #[test]
    fn free_text_and_tricks_are_refused() {
        for bad in [
            "name=Acme",
            "nameLIKEacme",
            "ORDERBYsys_id^NQname=Acme",
            "correlation_idSTARTSWITHx^ORname=y",
            "correlation_idSTARTSWITHjavascript:gs.log(1)x y",
            "sys_id>javascript:gs.getUserID()",
            "sys_id>0C43F35D4F5A1200C0A8016A9310C7D5",
            "sys_created_on>=yesterday",
            "sys_created_on>=2024-05-01 08:00:00.5",
            "id=com.evil",
            "ORDERBYsys_id^ORDERBYsys_id",
            "ORDERBYsys_id^sys_id>0c43f35d4f5a1200c0a8016a9310c7d5",
            "^ORDERBYsys_id",
            "ORDERBYDESCsys_id",
        ] {
            assert!(EncodedQuery::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(matches!(
            EncodedQuery::new().sys_id_after_str("abc^NQname=x"),
            Err(QueryError::NotASysId { .. })
        ));
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            EncodedQuery::new().created_on_or_after(far),
            Err(QueryError::TimestampOutOfRange { .. })
        ));
    }
}
