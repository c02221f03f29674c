//! The StaticSite reconciler. [`apply`] converges AWS toward the spec in
//! API.md's order: `observe` reads, each of `steps` asks `plan` (pure) what
//! to do and does it, and status records each result as it exists.
//! [`cleanup`] removes what the site owns (`teardown`). Both are safe to
//! repeat. `content` reads the sources and syncs them to the bucket.

pub mod content;
mod observe;
pub mod plan;
mod run;
mod steps;
mod teardown;

use std::time::Duration;

use kube::ResourceExt;

pub use content::RESERVED_PREFIX;
pub use plan::distribution::distribution_drift;
pub use run::SiteAws;

use crate::api::StaticSite;
use crate::api::conditions::{Reason, Stall, Summary};
use crate::api::static_site::{DEFAULT_IDENTITY, SitePhase};
use crate::aws::{AwsErrorKind, RoleSession};
use crate::core::error::ACCESS_DENIED_RECHECK;
use crate::core::{Context, Error, tenancy};
use plan::identity::Identity;
use run::{Halt, Run};
use steps::Steps;

/// Converges one site; returns when to look again.
pub async fn apply(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    apply_with(site, ctx, |aws| aws).await
}

/// [`apply`] with the site's AWS passed through `wrap` first (`awsops plan`
/// records the writes there instead of making them).
pub async fn apply_with(
    site: &StaticSite,
    ctx: &Context,
    wrap: impl FnOnce(SiteAws) -> SiteAws,
) -> Result<Duration, Error> {
    let mut run = Run::new(site, ctx);
    let id = match identify(site, &run, ctx) {
        Ok(id) => id,
        Err(stall) => {
            run.stall(stall, SitePhase::Failed).await?;
            return Ok(ctx.resync);
        }
    };
    let verdict = ctx.tenancy.check(&id.namespace, &tenancy::site_asks(&site.spec));
    run.set(verdict.condition().into_iter().collect());
    if let Some(stall) = verdict.stall() {
        run.stall(stall, SitePhase::Failed).await?;
        return Ok(ctx.resync);
    }
    let aws = wrap(site_aws(site.spec.role_arn.as_deref(), &id, ctx).await?);
    // A new spec (or the first look) is in progress until converged: never
    // leave Ready=True next to a newer observedGeneration.
    if run.next.phase.is_none() || run.written.observed_generation != site.metadata.generation {
        let message = format!("applying generation {}", site.metadata.generation.unwrap_or(1));
        run.summarise(SitePhase::Provisioning, Summary::Reconciling, Reason::Provisioning, message);
        run.save().await?;
    }
    let outcome = Steps { aws: &aws, id: &id }.converge(&mut run).await;
    match outcome {
        Ok(()) => Ok(ctx.resync),
        Err(Halt::Wait(wait)) => Ok(wait),
        Err(Halt::Stall(stall)) => {
            run.stall(stall, SitePhase::Failed).await?;
            Ok(ctx.resync)
        }
        Err(Halt::Aws(e)) if e.kind == AwsErrorKind::AccessDenied => {
            run.stall(Stall::access_denied(&e), SitePhase::Failed).await?;
            Ok(ACCESS_DENIED_RECHECK)
        }
        Err(Halt::Aws(e)) if e.kind == AwsErrorKind::Quota => {
            run.stall(Stall::quota_exceeded(&e), SitePhase::Failed).await?;
            Ok(ACCESS_DENIED_RECHECK)
        }
        Err(Halt::Aws(e)) => {
            run.save().await?;
            Err(e.into())
        }
        Err(Halt::Retry(reason, message)) => {
            tracing::warn!(%message, "content source not read; tried again");
            run.summarise(SitePhase::Provisioning, Summary::Reconciling, reason, message);
            run.save().await?;
            Ok(run::RETRY_SOURCE)
        }
        Err(Halt::Error(e)) => Err(e),
    }
}

