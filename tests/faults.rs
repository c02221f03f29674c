//! Convergence under faults and crashes: every AWS call goes through a proxy
//! that adds 100 ms and fails 20% of requests (each service's own throttling
//! error, 500 and 503 before the emulator sees them, or, after it acted, a 500
//! or a connection dropped mid-response: a lost response), while the
//! controller is killed with SIGKILL ten times at random moments. 50 sites and
//! 10 failovers still converge, the emulator holds exactly one of each
//! resource per site and one FailoverDBCluster per failover, Route 53 never
//! sees more than 5 requests in a second, and deleting the sites leaves
//! nothing behind but the buckets they retain.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use awsops::api::aurora_failover::{AuroraFailover, FailoverPhase};
use awsops::api::static_site::{DeletionPolicy, SitePhase, StaticSite};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::proxy::Faults;
use support::*;

const PLAIN_SITES: usize = 40;
const DOMAIN_SITES: usize = 10;
const FAILOVERS: usize = 10;
const CRASHES: usize = 10;
const SEED: u64 = 20261126;

/// What the emulator holds that a site may have created, keyed for counting.
struct Holdings {
    /// Origin domain of every distribution.
    origins: Vec<String>,
    /// (id, name) of every origin access control.
    oacs: Vec<(String, String)>,
    /// Domain name of every certificate.
    certificates: Vec<String>,
    /// `TYPE name` of every record in the zone.
    records: Vec<String>,
    buckets: Vec<String>,
}

