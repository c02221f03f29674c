//! Pure decisions for a StaticSite, one function per step of API.md's order:
//! identity, bucket, certificate, distribution, bucket policy, content, DNS,
//! and deletion. No I/O; each has table tests below.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::api::static_site::{DeletionPolicy, PriceClass, RecordKind, StaticSiteSpec, StaticSiteStatus};
use crate::api::{TAG_OWNER, TAG_UID};
use crate::aws::acm::{Certificate, ISSUED};
use crate::aws::cloudfront::{CACHING_OPTIMIZED, DistributionSettings};
use crate::aws::route53::{Record, RecordChange};
use crate::aws::s3::{BucketPresence, BucketSettings, ObjectInfo};

/// Reasons specific to StaticSite.
pub mod why {
    pub const BUCKET_NOT_OWNED: &str = "BucketNotOwned";
    pub const HOSTED_ZONE_NOT_FOUND: &str = "HostedZoneNotFound";
    pub const NAMES_OUTSIDE_ZONE: &str = "NamesOutsideZone";
    pub const CERTIFICATE_NOT_FOUND: &str = "CertificateNotFound";
    pub const CERTIFICATE_NOT_USABLE: &str = "CertificateNotUsable";
    pub const CERTIFICATE_FAILED: &str = "CertificateFailed";
    pub const CONFIG_MAP_NOT_FOUND: &str = "ConfigMapNotFound";
    pub const CONTENT_TOO_LARGE: &str = "ContentTooLarge";
    pub const RECORD_OWNED_ELSEWHERE: &str = "RecordOwnedElsewhere";
    pub const ALIAS_IN_USE: &str = "AliasInUse";
    pub const WAITING_FOR_CERTIFICATE: &str = "WaitingForCertificate";
    pub const DEPLOYING: &str = "Deploying";
    pub const PROVISIONING: &str = "Provisioning";
    pub const READY: &str = "Ready";
    pub const DELETING: &str = "Deleting";
}

/// A failed precondition: `Stalled` with this reason and message, nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    pub reason: &'static str,
    pub message: String,
}

impl Stall {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

/// CloudFront refused an alias another distribution (in any account) holds:
/// a stall, since no retry can succeed until that distribution lets go.
pub fn alias_in_use(code: &str, aliases: &[String], detail: &str) -> Option<Stall> {
    (code == "CNAMEAlreadyExists").then(|| {
        Stall::new(
            why::ALIAS_IN_USE,
            format!(
                "CloudFront says one of {aliases:?} is already an alternate domain name of another distribution ({detail}): \
                 remove it from that distribution, or from spec.domain.names"
            ),
        )
    })
}

/// Who a site is in AWS: names, tags and references derived from the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub region: String,
    pub bucket: String,
}

impl Identity {
    /// Resolves the bucket name and region, refusing changes to either once recorded.
    pub fn resolve(
        spec: &StaticSiteSpec,
        status: &StaticSiteStatus,
        namespace: &str,
        name: &str,
        uid: &str,
        default_region: Option<&str>,
    ) -> Result<Self, Stall> {
        let region = match spec.region.as_deref().or(default_region) {
            Some(r) => r.to_string(),
            None => {
                return Err(Stall::new(
                    crate::api::conditions::reason::INVALID_SPEC,
                    "no AWS region: set spec.region or the controller's AWS_REGION",
                ));
            }
        };
        let bucket = spec.bucket.name.clone().unwrap_or_else(|| default_bucket_name(namespace, name, uid));
        if let Some(recorded) = &status.bucket {
            if recorded.name != bucket {
                return Err(Stall::new(
                    crate::api::conditions::reason::IMMUTABLE_FIELD,
                    format!(
                        "spec.bucket.name is immutable: the site uses bucket {:?}; restore the field (a new bucket needs a new StaticSite)",
                        recorded.name
                    ),
                ));
            }
            if recorded.region != region {
                return Err(Stall::new(
                    crate::api::conditions::reason::IMMUTABLE_FIELD,
                    format!("spec.region is immutable: the site lives in {:?}; restore the field", recorded.region),
                ));
            }
        }
        Ok(Self { namespace: namespace.into(), name: name.into(), uid: uid.into(), region, bucket })
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_OWNER.to_string(), format!("{}/{}", self.namespace, self.name)),
            (TAG_UID.to_string(), self.uid.clone()),
        ])
    }

    pub fn origin_domain(&self) -> String {
        format!("{}.s3.{}.amazonaws.com", self.bucket, self.region)
    }

    pub fn oac_name(&self) -> String {
        format!("awsops-{}", self.uid)
    }

    pub fn bucket_arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.bucket)
    }
}

/// `awsops-<namespace>-<name>-<uid prefix>`, lowercased and cut to S3's 63 characters.
pub fn default_bucket_name(namespace: &str, name: &str, uid: &str) -> String {
    let clean = |s: &str| {
        s.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>()
    };
    let suffix: String =
        uid.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect::<String>().to_ascii_lowercase();
    let mut head = format!("awsops-{}-{}", clean(namespace), clean(name));
    head.truncate(63 - suffix.len() - 1);
    format!("{}-{suffix}", head.trim_end_matches('-'))
}

