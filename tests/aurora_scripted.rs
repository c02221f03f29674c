//! What moto does not model, with scripted RDS responses (aws-smithy-mocks)
//! through the real SDK client and the real observe and plan code: the
//! `failing-over` window, a slow swap that times out, a crash after the call
//! while RDS has not yet changed status, AccessDenied, a target briefly in
//! the wrong state (RDS's `InvalidDBInstanceState`), and a swap finished while
//! another member is still rebooting.

use aws_sdk_rds::Client;
use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::describe_events::DescribeEventsOutput;
use aws_sdk_rds::types::{DbCluster, DbClusterMember, DbInstance, Event};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use awsops::api::aurora_failover::{AuroraFailover, AuroraFailoverStatus, FailoverPhase};
use awsops::aurora_failover::{observe, plan};
use awsops::aws::AwsErrorKind;
use awsops::aws::rds::SdkRds;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

fn client(rules: &[&Rule]) -> SdkRds {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("scripted", "scripted", None, None, "tests"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    SdkRds(Client::from_conf(config))
}

const MEMBERS: [(&str, i32); 3] = [("w1", 1), ("r0", 0), ("r2", 2)];

fn cluster(status: &str, writer: &str) -> DescribeDbClustersOutput {
    let mut c = DbCluster::builder().db_cluster_identifier("orders").status(status).engine("aurora-mysql");
    for (name, tier) in MEMBERS {
        c = c.db_cluster_members(
            DbClusterMember::builder()
                .db_instance_identifier(name)
                .is_cluster_writer(name == writer)
                .promotion_tier(tier)
                .build(),
        );
    }
    DescribeDbClustersOutput::builder().db_clusters(c.build()).build()
}

fn instances(rebooting: &[&str]) -> DescribeDbInstancesOutput {
    let mut out = DescribeDbInstancesOutput::builder();
    for (name, _) in MEMBERS {
        let status = if rebooting.contains(&name) { "rebooting" } else { "available" };
        out = out.db_instances(
            DbInstance::builder()
                .db_instance_identifier(name)
                .db_instance_class("db.r6g.large")
                .availability_zone("us-east-1a")
                .db_instance_status(status)
                .build(),
        );
    }
    out.build()
}

fn events(messages: &[&str]) -> DescribeEventsOutput {
    let mut out = DescribeEventsOutput::builder();
    for m in messages {
        out =
            out.events(Event::builder().message(*m).date(aws_smithy_types::DateTime::from_secs(1_800_000_001)).build());
    }
    out.build()
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("valid")
}

fn failover(timeout: i32, status: AuroraFailoverStatus) -> AuroraFailover {
    let mut f: AuroraFailover = serde_json::from_value(serde_json::json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover",
        "metadata": {"name": "scripted", "namespace": "tests", "generation": 1},
        "spec": {"clusterIdentifier": "orders", "timeoutSeconds": timeout, "verify": {"endpoint": false}},
    }))
    .expect("valid");
    f.status = Some(status);
    f
}

/// The status right after the intent to fail over w1 -> r0 was recorded at t(0).
fn intent() -> AuroraFailoverStatus {
    AuroraFailoverStatus {
        phase: Some(FailoverPhase::FailingOver),
        previous_writer: Some("w1".into()),
        started_at: Some(Time(t(0))),
        plan: Some(awsops::api::aurora_failover::FailoverPlan {
            current_writer: "w1".into(),
            target: "r0".into(),
            reason: "r".into(),
            candidates: vec![],
        }),
        ..Default::default()
    }
}

/// No alarms: these failovers verify nothing.
struct NoAlarms;

#[async_trait::async_trait]
impl awsops::aws::cloudwatch::Alarms for NoAlarms {
    async fn states(&self, _: &[String]) -> Result<std::collections::BTreeMap<String, String>, awsops::aws::AwsError> {
        Ok(Default::default())
    }
}

/// No DNS: these failovers do not verify the endpoint (spec.verify.endpoint false).
struct NoDns;

#[async_trait::async_trait]
impl awsops::dataplane::Resolve for NoDns {
    async fn resolve(&self, host: &str) -> Result<awsops::dataplane::Resolution, String> {
        panic!("{host} resolved although spec.verify.endpoint is false")
    }
}

/// One reconcile as the controller runs it, minus the API server: observe, plan.
async fn step(rds: &SdkRds, obj: &AuroraFailover, now: Timestamp) -> plan::Decision {
    let observed = observe::observe(rds, &NoAlarms, &NoDns, obj, None).await.expect("observe");
    plan::plan(&obj.spec, obj.status.as_ref().expect("status"), &observed, Some(1), now)
}

