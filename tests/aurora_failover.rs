//! AuroraFailover end to end: the controller binary on the real API server,
//! RDS in the moto emulator behind a counting proxy. Every test asserts on the
//! object's status in the API server and on the writer the emulator holds.

mod support;

use std::time::Duration;

use awsops::api::aurora_failover::{AuroraFailover, AuroraFailoverStatus, FailoverPhase};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::aurora::{failover_takes, seed_cluster, writer};
use support::*;

async fn rds() -> aws_sdk_rds::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    aws_sdk_rds::Client::new(&conf)
}

/// The cluster: writer `w1` tier 1, readers `r0` tier 0 and `r2` tier 2.
async fn seed_three(rds: &aws_sdk_rds::Client, cluster: &str) -> [String; 3] {
    let names = [format!("{cluster}-w1"), format!("{cluster}-r0"), format!("{cluster}-r2")];
    seed_cluster(
        rds,
        cluster,
        "aurora-mysql",
        &[(&names[0], 1, "db.r6g.large"), (&names[1], 0, "db.r6g.large"), (&names[2], 2, "db.r6g.large")],
    )
    .await;
    names
}

fn failover(name: &str, spec: serde_json::Value) -> AuroraFailover {
    serde_json::from_value(json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("a well-formed AuroraFailover")
}

/// The environment and one controller behind a counting proxy.
struct Rig {
    api: Api<AuroraFailover>,
    rds: aws_sdk_rds::Client,
    stage: Stage,
    controller: Option<ControllerProcess>,
}

impl Rig {
    async fn new(prefix: &str) -> Self {
        let stage = Stage::new(prefix).await;
        Self { api: Api::namespaced(stage.client.clone(), &stage.ns), rds: rds().await, stage, controller: None }
    }

    fn start(&mut self, failpoint: Option<&str>) {
        let env: Vec<(&str, &str)> = failpoint.map(|p| ("AWSOPS_FAILPOINT", p)).into_iter().collect();
        self.controller = Some(self.stage.controller(&[], &env));
    }

    async fn create(&self, name: &str, spec: serde_json::Value) {
        self.api.create(&PostParams::default(), &failover(name, spec)).await.expect("created");
    }

    /// Waits for `name` to reach a status that `done` accepts.
    async fn until(&self, name: &str, secs: u64, done: impl Fn(&AuroraFailoverStatus) -> bool) -> AuroraFailoverStatus {
        let got = eventually(Duration::from_secs(secs), || async {
            self.api.get(name).await.ok()?.status.filter(|s| done(s))
        })
        .await;
        match got {
            Some(status) => status,
            None => {
                let last = self.api.get(name).await.ok().and_then(|o| o.status);
                let log = self.controller.as_ref().map(|c| c.log()).unwrap_or_default();
                panic!(
                    "{name} did not reach the expected status in {secs} s; last status: {last:#?}\ncontroller log:\n{log}"
                )
            }
        }
    }

    async fn phase(&self, name: &str, phase: FailoverPhase) -> AuroraFailoverStatus {
        self.until(name, 30, |s| s.phase == Some(phase)).await
    }

    async fn stalled(&self, name: &str) -> (String, String) {
        let status =
            self.until(name, 30, |s| s.conditions.iter().any(|c| c.type_ == "Stalled" && c.status == "True")).await;
        let c = status.conditions.into_iter().find(|c| c.type_ == "Stalled").expect("stalled");
        (c.reason, c.message)
    }
}

fn condition_true(status: &AuroraFailoverStatus, type_: &str) -> bool {
    status.conditions.iter().any(|c| c.type_ == type_ && c.status == "True")
}

#[tokio::test]
async fn fails_over_to_the_tier_0_reader_and_records_the_swap() {
    let mut rig = Rig::new("af-tier0").await;
    let cluster = unique("orders");
    let [w1, r0, r2] = seed_three(&rig.rds, &cluster).await;
    rig.start(None);
    rig.create("swap", json!({"clusterIdentifier": cluster})).await;

    let status = rig.phase("swap", FailoverPhase::Succeeded).await;
    assert_eq!(writer(&rig.rds, &cluster).await, r0, "the emulator's writer");
    assert_eq!(status.previous_writer.as_deref(), Some(w1.as_str()));
    assert_eq!(status.new_writer.as_deref(), Some(r0.as_str()));
    assert!(status.requested_at.is_some() && status.completed_at.is_some());
    assert!(status.duration_seconds.is_some_and(|d| d >= 0));
    let plan = status.plan.clone().expect("plan");
    assert_eq!(plan.target, r0);
    assert_eq!(plan.reason, "lowest promotion tier (tier-0)");
    let ranked: Vec<_> = plan.candidates.iter().map(|c| c.instance.clone()).collect();
    assert_eq!(ranked, vec![r0.clone(), r2.clone()]);
    let roles: Vec<_> = status.members.iter().map(|m| (m.instance.clone(), m.role.to_string())).collect();
    assert_eq!(roles[0], (r0.clone(), "writer".to_string()));
    assert!(roles.contains(&(w1.clone(), "reader".to_string())));
    assert!(condition_true(&status, "Ready") && condition_true(&status, "WriterSwapped"));
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1);
    let controller = rig.controller.as_ref().expect("controller");
    let counted = controller
        .sample("awsops_aws_calls_total{service=\"RDS\",operation=\"FailoverDBCluster\",outcome=\"ok\"}")
        .await;
    assert_eq!(
        counted,
        1.0,
        "the SDK interceptor counts the call:\n{}",
        controller.metrics().await.unwrap_or_default()
    );
    let finished = controller.sample("awsops_failover_duration_seconds_count{result=\"Succeeded\"}").await;
    assert_eq!(finished, 1.0, "the failover measured once:\n{}", controller.metrics().await.unwrap_or_default());
    let yaml = kubectl(&["get", "aurorafailover", "swap", "-n", &rig.stage.ns, "-o", "yaml"]);
    assert!(yaml.contains("phase: Succeeded"), "{yaml}");
    println!("{yaml}");
}

