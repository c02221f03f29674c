//! `spec.verify.writeProbe` for one failover: reads the login from the
//! object's Secret, asks once before the failover (the baseline), and keeps a
//! [`Sampler`](crate::dataplane::probe::Sampler) probing from the call until
//! the failover finishes. What it saw goes to plan as a [`ProbeView`].

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::coordination::Coordination;
use super::plan::ProbeView;
use crate::api::aurora_failover::{AuroraFailover, FailoverPhase};
use crate::aws::rds::DbCluster;
use crate::core::{Context, Error};
use crate::dataplane::probe::{Login, MysqlProbe, Probe};

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
    let Some(asked) = failover.spec.verify.as_ref().and_then(|v| v.write_probe.as_ref()) else {
        return Ok((ProbeView::NotAsked, None));
    };
    let Some(cluster) = cluster else { return Ok((ProbeView::NotAsked, None)) };
    let status = failover.status.clone().unwrap_or_default();
    let uid = failover.uid().unwrap_or_default();
    let failing_over = status.phase == Some(FailoverPhase::FailingOver);
    let recorded = status.verification.as_ref().is_some_and(|v| v.writable_at.is_some());
    if failing_over && (recorded || shared.probes.is_running(&uid)) {
        let since = status.started_at.map(|t| t.0).unwrap_or_else(Timestamp::now);
        return Ok((ProbeView::Sampled(shared.probes.summary(&uid, since)), None));
    }
    let login = match read_login(failover, &asked.secret_ref.name, cluster, ctx).await? {
        Ok(login) => login,
        Err(why) => return Ok((ProbeView::NoLogin(why), None)),
    };
    if failing_over {
        // A restarted controller: sampling resumes from now.
        start(failover, login.clone(), ctx, shared);
        return Ok((ProbeView::Sampled(None), Some(login)));
    }
    let answer = probe(ctx).ask(&login).await;
    Ok((ProbeView::Baseline(answer), Some(login)))
}

/// Starts sampling for `failover` (kept if already running), for at most the
/// failover's and the verification's time.
pub fn start(failover: &AuroraFailover, login: Login, ctx: &Context, shared: &Coordination) {
    let spec = &failover.spec;
    let at_most = Duration::from_secs((spec.timeout_seconds + spec.verify_timeout_seconds()).unsigned_abs().into())
        + Duration::from_secs(60);
    shared.probes.start(&failover.uid().unwrap_or_default(), probe(ctx), login, at_most);
}

/// Stops sampling for `failover`.
pub fn stop(failover: &AuroraFailover, shared: &Coordination) {
    shared.probes.stop(&failover.uid().unwrap_or_default());
}

fn probe(ctx: &Context) -> Arc<dyn Probe> {
    Arc::new(MysqlProbe { dns: ctx.dns.clone() })
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
        Err(Error::Kube(kube::Error::Api(e))) if e.code == 403 => {
            return Ok(Err(format!(
                "the controller may not read {secret}: let it get that one Secret, e.g. `kubectl -n {namespace} create role awsops-write-probe --verb=get --resource=secrets --resource-name={name}` and `kubectl -n {namespace} create rolebinding awsops-write-probe --role=awsops-write-probe --serviceaccount=awsops-system:awsops` (the chart's ServiceAccount)"
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
