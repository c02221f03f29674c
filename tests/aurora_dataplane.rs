//! AuroraFailover against a simulated Aurora data plane (support/simulated.rs:
//! MariaDB servers on loopback, a DNS server for the emulator's endpoint
//! names, AWS's failover sequence played in time): the controller binary on
//! the real API server proves the new writer takes writes, measures the write
//! outage its probe saw, and fails verification when the endpoint lags.

mod support;

use std::time::Duration;

use awsops::api::aurora_failover::{AuroraFailover, AuroraFailoverStatus, FailoverPhase};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::aurora::{failover_takes, seed_cluster, writer};
use support::simulated::{self, SimulatedCluster, Timing};
use support::*;

/// A cluster whose failover takes `seconds` in the emulator: writer `w1`
/// tier 1, readers `r0` tier 0 and `r2` tier 2.
async fn seed(rds: &aws_sdk_rds::Client, cluster: &str, seconds: u32) -> [String; 3] {
    let names = [format!("{cluster}-w1"), format!("{cluster}-r0"), format!("{cluster}-r2")];
    let members = [
        (names[0].as_str(), 1, "db.r6g.large"),
        (names[1].as_str(), 0, "db.r6g.large"),
        (names[2].as_str(), 2, "db.r6g.large"),
    ];
    seed_cluster(rds, cluster, "aurora-mysql", &members).await;
    failover_takes(rds, cluster, seconds).await;
    names
}

/// A failover of `cluster` whose write probe logs in with Secret `secret`.
fn probing(cluster: &str, secret: &str) -> serde_json::Value {
    json!({"clusterIdentifier": cluster, "verify": {"writeProbe": {"secretRef": {"name": secret}}}})
}

fn stalled(s: &AuroraFailoverStatus) -> bool {
    s.conditions.iter().any(|c| c.type_ == "Stalled" && c.status == "True")
}

struct Rig {
    api: Api<AuroraFailover>,
    stage: Stage,
    emulator: Emulator,
    controller: Option<ControllerProcess>,
}

impl Rig {
    async fn new(prefix: &str) -> Self {
        let stage = Stage::new(prefix).await;
        let api = Api::namespaced(stage.client.clone(), &stage.ns);
        Self { api, stage, emulator: Emulator::new().await, controller: None }
    }

    /// A controller resolving through the simulated cluster's DNS server;
    /// with `tls`, trusting the test CA for the probe's TLS.
    fn start(&mut self, sim: &SimulatedCluster, tls: bool) {
        let dns = sim.dns.addr.to_string();
        let ca = test_ca().join("ca.crt").display().to_string();
        let mut args = vec!["--dns-server", dns.as_str()];
        if tls {
            args.extend(["--mysql-ca-file", ca.as_str()]);
        }
        self.controller = Some(self.stage.controller(&args, &[]));
    }

    /// The probe's login in Secret `name`, readable by the controller with `grant`.
    async fn login(&self, name: &str, password: &str, grant: bool) {
        simulated::login_secret(&self.stage.client, &self.stage.ns, name, password, grant).await;
    }

    async fn create(&self, name: &str, spec: serde_json::Value) {
        let object: AuroraFailover = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover",
            "metadata": {"name": name}, "spec": spec,
        }))
        .expect("a well-formed AuroraFailover");
        self.api.create(&PostParams::default(), &object).await.expect("created");
    }

    async fn until(&self, name: &str, secs: u64, done: impl Fn(&AuroraFailoverStatus) -> bool) -> AuroraFailoverStatus {
        let got = eventually(Duration::from_secs(secs), || async {
            self.api.get(name).await.ok()?.status.filter(|s| done(s))
        })
        .await;
        got.unwrap_or_else(|| {
            let log = self.controller.as_ref().map(|c| c.log()).unwrap_or_default();
            panic!("{name} did not reach the expected status in {secs} s\ncontroller log:\n{log}")
        })
    }
}

/// The test environment's CA (`scripts/testenv.sh`: pki/ca.crt, ca.key).
fn test_ca() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("AWSOPS_TEST_ENV").expect("set by make test")).join("pki")
}

fn finished(s: &AuroraFailoverStatus) -> bool {
    matches!(s.phase, Some(FailoverPhase::Succeeded | FailoverPhase::Failed))
}

