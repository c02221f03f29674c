//! Content sync: the files the sources declare (ConfigMaps, read into
//! memory; an archive, fetched and unpacked into the work folder), the
//! headers the rules give each key, the manifest of what this site wrote
//! ([`manifest`]), and [`sync`], which makes the bucket hold exactly them.

pub mod archive;
pub mod fetch;
mod files;
pub mod manifest;
pub mod oci;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use tokio_util::io::SyncIoBridge;

use super::plan::content::{ContentPlan, DesiredFile, Inventory, Recorded, content_plan};
use super::run::Halt;
use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{ContentRule, ContentSpec};
use crate::aws::s3::{Buckets, Checksum, Headers, ObjectInfo, Upload};
use crate::aws::{AwsError, AwsErrorKind};
use crate::core::{Context, Error, Objects};
pub use files::{File, check_files, check_key, limits};
use manifest::Manifest;

pub use super::plan::content::RESERVED_PREFIX;

/// Uploads (and header copies) in flight at once: S3 answers a PUT in tens
/// of milliseconds, and 16 left a loopback server a fifth below its ceiling
/// (docs/BENCHMARKS.md). Each holds one 256 KiB read buffer.
pub const UPLOAD_PARALLELISM: usize = 32;

/// Most bytes of content one site syncs from ConfigMaps (each holds at most 1 MiB).
pub const MAX_CONFIG_MAP_BYTES: u64 = 64 * 1024 * 1024;

/// `status.content.source` of a ConfigMap site.
pub const CONFIG_MAPS: &str = "configMaps";

/// What the sources hold: the files, what is served (the artifact's
/// `registry/repository@digest`, `sha256:` of the archive or
/// [`CONFIG_MAPS`]), the [`Workspace`] (removed when dropped), and the
/// manifest the bucket holds for this site.
pub struct Sourced {
    pub files: Vec<File>,
    pub source: String,
    pub workspace: Option<Workspace>,
    pub recorded: Option<Manifest>,
}

impl Sourced {
    /// Some file is known only from the manifest (the archive was not fetched).
    fn needs_bodies(&self, keys: &[String]) -> bool {
        let wanted: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
        self.files.iter().any(|f| f.body.is_none() && wanted.contains(f.key.as_str()))
    }
}

/// The folder an archive was unpacked in and the site's turn to use the
/// work folder: both held until the pass has uploaded from it.
pub struct Workspace {
    _folder: tempfile::TempDir,
    _turn: tokio::sync::OwnedSemaphorePermit,
}

/// Reads the sources for one pass. An archive or artifact whose digest and
/// path the manifest records is not fetched: its files are known from the
/// manifest (the step fetches it only if an upload needs a body). A registry
/// that does not answer leaves a site serving what the manifest records.
pub async fn read(
    ctx: &Context,
    namespace: &str,
    uid: &str,
    content: &ContentSpec,
    recorded: Option<Manifest>,
) -> Result<Sourced, Halt> {
    let source = match (&content.archive, &content.oci) {
        (Some(archive), _) => archive.served(),
        (None, Some(oci)) => {
            let resolved = async { oci::Registry::connect(ctx, namespace, oci).await?.source().await }.await;
            match (resolved, recorded.as_ref()) {
                (Ok(source), _) => source,
                // A registry that does not answer leaves the site serving what the bucket holds.
                (Err(fetch::Failure::Retry(why)), Some(m)) if oci::serves(&m.source, &oci.reference) => {
                    tracing::warn!(%why, "registry not reached; the site keeps serving {}", m.source);
                    m.source.clone()
                }
                (Err(e), _) => return Err(e.into()),
            }
        }
        (None, None) => {
            let files = config_maps(ctx.objects.as_ref(), namespace, content).await??;
            return Ok(Sourced { files, source: CONFIG_MAPS.into(), workspace: None, recorded });
        }
    };
    if let Some(files) = recorded.as_ref().filter(|m| m.source == source && m.path == content.path).and_then(known) {
        return Ok(Sourced { files, source, workspace: None, recorded });
    }
    fetch_source(ctx, namespace, uid, content, recorded).await
}

/// The sources planned against the bucket's listing: what to upload, copy
/// and prune.
pub struct Planned {
    pub sourced: Sourced,
    pub desired: Vec<DesiredFile>,
    pub plan: ContentPlan,
}

