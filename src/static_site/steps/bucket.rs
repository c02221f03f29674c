//! Step 1: a private, encrypted, tagged bucket (what it needs was decided
//! while observing, before any write), recorded in status before it is
//! created: after a crash (or a lost response) before tagging, the untagged
//! bucket is known to be this site's.

use std::collections::BTreeMap;

use super::super::plan::bucket::{BucketStep, bucket_ready_message, tags_when_taken};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{self, Reason};
use crate::api::static_site::BucketStatus;

impl Steps<'_> {
    pub async fn bucket(
        self,
        run: &mut Run<'_>,
        steps: &[BucketStep],
        tags: &BTreeMap<String, String>,
        kms_key: Option<&str>,
    ) -> Result<(), Halt> {
        let (aws, id) = (self.aws, self.id);
        let recorded = BucketStatus {
            name: id.bucket.clone(),
            arn: id.bucket_arn(),
            region: id.region.clone(),
            identity: Some(run.site.spec.identity().to_string()),
        };
        if steps.contains(&BucketStep::Create) {
            run.next.bucket = Some(recorded.clone());
            run.save().await?;
        }
        for step in steps {
            match step {
                BucketStep::Create => aws.buckets.create(&id.bucket, &id.region).await?,
                BucketStep::Tag => aws.buckets.put_tags(&id.bucket, &tags_when_taken(tags, id)).await?,
                BucketStep::BlockPublicAccess => aws.buckets.block_public_access(&id.bucket).await?,
                BucketStep::EnforceOwner => aws.buckets.enforce_owner(&id.bucket).await?,
                BucketStep::Encrypt => aws.buckets.encrypt(&id.bucket).await?,
            }
        }
        if !steps.is_empty() {
            run.note(Reason::BucketConfigured, format!("bucket {}: {steps:?}", id.bucket)).await;
        }
        run.next.bucket = Some(recorded);
        let message = bucket_ready_message(&id.bucket, kms_key);
        run.condition(conditions::BUCKET_READY, true, Reason::AsExpected, message);
        run.save().await?;
        Ok(())
    }
}