#[tokio::test]
async fn fails_over_to_an_explicit_target() {
    let mut rig = Rig::new("af-target").await;
    let cluster = unique("orders");
    let [w1, _r0, r2] = seed_three(&rig.rds, &cluster).await;
    rig.start(None);
    rig.create("to-r2", json!({"clusterIdentifier": cluster, "targetInstance": r2, "expectedWriter": w1})).await;
    let status = rig.phase("to-r2", FailoverPhase::Succeeded).await;
    assert_eq!(writer(&rig.rds, &cluster).await, r2);
    assert_eq!(status.plan.expect("plan").reason, "requested in spec.targetInstance");
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1);
}

#[tokio::test]
async fn dry_run_plans_and_changes_nothing() {
    let mut rig = Rig::new("af-dry").await;
    let cluster = unique("orders");
    let [w1, r0, _] = seed_three(&rig.rds, &cluster).await;
    rig.start(None);
    // Through an assumed role, as a cross-account object would be.
    let role = "arn:aws:iam::123456789012:role/aurora-failover";
    rig.create("dry", json!({"clusterIdentifier": cluster, "dryRun": true, "roleArn": role})).await;
    let status = rig.phase("dry", FailoverPhase::Planned).await;
    assert_eq!(status.plan.as_ref().expect("plan").target, r0);
    assert!(condition_true(&status, "Planned"));
    assert_eq!(writer(&rig.rds, &cluster).await, w1);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 0);
    assert_eq!(rig.stage.proxy.count("AssumeRole"), 1, "credentials for spec.roleArn come from STS AssumeRole");
}

#[tokio::test]
async fn an_assumed_role_session_names_the_object_and_carries_its_namespace_and_name_as_tags() {
    let mut rig = Rig::new("af-session").await;
    let cluster = unique("orders");
    seed_three(&rig.rds, &cluster).await;
    rig.start(None);
    let role = "arn:aws:iam::123456789012:role/aurora-failover";
    rig.create("sessioned", json!({"clusterIdentifier": cluster, "dryRun": true, "roleArn": role})).await;
    rig.phase("sessioned", FailoverPhase::Planned).await;
    let forms = rig.stage.proxy.forms("AssumeRole");
    assert_eq!(forms.len(), 1, "one session for the object: {forms:?}");
    let form = &forms[0];
    assert!(form.contains(&format!("RoleSessionName=awsops-{}-sessioned", rig.stage.ns)), "{form}");
    for (key, value) in [("awsops.dev%2Fnamespace", rig.stage.ns.as_str()), ("awsops.dev%2Fname", "sessioned")] {
        let tagged = (1..=2).any(|i| {
            form.contains(&format!("Tags.member.{i}.Key={key}"))
                && form.contains(&format!("Tags.member.{i}.Value={value}"))
        });
        assert!(tagged, "session tag {key}={value} in {form}");
    }
}

