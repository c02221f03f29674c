//! Writes status through [`Objects`] (server-side apply with the one field
//! manager `awsops` in a cluster), skipping the write when nothing changed.

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
    if current == Some(status) {
        return Ok(false);
    }
    let value = serde_json::to_value(status).map_err(|e| Error::State(e.to_string()))?;
    objects.apply_status(&obj.object_ref(&()), value).await?;
    Ok(true)
}
