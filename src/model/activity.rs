//! NinjaOne activities: what NinjaOne pushes to a webhook (`PUT /v2/webhook`) for each
//! condition that triggers or resets, and what `GET /v2/activities` lists.
//!
//! The decoder ([`Activity::from_json`]) is tolerant: a field of the wrong type is left out
//! (and named in [`Activity::ignored_fields`]), unknown enum values are kept
//! ([`ActivityType::Other`], [`StatusCode::Other`]), and only a body that is not a JSON object
//! or lacks a usable `seriesUid` or `statusCode` is an [`ActivityError`].
//!
//! ```
//! use ninjaone_servicenow::model::activity::{Activity, ActivityType, StatusCode};
//! let body = br#"{"id":177210,"activityTime":1742391675.556,"deviceId":7,
//!   "seriesUid":"e6b0c1d2","activityType":"CONDITION","statusCode":"TRIGGERED",
//!   "status":"Triggered","message":"Disk C: is 95% full","type":"Condition",
//!   "device":{"id":7,"organizationId":2,"nodeClass":"WINDOWS_SERVER","nodeRoleId":9}}"#;
//! let activity = Activity::from_json(body)?;
//! assert_eq!(activity.series_uid().as_str(), "e6b0c1d2");
//! assert_eq!(activity.status_code(), &StatusCode::Triggered);
//! assert_eq!(activity.activity_type(), Some(&ActivityType::Condition));
//! assert_eq!(activity.organization().map(|o| o.get()), Some(2));
//! # Ok::<(), ninjaone_servicenow::model::activity::ActivityError>(())
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::open_enum::open_enum;
use super::wire::{epoch_seconds, json_type};
use super::{
    Alert, AlertUid, Device, DeviceId, DeviceRoleId, NodeClass, OrganizationId, Priority, Severity,
};

open_enum! {
    /// What kind of activity it is (`activityType`). Only [`ActivityType::Condition`]
    /// activities become tickets.
    ActivityType {
        /// A monitoring condition triggered or reset.
        Condition = "CONDITION",
        /// A condition's action set ran.
        ConditionActionset = "CONDITION_ACTIONSET",
        /// A condition's action ran.
        ConditionAction = "CONDITION_ACTION",
        /// An action set ran.
        Actionset = "ACTIONSET",
        /// An action ran.
        Action = "ACTION",
        /// Antivirus.
        Antivirus = "ANTIVIRUS",
        /// Patch management.
        PatchManagement = "PATCH_MANAGEMENT",
        /// Software patch management.
        SoftwarePatchManagement = "SOFTWARE_PATCH_MANAGEMENT",
        /// A system event.
        System = "SYSTEM",
        /// A monitor.
        Monitor = "MONITOR",
        /// A script ran.
        Scripting = "SCRIPTING",
    }
}

open_enum! {
    /// What happened (`statusCode`): for a condition, [`StatusCode::Triggered`] or
    /// [`StatusCode::Reset`].
    StatusCode {
        /// The condition triggered: its alert is open.
        Triggered = "TRIGGERED",
        /// The condition reset: its alert cleared.
        Reset = "RESET",
        /// The condition was acknowledged.
        Acknowledged = "ACKNOWLEDGED",
    }
}

/// Why a body is not an activity at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActivityError {
    /// The body is not JSON.
    #[error(
        "the body is not JSON ({reason}); NinjaOne sends its activity as a JSON object: check \
         what posts to this webhook"
    )]
    NotJson {
        /// What the JSON parser said.
        reason: String,
    },
    /// The body is JSON but not an object.
    #[error(
        "the body is a JSON {found}, not an object; NinjaOne sends its activity as a JSON \
         object: check what posts to this webhook"
    )]
    NotAnObject {
        /// What it is instead ("array", "string", …).
        found: &'static str,
    },
    /// A field the activity cannot do without is missing or unusable.
    #[error("the activity's `{field}` is {problem}; the delivery cannot be matched to an alert")]
    Field {
        /// The field (`seriesUid`, `statusCode`).
        field: &'static str,
        /// What is wrong with it ("missing", "not a string", …).
        problem: String,
    },
}

