//! ServiceNow's people: user groups (`sys_user_group`) and users (`sys_user`), as far as a
//! ticket template refers to them (its assignment group and caller).

use serde::{Deserialize, Serialize};

use super::ids::SysId;
use super::wire::{sn_bool, sn_opt_string};

fn active() -> bool {
    true
}

/// A ServiceNow group (`sys_user_group`), such as a service desk team tickets are assigned to.
///
/// ```
/// use ninjaone_servicenow::model::UserGroup;
/// let g: UserGroup = serde_json::from_str(
///     r#"{"sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "name": "Service Desk", "active": "true"}"#,
/// )?;
/// assert!(g.active);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserGroup {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The group's name.
    #[serde(default)]
    pub name: String,
    /// Whether the group is active (`true` when the field is not sent).
    #[serde(default = "active", with = "sn_bool")]
    pub active: bool,
}

impl UserGroup {
    /// An active group with a sys_id and a name.
    #[must_use]
    pub fn new(sys_id: SysId, name: impl Into<String>) -> Self {
        Self {
            sys_id,
            name: name.into(),
            active: true,
        }
    }
}

/// A ServiceNow user (`sys_user`), such as the caller a template puts on incidents.
///
/// ```
/// use ninjaone_servicenow::model::User;
/// let u: User = serde_json::from_str(
///     r#"{"sys_id": "0c43f35d4f5a1200c0a8016a9310c7d5", "user_name": "ninjaone", "name": "", "active": "false"}"#,
/// )?;
/// assert_eq!((u.user_name.as_deref(), u.name, u.active), (Some("ninjaone"), None, false));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The row's sys_id.
    pub sys_id: SysId,
    /// The login name.
    #[serde(default, with = "sn_opt_string")]
    pub user_name: Option<String>,
    /// The display name.
    #[serde(default, with = "sn_opt_string")]
    pub name: Option<String>,
    /// Whether the user is active (`true` when the field is not sent).
    #[serde(default = "active", with = "sn_bool")]
    pub active: bool,
}

impl User {
    /// An active user with a sys_id and a login name, and no display name.
    #[must_use]
    pub fn new(sys_id: SysId, user_name: impl Into<String>) -> Self {
        Self {
            sys_id,
            user_name: Some(user_name.into()),
            name: None,
            active: true,
        }
    }
}