impl Holdings {
    async fn of(aws: &Emulator, zone_id: &str) -> Self {
        let origins = listing::distribution_origins(&aws.cloudfront).await;
        let oacs = listing::oacs(&aws.cloudfront).await;
        let certificates = listing::certificate_domains(&aws.acm).await;
        let sets = aws.route53.list_resource_record_sets().hosted_zone_id(zone_id).send().await.expect("records");
        let records =
            sets.resource_record_sets().iter().map(|r| format!("{} {}", r.r#type().as_str(), r.name())).collect();
        let buckets = aws.s3.list_buckets().send().await.expect("buckets");
        let buckets = buckets.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect();
        Holdings { origins, oacs, certificates, records, buckets }
    }
}

fn count<T: PartialEq>(items: &[T], wanted: impl Fn(&T) -> bool) -> usize {
    items.iter().filter(|i| wanted(i)).count()
}

/// xorshift64 for reproducible crash moments.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn fifty_sites_and_ten_failovers_converge_through_faults_and_ten_crashes_without_duplicates_or_orphans() {
    let faults = Faults { rate: 0.2, latency: Duration::from_millis(100), seed: SEED };
    let stage = Stage::with_faults("faults", faults).await;
    let aws = Emulator::new().await;

    let mut clusters = Vec::new();
    for _ in 0..FAILOVERS {
        let cluster = unique("faulty");
        let (w1, r0) = (format!("{cluster}-w1"), format!("{cluster}-r0"));
        aurora::seed_cluster(&aws.rds, &cluster, "aurora-mysql", &[(&w1, 1, "db.r6g.large"), (&r0, 0, "db.r6g.large")])
            .await;
        clusters.push(cluster);
    }
    let zone_name = format!("{}.example", unique("fleet"));
    let zone = aws.route53.create_hosted_zone().name(&zone_name).caller_reference(unique("ref")).send().await;
    let zone_id = zone.expect("zone").hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string();
    let cms: Api<ConfigMap> = Api::namespaced(stage.client.clone(), &stage.ns);
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "pages"}, "data": {"index.html": "<h1>x</h1>", "app.js": "1"}}),
    )
    .expect("cm");
    cms.patch("pages", &PatchParams::apply("tests"), &Patch::Apply(&cm)).await.expect("configmap");

    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    let mut hosts = BTreeMap::new();
    for i in 0..PLAIN_SITES + DOMAIN_SITES {
        let name = format!("site-{i}");
        let policy = if i % 2 == 0 { "Delete" } else { "Retain" };
        let mut spec = json!({"bucket": {"deletionPolicy": policy}, "content": {"configMaps": [{"name": "pages"}]}});
        if i >= PLAIN_SITES {
            let host = format!("{name}.{zone_name}");
            spec["domain"] = json!({"names": [host], "hostedZoneName": zone_name});
            hosts.insert(name.clone(), host);
        }
        let site: StaticSite = serde_json::from_value(
            json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": name}, "spec": spec}),
        )
        .expect("site");
        sites.create(&PostParams::default(), &site).await.expect("site created");
    }
    let failovers: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    for (i, cluster) in clusters.iter().enumerate() {
        let af: AuroraFailover = serde_json::from_value(json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": format!("failover-{i}")}, "spec": {"clusterIdentifier": cluster}})).expect("af");
        failovers.create(&PostParams::default(), &af).await.expect("af created");
    }

    // Ten crashes at random moments of the rollout, each followed by a fresh start.
    let args = ["--resync-seconds", "30", "--leader-election=false"];
    let mut rng = SEED;
    for _ in 0..CRASHES {
        let controller = stage.controller(&args, &[]);
        tokio::time::sleep(Duration::from_millis(500 + next(&mut rng) % 4500)).await;
        controller.kill();
    }
    let controller = stage.controller(&args, &[]);

    // An upper bound, not a measure: a failover call refused by a fault is sent again after 35 s.
    let converged = eventually(Duration::from_secs(900), || async {
        let all_sites = sites.list(&Default::default()).await.ok()?;
        let all_failovers = failovers.list(&Default::default()).await.ok()?;
        let sites_ready =
            all_sites.items.iter().all(|s| s.status.as_ref().and_then(|s| s.phase) == Some(SitePhase::Ready));
        let failovers_done = all_failovers
            .items
            .iter()
            .all(|f| f.status.as_ref().and_then(|s| s.phase) == Some(FailoverPhase::Succeeded));
        (sites_ready && failovers_done).then_some(all_sites.items)
    })
    .await;
    let all_sites = converged.unwrap_or_else(|| {
        panic!("not converged in 600 s; proxy: {:?}\nlog:\n{}", stage.proxy.snapshot(), controller.log())
    });

    let requests: usize = stage.proxy.snapshot().iter().map(|(_, n)| n).sum::<usize>();
    assert!(requests > 1000, "the run made {requests} requests; faults need traffic to mean something");
    let held = Holdings::of(&aws, &zone_id).await;
    let mut buckets = Vec::new();
    for site in &all_sites {
        let name = site.metadata.name.clone().unwrap_or_default();
        let status = site.status.as_ref().expect("status");
        let bucket = status.bucket.as_ref().expect("bucket").name.clone();
        let origin = format!("{bucket}.s3.us-east-1.amazonaws.com");
        assert_eq!(count(&held.origins, |o| *o == origin), 1, "{name}: one distribution for its bucket");
        let uid = site.metadata.uid.as_deref().unwrap_or_default();
        let oac = status.origin_access_control_id.clone().unwrap_or_default();
        let signs_with = held.oacs.iter().find(|(id, _)| *id == oac).map(|(_, n)| n.clone()).unwrap_or_default();
        assert!(signs_with.starts_with("awsops-oac-"), "{name}: signs with a pool member, not {signs_with:?}");
        assert_eq!(count(&held.oacs, |(_, n)| n.contains(uid)), 0, "{name}: no OAC of its own");
        assert_eq!(count(&held.buckets, |b| *b == bucket), 1, "{name}: its bucket");
        if let Some(host) = hosts.get(&name) {
            assert_eq!(count(&held.certificates, |c| c == host), 1, "{name}: one certificate");
            for type_ in ["A", "AAAA", "TXT"] {
                let record = if type_ == "TXT" { format!("TXT _awsops.{host}.") } else { format!("{type_} {host}.") };
                assert_eq!(count(&held.records, |r| *r == record), 1, "{name}: one {type_} record set");
            }
        }
        buckets.push((bucket, site.spec.bucket.deletion_policy));
    }
    for cluster in &clusters {
        assert_eq!(aurora::writer(&aws.rds, cluster).await, format!("{cluster}-r0"));
    }
    assert_eq!(
        stage.proxy.forwarded("FailoverDBCluster"),
        FAILOVERS,
        "exactly one FailoverDBCluster reached RDS per failover, through {CRASHES} crashes"
    );
    let peak = stage.proxy.peak_per_second("/2013-04-01/");
    assert!(peak <= 5, "Route 53 saw {peak} requests in one second; its limit is 5");

    // Deleting every site leaves nothing behind but the retained buckets.
    sites.delete_collection(&DeleteParams::default(), &Default::default()).await.expect("sites deleted");
    let gone = eventually(Duration::from_secs(600), || async {
        sites.list(&Default::default()).await.ok()?.items.is_empty().then_some(())
    })
    .await;
    assert!(gone.is_some(), "sites not cleaned up in 600 s; log:\n{}", controller.log());
    let held = Holdings::of(&aws, &zone_id).await;
    for (bucket, policy) in &buckets {
        let origin = format!("{bucket}.s3.us-east-1.amazonaws.com");
        assert_eq!(count(&held.origins, |o| *o == origin), 0, "{bucket}: distribution deleted");
        let retained = *policy == DeletionPolicy::Retain;
        assert_eq!(count(&held.buckets, |b| b == bucket), usize::from(retained), "{bucket}: retained only with Retain");
    }
    let uids: Vec<String> = all_sites.iter().filter_map(|s| s.metadata.uid.clone()).collect();
    assert_eq!(count(&held.oacs, |(_, n)| uids.iter().any(|u| n.contains(u.as_str()))), 0, "no OAC of a site left");
    let pool = count(&held.oacs, |(_, n)| n.starts_with("awsops-oac-"));
    assert!(pool <= 2, "{pool} pool members for {} sites: they share, not one per site", PLAIN_SITES + DOMAIN_SITES);
    for host in hosts.values() {
        assert_eq!(count(&held.certificates, |c| c == host), 0, "{host}: certificate deleted");
        assert_eq!(count(&held.records, |r| r.contains(host.as_str())), 0, "{host}: records deleted");
    }
}
