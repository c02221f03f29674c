//! The controller runtime on a real kube-apiserver: CRDs, admission-time
//! validation, conditions on the first reconcile, leader election, metrics.

mod support;

use std::time::Duration;

use awsops::api::{AuroraFailover, StaticSite};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::*;

fn failover(name: &str, spec: serde_json::Value) -> AuroraFailover {
    serde_json::from_value(json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("a well-formed AuroraFailover")
}

fn site(name: &str, spec: serde_json::Value) -> StaticSite {
    serde_json::from_value(json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("a well-formed StaticSite")
}

async fn condition<K>(api: &Api<K>, name: &str, type_: &str) -> Option<(String, String, Option<i64>)>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let obj = api.get(name).await.ok()?;
    let value = serde_json::to_value(obj).ok()?;
    let conds = value.pointer("/status/conditions")?.as_array()?.clone();
    let c = conds.iter().find(|c| c["type"] == type_)?;
    Some((c["status"].as_str()?.to_string(), c["reason"].as_str()?.to_string(), c["observedGeneration"].as_i64()))
}

#[tokio::test]
async fn both_crds_become_established_with_printer_columns() {
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "crds").await;
    let api: Api<AuroraFailover> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &failover("f1", json!({"clusterIdentifier": "orders-aurora"})))
        .await
        .expect("created");
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    sites.create(&PostParams::default(), &site("s1", json!({}))).await.expect("created");
    let table = kubectl(&["get", "aurorafailovers,staticsites", "-n", &ns]);
    for column in
        ["CLUSTER", "PHASE", "PREVIOUS WRITER", "NEW WRITER", "DURATION", "AGE", "URL", "DISTRIBUTION", "READY"]
    {
        assert!(table.contains(column), "column {column} missing from:\n{table}");
    }
    assert!(table.contains("orders-aurora"), "{table}");
    let short = kubectl(&["get", "af,site", "-n", &ns, "-o", "name"]);
    assert!(short.contains("aurorafailover.awsops.dev/f1") && short.contains("staticsite.awsops.dev/s1"), "{short}");
}

#[tokio::test]
async fn invalid_objects_are_rejected_at_admission_naming_the_field() {
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "admission").await;
    let failovers: Api<AuroraFailover> = Api::namespaced(client.clone(), &ns);
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    let bad_failovers = [
        (json!({"clusterIdentifier": "1-starts-with-a-digit"}), "spec.clusterIdentifier"),
        (json!({"clusterIdentifier": "c", "timeoutSeconds": 5}), "spec.timeoutSeconds"),
        (json!({"clusterIdentifier": "c", "region": "mars"}), "spec.region"),
        (json!({"clusterIdentifier": "c", "targetInstance": "a--b"}), "spec.targetInstance"),
        (json!({"clusterIdentifier": "c", "roleArn": "not-an-arn"}), "spec.roleArn"),
        (json!({"clusterIdentifier": "x".repeat(64)}), "spec.clusterIdentifier"),
    ];
    for (i, (spec, field)) in bad_failovers.into_iter().enumerate() {
        let err = failovers.create(&PostParams::default(), &failover(&format!("bad{i}"), spec)).await.expect_err(field);
        assert!(matches!(&err, kube::Error::Api(e) if e.code == 422 && e.message.contains(field)), "{field}: {err}");
    }
    let bad_sites = [
        (json!({"bucket": {"name": "Upper_Case"}}), "spec.bucket.name"),
        (json!({"bucket": {"deletionPolicy": "Orphan"}}), "spec.bucket.deletionPolicy"),
        (json!({"distribution": {"priceClass": "PriceClass_1"}}), "spec.distribution.priceClass"),
        (json!({"domain": {"names": ["UPPER.example.com"], "hostedZoneId": "Z1"}}), "spec.domain.names"),
        (json!({"domain": {"names": [], "hostedZoneId": "Z1"}}), "spec.domain.names"),
        (json!({"domain": {"names": ["a.example.com"], "hostedZoneId": "Z1", "record": "TXT"}}), "spec.domain.record"),
    ];
    for (i, (spec, field)) in bad_sites.into_iter().enumerate() {
        let body: serde_json::Value = json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": format!("bad{i}")}, "spec": spec});
        let err =
            sites.patch(&format!("bad{i}"), &PatchParams::apply("tests"), &Patch::Apply(&body)).await.expect_err(field);
        assert!(matches!(&err, kube::Error::Api(e) if e.code == 422 && e.message.contains(field)), "{field}: {err}");
    }
}

