//! Tenancy: may this object ask for what its spec asks, in its namespace?
//! Decided from the spec alone (no AWS read) against the TenantPolicies that
//! select the namespace; what they allow is the union. `Mode` says what a
//! refusal does: `Enforce` stalls the object (`NotPermitted`), `Audit` only
//! reports it (condition `Permitted=False` and an event), `Off` allows all.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::core::{Selector, SelectorExt};

use crate::api::conditions::{Desired, NOTHING_READ, Reason, Stall};
use crate::api::tenant_policy::TenantPolicy;
pub use crate::api::validation::{parsed_host, source_host};
use crate::api::{AuroraFailoverSpec, StaticSiteSpec};

/// What a refusal does (`awsops controller --tenancy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Refused objects stall with `NotPermitted`; nothing in AWS is read or changed for them.
    #[default]
    Enforce,
    /// Refusals are reported (`Permitted=False`, an event); objects go on.
    Audit,
    /// No policy is read; everything is allowed (one team, `awsops plan/apply`).
    Off,
}

/// The TenantPolicies and namespace labels, as the API server holds them now.
pub trait Policies: Send + Sync {
    fn policies(&self) -> Vec<Arc<TenantPolicy>>;
    /// A namespace's labels; `None` when the namespace is not known.
    fn labels(&self, namespace: &str) -> Option<BTreeMap<String, String>>;
}

/// The mode and where policies come from.
#[derive(Clone)]
pub struct Tenancy {
    pub mode: Mode,
    policies: Arc<dyn Policies>,
}

struct NoPolicies;

impl Policies for NoPolicies {
    fn policies(&self) -> Vec<Arc<TenantPolicy>> {
        Vec::new()
    }

    fn labels(&self, _: &str) -> Option<BTreeMap<String, String>> {
        None
    }
}

impl Tenancy {
    pub fn new(mode: Mode, policies: Arc<dyn Policies>) -> Self {
        Self { mode, policies }
    }

    /// Everything allowed, no policy read.
    pub fn off() -> Self {
        Self::new(Mode::Off, Arc::new(NoPolicies))
    }

    /// The verdict on what an object in `namespace` asks for.
    pub fn check(&self, namespace: &str, asks: &[Ask<'_>]) -> Verdict {
        if self.mode == Mode::Off {
            return Verdict::Unchecked;
        }
        let Some(labels) = self.policies.labels(namespace) else {
            let message = format!("namespace {namespace:?} is not listed yet; it is checked again when it is");
            return Verdict::Refused { message, enforced: self.mode == Mode::Enforce };
        };
        let governing: Vec<_> = self.policies.policies().into_iter().filter(|p| selects(p, &labels)).collect();
        match refusal(namespace, &governing, asks) {
            None => Verdict::Permitted,
            Some(message) => Verdict::Refused { message, enforced: self.mode == Mode::Enforce },
        }
    }
}

/// The outcome of [`Tenancy::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Tenancy is off: nothing to record.
    Unchecked,
    Permitted,
    /// No governing policy allows some of what the object asks for; the
    /// message names each field, value and the policy list to edit.
    Refused {
        message: String,
        enforced: bool,
    },
}

/// Condition type of the verdict (with `--tenancy enforce` or `audit`).
pub const PERMITTED: &str = "Permitted";

impl Verdict {
    /// The `Permitted` condition to record, if tenancy is on.
    pub fn condition(&self) -> Option<Desired> {
        match self {
            Self::Unchecked => None,
            Self::Permitted => {
                Some(Desired::new(PERMITTED, true, Reason::AsExpected, "a TenantPolicy allows this object"))
            }
            Self::Refused { message, .. } => Some(Desired::new(PERMITTED, false, Reason::NotPermitted, message)),
        }
    }

    /// The stall, when the refusal is enforced.
    pub fn stall(&self) -> Option<Stall> {
        match self {
            Self::Refused { message, enforced: true } => {
                Some(Stall::new(Reason::NotPermitted, format!("{message}. {NOTHING_READ}")))
            }
            _ => None,
        }
    }

    /// The conditions for a status: `Permitted`, plus the stall's when enforced.
    pub fn conditions(&self) -> Vec<Desired> {
        let mut out: Vec<Desired> = self.condition().into_iter().collect();
        if let Some(stall) = self.stall() {
            out.extend(stall.conditions());
        }
        out
    }
}

