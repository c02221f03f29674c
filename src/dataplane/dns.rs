//! Name resolution as the controller's pod sees it: the system's resolver,
//! or the DNS server `--dns-server` names (clusters with their own resolver,
//! the test environment). hickory-resolver caches answers for their TTL, as
//! an application's resolver would.

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

/// What a name led to: the names passed through (the name itself first,
/// then each CNAME target) and the addresses at the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    pub chain: Vec<String>,
    pub addresses: Vec<IpAddr>,
}

impl Resolution {
    /// The last name of the chain (the name itself without CNAMEs).
    pub fn canonical(&self) -> &str {
        self.chain.last().map(String::as_str).unwrap_or_default()
    }

    /// Whether `name` is on the chain (case and a trailing dot ignored).
    pub fn passes_through(&self, name: &str) -> bool {
        let name = normal(name);
        self.chain.contains(&name)
    }
}

/// Resolves host names to their CNAME chain and addresses.
#[async_trait]
pub trait Resolve: Send + Sync {
    /// `Err` says why the name did not resolve, for a status message.
    async fn resolve(&self, host: &str) -> Result<Resolution, String>;
}

/// [`Resolve`] through hickory-resolver.
pub struct Dns {
    resolver: Result<TokioResolver, String>,
}

impl Dns {
    /// The DNS server at `server`, or the system's resolver (`/etc/resolv.conf`).
    pub fn new(server: Option<SocketAddr>) -> Self {
        let provider = TokioRuntimeProvider::default();
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut ns.connections {
                    connection.port = addr.port();
                }
                Ok(TokioResolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), provider))
            }
            None => TokioResolver::builder(provider).map_err(|e| format!("no system resolver ({e}): set --dns-server")),
        };
        let resolver = builder.and_then(|b| {
            let mut opts = ResolverOpts::default();
            opts.timeout = std::time::Duration::from_secs(2);
            opts.attempts = 2;
            b.with_options(opts).build().map_err(|e| format!("resolver: {e}"))
        });
        Self { resolver }
    }
}

#[async_trait]
impl Resolve for Dns {
    async fn resolve(&self, host: &str) -> Result<Resolution, String> {
        let resolver = self.resolver.as_ref().map_err(Clone::clone)?;
        let fqdn = format!("{}.", normal(host));
        let lookup = resolver.lookup(fqdn.as_str(), RecordType::A).await.map_err(|e| e.to_string())?;
        let mut found = Resolution { chain: vec![normal(host)], addresses: Vec::new() };
        for record in lookup.answers() {
            match &record.data {
                RData::CNAME(target) => {
                    let target = normal(&target.0.to_ascii());
                    if !found.chain.contains(&target) {
                        found.chain.push(target);
                    }
                }
                RData::A(a) => found.addresses.push(IpAddr::V4(a.0)),
                _ => {}
            }
        }
        Ok(found)
    }
}

/// `--dns-server`: `IP` (port 53) or `IP:PORT`.
pub fn parse_server(value: &str) -> Result<SocketAddr, String> {
    value
        .parse::<SocketAddr>()
        .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{value:?} is not an IP address or IP:port"))
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dns_server_is_an_ip_with_or_without_a_port() {
        assert_eq!(parse_server("127.0.0.1"), Ok("127.0.0.1:53".parse().expect("addr")));
        assert_eq!(parse_server("127.0.0.11:5353"), Ok("127.0.0.11:5353".parse().expect("addr")));
        assert!(parse_server("dns.example.com").is_err());
    }

    #[test]
    fn a_chain_is_matched_without_case_or_trailing_dot() {
        let r = Resolution {
            chain: vec!["c.cluster-x.rds.amazonaws.com".into(), "w1.x.rds.amazonaws.com".into()],
            addresses: vec![],
        };
        assert!(r.passes_through("W1.x.rds.amazonaws.com."));
        assert!(!r.passes_through("r0.x.rds.amazonaws.com"));
        assert_eq!(r.canonical(), "w1.x.rds.amazonaws.com");
    }
}