/// The device an activity concerns, as its `device` expansion carries it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDevice {
    id: Option<DeviceId>,
    organization_id: Option<OrganizationId>,
    node_class: Option<NodeClass>,
    node_role_id: Option<DeviceRoleId>,
    display_name: Option<String>,
    system_name: Option<String>,
    dns_name: Option<String>,
    references: Option<Value>,
}

impl ActivityDevice {
    /// The device's id.
    pub fn id(&self) -> Option<DeviceId> {
        self.id
    }

    /// Its organization (`organizationId`).
    pub fn organization_id(&self) -> Option<OrganizationId> {
        self.organization_id
    }

    /// Its device class.
    pub fn node_class(&self) -> Option<&NodeClass> {
        self.node_class.as_ref()
    }

    /// Its device role.
    pub fn node_role_id(&self) -> Option<DeviceRoleId> {
        self.node_role_id
    }

    /// Its display name, when sent.
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    /// Its system name, when sent.
    pub fn system_name(&self) -> Option<&str> {
        self.system_name.as_deref()
    }

    /// Its DNS name, when sent.
    pub fn dns_name(&self) -> Option<&str> {
        self.dns_name.as_deref()
    }

    /// `references` (organization, location, role, …), kept as received.
    pub fn references(&self) -> Option<&Value> {
        self.references.as_ref()
    }
}

/// One NinjaOne activity (a webhook delivery); see the [module](self).
// The fields are named after NinjaOne's (`activityTime`, `activityType`).
#[allow(clippy::struct_field_names)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    id: Option<i64>,
    activity_time: Option<DateTime<Utc>>,
    series_uid: AlertUid,
    activity_type: Option<ActivityType>,
    status_code: StatusCode,
    status: Option<String>,
    device_id: Option<DeviceId>,
    message: Option<String>,
    subject: Option<String>,
    source_type: Option<String>,
    source_config_uid: Option<String>,
    source_name: Option<String>,
    severity: Option<Severity>,
    priority: Option<Priority>,
    #[serde(rename = "type")]
    kind: Option<String>,
    data: Option<Value>,
    device: Option<ActivityDevice>,
    #[serde(skip)]
    ignored: Vec<&'static str>,
}

