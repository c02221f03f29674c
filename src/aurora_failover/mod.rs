//! The AuroraFailover reconciler: `observe` (read RDS and other objects) →
//! `plan` (pure) → `act` (status first, then FailoverDBCluster). [`decide`]
//! is the one decision path: the controller ([`reconcile`]) and `awsops plan`
//! both go through it, cluster lock included.

pub mod act;
mod capacity;
mod coordination;
pub mod observe;
pub mod plan;
mod writes;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use tokio::sync::OwnedMutexGuard;

pub use coordination::Coordination;
pub use plan::{Action, Decision};

use crate::api::aurora_failover::AuroraFailoverStatus;
use crate::api::{AuroraFailover, FailoverPhase};
use crate::aws::rds::SdkRds;
use crate::aws::{AwsErrorKind, RoleSession};
use crate::core::error::ACCESS_DENIED_RECHECK;
use crate::core::{Context, Error, tenancy};
use crate::dataplane::probe::Login;
use plan::Preflight;

/// What one look at an AuroraFailover decided.
pub enum Next {
    /// Planned, Succeeded or Failed: never act again, never call AWS.
    Finished,
    /// Write this status, call nothing (a refused spec, AWS denied a read);
    /// look again after `requeue`. `turn`, when AWS was read, holds the
    /// cluster until the status is written.
    Refused { status: AuroraFailoverStatus, requeue: Duration, turn: Option<OwnedMutexGuard<()>> },
    /// A decision over what RDS showed, to carry out while `turn` holds the
    /// cluster; `login` starts the write probe right before a call.
    Decided { decision: Decision, rds: SdkRds, turn: OwnedMutexGuard<()>, login: Option<Login> },
}

/// Preconditions, the cluster's turn, observe and plan; writes nothing.
pub async fn decide(failover: &AuroraFailover, ctx: &Context, shared: &Coordination) -> Result<Next, Error> {
    let written = failover.status.clone().unwrap_or_default();
    let generation = failover.metadata.generation;
    let (namespace, name) = (failover.namespace().unwrap_or_default(), failover.name_any());
    // A failover already requested is followed to its end, permitted or not.
    let verdict = match written.phase {
        Some(FailoverPhase::FailingOver) => tenancy::Verdict::Unchecked,
        _ => ctx.tenancy.check(&namespace, &tenancy::failover_asks(&failover.spec)),
    };
    let current = match verdict.conditions() {
        judged if judged.is_empty() => written.clone(),
        judged => plan::judged(&written, &judged, generation, Timestamp::now()),
    };
    let refuse = |why: &Preflight| plan::refuse(&current, why, generation, Timestamp::now());
    match plan::preflight(&failover.spec, generation, &written) {
        Preflight::Finished => return Ok(Next::Finished),
        Preflight::Proceed if verdict.stall().is_some() => {
            return Ok(Next::Refused { status: current, requeue: ctx.resync, turn: None });
        }
        Preflight::Proceed => {}
        refused => return Ok(Next::Refused { status: refuse(&refused), requeue: ctx.resync, turn: None }),
    }
    let role = failover.spec.role_arn.as_deref().map(|arn| RoleSession { arn, namespace: &namespace, name: &name });
    let clients = match ctx.aws.clients(failover.spec.region.as_deref(), role).await {
        Ok(clients) => clients,
        Err(message) => {
            let status = refuse(&Preflight::Invalid(message));
            return Ok(Next::Refused { status, requeue: ctx.resync, turn: None });
        }
    };
    let rds = clients.rds();
    let key = observe::cluster_key(failover, ctx).await?;
    let turn = shared.turn(&key).await;
    let holder = observe::holder(failover, &key, ctx).await?;
    let mut observed = match observe::observe(&rds, &clients.alarms(), ctx.dns.as_ref(), failover, holder).await {
        Ok(observed) => observed,
        Err(e) if e.kind == AwsErrorKind::AccessDenied => {
            let status = plan::read_denied(&current, generation, Timestamp::now(), &e.to_string());
            return Ok(Next::Refused { status, requeue: ACCESS_DENIED_RECHECK, turn: Some(turn) });
        }
        Err(e) => return Err(e.into()),
    };
    let (probe, login) = writes::look(failover, observed.cluster.as_ref(), ctx, shared).await?;
    observed.probe = probe;
    let decision = plan::plan(&failover.spec, &current, &observed, generation, Timestamp::now());
    Ok(Next::Decided { decision, rds, turn, login })
}

/// One reconcile of one AuroraFailover; returns when to look again.
pub async fn reconcile(failover: &AuroraFailover, ctx: &Context, shared: &Coordination) -> Result<Duration, Error> {
    match decide(failover, ctx, shared).await? {
        Next::Finished => {
            writes::stop(failover, shared);
            Ok(ctx.resync)
        }
        Next::Refused { status, requeue, turn } => {
            act::write(&mut failover.clone(), &status, ctx).await?;
            drop(turn);
            Ok(requeue)
        }
        Next::Decided { decision, rds, turn, login } => {
            let finished = matches!(decision.status.phase, Some(FailoverPhase::Succeeded | FailoverPhase::Failed));
            let requeue = act::act(&rds, failover, decision, ctx, shared, login).await?;
            if finished {
                writes::stop(failover, shared);
            }
            drop(turn);
            Ok(if requeue.is_zero() { ctx.resync } else { requeue })
        }
    }
}
