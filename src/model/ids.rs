//! Identifier newtypes for both remote systems.
//!
//! NinjaOne identifiers are `int32` on the wire and never negative; they are held as `u32` and
//! decoded from a JSON number or a numeric string. Anything else (a negative number, a value above
//! `i32::MAX`, a fraction, text) is an error rather than a silent `0`.
//!
//! ServiceNow's [`SysId`] is exactly 32 hexadecimal characters, normalised to lowercase.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many characters of a rejected input an [`IdError`] quotes. Inputs can be long or contain
/// data that does not belong in logs; a short prefix is enough to find the culprit.
const QUOTE_PREFIX: usize = 12;

/// Why a string or JSON value is not a valid identifier.
///
/// The message names the identifier type and quotes at most a short prefix of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason} (input starts with {prefix:?}); check where it came from")]
pub struct IdError {
    kind: &'static str,
    reason: &'static str,
    prefix: String,
}

impl IdError {
    pub(crate) fn new(kind: &'static str, reason: &'static str, input: &str) -> Self {
        Self {
            kind,
            reason,
            prefix: quote_prefix(input),
        }
    }

    /// The identifier type that was expected, such as `"SysId"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// What was wrong with the input.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// At most [`QUOTE_PREFIX`] characters of `input`, with `…` when cut.
pub(crate) fn quote_prefix(input: &str) -> String {
    let mut out: String = input.chars().take(QUOTE_PREFIX).collect();
    if input.chars().nth(QUOTE_PREFIX).is_some() {
        out.push('…');
    }
    out
}

/// Parses a NinjaOne int32 identifier from text: ASCII digits only, at most `i32::MAX`.
fn parse_ninja_id(kind: &'static str, s: &str) -> Result<u32, IdError> {
    if s.is_empty() {
        return Err(IdError::new(kind, "empty", s));
    }
    if s.starts_with('-') {
        return Err(IdError::new(kind, "negative", s));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::new(kind, "not an integer", s));
    }
    s.parse::<i32>()
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| IdError::new(kind, "above i32::MAX", s))
}

