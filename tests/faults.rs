//! Convergence under faults: every AWS call goes through a proxy that adds
//! 100 ms and fails 20% of requests (each service's own throttling error, 500
//! and 503 before the emulator sees them, or a 500 after it acted: a lost
//! response). Sites and failovers still converge, and the emulator holds
//! exactly one of each resource: no retry leaves a duplicate behind.

mod support;

use std::time::Duration;

use awsops::api::aurora_failover::{AuroraFailover, FailoverPhase};
use awsops::api::static_site::{SitePhase, StaticSite};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::proxy::Faults;
use support::*;

const SITES: usize = 8;
const FAILOVERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_and_failovers_converge_through_throttling_errors_and_lost_responses_without_duplicates() {
    let faults = Faults { rate: 0.2, latency: Duration::from_millis(100), seed: 20261126 };
    let stage = Stage::with_faults("faults", faults).await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let cloudfront = aws_sdk_cloudfront::Client::new(&conf);

    let mut clusters = Vec::new();
    for _ in 0..FAILOVERS {
        let cluster = unique("faulty");
        let (w1, r0) = (format!("{cluster}-w1"), format!("{cluster}-r0"));
        aurora::seed_cluster(&rds, &cluster, "aurora-mysql", &[(&w1, 1, "db.r6g.large"), (&r0, 0, "db.r6g.large")])
            .await;
        clusters.push(cluster);
    }
    let cms: Api<ConfigMap> = Api::namespaced(stage.client.clone(), &stage.ns);
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "pages"}, "data": {"index.html": "<h1>x</h1>", "app.js": "1"}}),
    )
    .expect("cm");
    cms.patch("pages", &PatchParams::apply("tests"), &Patch::Apply(&cm)).await.expect("configmap");
    let _controller = stage.controller(&["--resync-seconds", "30"], &[]);

    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    for i in 0..SITES {
        let site: StaticSite = serde_json::from_value(json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": format!("site-{i}")}, "spec": {"content": {"configMaps": [{"name": "pages"}]}}})).expect("site");
        sites.create(&PostParams::default(), &site).await.expect("site created");
    }
    let failovers: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    for (i, cluster) in clusters.iter().enumerate() {
        let af: AuroraFailover = serde_json::from_value(json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": format!("failover-{i}")}, "spec": {"clusterIdentifier": cluster}})).expect("af");
        failovers.create(&PostParams::default(), &af).await.expect("af created");
    }

    let converged = eventually(Duration::from_secs(240), || async {
        let all_sites = sites.list(&Default::default()).await.ok()?;
        let all_failovers = failovers.list(&Default::default()).await.ok()?;
        let sites_ready =
            all_sites.items.iter().all(|s| s.status.as_ref().and_then(|s| s.phase) == Some(SitePhase::Ready));
        let failovers_done = all_failovers
            .items
            .iter()
            .all(|f| f.status.as_ref().and_then(|s| s.phase) == Some(FailoverPhase::Succeeded));
        (sites_ready && failovers_done).then_some((all_sites.items, all_failovers.items))
    })
    .await;
    let (all_sites, _) =
        converged.unwrap_or_else(|| panic!("not converged in 240 s; proxy: {:?}", stage.proxy.snapshot()));

    let injected: usize = stage.proxy.snapshot().iter().map(|(_, n)| n).sum::<usize>();
    assert!(injected > 100, "the run made {injected} requests; faults need traffic to mean something");
    let distributions = cloudfront.list_distributions().send().await.expect("list");
    let distributions = distributions.distribution_list().map(|l| l.items().to_vec()).unwrap_or_default();
    let oacs = cloudfront.list_origin_access_controls().send().await.expect("oacs");
    let oacs = oacs.origin_access_control_list().map(|l| l.items().to_vec()).unwrap_or_default();
    for site in &all_sites {
        let status = site.status.as_ref().expect("status");
        let bucket = &status.bucket.as_ref().expect("bucket").name;
        let origin = format!("{bucket}.s3.us-east-1.amazonaws.com");
        let count = distributions
            .iter()
            .filter(|d| d.origins().is_some_and(|o| o.items().iter().any(|o| o.domain_name() == origin)))
            .count();
        assert_eq!(count, 1, "{}: distributions for its bucket", site.metadata.name.as_deref().unwrap_or_default());
        let uid = site.metadata.uid.as_deref().unwrap_or_default();
        assert_eq!(oacs.iter().filter(|o| o.name() == format!("awsops-{uid}")).count(), 1, "one OAC per site");
    }
    for cluster in &clusters {
        assert_eq!(aurora::writer(&rds, cluster).await, format!("{cluster}-r0"));
    }
    assert_eq!(
        stage.proxy.forwarded("FailoverDBCluster"),
        FAILOVERS,
        "exactly one FailoverDBCluster reached RDS per failover"
    );
}
