//! A simulated Aurora MySQL cluster that behaves in time like the real one,
//! from real parts: one `mariadbd` (Debian's mariadb-server-core) per
//! instance on its own loopback address, readers started with
//! `--innodb-read-only`; a DNS server ([`super::dns`], TTL 5 s as on RDS)
//! for the emulator's endpoint names; and a script that, once the emulator
//! shows FailoverDBCluster (the cluster `failing-over`, from the
//! `awsops-test/failover-seconds` tag), plays AWS's sequence: the old writer
//! restarts read-only, the target restarts writable, the cluster endpoint
//! flips, at the times [`Timing`] says.
//!
//! Also built into `examples/dataplane.rs` (`simulate`, for `make demo`) and
//! the benchmarks.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::process::{Child, Command};

use super::dns::DnsServer;

/// The tag the emulator reads for how long a failover takes (scripts/moto_awsops.py).
pub const FAILOVER_SECONDS_TAG: &str = "awsops-test/failover-seconds";
/// The login every instance has.
pub const USER: &str = "probe";
pub const PASSWORD: &str = "probe-pass-1";
/// The cluster endpoint's TTL on RDS.
pub const TTL: u32 = 5;

/// When each step happens, from the moment the emulator shows the call.
#[derive(Clone, Debug)]
pub struct Timing {
    pub old_writer_stops: Duration,
    /// The old writer answers again, read-only.
    pub old_writer_back: Duration,
    pub target_stops: Duration,
    /// The target answers again, writable.
    pub target_back: Duration,
    /// The cluster endpoint becomes a CNAME of the target (`None`: never).
    pub dns_flips: Option<Duration>,
}

impl Default for Timing {
    /// About AWS's 10 s (the emulator's swap tag: 8 s).
    fn default() -> Self {
        Self {
            old_writer_stops: Duration::from_millis(500),
            old_writer_back: Duration::from_secs(4),
            target_stops: Duration::from_secs(1),
            target_back: Duration::from_secs(5),
            dns_flips: Some(Duration::from_secs(6)),
        }
    }
}

/// What the script did, when it really did it (a loaded machine runs late).
#[derive(Clone, Debug, Default)]
pub struct Played {
    /// The emulator showed the call.
    pub called: Option<Timestamp>,
    /// The old writer stopped: clients of the cluster endpoint fail from here.
    pub outage_from: Option<Timestamp>,
    /// The endpoint leads to the target and the target writes: clients succeed from here.
    pub outage_to: Option<Timestamp>,
}

impl Played {
    /// The scripted outage in seconds.
    pub fn outage_seconds(&self) -> Option<f64> {
        Some(self.outage_to?.duration_since(self.outage_from?).as_secs_f64())
    }
}

struct Instance {
    ip: Ipv4Addr,
    endpoint: String,
    datadir: PathBuf,
    server: Option<Child>,
    /// `--ssl-cert`, `--ssl-key`: the server requires TLS.
    tls: Option<(PathBuf, PathBuf)>,
}

/// The simulated cluster; its servers stop when it is dropped.
pub struct SimulatedCluster {
    pub dns: DnsServer,
    pub endpoint: String,
    rds: aws_sdk_rds::Client,
    cluster: String,
    writer: String,
    instances: BTreeMap<String, Instance>,
    _dir: tempfile::TempDir,
}

/// Debian's MariaDB server; installed by scripts/test.sh.
fn mariadbd() -> &'static str {
    "/usr/sbin/mariadbd"
}

/// A distinct 127.x.y.0/24 for each simulated cluster of this process.
fn next_subnet() -> (u8, u8) {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (20 + (std::process::id() % 200) as u8, n)
}

