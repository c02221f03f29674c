//! Pulling an OCI artifact as `flux push artifact` and `oras push` write it
//! (one tar+gzip layer) with the oras-project `oci-client`: a tag resolved to
//! the manifest digest status reports, the login from a Docker config JSON
//! Secret (`get` on that name only), the layer streamed to the unpacker
//! (the client checks its digest at its end).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tokio::io::AsyncBufRead;
use tokio_util::io::StreamReader;

use super::fetch::{self, Failure};
use crate::api::aurora_failover::SecretName;
use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::OciSource;
use crate::core::Context;

/// Layer media types taken (the archive's format is then read from its bytes).
pub const LAYER_TYPES: &[&str] = &[
    "application/vnd.cncf.flux.content.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/zip",
];

/// An artifact's layer as it arrives: read it to the end (the digest is
/// checked there); after a read error, `failed` says why.
pub struct Layer {
    /// What is served, `registry/repository@sha256:...`.
    pub source: String,
    pub reader: Box<dyn AsyncBufRead + Send + Unpin>,
    pub failed: Failed,
}

/// Why a layer could not be read (the registry failed, its digest did not
/// match, it was longer than declared), once a read of it has failed.
#[derive(Clone, Default)]
pub struct Failed(Arc<Mutex<Option<Failure>>>);

impl Failed {
    /// The failure, once a read has failed.
    pub fn take(&self) -> Option<Failure> {
        self.slot().take()
    }

    fn failed(&self) -> bool {
        self.slot().is_some()
    }

