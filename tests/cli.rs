//! `awsops plan`, `apply` and `delete`: the binary run on manifests in a
//! temporary folder, with no API server, against the AWS emulator behind a
//! counting proxy. Assertions are on exit codes, output, the state folder and
//! what the emulator holds.

mod support;

use std::path::PathBuf;

use support::aurora::{seed_cluster, writer};
use support::handmade::{enabled, hand_made_distribution};
use support::proxy::CountingProxy;
use support::{Emulator, unique};

/// Distribution creates as the proxy sees them (REST-XML, no action name).
const CREATE_DISTRIBUTION: &str = "POST /2020-05-31/distribution";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

struct Cli {
    proxy: CountingProxy,
    manifests: tempfile::TempDir,
    state: PathBuf,
    _state_parent: tempfile::TempDir,
}

impl Cli {
    async fn new() -> Self {
        let upstream = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL is set by make test");
        let state_parent = tempfile::tempdir().expect("tempdir");
        Self {
            proxy: CountingProxy::start(&upstream).await,
            manifests: tempfile::tempdir().expect("tempdir"),
            state: state_parent.path().join("state"),
            _state_parent: state_parent,
        }
    }

    fn write(&self, file: &str, yaml: &str) {
        std::fs::write(self.manifests.path().join(file), yaml).expect("manifest written");
    }

    fn remove(&self, file: &str) {
        std::fs::remove_file(self.manifests.path().join(file)).expect("manifest removed");
    }

    /// Runs `awsops VERB -f <manifests> --state-dir <state>` with AWS through the proxy.
    async fn run(&self, verb: &str, env: &[(&str, &str)]) -> Run {
        self.run_without(verb, env, &[]).await
    }

    /// [`Cli::run`] with the variables `unset` removed from the environment.
    async fn run_without(&self, verb: &str, env: &[(&str, &str)], unset: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_awsops"));
        for name in unset {
            command.env_remove(name);
        }
        let out = command
            .args([verb, "-f"])
            .arg(self.manifests.path())
            .arg("--state-dir")
            .arg(&self.state)
            .args(["--timeout-seconds", "120"])
            .env("AWS_ENDPOINT_URL", self.proxy.url())
            .envs(env.iter().copied())
            .output()
            .await
            .expect("awsops runs");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!("$ awsops {verb} (exit {})\n{}{}", run.code, run.stdout, run.stderr);
        run
    }

    /// A field of the stored object, e.g. `status.bucket.name`.
    fn stored(&self, namespace: &str, kind: &str, name: &str, path: &str) -> Option<String> {
        let file = self.state.join(namespace).join(kind).join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(file).ok()?;
        let mut value: serde_json::Value = serde_yaml_ng::from_str(&text).ok()?;
        for part in path.split('.') {
            value = value.get(part)?.clone();
        }
        value.as_str().map(str::to_string).or_else(|| (!value.is_null()).then(|| value.to_string()))
    }

    fn writes(&self) -> usize {
        self.proxy.writes().iter().map(|(_, n)| n).sum()
    }
}

fn site_yaml(namespace: &str, name: &str, index: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}-files, namespace: {namespace}}}
data:
  index.html: "{index}"
  app.js: "console.log('hi')"
---
apiVersion: awsops.dev/v1alpha1
kind: StaticSite
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  region: us-east-1
  bucket: {{deletionPolicy: Delete}}
  content:
    configMaps: [{{name: {name}-files}}]
"#
    )
}

fn failover_yaml(name: &str, cluster: &str, target: Option<&str>) -> String {
    let target = target.map(|t| format!("  targetInstance: {t}\n")).unwrap_or_default();
    format!(
        "apiVersion: awsops.dev/v1alpha1\nkind: AuroraFailover\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  clusterIdentifier: {cluster}\n{target}"
    )
}

async fn rds() -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await)
}

/// A cluster with writer `-w` (tier 1) and readers `-r0` (tier 0), `-r2` (tier 2).
async fn cluster(rds: &aws_sdk_rds::Client) -> String {
    let cluster = unique("cli");
    let (w, r0, r2) = (format!("{cluster}-w"), format!("{cluster}-r0"), format!("{cluster}-r2"));
    let members =
        [(w.as_str(), 1, "db.r6g.large"), (r0.as_str(), 0, "db.r6g.large"), (r2.as_str(), 2, "db.r6g.xlarge")];
    seed_cluster(rds, &cluster, "aurora-mysql", &members).await;
    cluster
}

