//! The API server as the reconcilers' [`Objects`]: status by server-side
//! apply with the one field manager `awsops` (every write with a timeout,
//! an AuroraFailover's only at the resourceVersion its decision read),
//! ConfigMaps and AuroraFailovers read through the client, events through
//! kube-runtime's recorder.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret};
use kube::Resource;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::events::{Event as KubeEvent, EventType as KubeEventType, Recorder, Reporter};
use serde::de::DeserializeOwned;

use crate::api::{AuroraFailover, FIELD_MANAGER, Kind, StaticSite};
use crate::core::objects::{Event, EventType};
use crate::core::{Error, Objects};

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

    async fn patch_status<K>(
        &self,
        object: &ObjectReference,
        status: serde_json::Value,
    ) -> Result<Option<String>, Error>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), object.namespace.as_deref().unwrap_or_default());
        let mut body = serde_json::json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": status,
        });
        // Server-side apply compares a resourceVersion in the body with the object's.
        if let Some(version) = &object.resource_version {
            body["metadata"] = serde_json::json!({ "resourceVersion": version });
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let name = object.name.as_deref().unwrap_or_default();
        match tokio::time::timeout(STATUS_WRITE_TIMEOUT, api.patch_status(name, &params, &Patch::Apply(&body))).await {
            Ok(result) => result.map(|written| written.meta().resource_version.clone()).map_err(Error::Kube),
            Err(_) => Err(Error::StatusTimeout(STATUS_WRITE_TIMEOUT)),
        }
    }
}

#[async_trait]
impl Objects for KubeObjects {
    async fn apply_status(&self, object: &ObjectReference, status: serde_json::Value) -> Result<Option<String>, Error> {
        match Kind::of_reference(object) {
            Some(Kind::AuroraFailover) => self.patch_status::<AuroraFailover>(object, status).await,
            Some(Kind::StaticSite) => self.patch_status::<StaticSite>(object, status).await,
            None => Err(Error::State(format!("no status for kind {:?}", object.kind))),
        }
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, Error> {
        Ok(Api::<ConfigMap>::namespaced(self.client.clone(), namespace).get_opt(name).await?)
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, Error> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), namespace).get_opt(name).await?;
        Ok(secret.map(|s| s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()))
    }

    async fn failovers(&self, namespace: Option<&str>) -> Result<Vec<AuroraFailover>, Error> {
        let api: Api<DeserializeGuard<AuroraFailover>> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        // An object this version cannot read (an older schema's shape) is skipped, not fatal for all.
        Ok(api.list(&ListParams::default()).await?.items.into_iter().filter_map(|guard| guard.0.ok()).collect())
    }

    async fn publish(&self, object: &ObjectReference, event: Event) {
        let type_ = match event.type_ {
            EventType::Normal => KubeEventType::Normal,
            EventType::Warning => KubeEventType::Warning,
        };
        let reason = event.reason;
        let event =
            KubeEvent { type_, reason: reason.clone(), note: Some(event.note), action: event.action, secondary: None };
        if let Err(e) = self.recorder.publish(&event, object).await {
            tracing::warn!(error = %e, reason, "could not publish event");
        }
    }
}
