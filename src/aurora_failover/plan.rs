//! Pure decisions for an AuroraFailover: from (spec, status, what AWS showed,
//! the time) to the next status and the one action to take. No I/O here;
//! every rule has a table test below.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::capacity::capacity;
use crate::api::aurora_failover::{
    AlarmStatus, AuroraFailoverSpec, AuroraFailoverStatus, Candidate, FailoverPhase, FailoverPlan, MemberRole,
    MemberStatus, VerificationStatus,
};
use crate::api::conditions::{self, Desired, Reason, Stall, Summary};
use crate::aws::rds::{DbCluster, DbMember};
use crate::dataplane::Resolution;
use crate::dataplane::probe::{self, Answer, Summary as ProbeSummary};

/// Engines of the Aurora MySQL family (`aurora` is Aurora MySQL 1).
pub const AURORA_MYSQL_ENGINES: &[&str] = &["aurora-mysql", "aurora"];

/// How often to look while the roles are swapping.
pub const POLL: Duration = Duration::from_secs(1);
/// The first look after the call: RDS may have swapped already (an emulator
/// does at once); later looks back off to [`POLL`].
pub const FIRST_POLL: Duration = Duration::from_millis(100);
/// How often to re-check a failed precondition or wait for another failover.
pub const RECHECK: Duration = Duration::from_secs(30);
pub const WAIT_TURN: Duration = Duration::from_secs(5);
/// How often to look while `spec.verify`'s alarms are not OK yet (CloudWatch
/// evaluates an alarm at most every 10 s).
pub const VERIFY_POLL: Duration = Duration::from_secs(5);
/// The state of an alarm that passes.
const ALARM_OK: &str = "OK";
/// What status says of an alarm deleted after the failover started.
const ALARM_MISSING: &str = "MISSING";
/// What status says of an alarm CloudWatch would not let the controller read.
const ALARM_UNREADABLE: &str = "UNREADABLE";
/// How long after a recorded intent whose call RDS shows no sign of (no
/// swap, no failover event, no `requestedAt`) it is issued again: the call
/// is sent once (the SDK never retries it) and an attempt ends within
/// `ATTEMPT_TIMEOUT` (30 s), so by then no call of this or another replica
/// is still on its way (a crash between intent and call resumes after it).
pub const CALL_AGAIN_AFTER: Duration = Duration::from_secs(crate::aws::clients::ATTEMPT_TIMEOUT.as_secs() + 5);
/// A call decided (and fenced by its status write) is sent only this soon
/// after `calledAt`: a slow status write, event or paused process would
/// otherwise send it when another replica may already call again.
pub const SEND_WITHIN: Duration = Duration::from_secs(3);

/// What the controller may do with an object before looking at AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preflight {
    /// Planned, Succeeded or Failed: never act again, never call AWS.
    Finished,
    /// The spec breaks a rule; the message says which and how to fix it.
    Invalid(String),
    /// The spec changed after creation (CEL forbids it; a 1.20 API server does not enforce CEL).
    SpecChanged,
    /// Go on to observe AWS.
    Proceed,
}

/// Decides whether this object may act at all.
pub fn preflight(spec: &AuroraFailoverSpec, generation: Option<i64>, status: &AuroraFailoverStatus) -> Preflight {
    if status.phase.is_some_and(FailoverPhase::is_final) {
        return Preflight::Finished;
    }
    if generation.unwrap_or(1) > 1 {
        return Preflight::SpecChanged;
    }
    match spec.validate() {
        Err(message) => Preflight::Invalid(message),
        // Only an earlier controller version refused this very spec: never carry it out late.
        Ok(()) if refused_as_invalid(status) => Preflight::Invalid(
            "an earlier awsops version refused this spec (InvalidSpec) and an AuroraFailover cannot change, so it is not carried out late: create a new AuroraFailover to fail over now".into(),
        ),
        Ok(()) => Preflight::Proceed,
    }
}

fn refused_as_invalid(status: &AuroraFailoverStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == conditions::STALLED && c.status == "True" && c.reason == Reason::InvalidSpec.as_str())
}

/// What observe saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// `None` when the cluster does not exist.
    pub cluster: Option<DbCluster>,
    /// Another AuroraFailover (`namespace/name`) failing over the same cluster.
    pub holder: Option<String>,
    /// An RDS event since `status.startedAt` says a failover started.
    pub failover_event_seen: bool,
    /// The state of each alarm `spec.verify.alarms` names that exists
    /// (empty when it names none, or before the swap while failing over).
    pub alarms: BTreeMap<String, String>,
    /// Why the alarms could not be read after the swap (they then count as not OK).
    pub alarms_unreadable: Option<String>,
    /// Where the cluster endpoint resolved (`spec.verify.endpoint`), before
    /// the failover and after the swap; `Err` says why it did not.
    pub endpoint: Option<Result<Resolution, String>>,
    /// What the write probe found (`spec.verify.writeProbe`).
    pub probe: ProbeView,
}

/// What the write probe (`spec.verify.writeProbe`) found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProbeView {
    #[default]
    NotAsked,
    /// The login could not be read: why, and what to do.
    NoLogin(String),
    /// Before the failover: one answer, which must be writable.
    Baseline(Answer),
    /// From the intent on: what the sampler saw (`None`: nothing yet).
    Sampled(Option<ProbeSummary>),
}

/// The one AWS action a reconcile takes, after writing `Decision::status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Status only.
    None,
    /// The intent is in `Decision::status`; now call FailoverDBCluster with this target.
    Failover { target: String },
    /// Waiting for the swap: mirror RDS events, look again in [`POLL`].
    Poll,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: AuroraFailoverStatus,
    pub action: Action,
    pub requeue: Duration,
}

/// The status for a spec that failed [`preflight`].
pub fn refuse(
    current: &AuroraFailoverStatus,
    preflight: &Preflight,
    generation: Option<i64>,
    now: Timestamp,
) -> AuroraFailoverStatus {
    let stall = match preflight {
        Preflight::Invalid(message) => Stall::new(Reason::InvalidSpec, message).untouched(),
        Preflight::SpecChanged => Stall::new(
            Reason::ImmutableField,
            "spec changed after creation; an AuroraFailover is immutable: restore the spec, and create a new object for a new failover",
        ),
        Preflight::Finished | Preflight::Proceed => return current.clone(),
    };
    with(current, generation, now, stall.conditions(), |s| {
        s.phase = Some(s.phase.unwrap_or(FailoverPhase::Pending));
    })
}

/// The status with the tenancy verdict's conditions (`Permitted`, and the
/// `NotPermitted` stall when enforced); the phase is kept (Pending when unset).
pub fn judged(
    current: &AuroraFailoverStatus,
    verdict: &[Desired],
    generation: Option<i64>,
    now: Timestamp,
) -> AuroraFailoverStatus {
    with(current, generation, now, verdict.to_vec(), |s| {
        s.phase = Some(s.phase.unwrap_or(FailoverPhase::Pending));
    })
}

/// The status when AWS refused FailoverDBCluster: the intent is withdrawn
/// (RDS never took the call), so the object starts over once IAM allows it.
pub fn access_denied(
    current: &AuroraFailoverStatus,
    generation: Option<i64>,
    now: Timestamp,
    error: &str,
) -> AuroraFailoverStatus {
    let mut next = read_denied(current, generation, now, error);
    if next.phase != Some(FailoverPhase::FailingOver) || next.requested_at.is_none() {
        next.phase = Some(FailoverPhase::Pending);
        next.previous_writer = None;
        next.started_at = None;
        next.called_at = None;
    }
    next
}

/// The status when AWS refused a read: the stall is reported, and an intent
/// is kept whatever became of its call (a read says nothing about it, and
/// starting over from a writer that may have moved would fail over back).
pub fn read_denied(
    current: &AuroraFailoverStatus,
    generation: Option<i64>,
    now: Timestamp,
    error: &str,
) -> AuroraFailoverStatus {
    let failing_over = current.phase == Some(FailoverPhase::FailingOver);
    let stall = Stall::access_denied(&error);
    // Once an intent is recorded the writer may have moved: never say nothing changed.
    let stall = if failing_over { stall } else { stall.untouched() };
    with(current, generation, now, stall.conditions(), |s| {
        if !failing_over {
            s.phase = Some(FailoverPhase::Pending);
        }
    })
}

/// The status when FailoverDBCluster itself was refused for good.
pub fn rejected(
    current: &AuroraFailoverStatus,
    generation: Option<i64>,
    now: Timestamp,
    error: &str,
) -> AuroraFailoverStatus {
    let message = format!("RDS refused the failover: {error}. The writer did not change.");
    with(current, generation, now, failed(Reason::FailoverRejected, &message), |s| {
        s.phase = Some(FailoverPhase::Failed);
        s.completed_at = Some(Time(now));
    })
}

/// Plans one reconcile of an object that passed [`preflight`].
pub fn plan(
    spec: &AuroraFailoverSpec,
    current: &AuroraFailoverStatus,
    observed: &Observed,
    generation: Option<i64>,
    now: Timestamp,
) -> Decision {
    match current.phase {
        Some(FailoverPhase::FailingOver) => plan_wait(spec, current, observed, generation, now),
        _ => plan_start(spec, current, observed, generation, now),
    }
}

