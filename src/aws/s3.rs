//! What the StaticSite reconciler needs from S3, with plain types.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, MetadataDirective, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use super::{AwsError, AwsErrorKind};

/// Object metadata key that marks an object as uploaded by a site (value: its uid).
pub const OWNER_METADATA: &str = "awsops-uid";
/// Bytes read from a file body at a time (the SDK's default is 4 KiB, each
/// read a trip to tokio's blocking pool); a body this size or smaller is
/// read whole in one trip.
const READ_BUFFER: usize = 256 * 1024;

/// What HeadBucket says about a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketPresence {
    Missing,
    /// Exists in this account.
    Exists,
    /// Exists in another region (HeadBucket 301, the region from `x-amz-bucket-region`).
    OtherRegion(String),
    /// HeadBucket 403: `Some(true)` the bucket is in this account's list (our
    /// credentials may not read it), `Some(false)` it is not (another
    /// account's), `None` the list was denied too.
    Forbidden {
        in_this_account: Option<bool>,
    },
}

/// The bucket settings the site owns, as read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketSettings {
    pub tags: BTreeMap<String, String>,
    /// The four Block Public Access flags all on.
    pub public_access_blocked: bool,
    pub owner_enforced: bool,
    pub encrypted: bool,
    /// The KMS key of SSE-KMS default encryption (`aws/s3` for the AWS managed key).
    pub kms_key: Option<String>,
    /// The bucket policy document, if any.
    pub policy: Option<String>,
}

/// One object as listed: key, MD5 (the ETag of a single-part upload), size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub etag: String,
    pub size: i64,
}

/// One object to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub body: Body,
    pub size: u64,
    pub headers: Headers,
    /// What S3 checks the body against.
    pub checksum: Checksum,
}

/// What S3 checks an upload's body against, and what the manifest knows a
/// body by: its MD5 (sent as Content-MD5; a single-part upload's ETag is
/// it) or its SHA-256 (sent as `x-amz-checksum-sha256`, which S3 also
/// verifies and keeps; with the CPU's SHA instructions it costs a third of
/// an MD5's CPU, and unlike a CRC nobody can make two bodies share one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Md5([u8; 16]),
    Sha256([u8; 32]),
}

impl Checksum {
    const SHA256: &'static str = "sha256:";

    /// As the manifest records it: an MD5 as 32 hex digits (as ETags show
    /// it), a SHA-256 as `sha256:` and 64 hex digits.
    pub fn recorded(&self) -> String {
        match self {
            Self::Md5(md5) => hex::encode(md5),
            Self::Sha256(sha) => format!("{}{}", Self::SHA256, hex::encode(sha)),
        }
    }

    /// [`Checksum::recorded`] read back.
    pub fn from_recorded(text: &str) -> Option<Self> {
        match text.strip_prefix(Self::SHA256) {
            Some(sha) => <[u8; 32]>::try_from(hex::decode(sha).ok()?).ok().map(Self::Sha256),
            None => <[u8; 16]>::try_from(hex::decode(text).ok()?).ok().map(Self::Md5),
        }
    }

    /// The header value: the checksum's bytes in base64.
    fn header(&self) -> String {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        match self {
            Self::Md5(md5) => engine.encode(md5),
            Self::Sha256(sha) => engine.encode(sha),
        }
    }
}

/// Where an upload's bytes are: in memory (a ConfigMap's) or `len` bytes
/// at `offset` of a file of the work folder (read as they are sent, again
/// on a retry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Memory(Vec<u8>),
    File { path: std::path::PathBuf, offset: u64, len: u64 },
}

/// The headers an object is served with.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Headers {
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
}

