//! Security invariants on the real API server and emulator: credentials never
//! reach logs, status or events; a DNS record someone else owns is never
//! overwritten.

mod support;

use std::time::Duration;

use awsops::api::aurora_failover::{AuroraFailover, FailoverPhase};
use awsops::api::static_site::{SitePhase, StaticSite};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::*;

#[tokio::test]
async fn credentials_never_appear_in_logs_status_or_events() {
    let stage = Stage::new("secrets").await;
    let marker_key = "AKIAAWSOPSMARKER0001";
    let marker_secret = "awsopsSECRETmarker/9f8e7d6c5b4a3210zyxw";
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let cluster = unique("secret");
    let (w1, r0) = (format!("{cluster}-w1"), format!("{cluster}-r0"));
    aurora::seed_cluster(&rds, &cluster, "aurora-mysql", &[(&w1, 1, "db.r6g.large"), (&r0, 0, "db.r6g.large")]).await;
    let controller = stage.controller(
        &[],
        &[("AWS_ACCESS_KEY_ID", marker_key), ("AWS_SECRET_ACCESS_KEY", marker_secret), ("RUST_LOG", "debug")],
    );
    let failovers: Api<AuroraFailover> = Api::namespaced(stage.client.clone(), &stage.ns);
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    let af: AuroraFailover = serde_json::from_value(json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": "f"}, "spec": {"clusterIdentifier": cluster}})).expect("af");
    failovers.create(&PostParams::default(), &af).await.expect("created");
    let site: StaticSite = serde_json::from_value(json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": "s"}, "spec": {"content": {"configMaps": [{"name": "absent"}]}}})).expect("site");
    sites.create(&PostParams::default(), &site).await.expect("created");
    let done = eventually(Duration::from_secs(60), || async {
        let f = failovers.get("f").await.ok()?.status?.phase? == FailoverPhase::Succeeded;
        let s = sites.get("s").await.ok()?.status?.phase? == SitePhase::Failed;
        (f && s).then_some(())
    })
    .await;
    assert!(done.is_some(), "did not settle:\n{}", controller.log());

    let everything = [
        controller.log(),
        kubectl(&["get", "aurorafailovers,staticsites", "-n", &stage.ns, "-o", "yaml"]),
        kubectl(&["get", "events.events.k8s.io", "-n", &stage.ns, "-o", "yaml"]),
        controller.metrics().await.unwrap_or_default(),
    ]
    .join("\n");
    assert!(
        everything.contains("FailoverDBCluster") || everything.contains("Succeeded"),
        "the search covers real output"
    );
    for secret in [marker_key, marker_secret, "AWSOPSMARKER", "SECRETmarker"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn a_dns_record_someone_else_owns_stalls_the_site_and_stays_as_it_was() {
    let stage = Stage::new("dns-conflict").await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let route53 = aws_sdk_route53::Client::new(&conf);
    let zone_name = format!("{}.example", unique("taken"));
    let zone =
        route53.create_hosted_zone().name(&zone_name).caller_reference(unique("ref")).send().await.expect("zone");
    let zone_id = zone.hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string();
    let host = format!("www.{zone_name}");
    let a = aws_sdk_route53::types::RrType::A;
    support::handmade::hand_made_record(&route53, &zone_id, &host, a, "192.0.2.10").await;

    let _controller = stage.controller(&[], &[]);
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    let site: StaticSite = serde_json::from_value(json!({"apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": "clash"}, "spec": {"domain": {"names": [host], "hostedZoneName": zone_name}}})).expect("site");
    sites.create(&PostParams::default(), &site).await.expect("created");
    let stalled = eventually(Duration::from_secs(60), || async {
        let status = sites.get("clash").await.ok()?.status?;
        status.conditions.into_iter().find(|c| c.type_ == "Stalled" && c.status == "True")
    })
    .await
    .expect("Stalled within 60 s");
    assert_eq!(stalled.reason, "RecordOwnedElsewhere");
    assert!(stalled.message.contains(&host), "{}", stalled.message);
    let records = route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let a: Vec<_> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name() == format!("{host}.") && r.r#type().as_str() == "A")
        .collect();
    assert_eq!(a.len(), 1);
    assert!(
        a[0].alias_target().is_none() && a[0].resource_records()[0].value() == "192.0.2.10",
        "their record is untouched"
    );
    assert!(
        !records.resource_record_sets().iter().any(|r| r.name() == format!("_awsops.{host}.")),
        "no ownership record claimed"
    );
}