/// One thing an object asks for: the spec field it comes from, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask<'a> {
    pub field: String,
    pub want: Want<'a>,
}

/// The kinds of things a policy allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want<'a> {
    /// No `spec.roleArn`: the controller's own credentials.
    DefaultIdentity,
    Role(&'a str),
    HostedZoneName(&'a str),
    HostedZoneId(&'a str),
    Domain(&'a str),
    BucketName(&'a str),
    Adopt,
    Certificate(&'a str),
    Cluster(&'a str),
    /// A host content is fetched from (`host` or `host:port`).
    Source(&'a str),
}

impl Want<'_> {
    /// Whether `policy` allows it.
    fn allowed_by(self, policy: &TenantPolicy) -> bool {
        let (identity, sites) = (&policy.spec.identity, &policy.spec.static_sites);
        match self {
            Self::DefaultIdentity => identity.allow_default,
            Self::Role(arn) => identity.role_arns.iter().any(|p| role_matches(p, arn)),
            Self::HostedZoneName(zone) => sites.hosted_zones.iter().any(|p| glob(&dns_form(p), &dns_form(zone))),
            Self::HostedZoneId(id) => sites.hosted_zones.iter().any(|p| glob(zone_id(p), zone_id(id))),
            Self::Domain(name) => sites.domains.iter().any(|p| domain_matches(p, name)),
            Self::BucketName(name) => sites.bucket_names.iter().any(|p| glob(p, name)),
            Self::Adopt => sites.allow_adopt,
            Self::Certificate(arn) => sites.certificate_arns.iter().any(|p| glob(p, arn)),
            Self::Source(host) => sites.sources.iter().any(|p| glob(&p.to_lowercase(), &host.to_lowercase())),
            Self::Cluster(id) => {
                policy.spec.aurora_failovers.clusters.iter().any(|p| glob(&p.to_lowercase(), &id.to_lowercase()))
            }
        }
    }

    /// The value as the message shows it.
    fn value(self) -> String {
        match self {
            Self::DefaultIdentity => "(none: the controller's own credentials)".into(),
            Self::Adopt => "true".into(),
            Self::Role(v)
            | Self::HostedZoneName(v)
            | Self::HostedZoneId(v)
            | Self::Domain(v)
            | Self::BucketName(v)
            | Self::Certificate(v)
            | Self::Source(v)
            | Self::Cluster(v) => format!("{v:?}"),
        }
    }

    /// The policy field that would allow it.
    fn policy_field(self) -> &'static str {
        match self {
            Self::DefaultIdentity => "spec.identity.allowDefault: true",
            Self::Role(_) => "spec.identity.roleArns",
            Self::HostedZoneName(_) | Self::HostedZoneId(_) => "spec.staticSites.hostedZones",
            Self::Domain(_) => "spec.staticSites.domains",
            Self::BucketName(_) => "spec.staticSites.bucketNames",
            Self::Adopt => "spec.staticSites.allowAdopt: true",
            Self::Certificate(_) => "spec.staticSites.certificateArns",
            Self::Cluster(_) => "spec.auroraFailovers.clusters",
            Self::Source(_) => "spec.staticSites.sources",
        }
    }
}

/// What a StaticSite asks for.
pub fn site_asks(spec: &StaticSiteSpec) -> Vec<Ask<'_>> {
    let mut out = vec![identity_ask(spec.role_arn.as_deref())];
    if let Some(name) = &spec.bucket.name {
        out.push(ask("spec.bucket.name", Want::BucketName(name)));
    }
    if spec.bucket.adopt {
        out.push(ask("spec.bucket.adopt", Want::Adopt));
    }
    if let Some(domain) = &spec.domain {
        if let Some(zone) = &domain.hosted_zone_name {
            out.push(ask("spec.domain.hostedZoneName", Want::HostedZoneName(zone)));
        }
        if let Some(zone) = &domain.hosted_zone_id {
            out.push(ask("spec.domain.hostedZoneId", Want::HostedZoneId(zone)));
        }
        for (i, name) in domain.names.iter().enumerate() {
            out.push(ask(&format!("spec.domain.names[{i}]"), Want::Domain(&name.0)));
        }
        if let Some(arn) = &domain.certificate_arn {
            out.push(ask("spec.domain.certificateArn", Want::Certificate(arn)));
        }
    }
    if let Some(host) = spec.content.archive.as_ref().and_then(|a| source_host(&a.url)) {
        out.push(ask("spec.content.archive.url", Want::Source(host)));
    }
    if let Some(oci) = &spec.content.oci {
        let host = oci.reference.split('/').next().unwrap_or_default();
        out.push(ask("spec.content.oci.ref", Want::Source(host.strip_suffix(":443").unwrap_or(host))));
    }
    out
}

/// Whether `host` is one objects in `namespace` may fetch from (tenancy off
/// or audit: any).
impl Tenancy {
    pub fn source_allowed(&self, namespace: &str, host: &str) -> bool {
        let asks = [ask("source", Want::Source(host))];
        !matches!(self.check(namespace, &asks), Verdict::Refused { enforced: true, .. })
    }
}

/// What an AuroraFailover asks for.
pub fn failover_asks(spec: &AuroraFailoverSpec) -> Vec<Ask<'_>> {
    vec![identity_ask(spec.role_arn.as_deref()), ask("spec.clusterIdentifier", Want::Cluster(&spec.cluster_identifier))]
}

fn identity_ask(role_arn: Option<&str>) -> Ask<'_> {
    match role_arn {
        Some(arn) => ask("spec.roleArn", Want::Role(arn)),
        None => ask("spec.roleArn", Want::DefaultIdentity),
    }
}

fn ask<'a>(field: &str, want: Want<'a>) -> Ask<'a> {
    Ask { field: field.to_string(), want }
}