/// Plans `sourced` against `existing` (the bucket's listing). Files known
/// only from the manifest whose upload is needed (the bucket lost or changed
/// them) have their source fetched, and the plan is made again from it.
pub async fn planned(
    ctx: &Context,
    namespace: &str,
    uid: &str,
    content: &ContentSpec,
    mut sourced: Sourced,
    existing: &[ObjectInfo],
) -> Result<Planned, Halt> {
    let rules = Rules::new(content);
    let recorded = sourced.recorded.as_ref().map(|m| m.all());
    let mut desired = self::desired(&sourced.files, &rules);
    let mut plan = content_plan(&desired, existing, recorded.as_ref(), content.prune);
    if sourced.needs_bodies(&plan.upload) {
        let manifest = sourced.recorded.take();
        sourced = fetch_source(ctx, namespace, uid, content, manifest).await?;
        desired = self::desired(&sourced.files, &rules);
        plan = content_plan(&desired, existing, recorded.as_ref(), content.prune);
    }
    Ok(Planned { sourced, desired, plan })
}

/// The files a manifest records, without bodies; `None` if a checksum cannot be read.
fn known(manifest: &Manifest) -> Option<Vec<File>> {
    let file = |(key, entry): (&String, &Recorded)| {
        let checksum = Checksum::from_recorded(&entry.checksum)?;
        Some(File { key: key.clone(), size: entry.size, checksum, body: None })
    };
    manifest.files.iter().map(file).collect()
}

/// Fetches the source into a new workspace of the work folder: an archive
/// URL is downloaded (and its sha256 checked) then unpacked; an artifact's
/// layer is unpacked as it streams (only a zip is written whole first), its
/// digest checked at its end. Nothing is uploaded from here.
async fn fetch_source(
    ctx: &Context,
    namespace: &str,
    uid: &str,
    content: &ContentSpec,
    recorded: Option<Manifest>,
) -> Result<Sourced, Halt> {
    let turn = ctx.fetches.clone().acquire_owned().await.map_err(|e| fetch::Failure::Local(e.to_string()))?;
    let workspace = archive::workspace(&ctx.sources.work_dir, uid)?;
    let (file, unpacked) = archive::layout(workspace.path());
    let most = content.archive_bytes();
    let spec = content.clone();
    let unpacking = |e: tokio::task::JoinError| fetch::Failure::Local(format!("unpacking: {e}"));
    let (source, files) = match (&content.archive, &content.oci) {
        (Some(archive), _) => {
            let (tenancy, ns) = (ctx.tenancy.clone(), namespace.to_string());
            let allowed: fetch::Allowed = Arc::new(move |host| tenancy.source_allowed(&ns, host));
            fetch::download(&ctx.sources, &archive.url, &archive.sha256, most, allowed, &file).await?;
            let name = archive.url.clone();
            let files = tokio::task::spawn_blocking(move || {
                let files = archive::unpack(&file, &unpacked, &name, &spec);
                let _ = std::fs::remove_file(&file);
                files
            })
            .await
            .map_err(unpacking)?;
            (archive.served(), files)
        }
        (None, Some(oci)) => {
            let oci::Layer { source, reader, failed } =
                oci::Registry::connect(ctx, namespace, oci).await?.pull(most).await?;
            let (reader, name) = (SyncIoBridge::new(reader), oci.reference.clone());
            // The layer goes straight to the unpacker; only a zip is written whole first.
            let spill = file.clone();
            let zip_file = move |whole: &mut dyn std::io::Read| {
                let spilled = |e: std::io::Error| fetch::Failure::work_folder(&file, &e);
                std::io::copy(whole, &mut std::fs::File::create(&file).map_err(spilled)?).map_err(spilled)?;
                Ok(file)
            };
            let unpack = move || archive::unpack_from(reader, &unpacked, &name, &spec, zip_file);
            let files = tokio::task::spawn_blocking(unpack).await.map_err(unpacking)?;
            let _ = std::fs::remove_file(&spill);
            // The unpacker saw only "could not be read": the layer knows why.
            (source, failed.take().map_or(files, Err))
        }
        (None, None) => {
            return Err(fetch::Failure::invalid("spec.content names no archive or artifact".into()).into());
        }
    };
    let files = files?;
    Ok(Sourced { files, source, workspace: Some(Workspace { _folder: workspace, _turn: turn }), recorded })
}

