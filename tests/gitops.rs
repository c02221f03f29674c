//! What waiting GitOps clients see. The Argo CD health checks in
//! docs/gitops.md, run by a real Lua interpreter (Argo CD runs them with
//! gopher-lua, Lua 5.1 semantics, which these scripts stay within), and its
//! Flux CEL health expressions, run by a CEL interpreter, on objects as the
//! controller writes them; and the real `helm install --wait` (Helm 4 waits
//! with kstatus, the library Flux uses) and `kubectl wait` on the test API
//! server, from the moment an object is created.

mod support;

use std::process::Command;

use awsops::api::{AuroraFailover, StaticSite};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

fn argo_script(kind: &str) -> String {
    let doc = include_str!("../docs/gitops.md");
    let key = format!("resource.customizations.health.awsops.dev_{kind}: |");
    let start = doc.find(&key).unwrap_or_else(|| panic!("no health check for {kind}")) + key.len();
    doc[start..].lines().skip(1).take_while(|l| l.starts_with("    ")).map(|l| &l[4..]).collect::<Vec<_>>().join("\n")
}

fn lua(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            format!("{{{}}}", map.iter().map(|(k, v)| format!("[{k:?}] = {}", lua(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

fn argo_health(kind: &str, obj: Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal function check()\n{}\nend\nlocal hs = check()\nprint(hs.status)\nprint(hs.message)\n",
        lua(&obj),
        argo_script(kind)
    );
    let out = Command::new("lua5.4").arg("-e").arg(&program).output().expect("lua5.4 is installed by make test");
    assert!(out.status.success(), "lua failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    (lines.next().unwrap_or_default().to_string(), lines.next().unwrap_or_default().to_string())
}

/// Flux's verdict on `obj` under the `healthCheckExprs` of docs/gitops.md
/// for `kind`, evaluated by a CEL interpreter in Flux's order.
fn flux(kind: &str, obj: &Value) -> &'static str {
    let doc = include_str!("../docs/gitops.md");
    let block = doc.split("```yaml\n").find(|b| b.contains("healthCheckExprs:")).expect("a Flux example");
    let block = &block[..block.find("```").expect("the block ends")];
    let kustomization: Value = serde_yaml_ng::from_str(block).expect("the example is YAML");
    let exprs = kustomization["spec"]["healthCheckExprs"].as_array().expect("a list");
    let rule = exprs.iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("no expressions for {kind}"));
    let mut context = cel::Context::default();
    for field in ["metadata", "spec", "status"] {
        if let Some(value) = obj.get(field) {
            context.add_variable(field, value).expect("a JSON value");
        }
    }
    for (key, verdict) in [("inProgress", "InProgress"), ("failed", "Failed"), ("current", "Current")] {
        let source = rule[key].as_str().unwrap_or_else(|| panic!("{kind}: no {key}"));
        let program = cel::Program::compile(source).unwrap_or_else(|e| panic!("{kind} {key}: {e}"));
        match program.execute(&context) {
            Ok(cel::Value::Bool(true)) => return verdict,
            Ok(cel::Value::Bool(false)) => {}
            other => panic!("{kind} {key} on {obj}: {other:?}"),
        }
    }
    "InProgress"
}

#[test]
fn flux_health_expressions_read_new_and_stale_objects_in_progress_ready_current_and_stalled_failed() {
    for kind in ["StaticSite", "AuroraFailover"] {
        let new = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 0}});
        assert_eq!(flux(kind, &new), "InProgress", "{kind}: a brand-new object as the API server serves it");
        assert_eq!(argo_health(kind, new).0, "Progressing", "{kind}: Argo CD agrees");
        let ready = obj(2, 2, &[("Ready", "True", "done"), ("Reconciling", "False", "x"), ("Stalled", "False", "x")]);
        assert_eq!(flux(kind, &ready), "Current", "{kind}");
        let stale = obj(3, 2, &[("Ready", "True", "done"), ("Stalled", "False", "x")]);
        assert_eq!(flux(kind, &stale), "InProgress", "{kind}: a new generation is not current until observed");
        let mut old_conditions = obj(3, 3, &[("Ready", "True", "done"), ("Stalled", "False", "x")]);
        old_conditions["status"]["conditions"][0]["observedGeneration"] = json!(2);
        assert_eq!(flux(kind, &old_conditions), "InProgress", "{kind}: a Ready of an older generation");
        let stalled = obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "False", "x"), ("Stalled", "True", "no")]);
        assert_eq!(flux(kind, &stalled), "Failed", "{kind}");
        let working = obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "True", "busy"), ("Stalled", "False", "x")]);
        assert_eq!(flux(kind, &working), "InProgress", "{kind}");
    }
}

