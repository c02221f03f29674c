//! `StaticSite`: a private S3 bucket served by CloudFront through Origin
//! Access Control, optionally on a custom hostname with an ACM certificate and
//! Route 53 records. `region` and `bucket.name` are immutable once set.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::validation::{self, Problems};

/// Most names one ACM certificate covers by default (the ACM quota).
pub const MAX_DOMAIN_NAMES: usize = 10;
/// Longest name ACM takes as a certificate's common name (its DomainName).
pub const MAX_COMMON_NAME: usize = 64;

/// A static website: a private S3 bucket with uploaded assets, served by a
/// CloudFront distribution over HTTPS, optionally on your own domain.
// Each printcolumn repeats `type_`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "awsops.dev",
    version = "v1alpha1",
    kind = "StaticSite",
    namespaced,
    status = "StaticSiteStatus",
    shortname = "site",
    category = "awsops",
    doc = "A private S3 bucket served by CloudFront, optionally on a custom domain.",
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Distribution", type_ = "string", json_path = ".status.distribution.id"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = "1"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(
    validation = Rule::new("has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)").message("spec.region is immutable"),
    validation = Rule::new("!has(oldSelf.bucket) || !has(oldSelf.bucket.name) || (has(self.bucket) && has(self.bucket.name) && self.bucket.name == oldSelf.bucket.name)").message("spec.bucket.name is immutable once set"),
    validation = Rule::new("has(self.roleArn) == has(oldSelf.roleArn) && (!has(self.roleArn) || self.roleArn == oldSelf.roleArn)").message("spec.roleArn is immutable: a new role (another account) needs a new StaticSite")
)]
#[serde(rename_all = "camelCase")]
pub struct StaticSiteSpec {
    /// AWS region of the bucket; defaults to the controller's `AWS_REGION`.
    /// Immutable. (The certificate is always in us-east-1, as CloudFront requires.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::REGION))]
    pub region: Option<String>,

    /// The S3 bucket that holds the site's files.
    #[serde(default)]
    pub bucket: BucketSpec,

    /// What the site serves: ConfigMaps, an archive or an OCI artifact, and
    /// the headers of each key.
    #[serde(default)]
    pub content: ContentSpec,

    /// CloudFront distribution settings.
    #[serde(default)]
    pub distribution: DistributionSpec,

    /// Serve the site on your own hostnames: an ACM certificate (us-east-1,
    /// DNS-validated) and Route 53 records. Omit for a cloudfront.net URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSpec>,

    /// IAM role to assume for this object's AWS calls (cross-account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::ROLE_ARN))]
    pub role_arn: Option<String>,

    /// How request paths map to objects: a CloudFront Function in front of
    /// the bucket. Without it only `/` serves the index document (`/docs/`
    /// answers 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingSpec>,

    /// Response headers added by CloudFront (a response headers policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<HeadersSpec>,
}

/// Most redirects one site declares (CloudFront Function code is at most 10 KB).
pub const MAX_REDIRECTS: usize = 20;
/// Longest header value CloudFront accepts in a response headers policy.
pub const MAX_HEADER_VALUE: usize = 1783;

/// Request routing, compiled into one CloudFront Function (viewer request).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingSpec {
    /// `Static` (a key per path) or `SPA` (paths without a file extension
    /// serve the index document with 200, for client-side routers).
    #[serde(default)]
    pub mode: RoutingMode,
    /// `Static` mode: `/docs/` and `/docs` serve `docs/<indexDocument>`. Default true.
    #[serde(default = "default_true")]
    pub subdirectory_index: bool,
    /// A key served with status 404 when the requested key does not exist,
    /// e.g. `404.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = validation::PAGE_KEY))]
    pub not_found: Option<String>,
    /// Redirects, first match wins, applied before the rewrites above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub redirects: Vec<Redirect>,
}

/// How paths without a key are served.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum RoutingMode {
    #[default]
    Static,
    #[serde(rename = "SPA")]
    Spa,
}

/// One redirect.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    /// A path (`/old.html`), or a prefix ending in `*` (`/blog/*`).
    #[schemars(length(min = 1, max = 128), regex(pattern = validation::REDIRECT_FROM))]
    pub from: String,
    /// A path or an https URL; `:splat` stands for what `*` matched.
    #[schemars(length(min = 1, max = 200), regex(pattern = validation::REDIRECT_TO))]
    pub to: String,
    /// 301 (default), 302, 307 or 308.
    #[serde(default = "default_redirect_status")]
    #[schemars(extend("enum" = [301, 302, 307, 308]))]
    pub status: u16,
}

fn default_redirect_status() -> u16 {
    301
}

