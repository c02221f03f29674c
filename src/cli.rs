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
}

impl LocalArgs {
    fn options(self) -> crate::local::Options {
        crate::local::Options {
            files: self.files,
            state_dir: self.state_dir,
            timeout: Duration::from_secs(self.timeout_seconds),
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
    pub fn into_config(self) -> controller::Config {
        let identity = self.identity.unwrap_or_else(|| format!("awsops-{}", std::process::id()));
        controller::Config {
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
        }
    }
}

/// Runs the parsed command; the exit code is the command's verdict.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crds => {
            print!("{}", crate::api::crds_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Controller(args) => controller::run(args.into_config()).await.map(|()| ExitCode::SUCCESS),
        Command::Plan(args) => crate::local::plan(&args.options()).await,
        Command::Apply(args) => crate::local::apply(&args.options()).await,
        Command::Delete(args) => crate::local::delete(&args.options()).await,
    }
}
