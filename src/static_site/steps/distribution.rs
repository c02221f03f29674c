//! Step 4: the CloudFront distribution, created with its final settings and
//! put back when an owned field drifts. No listing for a new site: the
//! CallerReference (the uid) makes the create idempotent, and a create
//! whose response was lost ("exists") is answered by a search by origin.

use super::super::plan::distribution::{alias_in_use, desired_distribution, distribution_drift, replaced_certificate};
use super::super::plan::identity::Identity;
use super::super::run::{Halt, Run, SiteAws};
use super::certificate;
use crate::aws::cloudfront::{DistributionSettings, DistributionView};
use crate::aws::{AwsError, AwsErrorKind, Created};

pub async fn ensure(
    run: &mut Run<'_>,
    aws: &SiteAws,
    id: &Identity,
    oac: &str,
    certificate_arn: Option<&str>,
) -> Result<DistributionView, Halt> {
    let desired = desired_distribution(&run.site.spec, id, oac, certificate_arn);
    let dist = match run.recorded_distribution(aws).await? {
        Some(dist) => dist,
        None => create(run, aws, id, &desired).await?,
    };
    run.record_distribution(&dist);
    run.save().await?;
    let drift = distribution_drift(&desired, &dist.settings);
    if drift.is_empty() {
        return Ok(dist);
    }
    let replaced = replaced_certificate(&desired, &dist.settings);
    let dist = aws.cdn.update(&dist.id, &desired).await.map_err(|e| refused(e, &desired))?;
    run.note("DistributionUpdated", format!("distribution {}: {}", dist.id, drift.join(", "))).await;
    run.record_distribution(&dist);
    if let Some(old) = replaced {
        certificate::retire(run, aws, id, &old).await?;
    }
    Ok(dist)
}

async fn create(
    run: &mut Run<'_>,
    aws: &SiteAws,
    id: &Identity,
    desired: &DistributionSettings,
) -> Result<DistributionView, Halt> {
    let created = match aws.cdn.create(&id.uid, desired, &id.tags()).await.map_err(|e| refused(e, desired))? {
        Created::New(dist) => dist,
        Created::Exists => lost_create(aws, id).await?,
    };
    crate::failpoint::crash_point("site-after-distribution-create");
    run.note("DistributionCreated", format!("distribution {} ({})", created.id, created.domain_name)).await;
    Ok(created)
}

/// The distribution an earlier create made, whose response was lost.
async fn lost_create(aws: &SiteAws, id: &Identity) -> Result<DistributionView, AwsError> {
    let found = match aws.cdn.find_by_origin(&id.origin_domain()).await? {
        Some(found) => aws.cdn.get(&found).await?,
        None => None,
    };
    found.ok_or_else(|| {
        let message = format!("a distribution with caller reference {} exists but is not listed yet", id.uid);
        AwsError::new(AwsErrorKind::Conflict, "ListDistributions", "", message)
    })
}

/// An alias held by another distribution stalls the site; other errors are errors.
fn refused(e: AwsError, desired: &DistributionSettings) -> Halt {
    alias_in_use(&e, &desired.aliases).map_or(Halt::Aws(e), Halt::Stall)
}