#[tokio::test]
async fn the_write_probe_measures_over_tls_the_outage_the_data_plane_played_and_the_endpoint_switch() {
    let mut rig = Rig::new("dp-outage").await;
    let cluster = unique("orders");
    let [w1, r0, _] = seed(&rig.emulator.rds, &cluster, 8).await;
    // Every server requires TLS: the probe verifies the endpoint's name against the test CA.
    let sim = SimulatedCluster::start(&rig.emulator.rds, &cluster, Some(&test_ca())).await;
    rig.login("orders-probe", simulated::PASSWORD, true).await;
    rig.start(&sim, true);
    let play = tokio::spawn(sim.play(r0.clone(), Timing::default(), Duration::from_secs(60)));
    rig.create("measured", probing(&cluster, "orders-probe")).await;

    let status = rig.until("measured", 180, finished).await;
    let (_sim, played) = play.await.expect("the script ran");
    assert_eq!(status.phase, Some(FailoverPhase::Succeeded), "{status:#?}");
    assert_eq!(writer(&rig.emulator.rds, &cluster).await, r0);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1, "exactly one call");
    let verification = status.verification.expect("verification");
    let measured = verification.write_outage_seconds.and_then(|n| n.as_f64()).expect("an outage figure");
    let scripted = played.outage_seconds().expect("the script played");
    eprintln!(
        "write outage: measured {measured:.2} s, scripted {scripted:.2} s, errors {:?}",
        verification.probe_errors
    );
    // From the old writer's stop until the endpoint leads to the writable
    // target; the controller's resolver may keep the old answer one TTL longer.
    assert!(measured >= scripted - 1.0, "measured {measured} s, scripted {scripted} s");
    assert!(measured <= scripted + f64::from(simulated::TTL) + 5.0, "measured {measured} s, scripted {scripted} s");
    let switched = verification.endpoint_switched_at.expect("endpoint switch recorded");
    assert!(switched.0 >= played.outage_to.expect("flipped"), "the switch is seen after the flip");
    assert!(
        verification.probe_errors.contains_key("2003"),
        "the stopped writer refused connections: {:?}",
        verification.probe_errors
    );
    assert_eq!(status.previous_writer.as_deref(), Some(w1.as_str()));

    // The login's password never reaches the log (at debug), status or events.
    let everything = [
        rig.controller.as_ref().expect("controller").log(),
        kubectl(&["get", "aurorafailovers", "-n", &rig.stage.ns, "-o", "yaml"]),
        kubectl(&["get", "events.events.k8s.io", "-n", &rig.stage.ns, "-o", "yaml"]),
    ]
    .join("\n");
    assert!(everything.contains("writeOutageSeconds"), "the search covers real output");
    assert!(!everything.contains(simulated::PASSWORD), "the probe's password leaked");
}

#[tokio::test]
async fn a_wrong_password_or_an_unreadable_secret_stalls_before_the_failover_and_calls_nothing() {
    let mut rig = Rig::new("dp-login").await;
    let cluster = unique("orders");
    let [w1, _, _] = seed(&rig.emulator.rds, &cluster, 8).await;
    let sim = SimulatedCluster::start(&rig.emulator.rds, &cluster, None).await;
    rig.login("wrong", "not-the-password", true).await;
    rig.login("unbound", simulated::PASSWORD, false).await;
    rig.start(&sim, false);
    for (name, says) in [("wrong", "login was refused"), ("unbound", "create role awsops-write-probe")] {
        rig.create(name, probing(&cluster, name)).await;
        let status = rig.until(name, 60, stalled).await;
        let c = status.conditions.iter().find(|c| c.type_ == "Stalled").expect("stalled");
        assert_eq!(c.reason, "ProbeBaselineFailed");
        assert!(c.message.contains(says) && c.message.contains("Nothing was changed"), "{}", c.message);
    }
    let log = rig.controller.as_ref().expect("controller").log();
    assert!(!log.contains("not-the-password") && !log.contains(simulated::PASSWORD), "no password in the log");
    assert_eq!(writer(&rig.emulator.rds, &cluster).await, w1);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 0, "no failover was attempted");
}

