//! Deletion, in API.md's order: the DNS records the site owns, the
//! distribution (disabled, deployed, then deleted with a fresh ETag), the
//! OAC, a certificate the site requested, and with `Delete` the bucket.
//! Every step is safe to repeat and "already gone" counts as done.

use super::observe;
use super::plan::dns::teardown_records;
use super::plan::identity::Identity;
use super::plan::teardown::{DistributionTeardown, deletes_bucket, distribution_teardown};
use super::run::{Halt, Run, SiteAws, WAIT_DEPLOYMENT};
use crate::api::TAG_UID;
use crate::aws::AwsError;
use crate::aws::cloudfront::DistributionView;
use crate::aws::s3::BucketPresence;

/// Removes what the site owns; `Ok` once everything is gone.
pub async fn teardown(run: &mut Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), Halt> {
    remove_records(run, aws, id).await?;
    remove_distribution(run, aws, id).await?;
    remove_oac(run, aws, id).await?;
    remove_certificate(run, aws, id).await?;
    remove_bucket(run, aws, id).await?;
    Ok(())
}

/// The site's records, and its certificate's validation records.
async fn remove_records(run: &mut Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), Halt> {
    let Some(domain) = &run.site.spec.domain else { return Ok(()) };
    if let Some(zone) = observe::zone(aws, domain).await? {
        let records = aws.dns.records(&zone).await?;
        let names: Vec<String> =
            domain.names.iter().map(|n| n.0.clone()).chain(run.written.dns.iter().map(|d| d.name.clone())).collect();
        let requested = run.written.certificate.as_ref().filter(|_| domain.certificate_arn.is_none());
        let validation: Vec<String> =
            requested.iter().flat_map(|c| c.validation_records.iter().map(|v| v.name.clone())).collect();
        let doomed = teardown_records(&records, &names, &id.uid, &validation);
        if !doomed.is_empty() {
            aws.dns.change(&zone, &doomed).await?;
            run.note("DnsRecordsDeleted", format!("{} records in zone {}", doomed.len(), zone.name)).await;
        }
    }
    run.next.dns.clear();
    run.save().await?;
    Ok(())
}

/// Disables the distribution, waits until that is deployed, deletes it.
async fn remove_distribution(run: &mut Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), Halt> {
    if let Some(dist) = find_distribution(run, aws, id).await? {
        match distribution_teardown(Some(dist.settings.enabled), Some(&dist.status)) {
            DistributionTeardown::Disable => {
                let mut disabled = dist.settings.clone();
                disabled.enabled = false;
                let updated = aws.cdn.update(&dist.id, &disabled).await?;
                run.record_distribution(&updated);
                run.note("DistributionDisabled", format!("distribution {} disabled; deleting once deployed", dist.id))
                    .await;
                run.save().await?;
                return Err(Halt::Wait(WAIT_DEPLOYMENT));
            }
            DistributionTeardown::WaitForDeployment => {
                run.record_distribution(&dist);
                run.save().await?;
                return Err(Halt::Wait(WAIT_DEPLOYMENT));
            }
            DistributionTeardown::Delete => {
                aws.cdn.delete(&dist.id).await?;
                run.note("DistributionDeleted", format!("distribution {}", dist.id)).await;
            }
            DistributionTeardown::Gone => {}
        }
    }
    run.next.distribution = None;
    run.save().await?;
    Ok(())
}

/// The site's distribution: by the id in status, else by its origin (a create
/// whose response was lost).
async fn find_distribution(run: &Run<'_>, aws: &SiteAws, id: &Identity) -> Result<Option<DistributionView>, AwsError> {
    if let Some(d) = run.recorded_distribution(aws).await? {
        return Ok(Some(d));
    }
    match aws.cdn.find_by_origin(&id.origin_domain()).await? {
        Some(found) => aws.cdn.get(&found).await,
        None => Ok(None),
    }
}

async fn remove_oac(run: &Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), AwsError> {
    if let Some(oac) = &run.written.origin_access_control_id {
        aws.cdn.delete_oac(oac).await?;
    }
    if let Some(oac) = aws.cdn.find_oac(&id.oac_name()).await? {
        aws.cdn.delete_oac(&oac).await?;
    }
    Ok(())
}

/// A certificate this site requested (never one it was given).
async fn remove_certificate(run: &Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), AwsError> {
    let requested = run.site.spec.domain.as_ref().is_some_and(|d| d.certificate_arn.is_none());
    if requested
        && let Some(cert) = &run.written.certificate
        && let Some(found) = aws.certificates.describe(&cert.arn).await?
        && found.tags.get(TAG_UID) == Some(&id.uid)
    {
        aws.certificates.delete(&cert.arn).await?;
        run.note("CertificateDeleted", cert.arn.clone()).await;
    }
    Ok(())
}

/// With `deletionPolicy: Delete`, the site's bucket, emptied first.
async fn remove_bucket(run: &Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), AwsError> {
    if !deletes_bucket(run.site.spec.bucket.deletion_policy)
        || aws.buckets.presence(&id.bucket).await? != BucketPresence::Exists
    {
        return Ok(());
    }
    if aws.buckets.settings(&id.bucket).await?.tags.get(TAG_UID) == Some(&id.uid) {
        let keys: Vec<String> = aws.buckets.list(&id.bucket).await?.into_iter().map(|o| o.key).collect();
        aws.buckets.delete(&id.bucket, &keys).await?;
        aws.buckets.delete_bucket(&id.bucket).await?;
        run.note("BucketDeleted", id.bucket.clone()).await;
    }
    Ok(())
}
