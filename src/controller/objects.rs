//! Where the reconcilers read and write Kubernetes-shaped state: status,
//! ConfigMaps, the other AuroraFailovers and events. In the controller that is
//! the API server ([`KubeObjects`]); for `awsops plan`/`apply` it is a local
//! state folder (see `crate::local`). The reconcilers see only this trait, so
//! both run exactly the same code.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use kube::Resource;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event, Recorder, Reporter};
use serde::de::DeserializeOwned;

use super::Error;
use crate::api::{AuroraFailover, FIELD_MANAGER, StaticSite};

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

const STATUS_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The API server: status by server-side apply with field manager `awsops`,
/// events through kube-runtime's recorder.
pub struct KubeObjects {
    client: kube::Client,
    recorder: Recorder,
}

impl KubeObjects {
    pub fn new(client: kube::Client, instance: &str) -> Self {
        let reporter = Reporter { controller: "awsops".into(), instance: Some(instance.to_string()) };
        Self { recorder: Recorder::new(client.clone(), reporter), client }
    }

    async fn patch_status<K>(&self, object: &ObjectReference, status: serde_json::Value) -> Result<(), Error>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), object.namespace.as_deref().unwrap_or_default());
        let body = serde_json::json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let name = object.name.as_deref().unwrap_or_default();
        match tokio::time::timeout(STATUS_WRITE_TIMEOUT, api.patch_status(name, &params, &Patch::Apply(&body))).await {
            Ok(result) => result.map(|_| ()).map_err(Error::Kube),
            Err(_) => Err(Error::StatusTimeout(STATUS_WRITE_TIMEOUT)),
        }
    }
}

#[async_trait]
impl Objects for KubeObjects {
    async fn apply_status(&self, object: &ObjectReference, status: serde_json::Value) -> Result<(), Error> {
        match object.kind.as_deref() {
            Some("AuroraFailover") => self.patch_status::<AuroraFailover>(object, status).await,
            Some("StaticSite") => self.patch_status::<StaticSite>(object, status).await,
            other => Err(Error::State(format!("no status for kind {other:?}"))),
        }
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, Error> {
        Ok(Api::<ConfigMap>::namespaced(self.client.clone(), namespace).get_opt(name).await?)
    }

    async fn failovers(&self, namespace: Option<&str>) -> Result<Vec<AuroraFailover>, Error> {
        let api: Api<AuroraFailover> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        Ok(api.list(&ListParams::default()).await?.items)
    }

    async fn publish(&self, object: &ObjectReference, event: Event) {
        if let Err(e) = self.recorder.publish(&event, object).await {
            tracing::warn!(error = %e, reason = event.reason, "could not publish event");
        }
    }
}
