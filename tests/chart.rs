//! The Helm chart, rendered and validated by the real Helm binary
//! (scripts/install-helm.sh) and checked two ways: server-side dry-run on the
//! real API server, and the security settings it promises. (Every other
//! integration test runs the controller as the chart's ServiceAccount with
//! exactly the chart's roles.)

mod support;

use std::process::Command;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/awsops");

use support::helm;

/// `helm template` of the chart with `values`: the manifests, or Helm's error.
fn template(values: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).expect("values");
    let out = Command::new(helm())
        .args(["template", "awsops", CHART, "--namespace", "awsops-system", "-f"])
        .arg(&file)
        .output()
        .expect("helm runs");
    match out.status.success() {
        true => Ok(String::from_utf8(out.stdout).expect("utf-8")),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

fn render(values: &str) -> String {
    template(values).unwrap_or_else(|e| panic!("helm template failed: {e}"))
}

fn documents(rendered: &str) -> Vec<serde_json::Value> {
    rendered
        .split("\n---\n")
        .filter_map(|d| serde_yaml_ng::from_str::<serde_json::Value>(d).ok())
        .filter(|v| v.get("kind").is_some())
        .collect()
}

fn find<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not rendered"))
}

fn server_dry_run(rendered: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("chart.yaml");
    std::fs::write(&file, rendered).expect("chart");
    let file = file.to_string_lossy().into_owned();
    let out = support::kubectl(&["apply", "--dry-run=server", "--validate=false", "-f", &file]);
    assert!(out.contains("deployment.apps/awsops") && out.contains("(server dry run)"), "{out}");
}

/// `helm template` renders for a current cluster (policy/v1); the 1.20 test
/// server serves only policy/v1beta1, so its dry run names that version.
const OLD_PDB: &str = "podDisruptionBudget:\n  apiVersion: policy/v1beta1\n";

#[test]
fn the_chart_renders_and_the_api_server_accepts_it_cluster_wide_and_namespaced() {
    support::require_env();
    server_dry_run(&render(OLD_PDB));
    let namespaced = render(&format!("{OLD_PDB}watchNamespace: web\ncrds:\n  install: false\n"));
    let docs = documents(&namespaced);
    assert!(docs.iter().all(|d| d["kind"] != "CustomResourceDefinition"), "no CRDs when crds.install is false");
    let cluster_roles: Vec<_> =
        docs.iter().filter(|d| d["kind"] == "ClusterRole").map(|d| d["metadata"]["name"].clone()).collect();
    assert_eq!(
        cluster_roles,
        vec!["awsops-tenancy"],
        "namespaced mode reads only TenantPolicies and namespaces cluster-wide"
    );
    assert_eq!(find(&docs, "ClusterRole", "awsops-tenancy")["rules"], tenancy_rules());
    assert_eq!(find(&docs, "Role", "awsops")["metadata"]["namespace"], "web");
    let deployment = find(&docs, "Deployment", "awsops");
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array().expect("env").clone();
    assert!(env.iter().any(|e| e["name"] == "AWSOPS_WATCH_NAMESPACE" && e["value"] == "web"));
}

