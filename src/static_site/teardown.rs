//! Deletion, in API.md's order: the DNS records the site owns, the
//! distribution (disabled, deployed, then deleted with a fresh ETag), the
//! routing functions and headers policies it listed (unless other sites'
//! distributions use them), the OAC, a certificate the site requested, and
//! with `Delete` the bucket.
//! Every step is safe to repeat and "already gone" counts as done.

use super::observe;
use super::plan::bucket::tags_when_released;
use super::plan::dns::{present_validation, recorded_zone, teardown_records};
use super::plan::oac::pool_index;
use super::plan::teardown::{DistributionTeardown, deletes_bucket, distribution_teardown, unshared};
use super::run::{Halt, Run, WAIT_DEPLOYMENT};
use super::steps::Steps;
use crate::api::conditions::Reason;
use crate::aws::AwsError;
use crate::aws::acm::Certificate;
use crate::aws::cloudfront::DistributionView;
use crate::aws::s3::BucketPresence;
use crate::core::tenancy;

impl Steps<'_> {
    /// Removes what the site owns; `Ok` once everything is gone.
    pub async fn teardown(self, run: &mut Run<'_>) -> Result<(), Halt> {
        let dist = self.find_distribution(run).await?;
        let certificate = self.requested_certificate(run).await?;
        self.remove_records(run, dist.as_ref().map(|d| d.domain_name.as_str()), certificate.as_ref()).await?;
        self.remove_distribution(run, dist).await?;
        self.release_all(run).await?;
        self.remove_oac(run).await?;
        self.remove_certificate(run, certificate).await?;
        self.remove_bucket(run).await?;
        Ok(())
    }

    /// The site's records (those pointing at `target`, its proven
    /// distribution's domain), and the validation records of its
    /// `certificate` that no other certificate of the account still uses.
    async fn remove_records(
        self,
        run: &mut Run<'_>,
        target: Option<&str>,
        certificate: Option<&Certificate>,
    ) -> Result<(), Halt> {
        let Some(domain) = &run.site.spec.domain else {
            self.forget_domain(run, target.unwrap_or_default()).await?;
            run.save().await?;
            return Ok(());
        };
        // The zone the site wrote to, as status recorded it; the spec's only
        // while the site may still name it.
        let refused = run.ctx.tenancy.check(&self.id.namespace, &tenancy::site_asks(&run.site.spec)).stall().is_some();
        let zone = match recorded_zone(&run.written.dns) {
            Some((zone, _)) => Some(zone),
            None if refused => None,
            None => observe::zone(self.aws, domain).await?,
        };
        if let Some(zone) = zone {
            let records = self.aws.dns.records(&zone).await?;
            let present = certificate.map(|c| (c, present_validation(&records, &c.validation)));
            let validation = match present {
                Some((c, present)) if !present.is_empty() => {
                    unshared(&present, &self.aws.certificates.others(&c.arn).await?)
                }
                _ => Vec::new(),
            };
            let recorded = run.written.dns.iter().map(|d| d.name.clone());
            let names: Vec<String> = domain.names.iter().map(|n| n.0.clone()).chain(recorded).collect();
            let doomed = teardown_records(&records, &names, (&self.id.uid, target.unwrap_or_default()), &validation);
            if !doomed.is_empty() {
                self.aws.dns.change(&zone, &doomed).await?;
                run.note(Reason::DnsRecordsDeleted, format!("{} records in zone {}", doomed.len(), zone.name)).await;
            }
        }
        run.next.dns.clear();
        run.save().await?;
        Ok(())
    }

    /// Disables the distribution, waits until that is deployed, deletes it.
    async fn remove_distribution(self, run: &mut Run<'_>, dist: Option<DistributionView>) -> Result<(), Halt> {
        if let Some(dist) = dist {
            match distribution_teardown(Some(dist.settings.enabled), Some(&dist.status)) {
                DistributionTeardown::Disable => {
                    let mut disabled = dist.settings.clone();
                    disabled.enabled = false;
                    let updated = self.aws.cdn.update(&dist.id, &disabled).await?;
                    run.record_distribution(&updated);
                    let message = format!("distribution {} disabled; deleting once deployed", dist.id);
                    run.note(Reason::DistributionDisabled, message).await;
                    run.save().await?;
                    return Err(Halt::Wait(WAIT_DEPLOYMENT));
                }
                DistributionTeardown::WaitForDeployment => {
                    run.record_distribution(&dist);
                    run.save().await?;
                    return Err(Halt::Wait(WAIT_DEPLOYMENT));
                }
                DistributionTeardown::Delete => {
                    self.aws.cdn.delete(&dist.id).await?;
                    run.note(Reason::DistributionDeleted, format!("distribution {}", dist.id)).await;
                }
                DistributionTeardown::Gone => {}
            }
        }
        run.next.distribution = None;
        run.save().await?;
        Ok(())
    }

    /// The site's distribution: by the id in status, else by its origin (a
    /// create whose response was lost).
    async fn find_distribution(self, run: &Run<'_>) -> Result<Option<DistributionView>, AwsError> {
        if let Some(recorded) = &run.written.distribution
            && let Some(d) = self.aws.cdn.get(&recorded.id).await?
        {
            match self.id.prove_distribution(&d) {
                Ok(()) => return Ok(Some(d)),
                Err(stall) => run.warn(Reason::NotOwned, format!("left in place: {}", stall.message)).await,
            }
        }
        self.distribution_by_origin().await
    }

    /// The site's own OAC from before the pool goes; a pool member stays for
    /// the sites that share it or come next (deleting it when idle races
    /// with a site that just picked it).
    async fn remove_oac(self, run: &Run<'_>) -> Result<(), AwsError> {
        let cdn = &self.aws.cdn;
        if let Some(oac) = &run.written.origin_access_control_id
            && let Some(name) = cdn.oac_name(oac).await?
        {
            match self.id.prove_oac(oac, &name) {
                Ok(()) if pool_index(&name).is_none() => cdn.delete_oac(oac).await?,
                Ok(()) => {}
                Err(stall) => run.warn(Reason::NotOwned, format!("left in place: {}", stall.message)).await,
            }
        }
        if let Some(oac) = cdn.find_oac(&self.id.oac_name()).await? {
            cdn.delete_oac(&oac).await?;
        }
        Ok(())
    }

    /// The certificate status records, if this site requested it (never one
    /// it was given) and its tags prove it.
    async fn requested_certificate(self, run: &Run<'_>) -> Result<Option<Certificate>, AwsError> {
        let requested = run.site.spec.domain.as_ref().is_some_and(|d| d.certificate_arn.is_none());
        let Some(recorded) = run.written.certificate.as_ref().filter(|_| requested) else { return Ok(None) };
        let found = self.aws.certificates.describe(&recorded.arn).await?;
        Ok(found.filter(|cert| self.id.owns(&cert.tags)))
    }

    /// The certificate it requested, and one last try at those it replaced
    /// (one still in use, by something else now, is left with a warning
    /// rather than holding the deletion forever).
    async fn remove_certificate(self, run: &mut Run<'_>, requested: Option<Certificate>) -> Result<(), Halt> {
        if let Some(cert) = requested {
            self.aws.certificates.delete(&cert.arn).await?;
            run.note(Reason::CertificateDeleted, cert.arn.clone()).await;
        }
        self.retire_certificates_left(run).await?;
        for arn in std::mem::take(&mut run.next.retired_certificates) {
            run.warn(Reason::CertificateNotDeleted, format!("certificate {arn} is still in use: left in place")).await;
        }
        run.save().await?;
        Ok(())
    }

    /// The site's bucket: with `Retain` marked released (so a new site may
    /// adopt it); with `Delete` emptied of what the site uploaded, then
    /// deleted if nothing else is left in it (else released too). A bucket the site does not own
    /// is left as it is.
    async fn remove_bucket(self, run: &Run<'_>) -> Result<(), AwsError> {
        let (buckets, bucket) = (&self.aws.buckets, &self.id.bucket);
        if buckets.presence(bucket).await? != BucketPresence::Exists {
            return Ok(());
        }
        let tags = buckets.settings(bucket).await?.tags;
        if !self.id.owns(&tags) {
            return Ok(());
        }
        if !deletes_bucket(run.site.spec.bucket.deletion_policy) {
            buckets.put_tags(bucket, &tags_when_released(&tags)).await?;
            run.note(Reason::BucketReleased, format!("bucket {bucket} kept and released: a new site may adopt it"))
                .await;
            return Ok(());
        }
        let left = buckets.purge(bucket, &self.id.uid).await?;
        if left > 0 {
            buckets.put_tags(bucket, &tags_when_released(&tags)).await?;
            let message = format!(
                "bucket {bucket} kept and released: {left} objects or versions in it were not uploaded by this site"
            );
            run.warn(Reason::BucketKept, message).await;
            return Ok(());
        }
        buckets.delete_bucket(bucket).await?;
        run.note(Reason::BucketDeleted, bucket.clone()).await;
        Ok(())
    }
}
