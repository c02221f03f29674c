//! Writes status through [`Objects`] (server-side apply with the one field
//! manager `awsops` in a cluster), skipping the write when nothing changed:
//! whatever the object's version ([`apply`]), or only at the version it was
//! read at ([`apply_at`], an AuroraFailover's: a decision made from a stale
//! copy never lands).

use kube::Resource;
use serde::Serialize;

use super::Error;
use super::objects::Objects;

/// Writes `status` on `obj` unless it equals `current`; `true` when written.
pub async fn apply<K, S>(objects: &dyn Objects, obj: &K, current: Option<&S>, status: &S) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()>,
    S: Serialize + PartialEq,
{
    Ok(write(objects, obj.object_ref(&()), current, status).await?.is_some())
}

/// A status write that landed: the object's new resourceVersion, where the
/// store keeps one.
pub struct Written {
    pub resource_version: Option<String>,
}

/// Writes `status` on `obj` unless it equals `current`, only while the object
/// is at `obj`'s resourceVersion (a 409 Conflict error otherwise).
pub async fn apply_at<K, S>(
    objects: &dyn Objects,
    obj: &K,
    current: Option<&S>,
    status: &S,
) -> Result<Option<Written>, Error>
where
    K: Resource<DynamicType = ()>,
    S: Serialize + PartialEq,
{
    let mut reference = obj.object_ref(&());
    reference.resource_version = obj.meta().resource_version.clone();
    write(objects, reference, current, status).await
}

async fn write<S: Serialize + PartialEq>(
    objects: &dyn Objects,
    reference: k8s_openapi::api::core::v1::ObjectReference,
    current: Option<&S>,
    status: &S,
) -> Result<Option<Written>, Error> {
    if current == Some(status) {
        return Ok(None);
    }
    let value = serde_json::to_value(status).map_err(|e| Error::State(e.to_string()))?;
    let resource_version = objects.apply_status(&reference, value).await?;
    Ok(Some(Written { resource_version }))
}