/// Response headers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadersSpec {
    /// `Secure` (default): Strict-Transport-Security, X-Content-Type-Options,
    /// X-Frame-Options, Referrer-Policy and X-XSS-Protection as CloudFront's
    /// managed SecurityHeadersPolicy sets them; `None`: none of those.
    #[serde(default)]
    pub preset: HeadersPreset,
    /// A Content-Security-Policy header value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1783))]
    pub content_security_policy: Option<String>,
}

/// The security headers preset.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum HeadersPreset {
    #[default]
    Secure,
    None,
}

/// The bucket.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketSpec {
    /// Bucket name (3-63 lowercase letters, digits, dots, hyphens). Default:
    /// derived from the namespace, name and uid. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 63), regex(pattern = validation::BUCKET_NAME))]
    pub name: Option<String>,

    /// What happens to the bucket when the StaticSite is deleted: `Retain`
    /// (default) keeps it and its objects, `Delete` empties and deletes it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Take over an existing bucket that is not tagged as this object's.
    #[serde(default)]
    pub adopt: bool,
}

/// What deletion does with the bucket.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Delete,
}

/// Where the site's files come from: ConfigMaps (small sites), an archive or
/// an OCI artifact (a build output), and how each key is served.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentSpec {
    /// ConfigMaps in the object's namespace; each key of `data` and
    /// `binaryData` becomes an object `prefix + key`.
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub config_maps: Vec<ConfigMapSource>,

    /// A tar, tar.gz or zip archive fetched over HTTPS, its sha256 required.
    /// Instead of `configMaps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveSource>,

    /// An OCI artifact (as `flux push artifact` or `oras push` write it: one
    /// tar+gzip layer), by tag or digest. Instead of `configMaps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciSource>,

    /// Serve only this folder of the archive or artifact (`public/`): its
    /// files become the keys, without the folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub path: Option<String>,

    /// Headers per key: the first rule whose `match` glob matches the key
    /// sets them (`*` within a folder, `**` across folders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub rules: Vec<ContentRule>,

    /// The distribution's default root object.
    #[serde(default = "default_index")]
    #[schemars(length(min = 1, max = 255))]
    pub index_document: String,

    /// `Cache-Control` header of every object no rule gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub cache_control: Option<String>,

    /// Delete objects this site uploaded that are no longer in any source
    /// (never objects it did not upload). Default true.
    #[serde(default = "default_true")]
    pub prune: bool,

    /// Most files the source may hold (default 100,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_files: Option<u64>,

    /// Most bytes the source may hold once unpacked (default 5 GiB, at most 64 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 68_719_476_736.0))]
    pub max_bytes: Option<u64>,
}

/// Default of `spec.content.maxFiles`.
pub const DEFAULT_MAX_FILES: u64 = 100_000;
/// Default of `spec.content.maxBytes`.
pub const DEFAULT_MAX_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Longest object key S3 takes, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

impl Default for ContentSpec {
    fn default() -> Self {
        Self {
            config_maps: Vec::new(),
            archive: None,
            oci: None,
            path: None,
            rules: Vec::new(),
            index_document: default_index(),
            cache_control: None,
            prune: true,
            max_files: None,
            max_bytes: None,
        }
    }
}

impl ContentSpec {
    pub fn max_files(&self) -> u64 {
        self.max_files.unwrap_or(DEFAULT_MAX_FILES)
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)
    }

    /// Most bytes an archive of this content may hold: `maxBytes`, and a
    /// tar's 512-byte header and up to 511 bytes of padding per file.
    pub fn archive_bytes(&self) -> u64 {
        self.max_bytes().saturating_add(self.max_files().saturating_mul(1024))
    }

    /// The folder `path` names, as a key prefix (`public/`), if any.
    pub fn folder(&self) -> Option<String> {
        let path = self.path.as_deref()?.trim_matches('/');
        (!path.is_empty()).then(|| format!("{path}/"))
    }
}

/// An archive fetched over HTTPS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveSource {
    /// `https://` URL of a `.tar`, `.tar.gz` (`.tgz`) or `.zip` file; its host
    /// must be listed in a TenantPolicy's `staticSites.sources`.
    #[schemars(length(min = 9, max = 2048), regex(pattern = "^https://[^/?#@\\\\]+(/[^#]*)?$"))]
    pub url: String,
    /// The archive's sha256, 64 hex digits: a different download uploads nothing.
    #[schemars(regex(pattern = "^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
}

impl ContentRule {
    /// The glob: `*` and `?` stay inside a folder, `**` crosses folders.
    pub fn matcher(&self) -> Result<globset::GlobMatcher, globset::Error> {
        let glob = globset::GlobBuilder::new(&self.match_).literal_separator(true).build()?;
        Ok(glob.compile_matcher())
    }
}

