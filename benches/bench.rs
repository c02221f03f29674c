//! `make bench`: figures for speed and AWS cost, each side by side with what a
//! user would do instead, printed as Markdown (scripts/bench.sh collects them
//! into docs/BENCHMARKS.md). Not a test: nothing here fails on a slow machine.
//!
//! - `content`: a generated site (10,000 files, about 1 GiB, nested) pushed
//!   to the test registry as an OCI artifact; the reconciler's own read,
//!   pull, unpack and sync (`content::read`, `planned`, `sync`) against
//!   `aws s3 sync` of the same unpacked folder, as separate processes under
//!   `/usr/bin/time`, on every S3 server named in `BENCH_S3_SERVERS`
//!   (`name=url,...`), with the server's own PUT ceiling for these files;
//!   requests counted at a proxy in a second, identical pass.
//! - `failover`: creation to `Succeeded` through the controller, minus the
//!   emulator's own swap time; DescribeDBClusters calls per failover.
//! - `outage N`: N failovers of a simulated cluster (tests/support/simulated.rs:
//!   MariaDB per instance, DNS with TTL 5 s, AWS's sequence in about 10 s)
//!   with `spec.verify.writeProbe`: the write outage awsops measured against
//!   the outage the harness scripted.
//! - `fleet N`: N sites without a domain and N/10 with one on the test API
//!   server, the controller at its defaults: time to Ready, controller RSS and
//!   CPU, AWS calls per site to create and per look in sync (every site woken
//!   once by an annotation, as a resync would), then one idle minute.
//!
//! Needs the environment of `scripts/testenv.sh start` (and `AWS_CLI` for `content`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use awsops::api::aurora_failover::{AuroraFailover, FailoverPhase};
use awsops::api::static_site::{ContentSpec, SitePhase, StaticSite};
use awsops::static_site::content;
use awsops::static_site::plan::content::invalidation_paths;
use awsops::static_site::plan::routing::Served;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::proxy::CountingProxy;

/// The generated site: 10,000 files of about 1 GiB in all.
const FILES: usize = 10_000;
/// The site's uid in the bench buckets' manifests.
const UID: &str = "bench-site";
/// In-flight PUTs tried for the server's ceiling (the best counts): as
/// many as awsops sends, and more.
const CEILING_IN_FLIGHT: [usize; 2] = [content::UPLOAD_PARALLELISM, 64];
/// The seed of the rewritten tenth (the CLI's folder and the second artifact alike).
const CHANGE_ROUND: u64 = 7;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match args.first().map(String::as_str) {
        Some("content") => runtime.block_on(content_bench()),
        Some("sync-client") => runtime.block_on(sync_client(&args[1], &args[2])),
        Some("failover") => runtime.block_on(failover_bench(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5))),
        Some("fleet") => runtime.block_on(fleet_bench(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100))),
        Some("outage") => runtime.block_on(outage_bench(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10))),
        _ => bail!("usage: bench content | failover [RUNS] | fleet [SITES] | outage [RUNS]"),
    }
}

// ---------------------------------------------------------------- content

