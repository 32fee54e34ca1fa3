//! Named configuration-item mappings: [`CiMappingName`] and [`CiMapping`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ids::{DeviceRoleId, IdError};
use crate::model::servicenow::CiClass;

/// The name of a [`CiMapping`]: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CiMappingName(String);

impl CiMappingName {
    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CiMappingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CiMappingName {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 100 {
            return Err(IdError::new(
                "CiMappingName",
                "must be 1 to 100 characters",
                s,
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(IdError::new(
                "CiMappingName",
                "control characters are not allowed",
                s,
            ));
        }
        Ok(Self(t.to_owned()))
    }
}

impl Serialize for CiMappingName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CiMappingName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A named set of rules mapping NinjaOne device roles to CMDB classes.
///
/// ```
/// use ninjaone_servicenow::model::{CiMapping, DeviceRoleId};
/// let mut servers = CiMapping::new("servers".parse()?);
/// servers.set_rule(DeviceRoleId::new(9)?, "cmdb_ci_win_server".parse()?);
/// assert_eq!(servers.class_for(DeviceRoleId::new(9)?).map(|c| c.as_str()), Some("cmdb_ci_win_server"));
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiMapping {
    name: CiMappingName,
    rules: BTreeMap<DeviceRoleId, CiClass>,
}

impl CiMapping {
    /// An empty mapping.
    #[must_use]
    pub fn new(name: CiMappingName) -> Self {
        Self {
            name,
            rules: BTreeMap::new(),
        }
    }

    /// The mapping's name.
    #[must_use]
    pub fn name(&self) -> &CiMappingName {
        &self.name
    }

    /// Maps `role` to `class`, replacing an earlier rule for the role. Returns the previous class.
    pub fn set_rule(&mut self, role: DeviceRoleId, class: CiClass) -> Option<CiClass> {
        self.rules.insert(role, class)
    }

    /// Removes the rule for `role`.
    pub fn remove_rule(&mut self, role: DeviceRoleId) -> Option<CiClass> {
        self.rules.remove(&role)
    }

    /// The class for a device role, if this mapping has a rule for it.
    #[must_use]
    pub fn class_for(&self, role: DeviceRoleId) -> Option<&CiClass> {
        self.rules.get(&role)
    }

    /// The rules, ordered by device role.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = (DeviceRoleId, &CiClass)> {
        self.rules.iter().map(|(r, c)| (*r, c))
    }
}