fn obj(generation: i64, observed: i64, conditions: &[(&str, &str, &str)]) -> Value {
    let conditions: Vec<Value> = conditions
        .iter()
        .map(|(t, s, m)| json!({"type": t, "status": s, "reason": "R", "message": m, "observedGeneration": observed}))
        .collect();
    json!({"metadata": {"generation": generation}, "status": {"observedGeneration": observed, "conditions": conditions}})
}

#[test]
fn argo_cd_sees_ready_sites_healthy_stalled_degraded_and_the_rest_progressing() {
    let ready = obj(2, 2, &[("Ready", "True", "serving"), ("Reconciling", "False", "x"), ("Stalled", "False", "x")]);
    assert_eq!(argo_health("StaticSite", ready), ("Healthy".into(), "serving".into()));
    let stalled =
        obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "False", "x"), ("Stalled", "True", "bucket taken")]);
    assert_eq!(argo_health("StaticSite", stalled), ("Degraded".into(), "bucket taken".into()));
    let deploying =
        obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "True", "deploying"), ("Stalled", "False", "x")]);
    assert_eq!(argo_health("StaticSite", deploying), ("Progressing".into(), "deploying".into()));
    let stale = obj(3, 2, &[("Ready", "True", "serving")]);
    assert_eq!(argo_health("StaticSite", stale).0, "Progressing", "a new generation is not healthy until observed");
    assert_eq!(argo_health("StaticSite", json!({"metadata": {"generation": 1}})).0, "Progressing");
}

#[test]
fn argo_cd_sees_a_succeeded_failover_healthy_and_a_failed_one_degraded() {
    let done = obj(1, 1, &[("Ready", "True", "r0 is the writer"), ("Stalled", "False", "x")]);
    assert_eq!(argo_health("AuroraFailover", done).0, "Healthy");
    let failed = obj(1, 1, &[("Ready", "False", "x"), ("Stalled", "True", "timed out")]);
    assert_eq!(argo_health("AuroraFailover", failed), ("Degraded".into(), "timed out".into()));
    let running = obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "True", "failing over")]);
    assert_eq!(argo_health("AuroraFailover", running), ("Progressing".into(), "failing over".into()));
}

/// Runs `cmd` off the test's runtime (the counting proxy the controller's AWS
/// calls go through runs on it); whether it succeeded, and what it said.
async fn run(mut cmd: Command) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.expect("joined").expect("the tool runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `helm install --wait` of tests/charts/waited into `ns` with `--set` values;
/// whether Helm called it a success, and what it said.
async fn helm_install_wait(ns: &str, release: &str, sets: &[&str], timeout: &str) -> (bool, String) {
    let helm = support::helm();
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/charts/waited");
    let mut cmd = Command::new(helm);
    // Helm 4's default server-side apply works here: the chart holds no CRD
    // (whose CEL rules the 1.20 server's typed patches refuse, see testenv.sh).
    cmd.args(["install", release, chart, "--namespace", ns, "--wait", "--timeout", timeout]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    run(cmd).await
}

/// `kubectl wait --for=condition=Ready` on `object` (`kind/name`) in `ns`:
/// `true` when it returned Ready, `false` when it timed out waiting (any
/// other failure fails the test).
async fn kubectl_wait_ready(ns: &str, object: &str, timeout: &str) -> bool {
    let bin = std::env::var("AWSOPS_TEST_KUBECTL").expect("AWSOPS_TEST_KUBECTL is set by make test");
    let mut cmd = Command::new(bin);
    cmd.args(["wait", "--for=condition=Ready", object, "-n", ns, &format!("--timeout={timeout}")]);
    let (ok, said) = run(cmd).await;
    assert!(ok || said.contains("timed out waiting"), "kubectl wait failed otherwise: {said}");
    ok
}

fn condition(status: &Value, type_: &str) -> Option<String> {
    let conditions = status["conditions"].as_array()?;
    conditions.iter().find(|c| c["type"] == type_).and_then(|c| c["status"].as_str()).map(String::from)
}

#[tokio::test]
async fn a_brand_new_object_is_served_as_not_yet_observed_so_no_waiting_client_calls_it_done() {
    let stage = support::Stage::new("new-objects").await;
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    let failovers: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    let site =
        json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": "new"}, "spec": {}});
    let created =
        sites.create(&PostParams::default(), &serde_json::from_value(site).expect("site")).await.expect("site");
    let failover = json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": "new"},
        "spec": {"clusterIdentifier": "c"}});
    failovers
        .create(&PostParams::default(), &serde_json::from_value(failover).expect("failover"))
        .await
        .expect("created");

    // No controller runs: what the API server serves is all a client has.
    let site = serde_json::to_value(sites.get("new").await.expect("site")).expect("json");
    assert_eq!(site["status"], json!({"observedGeneration": 0}), "{site:#}");
    assert_eq!(site["metadata"]["generation"], 1);
    assert_eq!(
        serde_json::to_value(&created).expect("json")["status"]["observedGeneration"],
        0,
        "the create response too"
    );
    let failover = serde_json::to_value(failovers.get("new").await.expect("failover")).expect("json");
    assert_eq!(failover["status"], json!({"observedGeneration": 0}), "{failover:#}");
    // kstatus would call an object with neither status nor conditions Current:
    // the served default is what keeps Helm 4 and Flux waiting.
    assert_eq!(flux("StaticSite", &site), "InProgress");
    assert_eq!(flux("AuroraFailover", &failover), "InProgress");
    assert_eq!(argo_health("StaticSite", site).0, "Progressing");
    assert_eq!(argo_health("AuroraFailover", failover).0, "Progressing");
    assert!(!kubectl_wait_ready(&stage.ns, "staticsite/new", "2s").await, "kubectl wait does not return Ready");
    // Helm 4 waits with kstatus, which would call the object Current at once
    // without the served default: with no controller it must time out.
    let (ok, said) = helm_install_wait(&stage.ns, "unwatched", &["site.enabled=true", "pages=true"], "5s").await;
    assert!(!ok && said.contains("status: InProgress"), "helm install --wait must still be waiting: {said}");
}