/// One bucket change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketStep {
    Create,
    Tag,
    BlockPublicAccess,
    EnforceOwner,
    Encrypt,
}

/// What the bucket needs, or why it must not be touched.
/// What entitles a site to an existing bucket that lacks its uid tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketClaim {
    /// Nothing: such a bucket is someone else's.
    None,
    /// `spec.bucket.adopt: true`: any bucket of this account.
    Adopt,
    /// Status records that this site was creating it (a crash or a lost
    /// response between CreateBucket and tagging): an untagged bucket only.
    Creating,
}

pub fn bucket_steps(
    presence: &BucketPresence,
    settings: Option<&BucketSettings>,
    id: &Identity,
    claim: BucketClaim,
) -> Result<Vec<BucketStep>, Stall> {
    let settings = match presence {
        BucketPresence::OtherAccount => {
            return Err(Stall::new(
                why::BUCKET_NOT_OWNED,
                format!("bucket {:?} belongs to another AWS account: choose another spec.bucket.name", id.bucket),
            ));
        }
        BucketPresence::Missing => {
            return Ok(vec![
                BucketStep::Create,
                BucketStep::Tag,
                BucketStep::BlockPublicAccess,
                BucketStep::EnforceOwner,
                BucketStep::Encrypt,
            ]);
        }
        BucketPresence::Exists => settings.cloned().unwrap_or_default(),
    };
    let mut steps = Vec::new();
    let ours = settings.tags.get(TAG_UID) == Some(&id.uid);
    let claimed = match claim {
        BucketClaim::None => false,
        BucketClaim::Adopt => true,
        BucketClaim::Creating => !settings.tags.contains_key(TAG_UID),
    };
    if !ours {
        if !claimed {
            let owner =
                settings.tags.get(TAG_OWNER).map(|o| format!(" (it is managed by StaticSite {o})")).unwrap_or_default();
            return Err(Stall::new(
                why::BUCKET_NOT_OWNED,
                format!(
                    "bucket {:?} already exists and is not this site's{owner}: set spec.bucket.adopt: true to take it over, or choose another name",
                    id.bucket
                ),
            ));
        }
        steps.push(BucketStep::Tag);
    } else if id.tags().iter().any(|(k, v)| settings.tags.get(k) != Some(v)) {
        steps.push(BucketStep::Tag);
    }
    if !settings.public_access_blocked {
        steps.push(BucketStep::BlockPublicAccess);
    }
    if !settings.owner_enforced {
        steps.push(BucketStep::EnforceOwner);
    }
    if !settings.encrypted {
        steps.push(BucketStep::Encrypt);
    }
    Ok(steps)
}