fn plan_start(
    spec: &AuroraFailoverSpec,
    current: &AuroraFailoverStatus,
    observed: &Observed,
    generation: Option<i64>,
    now: Timestamp,
) -> Decision {
    let Some(c) = &observed.cluster else {
        let message = format!(
            "DB cluster {:?} does not exist in this region and account: check spec.clusterIdentifier, spec.region and spec.roleArn",
            spec.cluster_identifier
        );
        return stall(current, None, generation, now, Stall::new(Reason::ClusterNotFound, message));
    };
    let checked = preconditions(spec, c).and_then(|(writer, plan)| {
        alarms_exist(spec, observed)?;
        endpoint_resolves_now(spec, observed, writer)?;
        baseline_writable(&observed.probe)?;
        Ok((writer, plan))
    });
    let (writer, plan) = match checked {
        Ok(found) => found,
        Err(refused) => return stall(current, Some(c), generation, now, refused),
    };
    let target = plan.target.clone();
    let promote = format!("promote {target:?} ({}); writer {:?} becomes a reader", plan.reason, writer.instance);
    if let Some(holder) = &observed.holder {
        let message = format!(
            "AuroraFailover {holder} is failing over {:?}; this one re-checks its preconditions when it finishes",
            spec.cluster_identifier
        );
        let waiting = conditions::summary(Summary::Reconciling, Reason::WaitingForOtherFailover, message);
        let next = with(current, generation, now, waiting, |s| {
            s.phase = Some(FailoverPhase::Pending);
            s.members = members(c);
        });
        return Decision { status: next, action: Action::None, requeue: WAIT_TURN };
    }
    if spec.dry_run {
        let mut desired = conditions::summary(Summary::Ready, Reason::Planned, format!("dry run: would {promote}"));
        desired.push(Desired::new(conditions::PLANNED, true, Reason::Planned, plan.reason.clone()));
        let next = with(current, generation, now, desired, |s| {
            s.phase = Some(FailoverPhase::Planned);
            s.plan = Some(plan.clone());
            s.members = members(c);
        });
        return Decision { status: next, action: Action::None, requeue: Duration::ZERO };
    }
    let mut desired =
        conditions::summary(Summary::Reconciling, Reason::FailingOver, format!("failing over: {promote}"));
    desired.push(Desired::new(conditions::PLANNED, true, Reason::Planned, plan.reason.clone()));
    desired.push(Desired::new(
        conditions::WRITER_SWAPPED,
        false,
        Reason::FailingOver,
        format!("waiting for {target:?} to become the writer"),
    ));
    let next = with(current, generation, now, desired, |s| {
        s.phase = Some(FailoverPhase::FailingOver);
        s.plan = Some(plan.clone());
        s.previous_writer = Some(writer.instance.clone());
        s.started_at = Some(Time(now));
        s.called_at = Some(Time(now));
        s.requested_at = None;
        s.members = members(c);
    });
    Decision { status: next, action: Action::Failover { target }, requeue: FIRST_POLL }
}

/// The writer and the plan for an existing cluster, or the precondition it fails.
fn preconditions<'c>(spec: &AuroraFailoverSpec, c: &'c DbCluster) -> Result<(&'c DbMember, FailoverPlan), Stall> {
    let cluster_id = &spec.cluster_identifier;
    if !AURORA_MYSQL_ENGINES.contains(&c.engine.as_str()) {
        let message = format!(
            "DB cluster {cluster_id:?} runs engine {:?}; AuroraFailover supports Aurora MySQL (aurora-mysql) only",
            c.engine
        );
        return Err(Stall::new(Reason::UnsupportedEngine, message));
    }
    if !c.status.is_available() {
        let message = format!(
            "DB cluster {cluster_id:?} is {:?}, not available; the failover starts once it is available",
            c.status.as_str()
        );
        return Err(Stall::new(Reason::ClusterNotAvailable, message));
    }
    let Some(writer) = c.writer() else {
        return Err(Stall::new(Reason::NoWriter, format!("DB cluster {cluster_id:?} has no writer instance")));
    };
    if c.members.len() < 2 {
        let message = format!(
            "DB cluster {cluster_id:?} has only the writer {:?}: add a reader (Aurora replica) to fail over to",
            writer.instance
        );
        return Err(Stall::new(Reason::SingleInstanceCluster, message));
    }
    if let Some(expected) = &spec.expected_writer
        && !expected.eq_ignore_ascii_case(&writer.instance)
    {
        let message = format!(
            "the writer of {cluster_id:?} is {:?}, not spec.expectedWriter {expected:?}: someone else may have failed it over already",
            writer.instance
        );
        return Err(Stall::new(Reason::WriterMismatch, message));
    }
    let candidates = rank(c);
    let (target, reason) = choose(spec, writer, c, &candidates)?;
    let plan = FailoverPlan {
        current_writer: writer.instance.clone(),
        target,
        reason,
        candidates: candidates.iter().map(|m| candidate(m)).collect(),
    };
    Ok((writer, plan))
}

/// A `spec.verify.alarms` name that does not exist stops the failover before it starts.
fn alarms_exist(spec: &AuroraFailoverSpec, observed: &Observed) -> Result<(), Stall> {
    let missing: Vec<&str> = spec.alarm_names().filter(|name| !observed.alarms.contains_key(*name)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let message = format!(
        "CloudWatch alarm(s) {missing:?} named in spec.verify.alarms do not exist in the cluster's region: create them or fix the names (a new AuroraFailover, since its spec is immutable)"
    );
    Err(Stall::new(Reason::AlarmNotFound, message))
}

/// Where `spec.verify`'s checks stand after the swap.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Checks {
    NoneAsked,
    /// Every check passed: what was checked.
    Passed(String),
    /// Not passed yet, still within `spec.verify.timeoutSeconds`.
    Waiting(String),
    /// Not passed within `spec.verify.timeoutSeconds`.
    Failed(String),
}

struct Verdict {
    outcome: Checks,
    status: Option<VerificationStatus>,
    /// The endpoint or the write probe has not passed yet, and no alarms are
    /// asked: look again in [`POLL`] (alarms keep the [`VERIFY_POLL`] pace).
    soon: bool,
}

/// One check of `spec.verify` after the swap.
enum Check {
    Passed(String),
    /// Not passed (yet): why, and what to look at if it never does.
    Failing {
        why: String,
        hint: &'static str,
    },
}

/// The checks after a swap seen at `swapped_at`: the cluster endpoint leads
/// to the new writer, the write probe finds it writable, every alarm is
/// `OK`; within `spec.verify.timeoutSeconds`.
fn verification(
    spec: &AuroraFailoverSpec,
    current: &AuroraFailoverStatus,
    observed: &Observed,
    writer: Option<&DbMember>,
    swapped_at: Timestamp,
    now: Timestamp,
) -> Verdict {
    let recorded = current.verification.clone().unwrap_or_default();
    let mut status = VerificationStatus::default();
    let mut checks = Vec::new();
    if spec.verifies_endpoint() {
        checks.push(endpoint_check(observed, writer, &recorded, now, &mut status));
    }
    if spec.write_probe().is_some() {
        checks.push(writes_check(&recorded, &observed.probe, swapped_at, &mut status));
    }
    let quick_pending = checks.iter().any(|c| matches!(c, Check::Failing { .. }));
    let asks_alarms = spec.alarm_names().next().is_some();
    if asks_alarms {
        checks.push(alarms_check(spec, observed, &mut status));
    }
    if checks.is_empty() {
        return Verdict { outcome: Checks::NoneAsked, status: None, soon: false };
    }
    let (mut passed, mut failing, mut hints) = (Vec::new(), Vec::new(), Vec::new());
    for check in checks {
        match check {
            Check::Passed(what) => passed.push(what),
            Check::Failing { why, hint } => {
                failing.push(why);
                hints.push(hint);
            }
        }
    }
    let waited = now.duration_since(swapped_at).as_secs();
    let timeout = spec.verify_timeout_seconds();
    let outcome = if failing.is_empty() {
        Checks::Passed(passed.join("; "))
    } else if waited > i64::from(timeout) {
        Checks::Failed(format!(
            "the writer swapped, but after spec.verify.timeoutSeconds ({timeout} s) {}; the writer is left where it is: {}",
            failing.join("; "),
            hints.join("; ")
        ))
    } else {
        Checks::Waiting(format!("the writer swapped; waiting: {} ({waited} s)", failing.join("; ")))
    };
    Verdict { outcome, status: Some(status), soon: quick_pending && !asks_alarms }
}

/// `spec.verify.endpoint`: passed once the endpoint was seen leading to the
/// writer (`endpointSwitchedAt`, kept once recorded).
fn endpoint_check(
    observed: &Observed,
    writer: Option<&DbMember>,
    recorded: &VerificationStatus,
    now: Timestamp,
    status: &mut VerificationStatus,
) -> Check {
    let seen = endpoint_seen(observed, writer);
    status.endpoint_switched_at = recorded.endpoint_switched_at.clone().or_else(|| seen.is_ok().then_some(Time(now)));
    match seen {
        _ if status.endpoint_switched_at.is_some() => Check::Passed("the cluster endpoint resolves to it".into()),
        Ok(()) => Check::Passed("the cluster endpoint resolves to it".into()),
        Err(why) => Check::Failing { why, hint: RESOLVER_HINT },
    }
}

/// What to do about an endpoint the controller cannot see leading to the writer.
const RESOLVER_HINT: &str = "check the controller's resolver (--dns-server), or set spec.verify.endpoint: false for a cluster it cannot resolve";

/// `spec.verify.writeProbe`: passed once the probe's latest answer, taken
/// after the swap, was writable; fills `status` with what it measured (kept
/// once recorded).
fn writes_check(
    recorded: &VerificationStatus,
    seen: &ProbeView,
    swapped_at: Timestamp,
    status: &mut VerificationStatus,
) -> Check {
    let hint = "check the cluster's events, and that the controller's pod reaches the cluster's port";
    if let Some(at) = &recorded.writable_at {
        status.writable_at = Some(at.clone());
        status.write_outage_seconds = recorded.write_outage_seconds.clone();
        status.probe_errors = recorded.probe_errors.clone();
        return Check::Passed(outage_phrase(status));
    }
    let summary = match seen {
        ProbeView::Sampled(Some(summary)) => summary,
        ProbeView::NoLogin(why) => {
            return Check::Failing { why: format!("the write probe cannot log in: {why}"), hint };
        }
        _ => return Check::Failing { why: "the write probe has not answered yet".into(), hint },
    };
    status.probe_errors = summary.errors.iter().map(|(code, n)| (code.to_string(), *n)).collect();
    if !summary.writable_now {
        let last = summary.last_error.as_deref().unwrap_or("no answer yet");
        return Check::Failing { why: format!("the write probe finds no writable server yet ({last})"), hint };
    }
    if summary.last_at.is_none_or(|at| at < swapped_at) {
        return Check::Failing { why: "the write probe has not answered since the swap".into(), hint };
    }
    status.writable_at = summary.writable_since.map(Time);
    status.write_outage_seconds =
        summary.outage_seconds().and_then(|s| serde_json::Number::from_f64((s * 100.0).round() / 100.0));
    Check::Passed(outage_phrase(status))
}

/// `spec.verify.alarms`: every alarm `OK`.
fn alarms_check(spec: &AuroraFailoverSpec, observed: &Observed, status: &mut VerificationStatus) -> Check {
    let (alarms, not_ok) = alarm_states(spec, observed);
    status.alarms = alarms;
    if not_ok.is_empty() {
        let names: Vec<&str> = spec.alarm_names().collect();
        return Check::Passed(format!("alarms OK: {}", names.join(", ")));
    }
    Check::Failing {
        why: format!("alarms not OK: {}", not_ok.join(", ")),
        hint: "check what each alarm watches (or the controller's cloudwatch:DescribeAlarms permission)",
    }
}

