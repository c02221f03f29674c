//! Step 6: the bucket holds exactly the sources' files (see
//! `static_site::content::sync`), then one invalidation for exactly the
//! changed paths.

use kube::Resource;

use super::super::content::{self, File};
use super::super::plan::content::{self as decide, invalidation_paths};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{self, Reason};
use crate::aws::cloudfront::DistributionView;

impl Steps<'_> {
    pub async fn content(self, run: &mut Run<'_>, dist: &DistributionView, files: &[File]) -> Result<(), Halt> {
        let (spec, id) = (&run.site.spec.content, self.id);
        let desired = content::desired(files);
        let revision = content::revision(&desired);
        let reference = run.site.object_ref(&());
        let objects = run.ctx.objects.as_ref();
        let progress = |done, total| objects.upload_progress(&reference, done, total);
        let buckets = self.aws.buckets.as_ref();
        let synced = content::sync(buckets, &id.bucket, &id.uid, files, &desired, spec, &progress).await?;
        let changed: Vec<String> = synced.uploaded.iter().chain(synced.pruned.iter()).cloned().collect();
        let counts = (synced.uploaded.len(), synced.pruned.len());
        let mut invalidation = None;
        if !changed.is_empty() {
            let paths = invalidation_paths(&changed, &spec.index_document);
            let inv = self.aws.cdn.invalidate(&dist.id, &paths, &format!("{}-{}", id.uid, &revision[..16])).await?;
            let message =
                format!("uploaded {}, deleted {}, invalidated {} paths ({inv})", counts.0, counts.1, paths.len());
            run.note(Reason::ContentSynced, message).await;
            invalidation = Some(inv);
        }
        let objects = desired.len();
        run.next.content = Some(decide::status(run.written.content.as_ref(), revision, objects, counts, invalidation));
        run.condition(conditions::CONTENT_SYNCED, true, Reason::AsExpected, format!("{objects} objects in sync"));
        run.save().await?;
        Ok(())
    }
}