#[tokio::test]
async fn the_same_cluster_through_a_role_of_the_same_account_waits_for_the_failover_in_progress() {
    let mut rig = Rig::new("af-two-ways").await;
    let cluster = unique("orders");
    let [w1, _, _] = seed_three(&rig.rds, &cluster).await;
    // RDS answers every FailoverDBCluster with a transient error: the first object keeps its intent and the cluster.
    rig.stage.proxy.refuse(
        "FailoverDBCluster",
        500,
        "text/xml",
        "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>try again</Message></Error><RequestId>r</RequestId></ErrorResponse>",
    );
    rig.start(None);
    rig.create("direct", json!({"clusterIdentifier": cluster, "expectedWriter": w1})).await;
    rig.phase("direct", FailoverPhase::FailingOver).await;
    // The emulator's account, reached through a role instead of the controller's own credentials.
    let role = "arn:aws:iam::123456789012:role/aurora-failover";
    rig.create("through-role", json!({"clusterIdentifier": cluster, "expectedWriter": w1, "roleArn": role})).await;
    let waiting = rig
        .until("through-role", 30, |s| {
            s.conditions.iter().any(|c| c.type_ == "Reconciling" && c.reason == "WaitingForOtherFailover")
        })
        .await;
    assert_eq!(waiting.phase, Some(FailoverPhase::Pending));
    assert!(waiting.previous_writer.is_none(), "no intent recorded while the other holds the cluster");
    let message = waiting.conditions.iter().find(|c| c.type_ == "Reconciling").map(|c| c.message.clone());
    assert!(message.unwrap_or_default().contains("/direct"), "it names the failover it waits for");
}

#[tokio::test]
async fn bad_inputs_stall_with_their_reason_and_leave_the_writer_unchanged() {
    let mut rig = Rig::new("af-bad").await;
    let cluster = unique("orders");
    let [w1, r0, _] = seed_three(&rig.rds, &cluster).await;
    let postgres = unique("pg");
    seed_cluster(
        &rig.rds,
        &postgres,
        "aurora-postgresql",
        &[(&format!("{postgres}-a"), 1, "db.r6g.large"), (&format!("{postgres}-b"), 0, "db.r6g.large")],
    )
    .await;
    let single = unique("single");
    seed_cluster(&rig.rds, &single, "aurora-mysql", &[(&format!("{single}-only"), 1, "db.r6g.large")]).await;
    rig.start(None);

    let cases = [
        ("unknown", json!({"clusterIdentifier": unique("nowhere")}), "ClusterNotFound"),
        ("postgres", json!({"clusterIdentifier": postgres}), "UnsupportedEngine"),
        ("single", json!({"clusterIdentifier": single}), "SingleInstanceCluster"),
        (
            "stranger",
            json!({"clusterIdentifier": cluster, "targetInstance": format!("{postgres}-b")}),
            "TargetNotInCluster",
        ),
        ("writer", json!({"clusterIdentifier": cluster, "targetInstance": w1}), "TargetIsWriter"),
        ("mismatch", json!({"clusterIdentifier": cluster, "expectedWriter": r0}), "WriterMismatch"),
    ];
    for (name, spec, _) in &cases {
        rig.create(name, spec.clone()).await;
    }
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(client().await, &rig.stage.ns);
    for (name, _, reason) in &cases {
        let (got, message) = rig.stalled(name).await;
        let published = eventually(Duration::from_secs(10), || async {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.into_iter().find(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(*name)
                    && e.reason.as_deref() == Some(*reason)
            })
        })
        .await;
        let event = published.unwrap_or_else(|| panic!("{name}: no {reason} event"));
        assert_eq!(event.type_.as_deref(), Some("Warning"), "{name}");
        assert_eq!(&got, reason, "{name}: {message}");
        assert!(message.ends_with("Nothing was changed in AWS."), "{name}: {message}");
        let status = rig.api.get(name).await.expect("get").status.expect("status");
        assert_eq!(status.phase, Some(FailoverPhase::Pending), "{name}");
        assert!(status.previous_writer.is_none(), "{name}: no intent recorded");
    }
    assert_eq!(writer(&rig.rds, &cluster).await, w1);
    assert_eq!(writer(&rig.rds, &postgres).await, format!("{postgres}-a"));
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 0, "no failover was attempted");
}

