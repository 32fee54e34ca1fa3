//! Who acts: a system administrator, or a technician with or without the integration
//! permission and with the organizations they may see.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::OrganizationId;

/// The organizations a technician may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every organization.
    All,
    /// Only these.
    Only(BTreeSet<OrganizationId>),
}

impl Visibility {
    /// Whether `organization` is visible.
    #[must_use]
    pub fn sees(&self, organization: OrganizationId) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(&organization),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Administrator,
    Technician {
        integration_permission: bool,
        visibility: Visibility,
    },
}

/// The person (or program) on whose behalf the [`OrganizationSync`](super::OrganizationSync)
/// service acts. The host authenticates people; the crate checks what they may do:
///
/// | act | system administrator | technician with the permission | technician without |
/// | --- | --- | --- | --- |
/// | set the mode, approve held deletions, change CI mappings | yes | refused | refused |
/// | add, update, pause, resume, delete, restore a configuration | yes | for organizations they see | refused |
/// | list, get, read the audit log, read CI mappings | everything | what concerns organizations they see | refused |
///
/// ```
/// use ninjaone_servicenow::engine::Actor;
/// use ninjaone_servicenow::model::OrganizationId;
/// let alice = Actor::administrator("alice");
/// let bob = Actor::technician("bob")
///     .with_integration_permission()
///     .seeing([OrganizationId::new(2)?]);
/// assert!(alice.may_manage(OrganizationId::new(7)?));
/// assert!(bob.may_manage(OrganizationId::new(2)?));
/// assert!(!bob.may_manage(OrganizationId::new(7)?));
/// assert!(!bob.is_administrator());
/// # Ok::<(), ninjaone_servicenow::model::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    name: String,
    role: Role,
}

impl Actor {
    /// A system administrator: may do everything.
    #[must_use]
    pub fn administrator(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            role: Role::Administrator,
        }
    }

    /// A technician without the integration permission who sees no organization; add what
    /// they have with [`with_integration_permission`](Self::with_integration_permission),
    /// [`seeing`](Self::seeing) or [`seeing_all`](Self::seeing_all).
    #[must_use]
    pub fn technician(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            role: Role::Technician {
                integration_permission: false,
                visibility: Visibility::Only(BTreeSet::new()),
            },
        }
    }

    /// Grants a technician the integration permission (no effect on an administrator).
    #[must_use]
    pub fn with_integration_permission(mut self) -> Self {
        if let Role::Technician {
            integration_permission,
            ..
        } = &mut self.role
        {
            *integration_permission = true;
        }
        self
    }

    /// Lets a technician see these organizations (in addition to any already visible).
    #[must_use]
    pub fn seeing(mut self, organizations: impl IntoIterator<Item = OrganizationId>) -> Self {
        if let Role::Technician { visibility, .. } = &mut self.role {
            match visibility {
                Visibility::All => {}
                Visibility::Only(set) => set.extend(organizations),
            }
        }
        self
    }

    /// Lets a technician see every organization.
    #[must_use]
    pub fn seeing_all(mut self) -> Self {
        if let Role::Technician { visibility, .. } = &mut self.role {
            *visibility = Visibility::All;
        }
        self
    }

    /// The name recorded in the audit log.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the actor is a system administrator.
    #[must_use]
    pub fn is_administrator(&self) -> bool {
        self.role == Role::Administrator
    }

    /// Whether the actor holds the integration permission (administrators always do).
    #[must_use]
    pub fn has_integration_permission(&self) -> bool {
        match &self.role {
            Role::Administrator => true,
            Role::Technician {
                integration_permission,
                ..
            } => *integration_permission,
        }
    }

    /// Whether the actor may see `organization`.
    #[must_use]
    pub fn sees(&self, organization: OrganizationId) -> bool {
        match &self.role {
            Role::Administrator => true,
            Role::Technician { visibility, .. } => visibility.sees(organization),
        }
    }

    /// Whether the actor may change `organization`'s configuration.
    #[must_use]
    pub fn may_manage(&self, organization: OrganizationId) -> bool {
        self.has_integration_permission() && self.sees(organization)
    }

    /// Why the actor may not change `organization`'s configuration, if they may not.
    pub(crate) fn manage_refusal(&self, organization: OrganizationId) -> Option<String> {
        if !self.has_integration_permission() {
            Some("they do not have the integration permission".to_owned())
        } else if !self.sees(organization) {
            Some(format!("they may not see organization {organization}"))
        } else {
            None
        }
    }

    /// Why the actor may not read the integration's data, if they may not.
    pub(crate) fn read_refusal(&self) -> Option<String> {
        (!self.has_integration_permission())
            .then(|| "they do not have the integration permission".to_owned())
    }

    /// Why the actor may not do an administrator's act, if they may not.
    pub(crate) fn admin_refusal(&self) -> Option<String> {
        (!self.is_administrator()).then(|| "only system administrators may do this".to_owned())
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
