//! The manifest: what a site wrote to its bucket (key, size, checksum, headers,
//! the ETag and time S3 gave back), kept in the bucket at [`KEY`] (under the
//! reserved prefix the bucket policy does not serve and prune never touches).
//! "Unchanged" and "ours to prune" are decided from it and one listing,
//! never from a request per object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aws::AwsError;
use crate::aws::s3::{Body, Buckets, Checksum, Headers, Upload};
use crate::static_site::plan::content::Recorded;

/// Where the manifest is kept.
pub const KEY: &str = ".awsops/manifest.json";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The site that wrote it: another site's (a bucket adopted after a
    /// release) is not this site's record.
    pub uid: String,
    /// What was served: `registry/repository@sha256:...`, `sha256:...` of an
    /// archive, or `configMaps`.
    #[serde(default)]
    pub source: String,
    /// `spec.content.path` it was served with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is served: the declared keys.
    pub files: BTreeMap<String, Recorded>,
    /// This site's objects no longer declared, kept with `prune: false`
    /// (not served; deleted once prune is on again).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retained: BTreeMap<String, Recorded>,
}

impl Manifest {
    pub fn new(uid: &str, source: &str, path: Option<&str>) -> Self {
        Self { uid: uid.to_string(), source: source.to_string(), path: path.map(String::from), ..Self::default() }
    }

    /// Every object it records, served or retained.
    pub fn all(&self) -> BTreeMap<String, Recorded> {
        let mut all = self.retained.clone();
        all.extend(self.files.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }
}

/// This site's manifest in `bucket`; `None` when there is none, it is
/// another site's, or it cannot be read as one (then the bucket is judged
/// from MD5 ETags, as before there was a manifest).
pub async fn load(buckets: &dyn Buckets, bucket: &str, uid: &str) -> Result<Option<Manifest>, AwsError> {
    let Some(bytes) = buckets.get(bucket, KEY).await? else { return Ok(None) };
    match serde_json::from_slice::<Manifest>(&bytes) {
        Ok(manifest) if manifest.uid == uid => Ok(Some(manifest)),
        Ok(_) => Ok(None),
        Err(e) => {
            tracing::warn!(bucket, error = %e, "content manifest unreadable; judging the bucket from its listing");
            Ok(None)
        }
    }
}

/// Writes `manifest` (with the owner metadata, so teardown removes it).
pub async fn save(buckets: &dyn Buckets, bucket: &str, uid: &str, manifest: &Manifest) -> Result<(), AwsError> {
    let body = serde_json::to_vec(manifest).unwrap_or_default();
    let upload = Upload {
        key: KEY.to_string(),
        size: body.len() as u64,
        checksum: Checksum::Md5(super::files::md5(&body)),
        body: Body::Memory(body),
        headers: Headers { content_type: "application/json".into(), cache_control: Some("no-store".into()) },
    };
    buckets.put(bucket, upload, uid).await.map(|_| ())
}