#[async_trait]
pub trait Buckets: Send + Sync {
    async fn presence(&self, bucket: &str) -> Result<BucketPresence, AwsError>;
    async fn settings(&self, bucket: &str) -> Result<BucketSettings, AwsError>;
    async fn create(&self, bucket: &str, region: &str) -> Result<(), AwsError>;
    async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError>;
    async fn enforce_owner(&self, bucket: &str) -> Result<(), AwsError>;
    async fn encrypt(&self, bucket: &str) -> Result<(), AwsError>;
    async fn put_tags(&self, bucket: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError>;
    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AwsError>;
    async fn list(&self, bucket: &str) -> Result<Vec<ObjectInfo>, AwsError>;
    /// The owner metadata of an object, if it has one.
    async fn owner_of(&self, bucket: &str, key: &str) -> Result<Option<String>, AwsError>;
    /// Uploads with the owner metadata; returns the ETag S3 gave back.
    async fn put(&self, bucket: &str, upload: Upload, owner_uid: &str) -> Result<String, AwsError>;
    /// Re-applies `headers` to an object in place (CopyObject onto itself,
    /// owner metadata kept); returns the new ETag.
    async fn set_headers(
        &self,
        bucket: &str,
        key: &str,
        headers: &Headers,
        owner_uid: &str,
    ) -> Result<String, AwsError>;
    /// The body of a (small) object, `None` when there is none.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError>;
    /// Deletes the current objects at `keys` (a versioned bucket keeps their history).
    async fn delete(&self, bucket: &str, keys: &[String]) -> Result<(), AwsError>;
    /// Deletes every version `uid` uploaded (proven version by version by its
    /// owner metadata) and the delete markers over keys nobody else wrote;
    /// returns how many versions and markers are left (others').
    async fn purge(&self, bucket: &str, uid: &str) -> Result<usize, AwsError>;
    /// Deletes the (empty) bucket; "already gone" is success.
    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError>;
}

pub struct SdkBuckets(pub aws_sdk_s3::Client);

/// One object version or delete marker; `id` is `null` for an object written
/// while versioning was off.
struct Version {
    key: String,
    id: String,
    marker: bool,
}

impl SdkBuckets {
    /// DeleteObjects of (key, version) pairs, a thousand at a time; a key
    /// S3 could not delete is an error (quiet mode answers 200 regardless).
    async fn delete_ids(&self, bucket: &str, doomed: &[(String, Option<String>)]) -> Result<(), AwsError> {
        for chunk in doomed.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|(k, v)| {
                    let id = ObjectIdentifier::builder().key(k).set_version_id(v.clone());
                    id.build().map_err(|e| terminal("DeleteObjects", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| terminal("DeleteObjects", e))?;
            let out = self
                .0
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeleteObjects", e))?;
            if let Some(failed) = out.errors().first() {
                let code = failed.code().unwrap_or_default();
                let message = format!(
                    "{} of {} keys not deleted, the first {:?}: {}",
                    out.errors().len(),
                    chunk.len(),
                    failed.key().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                );
                return Err(AwsError::new(super::error::classify(code, 200), "DeleteObjects", code, message));
            }
        }
        Ok(())
    }

    /// The owner metadata of an object (of one version of it, if given).
    async fn owner(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<Option<String>, AwsError> {
        match self.0.head_object().bucket(bucket).key(key).set_version_id(version.map(String::from)).send().await {
            Ok(out) => Ok(out.metadata().and_then(|m| m.get(OWNER_METADATA)).cloned()),
            Err(e) => AwsError::from_sdk("HeadObject", e).absent_as(None),
        }
    }

    /// Every version and delete marker in the bucket.
    async fn versions(&self, bucket: &str) -> Result<Vec<Version>, AwsError> {
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let req = self.0.list_object_versions().bucket(bucket);
            let req = req.set_key_marker(key_marker.take()).set_version_id_marker(version_marker.take());
            let page = req.send().await.map_err(|e| AwsError::from_sdk("ListObjectVersions", e))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id(), false));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id(), true));
            for (key, id, marker) in versions.chain(markers) {
                if let Some(key) = key {
                    out.push(Version { key: key.to_string(), id: id.unwrap_or("null").to_string(), marker });
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(String::from);
            version_marker = page.next_version_id_marker().map(String::from);
        }
    }
}

/// `len` bytes of the file `path` from `offset`, in one read.
fn read_range(path: &std::path::Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0; len];
    std::fs::File::open(path)?.read_exact_at(&mut bytes, offset)?;
    Ok(bytes)
}

/// A body the work folder could not give: the next pass fetches it again.
fn unread(path: &std::path::Path, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(AwsErrorKind::Retryable, "PutObject", "", format!("reading {}: {e}", path.display()))
}

/// CopyObject's source: `bucket/key`, the key percent-encoded.
fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", percent_encoded(key))
}

