//! What the controller sees of a database from the network, as its clients
//! do: the cluster endpoint's DNS ([`dns`]) and, with `spec.verify.writeProbe`,
//! a MySQL login asking whether the server takes writes ([`probe`]).

pub mod dns;
pub mod probe;

pub use dns::{Dns, Resolution, Resolve};

/// How content sources are fetched (`--work-dir`, `--source-ca-file`).
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub work_dir: std::path::PathBuf,
    /// Extra roots besides the public ones.
    pub ca_file: Option<std::path::PathBuf>,
}

/// How the controller reaches clusters' data planes and content sources.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--dns-server`; `None`: the system's resolver.
    pub dns_server: Option<std::net::SocketAddr>,
    /// `--mysql-ca-file`: the write probe's TLS roots; `None`: no TLS.
    pub mysql_ca_file: Option<std::path::PathBuf>,
    /// `--work-dir`: where content is fetched and unpacked; `None`: the temporary folder.
    pub work_dir: Option<std::path::PathBuf>,
    /// `--source-ca-file`: extra roots for content sources.
    pub source_ca_file: Option<std::path::PathBuf>,
}