#[tokio::test]
async fn the_failing_over_window_is_polled_until_the_target_is_writer_and_the_cluster_available() {
    let clusters = mock!(Client::describe_db_clusters)
        .sequence()
        .output(|| cluster("available", "w1"))
        .output(|| cluster("failing-over", "w1"))
        .output(|| cluster("failing-over", "r0"))
        .output(|| cluster("available", "r0"))
        .build();
    let members = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| instances(&[]))
        .output(|| instances(&[]))
        .output(|| instances(&["w1"]))
        .output(|| instances(&[]))
        .build();
    let rds = client(&[&clusters, &members]);

    let start = step(&rds, &failover(600, AuroraFailoverStatus::default()), t(0)).await;
    assert_eq!(start.action, plan::Action::Failover { target: "r0".into() });
    let mut status = start.status;
    status.requested_at = Some(Time(t(0))); // what act records once RDS accepts the call

    for (second, expected_cluster) in [(1, "failing-over"), (5, "failing-over")] {
        let d = step(&rds, &failover(600, status.clone()), t(second)).await;
        assert_eq!(d.action, plan::Action::Poll, "t={second}");
        let since = std::time::Duration::from_secs(second as u64);
        assert_eq!(d.requeue, plan::poll_delay(since), "polls soon after the call, then about once a second");
        assert!(d.requeue <= plan::POLL);
        assert_eq!(d.status.phase, Some(FailoverPhase::FailingOver));
        let msg = &d.status.conditions.iter().find(|c| c.type_ == "Reconciling").expect("reconciling").message;
        assert!(msg.contains(expected_cluster), "{msg}");
        status = d.status;
    }
    let done = step(&rds, &failover(600, status), t(13)).await;
    assert_eq!(done.status.phase, Some(FailoverPhase::Succeeded));
    assert_eq!(done.status.duration_seconds, Some(13));
    assert_eq!(done.status.new_writer.as_deref(), Some("r0"));
    assert_eq!(clusters.num_calls(), 4);
}

#[tokio::test]
async fn a_swap_slower_than_the_timeout_ends_failed_with_a_message() {
    let clusters =
        mock!(Client::describe_db_clusters).sequence().output(|| cluster("failing-over", "w1")).repeatedly().build();
    let members = mock!(Client::describe_db_instances).sequence().output(|| instances(&[])).repeatedly().build();
    let rds = client(&[&clusters, &members]);
    let mut status = AuroraFailoverStatus { requested_at: Some(Time(t(0))), ..intent() };
    let waiting = step(&rds, &failover(60, status.clone()), t(59)).await;
    assert_eq!(waiting.action, plan::Action::Poll);
    status = waiting.status;
    let failed = step(&rds, &failover(60, status), t(61)).await;
    assert_eq!(failed.status.phase, Some(FailoverPhase::Failed));
    let stalled = failed.status.conditions.iter().find(|c| c.type_ == "Stalled").expect("stalled");
    assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "Timeout"));
    assert!(stalled.message.contains("timeoutSeconds (60 s)"), "{}", stalled.message);
}

#[tokio::test]
async fn after_a_crash_right_after_the_call_an_rds_failover_event_prevents_a_second_call() {
    let intent = intent();
    // RDS accepted the call but still reports `available` with the old writer.
    let clusters =
        mock!(Client::describe_db_clusters).sequence().output(|| cluster("available", "w1")).repeatedly().build();
    let members = mock!(Client::describe_db_instances).sequence().output(|| instances(&[])).repeatedly().build();
    let logged =
        mock!(Client::describe_events).then_output(|| events(&["Started cross AZ failover to DB instance r0"]));
    // Long enough after the intent that no call can still be on its way.
    let settled = t(plan::CALL_AGAIN_AFTER.as_secs() as i64);
    let d = step(&client(&[&clusters, &members, &logged]), &failover(600, intent.clone()), settled).await;
    assert_eq!(d.action, plan::Action::Poll, "the event proves the call went through");

    // No event: the call never reached RDS, so it is issued now, to the recorded target.
    let quiet = mock!(Client::describe_events).then_output(|| events(&[]));
    let d = step(&client(&[&clusters, &members, &quiet]), &failover(600, intent), settled).await;
    assert_eq!(d.action, plan::Action::Failover { target: "r0".into() });
}

#[tokio::test]
async fn access_denied_from_rds_is_classified_for_a_stalled_status() {
    let denied = mock!(Client::describe_db_clusters).then_http_response(|| {
        HttpResponse::new(
            403.try_into().expect("status"),
            SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: rds:DescribeDBClusters</Message></Error><RequestId>1</RequestId></ErrorResponse>",
            ),
        )
    });
    let rds = client(&[&denied]);
    let err = observe::observe(&rds, &NoAlarms, &NoDns, &failover(600, AuroraFailoverStatus::default()), None)
        .await
        .expect_err("denied");
    assert_eq!(err.kind, AwsErrorKind::AccessDenied);
    assert_eq!(err.operation, "DescribeDBClusters");
    let next = plan::access_denied(&AuroraFailoverStatus::default(), Some(1), t(0), &err.to_string());
    let stalled = next.conditions.iter().find(|c| c.type_ == "Stalled").expect("stalled");
    assert_eq!(stalled.reason, "AccessDenied");
    assert!(stalled.message.contains("rds:DescribeDBClusters"), "{}", stalled.message);
}