impl SimulatedCluster {
    /// Starts a server per member of `cluster` (as the emulator holds it) and
    /// the DNS records: instance endpoints to their addresses, the cluster
    /// endpoint a CNAME of the writer's. With `tls_ca` (a folder with
    /// `ca.crt` and `ca.key`), every server requires TLS with a certificate
    /// that CA signed for the endpoint names, as RDS can.
    pub async fn start(rds: &aws_sdk_rds::Client, cluster: &str, tls_ca: Option<&Path>) -> Self {
        // Under the test environment's folder: `testenv.sh stop` stops a server a killed test left.
        let base =
            std::env::var_os("AWSOPS_TEST_ENV").map_or_else(std::env::temp_dir, |d| PathBuf::from(d).join("simulated"));
        std::fs::create_dir_all(&base).expect("simulated clusters' folder");
        let dir = tempfile::Builder::new().prefix("cluster").tempdir_in(&base).expect("temp dir");
        let template = dir.path().join("template");
        install_template(&template).await;
        let out = rds.describe_db_clusters().db_cluster_identifier(cluster).send().await.expect("cluster");
        let c = &out.db_clusters()[0];
        let endpoint = c.endpoint().expect("a cluster endpoint").to_string();
        let (x, y) = next_subnet();
        let dns = DnsServer::start(TTL, None).await;
        let mut names = vec![endpoint.clone()];
        for member in c.db_cluster_members() {
            let id = member.db_instance_identifier().expect("id");
            let out = rds.describe_db_instances().db_instance_identifier(id).send().await.expect("instance");
            names.extend(out.db_instances()[0].endpoint().and_then(|e| e.address()).map(str::to_string));
        }
        let tls = match tls_ca {
            Some(ca) => Some(certificate(ca, dir.path(), &names).await),
            None => None,
        };
        let mut instances = BTreeMap::new();
        let mut writer = String::new();
        for (k, member) in c.db_cluster_members().iter().enumerate() {
            let id = member.db_instance_identifier().expect("id").to_string();
            let out = rds.describe_db_instances().db_instance_identifier(&id).send().await.expect("instance");
            let address = out.db_instances()[0].endpoint().and_then(|e| e.address()).expect("address").to_string();
            let ip = Ipv4Addr::new(127, x, y, 11 + k as u8);
            let datadir = dir.path().join(&id);
            copy_dir(&template, &datadir).await;
            dns.address(&address, ip).await;
            let writes = member.is_cluster_writer() == Some(true);
            if writes {
                writer = id.clone();
                dns.cname(&endpoint, &address).await;
            }
            let mut instance = Instance { ip, endpoint: address, datadir, server: None, tls: tls.clone() };
            instance.run(!writes).await;
            instances.insert(id, instance);
        }
        Self { dns, endpoint, rds: rds.clone(), cluster: cluster.to_string(), writer, instances, _dir: dir }
    }

    /// Waits for the emulator to show the call (at most `wait`), then plays
    /// the failover to `target` as `timing` says.
    pub async fn play(mut self, target: String, timing: Timing, wait: Duration) -> (Self, Played) {
        let target = target.as_str();
        let mut played = Played::default();
        if !self.called(wait).await {
            return (self, played);
        }
        let t0 = tokio::time::Instant::now();
        played.called = Some(Timestamp::now());
        let old = self.writer.clone();
        let mut steps: Vec<(Duration, Step)> = vec![
            (timing.old_writer_stops, Step::Stop(old.clone())),
            (timing.old_writer_back, Step::Run(old.clone(), true)),
            (timing.target_stops, Step::Stop(target.to_string())),
            (timing.target_back, Step::Run(target.to_string(), false)),
        ];
        if let Some(at) = timing.dns_flips {
            steps.push((at, Step::Flip(target.to_string())));
        }
        steps.sort_by_key(|(at, _)| *at);
        let (mut target_writes, mut flipped) = (false, false);
        for (at, step) in steps {
            tokio::time::sleep_until(t0 + at).await;
            match step {
                Step::Stop(id) => {
                    if id == old {
                        // Clients fail from the signal on, not from the server's exit.
                        played.outage_from.get_or_insert(Timestamp::now());
                    }
                    self.instance(&id).stop().await;
                }
                Step::Run(id, read_only) => {
                    self.instance(&id).run(read_only).await;
                    target_writes |= id == target;
                }
                Step::Flip(id) => {
                    let address = self.instance(&id).endpoint.clone();
                    self.dns.cname(&self.endpoint, &address).await;
                    flipped = true;
                }
            }
            if target_writes && flipped && played.outage_to.is_none() {
                played.outage_to = Some(Timestamp::now());
            }
        }
        self.writer = target.to_string();
        (self, played)
    }