#[tokio::test]
async fn helm_install_wait_and_kubectl_wait_return_once_a_site_is_ready_and_fail_for_one_that_stalls() {
    let stage = support::Stage::new("helm-wait").await;
    let controller = stage.controller(&[], &[]);
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);

    let (ok, said) = helm_install_wait(&stage.ns, "served", &["site.enabled=true", "pages=true"], "180s").await;
    assert!(ok, "helm install --wait of a site that gets Ready: {said}\n{}", controller.log());
    let status = serde_json::to_value(sites.get("served").await.expect("site")).expect("json")["status"].clone();
    assert_eq!(condition(&status, "Ready").as_deref(), Some("True"), "Helm returned before Ready: {status:#}");
    assert!(kubectl_wait_ready(&stage.ns, "staticsite/served", "30s").await);
    let served = serde_json::to_value(sites.get("served").await.expect("site")).expect("json");
    assert_eq!((flux("StaticSite", &served), argo_health("StaticSite", served).0.as_str()), ("Current", "Healthy"));

    let (ok, said) =
        helm_install_wait(&stage.ns, "stuck", &["site.enabled=true", "site.configMap=absent"], "30s").await;
    assert!(
        !ok && said.contains("status: Failed"),
        "helm install --wait of a site that stalls fails as Failed: {said}"
    );
    let status = serde_json::to_value(sites.get("stuck").await.expect("site")).expect("json")["status"].clone();
    assert_eq!(condition(&status, "Stalled").as_deref(), Some("True"), "{status:#}");
    assert!(
        !kubectl_wait_ready(&stage.ns, "staticsite/stuck", "5s").await,
        "kubectl wait does not call a stalled site Ready"
    );
    let stuck = serde_json::to_value(sites.get("stuck").await.expect("site")).expect("json");
    assert_eq!((flux("StaticSite", &stuck), argo_health("StaticSite", stuck).0.as_str()), ("Failed", "Degraded"));
}

#[tokio::test]
async fn helm_install_wait_and_kubectl_wait_return_once_a_failover_succeeded_and_fail_for_one_that_stalls() {
    let stage = support::Stage::new("helm-wait-rds").await;
    let aws = support::Emulator::new().await;
    let cluster = support::unique("waited");
    let (w1, r1) = (format!("{cluster}-w1"), format!("{cluster}-r1"));
    support::aurora::seed_cluster(
        &aws.rds,
        &cluster,
        "aurora-mysql",
        &[(&w1, 1, "db.r6g.large"), (&r1, 0, "db.r6g.large")],
    )
    .await;
    let controller = stage.controller(&[], &[]);

    let cluster_set = format!("failover.cluster={cluster}");
    let (ok, said) = helm_install_wait(&stage.ns, "swap", &["failover.enabled=true", &cluster_set], "120s").await;
    assert!(ok, "helm install --wait of a failover that succeeds: {said}\n{}", controller.log());
    assert_eq!(support::aurora::writer(&aws.rds, &cluster).await, r1, "Helm returned after the swap");
    assert!(kubectl_wait_ready(&stage.ns, "aurorafailover/swap", "30s").await);

    let missing = format!("failover.cluster={}", support::unique("missing"));
    let (ok, said) = helm_install_wait(&stage.ns, "lost", &["failover.enabled=true", &missing], "30s").await;
    assert!(!ok && said.contains("status: Failed"), "helm install --wait of a failover that stalls fails: {said}");
    let failovers: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    let status = serde_json::to_value(failovers.get("lost").await.expect("failover")).expect("json")["status"].clone();
    assert_eq!(condition(&status, "Stalled").as_deref(), Some("True"), "{status:#}");
    assert!(!kubectl_wait_ready(&stage.ns, "aurorafailover/lost", "5s").await);
}
