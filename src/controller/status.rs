//! Writes status by server-side apply with the one field manager `awsops`,
//! with a timeout, skipping the write when nothing changed.

use std::fmt::Debug;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;
use crate::api::FIELD_MANAGER;

const STATUS_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Applies `status` to `name` unless it equals `current`.
pub async fn apply<K, S>(api: &Api<K>, name: &str, current: Option<&S>, status: &S) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    apply_json(api, name, serde_json::to_value(status).map_err(|e| Error::Finalizer(e.to_string()))?).await?;
    Ok(true)
}

/// Applies a raw status document (used for objects that do not deserialise).
pub async fn apply_json<K>(api: &Api<K>, name: &str, status: serde_json::Value) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match tokio::time::timeout(STATUS_WRITE_TIMEOUT, api.patch_status(name, &params, &Patch::Apply(&body))).await {
        Ok(result) => result.map(|_| ()).map_err(Error::Kube),
        Err(_) => Err(Error::StatusTimeout(STATUS_WRITE_TIMEOUT)),
    }
}
