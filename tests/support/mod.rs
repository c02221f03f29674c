//! Test support for the integration tests: the environment `make test`
//! starts (kube-apiserver + etcd + moto, see scripts/testenv.sh), unique
//! namespaces, CRD installation, and controller processes that are killed
//! when the test ends, pass or fail.
#![allow(dead_code)]

pub mod aurora;
pub mod dns;
pub mod files;
pub mod handmade;
pub mod listing;
pub mod node;
pub mod proxy;
pub mod secrets;
pub mod simulated;
pub mod sweep;
pub mod watch_delay;

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};

/// SDK clients for the emulator (`AWS_ENDPOINT_URL`), to arrange and inspect
/// what it holds; for AWS itself in the real-account suite, where that
/// variable is unset. ACM in us-east-1, where CloudFront's certificates live.
pub struct Emulator {
    pub rds: aws_sdk_rds::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub acm: aws_sdk_acm::Client,
    pub route53: aws_sdk_route53::Client,
}

impl Emulator {
    pub async fn new() -> Self {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build();
        let acm = aws_sdk_acm::config::Builder::from(&conf).region(aws_config::Region::new("us-east-1")).build();
        Self {
            rds: aws_sdk_rds::Client::new(&conf),
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudfront: aws_sdk_cloudfront::Client::new(&conf),
            acm: aws_sdk_acm::Client::from_conf(acm),
            route53: aws_sdk_route53::Client::new(&conf),
        }
    }
}

/// Fails with a clear message when the test environment is not running.
pub fn require_env() {
    for var in ["KUBECONFIG", "AWS_ENDPOINT_URL"] {
        assert!(
            std::env::var(var).is_ok(),
            "{var} is not set: integration tests run inside `make test`, which starts the API server and the AWS emulator"
        );
    }
}

pub async fn client() -> Client {
    require_env();
    kube_client().await
}

/// A client of the test API server, whatever AWS the test talks to (the
/// real-account suite has no emulator endpoint).
pub async fn kube_client() -> Client {
    assert!(std::env::var("KUBECONFIG").is_ok(), "KUBECONFIG is not set: run through make test or make e2e-aws");
    Client::try_default().await.expect("a kube client from KUBECONFIG")
}

/// Applies the CRDs (idempotent) and waits until they are Established.
pub async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in awsops::api::crds() {
        let name = crd.metadata.name.clone().expect("CRDs are named");
        // Created, not server-side applied: a 1.20 server's apply refuses the
        // CEL rules it does not know, while create drops them.
        match crds.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("CRD {name} could not be created: {e}"),
        }
        eventually(Duration::from_secs(30), || async {
            let got = crds.get(&name).await.ok()?;
            let conds = got.status?.conditions?;
            conds.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("CRD {name} was not Established within 30 s"));
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos % 0xffff)
}

/// Creates a fresh namespace (namespaces never finish deleting on a server
/// without controller-manager, so each test gets its own), with a
/// TenantPolicy of its own that allows everything the suite asks for: the
/// controllers run with `--tenancy enforce`, the binary's default.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = bare_namespace(client, prefix, &[]).await;
    tenant_policy(client, &name, open_policy(&name)).await;
    name
}

/// A fresh namespace with these labels and no TenantPolicy of its own.
pub async fn bare_namespace(client: &Client, prefix: &str, labels: &[(&str, &str)]) -> String {
    let name = unique(prefix);
    let mut all: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
    all.insert(NAMESPACE_LABEL.into(), serde_json::json!(name));
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": all}})).expect("namespace");
    api.create(&PostParams::default(), &ns).await.expect("namespace created");
    name
}

/// The label each test namespace carries with its own name (a 1.20 API
/// server sets no `kubernetes.io/metadata.name`).
pub const NAMESPACE_LABEL: &str = "awsops.test/namespace";

/// A TenantPolicy spec for namespace `ns` that allows every role of the
/// emulator's account, every zone, name, bucket and certificate, adoption and every cluster.
pub fn open_policy(ns: &str) -> serde_json::Value {
    serde_json::json!({
        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: ns}},
        "identity": {"allowDefault": true, "roleArns": ["arn:aws:iam::123456789012:role/*"]},
        "staticSites": {"hostedZones": ["*"], "domains": ["*"], "bucketNames": ["*"], "allowAdopt": true, "certificateArns": ["*"], "sources": ["*"]},
        "auroraFailovers": {"clusters": ["*"]}
    })
}