/// An OCI artifact in a registry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OciSource {
    /// `registry.example.com/web/site:1.4.2` or `...@sha256:<digest>`; the
    /// registry host must be listed in a TenantPolicy's `staticSites.sources`.
    #[serde(rename = "ref")]
    #[schemars(length(min = 1, max = 1024))]
    pub reference: String,
    /// A `kubernetes.io/dockerconfigjson` Secret in this namespace with the
    /// registry's login, read with `get` on that name only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<super::aurora_failover::SecretName>,
}

impl ArchiveSource {
    /// What status and the manifest say is served: `sha256:` and the digest.
    pub fn served(&self) -> String {
        format!("sha256:{}", self.sha256.to_lowercase())
    }
}

/// Headers for the keys one glob matches.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentRule {
    /// Glob on the object key: `assets/**`, `**/*.html`, `*.wasm`.
    #[serde(rename = "match")]
    #[schemars(length(min = 1, max = 256))]
    pub match_: String,
    /// `Cache-Control` of the keys it matches (else `content.cacheControl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub cache_control: Option<String>,
    /// `Content-Type` of the keys it matches (else guessed from the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub content_type: Option<String>,
}

/// One ConfigMap whose keys are uploaded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapSource {
    /// ConfigMap name, in the StaticSite's namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = validation::CONFIG_MAP_NAME))]
    pub name: String,
    /// Key prefix in the bucket, e.g. `assets/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub prefix: Option<String>,
}

/// CloudFront settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DistributionSpec {
    /// Edge locations served: PriceClass_100 (default: US, Canada, Europe),
    /// PriceClass_200, or PriceClass_All.
    #[serde(default)]
    pub price_class: PriceClass,
    /// Whether the distribution serves requests. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Comment shown in the CloudFront console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub comment: Option<String>,
}

impl Default for DistributionSpec {
    fn default() -> Self {
        Self { price_class: PriceClass::default(), enabled: true, comment: None }
    }
}

/// CloudFront price classes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum PriceClass {
    #[default]
    #[serde(rename = "PriceClass_100")]
    PriceClass100,
    #[serde(rename = "PriceClass_200")]
    PriceClass200,
    #[serde(rename = "PriceClass_All")]
    PriceClassAll,
}

/// The custom-hostname half of a site.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[x_kube(
    validation = Rule::new("has(self.hostedZoneId) != has(self.hostedZoneName)").message("set exactly one of hostedZoneId and hostedZoneName"),
    validation = Rule::new("self.names.exists(n, size(n) <= 64)").message("at least one name must be 64 characters or fewer: ACM uses it as the certificate's common name")
)]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {
    /// Alternate domain names (CNAMEs) the distribution answers to, lowercase;
    /// one leading `*.` wildcard allowed. At most 10 (one ACM certificate).
    #[schemars(length(min = 1, max = 10), extend("x-kubernetes-list-type" = "set"))]
    pub names: Vec<DomainName>,
    /// Route 53 hosted zone that holds the names (or use `hostedZoneName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::HOSTED_ZONE_ID))]
    pub hosted_zone_id: Option<String>,
    /// Route 53 hosted zone by name, e.g. `example.com` (or use `hostedZoneId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::HOSTNAME))]
    pub hosted_zone_name: Option<String>,
    /// An existing ACM certificate in us-east-1 covering every name. When
    /// omitted the controller requests one and validates it through DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::CERTIFICATE_ARN))]
    pub certificate_arn: Option<String>,
    /// `Alias` (A + AAAA alias records, works at the zone apex; default) or
    /// `CNAME`.
    #[serde(default)]
    pub record: RecordKind,
}

/// A hostname in `spec.domain.names`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(transparent)]
pub struct DomainName(#[schemars(length(min = 1, max = 253), regex(pattern = validation::HOSTNAME))] pub String);

/// How the names point at the distribution.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub enum RecordKind {
    #[default]
    Alias,
    #[serde(rename = "CNAME")]
    Cname,
}

fn default_index() -> String {
    "index.html".into()
}

fn default_true() -> bool {
    true
}