#[tokio::test]
async fn a_crash_at_any_point_resumes_from_status_with_exactly_one_failover_call() {
    for point in ["aurora-before-intent", "aurora-after-intent", "aurora-after-call"] {
        let mut rig = Rig::new("af-crash").await;
        let cluster = unique("orders");
        let [w1, r0, _] = seed_three(&rig.rds, &cluster).await;
        rig.start(Some(point));
        rig.create("crashy", json!({"clusterIdentifier": cluster})).await;
        let exited = rig.controller.as_mut().expect("controller").wait_exit(Duration::from_secs(30)).await;
        assert!(exited.is_some_and(|s| !s.success()), "{point}: the controller should have aborted at the failpoint");
        let before = rig.api.get("crashy").await.expect("get").status.unwrap_or_default();
        if point == "aurora-before-intent" {
            assert_ne!(before.phase, Some(FailoverPhase::FailingOver), "{point}: no intent yet");
        } else {
            assert_eq!(before.phase, Some(FailoverPhase::FailingOver), "{point}: the intent is in status");
            assert_eq!(before.previous_writer.as_deref(), Some(w1.as_str()));
        }

        rig.start(None);
        // After the intent the call is issued again only once no call can still be on its way (35 s).
        let status = rig.until("crashy", 120, |s| s.phase == Some(FailoverPhase::Succeeded)).await;
        assert_eq!(status.new_writer.as_deref(), Some(r0.as_str()), "{point}");
        assert_eq!(writer(&rig.rds, &cluster).await, r0, "{point}");
        assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1, "{point}: exactly one FailoverDBCluster call");
    }
}

#[tokio::test]
async fn two_controllers_acting_at_once_on_one_failover_call_failover_db_cluster_exactly_once() {
    let mut rig = Rig::new("af-two").await;
    let cluster = unique("orders");
    let [_, r0, _] = seed_three(&rig.rds, &cluster).await;
    failover_takes(&rig.rds, &cluster, 10).await;
    // No leader election: as a paused leader whose lease expired, acting beside the new one.
    rig.controller = Some(rig.stage.controller(&["--leader-election", "false"], &[]));
    let second = rig.stage.controller(&["--leader-election", "false"], &[]);
    let first = rig.controller.as_ref().expect("controller");
    let both_ready = eventually(Duration::from_secs(30), || async {
        let (a, b) = (first.get("readyz").await?.0, second.get("readyz").await?.0);
        (a == 200 && b == 200).then_some(())
    })
    .await;
    assert!(both_ready.is_some(), "both controllers watch before the object exists");
    rig.create("twice", json!({"clusterIdentifier": cluster})).await;

    let status = rig.until("twice", 90, |s| s.phase == Some(FailoverPhase::Succeeded)).await;
    assert_eq!(status.new_writer.as_deref(), Some(r0.as_str()));
    let reconciles = "awsops_reconciles_total{kind=\"AuroraFailover\"}";
    let looked = eventually(Duration::from_secs(30), || async {
        (first.sample(reconciles).await >= 1.0 && second.sample(reconciles).await >= 1.0).then_some(())
    })
    .await;
    assert!(looked.is_some(), "both controllers looked at the failover");
    assert_eq!(writer(&rig.rds, &cluster).await, r0);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1, "exactly one call:\n{}\n{}", first.log(), second.log());
}

