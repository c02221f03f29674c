//! The chart's life with the real Helm binary on the test API server: pushed
//! as an OCI artifact to a registry on loopback (Debian's docker-registry),
//! a release of an older chart upgraded from `oci://` keeping its values,
//! uninstalled (the CRDs and every object stay), and installed again from
//! `oci://` as the README shows. Ignored in
//! the main run (it uninstalls the release whose ServiceAccount every other
//! test's controller runs as); `make test` runs it alone afterwards.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use awsops::api::StaticSite;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/awsops");
/// What 1.20 needs of Helm 4 (see `install_chart` in scripts/testenv.sh).
const OLD_SERVER: &[&str] = &["--disable-openapi-validation", "--server-side=false"];

/// `docker-registry serve` on a loopback port with its storage in a
/// temporary folder; stopped by PID when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = support::free_port();
        let config = dir.path().join("config.yml");
        let storage = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n",
                storage.display()
            ),
        )
        .expect("registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry runs: make test installs Debian's docker-registry package");
        let registry = Self { child, port, _dir: dir };
        let up = support::eventually(Duration::from_secs(30), || async {
            let resp = reqwest::get(format!("http://127.0.0.1:{port}/v2/")).await.ok()?;
            resp.status().is_success().then_some(())
        })
        .await;
        assert!(up.is_some(), "the registry answers /v2/");
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs Helm with its own config and cache (no registry login of the user's
/// is used or written); panics with Helm's output when it fails.
fn helm(home: &Path, args: &[&str]) -> String {
    let out = Command::new(support::helm())
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "helm {args:?} failed:\n{text}");
    text
}

/// Values the chart gained after releases were installed: a release
/// upgraded with `--reuse-values` keeps its old chart's values, which lack
/// them, so every template reading one must render without it.
const NEWER_VALUES: &[&[&str]] = &[&["networkPolicy"], &["metrics", "prometheusRule"]];

/// A copy of the chart as it was before [`NEWER_VALUES`] existed.
fn older_chart(home: &Path) -> std::path::PathBuf {
    let copy = home.join("older").join("awsops");
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("folder");
    let status = Command::new("cp").arg("-r").arg(CHART).arg(&copy).status().expect("cp runs");
    assert!(status.success(), "chart copied");
    let file = copy.join("values.yaml");
    let mut values: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&file).expect("values")).expect("YAML");
    for path in NEWER_VALUES {
        let (last, parents) = path.split_last().expect("a path");
        let parent = parents.iter().fold(&mut values, |v, key| &mut v[*key]);
        parent.as_object_mut().expect("a map").remove(*last).expect("the value exists today");
    }
    std::fs::write(&file, serde_yaml_ng::to_string(&values).expect("YAML")).expect("values written");
    copy
}

/// The release's latest revision number.
fn revision(home: &Path, namespace: &str) -> u32 {
    let history = helm(home, &["history", "awsops", "--namespace", namespace, "--max", "1"]);
    let last = history.lines().last().and_then(|l| l.split_whitespace().next()).expect("a revision");
    last.parse().unwrap_or_else(|_| panic!("a revision number in {history}"))
}

/// Installs the release again from the chart folder if the test stops
/// between the uninstall and its own install: the other tests run as it.
struct Reinstall<'a> {
    home: &'a Path,
    namespace: &'a str,
    armed: bool,
}

impl Drop for Reinstall<'_> {
    fn drop(&mut self) {
        if self.armed {
            let install: [&[&str]; 2] = [&["install", "awsops", CHART, "--namespace", self.namespace], OLD_SERVER];
            let _ = Command::new(support::helm())
                .args(install.concat())
                .env("HELM_CONFIG_HOME", self.home.join("config"))
                .status();
        }
    }
}

fn chart_version() -> String {
    let chart = std::fs::read_to_string(format!("{CHART}/Chart.yaml")).expect("Chart.yaml");
    let line = chart.lines().find_map(|l| l.strip_prefix("version:")).expect("a version");
    line.trim().trim_matches('"').to_string()
}

async fn concurrency(deployments: &Api<Deployment>) -> Option<String> {
    let deployment = deployments.get("awsops").await.ok()?;
    let env = deployment.spec?.template.spec?.containers.first()?.env.clone()?;
    env.into_iter().find(|e| e.name == "AWSOPS_CONCURRENCY")?.value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "uninstalls the shared release: run alone, after the suite (make test does)"]
