//! `TenantPolicy` (cluster-scoped): what the objects in the namespaces it
//! selects may ask for. The platform team writes them; an object is governed
//! by every policy whose selector matches its namespace, and may have what
//! any of them allows. The checks are in `core::tenancy`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// What the StaticSites and AuroraFailovers of the selected namespaces may
/// touch in AWS. Everything not listed is refused (with `--tenancy enforce`).
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[kube(
    group = "awsops.dev",
    version = "v1alpha1",
    kind = "TenantPolicy",
    category = "awsops",
    doc = "What the awsops objects of the selected namespaces may touch in AWS.",
    printcolumn(name = "Namespaces", type_ = "string", json_path = ".spec.namespaceSelector"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct TenantPolicySpec {
    /// The namespaces this policy governs: a standard label selector; `{}`
    /// selects every namespace.
    pub namespace_selector: LabelSelector,

    /// The AWS identities objects may use.
    #[serde(default)]
    pub identity: IdentityPolicy,

    /// What StaticSites may claim.
    #[serde(default)]
    pub static_sites: StaticSitePolicy,

    /// What AuroraFailovers may fail over.
    #[serde(default)]
    pub aurora_failovers: AuroraFailoverPolicy,
}

/// The AWS identities objects may use.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityPolicy {
    /// Objects without `spec.roleArn` may use the controller's own credentials.
    #[serde(default)]
    pub allow_default: bool,

    /// Values `spec.roleArn` may take: an exact ARN, or `*` inside the role
    /// name (`arn:aws:iam::111122223333:role/awsops-web-*`); the account is
    /// always exact.
    #[serde(default)]
    pub role_arns: Vec<String>,
}

/// What StaticSites may claim.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaticSitePolicy {
    /// Hosted zones sites may write records in, as the spec names them: a
    /// name matches `spec.domain.hostedZoneName`, an id `spec.domain.hostedZoneId`
    /// (`*` matches any run of characters).
    #[serde(default)]
    pub hosted_zones: Vec<String>,

    /// Names sites may claim in `spec.domain.names`: exact, or `*.example.com`
    /// for any name at any depth below example.com; `*` for any name.
    #[serde(default)]
    pub domains: Vec<String>,

    /// Explicit `spec.bucket.name` values allowed (`*` matches any run of
    /// characters). Names the controller derives are always allowed.
    #[serde(default)]
    pub bucket_names: Vec<String>,

    /// `spec.bucket.adopt` may take an untagged or released bucket.
    #[serde(default)]
    pub allow_adopt: bool,

    /// Certificates sites may name in `spec.domain.certificateArn` (`*`
    /// matches any run of characters); sites that request their own need none.
    #[serde(default)]
    pub certificate_arns: Vec<String>,

    /// Hosts sites may fetch content from (`spec.content.archive.url` and
    /// where it redirects, the registry of `spec.content.oci.ref`):
    /// `ci.example.com`, `*.example.com`, with `:port` when not 443 (`*`
    /// matches any run of characters).
    #[serde(default)]
    pub sources: Vec<String>,
}

/// What AuroraFailovers may fail over.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuroraFailoverPolicy {
    /// Cluster identifiers (`*` matches any run of characters).
    #[serde(default)]
    pub clusters: Vec<String>,
}