impl StaticSiteSpec {
    /// What the schema says, checked again by the controller, plus rules that
    /// need more than one field.
    pub fn validate(&self) -> Result<(), String> {
        let mut p = Problems::default();
        p.pattern("spec.region", validation::REGION, self.region.as_deref(), "an AWS region such as us-east-1");
        p.pattern("spec.roleArn", validation::ROLE_ARN, self.role_arn.as_deref(), "an IAM role ARN");
        if let Some(name) = &self.bucket.name {
            p.check((3..=63).contains(&name.len()), || format!("spec.bucket.name {name:?} must be 3-63 characters"));
            p.pattern("spec.bucket.name", validation::BUCKET_NAME, Some(name), "a valid S3 bucket name");
            p.check(!looks_like_ipv4(name), || format!("spec.bucket.name {name:?} must not look like an IP address"));
            p.check(!name.starts_with("xn--") && !name.starts_with("sthree-"), || {
                format!("spec.bucket.name {name:?} uses a prefix S3 reserves (xn--, sthree-)")
            });
            p.check(!name.ends_with("-s3alias") && !name.ends_with("--ol-s3"), || {
                format!("spec.bucket.name {name:?} uses a suffix S3 reserves (-s3alias, --ol-s3)")
            });
        }
        for (i, source) in self.content.config_maps.iter().enumerate() {
            p.pattern(
                &format!("spec.content.configMaps[{i}].name"),
                validation::CONFIG_MAP_NAME,
                Some(&source.name),
                "a ConfigMap name",
            );
            if let Some(prefix) = &source.prefix {
                p.check(!prefix.starts_with('/'), || {
                    format!("spec.content.configMaps[{i}].prefix {prefix:?} must not start with '/'")
                });
            }
        }
        validate_content(&self.content, &mut p);
        p.check(!self.content.index_document.starts_with('/') && !self.content.index_document.is_empty(), || {
            format!("spec.content.indexDocument {:?} must be a key without a leading '/'", self.content.index_document)
        });
        if let Some(domain) = &self.domain {
            validate_domain(domain, &mut p);
        }
        if let Some(routing) = &self.routing {
            validate_routing(routing, &mut p);
        }
        if let Some(csp) = self.headers.as_ref().and_then(|h| h.content_security_policy.as_ref()) {
            p.check(!csp.is_empty() && csp.len() <= MAX_HEADER_VALUE, || {
                format!(
                    "spec.headers.contentSecurityPolicy is {} characters; CloudFront takes 1 to {MAX_HEADER_VALUE}",
                    csp.len()
                )
            });
            p.check(!csp.chars().any(char::is_control), || {
                "spec.headers.contentSecurityPolicy must be one line without control characters".into()
            });
        }
        p.into_result()
    }
}

fn validate_content(content: &ContentSpec, p: &mut Problems) {
    let sources = usize::from(content.archive.is_some())
        + usize::from(content.oci.is_some())
        + usize::from(!content.config_maps.is_empty());
    p.check(sources <= 1, || "spec.content: set one of configMaps, archive and oci".into());
    if let Some(archive) = &content.archive {
        let parsed = reqwest::Url::parse(&archive.url).ok();
        let host = parsed.as_ref().and_then(validation::parsed_host);
        let written = validation::source_host(&archive.url).map(str::to_lowercase);
        p.check(host.is_some() && host == written && !archive.url.contains('\\'), || {
            format!(
                "spec.content.archive.url {:?} must be an https:// URL naming its host plainly (no user info, backslash or percent-encoding in the host)",
                shown_url(&archive.url)
            )
        });
    }
    if let Some(oci) = &content.oci {
        p.check(oci_client::Reference::try_from(oci.reference.as_str()).is_ok(), || {
            format!(
                "spec.content.oci.ref {:?} is not an OCI reference (registry/repository:tag or @sha256:digest)",
                oci.reference
            )
        });
        p.check(
            oci.reference.contains('/')
                && oci.reference.split('/').next().is_some_and(|h| h.contains(['.', ':']) || h == "localhost"),
            || {
                format!(
                    "spec.content.oci.ref {:?} must name its registry host (registry.example.com/repository:tag)",
                    oci.reference
                )
            },
        );
    }
    if let Some(path) = &content.path {
        p.check(!path.starts_with('/') && !path.split('/').any(|part| part == ".." || part == "."), || {
            format!(
                "spec.content.path {path:?} must be a folder inside the archive, without a leading '/', '.' or '..'"
            )
        });
        p.check(content.archive.is_some() || content.oci.is_some(), || {
            "spec.content.path applies to an archive or an artifact: set spec.content.archive or oci".into()
        });
    }
    if let Some(value) = &content.cache_control {
        p.check(!value.is_empty() && value.chars().all(|c| (' '..='~').contains(&c)), || {
            "spec.content.cacheControl must be printable ASCII on one line".into()
        });
    }
    for (i, rule) in content.rules.iter().enumerate() {
        if let Err(e) = rule.matcher() {
            p.check(false, || format!("spec.content.rules[{i}].match {:?} is not a glob: {e}", rule.match_));
        }
        for (field, value) in [("cacheControl", &rule.cache_control), ("contentType", &rule.content_type)] {
            if let Some(value) = value {
                p.check(!value.is_empty() && value.chars().all(|c| (' '..='~').contains(&c)), || {
                    format!("spec.content.rules[{i}].{field} must be printable ASCII on one line")
                });
            }
        }
        p.check(rule.cache_control.is_some() || rule.content_type.is_some(), || {
            format!("spec.content.rules[{i}] sets nothing: give it cacheControl or contentType")
        });
    }
}

