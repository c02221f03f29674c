//! One file a source declares, and the checks every source passes: keys S3
//! takes, outside the reserved prefix, within `maxFiles` and `maxBytes`.

use md5::{Digest, Md5};

use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{ContentSpec, MAX_KEY_BYTES};
use crate::aws::s3::{Body, Checksum};
use crate::static_site::plan::content::RESERVED_PREFIX;

/// One file a source declares: its key, size and checksum, and where its
/// bytes are (`None`: known from the manifest only, fetched if an upload
/// needs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub key: String,
    pub size: u64,
    pub checksum: Checksum,
    pub body: Option<Body>,
}

impl File {
    /// A ConfigMap's file, known by its MD5: what the ETags of a bucket
    /// synced before the manifest are, so such a bucket seeds it.
    pub fn in_memory(key: String, body: Vec<u8>) -> Self {
        Self { size: body.len() as u64, checksum: Checksum::Md5(md5(&body)), key, body: Some(Body::Memory(body)) }
    }
}

/// The checks every source passes: keys S3 takes, outside the reserved
/// prefix, and within `maxFiles` and `maxBytes`.
pub fn check_files(files: &[File], content: &ContentSpec) -> Result<(), Stall> {
    for f in files {
        check_key(&f.key)?;
    }
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    limits(files.len() as u64, bytes, content)
}

/// A key S3 takes and the site may write.
pub fn check_key(key: &str) -> Result<(), Stall> {
    let problem = if key.is_empty() {
        "is empty".to_string()
    } else if key.len() > MAX_KEY_BYTES {
        format!("is {} bytes long; S3 takes at most {MAX_KEY_BYTES}", key.len())
    } else if key.chars().any(char::is_control) {
        "holds a control character".to_string()
    } else if key.starts_with(RESERVED_PREFIX) {
        format!("is under {RESERVED_PREFIX}, which the controller keeps for its manifest")
    } else {
        return Ok(());
    };
    let shown: String = key.chars().take(80).collect();
    Err(Stall::new(Reason::ContentInvalid, format!("key {shown:?} {problem}: rename it in the source")))
}

/// `maxFiles` and `maxBytes`.
pub fn limits(files: u64, bytes: u64, content: &ContentSpec) -> Result<(), Stall> {
    if files > content.max_files() {
        let message = format!(
            "the source holds more than {} files (spec.content.maxFiles): raise the limit or serve fewer files",
            content.max_files()
        );
        return Err(Stall::new(Reason::ContentTooLarge, message));
    }
    if bytes > content.max_bytes() {
        let message = format!(
            "the source holds more than {} bytes (spec.content.maxBytes): raise the limit or serve less",
            content.max_bytes()
        );
        return Err(Stall::new(Reason::ContentTooLarge, message));
    }
    Ok(())
}

pub fn md5(body: &[u8]) -> [u8; 16] {
    Md5::digest(body).into()
}