/// Creates or replaces the cluster-scoped TenantPolicy `name`.
pub async fn tenant_policy(client: &Client, name: &str, spec: serde_json::Value) {
    let api: Api<awsops::api::TenantPolicy> = Api::all(client.clone());
    let policy = serde_json::json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "TenantPolicy", "metadata": {"name": name}, "spec": spec
    });
    let params = kube::api::PatchParams::apply("awsops-test").force();
    api.patch(name, &params, &kube::api::Patch::Apply(policy)).await.expect("TenantPolicy applied");
}

/// Waits up to 90 s until site `name`'s status satisfies `done`; panics with
/// the last status and `log()` (the controller's log) otherwise.
pub async fn site_until(
    sites: &Api<awsops::api::StaticSite>,
    name: &str,
    log: impl Fn() -> String,
    done: impl Fn(&awsops::api::StaticSiteStatus) -> bool,
) -> awsops::api::StaticSiteStatus {
    let got = eventually(Duration::from_secs(90), || async { sites.get(name).await.ok()?.status.filter(|s| done(s)) });
    match got.await {
        Some(status) => status,
        None => {
            let last = sites.get(name).await.ok().and_then(|s| s.status);
            panic!("site {name}: {last:#?}\nlog:\n{}", log())
        }
    }
}