/// The awsops side of the content comparison, in its own process: one pass of
/// the reconciler's content step for a site serving the artifact `reference`
/// from `bucket` (the manifest read, the tag resolved, the layer pulled and
/// unpacked only when the bucket does not hold it, the sync). Prints what it
/// wrote and the paths it would invalidate.
async fn sync_client(reference: &str, bucket: &str) -> anyhow::Result<()> {
    use awsops::local::{manifests::Manifests, state::LocalObjects};
    let state = tempfile::tempdir()?;
    let manifests = Manifests { secrets: vec![pull_secret()?], ..Manifests::default() };
    let objects = Arc::new(LocalObjects::open(state.path(), &manifests, false, None)?);
    let metrics = Arc::new(awsops::metrics::Metrics::default());
    let aws = awsops::aws::AwsFactory::from_env(metrics.clone()).await;
    let settings = awsops::dataplane::Settings {
        work_dir: Some(state.path().to_path_buf()),
        source_ca_file: Some(support::files::test_ca().join("ca.crt")),
        ..Default::default()
    };
    let tenancy = awsops::core::Tenancy::off();
    let ctx = awsops::core::Context::new(objects, aws, metrics, Duration::from_secs(600), None, tenancy)
        .with_dataplane(&settings);
    let spec: ContentSpec =
        serde_json::from_value(json!({"oci": {"ref": reference, "secretRef": {"name": "pull"}}, "prune": true}))?;
    let clients = ctx.aws.clients(Some("us-east-1"), None).await.map_err(anyhow::Error::msg)?;
    let buckets = clients.buckets();
    let halted = |h| anyhow!("{h:?}");
    let start = Instant::now();
    let recorded = content::manifest::load(&buckets, bucket, UID).await?;
    let sourced = content::read(&ctx, "bench", UID, &spec, recorded).await.map_err(halted)?;
    let existing = awsops::aws::s3::Buckets::list(&buckets, bucket).await?;
    let content::Planned { sourced, desired, plan } =
        content::planned(&ctx, "bench", UID, &spec, sourced, &existing).await.map_err(halted)?;
    println!("read seconds {:.3}", start.elapsed().as_secs_f64());
    let to = content::Target { buckets: &buckets, bucket, uid: UID };
    let start = Instant::now();
    let synced = content::sync(&to, &sourced, &desired, &plan, None, &|_, _| {}).await?;
    println!("sync seconds {:.3}", start.elapsed().as_secs_f64());
    let changed: Vec<String> = synced.uploaded.iter().chain(&synced.copied).chain(&synced.pruned).cloned().collect();
    let paths = invalidation_paths(&changed, &[], &spec.index_document, Served::Keys, false);
    println!("invalidation paths {}", paths.len());
    Ok(())
}

/// The test registry's login as the `kubernetes.io/dockerconfigjson` Secret `bench/pull`.
fn pull_secret() -> anyhow::Result<k8s_openapi::api::core::v1::Secret> {
    let (host, user, password) = support::files::registry();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}"));
    let config = json!({"auths": {host: {"auth": auth}}}).to_string();
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "pull", "namespace": "bench"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config},
    }))?)
}

fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Deterministic bytes.
fn fill(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// [`FILES`] files of mixed sizes and types (60% 16 KiB pages, scripts and
/// styles, 25% 64 KiB scripts, 10% 256 KiB images, 5% 1 MiB images: about
/// 1,000 MiB) in 100 folders two levels deep. Random bytes: what gzip cannot
/// shrink, the worst case for the artifact.
fn generate(dir: &Path) -> anyhow::Result<usize> {
    let mut total = 0;
    for i in 0..FILES {
        let (size, ext) = match i % 20 {
            0 => (1024 * 1024, "jpg"),
            1 | 2 => (256 * 1024, "png"),
            3..=7 => (64 * 1024, "js"),
            n => (16 * 1024, ["html", "css", "js", "svg"][n % 4]),
        };
        let folder = dir.join(format!("section-{}", i % 10)).join(format!("part-{}", (i / 10) % 10));
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(format!("file-{i}.{ext}")), fill(i as u64 + 1, size))?;
        total += size;
    }
    Ok(total)
}

/// Rewrites every tenth file with new bytes of the same size.
fn change_tenth(dir: &Path, round: u64) -> anyhow::Result<()> {
    for (i, path) in walk(dir)?.into_iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        let len = std::fs::metadata(&path)?.len() as usize;
        std::fs::write(&path, fill(round * 1_000_003 + i as u64, len))?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    for path in walk(from)? {
        let target = to.join(path.strip_prefix(from)?);
        std::fs::create_dir_all(target.parent().context("parent")?)?;
        std::fs::copy(&path, &target)?;
    }
    Ok(())
}