async fn the_chart_pushed_to_an_oci_registry_upgrades_the_release_and_uninstall_keeps_the_crds_and_objects() {
    support::require_env();
    let client = support::kube_client().await;
    let release_ns = std::env::var("AWSOPS_TEST_CHART_NAMESPACE").expect("set by make test");
    let home = tempfile::tempdir().expect("tempdir");
    let registry = Registry::start().await;
    let version = chart_version();

    helm(home.path(), &["package", CHART, "--destination", &home.path().to_string_lossy()]);
    let package = home.path().join(format!("awsops-{version}.tgz"));
    let target = format!("oci://127.0.0.1:{}/charts", registry.port);
    let pushed = helm(home.path(), &["push", &package.to_string_lossy(), &target, "--plain-http"]);
    assert!(pushed.contains(&format!("Pushed: 127.0.0.1:{}/charts/awsops:{version}", registry.port)), "{pushed}");
    let reference = format!("{target}/awsops");

    // The release as an older chart left it, then upgraded from the registry keeping its values.
    let before = revision(home.path(), &release_ns);
    let older = older_chart(home.path()).to_string_lossy().into_owned();
    let downgrade: [&[&str]; 2] = [&["upgrade", "awsops", &older, "--namespace", &release_ns], OLD_SERVER];
    helm(home.path(), &downgrade.concat());
    let release = ["--namespace", release_ns.as_str(), "--version", version.as_str(), "--plain-http"];
    let upgrade: [&[&str]; 3] =
        [&["upgrade", "awsops", &reference, "--reuse-values", "--set", "concurrency=3"], &release, OLD_SERVER];
    helm(home.path(), &upgrade.concat());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &release_ns);
    assert_eq!(concurrency(&deployments).await.as_deref(), Some("3"), "the upgrade's value reached the Deployment");
    let history = helm(home.path(), &["history", "awsops", "--namespace", &release_ns]);
    let upgraded = format!("{} ", before + 2);
    assert!(history.lines().any(|l| l.starts_with(&upgraded) && l.contains("Upgrade complete")), "{history}");

    // An object the CRDs hold, and no controller (nothing removes its finalizer-free self).
    let ns = support::namespace(&client, "uninstall").await;
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    let site: StaticSite = serde_json::from_value(json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite",
        "metadata": {"name": "kept"}, "spec": {"content": {"configMaps": [{"name": "pages"}]}},
    }))
    .expect("a StaticSite");
    sites.create(&PostParams::default(), &site).await.expect("site created");

    let mut reinstall = Reinstall { home: home.path(), namespace: &release_ns, armed: true };
    let uninstalled = helm(home.path(), &["uninstall", "awsops", "--namespace", &release_ns]);
    assert!(uninstalled.contains("kept due to the resource policy"), "{uninstalled}");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in ["aurorafailovers.awsops.dev", "staticsites.awsops.dev", "tenantpolicies.awsops.dev"] {
        assert!(crds.get_opt(crd).await.expect("read CRD").is_some(), "{crd} was deleted by helm uninstall");
    }
    assert!(sites.get_opt("kept").await.expect("read site").is_some(), "the StaticSite outlived the uninstall");
    assert!(deployments.get_opt("awsops").await.expect("read").is_none(), "the rest of the release is gone");
    let roles: Api<ClusterRole> = Api::all(client.clone());
    assert!(roles.get_opt("awsops").await.expect("read").is_none(), "the ClusterRole is gone");

    // The README's command; the kept CRDs are the release's again.
    let install: [&[&str]; 3] = [&["install", "awsops", &reference], &release, OLD_SERVER];
    helm(home.path(), &install.concat());
    reinstall.armed = false;
    assert!(deployments.get_opt("awsops").await.expect("read").is_some(), "installed from oci://");
    assert!(roles.get_opt("awsops").await.expect("read").is_some(), "the controller's roles are back");
    let manifest = helm(home.path(), &["get", "manifest", "awsops", "--namespace", &release_ns]);
    assert!(manifest.contains("name: staticsites.awsops.dev"), "the kept CRDs were adopted by the new release");
    sites.delete("kept", &DeleteParams::default()).await.expect("site deleted");
}