async fn distributions_for(bucket: &str) -> usize {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let origins = support::listing::distribution_origins(&aws_sdk_cloudfront::Client::new(&conf)).await;
    origins.iter().filter(|o| o.starts_with(&format!("{bucket}."))).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_exit_codes_say_whether_a_site_would_change_and_plan_never_writes_to_aws() {
    support::require_env();
    let cli = Cli::new().await;
    let name = unique("plan");
    cli.write("site.yaml", &site_yaml("web", &name, "v1"));

    let new = cli.run("plan", &[]).await;
    assert_eq!(new.code, 2, "a new site is a change");
    // No OAC expected: the site signs with the shared pool's, which other tests may have made already.
    for expected in ["+ create bucket awsops-web-", "+ create distribution", "upload 2 files"] {
        assert!(new.stdout.contains(expected), "plan of a new site mentions {expected:?}");
    }
    assert_eq!(cli.writes(), 0, "plan makes no AWS writes: {:?}", cli.proxy.writes());
    let planned_bucket =
        new.stdout.split("+ create bucket ").nth(1).and_then(|s| s.split(' ').next()).map(str::to_string);

    let applied = cli.run("apply", &[]).await;
    assert_eq!(applied.code, 0, "apply finishes Ready");
    assert!(applied.stdout.contains("-> Ready"), "apply shows the phase changes");
    let bucket = cli.stored("web", "staticsite", &name, "status.bucket.name");
    assert_eq!(bucket, planned_bucket, "apply creates the bucket plan named");

    let writes_after_apply = cli.writes();
    let in_sync = cli.run("plan", &[]).await;
    assert_eq!((in_sync.code, in_sync.stdout.contains("in sync")), (0, true), "an applied site is in sync");

    cli.write("site.yaml", &site_yaml("web", &name, "v2"));
    let changed = cli.run("plan", &[]).await;
    assert_eq!(changed.code, 2, "a changed file is a change");
    assert!(changed.stdout.contains("upload 1 files") && changed.stdout.contains("upload index.html"));
    assert!(!changed.stdout.contains("app.js ("), "an unchanged file is not uploaded");
    assert_eq!(cli.writes(), writes_after_apply, "plan makes no AWS writes");

    let deleted = cli.run("delete", &[]).await;
    assert_eq!(deleted.code, 0);
    let bucket = bucket.expect("bucket recorded");
    assert_eq!(distributions_for(&bucket).await, 0, "delete removes the distribution");
    assert!(!cli.state.join("web/staticsite").join(format!("{name}.yaml")).exists(), "delete forgets the site");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_names_the_reader_a_failover_would_promote_and_why() {
    support::require_env();
    let rds = rds().await;
    let cluster = cluster(&rds).await;
    let cli = Cli::new().await;

    cli.write("failover.yaml", &failover_yaml("by-tier", &cluster, None));
    let by_tier = cli.run("plan", &[]).await;
    assert_eq!(by_tier.code, 2);
    assert!(by_tier.stdout.contains(&format!("writer {cluster}-w")), "plan names the current writer");
    assert!(by_tier.stdout.contains(&format!("+ fail over: promote {cluster}-r0 (lowest promotion tier (tier-0))")));
    let verify = format!("then verify: the cluster endpoint resolves to {cluster}-r0 (within 300 s of the swap)");
    assert!(by_tier.stdout.contains(&verify), "plan says what it will check: {}", by_tier.stdout);
    let first = by_tier.stdout.find(&format!("1. {cluster}-r0 tier-0"));
    let second = by_tier.stdout.find(&format!("2. {cluster}-r2 tier-2"));
    assert!(first.is_some() && second.is_some(), "every candidate is ranked");

    cli.write("failover.yaml", &failover_yaml("by-target", &cluster, Some(&format!("{cluster}-r2"))));
    let targeted = cli.run("plan", &[]).await;
    assert_eq!(targeted.code, 2);
    assert!(targeted.stdout.contains(&format!("+ fail over: promote {cluster}-r2")));

    cli.write("failover.yaml", &failover_yaml("bad-target", &cluster, Some(&format!("{cluster}-nope"))));
    let refused = cli.run("plan", &[]).await;
    assert_eq!(refused.code, 1, "a failed precondition fails the plan");
    assert!(refused.stdout.contains("TargetNotInCluster"), "plan names the failed precondition");

    assert_eq!(cli.proxy.count("FailoverDBCluster"), 0, "plan never fails over");
    assert_eq!(writer(&rds, &cluster).await, format!("{cluster}-w"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_after_the_failover_call_resumes_without_a_second_call() {
    support::require_env();
    let rds = rds().await;
    let cluster = cluster(&rds).await;
    let cli = Cli::new().await;
    cli.write("failover.yaml", &failover_yaml("resume", &cluster, None));

    for point in ["aurora-after-intent", "aurora-after-call"] {
        if point == "aurora-after-call" {
            // A second object on the same cluster after the first finished.
            cli.remove("failover.yaml");
            cli.write("failover-2.yaml", &failover_yaml("resume-2", &cluster, None));
        }
        let killed = cli.run("apply", &[("AWSOPS_FAILPOINT", point)]).await;
        assert!(killed.stderr.contains(&format!("failpoint {point}")), "{point}: the process died at the failpoint");
        let resumed = cli.run("apply", &[]).await;
        assert_eq!(resumed.code, 0, "{point}: the re-run finishes the failover");
        assert!(resumed.stdout.contains("phase: Succeeded"));
    }
    assert_eq!(cli.proxy.count("FailoverDBCluster"), 2, "exactly one FailoverDBCluster per failover");
    // r0 (tier 0) was promoted first; the second failover promoted the best reader then (w, tier 1).
    assert_eq!(writer(&rds, &cluster).await, format!("{cluster}-w"));
    let first = cli.stored("ops", "aurorafailover", "resume", "status.newWriter");
    assert_eq!(first, Some(format!("{cluster}-r0")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_on_a_state_folder_another_awsops_holds_is_refused_before_any_aws_call() {
    support::require_env();
    let rds = rds().await;
    let cluster = cluster(&rds).await;
    let cli = Cli::new().await;
    cli.write("failover.yaml", &failover_yaml("busy", &cluster, None));
    // Another awsops is running on this folder: it holds the lock.
    std::fs::create_dir_all(&cli.state).expect("state folder");
    let other = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cli.state.join(".lock"))
        .expect("lock file");
    other.try_lock().expect("held by the test");

    let refused = cli.run("apply", &[]).await;
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("is in use by another awsops"), "the refusal says why");
    assert!(cli.proxy.snapshot().is_empty(), "no AWS call: {:?}", cli.proxy.snapshot());
    assert_eq!(writer(&rds, &cluster).await, format!("{cluster}-w"), "the writer is unmoved");

    drop(other);
    let applied = cli.run("apply", &[]).await;
    assert_eq!(applied.code, 0, "free again once the other run ends");
    assert_eq!(cli.proxy.count("FailoverDBCluster"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_after_creating_the_distribution_resumes_without_a_second_one() {
    support::require_env();
    let cli = Cli::new().await;
    let name = unique("resume");
    cli.write("site.yaml", &site_yaml("web", &name, "v1"));

    let killed = cli.run("apply", &[("AWSOPS_FAILPOINT", "site-after-distribution-create")]).await;
    assert!(killed.stderr.contains("failpoint site-after"), "the process died right after CreateDistribution");
    assert_eq!(cli.stored("web", "staticsite", &name, "status.distribution"), None, "the create was never recorded");
    let resumed = cli.run("apply", &[]).await;
    assert_eq!(resumed.code, 0, "the re-run finishes the site");
    // The re-run's create, with the same CallerReference, is refused as DistributionAlreadyExists.
    assert_eq!(cli.proxy.count(CREATE_DISTRIBUTION), 2, "one create and one refused retry");
    let bucket = cli.stored("web", "staticsite", &name, "status.bucket.name").expect("bucket recorded");
    assert_eq!(distributions_for(&bucket).await, 1, "exactly one distribution serves the bucket");
    assert_eq!(cli.run("delete", &[]).await.code, 0);
}

#[tokio::test]
async fn delete_leaves_a_hand_made_distribution_on_the_bucket_a_stalled_site_named_and_its_files() {
    let cli = Cli::new().await;
    let aws = Emulator::new().await;
    let bucket = unique("logic-example");
    aws.s3.create_bucket().bucket(&bucket).send().await.expect("hand-made bucket");
    aws.s3.put_object().bucket(&bucket).key("index.html").body(b"theirs".to_vec().into()).send().await.expect("file");
    let theirs = hand_made_distribution(&aws.cloudfront, &format!("{bucket}.s3.us-east-1.amazonaws.com")).await;
    let site = format!(
        "apiVersion: awsops.dev/v1alpha1\nkind: StaticSite\nmetadata: {{name: migrating, namespace: web}}\nspec:\n  region: us-east-1\n  bucket: {{name: {bucket}, deletionPolicy: Delete}}\n"
    );
    cli.write("site.yaml", &site);

    let applied = cli.run("apply", &[]).await;
    assert_eq!(applied.code, 1, "the site stalls");
    assert!(applied.stdout.contains("BucketNotOwned"), "{}", applied.stdout);
    let deleted = cli.run("delete", &[]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert!(deleted.stdout.contains("deleted"), "{}", deleted.stdout);
    assert_eq!(enabled(&aws.cloudfront, &theirs).await, Some(true), "the hand-made distribution is untouched");
    assert!(aws.s3.get_object().bucket(&bucket).key("index.html").send().await.is_ok(), "its files stay");
    assert_eq!(cli.writes(), 0, "nothing was changed in AWS: {:?}", cli.proxy.writes());
}

/// What a first run on a laptop has: no region, no credentials, no profile.
const AWS_SETTINGS: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// `plan` of a failover without `spec.region` and a site with one.
fn first_contact(cli: &Cli) -> (String, String) {
    let (failover, site) = (unique("first"), unique("first"));
    cli.write("failover.yaml", &failover_yaml(&failover, "orders", None));
    cli.write("site.yaml", &site_yaml("web", &site, "v1"));
    (format!("AuroraFailover ops/{failover}"), format!("StaticSite web/{site}"))
}

/// The lines `plan` printed under one object.
fn report_of<'a>(stdout: &'a str, key: &str) -> Vec<&'a str> {
    stdout.lines().skip_while(|l| *l != key).skip(1).take_while(|l| l.starts_with("  ")).collect()
}

fn assert_no_sdk_dump(run: &Run) {
    for dump in ["WARN", "IMDS", "FailedToLoadToken", "dispatch failure", "Response {"] {
        assert!(!run.stderr.contains(dump) && !run.stdout.contains(dump), "{dump:?} shown without --verbose");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_without_region_or_credentials_says_what_to_set_for_each_object_and_calls_no_aws() {
    support::require_env();
    let cli = Cli::new().await;
    let (failover, site) = first_contact(&cli);
    let home = tempfile::tempdir().expect("tempdir");
    let nowhere = home.path().join("absent");
    let nowhere = nowhere.to_str().expect("utf-8 path");
    let env = [
        ("HOME", home.path().to_str().expect("utf-8 path")),
        ("AWS_CONFIG_FILE", nowhere),
        ("AWS_SHARED_CREDENTIALS_FILE", nowhere),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];

    let run = cli.run_without("plan", &env, AWS_SETTINGS).await;
    assert_eq!(run.code, 1, "plan of objects it cannot look at fails");
    let failover_report = report_of(&run.stdout, &failover);
    assert_eq!(failover_report.len(), 1, "one line for the failover: {failover_report:?}");
    assert!(failover_report[0].contains("no AWS region: set spec.region, or AWS_REGION"), "{failover_report:?}");
    let site_report = report_of(&run.stdout, &site);
    assert_eq!(site_report.len(), 1, "plan goes on to the site, one line: {site_report:?}");
    for part in
        ["error: HeadBucket: no AWS credentials", "the profile (AWS_PROFILE", "set AWS_PROFILE, or AWS_ACCESS_KEY_ID"]
    {
        assert!(site_report[0].contains(part), "{part:?} in {site_report:?}");
    }
    assert_no_sdk_dump(&run);
    assert!(cli.proxy.snapshot().is_empty(), "nothing reached AWS: {:?}", cli.proxy.snapshot());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_against_an_endpoint_that_does_not_answer_names_it_for_each_object() {
    support::require_env();
    let cli = Cli::new().await;
    let (failover, site) = first_contact(&cli);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let endpoint = format!("http://{closed}");

    let run = cli.run("plan", &[("AWS_ENDPOINT_URL", &endpoint), ("AWS_REGION", "us-east-1")]).await;
    assert_eq!(run.code, 1, "plan that reached nothing fails");
    let expected = format!("cannot reach the AWS endpoint {endpoint} (AWS_ENDPOINT_URL): Connection refused");
    for key in [&failover, &site] {
        let report = report_of(&run.stdout, key);
        assert_eq!(report.len(), 1, "one line for {key}: {report:?}");
        assert!(report[0].contains(&expected), "{expected:?} in {report:?}");
    }
    assert_no_sdk_dump(&run);
}
