//! Step 4: the CloudFront distribution, created with its final settings and
//! put back when an owned field drifts. No listing for a new site: the
//! CallerReference (the uid) makes the create idempotent, and a create
//! whose response was lost ("exists") is answered by a search by origin.

use super::super::plan::distribution::{
    alias_in_use, behaviour_of, desired_distribution, distribution_drift, replaced_certificate,
};
use super::super::plan::routing::{self, Attached, Recorded};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::Reason;
use crate::aws::cloudfront::{DistributionSettings, DistributionView};
use crate::aws::{AwsError, CreateOutcome};

impl Steps<'_> {
    /// The distribution, created or repaired; `recorded` is the one status
    /// names, as observed.
    pub async fn distribution(
        self,
        run: &mut Run<'_>,
        recorded: Option<DistributionView>,
        oac: &str,
        certificate: Option<&str>,
        attached: &Attached,
    ) -> Result<DistributionView, Halt> {
        let spec = &run.site.spec;
        let written = &run.written;
        let last = Recorded {
            not_found: written.routing.as_ref().and_then(|r| r.not_found.as_deref()),
            policy_id: written.headers.as_ref().map(|h| h.policy_id.as_str()),
        };
        let runs = recorded.as_ref().map(|d| behaviour_of(&d.settings)).unwrap_or_default();
        let behaviour = routing::behaviour(spec.routing.as_ref(), spec.headers.is_some(), attached, last, &runs);
        let desired = desired_distribution(spec, self.id, oac, certificate, &behaviour);
        let dist = match recorded {
            Some(dist) => dist,
            None => match self.create_distribution(run, &desired).await {
                // Filled up by sites that picked it at the same time: pick again on the next look.
                Err(Halt::Aws(e)) if e.is_oac_full() => {
                    run.next.origin_access_control_id = None;
                    run.save().await?;
                    return Err(Halt::Aws(e));
                }
                other => other?,
            },
        };
        run.record_distribution(&dist);
        run.save().await?;
        self.retire_certificates_left(run).await?;
        let drift = distribution_drift(&desired, &dist.settings);
        if drift.is_empty() {
            run.record_edge(attached);
            run.save().await?;
            self.release_unused(run, &behaviour, attached).await?;
            return Ok(dist);
        }
        let replaced = replaced_certificate(&desired, &dist.settings);
        if let Some(old) = &replaced {
            // Recorded before the update, so a crash right after it still retires the old one.
            if !run.next.retired_certificates.contains(old) {
                run.next.retired_certificates.push(old.clone());
                run.save().await?;
            }
        }
        let dist = self.aws.cdn.update(&dist.id, &desired).await.map_err(|e| refused(e, &desired))?;
        run.note(Reason::DistributionUpdated, format!("distribution {}: {}", dist.id, drift.join(", "))).await;
        run.record_distribution(&dist);
        run.record_edge(attached);
        run.save().await?;
        self.release_unused(run, &behaviour, attached).await?;
        if let Some(old) = replaced {
            self.retire_certificate(run, &old).await?;
        }
        Ok(dist)
    }

    async fn create_distribution(
        self,
        run: &mut Run<'_>,
        desired: &DistributionSettings,
    ) -> Result<DistributionView, Halt> {
        let (cdn, id) = (&self.aws.cdn, self.id);
        let created = match cdn.create(&id.uid, desired, &id.tags()).await.map_err(|e| refused(e, desired))? {
            CreateOutcome::Created(dist) => dist,
            CreateOutcome::AlreadyExists => self.distribution_by_origin().await?.ok_or_else(|| {
                AwsError::not_listed_yet("ListDistributions", &format!("distribution with caller reference {}", id.uid))
            })?,
        };
        crate::failpoint::crash_point("site-after-distribution-create");
        run.note(Reason::DistributionCreated, format!("distribution {} ({})", created.id, created.domain_name)).await;
        run.distribution_created = true;
        Ok(created)
    }

    /// The distribution this site created with its bucket as origin, found
    /// without status (a create whose response was lost); never one with
    /// another CallerReference, whoever's it is.
    pub async fn distribution_by_origin(self) -> Result<Option<DistributionView>, AwsError> {
        for found in self.aws.cdn.find_by_origin(&self.id.origin_domain()).await? {
            if let Some(d) = self.aws.cdn.get(&found).await?
                && self.id.prove_distribution(&d).is_ok()
            {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }
}

/// An alias held by another distribution stalls the site; other errors are errors.
fn refused(e: AwsError, desired: &DistributionSettings) -> Halt {
    alias_in_use(&e, &desired.aliases).map_or(Halt::Aws(e), Halt::Stall)
}
