//! Step 0, reads only: everything the steps read, and the checks that
//! must pass before the first write, so a spec AWS would refuse changes
//! nothing. In order: the bucket (and whether this site may touch it), the
//! content sources (and the manifest of what the site wrote), with a domain its hosted zone, the zone's records and
//! a certificate named in the spec; then what status records (the OAC, the
//! distribution, a certificate the site requested) as it still exists, once
//! proven this site's.

use std::collections::BTreeMap;

use super::content::{self, Sourced};
use super::plan::bucket::{self, BucketStep};
use super::plan::certificate::{check_given_certificate, for_exactly};
use super::plan::dns::{names_outside_zone, zone_refusal};
use super::plan::identity::Identity;
use super::run::{Halt, Run, SiteAws};
use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{DomainSpec, StaticSiteStatus};
use crate::aws::acm::Certificate;
use crate::aws::cloudfront::DistributionView;
use crate::aws::route53::{Record, Zone};
use crate::aws::s3::BucketPresence;

/// What one pass reads before it writes.
pub struct Observed {
    pub content: Sourced,
    /// What the bucket needs, decided from HeadBucket and its settings.
    pub bucket_steps: Vec<BucketStep>,
    /// The bucket's tags as they stand (others' are kept when it is tagged).
    pub bucket_tags: BTreeMap<String, String>,
    /// The bucket's policy document as it stands.
    pub policy: Option<String>,
    /// The KMS key of the bucket's SSE-KMS default encryption, if it has one.
    pub kms_key: Option<String>,
    pub domain: Option<CheckedDomain>,
    /// The OAC status records, if it still exists.
    pub oac: Option<String>,
    /// The distribution status records, if it still exists.
    pub distribution: Option<DistributionView>,
}

/// A domain whose zone exists and holds every name, with the zone's records
/// and the certificate named in the spec (checked), if any.
pub struct CheckedDomain {
    pub names: Vec<String>,
    pub zone: Zone,
    pub records: Vec<Record>,
    pub given: Option<Certificate>,
    /// The certificate status records as requested by this site, if it
    /// still exists and is for exactly these names.
    pub requested: Option<Certificate>,
}

pub async fn observe(run: &Run<'_>, aws: &SiteAws, id: &Identity) -> Result<Observed, Halt> {
    let (spec, recorded) = (&run.site.spec, &run.written);
    let presence = aws.buckets.presence(&id.bucket).await?;
    let settings = match presence {
        BucketPresence::Exists => Some(aws.buckets.settings(&id.bucket).await?),
        _ => None,
    };
    let recorded_bucket = recorded.bucket.as_ref().is_some_and(|b| b.name == id.bucket);
    let claim = bucket::claim(spec.bucket.adopt, recorded_bucket);
    let bucket_steps = bucket::bucket_steps(&presence, settings.as_ref(), id, claim)?;
    let manifest = match presence {
        BucketPresence::Exists => content::manifest::load(aws.buckets.as_ref(), &id.bucket, &id.uid).await?,
        _ => None,
    };
    let content = content::read(run.ctx, &id.namespace, &id.uid, &spec.content, manifest).await?;
    let domain = match &spec.domain {
        Some(domain) => Some(check_domain(aws, domain, recorded).await?),
        None => None,
    };
    // Status can be stale, forged or lost: what it names is used only once
    // proven this site's.
    let oac = match &recorded.origin_access_control_id {
        Some(oac) => match aws.cdn.oac_name(oac).await? {
            Some(name) => id.prove_oac(oac, &name).map(|()| Some(oac.clone())).map_err(Stall::untouched)?,
            None => None,
        },
        None => None,
    };
    let distribution = match &recorded.distribution {
        Some(recorded) => match aws.cdn.get(&recorded.id).await? {
            Some(d) => id.prove_distribution(&d).map(|()| Some(d)).map_err(Stall::untouched)?,
            None => None,
        },
        None => None,
    };
    let (policy, bucket_tags, kms_key) = settings.map(|s| (s.policy, s.tags, s.kms_key)).unwrap_or_default();
    Ok(Observed { content, bucket_steps, bucket_tags, policy, kms_key, domain, oac, distribution })
}

/// The hosted zone the spec names, `None` when it does not exist.
pub async fn zone(aws: &SiteAws, domain: &DomainSpec) -> Result<Option<Zone>, Halt> {
    Ok(match (&domain.hosted_zone_id, &domain.hosted_zone_name) {
        (Some(zid), _) => aws.dns.zone_by_id(zid).await?,
        (None, Some(zname)) => aws.dns.zone_by_name(zname).await?,
        (None, None) => None,
    })
}

async fn check_domain(aws: &SiteAws, domain: &DomainSpec, recorded: &StaticSiteStatus) -> Result<CheckedDomain, Halt> {
    let names: Vec<String> = domain.names.iter().map(|n| n.0.clone()).collect();
    let Some(zone) = zone(aws, domain).await? else {
        let zone = domain.hosted_zone_id.clone().or(domain.hosted_zone_name.clone()).unwrap_or_default();
        let message = format!("hosted zone {zone} does not exist in this account: check spec.domain");
        return Err(Stall::new(Reason::HostedZoneNotFound, message).into());
    };
    let outside = names_outside_zone(names.iter().map(String::as_str), &zone.name);
    if !outside.is_empty() {
        let message =
            format!("{outside:?} are not inside hosted zone {}: use names in the zone or another zone", zone.name);
        return Err(Stall::new(Reason::NamesOutsideZone, message).into());
    }
    if let Some(stall) = zone_refusal(&zone, &names, domain.record) {
        return Err(stall.into());
    }
    let records = aws.dns.records(&zone).await?;
    let given = match &domain.certificate_arn {
        Some(arn) => {
            let Some(cert) = aws.certificates.describe(arn).await? else {
                let message = format!("certificate {arn} does not exist: check spec.domain.certificateArn");
                return Err(Stall::new(Reason::CertificateNotFound, message).into());
            };
            check_given_certificate(&names, &cert)?;
            Some(cert)
        }
        None => None,
    };
    let mut requested = None;
    if given.is_none()
        && let Some(recorded) = &recorded.certificate
        && let Some(cert) = aws.certificates.describe(&recorded.arn).await?
        && for_exactly(&cert, &names)
    {
        requested = Some(cert);
    }
    Ok(CheckedDomain { names, zone, records, given, requested })
}
