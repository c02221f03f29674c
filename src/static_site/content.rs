//! Content sync: the files the site's ConfigMaps declare (`data` and
//! `binaryData`), with their MD5s and content types, the manifest revision,
//! and [`sync`], which makes the bucket hold exactly them.

use std::collections::BTreeMap;

use base64::Engine;
use md5::{Digest, Md5};

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;

use super::plan::content::{ContentPlan, DesiredFile, content_plan};
use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::ContentSpec;
use crate::aws::AwsError;
use crate::aws::s3::{Buckets, Upload};
use crate::core::{Error, Objects};

/// Uploads in flight at once.
pub const UPLOAD_PARALLELISM: usize = 8;

/// Most bytes of content one site syncs (ConfigMaps hold at most 1 MiB each).
pub const MAX_CONTENT_BYTES: usize = 64 * 1024 * 1024;

/// One file from a ConfigMap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub key: String,
    pub body: Vec<u8>,
}

/// Reads every source; a missing ConfigMap is a stall naming it.
pub async fn read_sources(
    objects: &dyn Objects,
    namespace: &str,
    content: &ContentSpec,
) -> Result<Result<Vec<File>, Stall>, Error> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for source in &content.config_maps {
        let Some(cm) = objects.config_map(namespace, &source.name).await? else {
            return Ok(Err(Stall::new(
                Reason::ConfigMapNotFound,
                format!(
                    "ConfigMap {:?} named in spec.content.configMaps does not exist in this namespace: create it or remove the entry",
                    source.name
                ),
            )));
        };
        let prefix = source.prefix.clone().unwrap_or_default();
        for (k, v) in cm.data.unwrap_or_default() {
            files.insert(format!("{prefix}{k}"), v.into_bytes());
        }
        for (k, v) in cm.binary_data.unwrap_or_default() {
            files.insert(format!("{prefix}{k}"), v.0);
        }
    }
    let total: usize = files.values().map(Vec::len).sum();
    if total > MAX_CONTENT_BYTES {
        return Ok(Err(Stall::new(
            Reason::ContentTooLarge,
            format!(
                "the sources hold {total} bytes; a site syncs at most {MAX_CONTENT_BYTES} bytes from ConfigMaps: serve large assets from another bucket"
            ),
        )));
    }
    Ok(Ok(files.into_iter().map(|(key, body)| File { key, body }).collect()))
}

pub fn md5(body: &[u8]) -> [u8; 16] {
    Md5::digest(body).into()
}

pub fn desired(files: &[File]) -> Vec<DesiredFile> {
    files
        .iter()
        .map(|f| DesiredFile { key: f.key.clone(), md5_hex: hex::encode(md5(&f.body)), size: f.body.len() })
        .collect()
}

/// sha256 over keys and MD5s: changes exactly when the content does.
pub fn revision(desired: &[DesiredFile]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    for f in desired {
        h.update(f.key.as_bytes());
        h.update(b"\0");
        h.update(f.md5_hex.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The upload for a file: content type from its name, Content-MD5, cache control.
pub fn upload(file: &File, content: &ContentSpec) -> Upload {
    let content_type = mime_guess::from_path(&file.key).first_raw().unwrap_or("application/octet-stream");
    let content_type = if content_type.starts_with("text/")
        || content_type == "application/javascript"
        || content_type == "application/json"
    {
        format!("{content_type}; charset=utf-8")
    } else {
        content_type.to_string()
    };
    Upload {
        key: file.key.clone(),
        body: file.body.clone(),
        content_type,
        cache_control: content.cache_control.clone(),
        content_md5: base64::engine::general_purpose::STANDARD.encode(md5(&file.body)),
    }
}

/// What [`sync`] changed in the bucket.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub uploaded: Vec<String>,
    pub pruned: Vec<String>,
}

/// Makes `bucket` hold `files` as [`planned`] found it: uploads of what differs
/// [`UPLOAD_PARALLELISM`] at a time (`progress(done, total)` after each),
/// and, with `prune`, deletion of objects this site uploaded (owner metadata
/// `uid`) that are no longer declared.
pub async fn sync(
    buckets: &dyn Buckets,
    bucket: &str,
    uid: &str,
    files: &[File],
    plan: &ContentPlan,
    spec: &ContentSpec,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Synced, AwsError> {
    let uploads: Vec<Upload> = files.iter().filter(|f| plan.upload.contains(&f.key)).map(|f| upload(f, spec)).collect();
    let (total, done) = (uploads.len(), AtomicUsize::new(0));
    let done = &done;
    let put = |upload| async move {
        let result = buckets.put(bucket, upload, uid).await;
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        result
    };
    let results: Vec<Result<(), AwsError>> =
        futures::stream::iter(uploads.into_iter().map(put)).buffer_unordered(UPLOAD_PARALLELISM).collect().await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    let mut pruned = Vec::new();
    for key in &plan.prune_candidates {
        if buckets.owner_of(bucket, key).await?.as_deref() == Some(uid) {
            pruned.push(key.clone());
        }
    }
    if !pruned.is_empty() {
        buckets.delete(bucket, &pruned).await?;
    }
    Ok(Synced { uploaded: plan.upload.clone(), pruned })
}

/// One listing of `bucket`, and what [`sync`] will upload and consider for pruning.
pub async fn planned(
    buckets: &dyn Buckets,
    bucket: &str,
    desired: &[DesiredFile],
    prune: bool,
) -> Result<ContentPlan, AwsError> {
    let existing = buckets.list(bucket).await?;
    Ok(content_plan(desired, &existing, prune))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_file_names() {
        let spec: ContentSpec =
            serde_json::from_value(serde_json::json!({"cacheControl": "max-age=60"})).expect("spec");
        let up = |k: &str| upload(&File { key: k.into(), body: b"x".to_vec() }, &spec);
        assert_eq!(up("index.html").content_type, "text/html; charset=utf-8");
        assert_eq!(up("styles/site.css").content_type, "text/css; charset=utf-8");
        assert_eq!(up("logo.png").content_type, "image/png");
        assert_eq!(up("blob").content_type, "application/octet-stream");
        assert_eq!(up("a.html").cache_control.as_deref(), Some("max-age=60"));
        assert_eq!(up("a.html").content_md5, "ndTkYSaMgDT1yFZOFVxnpg==");
    }

    #[test]
    fn the_revision_changes_with_content_and_only_then() {
        let a = desired(&[File { key: "a".into(), body: b"1".to_vec() }]);
        let b = desired(&[File { key: "a".into(), body: b"2".to_vec() }]);
        assert_eq!(revision(&a), revision(&a.clone()));
        assert_ne!(revision(&a), revision(&b));
        assert_eq!(a[0].md5_hex, "c4ca4238a0b923820dcc509a6f75849b");
    }
}