#[test]
fn the_deployment_runs_non_root_read_only_with_no_capabilities_and_health_probes() {
    let docs = documents(&render("replicas: 2\n"));
    let pod = &find(&docs, "Deployment", "awsops")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["limits"]["memory"].is_string() && c["resources"]["requests"]["cpu"].is_string());
    let env = c["env"].as_array().expect("env");
    assert!(env.iter().any(|e| e["name"] == "POD_NAME" && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"));
}

#[test]
fn a_pod_disruption_budget_comes_only_with_more_than_one_replica_in_the_api_version_the_cluster_serves() {
    let two = documents(&render("replicas: 2\n"));
    assert_eq!(find(&two, "Deployment", "awsops")["spec"]["replicas"], 2);
    assert!(two.iter().any(|d| d["kind"] == "PodDisruptionBudget"));
    // What `helm install` made on the 1.20 test server, which serves no policy/v1.
    let out = Command::new(helm())
        .args(["get", "manifest", "awsops", "--namespace", "awsops-system"])
        .output()
        .expect("helm runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let installed = documents(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(find(&installed, "PodDisruptionBudget", "awsops")["apiVersion"], "policy/v1beta1");
    let single = documents(&render("replicas: 1\n"));
    assert!(single.iter().all(|d| d["kind"] != "PodDisruptionBudget"), "one replica: a PDB would block drains");
    // helm template knows the API versions of a current cluster.
    assert_eq!(find(&documents(&render("")), "PodDisruptionBudget", "awsops")["apiVersion"], "policy/v1");
    let old = documents(&render(OLD_PDB));
    assert_eq!(find(&old, "PodDisruptionBudget", "awsops")["apiVersion"], "policy/v1beta1", "named in the values");
}

#[test]
fn the_roles_grant_exactly_the_verbs_the_controller_uses() {
    let docs = documents(&render(""));
    let rules = &find(&docs, "ClusterRole", "awsops")["rules"];
    let expected = serde_json::json!([
        {"apiGroups": ["awsops.dev"], "resources": ["aurorafailovers", "staticsites"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["awsops.dev"], "resources": ["aurorafailovers/status", "staticsites/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]);
    assert_eq!(rules, &expected);
    assert_eq!(find(&docs, "ClusterRole", "awsops-tenancy")["rules"], tenancy_rules());
    let env = find(&docs, "Deployment", "awsops")["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    assert!(
        env.as_array().expect("env").iter().any(|e| e["name"] == "AWSOPS_TENANCY" && e["value"] == "enforce"),
        "the chart enforces TenantPolicies by default"
    );
    let lease = &find(&docs, "Role", "awsops-leader-election")["rules"];
    assert_eq!(
        lease,
        &serde_json::json!([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "patch"]}])
    );
    let sa = find(&docs, "ServiceAccount", "awsops");
    assert_eq!(sa["metadata"]["namespace"], "awsops-system");
    let irsa = documents(&render(
        "serviceAccount:\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/awsops\n",
    ));
    assert_eq!(
        find(&irsa, "ServiceAccount", "awsops")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/awsops"
    );
}

/// Read-only, cluster-wide: what each namespace may ask for.
fn tenancy_rules() -> serde_json::Value {
    serde_json::json!([
        {"apiGroups": ["awsops.dev"], "resources": ["tenantpolicies"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
    ])
}

/// Whether Helm accepts `values` under values.schema.json (any other
/// failure of the chart fails the test).
fn schema_accepts(values: &str) -> bool {
    match template(values) {
        Ok(_) => true,
        Err(e) if e.contains("don't meet the specifications of the schema") => false,
        Err(e) => panic!("helm template failed for another reason: {e}"),
    }
}

#[test]
fn values_schema_accepts_the_defaults_and_refuses_bad_values() {
    assert!(schema_accepts(""), "the chart's own values.yaml");
    assert!(schema_accepts(
        "watchNamespace: web\nserviceAccount:\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::1:role/x\n"
    ));
    assert!(schema_accepts("resourceTags:\n  team: web\n  cost-center: \"4711\"\n"));
    for bad in [
        "replicas: 0\n",
        "logFormat: xml\n",
        // A quote or a comma would break out of the flag's value; a key with `=` would split wrongly.
        "resourceTags:\n  team: \"web\\\"\\n- name: AWS_ENDPOINT_URL\"\n",
        "resourceTags:\n  team: a,b\n",
        "resourceTags:\n  a=b: c\n",
        "unknownKey: 1\n",
        "aws:\n  region: mars\n",
        "podDisruptionBudget:\n  apiVersion: policy/v2\n",
    ] {
        assert!(!schema_accepts(bad), "accepted {bad:?}");
    }
}

#[test]
fn resource_tags_in_the_values_reach_the_controller_sorted_as_one_flag() {
    let env_of = |values: &str| {
        let docs = documents(&render(values));
        find(&docs, "Deployment", "awsops")["spec"]["template"]["spec"]["containers"][0]["env"].clone()
    };
    let tagged = env_of("resourceTags:\n  team: web\n  cost-center: \"4711\"\n");
    let value = tagged
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "AWSOPS_RESOURCE_TAGS")
        .map(|e| e["value"].clone());
    assert_eq!(value, Some(serde_json::json!("cost-center=4711,team=web")));
    let plain = env_of("");
    assert!(plain.as_array().expect("env").iter().all(|e| e["name"] != "AWSOPS_RESOURCE_TAGS"), "none by default");
}

#[test]
fn helm_lint_strict_passes_with_the_defaults_and_every_values_example_in_the_readme() {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("### Install with Helm").expect("the README's Helm section")..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |end| end + 4)];
    let examples: Vec<&str> =
        section.split("```yaml\n").skip(1).map(|block| &block[..block.find("```").expect("the block ends")]).collect();
    assert!(!examples.is_empty(), "the README shows values");
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, values) in std::iter::once(&"").chain(&examples).enumerate() {
        let file = dir.path().join(format!("values-{i}.yaml"));
        std::fs::write(&file, values).expect("values");
        let out = Command::new(helm()).args(["lint", "--strict", CHART, "-f"]).arg(&file).output().expect("helm runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "helm lint --strict with {values:?}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("0 chart(s) failed"), "{text}");
    }
}

#[test]
fn the_crds_are_kept_on_helm_uninstall_and_an_image_digest_pins_the_image() {
    let docs = documents(&render(""));
    let crds: Vec<_> = docs.iter().filter(|d| d["kind"] == "CustomResourceDefinition").collect();
    assert_eq!(crds.len(), 3, "AuroraFailover, StaticSite, TenantPolicy");
    for crd in &crds {
        assert_eq!(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep", "{}", crd["metadata"]["name"]);
    }
    // Helm's YAML round trip writes 86400.0 as 86400: numbers compare as numbers.
    let generated: Vec<serde_json::Value> = documents(&awsops::api::crds_yaml()).into_iter().map(numbers).collect();
    for crd in &crds {
        let mut plain = numbers((*crd).clone());
        plain["metadata"].as_object_mut().expect("metadata").remove("annotations");
        assert!(generated.contains(&plain), "the chart's {} is the generated one", crd["metadata"]["name"]);
    }
    let image = |values: &str| {
        let docs = documents(&render(values));
        find(&docs, "Deployment", "awsops")["spec"]["template"]["spec"]["containers"][0]["image"].clone()
    };
    let digest = format!("sha256:{}", "a".repeat(64));
    assert_eq!(image(&format!("image:\n  digest: {digest}\n")), format!("ghcr.io/awsops/awsops@{digest}"));
    assert_eq!(image("image:\n  tag: v9\n"), "ghcr.io/awsops/awsops:v9");
    assert!(!schema_accepts("image:\n  digest: latest\n"));
}

/// `v` with every number as a float.
fn numbers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => n.as_f64().map_or(Value::Number(n), |f| serde_json::json!(f)),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers(v))).collect()),
        other => other,
    }
}

