//! Decoding helpers for the loose corners of both wire formats, used through `#[serde(with)]`
//! and `deserialize_with`.
//!
//! Each helper is tolerant exactly where API-NOTES.md says the API is loose and strict elsewhere.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::ids::{SysId, quote_prefix};

/// The name of a JSON value's type, for an error that says what came instead.
pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// NinjaOne timestamps: epoch seconds as a float (`1707363433.892432`) or an integer.
pub(crate) mod epoch_seconds {
    use super::{DateTime, Deserialize, Deserializer, Serializer, Utc, de};

    /// Converts epoch seconds to a UTC time at microsecond precision (NinjaOne sends at most
    /// microseconds; rounding there avoids float noise such as `.892431999`), refusing NaN,
    /// infinities and out-of-range values.
    pub(crate) fn from_f64(secs: f64) -> Option<DateTime<Utc>> {
        if !secs.is_finite() || secs.abs() > 8.0e12 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        let micros = (secs * 1e6).round() as i64;
        DateTime::from_timestamp_micros(micros)
    }

    /// Decodes an optional epoch timestamp; `null` or an absent field is `None`.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(secs) => from_f64(secs).map(Some).ok_or_else(|| {
                de::Error::custom(format!("timestamp {secs} is not a valid epoch time"))
            }),
        }
    }

    /// Encodes as epoch seconds with microsecond precision, the way NinjaOne sends them.
    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_none(),
            #[allow(clippy::cast_precision_loss)]
            Some(t) => s.serialize_f64(t.timestamp_micros() as f64 / 1e6),
        }
    }
}

/// ServiceNow's date-time format, always UTC with no zone marker.
pub(crate) const SN_DATETIME: &str = "%Y-%m-%d %H:%M:%S";

/// ServiceNow date-times: `"yyyy-MM-dd HH:mm:ss"` in UTC; `""` or absent is `None`.
pub(crate) mod sn_datetime {
    use super::{
        DateTime, Deserialize, Deserializer, NaiveDateTime, SN_DATETIME, Serializer, TimeZone, Utc,
        de, quote_prefix,
    };

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let raw = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        match raw.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => NaiveDateTime::parse_from_str(s, SN_DATETIME)
                .map(|n| Some(Utc.from_utc_datetime(&n)))
                .map_err(|_| {
                    de::Error::custom(format!(
                        "date {:?} is not in ServiceNow's yyyy-MM-dd HH:mm:ss form",
                        quote_prefix(s)
                    ))
                }),
        }
    }

    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_str(""),
            Some(t) => s.serialize_str(&t.format(SN_DATETIME).to_string()),
        }
    }
}

/// ServiceNow booleans: `true`, `"true"`, `"false"`, `""` (false), `"1"`, `"0"`.
pub(crate) mod sn_bool {
    use super::{Deserializer, Serializer, Visitor, de, fmt};

    struct V;

    impl Visitor<'_> for V {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean or one of \"true\", \"false\", \"1\", \"0\", \"\"")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }

        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim() {
                "true" | "1" => Ok(true),
                "false" | "0" | "" => Ok(false),
                other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
            }
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_any(V)
    }

    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub(crate) fn serialize<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *value { "true" } else { "false" })
    }
}

/// Optional ServiceNow numbers: `6`, `"6"`; `""` or absent is `None`.
pub(crate) mod sn_opt_u32 {
    use super::{Deserializer, Visitor, de, fmt};

    struct V;

    impl Visitor<'_> for V {
        type Value = Option<u32>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer, as a number or a string")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<u32>, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<u32>, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u32>, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u32>, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u32>, E> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        d.deserialize_any(V)
    }
}

/// The text inside a ServiceNow reference field, whatever form it came in: `""`, a bare value, or
/// `{"link": "...", "value": "..."}`. `None` when empty.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawReference {
    Text(String),
    Linked { value: Option<String> },
}

