//! Proof of ownership before every change (API.md, "Ownership"), on the real
//! API server and emulator: what a StaticSite's status names, and what shares
//! its bucket as origin, is changed or deleted only once proven the site's own.
//! Each test asserts the victim is unchanged in the emulator and that no write
//! reached it through the proxy.

mod support;

use std::time::Duration;

use awsops::api::static_site::{StaticSite, StaticSiteStatus};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::handmade::{enabled, hand_made_distribution, hand_made_oac};
use support::*;

/// Writes that reached one distribution or OAC through the proxy.
fn writes_to(stage: &Stage, id: &str) -> Vec<(String, usize)> {
    stage.proxy.writes().into_iter().filter(|(op, _)| op.contains(id)).collect()
}

async fn site(sites: &Api<StaticSite>, name: &str, spec: serde_json::Value) {
    let site: StaticSite = serde_json::from_value(json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": name}, "spec": spec,
    }))
    .expect("site");
    sites.create(&PostParams::default(), &site).await.expect("site created");
}

async fn until(
    sites: &Api<StaticSite>,
    controller: &ControllerProcess,
    name: &str,
    done: impl Fn(&StaticSiteStatus) -> bool,
) -> StaticSiteStatus {
    let got = eventually(Duration::from_secs(90), || async { sites.get(name).await.ok()?.status.filter(|s| done(s)) });
    match got.await {
        Some(status) => status,
        None => panic!("{name}: {:#?}\nlog:\n{}", sites.get(name).await.ok().and_then(|s| s.status), controller.log()),
    }
}

fn stalled_reason(status: &StaticSiteStatus) -> Option<&str> {
    status.conditions.iter().find(|c| c.type_ == "Stalled" && c.status == "True").map(|c| c.reason.as_str())
}

async fn gone(sites: &Api<StaticSite>, controller: &ControllerProcess, name: &str) {
    sites.delete(name, &DeleteParams::default()).await.expect("delete");
    let removed =
        eventually(Duration::from_secs(120), || async { sites.get_opt(name).await.ok()?.is_none().then_some(()) });
    assert!(removed.await.is_some(), "{name} still has its finalizer:\n{}", controller.log());
}

#[tokio::test]
async fn a_hand_made_distribution_on_a_bucket_a_stalled_site_named_survives_the_sites_deletion() {
    let stage = Stage::new("own-migrate").await;
    let aws = Emulator::new().await;
    let region = std::env::var("AWS_REGION").expect("AWS_REGION is set by make test");
    let bucket = unique("logic-example");
    aws.s3.create_bucket().bucket(&bucket).send().await.expect("hand-made bucket");
    aws.s3.put_object().bucket(&bucket).key("index.html").body(b"theirs".to_vec().into()).send().await.expect("file");
    let theirs = hand_made_distribution(&aws.cloudfront, &format!("{bucket}.s3.{region}.amazonaws.com")).await;
    let controller = stage.controller(&[], &[]);
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    site(&sites, "migrating", json!({"region": region, "bucket": {"name": bucket, "deletionPolicy": "Delete"}})).await;
    let status = until(&sites, &controller, "migrating", |s| stalled_reason(s).is_some()).await;
    assert_eq!(stalled_reason(&status), Some("BucketNotOwned"));

    gone(&sites, &controller, "migrating").await;
    assert_eq!(enabled(&aws.cloudfront, &theirs).await, Some(true), "the hand-made distribution is untouched");
    assert_eq!(writes_to(&stage, &theirs), vec![], "no write reached the hand-made distribution");
    let file = aws.s3.get_object().bucket(&bucket).key("index.html").send().await;
    assert!(file.is_ok(), "the hand-made bucket keeps its files");
    assert_eq!(stage.proxy.writes(), vec![], "the site changed nothing in AWS");
}

#[tokio::test]
async fn forged_status_ids_stall_the_site_and_its_deletion_removes_only_what_it_created() {
    let stage = Stage::new("own-forged").await;
    let aws = Emulator::new().await;
    let victim_bucket = unique("victim");
    let victim = hand_made_distribution(&aws.cloudfront, &format!("{victim_bucket}.s3.us-east-1.amazonaws.com")).await;
    let victim_oac = hand_made_oac(&aws.cloudfront).await;
    let cms: Api<ConfigMap> = Api::namespaced(stage.client.clone(), &stage.ns);
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "pages"}, "data": {"index.html": "x"}})).expect("cm");
    cms.create(&PostParams::default(), &cm).await.expect("configmap");
    let controller = stage.controller(&[], &[]);
    let sites: Api<StaticSite> = Api::namespaced(stage.client.clone(), &stage.ns);
    site(&sites, "forger", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let ready = until(&sites, &controller, "forger", |s| s.phase == Some(awsops::api::SitePhase::Ready)).await;
    let own = ready.distribution.expect("its distribution").id;
    let own_oac = ready.origin_access_control_id.expect("its OAC");

    let forged = json!({"status": {"distribution": {"id": victim}, "originAccessControlId": victim_oac}});
    sites.patch_status("forger", &PatchParams::default(), &Patch::Merge(&forged)).await.expect("status forged");
    let wake = json!({"metadata": {"annotations": {"awsops.dev/requested-at": "forged"}}});
    sites.patch("forger", &PatchParams::default(), &Patch::Merge(&wake)).await.expect("annotated");
    let status = until(&sites, &controller, "forger", |s| stalled_reason(s).is_some()).await;
    assert_eq!(stalled_reason(&status), Some("NotOwned"));

    gone(&sites, &controller, "forger").await;
    assert_eq!(enabled(&aws.cloudfront, &victim).await, Some(true), "the victim distribution is untouched");
    assert!(aws.cloudfront.get_origin_access_control().id(&victim_oac).send().await.is_ok(), "the victim OAC stays");
    assert_eq!(writes_to(&stage, &victim), vec![], "no write reached the victim distribution");
    assert_eq!(writes_to(&stage, &victim_oac), vec![], "no write reached the victim OAC");
    assert!(aws.cloudfront.get_distribution().id(&own).send().await.is_err(), "its own distribution {own} is deleted");
    let own_oac_left = aws.cloudfront.get_origin_access_control().id(&own_oac).send().await;
    assert!(own_oac_left.is_err(), "its own OAC {own_oac} is deleted");
}
