//! Step 6: the bucket holds exactly the sources' files with the headers
//! their rules give (see `static_site::content::sync`), then one invalidation for exactly the
//! changed paths, written to status before the uploads and kept there until
//! CloudFront accepts it.

use k8s_openapi::jiff::Timestamp;
use kube::Resource;

use super::super::content::{self, Planned, Sourced, Target};
use super::super::plan::content::{self as decide, Counts, invalidation_paths};
use super::super::plan::routing;
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{self, Reason};
use crate::aws::AwsErrorKind;
use crate::aws::cloudfront::DistributionView;

impl Steps<'_> {
    pub async fn content(self, run: &mut Run<'_>, dist: &DistributionView, sourced: Sourced) -> Result<(), Halt> {
        let (spec, id) = (&run.site.spec.content, self.id);
        let buckets = self.aws.buckets.as_ref();
        let existing = buckets.list(&id.bucket).await?;
        let Planned { sourced, desired, plan } =
            content::planned(run.ctx, &id.namespace, &id.uid, spec, sourced, &existing).await?;
        let inventory = content::inventory(&desired, &sourced.source);
        let reference = run.site.object_ref(&());
        let objects = run.ctx.objects.as_ref();
        let progress = |done, total| objects.upload_progress(&reference, done, total);
        let served = routing::served(run.site.spec.routing.as_ref());
        let mut pending = run.written.content.as_ref().map(|c| c.pending_invalidation.clone()).unwrap_or_default();
        let rewritten: Vec<String> = plan.upload.iter().chain(&plan.copy).cloned().collect();
        // A site that never synced served nothing a cache could hold.
        let previous_content = run.written.content.clone();
        if let Some(mut content) = previous_content.filter(|_| !rewritten.is_empty() && !run.distribution_created) {
            // Written ahead: a crash or a failed upload after this still
            // invalidates what may have changed (pruned keys are added after).
            let ahead = decide::pending(invalidation_paths(&rewritten, &pending, &spec.index_document, served, false));
            if ahead != pending {
                content.pending_invalidation = ahead.clone();
                run.next.content = Some(content);
                run.save().await?;
                pending = ahead;
            }
        }
        let to = Target { buckets, bucket: &id.bucket, uid: &id.uid };
        let synced = content::sync(&to, &sourced, &desired, &plan, spec.path.as_deref(), &progress).await?;
        crate::failpoint::crash_point("site-after-upload");
        let changed: Vec<String> =
            synced.uploaded.iter().chain(&synced.copied).chain(&synced.pruned).cloned().collect();
        let counts =
            Counts { uploaded: synced.uploaded.len(), updated: synced.copied.len(), pruned: synced.pruned.len() };
        let previous = run.written.content.as_ref();
        let paths = invalidation_paths(&changed, &pending, &spec.index_document, served, run.distribution_created);
        let objects = inventory.files;
        let mut invalidation = None;
        if !paths.is_empty() {
            // New for every batch: CloudFront answers a CallerReference it saw
            // with that old invalidation (content A, B, then A again).
            let revision = &inventory.revision;
            let reference = format!("{}-{}-{}", id.uid, &revision[..16], Timestamp::now().as_millisecond());
            match self.aws.cdn.invalidate(&dist.id, &paths, &reference).await {
                Ok(inv) => {
                    let message = format!(
                        "uploaded {}, re-applied headers of {}, deleted {}, invalidated {} paths ({inv})",
                        counts.uploaded,
                        counts.updated,
                        counts.pruned,
                        paths.len()
                    );
                    run.note(Reason::ContentSynced, message).await;
                    invalidation = Some(inv);
                }
                Err(e) if e.kind == AwsErrorKind::Terminal => {
                    // Never accepted as asked (paths CloudFront refuses): dropped, said once.
                    let message = format!("invalidating {} paths was refused and dropped: {e}", paths.len());
                    run.warn(Reason::InvalidationDropped, message).await;
                }
                Err(e) => {
                    // The files are in the bucket: the next look finds nothing
                    // changed, so only status remembers what to invalidate.
                    let message =
                        format!("{objects} objects in sync; invalidating {} paths is retried: {e}", paths.len());
                    let pending = decide::pending(paths);
                    run.next.content = Some(decide::status(previous, &inventory, counts, None, pending));
                    run.condition(conditions::CONTENT_SYNCED, false, Reason::InvalidationPending, message);
                    return Err(Halt::Aws(e));
                }
            }
        }
        run.next.content = Some(decide::status(previous, &inventory, counts, invalidation, Vec::new()));
        run.condition(conditions::CONTENT_SYNCED, true, Reason::AsExpected, format!("{objects} objects in sync"));
        run.save().await?;
        Ok(())
    }
}