    fn set(&self, failure: Failure) {
        *self.slot() = Some(failure);
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Failure>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One artifact's registry, reached with the site's login.
pub struct Registry {
    client: Client,
    reference: Reference,
    auth: RegistryAuth,
    name: String,
}

impl Registry {
    /// The client for `oci.ref`, after checking where its registry resolves
    /// and reading the login.
    pub async fn connect(ctx: &Context, namespace: &str, oci: &OciSource) -> Result<Self, Failure> {
        let name = oci.reference.clone();
        let reference = Reference::try_from(name.as_str()).map_err(|e| {
            Stall::new(Reason::ContentInvalid, format!("spec.content.oci.ref {name:?} is not an OCI reference: {e}"))
        })?;
        fetch::check_host(reference.registry()).await?;
        let auth = match &oci.secret_ref {
            Some(secret) => login(ctx, namespace, secret, reference.registry()).await?,
            None => RegistryAuth::Anonymous,
        };
        let mut extra_root_certificates = Vec::new();
        if let Some(path) = &ctx.sources.ca_file {
            let data =
                std::fs::read(path).map_err(|e| Failure::Local(format!("--source-ca-file {}: {e}", path.display())))?;
            extra_root_certificates.push(Certificate { encoding: CertificateEncoding::Pem, data });
        }
        let config = ClientConfig {
            protocol: ClientProtocol::Https,
            extra_root_certificates,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|e| Failure::Local(format!("OCI client: {e}")))?;
        Ok(Self { client, reference, auth, name })
    }

    /// What is served, `registry/repository@sha256:...`: the reference's
    /// digest, or its tag resolved now (one request).
    pub async fn source(&self) -> Result<String, Failure> {
        let digest = match self.reference.digest() {
            Some(digest) => digest.to_string(),
            None => {
                self.client.fetch_manifest_digest(&self.reference, &self.auth).await.map_err(|e| self.failure(e))?
            }
        };
        Ok(self.served(&digest))
    }

    fn served(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.reference.registry(), self.reference.repository())
    }

    /// The artifact's one layer (at most `max_bytes`), streamed.
    pub async fn pull(&self, max_bytes: u64) -> Result<Layer, Failure> {
        let (manifest, digest) =
            self.client.pull_image_manifest(&self.reference, &self.auth).await.map_err(|e| self.failure(e))?;
        let name = &self.name;
        let layer = match manifest.layers.as_slice() {
            [layer] => layer,
            [] => {
                return Err(Failure::invalid(format!(
                    "artifact {name} has no layer: push the site as one tar+gzip layer"
                )));
            }
            more => {
                let message = format!(
                    "artifact {name} has {} layers; a site is served from one tar+gzip layer (flux push artifact, oras push)",
                    more.len()
                );
                return Err(Failure::invalid(message));
            }
        };
        if !LAYER_TYPES.contains(&layer.media_type.as_str()) {
            let message = format!(
                "artifact {name}'s layer has media type {:?}, not an archive: push it as {}",
                layer.media_type, LAYER_TYPES[0]
            );
            return Err(Failure::invalid(message));
        }
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > max_bytes {
            let message = format!(
                "artifact {name}'s layer is {} bytes, more than spec.content.maxBytes allows: raise the limit or serve less",
                layer.size
            );
            return Err(Stall::new(Reason::ContentTooLarge, message).into());
        }
        // The client checks the digest at the end of the stream; the size is ours to hold it to.
        let blob = self.client.pull_blob_stream(&self.reference, layer).await.map_err(|e| self.failure(e))?;
        let (failed, name) = (Failed::default(), name.clone());
        let slot = failed.clone();
        let (declared, mut got) = (u64::try_from(layer.size).unwrap_or(0), 0u64);
        let deadline = std::time::Instant::now() + fetch::DEADLINE;
        let bytes = blob.stream.map(move |chunk| {
            let failure = match chunk {
                _ if slot.failed() => return Err(std::io::Error::other("the layer could not be read")),
                _ if std::time::Instant::now() > deadline => {
                    Failure::Retry(format!("pulling {name} took longer than {:?}", fetch::DEADLINE))
                }
                Ok(chunk) if got + chunk.len() as u64 <= declared => {
                    got += chunk.len() as u64;
                    return Ok(chunk);
                }
                Ok(_) => Failure::invalid(format!(
                    "artifact {name}'s layer is longer than the {declared} bytes its manifest says: nothing was uploaded; push the artifact again"
                )),
                // The client checks the digest as the stream ends.
                Err(e) if e.get_ref().is_some_and(|inner| inner.is::<oci_client::errors::DigestError>()) => {
                    digest_mismatch(&name)
                }
                Err(e) => Failure::Retry(format!("pulling {name}: {e}")),
            };
            slot.set(failure);
            Err(std::io::Error::other("the layer could not be read"))
        });
        Ok(Layer { source: self.served(&digest), reader: Box::new(StreamReader::new(bytes)), failed })
    }

    /// What a registry error means for the site; never the registry's
    /// response body (it could be anything the registry chose to send).
    fn failure(&self, e: OciDistributionError) -> Failure {
        let name = &self.name;
        match e {
            OciDistributionError::AuthenticationFailure(_) | OciDistributionError::UnauthorizedError { .. } => {
                let message = format!(
                    "the registry refused the login for {name}: check spec.content.oci.secretRef and that its login may pull this repository"
                );
                Failure::Stall(Stall::new(Reason::SourceRefused, message))
            }
            OciDistributionError::DigestError(_) => digest_mismatch(name),
            OciDistributionError::ImageManifestNotFoundError(_) => {
                Failure::Retry(format!("artifact {name} is not in the registry (yet): looked for again"))
            }
            OciDistributionError::ServerError { code, .. } => {
                Failure::Retry(format!("pulling {name}: the registry answered HTTP {code}"))
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<String> = envelope.errors.iter().map(|e| format!("{:?}", e.code)).collect();
                Failure::Retry(format!("pulling {name}: the registry answered {}", codes.join(", ")))
            }
            OciDistributionError::RequestError(e) => {
                Failure::Retry(format!("pulling {name}: {}", fetch::with_causes(&e)))
            }
            _ => Failure::Retry(format!("pulling {name}: the registry's answer could not be used")),
        }
    }
}

/// The layer's bytes are not those its digest names.
fn digest_mismatch(name: &str) -> Failure {
    let message = format!("artifact {name}'s layer does not match its digest: nothing was uploaded");
    Failure::Stall(Stall::new(Reason::ContentDigestMismatch, message))
}

/// Whether `source` (as status and the manifest record it,
/// `registry/repository@digest`) is an artifact of the repository `reference` names.
pub fn serves(source: &str, reference: &str) -> bool {
    let Ok(reference) = Reference::try_from(reference) else { return false };
    source.split('@').next() == Some(format!("{}/{}", reference.registry(), reference.repository()).as_str())
}

/// The login for `registry` from a Docker config JSON Secret.
async fn login(ctx: &Context, namespace: &str, secret: &SecretName, registry: &str) -> Result<RegistryAuth, Failure> {
    let name = &secret.name;
    let what = format!("Secret {namespace}/{name} (spec.content.oci.secretRef)");
    let unusable = |message: String| Failure::Stall(Stall::new(Reason::PullSecretUnusable, message));
    let data = match ctx.objects.secret(namespace, name).await {
        Ok(Some(data)) => data,
        Ok(None) => {
            return Err(unusable(format!(
                "{what} does not exist: create it, e.g. `kubectl -n {namespace} create secret docker-registry {name} --docker-server={registry} --docker-username=... --docker-password=...`"
            )));
        }
        Err(e) if e.is_forbidden() => {
            return Err(unusable(format!(
                "the controller may not read {what}: let it get that one Secret, e.g. `kubectl -n {namespace} create role awsops-pull-{name} --verb=get --resource=secrets --resource-name={name}` and `kubectl -n {namespace} create rolebinding awsops-pull-{name} --role=awsops-pull-{name} --serviceaccount=NAMESPACE:SERVICEACCOUNT` (the controller's; awsops-system:awsops with the chart's defaults)"
            )));
        }
        Err(e) => return Err(Failure::Retry(format!("reading {what}: {e}"))),
    };
    let config = data.get(".dockerconfigjson").and_then(|bytes| serde_json::from_slice::<DockerConfig>(bytes).ok());
    let Some(config) = config else {
        return Err(unusable(format!(
            "{what} has no Docker config JSON under key .dockerconfigjson: create it with `kubectl create secret docker-registry`"
        )));
    };
    match config.login(registry) {
        Some((user, password)) => Ok(RegistryAuth::Basic(user, password)),
        None => Err(unusable(format!("{what} holds no login for registry {registry}"))),
    }
}

/// `.dockerconfigjson`: `{"auths": {"registry": {"auth": base64("user:password")}}}`
/// or with `username` and `password`.
#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerLogin>,
}

