//! `spec.verify.writeProbe` for one failover: reads the login from the
//! object's Secret, asks once before the failover (the baseline), and keeps a
//! [`Sampler`](crate::dataplane::probe::Sampler) probing from right before
//! the call until the failover ends (stopped when a look finds it finished or
//! no longer failing over; at most 3 hours). What it saw goes to plan as a
//! [`ProbeView`].

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;

use super::coordination::Coordination;
use super::plan::ProbeView;
use crate::api::aurora_failover::{AuroraFailover, FailoverPhase};
use crate::aws::rds::DbCluster;
use crate::core::{Context, Error};
use crate::dataplane::probe::{Login, MysqlProbe, Probe, Summary};

/// The port of a cluster whose description names none.
const MYSQL_PORT: u16 = 3306;

/// What the probe found for this look, and the login when one was read (to
/// start sampling right before the call).
pub async fn look(
    failover: &AuroraFailover,
    cluster: Option<&DbCluster>,
    ctx: &Context,
    shared: &Coordination,
) -> Result<(ProbeView, Option<Login>), Error> {
    let Some(asked) = failover.spec.write_probe() else {
        return Ok((ProbeView::NotAsked, None));
    };
    let Some(cluster) = cluster else { return Ok((ProbeView::NotAsked, None)) };
    let status = failover.status.clone().unwrap_or_default();
    let uid = failover.uid().unwrap_or_default();
    if status.phase != Some(FailoverPhase::FailingOver) {
        // An intent withdrawn (AccessDenied) or never written: no sampling.
        shared.probes.stop(&uid);
    } else if status.verification.as_ref().is_some_and(|v| v.writable_at.is_some()) || shared.probes.is_running(&uid) {
        return Ok((ProbeView::Sampled(shared.probes.summary(&uid)), None));
    }
    let login = match read_login(failover, &asked.secret_ref.name, cluster, ctx).await? {
        Ok(login) => login,
        Err(why) => return Ok((ProbeView::NoLogin(why), None)),
    };
    if status.phase == Some(FailoverPhase::FailingOver) {
        // A restarted controller (or a new leader): sampling resumes from now.
        start(failover, login, ctx, shared, true);
        return Ok((ProbeView::Sampled(None), None));
    }
    let answer = probe(ctx).ask(&login).await;
    Ok((ProbeView::Baseline(answer), Some(login)))
}

/// Starts sampling for `failover` (kept if already running), for at most the
/// failover's and the verification's time; `resumed` when the failover
/// began before: the outage then stays unknown, and the error counts go on
/// from those in status (so they never shrink).
pub fn start(failover: &AuroraFailover, login: Login, ctx: &Context, shared: &Coordination, resumed: bool) {
    let spec = &failover.spec;
    let at_most = Duration::from_secs((spec.timeout_seconds + spec.verify_timeout_seconds()).unsigned_abs().into())
        + Duration::from_secs(60);
    let mut from = Summary { resumed, ..Summary::default() };
    if resumed {
        let recorded = failover.status.as_ref().and_then(|s| s.verification.as_ref());
        let counts = recorded.iter().flat_map(|v| v.probe_errors.iter());
        from.errors = counts.filter_map(|(code, n)| Some((code.parse().ok()?, *n))).collect();
    }
    shared.probes.start(&failover.uid().unwrap_or_default(), probe(ctx), login, at_most, from);
}

/// Stops sampling for `failover`.
pub fn stop(failover: &AuroraFailover, shared: &Coordination) {
    shared.probes.stop(&failover.uid().unwrap_or_default());
}

fn probe(ctx: &Context) -> Arc<dyn Probe> {
    Arc::new(MysqlProbe { dns: ctx.dns.clone(), ca_file: ctx.mysql_ca_file.clone() })
}

/// The login from the Secret `name`, or what the user must do to make it readable.
async fn read_login(
    failover: &AuroraFailover,
    name: &str,
    cluster: &DbCluster,
    ctx: &Context,
) -> Result<Result<Login, String>, Error> {
    let namespace = failover.namespace().unwrap_or_default();
    let secret = format!("Secret {namespace}/{name} (spec.verify.writeProbe.secretRef)");
    let data = match ctx.objects.secret(&namespace, name).await {
        Ok(Some(data)) => data,
        Ok(None) => return Ok(Err(format!("{secret} does not exist: create it with keys username and password"))),
        Err(e) if e.is_forbidden() => {
            return Ok(Err(format!(
                "the controller may not read {secret}: let it get that one Secret, e.g. `kubectl -n {namespace} create role awsops-write-probe-{name} --verb=get --resource=secrets --resource-name={name}` and `kubectl -n {namespace} create rolebinding awsops-write-probe-{name} --role=awsops-write-probe-{name} --serviceaccount=NAMESPACE:SERVICEACCOUNT` (the controller's; awsops-system:awsops with the chart's defaults)"
            )));
        }
        Err(e) => return Err(e),
    };
    let field = |key: &str| match data.get(key).map(|v| String::from_utf8(v.clone())) {
        Some(Ok(value)) if !value.is_empty() => Ok(value),
        _ => Err(format!("{secret} has no UTF-8 key {key:?}: it needs username and password")),
    };
    let Some(host) = cluster.endpoint.clone() else {
        return Ok(Err("RDS reports no cluster endpoint to probe".into()));
    };
    let login = field("username").and_then(|username| {
        Ok(Login { host, port: cluster.port.unwrap_or(MYSQL_PORT), username, password: field("password")? })
    });
    Ok(login)
}
