//! Step 0, reads only: everything the steps decide from that must be known
//! before the first write, so a spec AWS would refuse changes nothing. The
//! content sources, the bucket as it stands, and with a domain its hosted
//! zone, the zone's records and a certificate named in the spec.

use super::content::{self, File};
use super::plan::certificate::check_given_certificate;
use super::plan::dns::names_outside_zone;
use super::plan::identity::Identity;
use super::run::{Halt, Run, SiteAws};
use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::DomainSpec;
use crate::aws::acm::Certificate;
use crate::aws::route53::{Record, Zone};
use crate::aws::s3::{BucketPresence, BucketSettings};

/// What one pass reads before it writes.
pub struct Observed {
    pub files: Vec<File>,
    pub bucket: BucketPresence,
    /// The bucket's settings, when it exists in this account.
    pub settings: Option<BucketSettings>,
    pub domain: Option<CheckedDomain>,
}

/// A domain whose zone exists and holds every name, with the zone's records
/// and the certificate named in the spec (checked), if any.
pub struct CheckedDomain {
    pub names: Vec<String>,
    pub zone: Zone,
    pub records: Vec<Record>,
    pub given: Option<Certificate>,
}

pub async fn observe(run: &Run<'_>, aws: &SiteAws, id: &Identity) -> Result<Observed, Halt> {
    let spec = &run.site.spec;
    let files = content::read_sources(run.ctx.objects.as_ref(), &id.namespace, &spec.content).await??;
    let bucket = aws.buckets.presence(&id.bucket).await?;
    let settings = match bucket {
        BucketPresence::Exists => Some(aws.buckets.settings(&id.bucket).await?),
        _ => None,
    };
    let domain = match &spec.domain {
        Some(domain) => Some(check_domain(aws, domain).await?),
        None => None,
    };
    Ok(Observed { files, bucket, settings, domain })
}

/// The hosted zone the spec names, `None` when it does not exist.
pub async fn zone(aws: &SiteAws, domain: &DomainSpec) -> Result<Option<Zone>, Halt> {
    Ok(match (&domain.hosted_zone_id, &domain.hosted_zone_name) {
        (Some(zid), _) => aws.dns.zone_by_id(zid).await?,
        (None, Some(zname)) => aws.dns.zone_by_name(zname).await?,
        (None, None) => None,
    })
}

async fn check_domain(aws: &SiteAws, domain: &DomainSpec) -> Result<CheckedDomain, Halt> {
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
    Ok(CheckedDomain { names, zone, records, given })
}