    async fn called(&self, wait: Duration) -> bool {
        let until = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < until {
            let out = self.rds.describe_db_clusters().db_cluster_identifier(&self.cluster).send().await;
            if let Ok(out) = out {
                let c = &out.db_clusters()[0];
                let writer = c
                    .db_cluster_members()
                    .iter()
                    .find(|m| m.is_cluster_writer() == Some(true))
                    .and_then(|m| m.db_instance_identifier());
                if c.status() == Some("failing-over") || writer != Some(self.writer.as_str()) {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn instance(&mut self, id: &str) -> &mut Instance {
        self.instances.get_mut(id).expect("a member of the cluster")
    }
}

enum Step {
    Stop(String),
    Run(String, bool),
    Flip(String),
}

impl Instance {
    /// Starts the server (read-only or writable) and waits until it accepts connections.
    async fn run(&mut self, read_only: bool) {
        let datadir = self.datadir.display().to_string();
        let mut cmd = Command::new(mariadbd());
        cmd.args(["--no-defaults", "--user=root", "--skip-name-resolve", "--port=3306"])
            .arg(format!("--datadir={datadir}"))
            .arg(format!("--bind-address={}", self.ip))
            .arg(format!("--socket={datadir}/mysqld.sock"))
            .arg(format!("--pid-file={datadir}/mysqld.pid"))
            .arg(format!("--tmpdir={datadir}"))
            .args(["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M", "--skip-log-bin"])
            .arg(format!("--log-error={datadir}.log"))
            .kill_on_drop(true)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if read_only {
            cmd.arg("--innodb-read-only");
        }
        if let Some((cert, key)) = &self.tls {
            cmd.arg(format!("--ssl-cert={}", cert.display()))
                .arg(format!("--ssl-key={}", key.display()))
                .arg("--require-secure-transport=ON");
        }
        self.server = Some(cmd.spawn().expect("mariadbd starts"));
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect((self.ip, 3306)).await.is_err() {
            assert!(tokio::time::Instant::now() < until, "mariadbd on {} did not start: see {datadir}.log", self.ip);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server cleanly (SIGTERM: InnoDB read-only cannot start after a crash).
    async fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").arg(pid.to_string()).status().await;
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
    }
}

/// An initialised data directory with the [`USER`] login (no privileges).
/// Each run has its own `--tmpdir`: bootstraps side by side collide on
/// temporary table names in a shared one.
async fn install_template(dir: &Path) {
    let tmp = dir.with_extension("tmp");
    std::fs::create_dir_all(&tmp).expect("tmpdir");
    let (datadir, tmpdir) = (format!("--datadir={}", dir.display()), format!("--tmpdir={}", tmp.display()));
    let log = dir.with_extension("install.log");
    let out = std::fs::File::create(&log).expect("install log");
    let status = Command::new("/usr/bin/mariadb-install-db")
        .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"])
        .args([datadir.as_str(), tmpdir.as_str(), "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"])
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .status()
        .await
        .expect("mariadb-install-db runs (Debian mariadb-server-core and mariadb-client-core, installed by scripts/test.sh)");
    let output = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "mariadb-install-db failed:\n{}", output());
    let sql = format!("FLUSH PRIVILEGES;\nCREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n");
    let mut boot = Command::new(mariadbd())
        .args(["--no-defaults", "--bootstrap", "--user=root", "--log-warnings=0", datadir.as_str(), tmpdir.as_str()])
        .args(["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mariadbd --bootstrap");
    use tokio::io::AsyncWriteExt;
    boot.stdin.take().expect("stdin").write_all(sql.as_bytes()).await.expect("bootstrap SQL");
    assert!(boot.wait().await.expect("bootstrap").success(), "the login was not created");
}

/// A key and a certificate for `names`, signed by the CA in `ca` (`ca.crt`, `ca.key`).
pub async fn certificate(ca: &Path, dir: &Path, names: &[String]) -> (PathBuf, PathBuf) {
    let (key, csr, cert, ext) = (dir.join("tls.key"), dir.join("tls.csr"), dir.join("tls.crt"), dir.join("san.ext"));
    let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
    std::fs::write(&ext, format!("subjectAltName={}\n", san.join(","))).expect("san.ext");
    let serial = format!("{}", std::process::id() as u64 * 1000 + u64::from(next_subnet().1));
    for args in [
        vec!["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=simulated-aurora", "-keyout"],
        vec!["x509", "-req", "-days", "2", "-set_serial", serial.as_str(), "-in"],
    ] {
        let mut cmd = Command::new("openssl");
        cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::null());
        if args[0] == "req" {
            cmd.arg(&key).arg("-out").arg(&csr);
        } else {
            cmd.arg(&csr).arg("-CA").arg(ca.join("ca.crt")).arg("-CAkey").arg(ca.join("ca.key"));
            cmd.arg("-extfile").arg(&ext).arg("-out").arg(&cert);
        }
        assert!(cmd.status().await.expect("openssl").success(), "openssl {} failed", args[0]);
    }
    (cert, key)
}

async fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().await.expect("cp");
    assert!(status.success(), "copying {} failed", from.display());
}

/// A Secret `name` in `namespace` holding the login [`USER`] with
/// `password`; with `grant`, the Role and RoleBinding README documents,
/// letting the chart's ServiceAccount (`AWSOPS_TEST_CHART_NAMESPACE`/awsops)
/// get that one Secret.
pub async fn login_secret(client: &kube::Client, namespace: &str, name: &str, password: &str, grant: bool) {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, PostParams};
    let create = PostParams::default();
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "stringData": {"username": USER, "password": password},
    }))
    .expect("secret");
    Api::<Secret>::namespaced(client.clone(), namespace).create(&create, &secret).await.expect("secret created");
    if grant {
        super::secrets::grant_secret(client, namespace, name).await;
    }
}