/// A URL as messages show it: without its query (a presigned URL's
/// signature) and fragment.
pub fn shown_url(url: &str) -> &str {
    &url[..url.find(['?', '#']).unwrap_or(url.len())]
}

fn validate_domain(domain: &DomainSpec, p: &mut Problems) {
    p.check(!domain.names.is_empty(), || "spec.domain.names must list at least one name".into());
    p.check(domain.names.len() <= MAX_DOMAIN_NAMES, || {
        format!(
            "spec.domain.names lists {} names; one certificate covers at most {MAX_DOMAIN_NAMES}",
            domain.names.len()
        )
    });
    let mut seen = std::collections::BTreeSet::new();
    for (i, name) in domain.names.iter().enumerate() {
        p.pattern(&format!("spec.domain.names[{i}]"), validation::HOSTNAME, Some(&name.0), "a lowercase hostname");
        p.check(seen.insert(&name.0), || format!("spec.domain.names[{i}] {:?} is listed twice", name.0));
    }
    p.check(domain.hosted_zone_id.is_some() != domain.hosted_zone_name.is_some(), || {
        "spec.domain: set exactly one of hostedZoneId and hostedZoneName".into()
    });
    p.check(domain.names.is_empty() || domain.names.iter().any(|n| n.0.len() <= MAX_COMMON_NAME), || {
        format!("spec.domain.names: at least one name must be {MAX_COMMON_NAME} characters or fewer (ACM uses it as the certificate's common name)")
    });
    p.pattern(
        "spec.domain.hostedZoneId",
        validation::HOSTED_ZONE_ID,
        domain.hosted_zone_id.as_deref(),
        "a Route 53 hosted zone id",
    );
    p.pattern(
        "spec.domain.hostedZoneName",
        validation::HOSTNAME,
        domain.hosted_zone_name.as_deref(),
        "a DNS zone name",
    );
    p.pattern(
        "spec.domain.certificateArn",
        validation::CERTIFICATE_ARN,
        domain.certificate_arn.as_deref(),
        "an ACM certificate ARN",
    );
    if let Some(arn) = &domain.certificate_arn {
        p.check(arn.split(':').nth(3) == Some("us-east-1"), || {
            format!("spec.domain.certificateArn {arn:?} is not in us-east-1; CloudFront only uses certificates from us-east-1")
        });
    }
    if let Some(zone) = &domain.hosted_zone_name {
        for (i, name) in domain.names.iter().enumerate() {
            let bare = name.0.trim_start_matches("*.");
            p.check(bare == zone || bare.ends_with(&format!(".{zone}")), || {
                format!("spec.domain.names[{i}] {:?} is not inside hosted zone {zone:?}", name.0)
            });
            p.check(!(domain.record == RecordKind::Cname && bare == zone && !name.0.starts_with("*.")), || {
                format!(
                    "spec.domain.names[{i}] {:?} is the zone apex, where DNS allows no CNAME: use record: Alias",
                    name.0
                )
            });
        }
    }
}

fn validate_routing(routing: &RoutingSpec, p: &mut Problems) {
    p.pattern(
        "spec.routing.notFound",
        validation::PAGE_KEY,
        routing.not_found.as_deref(),
        "a key without a leading '/', in printable ASCII without spaces or quotes, e.g. 404.html",
    );
    p.check(routing.redirects.len() <= MAX_REDIRECTS, || {
        format!(
            "spec.routing.redirects lists {}; at most {MAX_REDIRECTS} fit in one CloudFront Function",
            routing.redirects.len()
        )
    });
    for (i, r) in routing.redirects.iter().enumerate() {
        p.pattern(
            &format!("spec.routing.redirects[{i}].from"),
            validation::REDIRECT_FROM,
            Some(&r.from),
            "a path starting with '/', optionally ending in '*'",
        );
        p.pattern(
            &format!("spec.routing.redirects[{i}].to"),
            validation::REDIRECT_TO,
            Some(&r.to),
            "a path starting with '/' or an https:// URL",
        );
        p.check(r.from.len() <= 128 && r.to.len() <= 200, || {
            format!("spec.routing.redirects[{i}]: from is at most 128 characters and to at most 200")
        });
        p.check([301, 302, 307, 308].contains(&r.status), || {
            format!("spec.routing.redirects[{i}].status {} is not one of 301, 302, 307, 308", r.status)
        });
        p.check(!r.to.contains(":splat") || r.from.ends_with('*'), || {
            format!("spec.routing.redirects[{i}].to uses :splat but from {:?} does not end in '*'", r.from)
        });
        let host = r.to.strip_prefix("https://").map(|rest| rest.split('/').next().unwrap_or(rest));
        p.check(!host.is_some_and(|h| h.contains(":splat")), || {
            format!("spec.routing.redirects[{i}].to puts :splat in the host; put it in the path after the first '/'")
        });
    }
}

