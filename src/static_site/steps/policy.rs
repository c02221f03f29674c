//! Step 5: the bucket policy, for this distribution only.

use super::super::plan::bucket::{bucket_policy, policy_differs};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::Reason;
use crate::aws::cloudfront::DistributionView;

impl Steps<'_> {
    pub async fn bucket_policy(
        self,
        run: &Run<'_>,
        current: Option<&str>,
        dist: &DistributionView,
    ) -> Result<(), Halt> {
        let policy = bucket_policy(self.id, &dist.arn);
        if policy_differs(current, &policy) {
            self.aws.buckets.put_policy(&self.id.bucket, &policy.to_string()).await?;
            run.note(Reason::BucketPolicyApplied, format!("s3:GetObject for distribution {} only", dist.id)).await;
        }
        Ok(())
    }
}