/// The bucket policy: `s3:GetObject` for CloudFront, only from this distribution.
pub fn bucket_policy(id: &Identity, distribution_arn: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowCloudFrontServicePrincipalReadOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": format!("{}/*", id.bucket_arn()),
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        }]
    })
}

/// Whether the current policy document differs from the desired one (compared
/// as JSON, so formatting and key order do not count).
pub fn policy_differs(current: Option<&str>, desired: &serde_json::Value) -> bool {
    current.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()).as_ref() != Some(desired)
}

/// Every name is the zone or inside it.
pub fn names_outside_zone<'a>(names: impl IntoIterator<Item = &'a str>, zone: &str) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| {
            let bare = n.trim_start_matches("*.");
            bare != zone && !bare.ends_with(&format!(".{zone}"))
        })
        .map(str::to_string)
        .collect()
}

/// Whether a certificate for `cert_names` serves `name` (exact, or one-label wildcard).
pub fn covers(cert_names: &[String], name: &str) -> bool {
    cert_names.iter().any(|c| {
        c == name
            || (c.starts_with("*.")
                && name.split_once('.').is_some_and(|(first, rest)| first != "*" && rest == &c[2..]))
    })
}

/// Checks a certificate named in `spec.domain.certificateArn`.
pub fn check_given_certificate(names: &[String], cert: &Certificate) -> Result<(), Stall> {
    let (arn, region, cert_names) = (&cert.arn, &cert.region, &cert.names);
    if region != "us-east-1" {
        return Err(Stall::new(
            why::CERTIFICATE_NOT_USABLE,
            format!("certificate {arn} is in {region}; CloudFront only uses certificates from us-east-1"),
        ));
    }
    let missing: Vec<&String> = names.iter().filter(|n| !covers(cert_names, n)).collect();
    if !missing.is_empty() {
        return Err(Stall::new(
            why::CERTIFICATE_NOT_USABLE,
            format!(
                "certificate {arn} does not cover {missing:?} (it covers {cert_names:?}): use a certificate for every name, or omit certificateArn"
            ),
        ));
    }
    if never_issued(cert) {
        return Err(Stall::new(
            why::CERTIFICATE_NOT_USABLE,
            format!(
                "certificate {arn} is {}: renew or replace it and update spec.domain.certificateArn, or remove certificateArn to have one requested",
                status_and_reason(cert)
            ),
        ));
    }
    Ok(())
}

/// Anything but ISSUED or PENDING_VALIDATION: ACM will not issue it as it stands.
fn never_issued(cert: &Certificate) -> bool {
    cert.status != ISSUED && cert.status != "PENDING_VALIDATION"
}

/// e.g. `FAILED (CAA_ERROR)`.
fn status_and_reason(cert: &Certificate) -> String {
    match &cert.failure_reason {
        Some(reason) => format!("{} ({reason})", cert.status),
        None => cert.status.clone(),
    }
}

/// A certificate the site requested that ACM will never issue: the site
/// stalls with what to fix; once the user deletes it, a new one is requested
/// (see [`certificate_token`]).
pub fn certificate_failed(cert: &Certificate) -> Option<Stall> {
    if !never_issued(cert) {
        return None;
    }
    let hint = match (cert.status.as_str(), cert.failure_reason.as_deref()) {
        ("VALIDATION_TIMED_OUT", _) => {
            " The validation records were not seen for 72 hours: check that the hosted zone is the one the domain's registrar delegates to (NS records)."
        }
        (_, Some("CAA_ERROR")) => " A CAA record forbids Amazon: allow amazon.com in the domain's CAA records.",
        _ => "",
    };
    let arn = &cert.arn;
    Some(Stall::new(
        why::CERTIFICATE_FAILED,
        format!(
            "certificate {arn} is {}; ACM will not issue it.{hint} Then delete it (aws acm delete-certificate --region us-east-1 --certificate-arn {arn}) and the site requests a new one at its next look",
            status_and_reason(cert)
        ),
    ))
}

/// The idempotency token for a certificate request: stable for the same site
/// and names (a retry after a lost response gets the same certificate), and
/// new once the recorded certificate it `replaces` is gone.
pub fn certificate_token(uid: &str, names: &[String], replaces: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(uid);
    for n in names {
        h.update(n);
    }
    if let Some(previous) = replaces {
        h.update(previous);
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// The distribution's settings as the spec declares them.
pub fn desired_distribution(
    spec: &StaticSiteSpec,
    id: &Identity,
    oac_id: &str,
    certificate_arn: Option<&str>,
) -> DistributionSettings {
    let mut aliases: Vec<String> = spec.domain.iter().flat_map(|d| d.names.iter().map(|n| n.0.clone())).collect();
    aliases.sort();
    let price_class = match spec.distribution.price_class {
        PriceClass::PriceClass100 => "PriceClass_100",
        PriceClass::PriceClass200 => "PriceClass_200",
        PriceClass::PriceClassAll => "PriceClass_All",
    };
    let with_cert = certificate_arn.filter(|_| !aliases.is_empty());
    DistributionSettings {
        origin_id: format!("s3-{}", id.bucket),
        origin_domain: id.origin_domain(),
        oac_id: Some(oac_id.to_string()),
        enabled: spec.distribution.enabled,
        price_class: price_class.into(),
        comment: spec.distribution.comment.clone().unwrap_or_else(|| format!("awsops {}/{}", id.namespace, id.name)),
        default_root_object: spec.content.index_document.clone(),
        aliases: if with_cert.is_some() { aliases } else { Vec::new() },
        certificate_arn: with_cert.map(str::to_string),
        ssl_support_method: with_cert.map(|_| "sni-only".to_string()),
        minimum_protocol_version: with_cert.map(|_| "TLSv1.2_2021".to_string()),
        viewer_protocol_policy: "redirect-to-https".into(),
        compress: true,
        cache_policy_id: CACHING_OPTIMIZED.into(),
        ipv6: true,
    }
}

/// The owned fields that differ (empty: in sync). An OAC id CloudFront did
/// not return is not counted as drift.
pub fn distribution_drift(desired: &DistributionSettings, actual: &DistributionSettings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |field, differs: bool| {
        if differs {
            out.push(field);
        }
    };
    check("origin", desired.origin_domain != actual.origin_domain || desired.origin_id != actual.origin_id);
    check("originAccessControlId", actual.oac_id.is_some() && desired.oac_id != actual.oac_id);
    check("enabled", desired.enabled != actual.enabled);
    check("priceClass", desired.price_class != actual.price_class);
    check("comment", desired.comment != actual.comment);
    check("defaultRootObject", desired.default_root_object != actual.default_root_object);
    check("aliases", desired.aliases != actual.aliases);
    check("certificate", desired.certificate_arn != actual.certificate_arn);
    check(
        "tls",
        desired.certificate_arn.is_some()
            && (desired.ssl_support_method != actual.ssl_support_method
                || desired.minimum_protocol_version != actual.minimum_protocol_version),
    );
    check("viewerProtocolPolicy", desired.viewer_protocol_policy != actual.viewer_protocol_policy);
    check("compress", desired.compress != actual.compress);
    check("cachePolicy", desired.cache_policy_id != actual.cache_policy_id);
    check("ipv6", desired.ipv6 != actual.ipv6);
    out
}

/// One file the sources declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFile {
    pub key: String,
    pub md5_hex: String,
    pub size: usize,
}

/// What content sync does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentPlan {
    pub upload: Vec<String>,
    /// Keys to delete if HeadObject shows this site uploaded them.
    pub prune_candidates: Vec<String>,
    pub unchanged: usize,
}

/// Uploads what is missing or whose MD5 differs; with `prune`, every other
/// key is a candidate for deletion (only this site's objects are deleted).
pub fn content_plan(desired: &[DesiredFile], existing: &[ObjectInfo], prune: bool) -> ContentPlan {
    let have: BTreeMap<&str, &str> = existing.iter().map(|o| (o.key.as_str(), o.etag.as_str())).collect();
    let want: BTreeSet<&str> = desired.iter().map(|f| f.key.as_str()).collect();
    let mut plan = ContentPlan::default();
    for f in desired {
        if have.get(f.key.as_str()).is_some_and(|etag| etag.eq_ignore_ascii_case(&f.md5_hex)) {
            plan.unchanged += 1;
        } else {
            plan.upload.push(f.key.clone());
        }
    }
    if prune {
        plan.prune_candidates =
            existing.iter().filter(|o| !want.contains(o.key.as_str())).map(|o| o.key.clone()).collect();
    }
    plan
}

/// CloudFront paths to invalidate for changed keys: exactly those, plus `/`
/// when the index document changed; `/*` past CloudFront's in-flight limit.
pub fn invalidation_paths(changed: &[String], index_document: &str) -> Vec<String> {
    const MAX_PATHS: usize = 3000;
    let mut paths: BTreeSet<String> = changed.iter().map(|k| format!("/{}", k.replace(' ', "%20"))).collect();
    if changed.iter().any(|k| k == index_document) {
        paths.insert("/".into());
    }
    if paths.len() > MAX_PATHS {
        return vec!["/*".into()];
    }
    paths.into_iter().collect()
}

/// The TXT record that marks `name` as this site's (external-dns style).
pub fn ownership_record_name(name: &str) -> String {
    match name.strip_prefix("*.") {
        Some(rest) => format!("_awsops-wildcard.{rest}"),
        None => format!("_awsops.{name}"),
    }
}

pub fn ownership_value(id: &Identity) -> String {
    format!("\"heritage=awsops,awsops.dev/owner={}/{},awsops.dev/uid={}\"", id.namespace, id.name, id.uid)
}

fn owned_by(records: &[Record], name: &str, uid: &str) -> bool {
    let txt = ownership_record_name(name);
    records.iter().any(|r| {
        r.name == txt && r.type_ == "TXT" && r.values.iter().any(|v| v.contains(&format!("awsops.dev/uid={uid}")))
    })
}

/// The records each name needs.
pub fn desired_records(names: &[String], kind: RecordKind, target: &str, id: &Identity) -> Vec<Record> {
    let mut out = Vec::new();
    for name in names {
        match kind {
            RecordKind::Alias => {
                for type_ in ["A", "AAAA"] {
                    out.push(Record {
                        name: name.clone(),
                        type_: type_.into(),
                        alias: Some(target.to_string()),
                        values: vec![],
                    });
                }
            }
            RecordKind::Cname => out.push(Record {
                name: name.clone(),
                type_: "CNAME".into(),
                alias: None,
                values: vec![target.to_string()],
            }),
        }
        out.push(Record {
            name: ownership_record_name(name),
            type_: "TXT".into(),
            alias: None,
            values: vec![ownership_value(id)],
        });
    }
    out
}

/// The changes that make the zone hold `desired` (and drop this site's records
/// for names it no longer declares), or a stall when a record at one of the
/// names exists and is not this site's.
pub fn dns_changes(
    desired: &[Record],
    existing: &[Record],
    names: &[String],
    previous_names: &[String],
    id: &Identity,
) -> Result<Vec<RecordChange>, Stall> {
    let mut changes = Vec::new();
    for name in names {
        let ours = owned_by(existing, name, &id.uid);
        let conflicting: Vec<&Record> = existing
            .iter()
            .filter(|r| &r.name == name && ["A", "AAAA", "CNAME"].contains(&r.type_.as_str()))
            .filter(|r| !desired.contains(r))
            .collect();
        if !ours && !conflicting.is_empty() {
            return Err(Stall::new(
                why::RECORD_OWNED_ELSEWHERE,
                format!(
                    "{name} already has a {} record that this site did not create: remove it or choose another name (awsops never overwrites records it does not own)",
                    conflicting[0].type_
                ),
            ));
        }
        if ours {
            // Our record of another type (Alias <-> CNAME switch) goes first.
            for r in &conflicting {
                changes.push(RecordChange::Delete((*r).clone()));
            }
        }
    }
    for r in desired {
        if !existing.contains(r) {
            changes.push(RecordChange::Upsert(r.clone()));
        }
    }
    for gone in previous_names.iter().filter(|n| !names.contains(n)) {
        if owned_by(existing, gone, &id.uid) {
            let txt = ownership_record_name(gone);
            for r in existing.iter().filter(|r| &r.name == gone || r.name == txt) {
                changes.push(RecordChange::Delete(r.clone()));
            }
        }
    }
    Ok(changes)
}

/// Records this site owns for `names`, to delete on cleanup.
pub fn owned_records(existing: &[Record], names: &[String], uid: &str) -> Vec<Record> {
    names
        .iter()
        .filter(|n| owned_by(existing, n, uid))
        .flat_map(|n| {
            let txt = ownership_record_name(n);
            existing.iter().filter(move |r| (&r.name == n && r.type_ != "TXT") || r.name == txt).cloned()
        })
        .collect()
}

/// Step 8: Ready only when the distribution is `Deployed` and every DNS change
/// is `INSYNC`; otherwise still deploying.
pub fn finished(distribution_status: &str, dns_statuses: &[&str]) -> bool {
    distribution_status == crate::aws::cloudfront::DEPLOYED
        && dns_statuses.iter().all(|s| *s == crate::aws::route53::INSYNC)
}

/// Deletion: what to do with the distribution this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistributionTeardown {
    Gone,
    Disable,
    WaitForDeployment,
    Delete,
}

pub fn distribution_teardown(enabled: Option<bool>, status: Option<&str>) -> DistributionTeardown {
    match (enabled, status) {
        (None, _) => DistributionTeardown::Gone,
        (Some(true), _) => DistributionTeardown::Disable,
        (Some(false), Some(crate::aws::cloudfront::DEPLOYED)) => DistributionTeardown::Delete,
        (Some(false), _) => DistributionTeardown::WaitForDeployment,
    }
}

/// Whether cleanup empties and deletes the bucket.
pub fn deletes_bucket(policy: DeletionPolicy) -> bool {
    policy == DeletionPolicy::Delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::static_site::{DomainName, DomainSpec};

    fn mk_id() -> Identity {
        Identity {
            namespace: "web".into(),
            name: "marketing".into(),
            uid: "1234abcd-0000".into(),
            region: "eu-west-1".into(),
            bucket: "site-bucket".into(),
        }
    }

    fn mk_spec() -> StaticSiteSpec {
        serde_json::from_value(serde_json::json!({})).expect("defaults")
    }

    fn ours() -> BucketSettings {
        BucketSettings {
            tags: mk_id().tags(),
            public_access_blocked: true,
            owner_enforced: true,
            encrypted: true,
            policy: None,
        }
    }

    #[test]
    fn a_missing_bucket_is_created_private_encrypted_and_tagged() {
        let steps = bucket_steps(&BucketPresence::Missing, None, &mk_id(), BucketClaim::None).expect("ok");
        assert_eq!(
            steps,
            vec![
                BucketStep::Create,
                BucketStep::Tag,
                BucketStep::BlockPublicAccess,
                BucketStep::EnforceOwner,
                BucketStep::Encrypt
            ]
        );
    }

    #[test]
    fn a_bucket_in_sync_needs_nothing() {
        assert_eq!(bucket_steps(&BucketPresence::Exists, Some(&ours()), &mk_id(), BucketClaim::None), Ok(vec![]));
    }

    #[test]
    fn bucket_drift_is_repaired_step_by_step() {
        let mut drifted = ours();
        drifted.public_access_blocked = false;
        drifted.encrypted = false;
        assert_eq!(
            bucket_steps(&BucketPresence::Exists, Some(&drifted), &mk_id(), BucketClaim::None),
            Ok(vec![BucketStep::BlockPublicAccess, BucketStep::Encrypt])
        );
    }

    #[test]
    fn a_bucket_of_someone_else_is_never_touched_unless_adopted() {
        let foreign = BucketSettings {
            tags: BTreeMap::from([(TAG_UID.into(), "other".into()), (TAG_OWNER.into(), "x/y".into())]),
            ..ours()
        };
        let stall =
            bucket_steps(&BucketPresence::Exists, Some(&foreign), &mk_id(), BucketClaim::None).expect_err("stall");
        assert_eq!(stall.reason, why::BUCKET_NOT_OWNED);
        assert!(stall.message.contains("StaticSite x/y"));
        assert_eq!(
            bucket_steps(&BucketPresence::Exists, Some(&foreign), &mk_id(), BucketClaim::Adopt),
            Ok(vec![BucketStep::Tag])
        );
        let taken = bucket_steps(&BucketPresence::OtherAccount, None, &mk_id(), BucketClaim::Adopt).expect_err("stall");
        assert!(taken.message.contains("another AWS account"));
    }

    #[test]
    fn the_default_bucket_name_is_valid_and_stable() {
        let name = default_bucket_name("Web_Team", "marketing.site", "ABCDEF12-3456");
        assert_eq!(name, "awsops-web-team-marketing-site-abcdef12");
        let long = default_bucket_name(&"n".repeat(60), &"m".repeat(60), "abcdef12");
        assert!(long.len() <= 63 && long.ends_with("-abcdef12"), "{long}");
        assert!(crate::api::validation::matches(crate::api::validation::BUCKET_NAME, &long));
    }

    #[test]
    fn bucket_name_and_region_cannot_change_once_recorded() {
        let status = StaticSiteStatus {
            bucket: Some(crate::api::static_site::BucketStatus {
                name: "old".into(),
                arn: "a".into(),
                region: "eu-west-1".into(),
            }),
            ..Default::default()
        };
        let mut spec = mk_spec();
        spec.bucket.name = Some("new".into());
        spec.region = Some("eu-west-1".into());
        let stall = Identity::resolve(&spec, &status, "web", "m", "u", None).expect_err("stall");
        assert_eq!(stall.reason, crate::api::conditions::reason::IMMUTABLE_FIELD);
        spec.bucket.name = Some("old".into());
        spec.region = Some("us-west-2".into());
        assert!(
            Identity::resolve(&spec, &status, "web", "m", "u", None)
                .expect_err("stall")
                .message
                .contains("spec.region")
        );
        spec.region = Some("eu-west-1".into());
        assert!(Identity::resolve(&spec, &status, "web", "m", "u", None).is_ok());
    }

    #[test]
    fn the_policy_allows_only_this_distribution_and_ignores_formatting() {
        let p = bucket_policy(&mk_id(), "arn:aws:cloudfront::1:distribution/E1");
        assert_eq!(p["Statement"][0]["Principal"]["Service"], "cloudfront.amazonaws.com");
        assert_eq!(
            p["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"],
            "arn:aws:cloudfront::1:distribution/E1"
        );
        assert!(!policy_differs(Some(&serde_json::to_string_pretty(&p).expect("json")), &p));
        assert!(policy_differs(None, &p));
        assert!(policy_differs(Some(r#"{"Version":"2012-10-17","Statement":[]}"#), &p));
    }

    #[test]
    fn certificates_cover_exact_names_and_one_wildcard_level() {
        let names = vec!["example.com".to_string(), "*.example.com".to_string()];
        assert!(covers(&names, "example.com"));
        assert!(covers(&names, "www.example.com"));
        assert!(!covers(&names, "a.b.example.com"));
        assert!(!covers(&names, "example.org"));
        let arn = "arn:aws:acm:us-east-1:1:certificate/x";
        let cert = |region: &str, status: &str| Certificate {
            arn: arn.into(),
            status: status.into(),
            failure_reason: None,
            names: names.clone(),
            region: region.into(),
            validation: vec![],
            tags: BTreeMap::new(),
        };
        assert_eq!(check_given_certificate(&["www.example.com".into()], &cert("us-east-1", ISSUED)), Ok(()));
        assert_eq!(
            check_given_certificate(&["www.example.com".into()], &cert("eu-west-1", ISSUED))
                .expect_err("region")
                .reason,
            why::CERTIFICATE_NOT_USABLE
        );
        assert!(
            check_given_certificate(&["shop.example.org".into()], &cert("us-east-1", ISSUED))
                .expect_err("names")
                .message
                .contains("does not cover")
        );
    }

    #[test]
    fn the_certificate_token_depends_on_site_names_and_the_certificate_it_replaces() {
        let a = certificate_token("u", &["a.example.com".into()], None);
        assert_eq!(a, certificate_token("u", &["a.example.com".into()], None));
        assert_ne!(a, certificate_token("u", &["b.example.com".into()], None));
        assert_ne!(a, certificate_token("v", &["a.example.com".into()], None));
        let replacing = certificate_token("u", &["a.example.com".into()], Some("arn:old"));
        assert_ne!(a, replacing, "a deleted certificate is replaced by a new request, not the same one");
        assert_eq!(replacing, certificate_token("u", &["a.example.com".into()], Some("arn:old")));
        assert_eq!(a.len(), 32);
    }

    fn certificate(status: &str, failure_reason: Option<&str>) -> Certificate {
        Certificate {
            arn: "arn:c".into(),
            status: status.into(),
            failure_reason: failure_reason.map(str::to_string),
            names: vec!["www.example.com".into()],
            region: "us-east-1".into(),
            validation: vec![],
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn only_issued_and_pending_certificates_are_waited_for() {
        let names = ["www.example.com".to_string()];
        assert_eq!(certificate_failed(&certificate(ISSUED, None)), None);
        assert_eq!(certificate_failed(&certificate("PENDING_VALIDATION", None)), None);
        assert_eq!(check_given_certificate(&names, &certificate("PENDING_VALIDATION", None)), Ok(()));
        for status in ["FAILED", "VALIDATION_TIMED_OUT", "EXPIRED", "REVOKED", "INACTIVE"] {
            let requested = certificate_failed(&certificate(status, None)).expect("stalls");
            assert_eq!(requested.reason, why::CERTIFICATE_FAILED, "{status}");
            assert!(requested.message.contains("delete-certificate") && requested.message.contains("arn:c"));
            let given = check_given_certificate(&names, &certificate(status, None)).expect_err("stalls");
            assert_eq!(given.reason, why::CERTIFICATE_NOT_USABLE, "{status}");
            assert!(given.message.contains("spec.domain.certificateArn"), "{}", given.message);
        }
    }

    #[test]
    fn a_failed_certificate_says_why_and_what_to_fix() {
        let caa = certificate_failed(&certificate("FAILED", Some("CAA_ERROR"))).expect("stalls");
        assert!(caa.message.contains("(CAA_ERROR)") && caa.message.contains("allow amazon.com"), "{}", caa.message);
        let timed_out = certificate_failed(&certificate("VALIDATION_TIMED_OUT", None)).expect("stalls");
        assert!(timed_out.message.contains("NS records"), "{}", timed_out.message);
        let other = certificate_failed(&certificate("FAILED", Some("DOMAIN_NOT_ALLOWED"))).expect("stalls");
        assert!(other.message.contains("(DOMAIN_NOT_ALLOWED)"), "{}", other.message);
    }

    fn with_domain(names: &[&str]) -> StaticSiteSpec {
        let mut spec = mk_spec();
        spec.domain = Some(DomainSpec {
            names: names.iter().map(|n| DomainName((*n).into())).collect(),
            hosted_zone_id: Some("Z1".into()),
            hosted_zone_name: None,
            certificate_arn: None,
            record: RecordKind::Alias,
        });
        spec
    }

    #[test]
    fn the_distribution_uses_sni_tls12_https_and_the_oac() {
        let d =
            desired_distribution(&with_domain(&["b.example.com", "a.example.com"]), &mk_id(), "OAC1", Some("arn:cert"));
        assert_eq!(d.aliases, vec!["a.example.com", "b.example.com"]);
        assert_eq!(d.ssl_support_method.as_deref(), Some("sni-only"));
        assert_eq!(d.minimum_protocol_version.as_deref(), Some("TLSv1.2_2021"));
        assert_eq!(d.viewer_protocol_policy, "redirect-to-https");
        assert_eq!(d.oac_id.as_deref(), Some("OAC1"));
        assert_eq!(d.origin_domain, "site-bucket.s3.eu-west-1.amazonaws.com");
        assert_eq!(d.cache_policy_id, CACHING_OPTIMIZED);
        assert!(d.compress && d.ipv6);
        assert_eq!(d.price_class, "PriceClass_100");
        assert_eq!(d.default_root_object, "index.html");
        let plain = desired_distribution(&mk_spec(), &mk_id(), "OAC1", None);
        assert!(plain.aliases.is_empty() && plain.certificate_arn.is_none());
    }

    #[test]
    fn drift_compares_only_owned_fields_and_tolerates_a_missing_oac_read_back() {
        let desired = desired_distribution(&with_domain(&["a.example.com"]), &mk_id(), "OAC1", Some("arn:cert"));
        let mut actual = desired.clone();
        actual.oac_id = None;
        assert!(distribution_drift(&desired, &actual).is_empty());
        actual.enabled = false;
        actual.aliases.clear();
        actual.certificate_arn = Some("arn:other".into());
        assert_eq!(distribution_drift(&desired, &actual), vec!["enabled", "aliases", "certificate"]);
    }

    fn file(key: &str, md5: &str) -> DesiredFile {
        DesiredFile { key: key.into(), md5_hex: md5.into(), size: 1 }
    }

    fn object(key: &str, etag: &str) -> ObjectInfo {
        ObjectInfo { key: key.into(), etag: etag.into(), size: 1 }
    }

    #[test]
    fn content_uploads_only_what_changed_and_prunes_only_when_asked() {
        let desired = [file("index.html", "aa"), file("app.js", "bb"), file("new.css", "cc")];
        let existing = [object("index.html", "AA"), object("app.js", "old"), object("gone.txt", "dd")];
        let plan = content_plan(&desired, &existing, true);
        assert_eq!(plan.upload, vec!["app.js", "new.css"]);
        assert_eq!(plan.prune_candidates, vec!["gone.txt"]);
        assert_eq!(plan.unchanged, 1);
        assert!(content_plan(&desired, &existing, false).prune_candidates.is_empty());
    }

    #[test]
    fn invalidation_covers_exactly_the_changed_paths() {
        assert_eq!(invalidation_paths(&["app.js".into()], "index.html"), vec!["/app.js"]);
        assert_eq!(invalidation_paths(&["index.html".into()], "index.html"), vec!["/", "/index.html"]);
        let many: Vec<String> = (0..3001).map(|i| format!("f{i}")).collect();
        assert_eq!(invalidation_paths(&many, "index.html"), vec!["/*"]);
    }

    fn txt(name: &str, uid: &str) -> Record {
        Record {
            name: ownership_record_name(name),
            type_: "TXT".into(),
            alias: None,
            values: vec![format!("\"heritage=awsops,awsops.dev/uid={uid}\"")],
        }
    }

    #[test]
    fn dns_creates_alias_a_aaaa_and_an_ownership_txt() {
        let names = vec!["static.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        let changes = dns_changes(&desired, &[], &names, &[], &mk_id()).expect("ok");
        let types: Vec<String> = changes
            .iter()
            .map(|c| match c {
                RecordChange::Upsert(r) => r.type_.clone(),
                RecordChange::Delete(_) => "DEL".into(),
            })
            .collect();
        assert_eq!(types, vec!["A", "AAAA", "TXT"]);
        assert_eq!(ownership_record_name("*.example.com"), "_awsops-wildcard.example.com");
    }

    #[test]
    fn dns_in_sync_makes_no_change() {
        let names = vec!["static.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        assert_eq!(dns_changes(&desired, &desired, &names, &names, &mk_id()), Ok(vec![]));
    }

    #[test]
    fn a_record_someone_else_owns_is_never_overwritten() {
        let names = vec!["static.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &mk_id());
        let theirs = Record {
            name: "static.example.com".into(),
            type_: "A".into(),
            alias: None,
            values: vec!["192.0.2.1".into()],
        };
        let stall = dns_changes(&desired, std::slice::from_ref(&theirs), &names, &[], &mk_id()).expect_err("stall");
        assert_eq!(stall.reason, why::RECORD_OWNED_ELSEWHERE);
        let other_site = [theirs, txt("static.example.com", "someone-else")];
        assert!(dns_changes(&desired, &other_site, &names, &[], &mk_id()).is_err());
    }

    #[test]
    fn our_own_changed_record_is_repaired_and_a_removed_name_is_cleaned_up() {
        let id = mk_id();
        let names = vec!["a.example.com".to_string()];
        let desired = desired_records(&names, RecordKind::Alias, "d1.cloudfront.net", &id);
        let stale = Record {
            name: "a.example.com".into(),
            type_: "A".into(),
            alias: Some("old.cloudfront.net".into()),
            values: vec![],
        };
        let old_name = Record {
            name: "b.example.com".into(),
            type_: "A".into(),
            alias: Some("d1.cloudfront.net".into()),
            values: vec![],
        };
        let existing =
            vec![stale.clone(), txt("a.example.com", &id.uid), old_name.clone(), txt("b.example.com", &id.uid)];
        let changes = dns_changes(&desired, &existing, &names, &["a.example.com".into(), "b.example.com".into()], &id)
            .expect("ok");
        assert!(changes.contains(&RecordChange::Delete(stale)));
        assert!(changes.contains(&RecordChange::Delete(old_name)));
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, RecordChange::Upsert(r) if r.name == "a.example.com" && r.type_ == "AAAA"))
        );
    }

    #[test]
    fn cleanup_deletes_only_records_this_site_owns() {
        let id = mk_id();
        let mine = Record { name: "a.example.com".into(), type_: "A".into(), alias: Some("d1".into()), values: vec![] };
        let theirs =
            Record { name: "b.example.com".into(), type_: "A".into(), alias: Some("d2".into()), values: vec![] };
        let existing = vec![mine.clone(), txt("a.example.com", &id.uid), theirs];
        let owned = owned_records(&existing, &["a.example.com".into(), "b.example.com".into()], &id.uid);
        assert_eq!(owned.len(), 2);
        assert!(owned.contains(&mine));
    }

    #[test]
    fn names_outside_the_zone_are_listed() {
        assert_eq!(
            names_outside_zone(["a.example.com", "*.example.com", "example.com", "x.other.com"], "example.com"),
            vec!["x.other.com"]
        );
    }

    #[test]
    fn ready_waits_for_deployed_and_insync() {
        assert!(finished("Deployed", &["INSYNC", "INSYNC"]));
        assert!(finished("Deployed", &[]));
        assert!(!finished("InProgress", &["INSYNC"]));
        assert!(!finished("Deployed", &["INSYNC", "PENDING"]));
    }

    #[test]
    fn a_distribution_is_disabled_then_waited_for_then_deleted() {
        assert_eq!(distribution_teardown(None, None), DistributionTeardown::Gone);
        assert_eq!(distribution_teardown(Some(true), Some("Deployed")), DistributionTeardown::Disable);
        assert_eq!(distribution_teardown(Some(false), Some("InProgress")), DistributionTeardown::WaitForDeployment);
        assert_eq!(distribution_teardown(Some(false), Some("Deployed")), DistributionTeardown::Delete);
        assert!(deletes_bucket(DeletionPolicy::Delete) && !deletes_bucket(DeletionPolicy::Retain));
    }

    #[test]
    fn an_alias_held_elsewhere_is_a_stall_naming_the_names_and_other_conflicts_are_not() {
        let names = vec!["www.example.com".to_string()];
        let stall = alias_in_use("CNAMEAlreadyExists", &names, "taken").expect("a stall");
        assert_eq!(stall.reason, why::ALIAS_IN_USE);
        assert!(stall.message.contains("www.example.com") && stall.message.contains("spec.domain.names"));
        assert_eq!(alias_in_use("DistributionAlreadyExists", &names, "lost response"), None);
    }

    #[test]
    fn a_bucket_this_site_was_creating_is_claimed_only_while_untagged() {
        let untagged = BucketSettings::default();
        let steps = bucket_steps(&BucketPresence::Exists, Some(&untagged), &mk_id(), BucketClaim::Creating);
        assert_eq!(steps.expect("claimed").first(), Some(&BucketStep::Tag));
        let mut other = BucketSettings::default();
        other.tags.insert(TAG_UID.into(), "someone-else".into());
        let stall = bucket_steps(&BucketPresence::Exists, Some(&other), &mk_id(), BucketClaim::Creating);
        assert_eq!(stall.expect_err("not ours").reason, why::BUCKET_NOT_OWNED);
        let never_recorded = bucket_steps(&BucketPresence::Exists, Some(&untagged), &mk_id(), BucketClaim::None);
        assert!(never_recorded.is_err(), "an untagged bucket the site never recorded is someone else's");
    }
}