fn outage_phrase(status: &VerificationStatus) -> String {
    match &status.write_outage_seconds {
        Some(seconds) => format!("writes accepted again (write outage {seconds} s)"),
        None => "writes accepted (the outage is unknown: the controller restarted during the failover)".into(),
    }
}

/// Each alarm `spec.verify` names with its state, and a phrase for each not `OK`.
fn alarm_states(spec: &AuroraFailoverSpec, observed: &Observed) -> (Vec<AlarmStatus>, Vec<String>) {
    let state = |name: &str| match (&observed.alarms_unreadable, observed.alarms.get(name)) {
        (Some(_), _) => ALARM_UNREADABLE.to_string(),
        (None, Some(state)) => state.clone(),
        (None, None) => ALARM_MISSING.to_string(),
    };
    let alarms: Vec<AlarmStatus> =
        spec.alarm_names().map(|name| AlarmStatus { name: name.to_string(), state: state(name) }).collect();
    let not_ok = alarms
        .iter()
        .filter(|a| a.state != ALARM_OK)
        .map(|a| match a.state.as_str() {
            ALARM_MISSING => format!("{} no longer exists", a.name),
            ALARM_UNREADABLE => {
                format!("{} cannot be read ({})", a.name, observed.alarms_unreadable.as_deref().unwrap_or_default())
            }
            state => format!("{} is {state}", a.name),
        })
        .collect();
    (alarms, not_ok)
}

/// Whether the cluster endpoint, as the controller resolved it, leads to
/// `writer`'s instance endpoint; if not, what it does instead.
fn endpoint_seen(observed: &Observed, writer: Option<&DbMember>) -> Result<(), String> {
    let Some(writer) = writer else { return Err("the cluster has no writer".into()) };
    let endpoint = observed.cluster.as_ref().and_then(|c| c.endpoint.as_deref()).unwrap_or_default();
    match &observed.endpoint {
        None => Err("RDS reports no cluster endpoint".into()),
        Some(Err(why)) => Err(format!("the cluster endpoint {endpoint} does not resolve ({why})")),
        Some(Ok(found)) if leads_to(found, writer) => Ok(()),
        Some(Ok(found)) => Err(format!(
            "the cluster endpoint {endpoint} resolves to {}, not to the writer {:?}",
            found.canonical(),
            writer.instance
        )),
    }
}

/// `resolution` passes through `member`'s instance endpoint (or, when RDS
/// gave none, a CNAME target whose first label is the instance identifier).
fn leads_to(resolution: &Resolution, member: &DbMember) -> bool {
    match &member.endpoint {
        Some(endpoint) => resolution.passes_through(endpoint),
        None => {
            let instance = member.instance.to_ascii_lowercase();
            resolution.chain.iter().skip(1).any(|n| n.split('.').next() == Some(instance.as_str()))
        }
    }
}

/// Before the failover, `spec.verify.endpoint` needs the cluster endpoint to
/// resolve to the writer: otherwise the check after the swap could never pass.
fn endpoint_resolves_now(spec: &AuroraFailoverSpec, observed: &Observed, writer: &DbMember) -> Result<(), Stall> {
    if !spec.verifies_endpoint() {
        return Ok(());
    }
    endpoint_seen(observed, Some(writer)).map_err(|why| {
        let message = format!(
            "{why}, so spec.verify.endpoint could not confirm the failover: {RESOLVER_HINT} (a new AuroraFailover, since its spec is immutable); looked at again every 30 s"
        );
        Stall::new(Reason::EndpointUnresolved, message)
    })
}

/// Before the failover the write probe must find the writer writable:
/// otherwise the outage could not be measured (or the login is wrong).
fn baseline_writable(seen: &ProbeView) -> Result<(), Stall> {
    let why = match seen {
        ProbeView::NotAsked | ProbeView::Sampled(_) | ProbeView::Baseline(Answer::Writable) => return Ok(()),
        ProbeView::NoLogin(why) => why.clone(),
        ProbeView::Baseline(Answer::Refused { code: probe::ACCESS_DENIED, message }) => {
            format!(
                "the write probe's login was refused ({message}): fix username and password in the Secret (a MariaDB-based server also answers so when it requires TLS: then give the controller --mysql-ca-file)"
            )
        }
        ProbeView::Baseline(Answer::Refused { code: probe::TLS_REQUIRED, message }) => format!(
            "the cluster requires TLS ({message}): give the controller the CA bundle that signed its certificate (--mysql-ca-file; for RDS its global bundle)"
        ),
        ProbeView::Baseline(Answer::Refused { code: probe::TLS_FAILED, message }) => format!(
            "TLS with the cluster failed ({message}): --mysql-ca-file must hold the CA that signed the cluster's certificate, which must name the cluster endpoint"
        ),
        ProbeView::Baseline(Answer::Refused { code: probe::UNKNOWN_HOST, message }) => {
            format!(
                "the write probe cannot resolve the cluster endpoint ({message}): check the controller's resolver (--dns-server)"
            )
        }
        ProbeView::Baseline(Answer::Refused { code: probe::CANNOT_CONNECT, message }) => format!(
            "the write probe cannot reach the cluster ({message}): the controller's pod needs a route to it and a security-group rule allowing the cluster's port"
        ),
        ProbeView::Baseline(Answer::Refused { code, message }) => {
            format!(
                "the write probe finds no writable server behind the cluster endpoint (MySQL error {code}: {message})"
            )
        }
    };
    let message = format!("{why}; the failover starts once the probe finds the writer writable (looked at every 30 s)");
    Err(Stall::new(Reason::ProbeBaselineFailed, message))
}

/// How long to wait before the next look, `since` the failover started:
/// half of it, from [`FIRST_POLL`] up to [`POLL`] (0.1, 0.1, 0.2, 0.4, 0.8, 1 s...).
pub fn poll_delay(since: Duration) -> Duration {
    (since / 2).clamp(FIRST_POLL, POLL)
}

