//! The test environment's DNS and data plane for the emulator's Aurora
//! clusters, as a process:
//!
//!   dataplane [--ttl SECONDS]
//!       DNS for every RDS endpoint name, cluster endpoints following the
//!       writer the emulator holds (`scripts/testenv.sh` and `scripts/demo.sh`
//!       start it and give every controller `AWSOPS_DNS_SERVER`).
//!   dataplane simulate CLUSTER TARGET
//!       a simulated cluster (tests/support/simulated.rs: one mariadbd per
//!       instance, its own DNS with TTL 5 s) that plays a failover to TARGET
//!       once the emulator shows the call, then prints `scripted outage: S`.
//!
//! Prints the DNS server's `127.0.0.1:PORT` first, once it answers; runs
//! until SIGINT or SIGTERM. AWS_ENDPOINT_URL etc. name the emulator.

#[allow(dead_code)]
#[path = "../tests/support/dns.rs"]
mod dns;
#[allow(dead_code)]
#[path = "../tests/support/secrets.rs"]
mod secrets;
#[allow(dead_code)]
#[path = "../tests/support/simulated.rs"]
mod simulated;

use std::io::Write;
use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let rds = aws_sdk_rds::Client::new(&conf);
    match args.first().map(String::as_str) {
        Some("simulate") => {
            let [_, cluster, target] = args.as_slice() else { panic!("usage: dataplane simulate CLUSTER TARGET") };
            let sim = simulated::SimulatedCluster::start(&rds, cluster, None).await;
            say(&sim.dns.addr.to_string());
            let run = async {
                let (sim, played) =
                    sim.play(target.clone(), simulated::Timing::default(), Duration::from_secs(3600)).await;
                if let Some(seconds) = played.outage_seconds() {
                    say(&format!("scripted outage: {seconds:.2}"));
                }
                std::future::pending::<()>().await;
                drop(sim);
            };
            // Stopping drops `run`, and with it the servers.
            tokio::select! {
                () = run => {}
                () = stopped() => {}
            }
        }
        _ => {
            let ttl = match args.iter().position(|a| a == "--ttl") {
                Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).expect("--ttl SECONDS"),
                None => 1,
            };
            let server = dns::DnsServer::start(ttl, Some(rds)).await;
            say(&server.addr.to_string());
            stopped().await;
        }
    }
}

/// SIGINT or SIGTERM (`testenv.sh stop`); returning drops the servers (mariadbd killed with them).
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