#[tokio::test]
async fn a_watch_two_seconds_late_while_the_cluster_takes_ten_calls_once_and_never_leaves_failing_over_but_to_finish() {
    let mut rig = Rig::new("af-lag").await;
    let cluster = unique("orders");
    let [_, r0, _] = seed_three(&rig.rds, &cluster).await;
    failover_takes(&rig.rds, &cluster, 10).await;
    let kubeconfig = std::env::var("AWSOPS_TEST_CONTROLLER_KUBECONFIG").expect("set by make test");
    let lagging = watch_delay::WatchDelay::start(&kubeconfig, Duration::from_secs(2)).await;
    let proxied = lagging.kubeconfig().display().to_string();
    rig.controller = Some(rig.stage.controller(&[], &[("KUBECONFIG", proxied.as_str())]));
    // Every phase the API server holds, in order, seen by a watch that does not lag.
    let phases = std::sync::Arc::new(std::sync::Mutex::new(Vec::<FailoverPhase>::new()));
    let seen = phases.clone();
    let api = rig.api.clone();
    let recorder = tokio::spawn(async move {
        use futures::StreamExt;
        use kube::runtime::WatchStreamExt;
        let config = kube::runtime::watcher::Config::default().fields("metadata.name=lagging");
        let mut objects = std::pin::pin!(kube::runtime::watcher(api, config).applied_objects());
        while let Some(Ok(object)) = objects.next().await {
            if let Some(phase) = object.status.and_then(|s| s.phase) {
                seen.lock().expect("phases").push(phase);
            }
        }
    });
    rig.create("lagging", json!({"clusterIdentifier": cluster})).await;

    let status = rig.until("lagging", 120, |s| s.phase == Some(FailoverPhase::Succeeded)).await;
    recorder.abort();
    assert_eq!(status.new_writer.as_deref(), Some(r0.as_str()));
    assert_eq!(writer(&rig.rds, &cluster).await, r0);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1, "exactly one call");
    let phases = phases.lock().expect("phases").clone();
    let from = phases.iter().position(|p| *p == FailoverPhase::FailingOver).expect("it failed over");
    assert!(
        phases[from..].iter().all(|p| matches!(p, FailoverPhase::FailingOver | FailoverPhase::Succeeded)),
        "once FailingOver only FailingOver or Succeeded: {phases:?}"
    );
}

#[tokio::test]
async fn a_finished_failover_never_acts_again() {
    let mut rig = Rig::new("af-done").await;
    let cluster = unique("orders");
    let [w1, r0, r2] = seed_three(&rig.rds, &cluster).await;
    rig.start(None);
    rig.create("once", json!({"clusterIdentifier": cluster})).await;
    rig.phase("once", FailoverPhase::Succeeded).await;
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1);

    // A restart, a GitOps re-apply of the same manifest, and a spec change
    // (which a 1.20 API server lets through: it does not enforce CEL).
    rig.controller.take().expect("controller").terminate().await;
    rig.start(None);
    let manifest = json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": "once"}, "spec": {"clusterIdentifier": cluster}});
    rig.api.patch("once", &PatchParams::apply("gitops"), &Patch::Apply(&manifest)).await.expect("re-applied");
    let changed = json!({"spec": {"targetInstance": r2, "expectedWriter": r0}});
    rig.api.patch("once", &PatchParams::default(), &Patch::Merge(&changed)).await.expect("spec changed");
    let describes_before = rig.stage.proxy.count("DescribeDBClusters");
    tokio::time::sleep(Duration::from_secs(4)).await;

    let status = rig.api.get("once").await.expect("get").status.expect("status");
    assert_eq!(status.phase, Some(FailoverPhase::Succeeded));
    assert_eq!(writer(&rig.rds, &cluster).await, r0);
    assert_ne!(writer(&rig.rds, &cluster).await, w1);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1, "never a second failover");
    assert_eq!(
        rig.stage.proxy.count("DescribeDBClusters"),
        describes_before,
        "a finished object does not even look at AWS"
    );
}