#[tokio::test]
async fn valid_objects_get_conditions_and_observed_generation_within_seconds() {
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "first").await;
    let _controller = ControllerProcess::start(&ns, "awsops", &unique("ctl"), &[]);
    let failovers: Api<AuroraFailover> = Api::namespaced(client.clone(), &ns);
    failovers
        .create(&PostParams::default(), &failover("f1", json!({"clusterIdentifier": "orders-aurora", "dryRun": true})))
        .await
        .expect("created");
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    sites.create(&PostParams::default(), &site("s1", json!({}))).await.expect("created");

    for (kind, got) in [
        ("AuroraFailover", eventually(Duration::from_secs(20), || condition(&failovers, "f1", "Stalled")).await),
        ("StaticSite", eventually(Duration::from_secs(20), || condition(&sites, "s1", "Stalled")).await),
    ] {
        let (_, _, generation) = got.unwrap_or_else(|| panic!("{kind} got no conditions within 20 s"));
        assert_eq!(generation, Some(1), "{kind}");
    }
    let f1 = failovers.get("f1").await.expect("f1");
    let status = f1.status.expect("status");
    assert_eq!(status.observed_generation, Some(1));
    let types: Vec<_> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    for t in ["Ready", "Reconciling", "Stalled"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let s1 = sites.get("s1").await.expect("s1");
    assert!(s1.metadata.finalizers.unwrap_or_default().contains(&"awsops.dev/cleanup".to_string()));
}

#[tokio::test]
async fn a_spec_the_schema_accepts_but_the_controller_refuses_is_stalled_with_invalid_spec() {
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "stall").await;
    let _controller = ControllerProcess::start(&ns, "awsops", &unique("ctl"), &[]);
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    let spec = json!({"domain": {"names": ["static.example.org"], "hostedZoneName": "example.com"}});
    sites.create(&PostParams::default(), &site("outside-zone", spec)).await.expect("schema accepts it");
    let got = eventually(Duration::from_secs(20), || async {
        condition(&sites, "outside-zone", "Stalled").await.filter(|(s, _, _)| s == "True")
    })
    .await
    .expect("Stalled within 20 s");
    assert_eq!(got.1, "InvalidSpec");
    let obj = sites.get("outside-zone").await.expect("site");
    let msg =
        obj.status.expect("status").conditions.into_iter().find(|c| c.type_ == "Stalled").expect("stalled").message;
    assert!(msg.contains("spec.domain.names[0]") && msg.contains("not inside hosted zone"), "{msg}");
}

#[tokio::test]
async fn a_second_controller_waits_while_the_first_holds_the_lease() {
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "lease").await;
    let first = ControllerProcess::start(&ns, "awsops", &unique("first"), &[]);
    let failovers: Api<AuroraFailover> = Api::namespaced(client.clone(), &ns);
    failovers
        .create(&PostParams::default(), &failover("f1", json!({"clusterIdentifier": "c1", "dryRun": true})))
        .await
        .expect("created");
    eventually(Duration::from_secs(20), || condition(&failovers, "f1", "Ready"))
        .await
        .expect("first controller reconciles");

    let second = ControllerProcess::start(&ns, "awsops", &unique("second"), &[]);
    eventually(Duration::from_secs(20), || second.metrics()).await.expect("second controller serves metrics");
    failovers
        .create(&PostParams::default(), &failover("f2", json!({"clusterIdentifier": "c2", "dryRun": true})))
        .await
        .expect("created");
    eventually(Duration::from_secs(20), || condition(&failovers, "f2", "Ready"))
        .await
        .expect("first controller reconciles f2");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(second.sample("awsops_reconciles_total").await, 0.0, "standby reconciled:\n{}", second.log());
    assert!(first.sample("awsops_reconciles_total").await >= 2.0);

    let status = first.terminate().await;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    failovers
        .create(&PostParams::default(), &failover("f3", json!({"clusterIdentifier": "c3", "dryRun": true})))
        .await
        .expect("created");
    eventually(Duration::from_secs(30), || condition(&failovers, "f3", "Ready"))
        .await
        .unwrap_or_else(|| panic!("the standby took over after the leader released the lease:\n{}", second.log()));
    assert!(second.sample("awsops_reconciles_total").await >= 1.0);
}

