//! The planner's name index: every normalised name of both listings in one buffer, and the
//! companies and organizations that share each.

use std::collections::HashMap;

use crate::model::normalize_name_into;
use crate::model::{Company, OrganizationId};

/// Up to one item inline, more on the heap: most names are held by one company and one
/// organization, and a plan over 100k organizations would otherwise make 200k tiny vectors.
pub(super) enum Few<T> {
    None,
    One(T),
    Many(Vec<T>),
}

impl<T> Few<T> {
    pub(super) fn push(&mut self, item: T) {
        match std::mem::replace(self, Self::None) {
            Self::None => *self = Self::One(item),
            Self::One(first) => *self = Self::Many(vec![first, item]),
            Self::Many(mut items) => {
                items.push(item);
                *self = Self::Many(items);
            }
        }
    }

    pub(super) fn as_slice(&self) -> &[T] {
        match self {
            Self::None => &[],
            Self::One(item) => std::slice::from_ref(item),
            Self::Many(items) => items,
        }
    }
}

/// The companies and the organizations that have one normalised name, in listing order.
pub(super) struct SameName<'a> {
    pub(super) companies: Few<&'a Company>,
    pub(super) organizations: Few<OrganizationId>,
}

impl SameName<'_> {
    /// The index in `names` of the entry for the normalised name `key`, added if new; `None`
    /// for a name that is empty once normalised (never matched, so never indexed).
    pub(super) fn slot<'k>(
        slots: &mut HashMap<&'k str, usize>,
        names: &mut Vec<Self>,
        key: &'k str,
    ) -> Option<usize> {
        if key.is_empty() {
            return None;
        }
        Some(*slots.entry(key).or_insert_with(|| {
            names.push(SameName {
                companies: Few::None,
                organizations: Few::None,
            });
            names.len() - 1
        }))
    }
}

/// Every name of both listings normalised into one buffer, companies first: one allocation
/// instead of one per name, and the keys of the name index are slices of it.
pub(super) struct NormalisedNames {
    pub(super) buffer: String,
    pub(super) ends: Vec<usize>,
}

impl NormalisedNames {
    pub(super) fn with_capacity(names: usize, bytes: usize) -> Self {
        Self {
            buffer: String::with_capacity(bytes),
            ends: Vec::with_capacity(names),
        }
    }

    pub(super) fn push(&mut self, name: &str) {
        normalize_name_into(name, &mut self.buffer);
        self.ends.push(self.buffer.len());
    }

    /// The `i`-th normalised name.
    pub(super) fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buffer[start..self.ends[i]]
    }
}
