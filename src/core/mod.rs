//! What every reconciler stands on, in the controller and in `awsops
//! plan/apply` alike: the [`Context`] a reconcile gets, the [`Error`] it
//! returns (classified once: category and requeue delay), the [`Objects`] it
//! reads and writes status through, [`Events`], the status writer, and
//! [`Tenancy`] (what each namespace may ask for).
//! Nothing here knows a resource's steps or kube-runtime.

pub mod error;
pub mod events;
pub mod objects;
pub mod status;
pub mod tenancy;

use std::sync::Arc;
use std::time::Duration;

pub use error::Error;
pub use events::Events;
pub use objects::Objects;
pub use tenancy::Tenancy;

use crate::aws::AwsFactory;
use crate::metrics::Metrics;

/// What every reconcile gets.
pub struct Context {
    /// Status, ConfigMaps and events: the API server, or a local state folder.
    pub objects: Arc<dyn Objects>,
    pub events: Events,
    pub aws: AwsFactory,
    pub metrics: Arc<Metrics>,
    pub resync: Duration,
    /// The watched namespace (`None`: all).
    pub namespace: Option<String>,
    /// What each namespace may ask for (TenantPolicies).
    pub tenancy: Tenancy,
    /// Resolves cluster endpoints (`spec.verify.endpoint`, the write probe).
    pub dns: Arc<dyn crate::dataplane::Resolve>,
    /// `--mysql-ca-file`: the write probe's TLS roots (no TLS without).
    pub mysql_ca_file: Option<std::path::PathBuf>,
    /// `--work-dir` and `--source-ca-file`: how content sources are fetched.
    pub sources: crate::dataplane::Sources,
    /// One site fetches and unpacks at a time: the work folder holds one
    /// site's archive and files, whatever `--concurrency` says.
    pub fetches: Arc<tokio::sync::Semaphore>,
}

impl Context {
    pub fn new(
        objects: Arc<dyn Objects>,
        aws: AwsFactory,
        metrics: Arc<Metrics>,
        resync: Duration,
        namespace: Option<String>,
        tenancy: Tenancy,
    ) -> Self {
        let dns = Arc::new(crate::dataplane::Dns::new(None));
        let events = Events::new(objects.clone());
        let sources = crate::dataplane::Sources { work_dir: std::env::temp_dir(), ca_file: None };
        let fetches = Arc::new(tokio::sync::Semaphore::new(1));
        Self { events, objects, aws, metrics, resync, namespace, tenancy, dns, mysql_ca_file: None, sources, fetches }
    }

    /// Reaches clusters' data planes as `settings` say (`--dns-server`, `--mysql-ca-file`).
    pub fn with_dataplane(mut self, settings: &crate::dataplane::Settings) -> Self {
        if settings.dns_server.is_some() {
            self.dns = Arc::new(crate::dataplane::Dns::new(settings.dns_server));
        }
        self.mysql_ca_file = settings.mysql_ca_file.clone();
        self.sources = crate::dataplane::Sources {
            work_dir: settings.work_dir.clone().unwrap_or_else(std::env::temp_dir),
            ca_file: settings.source_ca_file.clone(),
        };
        self
    }
}

/// The span a reconcile runs in, so each of its log lines names the object.
pub fn reconcile_span(kind: crate::api::Kind, namespace: &str, name: &str) -> tracing::Span {
    tracing::info_span!("reconcile", %kind, namespace, name)
}
