//! `awsops plan`, `apply` and `delete`: the controller's reconcilers run from
//! a laptop or a CI job against manifests on disk, with no cluster. Status is
//! kept in a local state folder ([`state`]) instead of the API server, through
//! the same [`Objects`](crate::core::Objects) trait, and each kind is driven
//! through its public entries only (`aurora_failover::decide`/`reconcile`,
//! `static_site::apply`/`apply_with`/`cleanup`), so the code that decides and
//! acts is the controller's own.
//!
//! Exit codes: `plan` 0 when nothing would change, 2 when something would, 1
//! on error or a failed precondition; `apply`/`delete` 0 when every object
//! finished well, 1 otherwise.

pub mod dry_run;
pub mod key;
pub mod manifests;
pub mod state;
pub mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use tracing::Instrument;

use crate::api::Kind;
use crate::api::aurora_failover::{AuroraFailover, AuroraFailoverStatus, FailoverPhase};
use crate::api::conditions;
use crate::api::static_site::{SitePhase, StaticSite, StaticSiteStatus};
use crate::aurora_failover::{Action, Coordination, Next};
use crate::aws::AwsFactory;
use crate::core::{Context, Error, reconcile_span};
use crate::metrics::Metrics;
use dry_run::{Change, Recorder};
use key::Key;
use state::LocalObjects;
use terminal::Terminal;

/// What `plan`, `apply` and `delete` take.
#[derive(Clone, Debug)]
pub struct Options {
    /// Files or folders of manifests.
    pub files: Vec<PathBuf>,
    /// Where status is kept between runs.
    pub state_dir: PathBuf,
    /// `apply`/`delete` give up (exit 1, resumable) after this long.
    pub timeout: Duration,
    /// `--dns-server` and `--mysql-ca-file`.
    pub dataplane: crate::dataplane::Settings,
}

/// Exit code when `plan` finds changes.
pub const CHANGES: u8 = 2;
/// Longest wait between two looks at one object.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Unused locally (every object is looked at until it finishes), but part of [`Context`].
const RESYNC: Duration = Duration::from_secs(600);

async fn context(objects: Arc<LocalObjects>, options: &Options) -> Context {
    let metrics = Arc::new(Metrics::default());
    let aws = AwsFactory::from_env(metrics.clone()).await;
    Context::new(objects, aws, metrics, RESYNC, None, crate::core::Tenancy::off()).with_dataplane(&options.dataplane)
}

fn failover_finished(status: &AuroraFailoverStatus) -> bool {
    matches!(status.phase, Some(FailoverPhase::Succeeded | FailoverPhase::Failed)) || stalled(&status.conditions)
}

fn site_finished(status: &StaticSiteStatus) -> bool {
    status.phase == Some(SitePhase::Ready) || stalled(&status.conditions)
}

fn stalled(conds: &[Condition]) -> bool {
    conditions::is_true(conds, conditions::STALLED)
}

/// `Type (Reason): message` of the summary condition, for the terminal.
fn summary(conds: &[Condition]) -> String {
    conditions::current_summary(conds).map(|c| format!("{} ({}): {}", c.type_, c.reason, c.message)).unwrap_or_default()
}

/// `awsops plan`: reads AWS, changes nothing, prints what `apply` would do.
pub async fn plan(options: &Options) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(&options.files)?;
    report_skipped(&manifests);
    let objects = Arc::new(LocalObjects::open(&options.state_dir, &manifests, false, None)?);
    let ctx = context(objects.clone(), options).await;
    let mut worst = 0u8;
    for failover in &manifests.failovers {
        let key = Key::of(failover);
        println!("{key}");
        let planned = async { plan_failover(&objects.get(&key)?, &ctx).await };
        worst = worst.max(reported(planned.await));
    }
    for site in &manifests.sites {
        let key = Key::of(site);
        println!("{key}");
        let planned = async { plan_site(&objects.get(&key)?, &objects, &key, &ctx).await };
        worst = worst.max(reported(planned.await));
    }
    // 1 (error) outranks 2 (changes): CI must see a manifest that would stall.
    let code = if worst == 1 { 1 } else { worst };
    Ok(ExitCode::from(code))
}

/// The exit code of one object's plan; an error is shown under the object
/// (one line) and the plan goes on to the next object.
fn reported(planned: anyhow::Result<u8>) -> u8 {
    planned.unwrap_or_else(|e| {
        println!("  error: {e:#}");
        1
    })
}

