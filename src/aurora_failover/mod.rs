//! The AuroraFailover reconciler: `observe` (read RDS and other objects) →
//! `plan` (pure) → `act` (status first, then FailoverDBCluster).

pub mod act;
pub mod observe;
pub mod plan;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::AuroraFailover;
use crate::aws::AwsErrorKind;
use crate::controller::{Context, Error};
use plan::Preflight;

/// One reconcile of one AuroraFailover; returns when to look again.
pub async fn reconcile(failover: &AuroraFailover, ctx: &Context) -> Result<Duration, Error> {
    let current = failover.status.clone().unwrap_or_default();
    let generation = failover.metadata.generation;
    match plan::preflight(&failover.spec, generation, &current) {
        // Finished objects never call AWS again.
        Preflight::Finished => return Ok(ctx.resync),
        Preflight::Proceed => {}
        refused => {
            act::write(failover, &plan::refuse(&current, &refused, generation, Timestamp::now()), ctx).await?;
            return Ok(ctx.resync);
        }
    }
    let clients = match ctx.aws.clients(failover.spec.region.as_deref(), failover.spec.role_arn.as_deref()).await {
        Ok(clients) => clients,
        Err(message) => {
            let next = plan::refuse(&current, &Preflight::Invalid(message), generation, Timestamp::now());
            act::write(failover, &next, ctx).await?;
            return Ok(ctx.resync);
        }
    };
    let rds = clients.rds();
    let key = observe::cluster_key(failover, ctx.aws.default_region().as_deref());
    let lock = ctx.cluster_lock(&key);
    let _one_at_a_time = lock.lock().await;
    let holder = observe::holder(failover, ctx).await?;
    let observed = match observe::observe(&rds, failover, holder).await {
        Ok(observed) => observed,
        Err(e) if e.kind == AwsErrorKind::AccessDenied => {
            act::write(failover, &plan::access_denied(&current, generation, Timestamp::now(), &e.to_string()), ctx)
                .await?;
            return Ok(plan::RECHECK);
        }
        Err(e) => return Err(e.into()),
    };
    let decision = plan::plan(&failover.spec, &current, &observed, generation, Timestamp::now());
    let requeue = if decision.requeue.is_zero() { ctx.resync } else { decision.requeue };
    act::act(&rds, failover, decision, ctx).await?;
    Ok(requeue)
}
