//! The digest a record keeps of an alert as last written to its ticket, and how a stored
//! digest compares with an alert.

use crate::model::Alert;

/// The digest of what a ticket says about an alert: a hash of its message and its
/// `updateTime` to the millisecond, in the clear (`v3:<hash>:<millis>`). A record keeps the
/// digest of the alert as last written to the ticket (created or noted); stable across runs,
/// platforms and versions of this crate, so it can be stored.
///
/// Milliseconds, because a webhook delivery carries the time with 3 decimals where the alert
/// listing has 9. The time is kept in the clear so that [`digest_matches`] can order what it
/// compares: whether an alert's `updateTime` equals the `activityTime` of the delivery that
/// triggered it is not documented, and a delivery and a pass may see one trigger at two
/// slightly different times. Ordered, a mismatch costs at most one work note per trigger (the
/// pass seeing the later time), never a note back and forth between deliveries and passes.
/// Records written with the earlier digests (`v1:` nanoseconds, `v2:` milliseconds, both
/// hashed) still match an unchanged alert.
///
/// ```
/// use ninjaone_servicenow::model::Alert;
/// use ninjaone_servicenow::plan::alert_digest;
/// let a: Alert = serde_json::from_str(r#"{"uid":"u1","message":"disk full","updateTime":1730332915.123456}"#)?;
/// let mut b = a.clone();
/// b.device_id = None;
/// assert_eq!(alert_digest(&a), alert_digest(&b)); // only message and updateTime count
/// let c: Alert = serde_json::from_str(r#"{"uid":"u1","message":"disk full","updateTime":1730332915.123}"#)?;
/// assert_eq!(alert_digest(&a), alert_digest(&c)); // to the millisecond
/// assert!(alert_digest(&a).ends_with(":1730332915123"));
/// b.message = Some("disk full again".into());
/// assert_ne!(alert_digest(&a), alert_digest(&b));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn alert_digest(alert: &Alert) -> String {
    let millis = alert
        .update_time
        .map_or_else(String::new, |t| t.timestamp_millis().to_string());
    format!("v3:{}:{millis}", message_hash(alert))
}

/// The digest records kept before [`alert_digest`] went to milliseconds.
pub(super) fn alert_digest_v1(alert: &Alert) -> String {
    let updated = alert.update_time.map_or_else(String::new, |t| {
        format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
    });
    digest("v1", alert, &updated)
}

/// The digest records kept before [`alert_digest`] kept the time in the clear.
pub(super) fn alert_digest_v2(alert: &Alert) -> String {
    let updated = alert
        .update_time
        .map_or_else(String::new, |t| t.timestamp_millis().to_string());
    digest("v2", alert, &updated)
}

/// Whether a record's stored digest says its ticket already shows `alert` — as it is, or as
/// it was at a later `updateTime` — so there is nothing to note:
/// - the same message and time: nothing changed (a repeat);
/// - an older time than the stored one: a stale view (a delivery out of order, a retried one,
///   or a listing at a time that differs from the delivery's), whatever its message;
/// - a later time, or the same time with another message: a change, to note.
///
/// Without a time on either side, message and time must both be equal. Earlier digests
/// (`v1:`, `v2:`) match only an unchanged alert; a digest that does not parse matches nothing
/// (one note, then the record holds a current digest).
#[must_use]
pub fn digest_matches(stored: &str, alert: &Alert) -> bool {
    if stored.starts_with("v1:") {
        return stored == alert_digest_v1(alert);
    }
    if stored.starts_with("v2:") {
        return stored == alert_digest_v2(alert);
    }
    let Some((hash, millis)) = stored
        .strip_prefix("v3:")
        .and_then(|rest| rest.split_once(':'))
    else {
        return false;
    };
    let same_message = hash == message_hash(alert);
    let stored_at = millis.parse::<i64>().ok();
    let alert_at = alert.update_time.map(|t| t.timestamp_millis());
    match (stored_at, alert_at) {
        (Some(stored_at), Some(alert_at)) => {
            alert_at < stored_at || (alert_at == stored_at && same_message)
        }
        (None, None) => millis.is_empty() && same_message,
        _ => false,
    }
}

/// The message's part of [`alert_digest`]: 16 hex digits.
fn message_hash(alert: &Alert) -> String {
    let message = alert.message.as_deref().unwrap_or("");
    format!("{:016x}", fnv1a(&[message.as_bytes()]))
}

fn digest(version: &str, alert: &Alert, updated: &str) -> String {
    let message = alert.message.as_deref().unwrap_or("");
    let hash = fnv1a(&[message.as_bytes(), updated.as_bytes()]);
    format!("{version}:{hash:016x}")
}

/// 64-bit FNV-1a over length-prefixed fields: stable, and enough to tell one change from the
/// next (a collision costs one missed note, never a duplicate).
fn fnv1a(fields: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for field in fields {
        for b in (field.len() as u64).to_le_bytes().iter().chain(*field) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}