#[derive(serde::Deserialize)]
struct DockerLogin {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl DockerConfig {
    /// The login listed for `registry` (also as an `https://` URL).
    fn login(&self, registry: &str) -> Option<(String, String)> {
        let entry = self.auths.iter().find(|(key, _)| {
            let key = key.trim_start_matches("https://").trim_start_matches("http://");
            key.split('/').next() == Some(registry)
        })?;
        let login = entry.1;
        if let (Some(user), Some(password)) = (&login.username, &login.password) {
            return Some((user.clone(), password.clone()));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(login.auth.as_deref()?).ok()?;
        let (user, password) =
            String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
        Some((user, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_source_is_served_again_only_for_the_same_repository() {
        let source = "localhost:5000/web/site@sha256:abc";
        assert!(serves(source, "localhost:5000/web/site:1.4.2"));
        assert!(!serves(source, "localhost:5000/web/other:1.4.2"));
        assert!(!serves(source, "registry.example.com/web/site:1.4.2"));
    }

    #[test]
    fn a_docker_config_gives_the_login_of_the_registry_named_either_way() {
        let config: DockerConfig = serde_json::from_value(serde_json::json!({"auths": {
            "localhost:5000": {"auth": base64::engine::general_purpose::STANDARD.encode("site:pa:ss")},
            "https://ghcr.io/v1/": {"username": "bot", "password": "token"},
        }}))
        .expect("config");
        assert_eq!(config.login("localhost:5000"), Some(("site".into(), "pa:ss".into())));
        assert_eq!(config.login("ghcr.io"), Some(("bot".into(), "token".into())));
        assert_eq!(config.login("quay.io"), None);
    }
}