#[tokio::test]
async fn an_endpoint_that_never_switches_fails_verification_at_its_timeout_and_leaves_the_writer() {
    let mut rig = Rig::new("dp-lag").await;
    let cluster = unique("orders");
    let [_, r0, _] = seed(&rig.emulator.rds, &cluster, 2).await;
    let sim = SimulatedCluster::start(&rig.emulator.rds, &cluster, None).await;
    rig.start(&sim, false);
    let stuck = Timing { dns_flips: None, ..Timing::default() };
    let play = tokio::spawn(sim.play(r0.clone(), stuck, Duration::from_secs(60)));
    rig.create("lagging", json!({"clusterIdentifier": cluster, "verify": {"timeoutSeconds": 30}})).await;

    let status = rig.until("lagging", 180, finished).await;
    let _ = play.await;
    assert_eq!(status.phase, Some(FailoverPhase::Failed), "{status:#?}");
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").expect("ready");
    assert_eq!(ready.reason, "VerificationFailed");
    assert!(ready.message.contains("not to the writer") && ready.message.contains(&r0), "{}", ready.message);
    assert!(condition(&status, "WriterSwapped"), "the swap itself is recorded");
    assert_eq!(writer(&rig.emulator.rds, &cluster).await, r0, "never moved back");
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1);
}

#[tokio::test]
async fn a_cluster_that_requires_tls_stalls_a_probe_without_the_ca_bundle_and_says_which_flag() {
    let mut rig = Rig::new("dp-tls").await;
    let cluster = unique("orders");
    let [w1, _, _] = seed(&rig.emulator.rds, &cluster, 8).await;
    let sim = SimulatedCluster::start(&rig.emulator.rds, &cluster, Some(&test_ca())).await;
    rig.login("orders-probe", simulated::PASSWORD, true).await;
    rig.start(&sim, false);
    rig.create("plain", probing(&cluster, "orders-probe")).await;
    let status = rig.until("plain", 60, stalled).await;
    let c = status.conditions.iter().find(|c| c.type_ == "Stalled").expect("stalled");
    assert_eq!(c.reason, "ProbeBaselineFailed");
    assert!(c.message.contains("--mysql-ca-file"), "{}", c.message);
    assert_eq!(writer(&rig.emulator.rds, &cluster).await, w1);
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 0);
}

#[tokio::test]
async fn a_crash_during_verification_resumes_it_calls_once_and_reports_no_outage_it_could_not_see() {
    let mut rig = Rig::new("dp-crash").await;
    let cluster = unique("orders");
    let [_, r0, _] = seed(&rig.emulator.rds, &cluster, 2).await;
    let sim = SimulatedCluster::start(&rig.emulator.rds, &cluster, None).await;
    rig.login("orders-probe", simulated::PASSWORD, true).await;
    let dns = sim.dns.addr.to_string();
    let args = ["--dns-server", dns.as_str()];
    rig.controller = Some(rig.stage.controller(&args, &[("AWSOPS_FAILPOINT", "aurora-while-verifying")]));
    // The endpoint flips late, so the swap is recorded while the checks still wait.
    let late = Timing { dns_flips: Some(Duration::from_secs(15)), ..Timing::default() };
    let play = tokio::spawn(sim.play(r0.clone(), late, Duration::from_secs(60)));
    rig.create("resumed", probing(&cluster, "orders-probe")).await;

    let exited = rig.controller.as_mut().expect("controller").wait_exit(Duration::from_secs(60)).await;
    assert!(exited.is_some_and(|s| !s.success()), "the controller should have aborted while verifying");
    let swapped = rig.api.get("resumed").await.expect("get").status.expect("status");
    assert!(swapped.completed_at.is_some() && swapped.phase == Some(FailoverPhase::FailingOver), "{swapped:#?}");
    rig.controller = Some(rig.stage.controller(&args, &[]));
    let status = rig.until("resumed", 120, finished).await;
    let _ = play.await;
    assert_eq!(status.phase, Some(FailoverPhase::Succeeded), "{status:#?}");
    assert_eq!(rig.stage.proxy.count("FailoverDBCluster"), 1, "never called again");
    let verification = status.verification.expect("verification");
    assert!(verification.writable_at.is_some() && verification.endpoint_switched_at.is_some(), "{verification:#?}");
    assert_eq!(verification.write_outage_seconds, None, "the restarted controller did not see the outage begin");
    // The counts written before the crash go on growing; none is lost.
    let before = swapped.verification.map(|v| v.probe_errors).unwrap_or_default();
    for (code, n) in &before {
        assert!(
            verification.probe_errors.get(code).is_some_and(|m| m >= n),
            "{before:?} -> {:?}",
            verification.probe_errors
        );
    }
}

fn condition(status: &AuroraFailoverStatus, type_: &str) -> bool {
    status.conditions.iter().any(|c| c.type_ == type_ && c.status == "True")
}