/// The site's identity in AWS, or why the spec cannot be acted on (found
/// before anything was changed).
fn identify(site: &StaticSite, run: &Run<'_>, ctx: &Context) -> Result<Identity, Stall> {
    site.spec.validate().map_err(|message| Stall::new(Reason::InvalidSpec, message).untouched())?;
    let (namespace, name, uid) = names(site);
    Identity::resolve(&site.spec, &run.written, &namespace, &name, &uid, ctx.aws.default_region().as_deref())
        .map(|id| id.with_resource_tags(ctx.aws.resource_tags()))
        .map_err(Stall::untouched)
}

/// Removes what the site owns in AWS; `Duration::ZERO` once everything is gone.
pub async fn cleanup(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    let mut run = Run::new(site, ctx);
    if run.next.phase != Some(SitePhase::Deleting) {
        let message = "removing what the site created in AWS".to_string();
        run.summarise(SitePhase::Deleting, Summary::Reconciling, Reason::Deleting, message);
        run.save().await?;
    }
    if ctx.tenancy.check(&names(site).0, &tenancy::site_asks(&site.spec)).stall().is_some()
        && plan::teardown::nothing_recorded(&run.written)
    {
        // Refused from the start: it never touched AWS, so it has nothing to remove there.
        return Ok(Duration::ZERO);
    }
    let Some(id) = recorded_identity(site, &run, ctx) else { return Ok(Duration::ZERO) };
    // What made the site's resources removes them, whatever the spec says now.
    let recorded = run.written.bucket.as_ref().and_then(|b| b.identity.as_deref());
    let role = match recorded {
        Some(DEFAULT_IDENTITY) => None,
        Some(arn) => Some(arn),
        None => site.spec.role_arn.as_deref(),
    };
    let aws = site_aws(role, &id, ctx).await?;
    match (Steps { aws: &aws, id: &id }).teardown(&mut run).await {
        Ok(()) => Ok(Duration::ZERO),
        Err(Halt::Wait(wait)) => Err(Error::CleanupPending(wait)),
        Err(Halt::Error(e)) => Err(e),
        Err(Halt::Aws(e)) => Err(e.into()),
        Err(Halt::Retry(_, _)) => Ok(run::RETRY_SOURCE),
        Err(Halt::Stall(stall)) => {
            run.stall(stall, SitePhase::Deleting).await?;
            Ok(ctx.resync)
        }
    }
}

/// Who the site is in AWS as status recorded it; from the spec when Apply
/// never recorded a bucket; `None` when the spec cannot say either (no
/// region: then nothing was created).
fn recorded_identity(site: &StaticSite, run: &Run<'_>, ctx: &Context) -> Option<Identity> {
    let (namespace, name, uid) = names(site);
    match &run.written.bucket {
        Some(b) => Some(Identity {
            namespace,
            name,
            uid,
            region: b.region.clone(),
            bucket: b.name.clone(),
            resource_tags: ctx.aws.resource_tags().clone(),
        }),
        None => {
            let default_region = ctx.aws.default_region();
            Identity::resolve(&site.spec, &Default::default(), &namespace, &name, &uid, default_region.as_deref())
                .map(|id| id.with_resource_tags(ctx.aws.resource_tags()))
                .ok()
        }
    }
}

/// The site's AWS in its region, through the session of `role` when there is one.
async fn site_aws(role: Option<&str>, id: &Identity, ctx: &Context) -> Result<SiteAws, Error> {
    let role = role.map(|arn| RoleSession { arn, namespace: &id.namespace, name: &id.name });
    let clients = ctx.aws.clients(Some(&id.region), role).await.map_err(Error::AwsConfig)?;
    Ok(SiteAws::from_clients(&clients))
}

/// Namespace, name and uid.
fn names(site: &StaticSite) -> (String, String, String) {
    (site.namespace().unwrap_or_default(), site.name_any(), site.uid().unwrap_or_default())
}