/// Reads the ConfigMaps; a missing one is a stall naming it.
pub async fn config_maps(
    objects: &dyn Objects,
    namespace: &str,
    content: &ContentSpec,
) -> Result<Result<Vec<File>, Stall>, Error> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (i, source) in content.config_maps.iter().enumerate() {
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
        let data = cm.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes()));
        let binary = cm.binary_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0));
        for (k, v) in data.chain(binary) {
            let key = format!("{prefix}{k}");
            if files.insert(key.clone(), v).is_some() {
                let message = format!(
                    "key {key:?} comes from two sources (spec.content.configMaps[{i}] {:?} and an earlier one): give one of them another prefix",
                    source.name
                );
                return Ok(Err(Stall::new(Reason::ContentInvalid, message)));
            }
        }
    }
    let total: u64 = files.values().map(|v| v.len() as u64).sum();
    if total > MAX_CONFIG_MAP_BYTES {
        return Ok(Err(Stall::new(
            Reason::ContentTooLarge,
            format!(
                "the ConfigMaps hold {total} bytes; a site syncs at most {MAX_CONFIG_MAP_BYTES} bytes from ConfigMaps: serve the site from spec.content.archive"
            ),
        )));
    }
    let files: Vec<File> = files.into_iter().map(|(key, body)| File::in_memory(key, body)).collect();
    Ok(check_files(&files, content).map(|()| files))
}

/// The rules, compiled once per pass (a glob the schema let through but
/// that does not compile matches nothing; `validate` refuses it first).
pub struct Rules<'a> {
    spec: &'a ContentSpec,
    matchers: Vec<(globset::GlobMatcher, &'a ContentRule)>,
}

impl<'a> Rules<'a> {
    pub fn new(spec: &'a ContentSpec) -> Self {
        let matchers = spec.rules.iter().filter_map(|r| r.matcher().ok().map(|m| (m, r))).collect();
        Self { spec, matchers }
    }

    /// The headers of `key`: the first matching rule's, the rest by default.
    pub fn headers(&self, key: &str) -> Headers {
        let rule = self.matchers.iter().find(|(m, _)| m.is_match(key)).map(|(_, r)| *r);
        let content_type = rule.and_then(|r| r.content_type.clone()).unwrap_or_else(|| guessed_type(key));
        let cache_control = rule.and_then(|r| r.cache_control.clone()).or_else(|| self.spec.cache_control.clone());
        Headers { content_type, cache_control }
    }
}

/// The content type from the file name, with `charset=utf-8` for text.
fn guessed_type(key: &str) -> String {
    let content_type = mime_guess::from_path(key).first_raw().unwrap_or("application/octet-stream");
    if content_type.starts_with("text/")
        || content_type == "application/javascript"
        || content_type == "application/json"
    {
        format!("{content_type}; charset=utf-8")
    } else {
        content_type.to_string()
    }
}

pub fn desired(files: &[File], rules: &Rules<'_>) -> Vec<DesiredFile> {
    files
        .iter()
        .map(|f| DesiredFile {
            key: f.key.clone(),
            checksum: f.checksum.recorded(),
            size: f.size,
            headers: rules.headers(&f.key),
        })
        .collect()
}

/// What status reports of `desired`: a sha256 over keys, checksums and headers
/// (it changes exactly when what is served does), the counts, the source.
pub fn inventory(desired: &[DesiredFile], source: &str) -> Inventory {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    for f in desired {
        h.update(f.key.as_bytes());
        h.update(b"\0");
        h.update(f.checksum.as_bytes());
        h.update(b"\0");
        h.update(f.headers.content_type.as_bytes());
        h.update(b"\0");
        h.update(f.headers.cache_control.as_deref().unwrap_or_default().as_bytes());
        h.update(b"\n");
    }
    Inventory {
        revision: hex::encode(h.finalize()),
        source: source.to_string(),
        files: desired.len(),
        bytes: desired.iter().map(|f| f.size).sum(),
    }
}

/// What [`sync`] changed in the bucket.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub uploaded: Vec<String>,
    /// Headers re-applied in place.
    pub copied: Vec<String>,
    pub pruned: Vec<String>,
}

/// Where [`sync`] writes.
pub struct Target<'a> {
    pub buckets: &'a dyn Buckets,
    pub bucket: &'a str,
    pub uid: &'a str,
}

