//! The AuroraFailover reconciler: `observe` (read RDS and other objects) →
//! `plan` (pure) → `act` (status first, then FailoverDBCluster). [`decide`]
//! is the one decision path: the controller ([`reconcile`]) and `awsops plan`
//! both go through it, cluster lock included.

pub mod act;
pub mod observe;
pub mod plan;
mod shared;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::OwnedMutexGuard;

pub use shared::Failovers;

use crate::api::AuroraFailover;
use crate::api::aurora_failover::AuroraFailoverStatus;
use crate::aws::AwsErrorKind;
use crate::aws::rds::SdkRds;
use crate::core::error::ACCESS_DENIED_RECHECK;
use crate::core::{Context, Error};
use plan::{Decision, Preflight};

/// What one look at an AuroraFailover decided.
pub enum Next {
    /// Planned, Succeeded or Failed: never act again, never call AWS.
    Finished,
    /// Write this status, call nothing (a refused spec, AWS denied a read);
    /// look again after `requeue`.
    Refused { status: AuroraFailoverStatus, requeue: Duration },
    /// A decision over what RDS showed, to carry out while `turn` holds the cluster.
    Decided { decision: Decision, rds: SdkRds, turn: OwnedMutexGuard<()> },
}

/// Preconditions, the cluster's turn, observe and plan; writes nothing.
pub async fn decide(failover: &AuroraFailover, ctx: &Context, shared: &Failovers) -> Result<Next, Error> {
    let current = failover.status.clone().unwrap_or_default();
    let generation = failover.metadata.generation;
    let refuse = |why: &Preflight| plan::refuse(&current, why, generation, Timestamp::now());
    match plan::preflight(&failover.spec, generation, &current) {
        Preflight::Finished => return Ok(Next::Finished),
        Preflight::Proceed => {}
        refused => return Ok(Next::Refused { status: refuse(&refused), requeue: ctx.resync }),
    }
    let clients = match ctx.aws.clients(failover.spec.region.as_deref(), failover.spec.role_arn.as_deref()).await {
        Ok(clients) => clients,
        Err(message) => return Ok(Next::Refused { status: refuse(&Preflight::Invalid(message)), requeue: ctx.resync }),
    };
    let rds = clients.rds();
    let turn = shared.turn(&observe::cluster_key(failover, ctx.aws.default_region().as_deref())).await;
    let holder = observe::holder(failover, ctx).await?;
    let observed = match observe::observe(&rds, failover, holder).await {
        Ok(observed) => observed,
        Err(e) if e.kind == AwsErrorKind::AccessDenied => {
            let status = plan::access_denied(&current, generation, Timestamp::now(), &e.to_string());
            return Ok(Next::Refused { status, requeue: ACCESS_DENIED_RECHECK });
        }
        Err(e) => return Err(e.into()),
    };
    let decision = plan::plan(&failover.spec, &current, &observed, generation, Timestamp::now());
    Ok(Next::Decided { decision, rds, turn })
}

/// One reconcile of one AuroraFailover; returns when to look again.
pub async fn reconcile(failover: &AuroraFailover, ctx: &Context, shared: &Failovers) -> Result<Duration, Error> {
    match decide(failover, ctx, shared).await? {
        Next::Finished => Ok(ctx.resync),
        Next::Refused { status, requeue } => {
            act::write(failover, &status, ctx).await?;
            Ok(requeue)
        }
        Next::Decided { decision, rds, turn } => {
            let requeue = if decision.requeue.is_zero() { ctx.resync } else { decision.requeue };
            act::act(&rds, failover, decision, ctx, shared).await?;
            drop(turn);
            Ok(requeue)
        }
    }
}