/// Why `asks` are refused in `namespace` under `policies`, or `None`.
fn refusal(namespace: &str, policies: &[Arc<TenantPolicy>], asks: &[Ask<'_>]) -> Option<String> {
    if policies.is_empty() {
        return Some(format!(
            "no TenantPolicy selects namespace {namespace:?}: a platform admin must create one whose \
             spec.namespaceSelector matches the namespace's labels and allows this object"
        ));
    }
    let refused: Vec<String> = asks
        .iter()
        .filter(|a| !policies.iter().any(|p| a.want.allowed_by(p)))
        .map(|a| format!("{} {} is not allowed (add it to {})", a.field, a.want.value(), a.want.policy_field()))
        .collect();
    if refused.is_empty() {
        return None;
    }
    let mut names: Vec<String> = policies.iter().map(|p| kube::ResourceExt::name_any(p.as_ref())).collect();
    names.sort();
    Some(format!(
        "in namespace {namespace:?}, {}; TenantPolicies selecting the namespace: {}",
        refused.join("; "),
        names.join(", ")
    ))
}

/// Whether the policy's namespace selector matches these namespace labels
/// (a selector the API server should have refused selects nothing).
fn selects(policy: &TenantPolicy, labels: &BTreeMap<String, String>) -> bool {
    match Selector::try_from(policy.spec.namespace_selector.clone()) {
        Ok(selector) => selector.matches(labels),
        Err(e) => {
            tracing::warn!(policy = %kube::ResourceExt::name_any(policy), error = %e, "TenantPolicy selector selects nothing");
            false
        }
    }
}

/// `*` matches any run of characters (none included); everything else is literal.
fn glob(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A role ARN pattern: everything up to the role name exact, `*` only inside
/// the name and never across a `/` of its path (so no pattern reaches
/// another account, or a role under a deeper path).
fn role_matches(pattern: &str, arn: &str) -> bool {
    let (Some((pattern_prefix, pattern_name)), Some((prefix, name))) =
        (pattern.split_once(":role/"), arn.split_once(":role/"))
    else {
        return false;
    };
    let (pattern_parts, parts): (Vec<&str>, Vec<&str>) = (pattern_name.split('/').collect(), name.split('/').collect());
    pattern_prefix == prefix
        && !pattern_prefix.contains('*')
        && pattern_parts.len() == parts.len()
        && pattern_parts.iter().zip(&parts).all(|(p, n)| glob(p, n))
}

/// A domain pattern: exact, `*.parent` for any depth below parent, `*` for any name.
fn domain_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (dns_form(pattern), dns_form(name));
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(parent) => name.ends_with(&format!(".{parent}")),
        None => pattern == name,
    }
}