/// The target and why, or the precondition it fails.
fn choose(
    spec: &AuroraFailoverSpec,
    writer: &DbMember,
    c: &DbCluster,
    ranked: &[&DbMember],
) -> Result<(String, String), Stall> {
    let all = &c.members;
    if let Some(wanted) = &spec.target_instance {
        let Some(member) = all.iter().find(|m| m.instance.eq_ignore_ascii_case(wanted)) else {
            return Err(Stall::new(
                Reason::TargetNotInCluster,
                format!(
                    "spec.targetInstance {wanted:?} is not a member of cluster {:?}; members: {}",
                    spec.cluster_identifier,
                    all.iter().map(|m| m.instance.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        if member.instance == writer.instance {
            return Err(Stall::new(
                Reason::TargetIsWriter,
                format!("spec.targetInstance {wanted:?} is already the writer: nothing to fail over"),
            ));
        }
        if !member.status.is_available() {
            return Err(Stall::new(
                Reason::TargetNotAvailable,
                format!(
                    "spec.targetInstance {wanted:?} is {:?}, not available; the failover starts once it is available",
                    member.status.as_str()
                ),
            ));
        }
        return Ok((member.instance.clone(), "requested in spec.targetInstance".into()));
    }
    let available: Vec<&&DbMember> = ranked.iter().filter(|m| m.status.is_available()).collect();
    let Some(best) = available.first() else {
        return Err(Stall::new(
            Reason::NoAvailableReader,
            format!(
                "no reader of cluster {:?} is available ({}); the failover starts once one is",
                spec.cluster_identifier,
                ranked.iter().map(|m| format!("{}: {}", m.instance, m.status)).collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let tier = format!("lowest promotion tier (tier-{})", best.promotion_tier);
    let size = |m: &DbMember| capacity(&m.instance_class, c.serverless_max_gib);
    let class = |m: &DbMember| match size(m) {
        Some(cap) => format!("{}, {} GiB", m.instance_class, cap.memory_gib),
        None => format!("{}: unknown class, ranked last", display_class(&m.instance_class)),
    };
    let reason = match available.get(1) {
        None => format!("only available reader (tier-{})", best.promotion_tier),
        Some(next) if next.promotion_tier > best.promotion_tier => tier,
        Some(next) if size(next) < size(best) => format!("{tier}, then largest instance class ({})", class(best)),
        Some(_) => format!("{tier} and instance class ({}), then lowest name", class(best)),
    };
    Ok((best.instance.clone(), reason))
}

fn display_class(class: &str) -> &str {
    if class.is_empty() { "(not reported)" } else { class }
}

/// What plan_wait saw when the target became the writer.
struct Swap<'a> {
    cluster: &'a DbCluster,
    target: &'a str,
    previous: &'a str,
    requested_at: Option<Time>,
}

/// The target is the writer and the cluster available: `Succeeded`, or
/// waiting for (or failed by) `spec.verify`'s checks. The swap is recorded
/// when first seen (`completedAt`); verification counts from it.
fn plan_swapped(
    spec: &AuroraFailoverSpec,
    current: &AuroraFailoverStatus,
    observed: &Observed,
    seen: &Swap<'_>,
    generation: Option<i64>,
    now: Timestamp,
) -> Decision {
    let Swap { cluster: c, target, previous, requested_at } = seen;
    let writer = target.to_string();
    let swapped_at = current.completed_at.as_ref().map(|t| t.0).unwrap_or(now);
    let duration = requested_at.as_ref().map(|t| swapped_at.duration_since(t.0).as_secs().max(0));
    let verdict = verification(spec, current, observed, c.writer(), swapped_at, now);
    let swapped = |s: &mut AuroraFailoverStatus| {
        s.new_writer = Some(writer.clone());
        s.requested_at = requested_at.clone();
        s.completed_at = Some(Time(swapped_at));
        s.duration_seconds = duration;
        s.members = members(c);
        s.verification = verdict.status.clone();
    };
    let swap_message = format!("{target:?} is the writer; {previous:?} is a reader");
    match verdict.outcome {
        Checks::Waiting(message) => {
            let mut desired = conditions::summary(Summary::Reconciling, Reason::Verifying, message.clone());
            desired.push(Desired::new(conditions::WRITER_SWAPPED, true, Reason::Succeeded, swap_message));
            desired.push(Desired::new(conditions::VERIFIED, false, Reason::Verifying, message));
            let next = with(current, generation, now, desired, swapped);
            let requeue = if verdict.soon { POLL } else { VERIFY_POLL };
            return Decision { status: next, action: Action::None, requeue };
        }
        Checks::Failed(message) => {
            let mut desired = conditions::summary(Summary::Stalled, Reason::VerificationFailed, message.clone());
            desired.push(Desired::new(conditions::WRITER_SWAPPED, true, Reason::Succeeded, swap_message));
            desired.push(Desired::new(conditions::VERIFIED, false, Reason::VerificationFailed, message));
            let next = with(current, generation, now, desired, |s| {
                swapped(s);
                s.phase = Some(FailoverPhase::Failed);
            });
            return Decision { status: next, action: Action::None, requeue: Duration::ZERO };
        }
        Checks::Passed(_) | Checks::NoneAsked => {}
    }
    let busy: Vec<String> = c
        .members
        .iter()
        .filter(|m| !m.status.is_available())
        .map(|m| format!("{} is {}", m.instance, m.status.as_str()))
        .collect();
    let message = match busy.as_slice() {
        [] => format!("{target:?} is the writer; {previous:?} is a reader"),
        _ => format!("{target:?} is the writer; {previous:?} is a reader; not available yet: {}", busy.join(", ")),
    };
    let mut desired = conditions::summary(Summary::Ready, Reason::Succeeded, message.clone());
    desired.push(Desired::new(conditions::WRITER_SWAPPED, true, Reason::Succeeded, message));
    if let Checks::Passed(checked) = verdict.outcome {
        desired.push(Desired::new(conditions::VERIFIED, true, Reason::Succeeded, checked));
    }
    let next = with(current, generation, now, desired, |s| {
        swapped(s);
        s.phase = Some(FailoverPhase::Succeeded);
    });
    Decision { status: next, action: Action::None, requeue: Duration::ZERO }
}

fn plan_wait(
    spec: &AuroraFailoverSpec,
    current: &AuroraFailoverStatus,
    observed: &Observed,
    generation: Option<i64>,
    now: Timestamp,
) -> Decision {
    let target = current.plan.as_ref().map(|p| p.target.clone()).unwrap_or_default();
    let previous = current.previous_writer.clone().unwrap_or_default();
    let Some(c) = &observed.cluster else {
        let message = format!("DB cluster {:?} disappeared during the failover", spec.cluster_identifier);
        return finish_failed(current, generation, now, Reason::ClusterGone, message);
    };
    let writer = c.writer().map(|m| m.instance.clone()).unwrap_or_default();
    let mut requested_at = current.requested_at.clone();
    if requested_at.is_none() && writer == target {
        // Crashed right after the call: the swap proves it was accepted.
        requested_at = current.started_at.clone();
    }
    let since = requested_at.as_ref().or(current.started_at.as_ref()).map(|t| t.0).unwrap_or(now);
    let elapsed = now.duration_since(since).as_secs();
    let all_available = c.status.is_available() && c.members.iter().all(|m| m.status.is_available());

    let swap_recorded = current.completed_at.is_some();
    if writer == target && (c.status.is_available() || swap_recorded) {
        let seen = Swap { cluster: c, target: &target, previous: &previous, requested_at };
        return plan_swapped(spec, current, observed, &seen, generation, now);
    }
    if swap_recorded {
        // Verifying after the swap: the failover's own waits and calls are over.
        let message = format!(
            "the writer moved from {target:?} to {writer:?} after the swap, while spec.verify was checking; this failover does not move it again: check the cluster's events in the RDS console"
        );
        return with_members(finish_failed(current, generation, now, Reason::WriterElsewhere, message), c);
    }
    if writer != target && writer != previous && all_available {
        let message = format!("the writer is now {writer:?}, not the target {target:?}: RDS promoted another instance");
        return with_members(finish_failed(current, generation, now, Reason::WriterElsewhere, message), c);
    }
    if elapsed > i64::from(spec.timeout_seconds) {
        let message = format!(
            "{target:?} did not become the writer within spec.timeoutSeconds ({} s); the writer is {writer:?} and the cluster is {:?}: check the cluster's events in the RDS console",
            spec.timeout_seconds,
            c.status.as_str()
        );
        return with_members(finish_failed(current, generation, now, Reason::Timeout, message), c);
    }
    // From the last call (another replica's retry included), not the first.
    let last_call = current.called_at.as_ref().or(current.started_at.as_ref()).map(|t| t.0).unwrap_or(now);
    let call_settled = now.duration_since(last_call).as_secs() >= CALL_AGAIN_AFTER.as_secs() as i64;
    let retry_call = requested_at.is_none()
        && call_settled
        && writer == previous
        && c.status.is_available()
        && !observed.failover_event_seen;
    let target_ready = c.members.iter().any(|m| m.instance == target && m.status.is_available() && !m.is_writer);
    let message = format!(
        "waiting for {target:?} to become the writer (cluster {:?}, writer {writer:?}, {elapsed} s)",
        c.status.as_str()
    );
    let next =
        with(current, generation, now, conditions::summary(Summary::Reconciling, Reason::FailingOver, message), |s| {
            s.requested_at = requested_at.clone();
            s.members = members(c);
        });
    if retry_call && target_ready {
        // The intent was written but the call never reached RDS (or was refused
        // transiently): the writer has not moved, so issuing it now is the first.
        let mut next = next;
        next.called_at = Some(Time(now));
        return Decision { status: next, action: Action::Failover { target }, requeue: FIRST_POLL };
    }
    let started = current.started_at.as_ref().map(|t| t.0).unwrap_or(now);
    Decision { status: next, action: Action::Poll, requeue: poll_delay(now.duration_since(started).unsigned_abs()) }
}

fn finish_failed(
    current: &AuroraFailoverStatus,
    generation: Option<i64>,
    now: Timestamp,
    why: Reason,
    message: String,
) -> Decision {
    let next = with(current, generation, now, failed(why, &message), |s| {
        s.phase = Some(FailoverPhase::Failed);
        s.completed_at = Some(Time(now));
    });
    Decision { status: next, action: Action::None, requeue: Duration::ZERO }
}

fn with_members(mut d: Decision, c: &DbCluster) -> Decision {
    d.status.members = members(c);
    d
}

fn failed(why: Reason, message: &str) -> Vec<Desired> {
    let mut desired = conditions::summary(Summary::Stalled, why, message.to_string());
    desired.push(Desired::new(conditions::WRITER_SWAPPED, false, why, message.to_string()));
    desired
}

fn stall(
    current: &AuroraFailoverStatus,
    cluster: Option<&DbCluster>,
    generation: Option<i64>,
    now: Timestamp,
    refused: Stall,
) -> Decision {
    let next = with(current, generation, now, refused.untouched().conditions(), |s| {
        s.phase = Some(FailoverPhase::Pending);
        if let Some(c) = cluster {
            s.members = members(c);
        }
    });
    Decision { status: next, action: Action::None, requeue: RECHECK }
}

/// Copies `current`, applies `change`, and merges the conditions.
fn with(
    current: &AuroraFailoverStatus,
    generation: Option<i64>,
    now: Timestamp,
    desired: Vec<Desired>,
    change: impl FnOnce(&mut AuroraFailoverStatus),
) -> AuroraFailoverStatus {
    let mut next = current.clone();
    change(&mut next);
    next.observed_generation = generation;
    next.conditions = conditions::merge(&current.conditions, &desired, generation, now);
    next
}

/// Readers in promotion order: available first, then lowest tier, then
/// largest instance class (by memory, see `capacity`; unknown last), then name.
pub fn rank(c: &DbCluster) -> Vec<&DbMember> {
    let mut readers: Vec<&DbMember> = c.members.iter().filter(|m| !m.is_writer).collect();
    readers.sort_by_key(|m| {
        let size = capacity(&m.instance_class, c.serverless_max_gib);
        (!m.status.is_available(), m.promotion_tier, Reverse(size), m.instance.clone())
    });
    readers
}

fn candidate(m: &DbMember) -> Candidate {
    Candidate {
        instance: m.instance.clone(),
        promotion_tier: m.promotion_tier,
        instance_class: m.instance_class.clone(),
        availability_zone: m.availability_zone.clone(),
        status: m.status.to_string(),
    }
}

fn members(c: &DbCluster) -> Vec<MemberStatus> {
    let mut out: Vec<MemberStatus> = c
        .members
        .iter()
        .map(|m| MemberStatus {
            instance: m.instance.clone(),
            role: if m.is_writer { MemberRole::Writer } else { MemberRole::Reader },
            promotion_tier: m.promotion_tier,
            status: m.status.to_string(),
        })
        .collect();
    out.sort_by(|a, b| (a.role, &a.instance).cmp(&(b.role, &b.instance)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::aurora_failover::DEFAULT_TIMEOUT_SECONDS;
    use crate::aws::rds::AVAILABLE;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("valid")
    }

    fn mk_spec() -> AuroraFailoverSpec {
        AuroraFailoverSpec {
            cluster_identifier: "orders-aurora".into(),
            target_instance: None,
            expected_writer: None,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            dry_run: false,
            region: None,
            role_arn: None,
            verify: None,
        }
    }

    fn mk_member(name: &str, writer: bool, tier: i32, class: &str) -> DbMember {
        DbMember {
            instance: name.into(),
            is_writer: writer,
            promotion_tier: tier,
            instance_class: class.into(),
            availability_zone: Some("us-east-1a".into()),
            status: AVAILABLE.into(),
            endpoint: Some(format!("{name}.x.eu-west-1.rds.amazonaws.com")),
        }
    }

    /// The cluster of the issue: writer tier 1, readers tier 0 and tier 2.
    fn mk_cluster() -> DbCluster {
        DbCluster {
            identifier: "orders-aurora".into(),
            status: AVAILABLE.into(),
            engine: "aurora-mysql".into(),
            members: vec![
                mk_member("w1", true, 1, "db.r6g.large"),
                mk_member("r2", false, 2, "db.r6g.large"),
                mk_member("r0", false, 0, "db.r6g.large"),
            ],
            serverless_max_gib: None,
            endpoint: Some("orders-aurora.cluster-x.eu-west-1.rds.amazonaws.com".into()),
            port: Some(3306),
        }
    }

    /// What observe saw, the cluster endpoint already leading to the writer.
    fn seen(cluster: DbCluster) -> Observed {
        let writer = cluster.writer().and_then(|w| w.endpoint.clone());
        let endpoint = resolution(cluster.endpoint.iter().chain(writer.iter()));
        Observed { cluster: Some(cluster), endpoint: Some(Ok(endpoint)), ..Default::default() }
    }

    fn resolution<'a>(chain: impl Iterator<Item = &'a String>) -> Resolution {
        Resolution { chain: chain.cloned().collect(), addresses: vec!["127.0.0.1".parse().expect("ip")] }
    }

    /// The cluster endpoint still leading to `instance` (DNS not switched yet).
    fn endpoint_at(observed: Observed, instance: &str) -> Observed {
        let c = observed.cluster.clone().expect("cluster");
        let to = c.members.iter().find(|m| m.instance == instance).and_then(|m| m.endpoint.clone());
        Observed { endpoint: Some(Ok(resolution(c.endpoint.iter().chain(to.iter())))), ..observed }
    }

    fn start(spec: &AuroraFailoverSpec, observed: &Observed) -> Decision {
        plan(spec, &AuroraFailoverStatus::default(), observed, Some(1), t(0))
    }

    fn stalled_reason(d: &Decision) -> Option<String> {
        d.status
            .conditions
            .iter()
            .find(|c| c.type_ == conditions::STALLED && c.status == "True")
            .map(|c| c.reason.clone())
    }

    fn swapped(mut c: DbCluster, writer: &str) -> DbCluster {
        for m in &mut c.members {
            m.is_writer = m.instance == writer;
        }
        c
    }

    /// The status right after the intent was written for the default plan.
    fn intent() -> AuroraFailoverStatus {
        start(&mk_spec(), &seen(mk_cluster())).status
    }

    #[test]
    fn fails_over_to_the_lowest_tier_reader_with_the_reason_and_every_candidate() {
        let d = start(&mk_spec(), &seen(mk_cluster()));
        assert_eq!(d.action, Action::Failover { target: "r0".into() });
        let plan = d.status.plan.expect("plan");
        assert_eq!(plan.current_writer, "w1");
        assert_eq!(plan.reason, "lowest promotion tier (tier-0)");
        let order: Vec<_> = plan.candidates.iter().map(|c| c.instance.as_str()).collect();
        assert_eq!(order, vec!["r0", "r2"]);
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        assert_eq!(d.status.previous_writer.as_deref(), Some("w1"));
        assert_eq!(d.status.started_at, Some(Time(t(0))));
        assert!(d.status.requested_at.is_none(), "requestedAt is set only once RDS accepts the call");
        assert!(conditions::is_true(&d.status.conditions, conditions::RECONCILING));
    }

    #[test]
    fn every_tier_from_0_to_15_ranks_by_number() {
        let mut c = mk_cluster();
        c.members = vec![mk_member("w", true, 0, "db.r6g.large")];
        for tier in (0..=15).rev() {
            c.members.push(mk_member(&format!("r{tier:02}"), false, tier, "db.r6g.large"));
        }
        let ranked: Vec<i32> = rank(&c).iter().map(|m| m.promotion_tier).collect();
        assert_eq!(ranked, (0..=15).collect::<Vec<_>>());
        assert_eq!(start(&mk_spec(), &seen(c)).action, Action::Failover { target: "r00".into() });
    }

    #[test]
    fn a_tier_tie_goes_to_the_largest_instance_class() {
        let mut c = mk_cluster();
        c.members = vec![
            mk_member("w1", true, 0, "db.r6g.large"),
            mk_member("a-small", false, 1, "db.r6g.large"),
            mk_member("b-big", false, 1, "db.r6g.4xlarge"),
            mk_member("c-mid", false, 1, "db.r6g.2xlarge"),
        ];
        let d = start(&mk_spec(), &seen(c));
        assert_eq!(d.action, Action::Failover { target: "b-big".into() });
        assert_eq!(
            d.status.plan.expect("plan").reason,
            "lowest promotion tier (tier-1), then largest instance class (db.r6g.4xlarge, 128 GiB)"
        );
    }

    #[test]
    fn a_tier_and_class_tie_goes_to_the_lowest_name() {
        let mut c = mk_cluster();
        c.members = vec![
            mk_member("w1", true, 0, "db.r6g.large"),
            mk_member("r-b", false, 0, "db.r6g.large"),
            mk_member("r-a", false, 0, "db.r6g.large"),
        ];
        let d = start(&mk_spec(), &seen(c));
        assert_eq!(d.action, Action::Failover { target: "r-a".into() });
        assert!(d.status.plan.expect("plan").reason.ends_with("then lowest name"));
    }

    #[test]
    fn an_unavailable_reader_is_ranked_last_and_never_chosen() {
        let mut c = mk_cluster();
        c.members[2].status = "rebooting".into();
        let d = start(&mk_spec(), &seen(c));
        assert_eq!(d.action, Action::Failover { target: "r2".into() });
        let plan = d.status.plan.expect("plan");
        assert_eq!(plan.reason, "only available reader (tier-2)");
        assert_eq!(plan.candidates.last().map(|c| c.instance.as_str()), Some("r0"));
    }

    #[test]
    fn a_tier_tie_is_broken_by_memory_not_by_the_size_suffix() {
        let mut c = mk_cluster();
        c.members = vec![
            mk_member("w1", true, 0, "db.r6g.large"),
            mk_member("a-burstable", false, 1, "db.t4g.large"),
            mk_member("b-memory", false, 1, "db.x2g.large"),
            mk_member("c-standard", false, 1, "db.r6g.large"),
        ];
        let d = start(&mk_spec(), &seen(c));
        assert_eq!(d.action, Action::Failover { target: "b-memory".into() });
        let plan = d.status.plan.expect("plan");
        assert_eq!(plan.reason, "lowest promotion tier (tier-1), then largest instance class (db.x2g.large, 32 GiB)");
        let order: Vec<&str> = plan.candidates.iter().map(|c| c.instance.as_str()).collect();
        assert_eq!(order, ["b-memory", "c-standard", "a-burstable"]);
    }

    #[test]
    fn serverless_ranks_by_the_clusters_maximum_capacity_and_an_unknown_class_last() {
        let mut c = mk_cluster();
        c.serverless_max_gib = Some(128);
        c.members = vec![
            mk_member("w1", true, 0, "db.r6g.large"),
            mk_member("a-odd", false, 1, "db.z9.large"),
            mk_member("b-provisioned", false, 1, "db.r6g.2xlarge"),
            mk_member("c-serverless", false, 1, "db.serverless"),
        ];
        let d = start(&mk_spec(), &seen(c.clone()));
        assert_eq!(d.action, Action::Failover { target: "c-serverless".into() });
        let order: Vec<String> = d.status.plan.expect("plan").candidates.iter().map(|c| c.instance.clone()).collect();
        assert_eq!(order, ["c-serverless", "b-provisioned", "a-odd"]);
        c.members.retain(|m| m.instance != "b-provisioned" && m.instance != "c-serverless");
        c.members.push(mk_member("b-odd", false, 1, "db.z9.large"));
        let d = start(&mk_spec(), &seen(c));
        let reason = d.status.plan.expect("plan").reason;
        assert!(reason.contains("db.z9.large: unknown class, ranked last"), "{reason}");
    }

    #[test]
    fn an_explicit_target_is_used_and_said_so() {
        let spec = AuroraFailoverSpec { target_instance: Some("r2".into()), ..mk_spec() };
        let d = start(&spec, &seen(mk_cluster()));
        assert_eq!(d.action, Action::Failover { target: "r2".into() });
        assert_eq!(d.status.plan.expect("plan").reason, "requested in spec.targetInstance");
    }

    #[test]
    fn every_failed_precondition_stalls_without_acting() {
        let mut not_mysql = mk_cluster();
        not_mysql.engine = "aurora-postgresql".into();
        let mut busy = mk_cluster();
        busy.status = "modifying".into();
        let mut single = mk_cluster();
        single.members.truncate(1);
        let mut no_reader = mk_cluster();
        no_reader.members[1].status = "rebooting".into();
        no_reader.members[2].status = "creating".into();
        let mut target_down = mk_cluster();
        target_down.members[1].status = "rebooting".into();
        let mut no_writer = mk_cluster();
        no_writer.members[0].is_writer = false;
        let target = |t: &str| AuroraFailoverSpec { target_instance: Some(t.into()), ..mk_spec() };
        let cases: Vec<(&str, AuroraFailoverSpec, Observed, Reason)> = vec![
            ("unknown cluster", mk_spec(), Observed::default(), Reason::ClusterNotFound),
            ("not aurora mysql", mk_spec(), seen(not_mysql), Reason::UnsupportedEngine),
            ("cluster busy", mk_spec(), seen(busy), Reason::ClusterNotAvailable),
            ("single instance", mk_spec(), seen(single), Reason::SingleInstanceCluster),
            ("no available reader", mk_spec(), seen(no_reader), Reason::NoAvailableReader),
            ("no writer", mk_spec(), seen(no_writer), Reason::NoWriter),
            ("target elsewhere", target("other-db"), seen(mk_cluster()), Reason::TargetNotInCluster),
            ("target is writer", target("w1"), seen(mk_cluster()), Reason::TargetIsWriter),
            ("target not available", target("r2"), seen(target_down), Reason::TargetNotAvailable),
            (
                "expected writer differs",
                AuroraFailoverSpec { expected_writer: Some("r0".into()), ..mk_spec() },
                seen(mk_cluster()),
                Reason::WriterMismatch,
            ),
        ];
        for (name, spec, observed, expected) in cases {
            let d = start(&spec, &observed);
            assert_eq!(d.action, Action::None, "{name}");
            assert_eq!(stalled_reason(&d).as_deref(), Some(expected.as_str()), "{name}");
            assert_eq!(d.status.phase, Some(FailoverPhase::Pending), "{name}");
            assert!(d.status.previous_writer.is_none(), "{name}: no intent recorded");
            let msg = &d.status.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled").message;
            assert!(msg.ends_with("Nothing was changed in AWS."), "{name}: {msg}");
            assert_eq!(d.requeue, RECHECK, "{name}");
        }
    }

    #[test]
    fn a_matching_expected_writer_lets_the_failover_start() {
        let spec = AuroraFailoverSpec { expected_writer: Some("w1".into()), ..mk_spec() };
        assert_eq!(start(&spec, &seen(mk_cluster())).action, Action::Failover { target: "r0".into() });
    }

    #[test]
    fn another_failover_of_the_same_cluster_makes_this_one_wait_and_name_it() {
        let observed = Observed { holder: Some("platform/first".into()), ..seen(mk_cluster()) };
        let d = start(&mk_spec(), &observed);
        assert_eq!(d.action, Action::None);
        assert_eq!(d.status.phase, Some(FailoverPhase::Pending));
        assert_eq!(d.requeue, WAIT_TURN);
        let rec = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("reconciling");
        assert_eq!(rec.reason, Reason::WaitingForOtherFailover);
        assert!(rec.message.contains("platform/first"));
    }

    #[test]
    fn dry_run_plans_and_finishes_without_acting() {
        let spec = AuroraFailoverSpec { dry_run: true, ..mk_spec() };
        let d = start(&spec, &seen(mk_cluster()));
        assert_eq!(d.action, Action::None);
        assert_eq!(d.status.phase, Some(FailoverPhase::Planned));
        assert_eq!(d.status.plan.as_ref().map(|p| p.target.as_str()), Some("r0"));
        assert!(conditions::is_true(&d.status.conditions, conditions::READY));
        assert!(conditions::is_true(&d.status.conditions, conditions::PLANNED));
        assert!(d.status.previous_writer.is_none());
    }

    #[test]
    fn while_the_writer_has_not_moved_after_the_call_it_polls_every_second() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let mut c = mk_cluster();
        c.status = "failing-over".into();
        let d = plan(&mk_spec(), &current, &seen(c), Some(1), t(5));
        assert_eq!(d.action, Action::Poll);
        assert_eq!(d.requeue, POLL);
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
    }

    #[test]
    fn success_needs_the_target_as_writer_and_the_cluster_available_and_names_members_still_busy() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let mut c = swapped(mk_cluster(), "r0");
        c.status = "failing-over".into();
        let d = plan(&mk_spec(), &current, &seen(c.clone()), Some(1), t(8));
        assert_eq!(d.action, Action::Poll, "the cluster is still failing over");
        c.status = AVAILABLE.into();
        let busy = c.members.iter().position(|m| m.instance == "w1").expect("w1");
        c.members[busy].status = "rebooting".into();
        let d = plan(&mk_spec(), &current, &seen(c), Some(1), t(14));
        let ready = d.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert!(ready.message.ends_with("not available yet: w1 is rebooting"), "{}", ready.message);
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded));
        assert_eq!(d.status.new_writer.as_deref(), Some("r0"));
        assert_eq!(d.status.duration_seconds, Some(13));
        assert_eq!(d.status.completed_at, Some(Time(t(14))));
        assert!(conditions::is_true(&d.status.conditions, conditions::READY));
        assert!(conditions::is_true(&d.status.conditions, conditions::WRITER_SWAPPED));
        assert_eq!(d.status.members[0].instance, "r0");
        assert_eq!(d.status.members[0].role, MemberRole::Writer);
    }

    fn verifying(alarms: &[&str]) -> AuroraFailoverSpec {
        let mut spec = mk_spec();
        spec.verify = Some(crate::api::aurora_failover::VerifySpec {
            alarms: alarms.iter().map(|a| crate::api::aurora_failover::AlarmName(a.to_string())).collect(),
            timeout_seconds: 60,
            endpoint: None,
            write_probe: None,
        });
        spec
    }

    fn with_alarms(observed: Observed, states: &[(&str, &str)]) -> Observed {
        Observed { alarms: states.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect(), ..observed }
    }

    #[test]
    fn an_alarm_that_does_not_exist_stalls_before_any_failover() {
        let spec = verifying(&["api-5xx", "gone"]);
        let d = plan(
            &spec,
            &AuroraFailoverStatus::default(),
            &with_alarms(seen(mk_cluster()), &[("api-5xx", "OK")]),
            Some(1),
            t(0),
        );
        assert_eq!(d.action, Action::None);
        let stalled = d.status.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert_eq!(stalled.reason, "AlarmNotFound");
        assert!(stalled.message.contains("\"gone\"") && !stalled.message.contains("api-5xx"), "{}", stalled.message);
    }

    #[test]
    fn after_the_swap_alarms_not_ok_keep_it_verifying_then_ok_succeeds_with_the_swap_time_kept() {
        let spec = verifying(&["api-5xx"]);
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let c = swapped(mk_cluster(), "r0");
        let d = plan(&spec, &current, &with_alarms(seen(c.clone()), &[("api-5xx", "ALARM")]), Some(1), t(10));
        assert_eq!((d.action.clone(), d.requeue), (Action::None, VERIFY_POLL));
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        assert_eq!(d.status.completed_at, Some(Time(t(10))), "the swap is recorded when first seen");
        assert!(conditions::is_true(&d.status.conditions, conditions::WRITER_SWAPPED));
        assert!(!conditions::is_true(&d.status.conditions, conditions::VERIFIED));
        let alarms = &d.status.verification.as_ref().expect("verification").alarms;
        assert_eq!((alarms[0].name.as_str(), alarms[0].state.as_str()), ("api-5xx", "ALARM"));

        let d = plan(&spec, &d.status, &with_alarms(seen(c), &[("api-5xx", "OK")]), Some(1), t(40));
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded));
        assert!(conditions::is_true(&d.status.conditions, conditions::VERIFIED));
        assert_eq!(d.status.completed_at, Some(Time(t(10))));
        assert_eq!(d.status.duration_seconds, Some(9), "the swap's duration, not the verification's");
    }

    #[test]
    fn alarms_not_ok_past_the_verify_timeout_fail_naming_them_and_leave_the_writer() {
        let spec = verifying(&["api-5xx", "latency"]);
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        current.completed_at = Some(Time(t(10)));
        let c = swapped(mk_cluster(), "r0");
        let states = [("api-5xx", "OK"), ("latency", "INSUFFICIENT_DATA")];
        let d = plan(&spec, &current, &with_alarms(seen(c), &states), Some(1), t(71));
        assert_eq!(d.action, Action::None, "never moved back");
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        assert_eq!(d.status.new_writer.as_deref(), Some("r0"));
        let ready = d.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert_eq!(ready.reason, "VerificationFailed");
        assert!(
            ready.message.contains("latency is INSUFFICIENT_DATA") && !ready.message.contains("api-5xx is"),
            "{}",
            ready.message
        );
        assert!(conditions::is_true(&d.status.conditions, conditions::WRITER_SWAPPED));
    }

    #[test]
    fn an_endpoint_that_does_not_resolve_to_the_writer_stalls_before_any_failover_unless_not_verified() {
        let unresolved = Observed { endpoint: Some(Err("no record found".into())), ..seen(mk_cluster()) };
        let at_reader = endpoint_at(seen(mk_cluster()), "r0");
        for observed in [unresolved.clone(), at_reader] {
            let d = start(&mk_spec(), &observed);
            assert_eq!(d.action, Action::None);
            assert_eq!(stalled_reason(&d).as_deref(), Some("EndpointUnresolved"));
            let stalled = d.status.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
            assert!(stalled.message.contains("--dns-server") && stalled.message.contains("Nothing was changed"));
        }
        let mut spec = verifying(&[]);
        spec.verify.as_mut().expect("verify").endpoint = Some(false);
        let unchecked = Observed { endpoint: None, ..unresolved };
        assert_eq!(start(&spec, &unchecked).action, Action::Failover { target: "r0".into() });
    }

    #[test]
    fn after_the_swap_the_endpoint_still_at_the_old_writer_keeps_it_verifying_then_records_when_it_switched() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let c = swapped(mk_cluster(), "r0");
        let lagging = endpoint_at(seen(c.clone()), "w1");
        let d = plan(&mk_spec(), &current, &lagging, Some(1), t(10));
        assert_eq!((d.action.clone(), d.requeue), (Action::None, POLL), "DNS is looked at every second");
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        assert!(!conditions::is_true(&d.status.conditions, conditions::VERIFIED));
        let reconciling = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("r");
        assert!(reconciling.message.contains("w1.x.eu-west-1.rds.amazonaws.com"), "{}", reconciling.message);
        assert_eq!(d.status.verification.as_ref().and_then(|v| v.endpoint_switched_at.clone()), None);

        let d = plan(&mk_spec(), &d.status, &seen(c.clone()), Some(1), t(16));
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded));
        assert!(conditions::is_true(&d.status.conditions, conditions::VERIFIED));
        assert_eq!(d.status.verification.and_then(|v| v.endpoint_switched_at), Some(Time(t(16))));
        assert_eq!(d.status.completed_at, Some(Time(t(10))), "the swap, not the DNS switch");
    }

    #[test]
    fn an_endpoint_lagging_past_the_verify_timeout_fails_it_and_leaves_the_writer() {
        let current = verifying_since(10);
        let lagging = endpoint_at(seen(swapped(mk_cluster(), "r0")), "w1");
        let d = plan(&verifying(&[]), &current, &lagging, Some(1), t(71));
        assert_eq!(d.action, Action::None, "never moved back");
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        let ready = d.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert_eq!(ready.reason, "VerificationFailed");
        assert!(
            ready.message.contains("resolves to w1.x.eu-west-1.rds.amazonaws.com, not to the writer \"r0\""),
            "{}",
            ready.message
        );
        assert!(ready.message.contains("spec.verify.endpoint: false"), "{}", ready.message);
    }

    fn probing() -> AuroraFailoverSpec {
        let mut spec = verifying(&[]);
        spec.verify.as_mut().expect("verify").write_probe = Some(crate::api::aurora_failover::WriteProbeSpec {
            secret_ref: crate::api::aurora_failover::SecretName { name: "orders-probe".into() },
        });
        spec
    }

    fn refused(code: u16) -> Answer {
        Answer::Refused { code, message: format!("error {code}") }
    }

    #[test]
    fn a_write_probe_that_cannot_log_in_reach_or_write_stalls_before_any_failover() {
        for (seen, says) in [
            (ProbeView::Baseline(refused(probe::ACCESS_DENIED)), "login was refused"),
            (ProbeView::Baseline(refused(probe::CANNOT_CONNECT)), "security-group rule"),
            (ProbeView::Baseline(refused(probe::READ_ONLY)), "MySQL error 1290"),
            (ProbeView::Baseline(refused(probe::TLS_REQUIRED)), "--mysql-ca-file"),
            (ProbeView::Baseline(refused(probe::TLS_FAILED)), "must name the cluster endpoint"),
            (ProbeView::Baseline(refused(probe::UNKNOWN_HOST)), "cannot resolve the cluster endpoint"),
            (ProbeView::NoLogin("Secret a/b does not exist".into()), "Secret a/b does not exist"),
        ] {
            let d = start(&probing(), &Observed { probe: seen, ..seen_cluster() });
            assert_eq!(d.action, Action::None);
            assert_eq!(stalled_reason(&d).as_deref(), Some("ProbeBaselineFailed"));
            let stalled = d.status.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
            assert!(
                stalled.message.contains(says) && stalled.message.contains("Nothing was changed"),
                "{}",
                stalled.message
            );
        }
        let writable = Observed { probe: ProbeView::Baseline(Answer::Writable), ..seen_cluster() };
        assert_eq!(start(&probing(), &writable).action, Action::Failover { target: "r0".into() });
    }

    fn seen_cluster() -> Observed {
        seen(mk_cluster())
    }

    fn sampled(answers: &[(i64, Answer)]) -> ProbeView {
        let mut summary = ProbeSummary::default();
        for (s, answer) in answers {
            summary.push(t(*s), answer.clone());
        }
        ProbeView::Sampled(Some(summary))
    }

    #[test]
    fn after_the_swap_the_probe_must_find_a_writable_server_and_the_outage_is_recorded_once() {
        let spec = probing();
        let current = verifying_since(10);
        let c = swapped(mk_cluster(), "r0");
        let down =
            sampled(&[(1, Answer::Writable), (2, refused(probe::CANNOT_CONNECT)), (9, refused(probe::READ_ONLY))]);
        let d = plan(&spec, &current, &Observed { probe: down, ..seen(c.clone()) }, Some(1), t(11));
        assert_eq!((d.status.phase, d.requeue), (Some(FailoverPhase::FailingOver), POLL));
        let reconciling = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("r");
        assert!(reconciling.message.contains("no writable server yet (error 1290)"), "{}", reconciling.message);
        let verification = d.status.verification.clone().expect("verification");
        assert_eq!(verification.probe_errors, BTreeMap::from([("1290".into(), 1), ("2003".into(), 1)]));

        let back =
            sampled(&[(2, refused(probe::CANNOT_CONNECT)), (9, refused(probe::READ_ONLY)), (12, Answer::Writable)]);
        let d = plan(&spec, &d.status, &Observed { probe: back, ..seen(c.clone()) }, Some(1), t(13));
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded));
        let verification = d.status.verification.clone().expect("verification");
        assert_eq!(verification.writable_at, Some(Time(t(12))));
        assert_eq!(verification.write_outage_seconds, serde_json::Number::from_f64(10.0));
        let verified = d.status.conditions.iter().find(|c| c.type_ == conditions::VERIFIED).expect("verified");
        assert!(verified.message.contains("write outage 10.0 s"), "{}", verified.message);
    }

    #[test]
    fn a_writable_answer_from_before_the_swap_does_not_verify_it() {
        let old_writer_still_up = sampled(&[(1, Answer::Writable), (5, Answer::Writable)]);
        let observed = Observed { probe: old_writer_still_up, ..seen(swapped(mk_cluster(), "r0")) };
        let d = plan(&probing(), &verifying_since(10), &observed, Some(1), t(11));
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        assert!(!conditions::is_true(&d.status.conditions, conditions::VERIFIED));
    }

    #[test]
    fn a_spec_an_earlier_version_refused_stays_refused_when_this_version_accepts_it() {
        let refused = refuse(
            &AuroraFailoverStatus::default(),
            &Preflight::Invalid("spec.verify.writeProbe is not supported".into()),
            Some(1),
            t(0),
        );
        match preflight(&mk_spec(), Some(1), &refused) {
            Preflight::Invalid(message) => assert!(message.contains("earlier awsops version"), "{message}"),
            other => panic!("carried out late: {other:?}"),
        }
        assert_eq!(preflight(&mk_spec(), Some(1), &AuroraFailoverStatus::default()), Preflight::Proceed);
    }

    #[test]
    fn with_no_check_asked_the_swap_alone_succeeds_without_a_verified_condition() {
        let mut spec = verifying(&[]);
        spec.verify.as_mut().expect("verify").endpoint = Some(false);
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let unresolvable = Observed { endpoint: None, ..seen(swapped(mk_cluster(), "r0")) };
        let d = plan(&spec, &current, &unresolvable, Some(1), t(5));
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded));
        assert_eq!(d.status.verification, None);
        assert!(!d.status.conditions.iter().any(|c| c.type_ == conditions::VERIFIED));
    }

    #[test]
    fn an_endpoint_that_stops_resolving_after_the_swap_keeps_it_verifying_and_says_why() {
        let observed = Observed { endpoint: Some(Err("timed out".into())), ..seen(swapped(mk_cluster(), "r0")) };
        let d = plan(&mk_spec(), &verifying_since(10), &observed, Some(1), t(20));
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        let reconciling = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("r");
        assert!(reconciling.message.contains("does not resolve (timed out)"), "{}", reconciling.message);
        let no_endpoint = Observed { endpoint: None, ..seen(swapped(mk_cluster(), "r0")) };
        let d = plan(&mk_spec(), &verifying_since(10), &no_endpoint, Some(1), t(20));
        let reconciling = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("r");
        assert!(reconciling.message.contains("RDS reports no cluster endpoint"), "{}", reconciling.message);
    }

    #[test]
    fn without_an_instance_endpoint_a_cname_target_named_after_the_writer_counts_but_not_the_cluster_name() {
        let mut writer = mk_member("orders", true, 1, "db.r6g.large");
        writer.endpoint = None;
        let chain =
            |names: &[&str]| Resolution { chain: names.iter().map(|n| n.to_string()).collect(), addresses: vec![] };
        assert!(leads_to(&chain(&["orders.cluster-x.rds.amazonaws.com", "orders.y.rds.amazonaws.com"]), &writer));
        assert!(
            !leads_to(&chain(&["orders.cluster-x.rds.amazonaws.com"]), &writer),
            "the cluster endpoint itself is not the writer"
        );
    }

    #[test]
    fn a_recorded_writable_time_is_kept_while_another_check_still_waits() {
        let mut current = verifying_since(10);
        current.verification = Some(VerificationStatus {
            writable_at: Some(Time(t(12))),
            write_outage_seconds: serde_json::Number::from_f64(4.5),
            ..Default::default()
        });
        let lagging =
            Observed { probe: ProbeView::Sampled(None), ..endpoint_at(seen(swapped(mk_cluster(), "r0")), "w1") };
        let d = plan(&probing(), &current, &lagging, Some(1), t(20));
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        let verification = d.status.verification.expect("verification");
        assert_eq!(
            (verification.writable_at, verification.write_outage_seconds),
            (Some(Time(t(12))), serde_json::Number::from_f64(4.5))
        );
        let reconciling = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("r");
        assert!(!reconciling.message.contains("write probe"), "{}", reconciling.message);
    }

    #[test]
    fn a_probe_that_cannot_log_in_or_write_after_the_swap_fails_at_the_timeout_with_a_hint() {
        let c = swapped(mk_cluster(), "r0");
        let no_login = Observed { probe: ProbeView::NoLogin("Secret a/b does not exist".into()), ..seen(c.clone()) };
        let d = plan(&probing(), &verifying_since(10), &no_login, Some(1), t(20));
        let reconciling = d.status.conditions.iter().find(|c| c.type_ == conditions::RECONCILING).expect("r");
        assert!(reconciling.message.contains("cannot log in: Secret a/b does not exist"), "{}", reconciling.message);
        let read_only = Observed { probe: sampled(&[(11, refused(probe::READ_ONLY))]), ..seen(c) };
        let d = plan(&probing(), &verifying_since(10), &read_only, Some(1), t(71));
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        let ready = d.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert!(
            ready.message.contains("no writable server yet (error 1290)")
                && ready.message.contains("reaches the cluster's port"),
            "{}",
            ready.message
        );
    }

    #[test]
    fn a_sampler_resumed_after_a_restart_verifies_writes_but_reports_no_outage() {
        let mut summary = ProbeSummary { resumed: true, ..Default::default() };
        summary.push(t(11), Answer::Writable);
        let observed = Observed { probe: ProbeView::Sampled(Some(summary)), ..seen(swapped(mk_cluster(), "r0")) };
        let d = plan(&probing(), &verifying_since(10), &observed, Some(1), t(12));
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded));
        let verification = d.status.verification.expect("verification");
        assert_eq!(verification.writable_at, Some(Time(t(11))));
        assert_eq!(verification.write_outage_seconds, None, "unknown, never 0");
        let verified = d.status.conditions.iter().find(|c| c.type_ == conditions::VERIFIED).expect("verified");
        assert!(verified.message.contains("outage is unknown"), "{}", verified.message);
    }

    #[test]
    fn with_alarms_asked_a_lagging_endpoint_keeps_the_alarms_pace() {
        let lagging = with_alarms(endpoint_at(seen(swapped(mk_cluster(), "r0")), "w1"), &[("api-5xx", "OK")]);
        let d = plan(&verifying(&["api-5xx"]), &verifying_since(10), &lagging, Some(1), t(12));
        assert_eq!(d.requeue, VERIFY_POLL, "DescribeAlarms is not called every second");
    }

    fn verifying_since(swap: i64) -> AuroraFailoverStatus {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        current.completed_at = Some(Time(t(swap)));
        current
    }

    #[test]
    fn while_verifying_a_busy_cluster_keeps_verifying_and_never_times_the_swap_out() {
        let spec = verifying(&["api-5xx"]);
        let mut c = swapped(mk_cluster(), "r0");
        c.status = "backing-up".into();
        // Far past spec.timeoutSeconds from requestedAt, within spec.verify.timeoutSeconds of the swap.
        let late = t(i64::from(DEFAULT_TIMEOUT_SECONDS) + 5);
        let d = plan(
            &spec,
            &verifying_since(late.as_second() - 10),
            &with_alarms(seen(c), &[("api-5xx", "ALARM")]),
            Some(1),
            late,
        );
        assert_eq!((d.action, d.status.phase), (Action::None, Some(FailoverPhase::FailingOver)));
        assert!(conditions::is_true(&d.status.conditions, conditions::WRITER_SWAPPED));
    }

    #[test]
    fn a_writer_moved_after_the_swap_fails_the_verification_without_any_call() {
        let spec = verifying(&["api-5xx"]);
        let back = mk_cluster(); // w1 is the writer again
        let d = plan(&spec, &verifying_since(10), &with_alarms(seen(back), &[("api-5xx", "OK")]), Some(1), t(20));
        assert_eq!(d.action, Action::None);
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        let ready = d.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert!(ready.message.contains("after the swap"), "{}", ready.message);
    }

    #[test]
    fn a_restart_during_verification_resumes_it_and_never_calls_again() {
        let spec = verifying(&["api-5xx"]);
        let mut current = verifying_since(10);
        current.requested_at = None; // crashed before recording it
        let c = swapped(mk_cluster(), "r0");
        let d = plan(&spec, &current, &with_alarms(seen(c), &[("api-5xx", "ALARM")]), Some(1), t(40));
        assert_eq!((d.action, d.requeue), (Action::None, VERIFY_POLL));
        assert_eq!(d.status.completed_at, Some(Time(t(10))));
    }

    #[test]
    fn alarms_that_cannot_be_read_after_the_swap_count_as_not_ok_and_fail_at_the_timeout() {
        let spec = verifying(&["api-5xx"]);
        let c = swapped(mk_cluster(), "r0");
        let observed = Observed { alarms_unreadable: Some("AccessDenied".into()), ..seen(c) };
        let d = plan(&spec, &verifying_since(10), &observed, Some(1), t(30));
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        let d = plan(&spec, &verifying_since(10), &observed, Some(1), t(71));
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        let ready = d.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert!(ready.message.contains("api-5xx cannot be read (AccessDenied)"), "{}", ready.message);
        let gone = plan(&spec, &verifying_since(10), &seen(swapped(mk_cluster(), "r0")), Some(1), t(71));
        let ready = gone.status.conditions.iter().find(|c| c.type_ == conditions::READY).expect("ready");
        assert!(ready.message.contains("api-5xx no longer exists"), "{}", ready.message);
    }

    #[test]
    fn access_denied_after_the_intent_never_says_nothing_changed() {
        let denied = read_denied(&intent(), Some(1), t(5), "AccessDenied: no");
        let stalled = denied.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert!(!stalled.message.contains("Nothing was changed"), "{}", stalled.message);
        assert_eq!(denied.phase, Some(FailoverPhase::FailingOver));
    }

    #[test]
    fn after_a_crash_between_intent_and_call_the_call_is_issued_once_to_the_recorded_target() {
        let current = intent();
        let started = current.started_at.clone().expect("started").0;
        // The cluster changed meanwhile: r2 is now tier 0. The recorded target still wins.
        let mut c = mk_cluster();
        c.members[1].promotion_tier = 0;
        c.members[2].promotion_tier = 5;
        let settled = Timestamp::from_second(started.as_second() + CALL_AGAIN_AFTER.as_secs() as i64).expect("valid");
        let d = plan(&mk_spec(), &current, &seen(c), Some(1), settled);
        assert_eq!(d.action, Action::Failover { target: "r0".into() });
    }

    #[test]
    fn a_denied_read_keeps_the_intent_and_a_denied_call_withdraws_it() {
        let read = read_denied(&intent(), Some(1), t(2), "DescribeDBClusters: AccessDenied");
        assert_eq!(read.phase, Some(FailoverPhase::FailingOver), "a read says nothing about the call");
        assert!(read.started_at.is_some() && read.previous_writer.is_some());
        let stalled = read.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert_eq!(stalled.reason, "AccessDenied");
        let call = access_denied(&intent(), Some(1), t(2), "FailoverDBCluster: AccessDenied");
        assert_eq!(call.phase, Some(FailoverPhase::Pending));
        assert!(call.started_at.is_none() && call.called_at.is_none());
    }

    #[test]
    fn a_call_made_again_moves_the_wait_for_the_next_one() {
        // A replica re-issued the call at 40 s: another one waits from there, not from the intent.
        let mut current = intent();
        let started = current.started_at.clone().expect("started").0;
        let at = |s: i64| Timestamp::from_second(started.as_second() + s).expect("valid");
        current.called_at = Some(Time(at(40)));
        let d = plan(&mk_spec(), &current, &seen(mk_cluster()), Some(1), at(41));
        assert_eq!(d.action, Action::Poll);
        let again = at(40 + CALL_AGAIN_AFTER.as_secs() as i64);
        let d = plan(&mk_spec(), &current, &seen(mk_cluster()), Some(1), again);
        assert_eq!(d.action, Action::Failover { target: "r0".into() });
        assert_eq!(d.status.called_at, Some(Time(again)), "recorded before the call");
    }

    #[test]
    fn a_recorded_intent_is_not_called_again_while_a_call_may_still_be_on_its_way() {
        // Another replica (or this one, before a crash) may be sending it right now.
        let current = intent();
        let started = current.started_at.clone().expect("started").0;
        for waited in [0, 3, CALL_AGAIN_AFTER.as_secs() - 1] {
            let now = Timestamp::from_second(started.as_second() + waited as i64).expect("valid");
            let d = plan(&mk_spec(), &current, &seen(mk_cluster()), Some(1), now);
            assert_eq!(d.action, Action::Poll, "{waited} s after the intent");
            assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        }
    }

    #[test]
    fn after_a_crash_right_after_the_call_it_only_waits() {
        let current = intent();
        let d = plan(&mk_spec(), &current, &seen(swapped(mk_cluster(), "r0")), Some(1), t(4));
        assert_eq!(d.status.phase, Some(FailoverPhase::Succeeded), "the swap proves the call was accepted");
        assert_eq!(d.status.requested_at, current.started_at);
        let mut failing = mk_cluster();
        failing.status = "failing-over".into();
        let d = plan(&mk_spec(), &current, &seen(failing), Some(1), t(4));
        assert_eq!(d.action, Action::Poll, "a cluster failing over is not called again");
        let observed = Observed { failover_event_seen: true, ..seen(mk_cluster()) };
        let d = plan(&mk_spec(), &current, &observed, Some(1), t(4));
        assert_eq!(d.action, Action::Poll, "an RDS failover event proves the call was accepted");
    }

    #[test]
    fn a_call_already_accepted_is_never_repeated() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let d = plan(&mk_spec(), &current, &seen(mk_cluster()), Some(1), t(20));
        assert_eq!(d.action, Action::Poll);
    }

    #[test]
    fn it_fails_at_the_timeout_with_a_message() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let spec = AuroraFailoverSpec { timeout_seconds: 60, ..mk_spec() };
        let mut c = mk_cluster();
        c.status = "failing-over".into();
        assert_eq!(plan(&spec, &current, &seen(c.clone()), Some(1), t(61)).action, Action::Poll);
        let d = plan(&spec, &current, &seen(c), Some(1), t(62));
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        assert_eq!(stalled_reason(&d).as_deref(), Some(Reason::Timeout.as_str()));
        assert!(!conditions::is_true(&d.status.conditions, conditions::WRITER_SWAPPED));
    }

    #[test]
    fn a_writer_that_moved_elsewhere_fails_the_object() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let d = plan(&mk_spec(), &current, &seen(swapped(mk_cluster(), "r2")), Some(1), t(9));
        assert_eq!(d.status.phase, Some(FailoverPhase::Failed));
        assert_eq!(stalled_reason(&d).as_deref(), Some(Reason::WriterElsewhere.as_str()));
    }

    #[test]
    fn a_cluster_deleted_mid_failover_fails_the_object() {
        let mut current = intent();
        current.requested_at = Some(Time(t(1)));
        let d = plan(&mk_spec(), &current, &Observed::default(), Some(1), t(9));
        assert_eq!(stalled_reason(&d).as_deref(), Some(Reason::ClusterGone.as_str()));
    }

    #[test]
    fn a_finished_failover_never_acts_again_even_with_a_changed_spec() {
        for phase in [FailoverPhase::Succeeded, FailoverPhase::Failed, FailoverPhase::Planned] {
            let status = AuroraFailoverStatus { phase: Some(phase), ..Default::default() };
            assert_eq!(preflight(&mk_spec(), Some(3), &status), Preflight::Finished);
        }
    }

    #[test]
    fn a_spec_changed_after_creation_is_refused() {
        let d = preflight(&mk_spec(), Some(2), &AuroraFailoverStatus::default());
        assert_eq!(d, Preflight::SpecChanged);
        let next = refuse(&AuroraFailoverStatus::default(), &d, Some(2), t(0));
        let stalled = next.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert_eq!(stalled.reason, Reason::ImmutableField);
    }

    #[test]
    fn an_invalid_spec_stalls_with_invalid_spec() {
        let spec = AuroraFailoverSpec { timeout_seconds: 1, ..mk_spec() };
        let d = preflight(&spec, Some(1), &AuroraFailoverStatus::default());
        assert!(matches!(&d, Preflight::Invalid(m) if m.contains("spec.timeoutSeconds")));
        let next = refuse(&AuroraFailoverStatus::default(), &d, Some(1), t(0));
        let stalled = next.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert_eq!(stalled.reason, Reason::InvalidSpec);
        assert_eq!(next.observed_generation, Some(1));
        let types: Vec<_> = next.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, vec![conditions::READY, conditions::RECONCILING, conditions::STALLED]);
    }

    #[test]
    fn access_denied_before_the_call_clears_the_intent() {
        let next = access_denied(&intent(), Some(1), t(2), "FailoverDBCluster: AccessDenied");
        assert_eq!(next.phase, Some(FailoverPhase::Pending));
        assert!(next.previous_writer.is_none() && next.started_at.is_none());
        let stalled = next.conditions.iter().find(|c| c.type_ == conditions::STALLED).expect("stalled");
        assert_eq!(stalled.reason, Reason::AccessDenied);
    }

    #[test]
    fn a_refused_call_fails_the_object_and_says_the_writer_did_not_change() {
        let next = rejected(&intent(), Some(1), t(2), "InvalidParameterValue: no");
        assert_eq!(next.phase, Some(FailoverPhase::Failed));
        assert!(
            next.conditions
                .iter()
                .any(|c| c.reason == Reason::FailoverRejected && c.message.contains("did not change"))
        );
    }

    #[test]
    fn polling_starts_fast_and_backs_off_to_once_a_second() {
        assert_eq!(poll_delay(Duration::ZERO), FIRST_POLL);
        assert_eq!(poll_delay(Duration::from_millis(800)), Duration::from_millis(400));
        assert_eq!(poll_delay(Duration::from_secs(30)), POLL);
        let d = start(&mk_spec(), &seen(mk_cluster()));
        assert_eq!(d.requeue, FIRST_POLL, "the first look right after the call");
    }
}