/// A key as it goes in a URL path: every byte but the unreserved characters
/// and `/` percent-encoded (a raw `?`, `#` or space would name another URL).
pub fn percent_encoded(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn terminal(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(AwsErrorKind::Terminal, op, "", e.to_string())
}

#[async_trait]
impl Buckets for SdkBuckets {
    async fn presence(&self, bucket: &str) -> Result<BucketPresence, AwsError> {
        let e = match self.0.head_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(BucketPresence::Exists),
            Err(e) => e,
        };
        // HeadBucket answers without a body: the status and headers are all there is.
        // 301 (or 400 for a request signed for the wrong region) names the bucket's region.
        let raw = e.raw_response();
        let moved = raw.is_some_and(|r| matches!(r.status().as_u16(), 301 | 400));
        if moved && let Some(region) = raw.and_then(|r| r.headers().get("x-amz-bucket-region")) {
            return Ok(BucketPresence::OtherRegion(region.to_string()));
        }
        let e = AwsError::from_sdk("HeadBucket", e);
        match e.kind {
            AwsErrorKind::NotFound => Ok(BucketPresence::Missing),
            AwsErrorKind::AccessDenied => {
                let listed = match self.0.list_buckets().prefix(bucket).send().await {
                    Ok(out) => Some(out.buckets().iter().any(|b| b.name() == Some(bucket))),
                    Err(e) => AwsError::from_sdk("ListBuckets", e).denied_as(None)?,
                };
                Ok(BucketPresence::Forbidden { in_this_account: listed })
            }
            _ => Err(e),
        }
    }

    async fn settings(&self, bucket: &str) -> Result<BucketSettings, AwsError> {
        let tags = match self.0.get_bucket_tagging().bucket(bucket).send().await {
            Ok(out) => out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            Err(e) => AwsError::from_sdk("GetBucketTagging", e).absent_as(BTreeMap::new())?,
        };
        let public_access_blocked = match self.0.get_public_access_block().bucket(bucket).send().await {
            Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
            Err(e) => AwsError::from_sdk("GetPublicAccessBlock", e).absent_as(false)?,
        };
        let owner_enforced = match self.0.get_bucket_ownership_controls().bucket(bucket).send().await {
            Ok(out) => out.ownership_controls().is_some_and(|c| {
                c.rules().iter().any(|r| r.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
            }),
            Err(e) => AwsError::from_sdk("GetBucketOwnershipControls", e).absent_as(false)?,
        };
        let rules = match self.0.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => out.server_side_encryption_configuration().map(|c| c.rules().to_vec()).unwrap_or_default(),
            Err(e) => AwsError::from_sdk("GetBucketEncryption", e).absent_as(Vec::new())?,
        };
        let encrypted = !rules.is_empty();
        let kms_key = rules.iter().filter_map(|r| r.apply_server_side_encryption_by_default()).find_map(|d| {
            matches!(d.sse_algorithm(), ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse)
                .then(|| d.kms_master_key_id().unwrap_or("aws/s3").to_string())
        });
        let policy = match self.0.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => out.policy().map(str::to_string),
            Err(e) => AwsError::from_sdk("GetBucketPolicy", e).absent_as(None)?,
        };
        Ok(BucketSettings { tags, public_access_blocked, owner_enforced, encrypted, kms_key, policy })
    }

    async fn create(&self, bucket: &str, region: &str) -> Result<(), AwsError> {
        let mut req = self.0.create_bucket().bucket(bucket).object_ownership(ObjectOwnership::BucketOwnerEnforced);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = AwsError::from_sdk("CreateBucket", e);
                // A retry after a lost response: the bucket is ours already.
                if e.code == "BucketAlreadyOwnedByYou" { Ok(()) } else { Err(e) }
            }
        }
    }

    async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError> {
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.0
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(config)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))
    }

    async fn enforce_owner(&self, bucket: &str) -> Result<(), AwsError> {
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .build()
            .map_err(|e| terminal("PutBucketOwnershipControls", e))?;
        let controls =
            OwnershipControls::builder().rules(rule).build().map_err(|e| terminal("PutBucketOwnershipControls", e))?;
        self.0
            .put_bucket_ownership_controls()
            .bucket(bucket)
            .ownership_controls(controls)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutBucketOwnershipControls", e))
    }

    async fn encrypt(&self, bucket: &str) -> Result<(), AwsError> {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| terminal("PutBucketEncryption", e))?;
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build())
            .build()
            .map_err(|e| terminal("PutBucketEncryption", e))?;
        self.0
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutBucketEncryption", e))
    }

    async fn put_tags(&self, bucket: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let mut tagging = Tagging::builder();
        for (k, v) in tags {
            tagging =
                tagging.tag_set(Tag::builder().key(k).value(v).build().map_err(|e| terminal("PutBucketTagging", e))?);
        }
        self.0
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging.build().map_err(|e| terminal("PutBucketTagging", e))?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutBucketTagging", e))
    }

    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AwsError> {
        self.0
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("PutBucketPolicy", e))
    }

    async fn list(&self, bucket: &str) -> Result<Vec<ObjectInfo>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .0
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
            for o in page.contents() {
                out.push(ObjectInfo {
                    key: o.key().unwrap_or_default().to_string(),
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    size: o.size().unwrap_or(0),
                });
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn owner_of(&self, bucket: &str, key: &str) -> Result<Option<String>, AwsError> {
        self.owner(bucket, key, None).await
    }

    async fn put(&self, bucket: &str, upload: Upload, owner_uid: &str) -> Result<String, AwsError> {
        let body = match upload.body {
            Body::Memory(bytes) => ByteStream::from(bytes),
            Body::File { path, offset, len } if len <= READ_BUFFER as u64 => {
                let at = path.clone();
                let read = tokio::task::spawn_blocking(move || read_range(&at, offset, len as usize)).await;
                ByteStream::from(read.map_err(|e| unread(&path, e))?.map_err(|e| unread(&path, e))?)
            }
            Body::File { path, offset, len } => ByteStream::read_from()
                .path(&path)
                .offset(offset)
                .length(aws_sdk_s3::primitives::Length::Exact(len))
                .buffer_size(READ_BUFFER)
                .build()
                .await
                .map_err(|e| unread(&path, e))?,
        };
        let put = self
            .0
            .put_object()
            .bucket(bucket)
            .key(&upload.key)
            .content_type(&upload.headers.content_type)
            .set_cache_control(upload.headers.cache_control.clone())
            .metadata(OWNER_METADATA, owner_uid)
            .body(body);
        let put = match upload.checksum {
            Checksum::Md5(_) => put.content_md5(upload.checksum.header()),
            // With the algorithm named (x-amz-sdk-checksum-algorithm, as SDKs
            // send it) and its value given, the SDK computes none itself and
            // sends no aws-chunked trailer.
            Checksum::Sha256(_) => put
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
                .checksum_sha256(upload.checksum.header()),
        };
        // The checksum is what S3 checks the body against; a SHA-256 of it in
        // the signature too would only cost a second pass over it.
        put.customize()
            .disable_payload_signing()
            .send()
            .await
            .map(|out| out.e_tag().unwrap_or_default().trim_matches('"').to_string())
            .map_err(|e| AwsError::from_sdk("PutObject", e))
    }

    async fn set_headers(
        &self,
        bucket: &str,
        key: &str,
        headers: &Headers,
        owner_uid: &str,
    ) -> Result<String, AwsError> {
        self.0
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(copy_source(bucket, key))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(&headers.content_type)
            .set_cache_control(headers.cache_control.clone())
            .metadata(OWNER_METADATA, owner_uid)
            .send()
            .await
            .map(|out| {
                let etag = out.copy_object_result().and_then(|r| r.e_tag()).unwrap_or_default();
                etag.trim_matches('"').to_string()
            })
            .map_err(|e| AwsError::from_sdk("CopyObject", e))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let out = match self.0.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) => return AwsError::from_sdk("GetObject", e).absent_as(None),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new(AwsErrorKind::Retryable, "GetObject", "", e.to_string()))?;
        Ok(Some(body.to_vec()))
    }

    async fn delete(&self, bucket: &str, keys: &[String]) -> Result<(), AwsError> {
        let current: Vec<(String, Option<String>)> = keys.iter().map(|k| (k.clone(), None)).collect();
        self.delete_ids(bucket, &current).await
    }

    async fn purge(&self, bucket: &str, uid: &str) -> Result<usize, AwsError> {
        let all = self.versions(bucket).await?;
        // Only a bucket that was ever versioned needs `null` named; one that
        // never was takes a plain delete.
        let versioned = all.iter().any(|v| v.id != "null");
        let mut ours = Vec::new();
        let mut foreign_keys = std::collections::BTreeSet::new();
        for v in all.iter().filter(|v| !v.marker) {
            let owner = self.owner(bucket, &v.key, versioned.then_some(v.id.as_str())).await?;
            if owner.as_deref() == Some(uid) {
                ours.push((v.key.clone(), versioned.then(|| v.id.clone())));
            } else {
                foreign_keys.insert(v.key.clone());
            }
        }
        let markers = all.iter().filter(|v| v.marker && !foreign_keys.contains(&v.key));
        let doomed: Vec<(String, Option<String>)> =
            ours.into_iter().chain(markers.map(|m| (m.key.clone(), Some(m.id.clone())))).collect();
        self.delete_ids(bucket, &doomed).await?;
        Ok(all.len() - doomed.len())
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        match self.0.delete_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => AwsError::from_sdk("DeleteBucket", e).absent_as(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Checksum;

    #[test]
    fn checksums_are_recorded_as_text_read_back_and_sent_as_base64_bytes() {
        use md5::Digest;
        let md5 = Checksum::Md5(md5::Md5::digest(b"x").into());
        assert_eq!(md5.recorded(), "9dd4e461268c8034f5c8564e155c67a6");
        assert_eq!(md5.header(), "ndTkYSaMgDT1yFZOFVxnpg==");
        let sha = Checksum::Sha256(sha2::Sha256::digest(b"abc").into());
        assert_eq!(sha.recorded(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha.header(), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        for checksum in [md5, sha] {
            assert_eq!(Checksum::from_recorded(&checksum.recorded()), Some(checksum));
        }
        assert_eq!(Checksum::from_recorded("sha256:9dd4e461268c8034f5c8564e155c67a6"), None, "too short");
        assert_eq!(Checksum::from_recorded("not hex"), None);
    }
}