fn looks_like_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Lifecycle of a site.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum SitePhase {
    Provisioning,
    WaitingForCertificate,
    Deploying,
    Ready,
    Deleting,
    Failed,
}

/// Observed state of a StaticSite: what exists in AWS and how far it got.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaticSiteStatus {
    /// One-word summary: Provisioning, WaitingForCertificate, Deploying, Ready, Deleting or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SitePhase>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the site is served: `https://` + the first domain name, or the
    /// distribution's cloudfront.net name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<BucketStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_access_control_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateStatus>,
    /// Certificates this site requested and replaced that CloudFront still
    /// held when the distribution moved off them: deleted on later looks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<DistributionStatus>,
    /// The CloudFront Function serving `spec.routing` (shared by every site
    /// with the same routing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingStatus>,
    /// The response headers policy serving `spec.headers` (shared by every
    /// site with the same headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<HeadersStatus>,
    /// Routing functions (`function/<name>`) and headers policies
    /// (`policy/<name>`) this site made or uses, recorded before they are
    /// made; each is deleted once the distribution no longer runs it, unless
    /// another site's does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edge_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<DnsRecordStatus>,
    /// Ready, Reconciling, Stalled, BucketReady, CertificateIssued,
    /// DistributionDeployed, ContentSynced and DnsReady.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketStatus {
    pub name: String,
    pub arn: String,
    pub region: String,
    /// What the site reaches AWS through: `spec.roleArn`, or `default` (the
    /// controller's own credentials). It may not change while a bucket is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// [`BucketStatus::identity`] of a site without `spec.roleArn`.
pub const DEFAULT_IDENTITY: &str = "default";

