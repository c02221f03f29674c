//! Step 6: the bucket holds exactly the sources' files (see
//! `static_site::content::sync`), then one invalidation for exactly the
//! changed paths.

use kube::Resource;

use super::super::content::{self, File};
use super::super::plan::content::{self as decide, invalidation_paths};
use super::super::plan::identity::Identity;
use super::super::run::{Halt, Run, SiteAws};
use crate::api::conditions::{self, Reason};
use crate::aws::cloudfront::DistributionView;

pub async fn sync(
    run: &mut Run<'_>,
    aws: &SiteAws,
    id: &Identity,
    dist: &DistributionView,
    files: &[File],
) -> Result<(), Halt> {
    let spec = &run.site.spec.content;
    let desired = content::desired(files);
    let revision = content::revision(&desired);
    let reference = run.site.object_ref(&());
    let objects = run.ctx.objects.as_ref();
    let progress = |done, total| objects.upload_progress(&reference, done, total);
    let synced = content::sync(aws.buckets.as_ref(), &id.bucket, &id.uid, files, &desired, spec, &progress).await?;
    let changed: Vec<String> = synced.uploaded.iter().chain(synced.pruned.iter()).cloned().collect();
    let mut invalidation = None;
    if !changed.is_empty() {
        let paths = invalidation_paths(&changed, &spec.index_document);
        let inv = aws.cdn.invalidate(&dist.id, &paths, &format!("{}-{}", id.uid, &revision[..16])).await?;
        let (uploaded, deleted) = (synced.uploaded.len(), synced.pruned.len());
        let message = format!("uploaded {uploaded}, deleted {deleted}, invalidated {} paths ({inv})", paths.len());
        run.note("ContentSynced", message).await;
        invalidation = Some(inv);
    }
    let counts = (synced.uploaded.len(), synced.pruned.len());
    run.next.content =
        Some(decide::status(run.written.content.as_ref(), revision, desired.len(), counts, invalidation));
    run.step(conditions::CONTENT_SYNCED, true, Reason::AsExpected, format!("{} objects in sync", desired.len()));
    run.save().await?;
    Ok(())
}