/// Lowercase, without the root dot.
fn dns_form(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn zone_id(id: &str) -> &str {
    id.strip_prefix("/hostedzone/").unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tenant_policy::{AuroraFailoverPolicy, IdentityPolicy, StaticSitePolicy, TenantPolicySpec};

    fn policy(name: &str, spec: TenantPolicySpec) -> Arc<TenantPolicy> {
        Arc::new(TenantPolicy::new(name, spec))
    }

    fn web() -> Arc<TenantPolicy> {
        policy(
            "web-team",
            TenantPolicySpec {
                identity: IdentityPolicy {
                    allow_default: false,
                    role_arns: vec!["arn:aws:iam::111122223333:role/awsops-web-*".into()],
                },
                static_sites: StaticSitePolicy {
                    hosted_zones: vec!["example.com".into(), "Z0123".into()],
                    domains: vec!["*.web.example.com".into(), "web.example.com".into()],
                    bucket_names: vec!["web-*".into()],
                    sources: vec!["ci.example.com".into(), "*.artifacts.example.com:8443".into()],
                    ..Default::default()
                },
                ..Default::default()
            },
        )
    }

    fn everyone() -> Arc<TenantPolicy> {
        policy(
            "everyone",
            TenantPolicySpec {
                identity: IdentityPolicy { allow_default: true, role_arns: vec![] },
                aurora_failovers: AuroraFailoverPolicy { clusters: vec!["orders-*".into()] },
                ..Default::default()
            },
        )
    }

    fn allowed(policies: &[Arc<TenantPolicy>], want: Want<'_>) -> bool {
        refusal("web", policies, &[ask("spec.x", want)]).is_none()
    }

    #[test]
    fn a_star_matches_any_run_of_characters_and_nothing_else_is_special() {
        assert!(glob("web-*", "web-"));
        assert!(glob("web-*", "web-shop"));
        assert!(glob("*-prod", "orders-prod"));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(glob("*", ""));
        assert!(glob("exact", "exact"));
        assert!(!glob("web-*", "webshop"));
        assert!(!glob("a*b*c", "a-c-b"));
        assert!(!glob("ab*ba", "aba"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("web.*", "webx"));
    }

    #[test]
    fn a_role_pattern_never_reaches_another_account() {
        let p = "arn:aws:iam::111122223333:role/awsops-web-*";
        assert!(role_matches(p, "arn:aws:iam::111122223333:role/awsops-web-deploy"));
        assert!(!role_matches(p, "arn:aws:iam::111122223333:role/awsops-web-x/awsops-db-admin"));
        assert!(role_matches("arn:aws:iam::1:role/team/web-*", "arn:aws:iam::1:role/team/web-deploy"));
        assert!(!role_matches("arn:aws:iam::1:role/team/web-*", "arn:aws:iam::1:role/other/web-deploy"));
        assert!(!role_matches(p, "arn:aws:iam::999999999999:role/awsops-web-deploy"));
        assert!(!role_matches(p, "arn:aws:iam::111122223333:role/awsops-db"));
        assert!(!role_matches("arn:aws:iam::*:role/x", "arn:aws:iam::111122223333:role/x"));
        assert!(role_matches("arn:aws:iam::1:role/x", "arn:aws:iam::1:role/x"));
        assert!(!role_matches("arn:aws:iam::1:role/x", "arn:aws:iam::1:role/xy"));
    }

    #[test]
    fn a_domain_pattern_with_a_star_covers_every_depth_below_and_not_the_parent() {
        assert!(domain_matches("*.web.example.com", "a.web.example.com"));
        assert!(domain_matches("*.web.example.com", "a.b.web.example.com"));
        assert!(domain_matches("*.web.example.com", "*.web.example.com"));
        assert!(domain_matches("*.web.example.com", "A.Web.Example.com."));
        assert!(!domain_matches("*.web.example.com", "web.example.com"));
        assert!(!domain_matches("*.web.example.com", "evilweb.example.com"));
        assert!(domain_matches("web.example.com", "web.example.com"));
        assert!(!domain_matches("web.example.com", "www.web.example.com"));
        assert!(domain_matches("*", "anything.org"));
    }

    #[test]
    fn an_archive_is_fetched_only_from_a_listed_host_and_port() {
        let p = [web()];
        fn host(url: &str) -> &str {
            source_host(url).expect("https URL")
        }
        assert_eq!(host("https://ci.example.com/site.tar.gz"), "ci.example.com");
        assert_eq!(host("https://ci.example.com:443/site.tar.gz"), "ci.example.com", "443 is implied");
        assert_eq!(host("https://CI.example.com:8443?x"), "CI.example.com:8443");
        assert_eq!(source_host("http://ci.example.com/x"), None);
        assert!(allowed(&p, Want::Source(host("https://CI.example.com/a.tar.gz"))));
        assert!(!allowed(&p, Want::Source(host("https://ci.example.com:8443/a.tar.gz"))), "another port");
        assert!(allowed(&p, Want::Source(host("https://eu.artifacts.example.com:8443/a.zip"))));
        assert!(!allowed(&p, Want::Source(host("https://evil.com/a.zip"))));
        let spec: StaticSiteSpec = serde_json::from_value(serde_json::json!({
            "content": {"archive": {"url": "https://evil.com/site.tar.gz", "sha256": "0".repeat(64)}}
        }))
        .expect("spec");
        let message = refusal("web", &p, &site_asks(&spec)).expect("refused");
        assert!(
            message
                .contains("spec.content.archive.url \"evil.com\" is not allowed (add it to spec.staticSites.sources)"),
            "{message}"
        );
    }

    #[test]
    fn zones_match_in_the_form_the_spec_names_them() {
        let p = [web()];
        assert!(allowed(&p, Want::HostedZoneName("example.com.")));
        assert!(allowed(&p, Want::HostedZoneName("EXAMPLE.com")));
        assert!(!allowed(&p, Want::HostedZoneName("other.com")));
        assert!(allowed(&p, Want::HostedZoneId("/hostedzone/Z0123")));
        assert!(allowed(&p, Want::HostedZoneId("Z0123")));
        assert!(!allowed(&p, Want::HostedZoneId("Z9999")));
    }

    #[test]
    fn what_several_policies_allow_is_their_union() {
        let both = [web(), everyone()];
        assert!(allowed(&both, Want::DefaultIdentity), "from everyone");
        assert!(allowed(&both, Want::Role("arn:aws:iam::111122223333:role/awsops-web-x")), "from web-team");
        assert!(allowed(&both, Want::Cluster("orders-1")));
        assert!(!allowed(&[web()], Want::DefaultIdentity));
        assert!(!allowed(&[web()], Want::Cluster("orders-1")));
        assert!(!allowed(&both, Want::Adopt), "neither allows adoption");
        assert!(!allowed(&both, Want::BucketName("shop-assets")));
        assert!(allowed(&both, Want::BucketName("web-assets")));
    }

    #[test]
    fn a_namespace_selector_selects_by_labels_and_an_empty_one_selects_all() {
        let with_selector = |selector: serde_json::Value| {
            let mut p = TenantPolicy::new("p", TenantPolicySpec::default());
            p.spec.namespace_selector = serde_json::from_value(selector).expect("selector");
            p
        };
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let team_web = with_selector(serde_json::json!({"matchLabels": {"team": "web"}}));
        assert!(selects(&team_web, &labels(&[("team", "web"), ("env", "prod")])));
        assert!(!selects(&team_web, &labels(&[("team", "db")])));
        assert!(!selects(&team_web, &labels(&[])));
        let all = with_selector(serde_json::json!({}));
        assert!(selects(&all, &labels(&[])));
        let not_db = with_selector(
            serde_json::json!({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["db"]}]}),
        );
        assert!(selects(&not_db, &labels(&[("team", "web")])));
        assert!(!selects(&not_db, &labels(&[("team", "db")])));
        let broken =
            with_selector(serde_json::json!({"matchExpressions": [{"key": "team", "operator": "Near", "values": []}]}));
        assert!(!selects(&broken, &labels(&[("team", "web")])), "a broken selector selects nothing");
    }

    #[test]
    fn no_policy_refuses_everything_and_says_who_must_act() {
        let message = refusal("web", &[], &[ask("spec.roleArn", Want::DefaultIdentity)]).expect("refused");
        assert!(message.contains("no TenantPolicy selects namespace \"web\""), "{message}");
    }

    #[test]
    fn a_refusal_names_every_field_its_value_and_the_list_to_edit() {
        let asks = [
            ask("spec.domain.names[0]", Want::Domain("shop.other.org")),
            ask("spec.domain.names[1]", Want::Domain("a.web.example.com")),
            ask("spec.bucket.adopt", Want::Adopt),
        ];
        let message = refusal("web", &[web()], &asks).expect("refused");
        assert!(message.contains("spec.domain.names[0] \"shop.other.org\" is not allowed"), "{message}");
        assert!(message.contains("spec.staticSites.domains"), "{message}");
        assert!(
            message.contains("spec.bucket.adopt true is not allowed (add it to spec.staticSites.allowAdopt: true)")
        );
        assert!(!message.contains("names[1]"), "an allowed name is not listed: {message}");
        assert!(message.ends_with("TenantPolicies selecting the namespace: web-team"), "{message}");
    }

    #[test]
    fn a_site_asks_for_its_identity_names_zone_bucket_and_adoption() {
        let spec: StaticSiteSpec = serde_json::from_value(serde_json::json!({
            "bucket": {"name": "web-assets", "adopt": true},
            "domain": {"names": ["www.web.example.com"], "hostedZoneName": "example.com"},
            "roleArn": "arn:aws:iam::111122223333:role/awsops-web-site"
        }))
        .expect("spec");
        let wants: Vec<Want<'_>> = site_asks(&spec).into_iter().map(|a| a.want).collect();
        assert_eq!(
            wants,
            vec![
                Want::Role("arn:aws:iam::111122223333:role/awsops-web-site"),
                Want::BucketName("web-assets"),
                Want::Adopt,
                Want::HostedZoneName("example.com"),
                Want::Domain("www.web.example.com"),
            ]
        );
        let plain: StaticSiteSpec = serde_json::from_value(serde_json::json!({})).expect("spec");
        assert_eq!(site_asks(&plain).iter().map(|a| a.want).collect::<Vec<_>>(), vec![Want::DefaultIdentity]);
    }

    #[test]
    fn the_mode_decides_what_a_refusal_does() {
        struct Fixed(Vec<Arc<TenantPolicy>>);
        impl Policies for Fixed {
            fn policies(&self) -> Vec<Arc<TenantPolicy>> {
                self.0.clone()
            }
            fn labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
                (namespace != "unlisted").then(BTreeMap::new)
            }
        }
        let asks = [ask("spec.clusterIdentifier", Want::Cluster("billing"))];
        let with = |mode| Tenancy::new(mode, Arc::new(Fixed(vec![everyone()]))).check("web", &asks);
        assert_eq!(with(Mode::Off), Verdict::Unchecked);
        assert!(with(Mode::Off).conditions().is_empty());
        let audit = with(Mode::Audit);
        assert!(audit.stall().is_none());
        assert_eq!(audit.conditions().len(), 1);
        assert_eq!(audit.condition().map(|c| c.status), Some(false));
        let enforce = with(Mode::Enforce);
        let stall = enforce.stall().expect("enforced");
        assert_eq!(stall.reason, Reason::NotPermitted);
        assert!(stall.message.contains("spec.clusterIdentifier \"billing\""), "{}", stall.message);
        assert!(stall.message.ends_with("Nothing was read or changed in AWS."));
        let ok = Tenancy::new(Mode::Enforce, Arc::new(Fixed(vec![everyone()])))
            .check("web", &[ask("spec.clusterIdentifier", Want::Cluster("orders-9"))]);
        assert_eq!(ok, Verdict::Permitted);
        assert_eq!(ok.condition().map(|c| c.status), Some(true));
        let unlisted = Tenancy::new(Mode::Enforce, Arc::new(Fixed(vec![everyone()])))
            .check("unlisted", &[ask("spec.clusterIdentifier", Want::Cluster("orders-9"))]);
        assert!(unlisted.stall().is_some(), "a namespace not listed yet is refused until it is");
    }
}
