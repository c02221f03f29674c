//! Command line: `awsops controller`, `awsops crds` and the cluster-less
//! `plan`, `apply` and `delete`. Every flag can also be set by an environment
//! variable (shown in `--help`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::controller;
use crate::core::tenancy::Mode;

#[derive(Parser, Debug)]
#[command(
    name = "awsops",
    version,
    about = "Aurora MySQL failovers and CloudFront static sites, as Kubernetes resources"
)]
pub struct Cli {
    /// Log format: text or json.
    #[arg(long, env = "AWSOPS_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The SDK's warnings are for the controller's logs and `--verbose`:
    /// `plan`, `apply` and `delete` say what is missing in one line instead.
    pub fn sdk_warnings(&self) -> bool {
        match &self.command {
            Command::Plan(args) | Command::Apply(args) | Command::Delete(args) => args.verbose,
            Command::Controller(_) | Command::Crds => true,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run both controllers (AuroraFailover and StaticSite) against the cluster.
    Controller(ControllerArgs),
    /// Print both CustomResourceDefinitions as YAML (what `crds/` holds).
    Crds,
    /// Show what `apply` would change in AWS, changing nothing. Exit 0: nothing
    /// would change; 2: something would; 1: an error or a failed precondition.
    Plan(LocalArgs),
    /// Run the reconcilers on the manifests until every object is
    /// Ready/Succeeded, Failed or Stalled, keeping status in the state folder
    /// (a re-run resumes where the last one stopped).
    Apply(LocalArgs),
    /// Remove what each StaticSite created in AWS and forget the objects.
    Delete(LocalArgs),
}

#[derive(clap::Args, Debug)]
pub struct LocalArgs {
    /// Manifest files or folders (AuroraFailover, StaticSite and ConfigMap documents).
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Where status is kept between runs (the API server's part, locally).
    #[arg(long, env = "AWSOPS_STATE_DIR", default_value = ".awsops-state")]
    pub state_dir: PathBuf,
    /// Give up after this many seconds (the state folder keeps the progress).
    #[arg(long, env = "AWSOPS_TIMEOUT_SECONDS", default_value_t = 3600)]
    pub timeout_seconds: u64,
    /// Also show the AWS SDK's warnings (each credential and region source it
    /// tried); without them a missing region or credential is one line.
    #[arg(short, long, env = "AWSOPS_VERBOSE")]
    pub verbose: bool,
    #[command(flatten)]
    pub dataplane: DataplaneArgs,
}

/// How the controller reaches what is outside the AWS APIs (controller, plan,
/// apply): a cluster for `spec.verify`, a StaticSite's content source.
#[derive(clap::Args, Debug)]
pub struct DataplaneArgs {
    /// DNS server for cluster endpoints (`spec.verify.endpoint`, the write
    /// probe): `IP` or `IP:PORT`; default: the system's resolver.
    #[arg(long, env = "AWSOPS_DNS_SERVER", value_parser = crate::dataplane::dns::parse_server)]
    pub dns_server: Option<SocketAddr>,
    /// PEM CA bundle for the write probe (`spec.verify.writeProbe`): with it
    /// the probe always uses TLS, verifying the cluster endpoint's name
    /// against these CAs (for RDS: its global bundle); without it, no TLS.
    #[arg(long, env = "AWSOPS_MYSQL_CA_FILE")]
    pub mysql_ca_file: Option<PathBuf>,
    /// Folder for content being fetched and unpacked (`spec.content.archive`
    /// and `oci`), one site at a time; default: the system's temporary
    /// folder. The chart mounts a sized emptyDir here; the controller clears
    /// what a stopped one left in it.
    #[arg(long, env = "AWSOPS_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// PEM CA bundle trusted for content sources besides the public roots
    /// (a private CI server); certificates are always verified.
    #[arg(long, env = "AWSOPS_SOURCE_CA_FILE")]
    pub source_ca_file: Option<PathBuf>,
}

impl From<DataplaneArgs> for crate::dataplane::Settings {
    fn from(args: DataplaneArgs) -> Self {
        Self {
            dns_server: args.dns_server,
            mysql_ca_file: args.mysql_ca_file,
            work_dir: args.work_dir,
            source_ca_file: args.source_ca_file,
        }
    }
}

impl LocalArgs {
    fn options(self) -> crate::local::Options {
        crate::local::Options {
            files: self.files,
            state_dir: self.state_dir,
            timeout: Duration::from_secs(self.timeout_seconds),
            dataplane: self.dataplane.into(),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ControllerArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "AWSOPS_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Reconcile only objects matching this label selector, to shard a large
    /// fleet across controller instances (e.g. `shard=a`).
    #[arg(long, env = "AWSOPS_LABEL_SELECTOR")]
    pub label_selector: Option<String>,
    /// Look at every object at least this often (seconds), to repair drift.
    #[arg(long, env = "AWSOPS_RESYNC_SECONDS", default_value_t = 600)]
    pub resync_seconds: u64,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "AWSOPS_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Objects of one kind reconciled at the same time.
    #[arg(long, env = "AWSOPS_CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,
    /// Elect a leader through a Lease so only one replica acts.
    #[arg(long, env = "AWSOPS_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the Lease used for leader election.
    #[arg(long, env = "AWSOPS_LEASE_NAME", default_value = "awsops-controller")]
    pub lease_name: String,
    /// Namespace of the Lease (the pod's namespace in a cluster).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity for the Lease and events (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// TenantPolicies: `enforce` stalls an object asking for what no policy
    /// allows (NotPermitted); `audit` only reports it (Permitted=False, an
    /// event); `off` allows everything (one team per controller).
    #[arg(long, env = "AWSOPS_TENANCY", value_enum, default_value_t = Tenancy::Enforce)]
    pub tenancy: Tenancy,
    /// Tags put on every bucket, distribution and certificate a StaticSite
    /// creates, beside `awsops.dev/owner` and `awsops.dev/uid` (cost
    /// allocation, a test run's mark): `key=value,key=value`, at most 10.
    #[arg(long, env = "AWSOPS_RESOURCE_TAGS", value_delimiter = ',', value_parser = resource_tag)]
    pub resource_tags: Vec<(String, String)>,
    #[command(flatten)]
    pub dataplane: DataplaneArgs,
}

/// At most 10, leaving room under AWS's 50 per resource for an adopted
/// bucket's own tags.
const MAX_RESOURCE_TAGS: usize = 10;

/// The one `awsops.dev/` key a resource tag may use: the mark of a run of
/// the real-account suite (`make e2e-aws`).
const E2E_TAG: &str = "awsops.dev/e2e";

/// One `key=value` of `--resource-tags`, within what S3, CloudFront and ACM
/// all accept. Keys AWS reserves (`aws:`) are refused, and so is awsops'
/// own prefix: `awsops.dev/owner`, `uid` and `released` prove ownership.
fn resource_tag(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("{text:?} is not key=value"))?;
    let allowed = |s: &str| s.chars().all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c));
    if key.is_empty() || key.len() > 128 || !allowed(key) {
        return Err(format!("tag key {key:?}: 1 to 128 letters, digits, spaces or _ . : / = + - @"));
    }
    if value.len() > 256 || !allowed(value) {
        return Err(format!("tag value {value:?}: at most 256 letters, digits, spaces or _ . : / = + - @"));
    }
    let lower = key.to_ascii_lowercase();
    if lower.starts_with("aws:") || (lower.starts_with("awsops.dev/") && key != E2E_TAG) {
        return Err(format!("tag key {key:?} is reserved (aws: and awsops.dev/ prove who made what)"));
    }
    Ok((key.to_string(), value.to_string()))
}

/// `--tenancy` values (see `core::tenancy::Mode`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tenancy {
    Enforce,
    Audit,
    Off,
}

impl From<Tenancy> for Mode {
    fn from(t: Tenancy) -> Self {
        match t {
            Tenancy::Enforce => Mode::Enforce,
            Tenancy::Audit => Mode::Audit,
            Tenancy::Off => Mode::Off,
        }
    }
}

impl ControllerArgs {
    pub fn into_config(self) -> anyhow::Result<controller::Config> {
        let identity = self.identity.unwrap_or_else(|| format!("awsops-{}", std::process::id()));
        let mut resource_tags = std::collections::BTreeMap::new();
        for (key, value) in self.resource_tags {
            if resource_tags.insert(key.clone(), value).is_some() {
                anyhow::bail!("--resource-tags: {key:?} is given twice");
            }
        }
        if resource_tags.len() > MAX_RESOURCE_TAGS {
            anyhow::bail!("--resource-tags: {} tags, at most {MAX_RESOURCE_TAGS}", resource_tags.len());
        }
        Ok(controller::Config {
            namespace: self.namespace,
            label_selector: self.label_selector,
            resync: Duration::from_secs(self.resync_seconds.max(1)),
            metrics_addr: self.metrics_addr,
            concurrency: self.concurrency.max(1),
            leader_election: self.leader_election,
            lease_name: self.lease_name,
            lease_namespace: self.lease_namespace,
            identity,
            tenancy: self.tenancy.into(),
            resource_tags,
            dataplane: self.dataplane.into(),
        })
    }
}

/// Runs the parsed command; the exit code is the command's verdict.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crds => {
            print!("{}", crate::api::crds_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Controller(args) => controller::run(args.into_config()?).await.map(|()| ExitCode::SUCCESS),
        Command::Plan(args) => crate::local::plan(&args.options()).await,
        Command::Apply(args) => crate::local::apply(&args.options()).await,
        Command::Delete(args) => crate::local::delete(&args.options()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_tags_are_key_value_pairs_that_never_replace_the_owner_or_reach_aws_reserved_keys() {
        assert_eq!(resource_tag("team=web").expect("ok"), ("team".into(), "web".into()));
        assert_eq!(resource_tag("awsops.dev/e2e=r-1").expect("ok"), ("awsops.dev/e2e".into(), "r-1".into()));
        assert_eq!(resource_tag("cost-center=").expect("an empty value"), ("cost-center".into(), String::new()));
        let reserved =
            ["aws:createdBy=x", "AWS:x=y", "awsops.dev/uid=1", "awsops.dev/owner=a/b", "awsops.dev/released=true"];
        for bad in ["team", "=web", "k=v;rm", "k=\"v\"", "Awsops.dev/UID=1"].iter().chain(&reserved) {
            assert!(resource_tag(bad).is_err(), "{bad} accepted");
        }
        assert!(resource_tag(&format!("{}=v", "k".repeat(129))).is_err());
        assert!(resource_tag(&format!("k={}", "v".repeat(257))).is_err());
    }

    #[test]
    fn a_resource_tag_given_twice_is_refused_not_overwritten() {
        let cli = Cli::try_parse_from(["awsops", "controller", "--resource-tags", "team=a,team=b"]).expect("parsed");
        let Command::Controller(args) = cli.command else { panic!("controller") };
        assert!(args.into_config().expect_err("twice").to_string().contains("\"team\" is given twice"));
    }

    #[test]
    fn more_than_ten_resource_tags_are_refused_with_the_limit() {
        let tags: Vec<String> = (0..11).map(|i| format!("t{i}=v")).collect();
        let cli = Cli::try_parse_from(["awsops", "controller", "--resource-tags", &tags.join(",")]).expect("parsed");
        let Command::Controller(args) = cli.command else { panic!("controller") };
        let error = args.into_config().expect_err("11 tags");
        assert!(error.to_string().contains("at most 10"), "{error}");
    }
}
