//! The command line's value parsers: ids, durations, lists, rules, refused in `orgsync`'s words.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use ninjaone_servicenow::model::{CiClass, DeviceRoleId, SourceType, TicketFieldValue};

use super::{UsageError, usage};

/// How often `serve` runs its passes when `--every` is not given: five minutes.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(300);

/// The shortest and longest `--every`.
pub(super) const EVERY_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(24 * 3600));

/// Parses a DURATION: a whole number and a unit, `s`, `m` or `h` (`30s`, `5m`, `1h`).
///
/// Three units do not need a dependency (`humantime` reads much more, and its errors do not
/// name the forms `orgsync` takes).
///
/// # Errors
/// A [`UsageError`] naming the accepted forms.
pub fn parse_duration(option: &str, text: &str) -> Result<Duration, UsageError> {
    let forms = "give a whole number and a unit s, m or h, such as 30s, 5m or 1h";
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(usage(format!(
                "{option} {text:?} is not a duration; {forms}"
            )));
        }
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| usage(format!("{option} {text:?} is not a duration; {forms}")))?;
    let duration = Duration::from_secs(seconds);
    let (min, max) = EVERY_RANGE;
    if duration < min || duration > max {
        return Err(usage(format!(
            "{option} {text:?} is out of range: give 1s to 24h ({forms})"
        )));
    }
    Ok(duration)
}

/// What an organization id is called where a command needs one.
pub(super) const ORG: &str = "organization id (a NinjaOne organization number)";
pub(super) const TICKET_KIND: &str = "ticket kind (incidents or cases)";
pub(super) const TEMPLATE_NAME: &str = "ticket template name";

/// A value parser: `text.parse()`, refused as "{text:?} is not a valid {what}: {why}".
pub(super) fn id<T>(
    what: &'static str,
) -> impl Fn(&str) -> Result<T, UsageError> + Clone + Send + Sync
where
    T: FromStr,
    T::Err: fmt::Display,
{
    move |text| parse_id(what, text)
}

pub(super) fn parse_id<T: FromStr>(what: &str, text: &str) -> Result<T, UsageError>
where
    T::Err: fmt::Display,
{
    text.parse()
        .map_err(|e| usage(format!("{text:?} is not a valid {what}: {e}")))
}

/// A ticket field's text (`--category` …), refused naming its option.
pub(super) fn field(
    option: &'static str,
) -> impl Fn(&str) -> Result<TicketFieldValue, UsageError> + Clone {
    move |text| parse_id(&format!("value for {option}"), text)
}

pub(super) fn boolean(text: &str) -> Result<bool, UsageError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        _ => Err(usage(format!(
            "--allow-incidents takes true or false, not {text:?}"
        ))),
    }
}

pub(super) fn listen(text: &str) -> Result<SocketAddr, UsageError> {
    text.parse().map_err(|_| {
        usage(format!(
            "--listen {text:?} is not an address; give IP:PORT, such as 127.0.0.1:8080 or \
             [::1]:8080 (0.0.0.0:8080 for every interface)"
        ))
    })
}

pub(super) fn every(text: &str) -> Result<Duration, UsageError> {
    parse_duration("--every", text)
}

/// `--source-types T1,T2,...`: one value, a comma-separated list (empty items dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SourceTypes(pub(super) Vec<SourceType>);

pub(super) fn source_types(list: &str) -> Result<SourceTypes, UsageError> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| parse_id("NinjaOne source type", t))
        .collect::<Result<_, _>>()
        .map(SourceTypes)
}

/// `ci-mapping set`'s `ROLE_ID=CI_CLASS`.
pub(super) fn rule(rule: &str) -> Result<(DeviceRoleId, CiClass), UsageError> {
    let (role, class) = rule.split_once('=').ok_or_else(|| {
        usage(format!(
            "{rule:?} is not ROLE_ID=CI_CLASS; see `orgsync ci-mapping --help`"
        ))
    })?;
    Ok((
        parse_id("device role id", role)?,
        parse_id("CMDB class", class)?,
    ))
}