async fn plan_failover(failover: &AuroraFailover, ctx: &Context) -> anyhow::Result<u8> {
    let current = failover.status.clone().unwrap_or_default();
    let span = reconcile_span(Kind::AuroraFailover, &failover.namespace().unwrap_or_default(), &failover.name_any());
    let decided = crate::aurora_failover::decide(failover, ctx, &Coordination::default()).instrument(span).await?;
    let (decision, _turn) = match decided {
        Next::Finished => {
            println!("  finished: {}; nothing to do", summary(&current.conditions));
            return Ok(0);
        }
        Next::Refused { status, .. } => {
            println!("  would stall: {}", summary(&status.conditions));
            return Ok(1);
        }
        Next::Decided { decision, turn, .. } => (decision, turn),
    };
    if let Some(plan) = &decision.status.plan {
        print_candidates(&failover.spec.cluster_identifier, plan);
    }
    match &decision.action {
        Action::Failover { target } => {
            let reason = decision.status.plan.as_ref().map(|p| p.reason.as_str()).unwrap_or_default();
            println!("  + fail over: promote {target} ({reason})");
            if let Some(checks) = verify_plan(&failover.spec, target) {
                println!("    then verify: {checks}");
            }
            Ok(CHANGES)
        }
        Action::Poll => {
            println!("  a failover is in progress: {}", summary(&decision.status.conditions));
            Ok(CHANGES)
        }
        Action::None if stalled(&decision.status.conditions) => {
            println!("  would stall: {}", summary(&decision.status.conditions));
            Ok(1)
        }
        Action::None => {
            println!("  {}", summary(&decision.status.conditions));
            Ok(if failover_finished(&decision.status) { 0 } else { CHANGES })
        }
    }
}

/// What `spec.verify` will check after the swap, in a line; `None` when nothing.
fn verify_plan(spec: &crate::api::aurora_failover::AuroraFailoverSpec, target: &str) -> Option<String> {
    let mut checks = Vec::new();
    if spec.verifies_endpoint() {
        checks.push(format!("the cluster endpoint resolves to {target}"));
    }
    if let Some(probe) = spec.write_probe() {
        checks.push(format!("writes accepted (login from Secret {}; writable now)", probe.secret_ref.name));
    }
    let alarms: Vec<&str> = spec.alarm_names().collect();
    if !alarms.is_empty() {
        checks.push(format!("alarms OK: {}", alarms.join(", ")));
    }
    (!checks.is_empty())
        .then(|| format!("{} (within {} s of the swap)", checks.join("; "), spec.verify_timeout_seconds()))
}

fn print_candidates(cluster: &str, plan: &crate::api::aurora_failover::FailoverPlan) {
    println!("  cluster {cluster}: writer {}", plan.current_writer);
    println!("  candidates, best first:");
    for (rank, c) in plan.candidates.iter().enumerate() {
        let zone = c.availability_zone.as_deref().unwrap_or("-");
        println!(
            "    {}. {} tier-{} {} {} {}",
            rank + 1,
            c.instance,
            c.promotion_tier,
            c.instance_class,
            zone,
            c.status
        );
    }
}

async fn plan_site(site: &StaticSite, objects: &LocalObjects, key: &Key, ctx: &Context) -> anyhow::Result<u8> {
    let recorder = Recorder::default();
    let wrap = recorder.clone();
    let span = reconcile_span(Kind::StaticSite, &key.namespace, &key.name);
    crate::static_site::apply_with(site, ctx, move |real| wrap.wrap(real)).instrument(span).await?;
    let status = objects.get::<StaticSite>(key)?.status.unwrap_or_default();
    if stalled(&status.conditions) {
        println!("  would stall: {}", summary(&status.conditions));
        return Ok(1);
    }
    let unread = ["SourceUnreachable", "WorkFolderFailed"];
    if let Some(c) = status.conditions.iter().find(|c| c.status == "True" && unread.contains(&c.reason.as_str())) {
        println!("  content source not read, nothing planned past it: {}", c.message);
        return Ok(1);
    }
    let changes = recorder.changes();
    let (uploads, others): (Vec<&Change>, Vec<&Change>) =
        changes.iter().partition(|c| matches!(c, Change::Upload { .. }));
    for change in &others {
        println!("  {change}");
    }
    if !uploads.is_empty() {
        let bytes: usize = uploads.iter().map(|c| if let Change::Upload { bytes, .. } = c { *bytes } else { 0 }).sum();
        println!("  ^ upload {} files, {bytes} bytes:", uploads.len());
        for change in &uploads {
            println!("    {change}");
        }
    }
    if !site_finished(&status) {
        println!("  then waits: {}", summary(&status.conditions));
    }
    if changes.is_empty() {
        println!("  in sync");
        return Ok(0);
    }
    Ok(CHANGES)
}

fn report_skipped(manifests: &manifests::Manifests) {
    for skipped in &manifests.skipped {
        eprintln!(
            "skipping {skipped}: awsops handles AuroraFailover, StaticSite and ConfigMap (create namespaces and the rest with kubectl)"
        );
    }
}