#[tokio::test]
async fn a_second_failover_of_a_cluster_waits_for_the_first_and_then_checks_again() {
    let mut rig = Rig::new("af-queue").await;
    let cluster = unique("orders");
    let [_w1, r0, _] = seed_three(&rig.rds, &cluster).await;
    // This controller only reconciles objects labelled shard=a (the sharding flag);
    // the unlabelled "first" object stands for a failover another instance runs.
    rig.controller = Some(rig.stage.controller(&["--label-selector", "shard=a"], &[]));
    rig.create("first", json!({"clusterIdentifier": cluster})).await;
    let holding = json!({"status": {"phase": "FailingOver"}});
    rig.api
        .patch_status("first", &PatchParams::default(), &Patch::Merge(&holding))
        .await
        .expect("first holds the cluster");

    let mut second = failover("second", json!({"clusterIdentifier": cluster}));
    second.metadata.labels = Some([("shard".to_string(), "a".to_string())].into());
    rig.api.create(&PostParams::default(), &second).await.expect("created");
    let waiting = rig
        .until("second", 30, |s| {
            s.conditions.iter().any(|c| c.reason == "WaitingForOtherFailover" && c.status == "True")
        })
        .await;
    assert_eq!(waiting.phase, Some(FailoverPhase::Pending));
    let message = &waiting.conditions.iter().find(|c| c.reason == "WaitingForOtherFailover").expect("waiting").message;
    assert!(message.contains(&format!("{}/first", rig.stage.ns)), "{message}");
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 0);
    assert!(
        rig.api.get("first").await.expect("first").status.and_then(|s| s.conditions.first().cloned()).is_none(),
        "first is not this controller's"
    );

    let done = json!({"status": {"phase": "Succeeded"}});
    rig.api.patch_status("first", &PatchParams::default(), &Patch::Merge(&done)).await.expect("first finished");
    let status = rig.phase("second", FailoverPhase::Succeeded).await;
    assert_eq!(status.new_writer.as_deref(), Some(r0.as_str()));
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1);
}

/// A CloudWatch metric alarm in the emulator, set to `state`.
async fn alarm(name: &str, state: aws_sdk_cloudwatch::types::StateValue) {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("Orders")
        .metric_name("Http5xx")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("alarm created");
    cw.set_alarm_state().alarm_name(name).state_value(state).state_reason("test").send().await.expect("alarm state");
}

#[tokio::test]
async fn verify_alarms_must_be_ok_after_the_swap_one_in_alarm_fails_it_and_a_missing_one_stalls_it_untouched() {
    use aws_sdk_cloudwatch::types::StateValue;
    let mut rig = Rig::new("af-verify").await;
    let (ok, firing, missing) = (unique("api-ok"), unique("api-5xx"), unique("no-such-alarm"));
    alarm(&ok, StateValue::Ok).await;
    alarm(&firing, StateValue::Alarm).await;
    let clusters = [unique("verified"), unique("alarming"), unique("unchecked")];
    let mut seeded = Vec::new();
    for cluster in &clusters {
        seeded.push(seed_three(&rig.rds, cluster).await);
    }
    rig.start(None);
    rig.create("verified", json!({"clusterIdentifier": clusters[0], "verify": {"alarms": [ok]}})).await;
    rig.create(
        "alarming",
        json!({"clusterIdentifier": clusters[1], "verify": {"alarms": [ok, firing], "timeoutSeconds": 30}}),
    )
    .await;
    rig.create("unchecked", json!({"clusterIdentifier": clusters[2], "verify": {"alarms": [missing]}})).await;

    let verified = rig.phase("verified", FailoverPhase::Succeeded).await;
    assert!(condition_true(&verified, "Verified"));
    let alarms = verified.verification.expect("verification").alarms;
    assert_eq!(
        alarms.iter().map(|a| (a.name.as_str(), a.state.as_str())).collect::<Vec<_>>(),
        vec![(ok.as_str(), "OK")]
    );

    let (reason, message) = rig.stalled("unchecked").await;
    assert_eq!(reason, "AlarmNotFound");
    assert!(message.contains(&missing), "{message}");
    assert_eq!(writer(&rig.rds, &clusters[2]).await, seeded[2][0], "nothing failed over");

    let waiting = rig
        .until("alarming", 30, |s| s.conditions.iter().any(|c| c.type_ == "Verified" && c.reason == "Verifying"))
        .await;
    assert_eq!(waiting.phase, Some(FailoverPhase::FailingOver));
    assert!(condition_true(&waiting, "WriterSwapped"));
    let failed = rig.until("alarming", 90, |s| s.phase == Some(FailoverPhase::Failed)).await;
    let ready = failed.conditions.iter().find(|c| c.type_ == "Ready").expect("Ready");
    assert_eq!(ready.reason, "VerificationFailed");
    assert!(
        ready.message.contains(&format!("{firing} is ALARM")) && !ready.message.contains(&format!("{ok} is")),
        "{}",
        ready.message
    );
    assert_eq!(
        writer(&rig.rds, &clusters[1]).await,
        seeded[1][1],
        "the writer is left on the new one, never moved back"
    );
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 2, "one call per failover that passed its preconditions");
}
