//! Reads what a failover decision needs: the cluster and its members
//! (DescribeDBClusters, DescribeDBInstances), other AuroraFailovers holding the
//! same cluster, while failing over without a recorded acceptance whether
//! RDS has logged a failover since the intent, the state of the alarms
//! `spec.verify` names (DescribeAlarms) and where the cluster endpoint
//! resolves (DNS). No writes.

use kube::{Resource, ResourceExt};

use super::plan::Observed;
use crate::api::aurora_failover::{AuroraFailover, FailoverPhase};
use crate::aws::AwsError;
use crate::aws::cloudwatch::Alarms;
use crate::aws::rds::{Rds, RdsEvent};
use crate::core::{Context, Error};
use crate::dataplane::Resolve;

/// Identifies a cluster across objects: its account (whichever role reaches
/// it), region and identifier.
pub async fn cluster_key(failover: &AuroraFailover, ctx: &Context) -> Result<String, Error> {
    let spec = &failover.spec;
    let default_region = ctx.aws.default_region();
    let region = spec.region.as_deref().or(default_region.as_deref()).unwrap_or("");
    let account = ctx.aws.account(spec.role_arn.as_deref()).await?;
    Ok(format!("{account}/{region}/{}", spec.cluster_identifier.to_ascii_lowercase()))
}

/// Reads AWS for one decision. `holder` comes from [`holder`] (Kubernetes).
pub async fn observe(
    rds: &dyn Rds,
    alarms: &dyn Alarms,
    dns: &dyn Resolve,
    failover: &AuroraFailover,
    holder: Option<String>,
) -> Result<Observed, AwsError> {
    let status = failover.status.clone().unwrap_or_default();
    let cluster = rds.describe_cluster(&failover.spec.cluster_identifier).await?;
    let failing_over = status.phase == Some(FailoverPhase::FailingOver);
    let failover_event_seen = match (&status.started_at, &status.requested_at) {
        (Some(started), None) if failing_over && cluster.is_some() => {
            failover_logged(rds, &failover.spec.cluster_identifier, started.0).await?
        }
        _ => false,
    };
    let asked: Vec<String> = failover.spec.alarm_names().map(str::to_string).collect();
    // Alarms are read before the failover (do they exist?) and once the
    // target writes (are they OK?); never on the quick polls in between.
    let target = status.plan.as_ref().map(|p| p.target.as_str());
    let writer = cluster.as_ref().and_then(|c| c.writer()).map(|m| m.instance.as_str());
    let swapped = writer.is_some() && writer == target;
    let mut observed = Observed { cluster: cluster.clone(), holder, failover_event_seen, ..Default::default() };
    if cluster.is_none() || (failing_over && !swapped) {
        return Ok(observed);
    }
    // Like the alarms, before the failover (does it resolve to the writer?) and after the swap.
    let endpoint = cluster.as_ref().and_then(|c| c.endpoint.as_deref());
    if let (true, Some(endpoint)) = (failover.spec.verifies_endpoint(), endpoint) {
        observed.endpoint = Some(dns.resolve(endpoint).await);
    }
    if asked.is_empty() {
        return Ok(observed);
    }
    match alarms.states(&asked).await {
        Ok(states) => observed.alarms = states,
        // After the swap an unreadable alarm is a failing check, not a halt.
        Err(e) if failing_over => observed.alarms_unreadable = Some(e.to_string()),
        Err(e) => return Err(e),
    }
    Ok(observed)
}

/// Another object (in the namespaces this controller watches) that is failing
/// over the cluster `key` names (this object's [`cluster_key`]); only asked
/// before a failover starts.
pub async fn holder(failover: &AuroraFailover, key: &str, ctx: &Context) -> Result<Option<String>, Error> {
    if failover.status.as_ref().and_then(|s| s.phase) == Some(FailoverPhase::FailingOver) {
        return Ok(None);
    }
    let others = ctx.objects.failovers(ctx.namespace.as_deref()).await?;
    let failing_over = others
        .iter()
        .filter(|o| o.meta().uid != failover.meta().uid)
        .filter(|o| o.status.as_ref().and_then(|s| s.phase) == Some(FailoverPhase::FailingOver));
    for other in failing_over {
        if cluster_key(other, ctx).await? == *key {
            return Ok(Some(format!("{}/{}", other.namespace().unwrap_or_default(), other.name_any())));
        }
    }
    Ok(None)
}

/// Whether RDS logged the start or end of a failover since `since`.
async fn failover_logged(rds: &dyn Rds, cluster: &str, since: k8s_openapi::jiff::Timestamp) -> Result<bool, AwsError> {
    let events = rds.cluster_events(cluster, since).await?;
    Ok(events.iter().any(RdsEvent::is_failover))
}