/// `folder` as a tar.gz (gzip's default level, as `tar czf` and `flux push artifact` write it) at `archive`.
fn tar_gz(folder: &Path, archive: &Path) -> anyhow::Result<()> {
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(archive)?, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(".", folder)?;
    tar.into_inner()?.finish()?;
    Ok(())
}

#[derive(Clone, Copy, Default)]
struct Measured {
    wall: f64,
    /// awsops: seconds in `content::sync` (the uploads), from its output.
    sync: f64,
    /// awsops: seconds to read the source (pull and unpack when needed).
    read: f64,
    /// awsops: the paths of the one invalidation the pass asks for.
    invalidated: usize,
    cpu: f64,
    rss_mib: f64,
    puts: usize,
    lists: usize,
}

/// Runs one client under /usr/bin/time: wall seconds, user+system CPU
/// seconds, peak RSS in MiB and what it printed.
fn timed(command: Command) -> anyhow::Result<(f64, f64, f64, String)> {
    let out = tempfile::NamedTempFile::new()?;
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = command.get_envs().map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned()))).collect();
    let mut timed = Command::new("/usr/bin/time");
    timed.args(["-f", "%e %U %S %M", "-o"]).arg(out.path()).arg(program).args(args);
    for (k, v) in envs {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let output = timed.stderr(std::process::Stdio::inherit()).output()?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", output.status);
    }
    let text = std::fs::read_to_string(out.path())?;
    let f: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    Ok((f[0], f[1] + f[2], f[3] / 1024.0, String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// What one side syncs in its three rounds (cold, unchanged, 10% changed).
enum Side<'a> {
    /// awsops: the artifact reference of each round.
    Awsops(&'a [String; 3]),
    /// `aws s3 sync`: a copy of this folder, a tenth rewritten before the last round.
    Cli(&'a Path),
}

fn client(side: &Side<'_>, round: usize, work: &Path, bucket: &str, endpoint: &str) -> anyhow::Result<Command> {
    let mut cmd = match side {
        // BENCH_PROFILE=DIR records each awsops pass with `perf record`
        // into DIR (its figures then carry perf's cost: for finding where
        // the time goes, not for the table).
        Side::Awsops(refs) => {
            let mut c = match std::env::var_os("BENCH_PROFILE") {
                Some(dir) => {
                    let mut perf = Command::new("perf");
                    let data = PathBuf::from(dir).join(format!("{bucket}-{round}.data"));
                    perf.args(["record", "-F", "999", "-q", "-o"]).arg(data).arg("--").arg(std::env::current_exe()?);
                    perf
                }
                None => Command::new(std::env::current_exe()?),
            };
            c.arg("sync-client").arg(&refs[round]).arg(bucket);
            c
        }
        Side::Cli(_) => {
            let cli = std::env::var("AWS_CLI").context("AWS_CLI: the pinned aws CLI (scripts/bench.sh installs it)")?;
            let mut c = Command::new(cli);
            c.args(["s3", "sync"]).arg(work).arg(format!("s3://{bucket}"));
            c.args(["--endpoint-url", endpoint, "--only-show-errors", "--no-progress"]);
            c
        }
    };
    cmd.env("AWS_ENDPOINT_URL", endpoint).env("AWS_REGION", "us-east-1");
    Ok(cmd)
}

/// A bare SDK client, with checksums as awsops sends them (its own, none computed by the SDK).
async fn s3_at(endpoint: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::RequestChecksumCalculation;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(endpoint).load().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build(),
    )
}

/// Cold, unchanged and 10%-changed syncs of one side against one endpoint,
/// into a new bucket that is emptied and deleted afterwards.
async fn three_syncs(side: &Side<'_>, endpoint: &str, proxy: Option<&CountingProxy>) -> anyhow::Result<[Measured; 3]> {
    let bucket = support::unique("bench").to_lowercase();
    let s3 = s3_at(endpoint).await;
    s3.create_bucket().bucket(&bucket).send().await?;
    let work = tempfile::tempdir()?;
    if let Side::Cli(folder) = side {
        copy_dir(folder, work.path())?;
    }
    let url = proxy.map(|p| p.url()).unwrap_or_else(|| endpoint.to_string());
    let mut out = [Measured::default(); 3];
    for (round, slot) in out.iter_mut().enumerate() {
        if round == 2 && matches!(side, Side::Cli(_)) {
            change_tenth(work.path(), CHANGE_ROUND)?;
        }
        let before = proxy.map(|p| requests(p, &bucket)).unwrap_or_default();
        let cmd = client(side, round, work.path(), &bucket, &url)?;
        // What setting up wrote is on disk first: each client waits only on its own writes.
        Command::new("sync").status()?;
        let (wall, cpu, rss_mib, printed) = tokio::task::block_in_place(|| timed(cmd))?;
        let after = proxy.map(|p| requests(p, &bucket)).unwrap_or_default();
        let printed = |prefix: &str| printed.lines().find_map(|l| l.strip_prefix(prefix)?.trim().parse::<f64>().ok());
        let (sync, read) = (printed("sync seconds ").unwrap_or(wall), printed("read seconds ").unwrap_or(0.0));
        let invalidated = printed("invalidation paths ").unwrap_or(0.0);
        let (puts, lists) = (after.0 - before.0, after.1 - before.1);
        *slot = Measured { wall, sync, read, invalidated: invalidated as usize, cpu, rss_mib, puts, lists };
    }
    remove_bucket(&s3, &bucket).await?;
    Ok(out)
}

/// PutObject requests (keys under the bucket) and ListObjects pages seen for `bucket`.
fn requests(proxy: &CountingProxy, bucket: &str) -> (usize, usize) {
    let (put, list) = (format!("PUT /{bucket}/"), [format!("GET /{bucket}"), format!("GET /{bucket}/")]);
    let snapshot = proxy.snapshot();
    let puts = snapshot.iter().filter(|(op, _)| op.starts_with(&put) && op.len() > put.len()).map(|(_, n)| n).sum();
    let lists = snapshot.iter().filter(|(op, _)| list.contains(op)).map(|(_, n)| n).sum();
    (puts, lists)
}

/// Empties and deletes a bench bucket, so a run holds one site's bytes at a time.
async fn remove_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    loop {
        let page = s3.list_objects_v2().bucket(bucket).send().await?;
        let keys: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| ObjectIdentifier::builder().set_key(o.key.clone()).build().ok())
            .collect();
        if keys.is_empty() {
            break;
        }
        s3.delete_objects().bucket(bucket).delete(Delete::builder().set_objects(Some(keys)).build()?).send().await?;
    }
    s3.delete_bucket().bucket(bucket).send().await?;
    Ok(())
}

