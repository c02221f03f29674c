//! The Helm chart, rendered by scripts/render-chart.sh (Go text/template with
//! sprig; there is no Helm binary here) and checked two ways: server-side
//! dry-run on the real API server, and the security settings it promises.
//! (Every other integration test runs the controller as the chart's
//! ServiceAccount with exactly the chart's roles.)

mod support;

use std::process::Command;

fn render(values: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).expect("values");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/render-chart.sh");
    let out = Command::new(script)
        .args(["-name", "awsops", "-namespace", "awsops-system", "-f"])
        .arg(&file)
        .output()
        .expect("renderer runs");
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
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
    assert_eq!(find(&docs, "Deployment", "awsops")["spec"]["replicas"], 2);
    assert!(docs.iter().any(|d| d["kind"] == "PodDisruptionBudget"));
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

/// Validates `values` (YAML) against values.schema.json with Python's
/// jsonschema from the moto virtualenv (Helm would do the same on install).
fn schema_accepts(values: &str) -> bool {
    let moto = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-moto.sh"))
        .output()
        .expect("install-moto runs");
    let python = std::path::Path::new(String::from_utf8_lossy(&moto.stdout).trim()).with_file_name("python");
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/awsops");
    let program = r#"
import json, sys, yaml, jsonschema
chart = sys.argv[1]
values = yaml.safe_load(open(chart + "/values.yaml"))
def merge(a, b):
    for k, v in b.items():
        a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a
values = merge(values, yaml.safe_load(sys.stdin.read()) or {})
try:
    jsonschema.validate(values, json.load(open(chart + "/values.schema.json")))
except jsonschema.ValidationError:
    sys.exit(3)
"#;
    let mut child = Command::new(python)
        .args(["-c", program, chart])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(values.as_bytes()).expect("values written");
    let status = child.wait().expect("python exits");
    assert!(matches!(status.code(), Some(0) | Some(3)), "validator crashed: {status}");
    status.code() == Some(0)
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
