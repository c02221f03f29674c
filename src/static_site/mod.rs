//! The StaticSite reconciler: `apply` converges AWS toward the spec,
//! `cleanup` removes what the site owns (both safe to repeat).

pub mod plan;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::api::StaticSite;
use crate::api::conditions::{self, Summary, reason};
use crate::api::static_site::{SitePhase, StaticSiteStatus};
use crate::controller::{Context, Error, status};

/// Converges one site; returns when to look again.
pub async fn apply(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    let current = site.status.clone().unwrap_or_default();
    let validation = site.spec.validate();
    let next = next_status(&current, &validation, site.metadata.generation, Timestamp::now());
    let changed = status::apply(&ctx.api(site), &site.name_any(), site.status.as_ref(), &next).await?;
    if changed && let Err(message) = &validation {
        ctx.events.warning(site, reason::INVALID_SPEC, "Validate", message.clone()).await;
    }
    Ok(ctx.resync)
}

/// Removes what the site owns in AWS; nothing yet exists to remove.
pub async fn cleanup(_site: &StaticSite, _ctx: &Context) -> Result<Duration, Error> {
    Ok(Duration::ZERO)
}

/// The status after validating the spec.
pub fn next_status(
    current: &StaticSiteStatus,
    validation: &Result<(), String>,
    generation: Option<i64>,
    now: Timestamp,
) -> StaticSiteStatus {
    let desired = match validation {
        Err(message) => conditions::summary(
            Summary::Stalled,
            reason::INVALID_SPEC,
            format!("{message}. Nothing was changed in AWS."),
        ),
        Ok(()) => conditions::summary(Summary::Reconciling, reason::PROGRESSING, "provisioning"),
    };
    let mut next = current.clone();
    next.phase = Some(next.phase.unwrap_or(SitePhase::Provisioning));
    next.observed_generation = generation;
    next.conditions = conditions::merge(&current.conditions, &desired, generation, now);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_site_is_stalled_with_the_message() {
        let next =
            next_status(&StaticSiteStatus::default(), &Err("spec.region bad".into()), Some(2), Timestamp::UNIX_EPOCH);
        let stalled = next.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert_eq!(stalled.status, "True");
        assert!(stalled.message.starts_with("spec.region bad"));
        assert_eq!(next.observed_generation, Some(2));
    }

    #[test]
    fn a_valid_site_is_reconciling_in_phase_provisioning() {
        let next = next_status(&StaticSiteStatus::default(), &Ok(()), Some(1), Timestamp::UNIX_EPOCH);
        assert!(conditions::is_true(&next.conditions, conditions::RECONCILING));
        assert_eq!(next.phase, Some(SitePhase::Provisioning));
    }
}