/// PUTs per second a bare SDK loop reaches uploading these files from
/// memory (with their SHA-256 and the payload unsigned, as awsops sends them),
/// the best of [`CEILING_IN_FLIGHT`] at a time: what the server can take.
async fn put_ceiling(endpoint: &str, folder: &Path) -> anyhow::Result<(f64, usize)> {
    use base64::Engine;
    use futures::StreamExt;
    let s3 = s3_at(endpoint).await;
    let mut bodies = Vec::new();
    for path in walk(folder)? {
        let body = std::fs::read(&path)?;
        let sha = base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        bodies.push((path.strip_prefix(folder)?.to_string_lossy().into_owned(), sha, axum::body::Bytes::from(body)));
    }
    let mut best = (0.0, 0);
    for in_flight in CEILING_IN_FLIGHT {
        let bucket = support::unique("ceiling").to_lowercase();
        s3.create_bucket().bucket(&bucket).send().await?;
        let start = Instant::now();
        let puts = bodies.iter().map(|(key, sha, body)| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            async move {
                let put = s3.put_object().bucket(bucket).key(key).checksum_sha256(sha).body(body.clone().into());
                let put = put.checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256);
                put.customize().disable_payload_signing().send().await
            }
        });
        let results: Vec<_> = futures::stream::iter(puts).buffer_unordered(in_flight).collect().await;
        let rate = bodies.len() as f64 / start.elapsed().as_secs_f64();
        for r in results {
            r?;
        }
        remove_bucket(&s3, &bucket).await?;
        if rate > best.0 {
            best = (rate, in_flight);
        }
    }
    Ok(best)
}

