//! An HTTPS file server on loopback for content sources: OpenSSL's own
//! `s_server -WWW` (a real TLS server, no code of ours) serving a folder,
//! with a certificate for `localhost` signed by the test environment's CA.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct FileServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// The test environment's CA folder (`scripts/testenv.sh`: pki/ca.crt, ca.key).
pub fn test_ca() -> PathBuf {
    PathBuf::from(std::env::var("AWSOPS_TEST_ENV").expect("AWSOPS_TEST_ENV is set by make test")).join("pki")
}

impl FileServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let www = dir.path().join("www");
        std::fs::create_dir(&www).expect("www");
        let (cert, key) = super::simulated::certificate(&test_ca(), dir.path(), &["localhost".to_string()]).await;
        let port = super::free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .current_dir(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("openssl s_server");
        let mut server = Self { child, port, dir };
        // Listening, and ours: another process that took the port would
        // answer the connect, but then s_server has exited.
        let ready = super::eventually(Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
        })
        .await;
        let running = server.child.try_wait().ok().flatten().is_none();
        assert!(ready.is_some() && running, "openssl s_server did not listen on 127.0.0.1:{port}");
        server
    }

    /// Serves `bytes` at `/name`; its URL.
    pub fn put(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir.path().join("www").join(name), bytes).expect("file served");
        format!("https://{}/{name}", self.host())
    }

    /// `localhost:PORT`, as a TenantPolicy lists it.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A tar.gz of `files` (path, body), written by the `tar` crate as GNU tar would.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *body).expect("entry");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// A zip (deflated) of `files`.
pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, body) in files {
        writer.start_file(*path, ::zip::write::SimpleFileOptions::default()).expect("entry");
        writer.write_all(body).expect("body");
    }
    writer.finish().expect("zip").into_inner()
}

/// A tar.gz with one entry whose name climbs out of the tree.
pub fn traversal_tar_gz() -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    let name = b"../../etc/evil.html";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_cksum();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    builder.append(&header, &b"evil"[..]).expect("entry");
    builder.into_inner().expect("tar").finish().expect("gzip")
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The test environment's registry (`scripts/testenv.sh`: docker-registry
/// over TLS with one htpasswd user): its `host:port`, user and password.
pub fn registry() -> (String, String, String) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by make test"));
    (var("AWSOPS_TEST_REGISTRY"), var("AWSOPS_TEST_REGISTRY_USER"), var("AWSOPS_TEST_REGISTRY_PASSWORD"))
}

/// The layer media type `flux push artifact` writes.
const FLUX_LAYER: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// Pushes `archive` to `reference` as `flux push artifact` lays it out, with
/// oras-py (scripts/oci-push.py); the manifest digest.
pub async fn push_artifact(reference: &str, archive: &[u8]) -> String {
    push_artifact_as(reference, archive, FLUX_LAYER).await
}

/// [`push_artifact`] of an archive file.
pub async fn push_artifact_file(reference: &str, archive: &Path) -> String {
    push_layer(reference, archive, FLUX_LAYER).await
}

/// [`push_artifact`] of `archive` with the layer media type `media_type`.
pub async fn push_artifact_as(reference: &str, archive: &[u8], media_type: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("site.archive");
    std::fs::write(&file, archive).expect("archive");
    push_layer(reference, &file, media_type).await
}

async fn push_layer(reference: &str, archive: &Path, media_type: &str) -> String {
    let (_, user, password) = registry();
    let python = std::env::var("AWSOPS_TEST_ORAS_PYTHON").expect("AWSOPS_TEST_ORAS_PYTHON is set by make test");
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/oci-push.py"))
        .args([reference, archive.to_str().expect("path"), user.as_str(), password.as_str()])
        .env("REQUESTS_CA_BUNDLE", test_ca().join("ca.crt"))
        .env("OCI_LAYER_MEDIA_TYPE", media_type)
        .output()
        .await
        .expect("oci-push.py runs");
    assert!(out.status.success(), "oci-push.py failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Changes one byte in the middle of the registry's stored copy of the blob
/// `archive` was pushed as (its digest is its sha256): the registry then
/// serves bytes that do not match the digest its manifest names.
pub fn tamper_blob(archive: &[u8]) {
    let hex = sha256(archive);
    let env = std::env::var("AWSOPS_TEST_ENV").expect("AWSOPS_TEST_ENV is set by make test");
    let blob =
        PathBuf::from(env).join(format!("registry/data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]));
    let mut stored = std::fs::read(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
    assert_eq!(stored, archive, "the registry stores the blob as pushed");
    let middle = stored.len() / 2;
    stored[middle] ^= 0xff;
    std::fs::write(&blob, stored).expect("blob rewritten");
}

/// A `kubernetes.io/dockerconfigjson` Secret `name` with the registry's login.
pub async fn pull_secret(client: &kube::Client, namespace: &str, name: &str) {
    use k8s_openapi::api::core::v1::Secret;
    let (host, user, password) = registry();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}"));
    let config = serde_json::json!({"auths": {host: {"auth": auth}}}).to_string();
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config},
    }))
    .expect("secret");
    let api = kube::api::Api::<Secret>::namespaced(client.clone(), namespace);
    api.create(&kube::api::PostParams::default(), &secret).await.expect("secret created");
}