/// Checks a numeric value against the int32 range used by NinjaOne.
fn ninja_id_from_i64(kind: &'static str, n: i64) -> Result<u32, IdError> {
    if n < 0 {
        return Err(IdError::new(kind, "negative", &n.to_string()));
    }
    if n > i64::from(i32::MAX) {
        return Err(IdError::new(kind, "above i32::MAX", &n.to_string()));
    }
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

struct NinjaIdVisitor(&'static str);

impl Visitor<'_> for NinjaIdVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a NinjaOne {} (a non-negative int32, as a number or a numeric string)",
            self.0
        )
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        ninja_id_from_i64(self.0, v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        let n = i64::try_from(v).unwrap_or(i64::MAX);
        ninja_id_from_i64(self.0, n).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u32, E> {
        Err(E::custom(IdError::new(
            self.0,
            "not an integer",
            &v.to_string(),
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
        parse_ninja_id(self.0, v).map_err(E::custom)
    }
}

macro_rules! ninja_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u32);

        impl $name {
            /// Builds the identifier from a number, refusing values above `i32::MAX`.
            ///
            /// # Errors
            /// [`IdError`] when `value` does not fit NinjaOne's int32 identifiers.
            pub fn new(value: u32) -> Result<Self, IdError> {
                ninja_id_from_i64(stringify!($name), i64::from(value)).map(Self)
            }

            /// The numeric value.
            #[must_use]
            pub const fn get(self) -> u32 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_ninja_id(stringify!($name), s).map(Self)
            }
        }

        impl TryFrom<u32> for $name {
            type Error = IdError;

            fn try_from(value: u32) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for u32 {
            fn from(id: $name) -> u32 {
                id.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u32(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(NinjaIdVisitor(stringify!($name))).map(Self)
            }
        }
    };
}

ninja_id!(
    /// A NinjaOne organization's id.
    ///
    /// ```
    /// use ninjaone_servicenow::model::OrganizationId;
    /// let id: OrganizationId = serde_json::from_str("\"42\"")?;
    /// assert_eq!(id.get(), 42);
    /// assert!(serde_json::from_str::<OrganizationId>("-1").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    OrganizationId
);
ninja_id!(
    /// A NinjaOne device role's id (`nodeRoleId` on devices and policies).
    DeviceRoleId
);
ninja_id!(
    /// A NinjaOne device's id.
    DeviceId
);
ninja_id!(
    /// A NinjaOne location's id.
    LocationId
);
ninja_id!(
    /// A NinjaOne policy's id.
    PolicyId
);

/// A ServiceNow `sys_id`: exactly 32 hexadecimal characters, held in lowercase.
///
/// ```
/// use ninjaone_servicenow::model::SysId;
/// let id: SysId = "6816F79CC0A8016401C5A33BE04BE441".parse()?;
/// assert_eq!(id.as_str(), "6816f79cc0a8016401c5a33be04be441");
/// assert!("not-a-sys-id".parse::<SysId>().is_err());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SysId(String);

impl SysId {
    /// The identifier as 32 lowercase hexadecimal characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SysId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SysId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 32 {
            return Err(IdError::new(
                "SysId",
                "expected exactly 32 hexadecimal characters",
                s,
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdError::new("SysId", "not hexadecimal", s));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}

impl AsRef<str> for SysId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for SysId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SysId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// A NinjaOne alert's `uid` (a UUID on every instance seen).
///
/// It becomes part of a ServiceNow `correlation_id`, so only `[A-Za-z0-9._:-]`, 1 to 128
/// characters, is accepted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertUid(String);

impl AlertUid {
    /// The uid as received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AlertUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AlertUid {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::new("AlertUid", "empty", s));
        }
        if s.len() > 128 {
            return Err(IdError::new("AlertUid", "longer than 128 characters", s));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(IdError::new(
                "AlertUid",
                "only letters, digits and . _ : - are allowed",
                s,
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for AlertUid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AlertUid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ninja_ids_accept_numbers_and_numeric_strings() {
        assert_eq!(serde_json::from_str::<DeviceId>("7").unwrap().get(), 7);
        assert_eq!(serde_json::from_str::<DeviceId>("\"7\"").unwrap().get(), 7);
        assert_eq!(
            serde_json::from_str::<DeviceId>("2147483647")
                .unwrap()
                .get(),
            2_147_483_647
        );
    }

    #[test]
    fn ninja_ids_refuse_what_would_mislead() {
        for bad in [
            "-1",
            "2147483648",
            "\"2147483648\"",
            "1.5",
            "1.0",
            "\"abc\"",
            "\"\"",
            "\"-3\"",
            "\" 3\"",
            "null",
            "true",
            "18446744073709551615",
        ] {
            assert!(
                serde_json::from_str::<OrganizationId>(bad).is_err(),
                "{bad} should be refused"
            );
        }
        assert!(OrganizationId::new(u32::MAX).is_err());
        let err = "99999999999".parse::<LocationId>().unwrap_err();
        assert_eq!(err.kind(), "LocationId");
        assert!(err.to_string().contains("above i32::MAX"), "{err}");
    }

    #[test]
    fn sys_id_normalises_and_quotes_a_short_prefix_only() {
        let id: SysId = "ABCDEF0123456789ABCDEF0123456789".parse().unwrap();
        assert_eq!(id.to_string(), "abcdef0123456789abcdef0123456789");
        let long = "x".repeat(500);
        let err = long.parse::<SysId>().unwrap_err().to_string();
        assert!(err.len() < 140, "{err}"); // a 500-character input is not echoed
        assert!("abcdef0123456789abcdef012345678g".parse::<SysId>().is_err());
        assert!("abcdef0123456789abcdef012345678".parse::<SysId>().is_err());
        assert!("ééééééééééééééééé".parse::<SysId>().is_err());
    }

    #[test]
    fn alert_uid_refuses_query_metacharacters() {
        assert!(
            "50edcf11-de92-4ecb-955b-c8066488b6cc"
                .parse::<AlertUid>()
                .is_ok()
        );
        assert!("a^NQname=x".parse::<AlertUid>().is_err());
        assert!("".parse::<AlertUid>().is_err());
    }

    #[test]
    fn ids_round_trip_through_serde() {
        let id = OrganizationId::new(12).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "12");
        assert_eq!(serde_json::from_str::<OrganizationId>(&json).unwrap(), id);
        let sys: SysId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        let json = serde_json::to_string(&sys).unwrap();
        assert_eq!(serde_json::from_str::<SysId>(&json).unwrap(), sys);
    }
}