const ALERTS: &str = "charts/awsops/files/alerts.yaml";

#[test]
fn the_alerts_pass_promtool_and_its_unit_tests_and_the_prometheus_rule_carries_them_unchanged() {
    let checked = support::promtool(&["check", "rules", ALERTS]);
    let rules =
        std::fs::read_to_string(format!("{CHART}/files/alerts.yaml")).expect("alerts").matches("- alert:").count();
    assert!(checked.contains(&format!("{rules} rules found")), "{checked}");
    let tested = support::promtool(&["test", "rules", "tests/alerts/alerts_test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    let file: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(format!("{CHART}/files/alerts.yaml")).expect("alerts"))
            .expect("YAML");
    assert!(documents(&render("")).iter().all(|d| d["kind"] != "PrometheusRule"), "off by default");
    let docs = documents(&render("metrics:\n  prometheusRule:\n    enabled: true\n    labels: {release: kps}\n"));
    let rule = find(&docs, "PrometheusRule", "awsops");
    assert_eq!(rule["spec"], file, "the PrometheusRule holds exactly the rules promtool checked");
    assert_eq!(rule["metadata"]["labels"]["release"], "kps", "labels for the operator's ruleSelector");
}

#[test]
fn every_metric_an_alert_reads_is_one_the_controller_exports() {
    // A family is exported once it has a sample.
    let metrics = awsops::metrics::Metrics::default();
    metrics.reconcile_error("StaticSite", "aws_throttled");
    metrics.count_objects_from(Box::new(|| vec![("StaticSite", "Stalled")]));
    let exported = metrics.encode();
    let families: Vec<&str> = exported.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    let alerts = std::fs::read_to_string(format!("{CHART}/files/alerts.yaml")).expect("alerts");
    let mut read = 0;
    for word in alerts.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("awsops_")) {
        let family = word.strip_suffix("_total").unwrap_or(word);
        assert!(families.contains(&family), "{word} is not exported (families: {families:?})");
        read += 1;
    }
    assert!(read >= 4, "the alerts read the controller's metrics");
}

#[test]
fn a_network_policy_when_enabled_lets_in_only_the_metrics_port_and_out_only_the_listed_rules() {
    support::require_env();
    assert!(documents(&render("")).iter().all(|d| d["kind"] != "NetworkPolicy"), "off by default");
    let values =
        "networkPolicy:\n  enabled: true\n  metricsFrom:\n    - namespaceSelector: {matchLabels: {team: monitoring}}\n";
    let rendered = render(&format!("{OLD_PDB}{values}"));
    let docs = documents(&rendered);
    let policy = &find(&docs, "NetworkPolicy", "awsops")["spec"];
    assert_eq!(policy["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    assert_eq!(policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "awsops");
    assert_eq!(
        policy["ingress"],
        serde_json::json!([{"ports": [{"port": "metrics", "protocol": "TCP"}],
                            "from": [{"namespaceSelector": {"matchLabels": {"team": "monitoring"}}}]}])
    );
    let ports: Vec<(i64, String)> = policy["egress"]
        .as_array()
        .expect("egress")
        .iter()
        .flat_map(|rule| rule["ports"].as_array().cloned().unwrap_or_default())
        .map(|p| (p["port"].as_i64().expect("port"), p["protocol"].as_str().expect("protocol").to_string()))
        .collect();
    for wanted in [(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP"), (80, "TCP")] {
        assert!(ports.contains(&(wanted.0, wanted.1.to_string())), "{wanted:?} out: {ports:?}");
    }
    assert!(!ports.contains(&(3306, "TCP".to_string())), "nothing opens MySQL yet: {ports:?}");
    let port_80 = policy["egress"].as_array().expect("egress").iter().find(|r| r["ports"][0]["port"] == 80).cloned();
    assert_eq!(
        port_80.expect("port 80")["to"][0]["ipBlock"]["cidr"],
        "169.254.170.23/32",
        "only the Pod Identity agent"
    );
    server_dry_run(&rendered);
    // An older release's values (helm upgrade --reuse-values) have no egress rules: refused, not a pod cut off.
    let refused = template("networkPolicy:\n  enabled: true\n  egress: null\n").expect_err("no egress rules");
    assert!(
        refused.contains("networkPolicy.egress is empty") && refused.contains("--reset-then-reuse-values"),
        "{refused}"
    );
}
