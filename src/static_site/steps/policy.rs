//! Step 5: the bucket policy, for this distribution only.

use super::super::plan::bucket::{bucket_policy, policy_differs};
use super::super::plan::identity::Identity;
use super::super::run::{Halt, Run, SiteAws};
use crate::aws::cloudfront::DistributionView;

pub async fn ensure(
    run: &mut Run<'_>,
    aws: &SiteAws,
    id: &Identity,
    current: Option<&str>,
    dist: &DistributionView,
) -> Result<(), Halt> {
    let policy = bucket_policy(id, &dist.arn);
    if policy_differs(current, &policy) {
        aws.buckets.put_policy(&id.bucket, &policy.to_string()).await?;
        run.note("BucketPolicyApplied", format!("s3:GetObject for distribution {} only", dist.id)).await;
    }
    Ok(())
}
