//! Carries out a [`Decision`]: status first, then AWS; returns when to look
//! again (`Duration::ZERO`: only at the resync). The intent is in the
//! API server before FailoverDBCluster is called, and `requestedAt` after RDS
//! accepts it, so a crash at any point resumes from status (see plan.rs).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::coordination::Coordination;
use super::plan::{self, Action, Decision};
use crate::api::aurora_failover::{AuroraFailover, AuroraFailoverStatus};
use crate::api::conditions::Reason;
use crate::aws::AwsErrorKind;
use crate::aws::rds::Rds;
use crate::core::error::ACCESS_DENIED_RECHECK;
use crate::core::{Context, Error, status};
use crate::dataplane::probe::Login;
use crate::failpoint::crash_point;

pub async fn act(
    rds: &dyn Rds,
    failover: &AuroraFailover,
    decision: Decision,
    ctx: &Context,
    shared: &Coordination,
    login: Option<Login>,
) -> Result<Duration, Error> {
    let generation = failover.metadata.generation;
    let mut requeue = decision.requeue;
    if matches!(decision.action, Action::Failover { .. }) {
        crash_point("aurora-before-intent");
    }
    // The object as the decision read it; each write moves it to the version written.
    let mut failover = failover.clone();
    let fenced = matches!(decision.action, Action::Failover { .. });
    write_fenced(&mut failover, &decision.status, ctx, fenced).await?;
    match decision.action {
        Action::None => {
            let status = &decision.status;
            if status.completed_at.is_some() && status.phase == Some(crate::api::FailoverPhase::FailingOver) {
                // Swapped and written; spec.verify's checks still pending.
                crash_point("aurora-while-verifying");
            }
        }
        Action::Poll => {
            mirror_rds_events(rds, &failover, &decision.status, ctx, shared).await;
            crash_point("aurora-while-waiting");
        }
        Action::Failover { target } => {
            crash_point("aurora-after-intent");
            if !sent_in_time(&decision.status) {
                // Too long since the decision: another replica may call again soon. The next look decides anew.
                return Ok(plan::FIRST_POLL);
            }
            if let Some(login) = login {
                // The write probe samples from before the call.
                super::writes::start(&failover, login, ctx, shared, false);
            }
            let cluster = &failover.spec.cluster_identifier;
            match rds.failover(cluster, &target).await {
                Ok(()) => {
                    crash_point("aurora-after-call");
                    let mut accepted = decision.status.clone();
                    accepted.requested_at = Some(Time(Timestamp::now()));
                    write(&mut failover, &accepted, ctx).await?;
                }
                Err(e) if e.kind == AwsErrorKind::AccessDenied => {
                    let next = plan::access_denied(&decision.status, generation, Timestamp::now(), &e.to_string());
                    write(&mut failover, &next, ctx).await?;
                    requeue = ACCESS_DENIED_RECHECK;
                }
                Err(e) if e.kind == AwsErrorKind::Terminal || e.kind == AwsErrorKind::NotFound => {
                    let next = plan::rejected(&decision.status, generation, Timestamp::now(), &e.to_string());
                    write(&mut failover, &next, ctx).await?;
                    requeue = Duration::ZERO;
                }
                // Transient: the intent stays; a later look sees the writer unmoved and calls again.
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(requeue)
}

/// Writes `next` over the object's status, with an event when the summary
/// condition changes; only while the object is at the resourceVersion it was
/// read at (any other write in between, a second replica's or one the watch
/// has not shown yet, is a 409: the next look reads it fresh and decides
/// again). `failover` then holds what was written.
pub async fn write(failover: &mut AuroraFailover, next: &AuroraFailoverStatus, ctx: &Context) -> Result<(), Error> {
    write_fenced(failover, next, ctx, false).await
}

/// [`write`]; `fenced` writes even an unchanged status, so a call that
/// follows is sent only by the replica whose write landed.
async fn write_fenced(
    failover: &mut AuroraFailover,
    next: &AuroraFailoverStatus,
    ctx: &Context,
    fenced: bool,
) -> Result<(), Error> {
    let before = failover.status.clone().unwrap_or_default();
    let compare = if fenced { None } else { Some(&before) };
    if let Some(written) = status::apply_at(ctx.objects.as_ref(), &*failover, compare, next).await? {
        failover.metadata.resource_version = written.resource_version;
        failover.status = Some(next.clone());
        ctx.events.transition(&*failover, &before.conditions, &next.conditions).await;
        if let Some(seconds) = next.finished_after(&before) {
            ctx.metrics.failover_finished(next.state(), seconds);
            let outage = next.verification.as_ref().and_then(|v| v.write_outage_seconds.as_ref());
            if let Some(outage) = outage.and_then(serde_json::Number::as_f64) {
                ctx.metrics.write_outage(next.state(), outage);
            }
        }
    }
    Ok(())
}

/// The call is still within [`plan::SEND_WITHIN`] of the `calledAt` its
/// fenced write recorded.
fn sent_in_time(status: &AuroraFailoverStatus) -> bool {
    let Some(called) = &status.called_at else { return true };
    Timestamp::now().duration_since(called.0).as_secs() <= plan::SEND_WITHIN.as_secs() as i64
}

/// RDS cluster events since the intent, each published once as a Kubernetes Event.
async fn mirror_rds_events(
    rds: &dyn Rds,
    failover: &AuroraFailover,
    status: &AuroraFailoverStatus,
    ctx: &Context,
    shared: &Coordination,
) {
    let Some(started) = &status.started_at else { return };
    let uid = failover.uid().unwrap_or_default();
    let since = shared.events_seen(&uid).unwrap_or(started.0);
    let events = match rds.cluster_events(&failover.spec.cluster_identifier, since).await {
        Ok(events) => events,
        Err(e) => return tracing::debug!(error = %e, "could not read RDS events"),
    };
    for event in events.iter().filter(|e| e.time > since || (e.time == since && since == started.0)) {
        ctx.events.normal(failover, Reason::RdsEvent, "FailOver", event.message.clone()).await;
    }
    if let Some(last) = events.last() {
        shared.mark_events_seen(&uid, last.time);
    }
}