/// Deletes site `name` and waits up to 120 s until its finalizer let it go.
pub async fn delete_site(sites: &Api<awsops::api::StaticSite>, name: &str, log: impl Fn() -> String) {
    sites.delete(name, &kube::api::DeleteParams::default()).await.expect("delete");
    let removed =
        eventually(Duration::from_secs(120), || async { sites.get_opt(name).await.ok()?.is_none().then_some(()) });
    assert!(removed.await.is_some(), "{name} still has its finalizer:\n{}", log());
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running `awsops controller` process; killed (by PID) when dropped.
pub struct ControllerProcess {
    child: Child,
    pub metrics_port: u16,
    pub identity: String,
}

impl ControllerProcess {
    /// Starts a controller that watches `namespace`, electing a leader on
    /// Lease `lease` in that namespace.
    pub fn start(namespace: &str, lease: &str, identity: &str, extra: &[&str]) -> Self {
        Self::start_with_env(namespace, lease, identity, extra, &[])
    }

    /// As [`ControllerProcess::start`], with extra environment variables.
    pub fn start_with_env(namespace: &str, lease: &str, identity: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let metrics_port = free_port();
        let log = std::fs::File::create(std::env::temp_dir().join(format!("{identity}.log"))).expect("log file");
        // As the Helm chart's ServiceAccount, bound to exactly the chart's
        // roles: a permission the chart lacks fails the test. The Lease lives
        // in the chart's namespace, named after the test's namespace.
        let kubeconfig = std::env::var("AWSOPS_TEST_CONTROLLER_KUBECONFIG").expect("set by make test");
        let lease_namespace = std::env::var("AWSOPS_TEST_CHART_NAMESPACE").expect("set by make test");
        let lease = format!("{namespace}-{lease}");
        let child = Command::new(env!("CARGO_BIN_EXE_awsops"))
            .arg("controller")
            .env("KUBECONFIG", kubeconfig)
            .args(["--namespace", namespace, "--lease-name", &lease, "--lease-namespace", &lease_namespace])
            .args(["--identity", identity, "--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(extra)
            .env("RUST_LOG", "info,awsops=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the awsops binary starts");
        Self { child, metrics_port, identity: identity.to_string() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit by itself (a failpoint).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// The controller's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(std::env::temp_dir().join(format!("{}.log", self.identity))).unwrap_or_default()
    }

    /// The text of `/metrics`, or `None` while the server is not up.
    pub async fn metrics(&self) -> Option<String> {
        self.get("metrics").await.map(|(_, body)| body)
    }

    /// `GET /<path>` of this controller's endpoints: status and body, or
    /// `None` while the server is not up.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let resp = reqwest::get(format!("http://127.0.0.1:{}/{path}", self.metrics_port)).await.ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().await.ok()?))
    }

    /// The value of one sample in `/metrics` (0 when absent).
    pub async fn sample(&self, prefix: &str) -> f64 {
        let text = self.metrics().await.unwrap_or_default();
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }

    /// SIGTERM, then wait for the process to exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        self.record_aws_operations();
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        if let Some(status) = self.wait_exit(Duration::from_secs(15)).await {
            return status;
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }

    /// SIGKILL: a crash, with no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ControllerProcess {
    /// Appends the AWS operations this controller made (from its
    /// `awsops_aws_calls_total` metric) to `$AWSOPS_TEST_ENV/aws-operations.txt`,
    /// which the IAM policy check reads after the suite.
    fn record_aws_operations(&self) {
        use std::io::{Read, Write};
        let Ok(dir) = std::env::var("AWSOPS_TEST_ENV") else { return };
        let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)) else { return };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut text = String::new();
        let _ = conn.read_to_string(&mut text);
        let ops: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("awsops_aws_calls_total{service=\""))
            .filter_map(|l| {
                let (service, rest) = l.split_once("\",operation=\"")?;
                let (operation, _) = rest.split_once('"')?;
                Some(format!("{service}\t{operation}\n"))
            })
            .collect();
        if let Ok(mut f) =
            std::fs::OpenOptions::new().create(true).append(true).open(format!("{dir}/aws-operations.txt"))
        {
            let _ = f.write_all(ops.as_bytes());
        }
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.record_aws_operations();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test's stage: a kube client with the CRDs installed, a fresh
/// namespace, and a counting proxy in front of the AWS emulator.
pub struct Stage {
    pub client: Client,
    pub ns: String,
    pub proxy: proxy::CountingProxy,
}

impl Stage {
    pub async fn new(prefix: &str) -> Self {
        Self::with(prefix, None).await
    }

    /// A stage whose proxy injects `faults` into every AWS call.
    pub async fn with_faults(prefix: &str, faults: proxy::Faults) -> Self {
        Self::with(prefix, Some(faults)).await
    }

    /// A stage whose namespace carries `labels` and has no TenantPolicy of its own.
    pub async fn without_policy(prefix: &str, labels: &[(&str, &str)]) -> Self {
        let client = client().await;
        install_crds(&client).await;
        let ns = bare_namespace(&client, prefix, labels).await;
        Self::around(client, ns, None).await
    }

    async fn with(prefix: &str, faults: Option<proxy::Faults>) -> Self {
        let client = client().await;
        install_crds(&client).await;
        let ns = namespace(&client, prefix).await;
        Self::around(client, ns, faults).await
    }

    async fn around(client: Client, ns: String, faults: Option<proxy::Faults>) -> Self {
        let upstream = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL is set by make test");
        let proxy = match faults {
            Some(f) => proxy::CountingProxy::with_faults(&upstream, f).await,
            None => proxy::CountingProxy::start(&upstream).await,
        };
        Self { client, ns, proxy }
    }

    /// A controller for this namespace whose AWS calls go through the proxy.
    pub fn controller(&self, args: &[&str], env: &[(&str, &str)]) -> ControllerProcess {
        let url = self.proxy.url();
        let mut all = vec![("AWS_ENDPOINT_URL", url.as_str())];
        all.extend_from_slice(env);
        ControllerProcess::start_with_env(&self.ns, "awsops", &unique("ctl"), args, &all)
    }
}

/// The Helm binary `make test` installed (scripts/install-helm.sh; installed
/// now when a test runs outside `make test`).
pub fn helm() -> String {
    if let Ok(path) = std::env::var("AWSOPS_TEST_HELM") {
        return path;
    }
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-helm.sh")).output().expect("runs");
    assert!(out.status.success(), "install-helm: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Debian's `promtool` (package `prometheus`, installed by scripts/test.sh).
pub fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("promtool runs: make test installs Debian's prometheus package");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// Runs the kubectl that scripts/build-apiserver.sh built, returning stdout.
pub fn kubectl(args: &[&str]) -> String {
    let bin = std::env::var("AWSOPS_TEST_KUBECTL").expect("AWSOPS_TEST_KUBECTL is set by make test");
    let out = Command::new(bin).args(args).output().expect("kubectl runs");
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
