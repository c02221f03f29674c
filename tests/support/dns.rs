//! A DNS server on loopback for the emulator's RDS endpoint names
//! (hickory-server, authoritative for `rds.amazonaws.com.`). Either it
//! follows the emulator (each query for a cluster endpoint asks RDS which
//! instance writes and answers a CNAME to it: what `make test` and
//! `make demo` run for every controller), or a test sets the records itself
//! to play a data plane that lags behind RDS.
//!
//! Also built as `examples/dataplane.rs` (the follow mode as a process).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};

/// The zone RDS endpoints live in.
pub const ZONE: &str = "rds.amazonaws.com.";
/// The address every instance endpoint has when following the emulator.
pub const FOLLOW_ADDRESS: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A running server; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Records>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The zone's records, changed while the server answers.
struct Records {
    zone: Arc<InMemoryZoneHandler>,
    serial: AtomicU32,
    ttl: u32,
}

impl Records {
    async fn put(&self, name: &str, data: RData) {
        let name = fqdn(name);
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        self.zone.upsert(Record::from_rdata(name, self.ttl, data), serial).await;
    }
}

impl DnsServer {
    /// A server on 127.0.0.1 (UDP and TCP on one free port) answering with
    /// `ttl`; with `follow`, cluster endpoints are looked up in RDS per query.
    pub async fn start(ttl: u32, follow: Option<aws_sdk_rds::Client>) -> Self {
        let origin = Name::from_str(ZONE).expect("zone name");
        let mut zone = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(origin.clone(), origin.clone(), 1, 3600, 600, 86400, ttl);
        zone.upsert_mut(Record::from_rdata(origin.clone(), ttl, RData::SOA(soa)), 1);
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![zone.clone() as Arc<dyn ZoneHandler>]);
        let records = Arc::new(Records { zone, serial: AtomicU32::new(2), ttl });
        let handler = Handler { catalog, records: records.clone(), follow };
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("bound");
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65_535);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self { addr, records, task }
    }

    /// `name` is a CNAME of `target`.
    pub async fn cname(&self, name: &str, target: &str) {
        self.records.put(name, RData::CNAME(CNAME(fqdn(target)))).await;
    }

    /// `name` has the address `ip`.
    pub async fn address(&self, name: &str, ip: Ipv4Addr) {
        self.records.put(name, RData::A(A(ip))).await;
    }
}

struct Handler {
    catalog: Catalog,
    records: Arc<Records>,
    follow: Option<aws_sdk_rds::Client>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response: R) -> ResponseInfo {
        if let (Some(rds), Ok(info)) = (&self.follow, request.request_info()) {
            let name = info.query.name().to_string();
            follow(rds, &self.records, name.trim_end_matches('.')).await;
        }
        self.catalog.handle_request::<R, T>(request, response).await
    }
}

/// Sets the records `name` needs from what RDS holds now: a cluster
/// endpoint is a CNAME of its writer's instance endpoint; every other name
/// in the zone has [`FOLLOW_ADDRESS`].
async fn follow(rds: &aws_sdk_rds::Client, records: &Records, name: &str) {
    let Some((cluster, _)) = name.split_once(".cluster-").filter(|(_, rest)| !rest.starts_with("ro-")) else {
        records.put(name, RData::A(A(FOLLOW_ADDRESS))).await;
        return;
    };
    let Ok(out) = rds.describe_db_clusters().db_cluster_identifier(cluster).send().await else { return };
    let Some(writer) = out
        .db_clusters()
        .first()
        .and_then(|c| c.db_cluster_members().iter().find(|m| m.is_cluster_writer() == Some(true)))
        .and_then(|m| m.db_instance_identifier())
    else {
        return;
    };
    let Ok(out) = rds.describe_db_instances().db_instance_identifier(writer).send().await else { return };
    if let Some(address) = out.db_instances().first().and_then(|i| i.endpoint()).and_then(|e| e.address()) {
        records.put(name, RData::CNAME(CNAME(fqdn(address)))).await;
        records.put(address, RData::A(A(FOLLOW_ADDRESS))).await;
    }
}

fn fqdn(name: &str) -> Name {
    Name::from_str(&format!("{}.", name.trim_end_matches('.'))).expect("a DNS name")
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
async fn bind_pair() -> (tokio::net::UdpSocket, tokio::net::TcpListener) {
    loop {
        let udp = tokio::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await.expect("udp bind");
        let port = udp.local_addr().expect("bound").port();
        if let Ok(tcp) = tokio::net::TcpListener::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await {
            return (udp, tcp);
        }
    }
}