#[tokio::test]
async fn failover_db_cluster_is_never_retried_by_the_sdk() {
    use aws_sdk_rds::operation::failover_db_cluster::FailoverDbClusterOutput;
    use awsops::aws::rds::Rds;
    // A 503 after RDS may have accepted the call: a blind retry could start a
    // second failover, so the SDK must not retry; the reconciler decides.
    let flaky = mock!(Client::failover_db_cluster)
        .sequence()
        .http_status(503, Some("<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>try again</Message></Error></ErrorResponse>".into()))
        .output(|| FailoverDbClusterOutput::builder().build())
        .build();
    let describe =
        mock!(Client::describe_db_clusters).sequence().output(|| cluster("available", "w1")).repeatedly().build();
    let members = mock!(Client::describe_db_instances).sequence().output(|| instances(&[])).repeatedly().build();
    let rds = client(&[&flaky, &describe, &members]);
    let err = rds.failover("orders", "r0").await.expect_err("the 503 is returned, not retried");
    assert_eq!(err.kind, AwsErrorKind::Retryable);
    assert_eq!(flaky.num_calls(), 1);
    // The same client still retries reads.
    assert!(rds.describe_cluster("orders").await.is_ok());
}

/// RDS answers `InvalidDBInstanceState` (HTTP 400) when the target is briefly
/// not ready (API reference, FailoverDBCluster, Errors); that is a conflict to
/// retry on a later look, never a permanent failure.
#[tokio::test]
async fn a_target_briefly_in_the_wrong_state_is_retried_not_failed() {
    use awsops::aws::rds::Rds;
    let busy = mock!(Client::failover_db_cluster).then_http_response(|| {
        HttpResponse::new(
            400.try_into().expect("status"),
            SdkBody::from(
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidDBInstanceState</Code><Message>Instance r0 is not in available state.</Message></Error><RequestId>1</RequestId></ErrorResponse>",
            ),
        )
    });
    let err = client(&[&busy]).failover("orders", "r0").await.expect_err("refused");
    assert_eq!(err.kind, AwsErrorKind::Conflict, "{err}");
}

/// Aurora restarts the old writer as a reader after the swap; API.md: done
/// when the target is the writer and the cluster is available, members not
/// available yet listed.
#[tokio::test]
async fn a_swap_is_done_when_the_target_writes_and_the_cluster_is_available_even_while_a_reader_reboots() {
    let clusters = mock!(Client::describe_db_clusters).then_output(|| cluster("available", "r0"));
    let members = mock!(Client::describe_db_instances).then_output(|| instances(&["w1"]));
    let rds = client(&[&clusters, &members]);
    let status = AuroraFailoverStatus { requested_at: Some(Time(t(0))), ..intent() };
    let done = step(&rds, &failover(600, status), t(9)).await;
    assert_eq!(done.status.phase, Some(FailoverPhase::Succeeded));
    let ready = done.status.conditions.iter().find(|c| c.type_ == "Ready").expect("ready");
    assert!(ready.message.contains("not available yet: w1 is rebooting"), "{}", ready.message);
    let w1 = done.status.members.iter().find(|m| m.instance == "w1").expect("w1");
    assert_eq!(w1.status, "rebooting");
}

/// A response that never comes after the connection is made (a stuck proxy,
/// a half-open connection) fails the call once the operation timeout passes,
/// as a retryable error, instead of holding the cluster's lock forever.
#[tokio::test]
async fn a_call_whose_response_never_comes_fails_after_the_operation_timeout() {
    use awsops::aws::rds::Rds;
    use std::time::Duration;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection); // accepted, read from never, answered never
        }
    });
    let base = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(format!("http://{address}"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("scripted", "scripted", None, None, "tests"))
        .load()
        .await;
    let metrics = std::sync::Arc::new(awsops::metrics::Metrics::default());
    let factory =
        awsops::aws::AwsFactory::with_timeouts(base, metrics, Duration::from_millis(300), Duration::from_secs(2));
    let rds = factory.clients(None, None).await.expect("clients").rds();
    let outcome = tokio::time::timeout(Duration::from_secs(60), rds.describe_cluster("orders")).await;
    let err = outcome.expect("the call ends by itself").expect_err("no answer is an error");
    assert_eq!(err.kind, AwsErrorKind::Retryable, "{err}");
    assert!(err.to_string().to_lowercase().contains("timeout") || err.to_string().contains("timed out"), "{err}");
}