fn reference_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<RawReference>::deserialize(d).map_err(|_| {
        de::Error::custom(
            "a reference must be \"\", a sys_id string, or an object with a \"value\" field",
        )
    })?;
    let text = match raw {
        None => None,
        Some(RawReference::Text(s)) => Some(s),
        Some(RawReference::Linked { value }) => value,
    };
    Ok(text.filter(|s| !s.trim().is_empty()))
}

/// A reference the project relies on: decoded to a validated [`SysId`]; empty is `None`.
pub(crate) mod sn_reference {
    use super::{Deserializer, Serializer, SysId, de, reference_text};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SysId>, D::Error> {
        match reference_text(d)? {
            None => Ok(None),
            Some(s) => s.trim().parse().map(Some).map_err(de::Error::custom),
        }
    }

    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(value: &Option<SysId>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_ref().map_or("", SysId::as_str))
    }
}

/// A reference the project does not rely on: kept as received (the value's text), unvalidated.
pub(crate) mod sn_raw_reference {
    use super::{Deserializer, Serialize, Serializer, reference_text};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        reference_text(d)
    }

    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<String>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_deref().unwrap_or("").serialize(s)
    }
}

/// An optional free-text field where ServiceNow sends `""` for "no value".
pub(crate) mod sn_opt_string {
    use super::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
    }

    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<String>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_deref().unwrap_or("").serialize(s)
    }
}

/// Decodes a JSON value that is `null` as the type's default (NinjaOne sometimes sends `null`
/// where it usually omits the field).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize, Debug, PartialEq)]
    struct Row {
        #[serde(default, with = "sn_bool")]
        b: bool,
        #[serde(default, deserialize_with = "sn_opt_u32::deserialize")]
        n: Option<u32>,
        #[serde(default, with = "sn_reference")]
        r: Option<SysId>,
        #[serde(default, with = "sn_raw_reference")]
        p: Option<String>,
        #[serde(default, with = "sn_datetime")]
        t: Option<DateTime<Utc>>,
    }

    #[test]
    fn servicenow_loose_values() {
        let row: Row = serde_json::from_str(
            r#"{"b":"true","n":"6","r":{"link":"https://x/core_company/0123456789abcdef0123456789abcdef","value":"0123456789ABCDEF0123456789ABCDEF"},"p":"whatever","t":"2024-03-01 10:20:30"}"#,
        )
        .unwrap();
        assert!(row.b);
        assert_eq!(row.n, Some(6));
        assert_eq!(
            row.r.as_ref().map(SysId::as_str),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(row.p.as_deref(), Some("whatever"));
        assert_eq!(
            row.t.unwrap().to_rfc3339(),
            "2024-03-01T10:20:30+00:00".to_owned()
        );
        let empty: Row = serde_json::from_str(r#"{"b":"","n":"","r":"","p":"","t":""}"#).unwrap();
        assert_eq!(
            empty,
            Row {
                b: false,
                n: None,
                r: None,
                p: None,
                t: None
            }
        );
        let again: Row = serde_json::from_str(&serde_json::to_string(&row).unwrap()).unwrap();
        assert_eq!(again, row);
    }

    #[test]
    fn servicenow_malformed_values_are_errors() {
        for bad in [
            r#"{"b":"yes"}"#,
            r#"{"n":"six"}"#,
            r#"{"n":-1}"#,
            r#"{"r":"nope"}"#,
            r#"{"r":42}"#,
            r#"{"t":"01/02/2024"}"#,
        ] {
            assert!(serde_json::from_str::<Row>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epoch_floats() {
        let t = epoch_seconds::from_f64(1_707_363_433.892_432).unwrap();
        assert_eq!(t.timestamp(), 1_707_363_433);
        assert_eq!(t.timestamp_subsec_micros(), 892_432);
        assert!(epoch_seconds::from_f64(f64::NAN).is_none());
        assert!(epoch_seconds::from_f64(f64::INFINITY).is_none());
        assert!(epoch_seconds::from_f64(1e300).is_none());
    }
}
