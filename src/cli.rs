//! Command line: `awsops controller` and `awsops crds`. Every flag can also
//! be set by an environment variable (shown in `--help`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::controller;

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
        }
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Crds => {
            print!("{}", crate::api::crds_yaml());
            Ok(())
        }
        Command::Controller(args) => controller::run(args.into_config()).await,
    }
}