impl StaticSiteSpec {
    /// `spec.roleArn`, or [`DEFAULT_IDENTITY`].
    pub fn identity(&self) -> &str {
        self.role_arn.as_deref().unwrap_or(DEFAULT_IDENTITY)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    pub arn: String,
    /// ACM status: PENDING_VALIDATION, ISSUED, FAILED, ...
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_records: Vec<ValidationRecord>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DistributionStatus {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    /// CloudFront status: InProgress or Deployed.
    pub status: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoutingStatus {
    /// The function's name, `awsops-routing-` and a hash of its code (none
    /// when routing only sets `notFound`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The page the distribution's 403 and 404 error responses serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadersStatus {
    pub policy_id: String,
    /// `awsops-headers-` and a hash of its settings, or CloudFront's managed
    /// `Managed-SecurityHeadersPolicy`.
    pub policy_name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentStatus {
    /// sha256 of the content manifest (keys, checksums and headers).
    pub revision: String,
    /// What is served: `registry/repository@sha256:...` of an artifact,
    /// `sha256:...` of an archive, or `configMaps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Files served (as `objects`, which is kept for existing readers).
    #[serde(default)]
    pub files: i64,
    /// Their bytes.
    #[serde(default)]
    pub bytes: i64,
    pub objects: i64,
    pub uploaded: i64,
    pub deleted: i64,
    /// Objects whose headers were re-applied (copied in place, body unchanged).
    #[serde(default)]
    pub updated: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidation_id: Option<String>,
    /// Paths of changed content whose invalidation CloudFront has not
    /// accepted yet (too many in progress, throttling): asked again on every
    /// look until it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_invalidation: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecordStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub target: String,
    /// Route 53 change status: PENDING or INSYNC.
    pub status: String,
    /// The Route 53 change that last wrote the record, polled until INSYNC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    /// The hosted zone that holds the record (to remove it once spec.domain is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
}

impl StaticSiteStatus {
    /// One word for the `awsops_objects` metric (see [`super::conditions::state`]).
    pub fn state(&self) -> &'static str {
        super::conditions::state(&self.conditions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_spec() -> StaticSiteSpec {
        serde_json::from_value(serde_json::json!({})).expect("an empty spec parses with defaults")
    }

    fn mk_domain(names: &[&str]) -> DomainSpec {
        DomainSpec {
            names: names.iter().map(|n| DomainName((*n).into())).collect(),
            hosted_zone_id: None,
            hosted_zone_name: Some("example.com".into()),
            certificate_arn: None,
            record: RecordKind::Alias,
        }
    }

    #[test]
    fn an_empty_spec_takes_the_documented_defaults() {
        let spec = mk_spec();
        assert_eq!(spec.bucket.deletion_policy, DeletionPolicy::Retain);
        assert_eq!(spec.distribution.price_class, PriceClass::PriceClass100);
        assert!(spec.distribution.enabled);
        assert!(spec.content.prune);
        assert_eq!(spec.content.index_document, "index.html");
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn price_classes_use_the_cloudfront_spelling() {
        let json = serde_json::to_value(PriceClass::PriceClassAll).expect("serialises");
        assert_eq!(json, "PriceClass_All");
    }

    #[test]
    fn bucket_names_that_s3_refuses_are_invalid() {
        for bad in ["192.168.1.1", "xn--abc", "abc-s3alias", "ab"] {
            let mut spec = mk_spec();
            spec.bucket.name = Some(bad.into());
            let msg = spec.validate().expect_err(bad);
            assert!(msg.contains("spec.bucket.name"), "{msg}");
        }
    }

    #[test]
    fn a_certificate_outside_us_east_1_is_invalid() {
        let mut spec = mk_spec();
        let mut domain = mk_domain(&["static.example.com"]);
        domain.certificate_arn =
            Some("arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012".into());
        spec.domain = Some(domain);
        assert!(spec.validate().expect_err("invalid").contains("us-east-1"));
    }

    #[test]
    fn names_outside_the_hosted_zone_are_invalid() {
        let mut spec = mk_spec();
        spec.domain = Some(mk_domain(&["static.example.org"]));
        assert!(spec.validate().expect_err("invalid").contains("not inside hosted zone"));
        spec.domain = Some(mk_domain(&["static.example.com", "*.example.com", "example.com"]));
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn a_cname_at_the_zone_apex_is_invalid() {
        let mut spec = mk_spec();
        let mut domain = mk_domain(&["example.com"]);
        domain.record = RecordKind::Cname;
        spec.domain = Some(domain);
        assert!(spec.validate().expect_err("invalid").contains("apex"));
    }

    #[test]
    fn a_domain_needs_exactly_one_hosted_zone_reference() {
        let mut spec = mk_spec();
        let mut domain = mk_domain(&["static.example.com"]);
        domain.hosted_zone_id = Some("Z0123456789ABC".into());
        spec.domain = Some(domain);
        assert!(spec.validate().expect_err("invalid").contains("exactly one"));
    }

    #[test]
    fn duplicate_and_too_many_names_are_invalid() {
        let mut spec = mk_spec();
        spec.domain = Some(mk_domain(&["a.example.com", "a.example.com"]));
        assert!(spec.validate().expect_err("invalid").contains("listed twice"));
        let many: Vec<String> = (0..11).map(|i| format!("n{i}.example.com")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        spec.domain = Some(mk_domain(&refs));
        assert!(spec.validate().expect_err("invalid").contains("at most 10"));
    }

    #[test]
    fn routing_and_headers_parse_with_their_defaults() {
        let spec: StaticSiteSpec = serde_json::from_value(serde_json::json!({
            "routing": {"mode": "SPA", "redirects": [{"from": "/old/*", "to": "/new/:splat"}]},
            "headers": {}
        }))
        .expect("parses");
        let routing = spec.routing.as_ref().expect("routing");
        assert_eq!(routing.mode, RoutingMode::Spa);
        assert!(routing.subdirectory_index);
        assert_eq!(routing.redirects[0].status, 301);
        assert_eq!(spec.headers.as_ref().map(|h| h.preset), Some(HeadersPreset::Secure));
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn redirects_and_pages_the_function_cannot_serve_are_invalid() {
        let invalid = |routing: serde_json::Value| {
            let spec: StaticSiteSpec = serde_json::from_value(serde_json::json!({"routing": routing})).expect("parses");
            spec.validate().expect_err("invalid")
        };
        assert!(invalid(serde_json::json!({"notFound": "/404.html"})).contains("spec.routing.notFound"));
        let redirect = |from: &str, to: &str, status: u16| {
            invalid(serde_json::json!({"redirects": [{"from": from, "to": to, "status": status}]}))
        };
        assert!(redirect("old", "/new", 301).contains("redirects[0].from"));
        assert!(redirect("/a*b", "/new", 301).contains("redirects[0].from"));
        assert!(redirect("/old", "javascript:alert(1)", 301).contains("redirects[0].to"));
        assert!(redirect("/old", "/new\"'", 301).contains("redirects[0].to"));
        assert!(redirect("/old", "/new", 200).contains("not one of 301, 302, 307, 308"));
        assert!(
            redirect("/x/*", "//evil.example/:splat", 301).contains("redirects[0].to"),
            "another host, path-relative"
        );
        assert!(redirect("/x/*", "https://example.com:splat", 301).contains("in the host"));
        assert!(redirect("/old\u{7}", "/new", 301).contains("redirects[0].from"), "control characters");
        assert!(
            redirect("/caf\u{e9}", "/new", 301).contains("redirects[0].from"),
            "non-ASCII: the URI arrives percent-encoded"
        );
        assert!(invalid(serde_json::json!({"notFound": "404 .html"})).contains("spec.routing.notFound"));
        assert!(redirect("/old", "/new/:splat", 301).contains(":splat"));
        let many: Vec<serde_json::Value> =
            (0..21).map(|i| serde_json::json!({"from": format!("/{i}"), "to": "/x"})).collect();
        assert!(invalid(serde_json::json!({"redirects": many})).contains("at most 20"));
    }

    #[test]
    fn content_takes_one_source_a_folder_inside_it_and_rules_that_set_something() {
        let check = |content: serde_json::Value| {
            let spec: StaticSiteSpec = serde_json::from_value(serde_json::json!({"content": content})).expect("parses");
            spec.validate()
        };
        let archive = serde_json::json!({"url": "https://ci.example.com/site.tar.gz", "sha256": "a".repeat(64)});
        let oci = serde_json::json!({"ref": "registry.example.com/web/site:1.4.2", "secretRef": {"name": "regcred"}});
        assert_eq!(check(serde_json::json!({"archive": archive, "path": "public/"})), Ok(()));
        assert_eq!(check(serde_json::json!({"oci": oci, "path": "dist"})), Ok(()));
        let both = check(serde_json::json!({"archive": archive, "oci": oci})).expect_err("two sources");
        assert!(both.contains("set one of configMaps, archive and oci"), "{both}");
        let with_maps = check(serde_json::json!({"archive": archive, "configMaps": [{"name": "pages"}]}));
        assert!(with_maps.is_err());
        assert!(
            check(serde_json::json!({"archive": archive, "path": "../etc"}))
                .expect_err("..")
                .contains("spec.content.path")
        );
        assert!(
            check(serde_json::json!({"archive": archive, "path": "/abs"}))
                .expect_err("/")
                .contains("spec.content.path")
        );
        assert!(
            check(serde_json::json!({"path": "public"})).expect_err("no archive").contains("applies to an archive")
        );
        let no_host = check(serde_json::json!({"oci": {"ref": "web/site:1"}})).expect_err("no registry");
        assert!(no_host.contains("must name its registry host"), "{no_host}");
        let bad_ref = check(serde_json::json!({"oci": {"ref": "localhost:5000/Web/Site:!"}})).expect_err("bad ref");
        assert!(bad_ref.contains("not an OCI reference"), "{bad_ref}");
        let url = |url: &str| check(serde_json::json!({"archive": {"url": url, "sha256": "a".repeat(64)}}));
        for bad in [
            "https://evil.com\\.example.com/x.tar.gz",
            "https://ci.example.com:1@evil.com/x.tar.gz",
            "https://evil%2Ecom.example.com/x.tar.gz",
            "http://ci.example.com/x.tar.gz",
        ] {
            assert!(url(bad).expect_err(bad).contains("naming its host plainly"), "{bad}");
        }
        assert_eq!(url("https://ci.example.com:8443/site.tar.gz?X-Amz-Signature=s"), Ok(()));
        assert!(
            !url("https://ci@evil.com/x?X-Amz-Signature=secret").expect_err("userinfo").contains("secret"),
            "a presigned URL's query is not shown"
        );
        let rule = |rule: serde_json::Value| check(serde_json::json!({"rules": [rule]}));
        assert_eq!(rule(serde_json::json!({"match": "assets/**", "cacheControl": "immutable"})), Ok(()));
        assert!(
            rule(serde_json::json!({"match": "a/[", "cacheControl": "x"})).expect_err("glob").contains("not a glob")
        );
        assert!(rule(serde_json::json!({"match": "*.html"})).expect_err("empty").contains("sets nothing"));
        let header = rule(serde_json::json!({"match": "*", "contentType": "text/html\r\nX-Evil: 1"}));
        assert!(header.expect_err("header injection").contains("printable ASCII on one line"));
    }

    #[test]
    fn a_content_security_policy_is_one_line_of_at_most_1783_characters() {
        let mut spec = mk_spec();
        let csp =
            |value: String| Some(HeadersSpec { preset: HeadersPreset::Secure, content_security_policy: Some(value) });
        spec.headers = csp("a".repeat(1784));
        assert!(spec.validate().expect_err("invalid").contains("1783"));
        spec.headers = csp("default-src 'self'\nX-Evil: 1".into());
        assert!(spec.validate().expect_err("invalid").contains("one line"));
        spec.headers = csp("default-src 'self'".into());
        assert_eq!(spec.validate(), Ok(()));
    }
}
