//! Where the reconcilers read and write Kubernetes-shaped state: status,
//! ConfigMaps, Secrets (a write probe's login), the other AuroraFailovers and events. In the controller that is
//! the API server (`controller::KubeObjects`); for `awsops plan`/`apply` it is
//! a local state folder (`local::state`). The reconcilers see only this trait,
//! so both run exactly the same code.

use std::collections::BTreeMap;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};

use super::Error;
use crate::api::AuroraFailover;

/// Normal, or Warning (something failed or needs a person).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// One event as a reconciler publishes it; [`Objects`] delivers it (as an
/// `events.k8s.io/v1` Event in a cluster, a terminal line for `awsops apply`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub type_: EventType,
    /// PascalCase, bounded: never AWS message text.
    pub reason: String,
    /// At most 1 KiB; never credentials.
    pub note: String,
    /// What the controller was doing: `Reconcile`, `FailOver`, ...
    pub action: String,
}

/// The reconcilers' view of the objects they manage.
#[async_trait]
pub trait Objects: Send + Sync {
    /// Replaces the status fields this controller owns on the referenced
    /// object; only while it is at `object.resource_version` when that is set
    /// (the API server answers 409 Conflict after any other write). Returns
    /// the object's new resourceVersion where the store keeps one.
    async fn apply_status(&self, object: &ObjectReference, status: serde_json::Value) -> Result<Option<String>, Error>;
    /// A ConfigMap, `None` when it does not exist.
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, Error>;
    /// A Secret's data (`stringData` merged in for manifests), `None` when it
    /// does not exist; read with `get` on that name only.
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, Error>;
    /// Every AuroraFailover in `namespace` (all namespaces when `None`).
    async fn failovers(&self, namespace: Option<&str>) -> Result<Vec<AuroraFailover>, Error>;
    /// Publishes an event about the object; failures are logged, never fatal.
    async fn publish(&self, object: &ObjectReference, event: Event);
    /// Content uploads of one site: `done` of `total` files so far.
    fn upload_progress(&self, _object: &ObjectReference, _done: usize, _total: usize) {}
}