/// Reads the test registry's storage once, so its blobs are served from the
/// page cache as the CLI's folder (just written) is read from it.
fn warm_registry() -> anyhow::Result<()> {
    let data = PathBuf::from(std::env::var("AWSOPS_TEST_ENV")?).join("registry/data");
    for path in walk(&data)? {
        std::io::copy(&mut std::fs::File::open(&path)?, &mut std::io::sink())?;
    }
    Ok(())
}

/// Pushes `folder` as a tar.gz artifact to the test registry: the reference by tag.
async fn push_site(folder: &Path, tag: &str) -> anyhow::Result<String> {
    let archive = tempfile::NamedTempFile::new()?;
    tar_gz(folder, archive.path())?;
    let (registry, _, _) = support::files::registry();
    let reference = format!("{registry}/bench/site:{tag}");
    support::files::push_artifact_file(&reference, archive.path()).await;
    Ok(reference)
}

async fn content_bench() -> anyhow::Result<()> {
    let servers = std::env::var("BENCH_S3_SERVERS").context("BENCH_S3_SERVERS=name=url,...")?;
    let (site, changed) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let bytes = generate(site.path())?;
    copy_dir(site.path(), changed.path())?;
    change_tenth(changed.path(), CHANGE_ROUND)?;
    let cold = push_site(site.path(), "cold").await?;
    let refs = [cold.clone(), cold, push_site(changed.path(), "changed").await?];
    println!("## Content sync: awsops vs `aws s3 sync`\n");
    println!(
        "A generated site of {FILES} files, {:.0} MiB in 100 nested folders (60% 16 KiB, 25% 64 KiB, 10% 256 KiB, 5% 1 MiB; random bytes), pushed to the test registry (docker-registry over TLS, with a login) as an OCI artifact in Flux's layout. awsops: one pass of the reconciler's content step in its own process (manifest read, tag resolved, layer pulled and unpacked to a work folder only when the bucket does not hold it, sync); `aws s3 sync`: the same folder, already unpacked. Each client is a fresh process (start-up included) under `/usr/bin/time`; CPU = user + system seconds, RSS = peak resident set of the client. Rounds: cold, again with nothing changed, then a tenth of the files rewritten (a new artifact for awsops). PUTs and LIST pages counted at a proxy in a second, identical pass.\n",
        bytes as f64 / 1048576.0
    );
    for server in servers.split(',') {
        let (name, endpoint) = server.split_once('=').context("name=url")?;
        let (ceiling, in_flight) = put_ceiling(endpoint, site.path()).await?;
        warm_registry()?;
        let ours = three_syncs(&Side::Awsops(&refs), endpoint, None).await?;
        let theirs = three_syncs(&Side::Cli(site.path()), endpoint, None).await?;
        let proxy = CountingProxy::start(endpoint).await;
        let ours_n = three_syncs(&Side::Awsops(&refs), endpoint, Some(&proxy)).await?;
        let theirs_n = three_syncs(&Side::Cli(site.path()), endpoint, Some(&proxy)).await?;
        let (whole, uploads) = (FILES as f64 / ours[0].wall, FILES as f64 / ours[0].sync);
        println!(
            "### {name}: ceiling {ceiling:.0} PUT/s (bare SDK, these files from memory, {in_flight} in flight)\n\nawsops cold: {uploads:.0} PUT/s while uploading ({:.0}% of the ceiling), {whole:.0} files/s over the whole pass ({:.0}%), of which {:.1} s pulling and unpacking.\n",
            100.0 * uploads / ceiling,
            100.0 * whole / ceiling,
            ours[0].read
        );
        println!(
            "| run | awsops wall s | aws CLI wall s | wall ratio | awsops CPU s | aws CLI CPU s | CPU ratio | awsops peak RSS MiB | aws CLI peak RSS MiB | awsops PUTs / LIST pages | aws CLI PUTs / LIST pages |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for (i, run) in ["cold", "re-sync, nothing changed", "re-sync, 10% changed"].iter().enumerate() {
            let (a, b, an, bn) = (ours[i], theirs[i], ours_n[i], theirs_n[i]);
            println!(
                "| {run} | {:.2} | {:.2} | {:.2}x faster | {:.2} | {:.2} | {:.2} of the CLI's | {:.0} | {:.0} | {} / {} | {} / {} |",
                a.wall,
                b.wall,
                b.wall / a.wall,
                a.cpu,
                b.cpu,
                a.cpu / b.cpu,
                a.rss_mib,
                b.rss_mib,
                an.puts,
                an.lists,
                bn.puts,
                bn.lists
            );
        }
        let paths = ours[2].invalidated;
        println!(
            "\nThe 10% round asks CloudFront for one invalidation of {paths} paths (no distribution here: counted, not sent).\n"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- failover

async fn failover_bench(runs: usize) -> anyhow::Result<()> {
    let stage = support::Stage::new("bench-af").await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let controller = stage.controller(&["--leader-election=false"], &[]);
    let api: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    // Wait until the controller is up (its metrics answer) so start-up is not counted.
    support::eventually(Duration::from_secs(30), || async { controller.metrics().await }).await;

    println!("## Failover overhead\n");
    println!(
        "Creation of the AuroraFailover to `Succeeded` seen through the API server (polled every 10 ms), against the emulator's own swap (FailoverDBCluster until DescribeDBClusters shows the new writer, by a bare client). {runs} runs.\n"
    );
    println!("| run | creation to Succeeded s | emulator swap s | overhead s | DescribeDBClusters calls |");
    println!("|---|---|---|---|---|");
    let mut overheads = Vec::new();
    for run in 0..runs {
        let seed = |name: String| {
            let rds = rds.clone();
            async move {
                let (w, r0) = (format!("{name}-w"), format!("{name}-r0"));
                support::aurora::seed_cluster(
                    &rds,
                    &name,
                    "aurora-mysql",
                    &[(&w, 1, "db.r6g.large"), (&r0, 0, "db.r6g.large")],
                )
                .await;
                name
            }
        };
        // The emulator's swap, measured on a twin cluster with a bare client.
        let twin = seed(support::unique("twin")).await;
        let start = Instant::now();
        rds.failover_db_cluster()
            .db_cluster_identifier(&twin)
            .target_db_instance_identifier(format!("{twin}-r0"))
            .send()
            .await?;
        while support::aurora::writer(&rds, &twin).await != format!("{twin}-r0") {}
        let swap = start.elapsed().as_secs_f64();

        let cluster = seed(support::unique("bench")).await;
        let describes = stage.proxy.count("DescribeDBClusters");
        let name = format!("af-{run}");
        let af: AuroraFailover = serde_json::from_value(
            json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": name}, "spec": {"clusterIdentifier": cluster}}),
        )?;
        let start = Instant::now();
        api.create(&PostParams::default(), &af).await?;
        loop {
            let phase = api.get(&name).await?.status.and_then(|s| s.phase);
            if phase == Some(FailoverPhase::Succeeded) {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("{name} did not succeed in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let total = start.elapsed().as_secs_f64();
        let calls = stage.proxy.count("DescribeDBClusters") - describes;
        overheads.push(total - swap);
        println!("| {} | {total:.3} | {swap:.3} | {:.3} | {calls} |", run + 1, total - swap);
    }
    overheads.sort_by(f64::total_cmp);
    println!("\nMedian overhead: {:.3} s.\n", overheads[overheads.len() / 2]);
    Ok(())
}

// ---------------------------------------------------------------- outage

async fn outage_bench(runs: usize) -> anyhow::Result<()> {
    let stage = support::Stage::new("bench-outage").await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let api: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    let password = support::simulated::PASSWORD;
    support::simulated::login_secret(&stage.client, &stage.ns, "probe", password, true).await;
    println!("## Write outage: measured by awsops vs scripted\n");
    println!(
        "{runs} failovers of a simulated cluster (one MariaDB server per instance on loopback, DNS with the RDS TTL of 5 s; the old writer stops at 0.5 s and is back read-only at 4 s, the target stops at 1 s and is back writable at 5 s, the cluster endpoint flips at 6 s; the emulator shows the swap at 8 s). Scripted outage: from the old writer's stop to the flip, as the harness played it. Measured: `status.verification.writeOutageSeconds` of an AuroraFailover with `spec.verify.writeProbe` (a new connection every 250 ms, resolved by the controller's caching resolver).\n"
    );
    println!("| run | scripted s | measured s | difference s | probe errors |");
    println!("|---|---|---|---|---|");
    let mut differences = Vec::new();
    for run in 0..runs {
        let cluster = support::unique("outage");
        let (w, r0, r2) = (format!("{cluster}-w1"), format!("{cluster}-r0"), format!("{cluster}-r2"));
        let members =
            [(w.as_str(), 1, "db.r6g.large"), (r0.as_str(), 0, "db.r6g.large"), (r2.as_str(), 2, "db.r6g.large")];
        support::aurora::seed_cluster(&rds, &cluster, "aurora-mysql", &members).await;
        support::aurora::failover_takes(&rds, &cluster, 8).await;
        let sim = support::simulated::SimulatedCluster::start(&rds, &cluster, None).await;
        let dns = sim.dns.addr.to_string();
        let controller = stage.controller(&["--leader-election=false", "--dns-server", &dns], &[]);
        let play = tokio::spawn(sim.play(r0.clone(), support::simulated::Timing::default(), Duration::from_secs(120)));
        let name = format!("outage-{run}");
        let af: AuroraFailover = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": name},
            "spec": {"clusterIdentifier": cluster, "verify": {"writeProbe": {"secretRef": {"name": "probe"}}}},
        }))?;
        api.create(&PostParams::default(), &af).await?;
        let status = support::eventually(Duration::from_secs(180), || async {
            api.get(&name).await.ok()?.status.filter(|s| s.phase == Some(FailoverPhase::Succeeded))
        })
        .await
        .with_context(|| format!("{name} did not succeed:\n{}", controller.log()))?;
        let (_sim, played) = play.await?;
        let verification = status.verification.unwrap_or_default();
        let measured = verification.write_outage_seconds.and_then(|n| n.as_f64()).context("no outage figure")?;
        let scripted = played.outage_seconds().context("the script did not play")?;
        differences.push(measured - scripted);
        println!(
            "| {} | {scripted:.2} | {measured:.2} | {:+.2} | {:?} |",
            run + 1,
            measured - scripted,
            verification.probe_errors
        );
        controller.terminate().await;
    }
    differences.sort_by(f64::total_cmp);
    let worst = differences.iter().copied().fold(0.0_f64, |a, b| if b.abs() > a.abs() { b } else { a });
    println!("\nMedian difference: {:+.2} s; worst: {worst:+.2} s.\n", differences[differences.len() / 2]);
    Ok(())
}

// ---------------------------------------------------------------- fleet

/// A `/proc/<pid>/status` field in KiB, e.g. `VmHWM` (peak RSS) or `VmRSS`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime, in clock ticks of 1/100 s.
    (tick(11) + tick(12)) / 100.0
}

fn split(proxy: &CountingProxy) -> (usize, usize) {
    let all = proxy.snapshot();
    let writes = all.iter().filter(|(op, _)| support::proxy::is_write(op)).map(|(_, n)| n).sum();
    let total: usize = all.iter().map(|(_, n)| n).sum();
    (total - writes, writes)
}

/// StaticSite reconciles the controller has finished.
async fn reconciles(controller: &support::ControllerProcess) -> f64 {
    controller.sample(r#"awsops_reconcile_duration_seconds_count{kind="StaticSite"}"#).await
}

async fn fleet_bench(plain: usize) -> anyhow::Result<()> {
    let with_domain = plain / 10;
    let stage = support::Stage::new("bench-fleet").await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let route53 = aws_sdk_route53::Client::new(&conf);
    let zone = format!("{}.example", support::unique("fleet"));
    route53.create_hosted_zone().name(&zone).caller_reference(support::unique("ref")).send().await?;
    let cms: Api<ConfigMap> = Api::namespaced(stage.client.clone(), &stage.ns);
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "pages"}, "data": {"index.html": "<h1>fleet</h1>", "app.js": "1"}}),
    )?;
    cms.patch("pages", &PatchParams::apply("bench"), &Patch::Apply(&cm)).await?;
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    // The controller's defaults: 600 s resync, 8 reconciles at a time.
    let controller = stage.controller(&["--leader-election=false"], &[]);
    support::eventually(Duration::from_secs(30), || async { controller.metrics().await }).await;
    let pid = controller.pid();
    let cpu_at_start = cpu_seconds(pid);

    let start = Instant::now();
    for i in 0..plain + with_domain {
        let mut spec = json!({"content": {"configMaps": [{"name": "pages"}]}});
        if i >= plain {
            spec["domain"] = json!({"names": [format!("s{i}.{zone}")], "hostedZoneName": zone});
        }
        let site: StaticSite = serde_json::from_value(
            json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": format!("s{i}")}, "spec": spec}),
        )?;
        sites.create(&PostParams::default(), &site).await?;
    }
    let total = plain + with_domain;
    loop {
        let list = sites.list(&Default::default()).await?;
        let ready =
            list.items.iter().filter(|s| s.status.as_ref().and_then(|s| s.phase) == Some(SitePhase::Ready)).count();
        if ready == total {
            break;
        }
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("{ready}/{total} Ready after an hour");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let converge = start.elapsed().as_secs_f64();
    let (hwm, cpu_converged) = (status_kib(pid, "VmHWM"), cpu_seconds(pid));
    let (reads_create, writes_create) = split(&stage.proxy);

    // One look at every site in sync, as a resync makes it: an annotation
    // wakes each site once (the controller's resync is 600 s).
    let before = reconciles(&controller).await;
    let look = Instant::now();
    for i in 0..total {
        let poke = json!({"metadata": {"annotations": {"bench.awsops.dev/look": "1"}}});
        sites.patch(&format!("s{i}"), &PatchParams::default(), &Patch::Merge(&poke)).await?;
    }
    while reconciles(&controller).await < before + total as f64 {
        if look.elapsed() > Duration::from_secs(3600) {
            bail!("the look at every site did not finish in an hour");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let look_seconds = look.elapsed().as_secs_f64();
    let (reads_look, writes_look) = split(&stage.proxy);

    // Then idle: one minute with nothing to do.
    let cpu_before_idle = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let cpu_idle = cpu_seconds(pid) - cpu_before_idle;
    let (reads_idle, writes_idle) = split(&stage.proxy);

    println!(
        "| {plain} + {with_domain} | {converge:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {look_seconds:.0} | {:.0} | {cpu_idle:.2} | {} |",
        hwm as f64 / 1024.0,
        cpu_converged - cpu_at_start,
        (reads_create + writes_create) as f64 / total as f64,
        writes_create as f64 / total as f64,
        (reads_look - reads_create) as f64 / total as f64,
        writes_look - writes_create,
        status_kib(pid, "VmRSS") as f64 / 1024.0,
        reads_idle + writes_idle - reads_look - writes_look,
    );
    Ok(())
}