/// Makes the bucket hold `files` as `plan` found it: the owners of prune
/// candidates asked first (before anything is written), uploads and header
/// copies [`UPLOAD_PARALLELISM`] at a time (`progress(done, total)` after
/// each), deletion of what is this site's and no longer declared, and the
/// manifest of what the site wrote: ahead of uploads of keys it did not have
/// (a crash then leaves no object nobody prunes), and after, with what S3
/// answered, also when some writes failed (what succeeded is not redone).
pub async fn sync(
    to: &Target<'_>,
    sourced: &Sourced,
    desired: &[DesiredFile],
    plan: &ContentPlan,
    path: Option<&str>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Synced, AwsError> {
    let recorded = sourced.recorded.as_ref();
    let mut doomed: BTreeMap<String, Recorded> = plan.prune.clone();
    for (key, entry) in &plan.prune_candidates {
        if to.buckets.owner_of(to.bucket, key).await?.as_deref() == Some(to.uid) {
            doomed.insert(key.clone(), Recorded { seeded: false, ..entry.clone() });
        }
    }
    let mut next = Manifest::new(to.uid, &sourced.source, path);
    next.files = plan.kept.clone();
    next.retained = plan.retained.clone();
    let by_key: BTreeMap<&str, &DesiredFile> = desired.iter().map(|f| (f.key.as_str(), f)).collect();
    let known = recorded.map(Manifest::all).unwrap_or_default();
    let unrecorded = |k: &String| !known.contains_key(k);
    if plan.upload.iter().any(unrecorded) || doomed.keys().any(unrecorded) {
        let mut ahead = next.clone();
        for key in &plan.upload {
            ahead.files.insert(key.clone(), entry(by_key[key.as_str()], None));
        }
        ahead.retained.extend(doomed.clone());
        manifest::save(to.buckets, to.bucket, to.uid, &ahead).await?;
    }
    let bodies: BTreeMap<&str, &File> = sourced.files.iter().map(|f| (f.key.as_str(), f)).collect();
    let (bodies, by_key) = (&bodies, &by_key);
    let (total, done) = (plan.upload.len() + plan.copy.len(), AtomicUsize::new(0));
    let done = &done;
    let put = |key: String| async move {
        let (file, want) = (bodies[key.as_str()], by_key[key.as_str()]);
        let result = match file.body.clone() {
            Some(body) => {
                let (size, headers, checksum) = (file.size, want.headers.clone(), file.checksum);
                let upload = Upload { key: key.clone(), body, size, headers, checksum };
                to.buckets.put(to.bucket, upload, to.uid).await
            }
            None => Err(AwsError::new(AwsErrorKind::Retryable, "PutObject", "", format!("{key}: body not fetched"))),
        };
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        (key, want, result)
    };
    let uploads = plan.upload.iter().cloned().map(put);
    let written: Vec<(String, &DesiredFile, Result<String, AwsError>)> =
        futures::stream::iter(uploads).buffer_unordered(UPLOAD_PARALLELISM).collect().await;
    let copy = |key: String| async move {
        let want = by_key[key.as_str()];
        let result = to.buckets.set_headers(to.bucket, &key, &want.headers, to.uid).await;
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        (key, want, result)
    };
    let copies = plan.copy.iter().cloned().map(copy);
    let copied: Vec<(String, &DesiredFile, Result<String, AwsError>)> =
        futures::stream::iter(copies).buffer_unordered(UPLOAD_PARALLELISM).collect().await;
    let mut failed = None;
    for (key, want, result) in written.into_iter().chain(copied) {
        match result {
            Ok(etag) => _ = next.files.insert(key, entry(want, Some(etag))),
            Err(e) => {
                // An upload that failed may still have landed: recorded in flight.
                if plan.upload.contains(&key) {
                    next.files.insert(key, entry(want, None));
                }
                failed.get_or_insert(e);
            }
        }
    }
    let outcome = match failed {
        Some(e) => Err(e),
        None if doomed.is_empty() => Ok(()),
        None => to.buckets.delete(to.bucket, &doomed.keys().cloned().collect::<Vec<_>>()).await,
    };
    if let Err(e) = outcome {
        next.retained.extend(doomed);
        manifest::save(to.buckets, to.bucket, to.uid, &next).await?;
        return Err(e);
    }
    if recorded != Some(&next) {
        manifest::save(to.buckets, to.bucket, to.uid, &next).await?;
    }
    Ok(Synced { uploaded: plan.upload.clone(), copied: plan.copy.clone(), pruned: doomed.into_keys().collect() })
}

/// The manifest entry for `file` as sent, with the ETag S3 answered (`None`: in flight).
fn entry(file: &DesiredFile, etag: Option<String>) -> Recorded {
    Recorded {
        size: file.size,
        checksum: file.checksum.clone(),
        headers: file.headers.clone(),
        at: etag.as_ref().map(|_| Timestamp::now().to_string()),
        etag,
        seeded: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: serde_json::Value) -> ContentSpec {
        serde_json::from_value(value).expect("spec")
    }

    #[test]
    fn content_types_come_from_file_names() {
        let spec = spec(serde_json::json!({"cacheControl": "max-age=60"}));
        let rules = Rules::new(&spec);
        assert_eq!(rules.headers("index.html").content_type, "text/html; charset=utf-8");
        assert_eq!(rules.headers("styles/site.css").content_type, "text/css; charset=utf-8");
        assert_eq!(rules.headers("logo.png").content_type, "image/png");
        assert_eq!(rules.headers("blob").content_type, "application/octet-stream");
        assert_eq!(rules.headers("a.html").cache_control.as_deref(), Some("max-age=60"));
    }

    #[test]
    fn the_first_matching_rule_sets_headers_and_the_defaults_fill_the_rest() {
        let spec = spec(serde_json::json!({
            "cacheControl": "public, max-age=300",
            "rules": [
                {"match": "assets/**", "cacheControl": "public, max-age=31536000, immutable"},
                {"match": "**/*.html", "cacheControl": "no-cache"},
                {"match": "*.bin", "contentType": "application/x-firmware"},
            ],
        }));
        let rules = Rules::new(&spec);
        let cache = |key: &str| rules.headers(key).cache_control.unwrap_or_default();
        assert_eq!(cache("assets/app.3f9a.js"), "public, max-age=31536000, immutable");
        assert_eq!(cache("assets/deep/page.html"), "public, max-age=31536000, immutable", "first match wins");
        assert_eq!(cache("index.html"), "no-cache", "**/ matches the top folder too");
        assert_eq!(cache("docs/guide/index.html"), "no-cache");
        assert_eq!(cache("robots.txt"), "public, max-age=300");
        assert_eq!(rules.headers("app.bin").content_type, "application/x-firmware");
        assert_eq!(cache("app.bin"), "public, max-age=300", "a rule without cacheControl keeps the default");
        assert_eq!(rules.headers("pkg/app.bin").content_type, "application/octet-stream", "* stays in its folder");
    }

    #[test]
    fn the_revision_changes_with_content_or_headers_and_only_then() {
        let spec_a = spec(serde_json::json!({}));
        let spec_b = spec(serde_json::json!({"cacheControl": "no-cache"}));
        let one = [File::in_memory("a".into(), b"1".to_vec())];
        let two = [File::in_memory("a".into(), b"2".to_vec())];
        let rev =
            |files: &[File], spec: &ContentSpec| inventory(&desired(files, &Rules::new(spec)), CONFIG_MAPS).revision;
        assert_eq!(rev(&one, &spec_a), rev(&one.clone(), &spec_a));
        assert_ne!(rev(&one, &spec_a), rev(&two, &spec_a));
        assert_ne!(rev(&one, &spec_a), rev(&one, &spec_b));
        assert_eq!(one[0].checksum.recorded(), "c4ca4238a0b923820dcc509a6f75849b", "a ConfigMap's file by its MD5");
        let inv = inventory(&desired(&one, &Rules::new(&spec_a)), CONFIG_MAPS);
        assert_eq!((inv.files, inv.bytes, inv.source.as_str()), (1, 1, CONFIG_MAPS));
    }

    #[test]
    fn keys_too_long_reserved_or_empty_are_refused_and_limits_hold() {
        let spec = spec(serde_json::json!({"maxFiles": 2, "maxBytes": 3}));
        assert!(check_key("docs/index.html").is_ok());
        let refused = |key: &str| check_key(key).expect_err("refused").message;
        assert!(refused(&"k".repeat(1025)).contains("1025 bytes"));
        assert!(refused(".awsops/manifest.json").contains(".awsops/"));
        assert!(refused("").contains("empty"));
        assert!(limits(2, 3, &spec).is_ok());
        assert!(limits(3, 3, &spec).expect_err("files").message.contains("maxFiles"));
        assert!(limits(2, 4, &spec).expect_err("bytes").message.contains("maxBytes"));
    }
}