/// `awsops apply`: runs the reconcilers until every object is
/// Ready/Succeeded, Failed or Stalled, then prints each status.
pub async fn apply(options: &Options) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(&options.files)?;
    report_skipped(&manifests);
    let objects = Arc::new(LocalObjects::open(&options.state_dir, &manifests, true, Some(Terminal::default()))?);
    let ctx = context(objects.clone(), options).await;
    let deadline = Instant::now() + options.timeout;
    let shared = Coordination::default();
    let failovers = manifests.failovers.iter().map(|f| drive_failover(&ctx, &shared, &objects, Key::of(f), deadline));
    let sites = manifests.sites.iter().map(|s| drive_site(&ctx, &objects, Key::of(s), deadline));
    let (failovers, sites) = futures::join!(futures::future::join_all(failovers), futures::future::join_all(sites));
    let mut ok = true;
    for (key, outcome) in failovers.into_iter().chain(sites) {
        ok &= outcome;
        let status = match key.kind {
            Kind::AuroraFailover => serde_yaml_ng::to_string(&objects.get::<AuroraFailover>(&key)?.status)?,
            Kind::StaticSite => serde_yaml_ng::to_string(&objects.get::<StaticSite>(&key)?.status)?,
        };
        println!("--- {key}\nstatus:\n{}", indent(&status));
    }
    if let Some(terminal) = objects.terminal() {
        terminal.say(&format!("state kept in {}", options.state_dir.display()));
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Reconciles one failover until it finishes; `true` when it succeeded.
async fn drive_failover(
    ctx: &Context,
    shared: &Coordination,
    objects: &LocalObjects,
    key: Key,
    deadline: Instant,
) -> (Key, bool) {
    let outcome = drive(objects, &key, deadline, || async {
        let wait = crate::aurora_failover::reconcile(&objects.get(&key)?, ctx, shared).await?;
        let status = objects.get::<AuroraFailover>(&key)?.status.unwrap_or_default();
        Ok(match failover_finished(&status) {
            true => Progress::Done(status.phase == Some(FailoverPhase::Succeeded)),
            false => Progress::Wait(wait),
        })
    })
    .await;
    (key, outcome)
}

/// Reconciles one site (at least once: a re-run repairs drift) until it is
/// ready or stalled; `true` when ready.
async fn drive_site(ctx: &Context, objects: &LocalObjects, key: Key, deadline: Instant) -> (Key, bool) {
    let outcome = drive(objects, &key, deadline, || async {
        let wait = crate::static_site::apply(&objects.get(&key)?, ctx).await?;
        let status = objects.get::<StaticSite>(&key)?.status.unwrap_or_default();
        Ok(match site_finished(&status) {
            true => Progress::Done(status.phase == Some(SitePhase::Ready)),
            false => Progress::Wait(wait),
        })
    })
    .await;
    (key, outcome)
}

enum Progress {
    Done(bool),
    Wait(Duration),
}

/// Calls `step` until it is done or the deadline passes; errors are shown
/// and retried after the wait the controller would use.
async fn drive<F, Fut>(objects: &LocalObjects, key: &Key, deadline: Instant, step: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Progress, Error>>,
{
    let say = |text: &str| {
        if let Some(terminal) = objects.terminal() {
            terminal.line(key, text);
        }
    };
    loop {
        let wait = match step().instrument(reconcile_span(key.kind, &key.namespace, &key.name)).await {
            Ok(Progress::Done(ok)) => return ok,
            Ok(Progress::Wait(wait)) => wait,
            Err(Error::CleanupPending(wait)) => wait,
            Err(e) => {
                say(&format!("  retrying after error: {e}"));
                e.requeue_after()
            }
        };
        if Instant::now() >= deadline {
            say("timed out; run the same command again to resume from the state folder");
            return false;
        }
        tokio::time::sleep(wait.min(MAX_WAIT).min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// `awsops delete`: removes what each StaticSite created in AWS (as the
/// controller's finalizer does) and forgets every object.
pub async fn delete(options: &Options) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(&options.files)?;
    report_skipped(&manifests);
    let stored_manifests = manifests::Manifests::default();
    let objects = Arc::new(LocalObjects::open(&options.state_dir, &stored_manifests, true, Some(Terminal::default()))?);
    let ctx = context(objects.clone(), options).await;
    let deadline = Instant::now() + options.timeout;
    let mut ok = true;
    let terminal = objects.terminal().expect("delete shows progress");
    for failover in &manifests.failovers {
        let key = Key::of(failover);
        objects.forget(&key)?;
        terminal.line(&key, "forgotten (a failover leaves nothing to delete in AWS)");
    }
    for site in &manifests.sites {
        let key = Key::of(site);
        if !objects.stored(&key) {
            terminal.line(&key, "not in the state folder: nothing to delete");
            continue;
        }
        let done = drive(&objects, &key, deadline, || async {
            let site: StaticSite = objects.get(&key)?;
            match crate::static_site::cleanup(&site, &ctx).await? {
                wait if wait.is_zero() => Ok(Progress::Done(true)),
                _ => Ok(Progress::Done(false)),
            }
        })
        .await;
        if done {
            objects.forget(&key)?;
            terminal.line(&key, "deleted");
        } else {
            let status = objects.get::<StaticSite>(&key)?.status.unwrap_or_default();
            terminal.line(&key, &format!("not deleted: {}", summary(&status.conditions)));
            ok = false;
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