/// Takes fields out of an object, noting those of the wrong type.
struct Fields<'a> {
    object: &'a serde_json::Map<String, Value>,
    ignored: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    fn take<T>(
        &mut self,
        name: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Option<T> {
        let value = self.get(name)?;
        let read = read(value);
        if read.is_none() {
            self.ignored.push(name);
        }
        read
    }

    fn string(&mut self, name: &'static str) -> Option<String> {
        self.take(name, |v| v.as_str().map(str::to_owned))
    }

    fn parsed<T: serde::de::DeserializeOwned>(&mut self, name: &'static str) -> Option<T> {
        self.take(name, |v| serde_json::from_value(v.clone()).ok())
    }

    fn level<T: std::str::FromStr<Err = std::convert::Infallible>>(
        &mut self,
        name: &'static str,
    ) -> Option<T> {
        // `""` is no level, as in the alert listing.
        let value = self.get(name)?;
        match value.as_str().map(str::trim) {
            Some("") => None,
            Some(text) => text.parse().ok(),
            None => {
                self.ignored.push(name);
                None
            }
        }
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_f64().and_then(epoch_seconds::from_f64)
}

fn device(value: &Value, ignored: &mut Vec<&'static str>) -> Option<ActivityDevice> {
    let Some(object) = value.as_object() else {
        ignored.push("device");
        return None;
    };
    let mut fields = Fields {
        object,
        ignored: Vec::new(),
    };
    let device = ActivityDevice {
        id: fields.parsed("id"),
        organization_id: fields.parsed("organizationId"),
        node_class: fields.take("nodeClass", |v| {
            v.as_str().map(|s| {
                let Ok(class) = s.parse::<NodeClass>();
                class
            })
        }),
        node_role_id: fields.parsed("nodeRoleId"),
        display_name: fields.string("displayName"),
        system_name: fields.string("systemName"),
        dns_name: fields.string("dnsName"),
        references: fields.take("references", |v| v.is_object().then(|| v.clone())),
    };
    ignored.extend(fields.ignored.iter().map(|name| match *name {
        "id" => "device.id",
        "organizationId" => "device.organizationId",
        "nodeClass" => "device.nodeClass",
        "nodeRoleId" => "device.nodeRoleId",
        "displayName" => "device.displayName",
        "systemName" => "device.systemName",
        "dnsName" => "device.dnsName",
        _ => "device.references",
    }));
    Some(device)
}

impl Activity {
    /// Decodes a delivery's body; see the [module](self).
    ///
    /// # Errors
    /// [`ActivityError`] when the body is not a JSON object, or its `seriesUid` (the alert's
    /// uid) or `statusCode` is missing or unusable. Any other field of the wrong type is left
    /// out and named in [`ignored_fields`](Self::ignored_fields).
    pub fn from_json(body: &[u8]) -> Result<Self, ActivityError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| ActivityError::NotJson {
            reason: e.to_string(),
        })?;
        Self::from_value(&value)
    }

    /// Decodes an activity already parsed as JSON; as [`from_json`](Self::from_json).
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json).
    pub fn from_value(value: &Value) -> Result<Self, ActivityError> {
        let object = value.as_object().ok_or(ActivityError::NotAnObject {
            found: json_type(value),
        })?;
        let series_uid = match object.get("seriesUid") {
            None | Some(Value::Null) => {
                return Err(ActivityError::Field {
                    field: "seriesUid",
                    problem: "missing".to_owned(),
                });
            }
            Some(Value::String(s)) => s.parse::<AlertUid>().map_err(|e| ActivityError::Field {
                field: "seriesUid",
                problem: format!("not a usable alert uid ({e})"),
            })?,
            Some(other) => {
                return Err(ActivityError::Field {
                    field: "seriesUid",
                    problem: format!("a {}, not a string", json_type(other)),
                });
            }
        };
        let status_code = match object.get("statusCode") {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                let Ok(code) = s.trim().parse::<StatusCode>();
                code
            }
            None | Some(Value::Null) => {
                return Err(ActivityError::Field {
                    field: "statusCode",
                    problem: "missing".to_owned(),
                });
            }
            Some(other) => {
                return Err(ActivityError::Field {
                    field: "statusCode",
                    problem: format!("a {} where a non-empty string belongs", json_type(other)),
                });
            }
        };
        let mut fields = Fields {
            object,
            ignored: Vec::new(),
        };
        let mut activity = Self {
            id: fields.take("id", Value::as_i64),
            activity_time: fields.take("activityTime", time),
            series_uid,
            activity_type: fields.take("activityType", |v| {
                v.as_str().map(|s| {
                    let Ok(kind) = s.parse::<ActivityType>();
                    kind
                })
            }),
            status_code,
            status: fields.string("status"),
            device_id: fields.parsed("deviceId"),
            message: fields.string("message"),
            subject: fields.string("subject"),
            source_type: fields.string("sourceType"),
            source_config_uid: fields.string("sourceConfigUid"),
            source_name: fields.string("sourceName"),
            severity: fields.level("severity"),
            priority: fields.level("priority"),
            kind: fields.string("type"),
            data: fields.take("data", |v| v.is_object().then(|| v.clone())),
            device: None,
            ignored: Vec::new(),
        };
        let mut ignored = fields.ignored;
        activity.device = fields
            .object
            .get("device")
            .filter(|v| !v.is_null())
            .and_then(|v| device(v, &mut ignored));
        activity.ignored = ignored;
        Ok(activity)
    }

    /// The activity's id.
    pub fn id(&self) -> Option<i64> {
        self.id
    }

    /// When it happened (`activityTime`: epoch seconds, with or without decimals).
    pub fn activity_time(&self) -> Option<DateTime<Utc>> {
        self.activity_time
    }

    /// The uid of the alert it concerns (`seriesUid`: the `uid` of `/v2/alerts`).
    pub fn series_uid(&self) -> &AlertUid {
        &self.series_uid
    }

    /// Its kind, when sent.
    pub fn activity_type(&self) -> Option<&ActivityType> {
        self.activity_type.as_ref()
    }

    /// What happened.
    pub fn status_code(&self) -> &StatusCode {
        &self.status_code
    }

    /// `status`, in words ("Triggered").
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The device: `deviceId`, else the `device` expansion's id.
    pub fn device_id(&self) -> Option<DeviceId> {
        self.device_id
            .or_else(|| self.device.as_ref().and_then(|d| d.id))
    }

    /// The message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The condition's configuration uid.
    pub fn source_config_uid(&self) -> Option<&str> {
        self.source_config_uid.as_deref()
    }

    /// The condition's name.
    pub fn source_name(&self) -> Option<&str> {
        self.source_name.as_deref()
    }

    /// `sourceType`, when sent (the alert listing's `sourceType`).
    pub fn source_type(&self) -> Option<&str> {
        self.source_type.as_deref()
    }

    /// Severity, when sent.
    pub fn severity(&self) -> Option<&Severity> {
        self.severity.as_ref()
    }

    /// Priority, when sent.
    pub fn priority(&self) -> Option<&Priority> {
        self.priority.as_ref()
    }

    /// `type`, in words ("Condition").
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// `data`, kept as received.
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }

    /// The `device` expansion, when sent.
    pub fn device(&self) -> Option<&ActivityDevice> {
        self.device.as_ref()
    }

    /// The device's organization, from the `device` expansion.
    pub fn organization(&self) -> Option<OrganizationId> {
        self.device.as_ref().and_then(|d| d.organization_id)
    }

    /// The fields left out because they had the wrong type (`device.…` for the expansion's).
    pub fn ignored_fields(&self) -> &[&'static str] {
        &self.ignored
    }

    /// Whether this is a condition activity (or one with no `activityType`, taken as one).
    pub fn is_condition(&self) -> bool {
        matches!(self.activity_type, None | Some(ActivityType::Condition))
    }

    /// The alert the alert listing would show for this activity: uid = `seriesUid`, the
    /// device, the message, `activityTime` as both create and update time, and severity,
    /// priority and source fields when the payload carries them (missing ones are missing, as
    /// for a listing alert without them).
    pub fn to_alert(&self) -> Alert {
        let mut data = BTreeMap::new();
        if let Some(Value::Object(map)) = &self.data {
            for (k, v) in map {
                data.insert(k.clone(), v.clone());
            }
        }
        Alert {
            uid: self.series_uid.clone(),
            device_id: self.device_id(),
            message: self.message.clone(),
            create_time: self.activity_time,
            update_time: self.activity_time,
            source_type: self.source_type.clone(),
            source_config_uid: self.source_config_uid.clone(),
            source_name: self.source_name.clone(),
            subject: self.subject.clone(),
            severity: self.severity.clone(),
            priority: self.priority.clone(),
            psa_ticket_id: None,
            data,
        }
    }

    /// The device as the device listing would show it, when the `device` expansion names its
    /// id and organization.
    pub fn to_device(&self) -> Option<Device> {
        let d = self.device.as_ref()?;
        let value = serde_json::json!({
            "id": self.device_id()?.get(),
            "organizationId": d.organization_id?.get(),
            "nodeClass": d.node_class.as_ref().map_or("", NodeClass::as_str),
            "nodeRoleId": d.node_role_id.map(DeviceRoleId::get),
            "displayName": d.display_name,
            "systemName": d.system_name,
            "dnsName": d.dns_name,
        });
        serde_json::from_value(value).ok()
    }
}
