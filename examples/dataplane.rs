//! The test environment's DNS server for the emulator's RDS endpoint names,
//! as a process (`scripts/testenv.sh` and `scripts/demo.sh` start it and
//! give every controller `AWSOPS_DNS_SERVER`): cluster endpoints follow the
//! writer the emulator holds. Prints `127.0.0.1:PORT` once it answers.
//!
//!   dataplane [--ttl SECONDS]   (AWS_ENDPOINT_URL etc. name the emulator)

#[allow(dead_code)]
#[path = "../tests/support/dns.rs"]
mod dns;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ttl = match args.iter().position(|a| a == "--ttl") {
        Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).expect("--ttl SECONDS"),
        None => 1,
    };
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let server = dns::DnsServer::start(ttl, Some(aws_sdk_rds::Client::new(&conf))).await;
    println!("{}", server.addr);
    let _ = tokio::signal::ctrl_c().await;
}
