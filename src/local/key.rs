//! How `awsops plan/apply` names an object: kind, namespace, name.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{Resource, ResourceExt};

use crate::api::{Kind, OfKind};
use crate::core::Error;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn of<K: Resource<DynamicType = ()> + OfKind>(obj: &K) -> Self {
        Self { kind: K::KIND, namespace: obj.namespace().unwrap_or_default(), name: obj.name_any() }
    }

    /// The key of a referenced object; an error for a kind awsops does not manage.
    pub fn of_reference(r: &ObjectReference) -> Result<Self, Error> {
        let kind =
            Kind::of_reference(r).ok_or_else(|| Error::State(format!("no local state for kind {:?}", r.kind)))?;
        Ok(Self { kind, namespace: r.namespace.clone().unwrap_or_default(), name: r.name.clone().unwrap_or_default() })
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}
