//! Where the reconcilers read and write Kubernetes-shaped state: status,
//! ConfigMaps, the other AuroraFailovers and events. In the controller that is
//! the API server (`controller::KubeObjects`); for `awsops plan`/`apply` it is
//! a local state folder (`local::state`). The reconcilers see only this trait,
//! so both run exactly the same code.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};

use super::Error;
use super::events::Event;
use crate::api::AuroraFailover;

/// The reconcilers' view of the objects they manage.
#[async_trait]
pub trait Objects: Send + Sync {
    /// Replaces the status fields this controller owns on the referenced object.
    async fn apply_status(&self, object: &ObjectReference, status: serde_json::Value) -> Result<(), Error>;
    /// A ConfigMap, `None` when it does not exist.
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, Error>;
    /// Every AuroraFailover in `namespace` (all namespaces when `None`).
    async fn failovers(&self, namespace: Option<&str>) -> Result<Vec<AuroraFailover>, Error>;
    /// Publishes an event about the object; failures are logged, never fatal.
    async fn publish(&self, object: &ObjectReference, event: Event);
    /// Content uploads of one site: `done` of `total` files so far.
    fn upload_progress(&self, _object: &ObjectReference, _done: usize, _total: usize) {}
}