#[tokio::test]
async fn metrics_count_reconciles_and_health_endpoints_answer() {
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "metrics").await;
    let controller = ControllerProcess::start(&ns, "awsops", &unique("ctl"), &[]);
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    sites.create(&PostParams::default(), &site("s1", json!({}))).await.expect("created");
    // The count rises when a reconcile starts, the duration is observed when it ends.
    let counted = eventually(Duration::from_secs(20), || async {
        let started = controller.sample("awsops_reconciles_total{kind=\"StaticSite\"}").await;
        let finished = controller.sample("awsops_reconcile_duration_seconds_count{kind=\"StaticSite\"}").await;
        (started >= 1.0 && finished >= 1.0).then_some(started)
    })
    .await;
    assert!(counted.is_some(), "no StaticSite reconcile counted:\n{}", controller.metrics().await.unwrap_or_default());
    // Counted from the watch cache at each scrape: the one site, in whatever state it reached.
    let objects = controller.sample("awsops_objects{kind=\"StaticSite\"").await;
    assert_eq!(objects, 1.0, "{}", controller.metrics().await.unwrap_or_default());
    for path in ["healthz", "readyz"] {
        let resp = reqwest::get(format!("http://127.0.0.1:{}/{path}", controller.metrics_port)).await.expect(path);
        assert_eq!(resp.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn a_controller_that_may_not_watch_config_maps_is_unready_naming_the_watch_until_granted_and_stays_live() {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let client = client().await;
    install_crds(&client).await;
    let ns = namespace(&client, "ready").await;
    // What a namespaced controller needs, except reading ConfigMaps.
    let mut rules = json!([
        {"apiGroups": ["awsops.dev"], "resources": ["*"], "verbs": ["*"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]);
    let role = |rules: &serde_json::Value| -> Role {
        serde_json::from_value(json!({"metadata": {"name": "controller"}, "rules": rules})).expect("a Role")
    };
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    roles.create(&PostParams::default(), &role(&rules)).await.expect("role created");
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "controller"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "controller"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "awsops-unbound"}],
    }))
    .expect("a RoleBinding");
    Api::<RoleBinding>::namespaced(client.clone(), &ns).create(&PostParams::default(), &binding).await.expect("bound");
    let kubeconfig = std::env::var("AWSOPS_TEST_UNBOUND_KUBECONFIG").expect("set by make test");
    let controller = ControllerProcess::start_with_env(
        &ns,
        "awsops",
        &unique("unready"),
        &["--leader-election", "false", "--tenancy", "off"],
        &[("KUBECONFIG", &kubeconfig)],
    );

    // kube-runtime retries the watch with backoff; past it, the pod says why.
    let unready = eventually(Duration::from_secs(150), || async {
        controller.get("readyz").await.filter(|(status, body)| *status == 503 && body.contains("ConfigMap"))
    })
    .await
    .unwrap_or_else(|| panic!("readyz stayed ready with a forbidden ConfigMap watch:\n{}", controller.log()));
    assert!(unready.1.contains("watch of ConfigMap failing for"), "{}", unready.1);
    assert!(!unready.1.contains("awsops-unbound"), "/readyz is unauthenticated: no identities in it: {}", unready.1);
    assert!(controller.log().contains("configmaps is forbidden"), "the log has the API server's answer");
    assert_eq!(controller.get("healthz").await.map(|(s, _)| s), Some(200), "liveness is not readiness");

    rules
        .as_array_mut()
        .expect("rules")
        .push(json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}));
    roles.replace("controller", &PostParams::default(), &role(&rules)).await.expect("role widened");
    let ready = eventually(Duration::from_secs(150), || async {
        controller.get("readyz").await.filter(|(status, _)| *status == 200)
    })
    .await;
    assert!(ready.is_some(), "readyz stayed unready after the grant:\n{}", controller.log());
}
