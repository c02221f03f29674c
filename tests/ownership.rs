//! Proof of ownership before every change (API.md, "Ownership"), on the real
//! API server and emulator: what a StaticSite's status names, and what shares
//! its bucket as origin, is changed or deleted only once proven the site's own.
//! Each test asserts the victim is unchanged in the emulator and that no write
//! reached it through the proxy.

mod support;

use awsops::api::static_site::{SitePhase, StaticSite, StaticSiteStatus};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::handmade::{enabled, hand_made_distribution, hand_made_oac, hand_made_record};
use support::*;

/// A namespace with a ConfigMap `pages` (an index page), a controller for
/// it, and the emulator behind the stage's counting proxy.
struct Rig {
    stage: Stage,
    aws: Emulator,
    sites: Api<StaticSite>,
    controller: ControllerProcess,
}

impl Rig {
    async fn new(prefix: &str, index: &str) -> Self {
        let stage = Stage::new(prefix).await;
        let cms: Api<ConfigMap> = Api::namespaced(stage.client.clone(), &stage.ns);
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "pages"}, "data": {"index.html": index}})).expect("cm");
        cms.create(&PostParams::default(), &cm).await.expect("configmap");
        Self {
            aws: Emulator::new().await,
            sites: Api::namespaced(stage.client.clone(), &stage.ns),
            controller: stage.controller(&[], &[]),
            stage,
        }
    }

    async fn site(&self, name: &str, spec: serde_json::Value) {
        let site: StaticSite = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("site");
        self.sites.create(&PostParams::default(), &site).await.expect("site created");
    }

    async fn until(&self, name: &str, done: impl Fn(&StaticSiteStatus) -> bool) -> StaticSiteStatus {
        site_until(&self.sites, name, || self.controller.log(), done).await
    }

    async fn ready(&self, name: &str) -> StaticSiteStatus {
        self.until(name, |s| s.phase == Some(SitePhase::Ready)).await
    }

    /// The reason of `Stalled=True`, once it is.
    async fn stalled(&self, name: &str) -> String {
        let status = self.until(name, |s| stalled_reason(s).is_some()).await;
        stalled_reason(&status).unwrap_or_default().to_string()
    }

    async fn gone(&self, name: &str) {
        delete_site(&self.sites, name, || self.controller.log()).await;
    }

    /// A new hosted zone `<unique>.example`: its name and id.
    async fn zone(&self) -> (String, String) {
        let name = format!("{}.example", unique("zone"));
        let zone = self.aws.route53.create_hosted_zone().name(&name).caller_reference(unique("ref")).send().await;
        let id = zone.expect("zone").hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string();
        (name, id)
    }

    /// Writes that reached one bucket, distribution or OAC through the proxy.
    fn writes_to(&self, id: &str) -> Vec<(String, usize)> {
        self.stage.proxy.writes().into_iter().filter(|(op, _)| op.contains(id)).collect()
    }
}

fn stalled_reason(status: &StaticSiteStatus) -> Option<&str> {
    status.conditions.iter().find(|c| c.type_ == "Stalled" && c.status == "True").map(|c| c.reason.as_str())
}

#[tokio::test]
async fn a_hand_made_distribution_on_a_bucket_a_stalled_site_named_survives_the_sites_deletion() {
    let rig = Rig::new("own-migrate", "ours").await;
    let region = std::env::var("AWS_REGION").expect("AWS_REGION is set by make test");
    let bucket = unique("logic-example");
    rig.aws.s3.create_bucket().bucket(&bucket).send().await.expect("hand-made bucket");
    let file = rig.aws.s3.put_object().bucket(&bucket).key("index.html").body(b"theirs".to_vec().into());
    file.send().await.expect("their file");
    let theirs = hand_made_distribution(&rig.aws.cloudfront, &format!("{bucket}.s3.{region}.amazonaws.com")).await;
    rig.site("migrating", json!({"region": region, "bucket": {"name": bucket, "deletionPolicy": "Delete"}})).await;
    assert_eq!(rig.stalled("migrating").await, "BucketNotOwned");

    rig.gone("migrating").await;
    assert_eq!(enabled(&rig.aws.cloudfront, &theirs).await, Some(true), "the hand-made distribution is untouched");
    assert_eq!(rig.writes_to(&theirs), vec![], "no write reached the hand-made distribution");
    let file = rig.aws.s3.get_object().bucket(&bucket).key("index.html").send().await;
    assert!(file.is_ok(), "the hand-made bucket keeps its files");
    assert_eq!(rig.stage.proxy.writes(), vec![], "the site changed nothing in AWS");
}

#[tokio::test]
async fn forged_status_ids_stall_the_site_and_its_deletion_removes_only_what_it_created() {
    let rig = Rig::new("own-forged", "x").await;
    let origin = format!("{}.s3.us-east-1.amazonaws.com", unique("victim"));
    let victim = hand_made_distribution(&rig.aws.cloudfront, &origin).await;
    let victim_oac = hand_made_oac(&rig.aws.cloudfront).await;
    let (zone_name, zone_id) = rig.zone().await;
    let host = format!("www.{zone_name}");
    let domain = json!({"names": [host], "hostedZoneName": zone_name});
    rig.site("forger", json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": domain})).await;
    let ready = rig.ready("forger").await;
    let own = ready.distribution.expect("its distribution").id;
    let own_oac = ready.origin_access_control_id.expect("its OAC");

    let (id, domain_name) = (&victim, "victim.cloudfront.net");
    let forged =
        json!({"status": {"distribution": {"id": id, "domainName": domain_name}, "originAccessControlId": victim_oac}});
    rig.sites.patch_status("forger", &PatchParams::default(), &Patch::Merge(&forged)).await.expect("status forged");
    let wake = json!({"metadata": {"annotations": {"awsops.dev/requested-at": "forged"}}});
    rig.sites.patch("forger", &PatchParams::default(), &Patch::Merge(&wake)).await.expect("annotated");
    assert_eq!(rig.stalled("forger").await, "NotOwned");

    rig.gone("forger").await;
    let cloudfront = &rig.aws.cloudfront;
    assert_eq!(enabled(cloudfront, &victim).await, Some(true), "the victim distribution is untouched");
    assert!(cloudfront.get_origin_access_control().id(&victim_oac).send().await.is_ok(), "the victim OAC stays");
    assert_eq!(rig.writes_to(&victim), vec![], "no write reached the victim distribution");
    assert_eq!(rig.writes_to(&victim_oac), vec![], "no write reached the victim OAC");
    let own_left = cloudfront.get_distribution().id(&own).send().await;
    let no_such = own_left.err().and_then(|e| e.into_service_error().is_no_such_distribution().then_some(()));
    assert!(no_such.is_some(), "its own distribution {own} is deleted");
    assert_pool_member_or_gone(cloudfront, &own_oac).await;
    let records = rig.aws.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let left: Vec<String> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().ends_with(&format!("{host}.")))
        .map(|r| format!("{} {}", r.r#type().as_str(), r.name()))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "its records and their proof are gone, whatever status said");
}

async fn bucket_tags(aws: &Emulator, bucket: &str) -> Vec<(String, String)> {
    let out = aws.s3.get_bucket_tagging().bucket(bucket).send().await.expect("tags");
    out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

#[tokio::test]
async fn a_live_sites_bucket_is_never_adopted_and_a_retained_one_is_taken_back_by_the_site_created_again() {
    let rig = Rig::new("own-adopt", "first").await;
    let bucket = unique("kept");
    let spec = json!({"bucket": {"name": bucket, "adopt": true}, "content": {"configMaps": [{"name": "pages"}]}});
    rig.site("first", spec.clone()).await;
    rig.ready("first").await;
    let uid = |site: StaticSite| site.metadata.uid.expect("uid");
    let first_uid = uid(rig.sites.get("first").await.expect("first"));
    let before = rig.writes_to(&bucket);

    rig.site("thief", json!({"bucket": {"name": bucket, "adopt": true, "deletionPolicy": "Delete"}})).await;
    assert_eq!(rig.stalled("thief").await, "BucketNotOwned");
    rig.gone("thief").await;
    assert_eq!(rig.writes_to(&bucket), before, "the thief wrote nothing to the bucket");
    assert!(bucket_tags(&rig.aws, &bucket).await.contains(&("awsops.dev/uid".into(), first_uid.clone())));
    assert!(rig.aws.s3.get_object().bucket(&bucket).key("index.html").send().await.is_ok(), "the files stay");

    rig.gone("first").await;
    let released = bucket_tags(&rig.aws, &bucket).await;
    assert!(released.contains(&("awsops.dev/released".into(), "true".into())), "{released:?}");
    assert!(released.contains(&("awsops.dev/uid".into(), first_uid.clone())), "the old uid is kept: {released:?}");

    rig.site("first", spec).await;
    rig.ready("first").await;
    let new_uid = uid(rig.sites.get("first").await.expect("first"));
    assert_ne!(new_uid, first_uid, "a new object");
    let taken = bucket_tags(&rig.aws, &bucket).await;
    assert!(taken.contains(&("awsops.dev/uid".into(), new_uid)), "{taken:?}");
    assert!(!taken.iter().any(|(k, _)| k == "awsops.dev/released"), "{taken:?}");
    let file = rig.aws.s3.get_object().bucket(&bucket).key("index.html").send().await;
    assert!(file.is_ok(), "its files came back with it");
}

#[tokio::test]
async fn a_dropped_name_and_then_a_removed_domain_take_back_only_the_sites_records_and_keep_a_foreign_txt() {
    use aws_sdk_route53::types::RrType;
    let rig = Rig::new("own-dns", "x").await;
    let route53 = &rig.aws.route53;
    let (zone_name, zone_id) = rig.zone().await;
    let (keep, drop) = (format!("www.{zone_name}"), format!("old.{zone_name}"));
    hand_made_record(route53, &zone_id, &drop, RrType::Txt, "\"v=spf1 -all\"").await;
    let domain = json!({"names": [keep, drop], "hostedZoneName": zone_name});
    rig.site("named", json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": domain})).await;
    rig.ready("named").await;

    let patch = json!({"spec": {"domain": {"names": [keep]}}});
    rig.sites.patch("named", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("name dropped");
    rig.until("named", |s| s.observed_generation == Some(2) && s.phase == Some(SitePhase::Ready)).await;
    let records = route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let at = |name: &str| -> Vec<String> {
        let sets = records.resource_record_sets().iter().filter(|r| r.name() == format!("{name}."));
        sets.map(|r| r.r#type().as_str().to_string()).collect()
    };
    assert_eq!(at(&drop), vec!["TXT".to_string()], "only the foreign TXT is left at the dropped name");
    let txt = records.resource_record_sets().iter().find(|r| r.name() == format!("{drop}.")).expect("txt");
    assert_eq!(txt.resource_records()[0].value(), "\"v=spf1 -all\"");
    assert!(at(&format!("_awsops.{drop}")).is_empty(), "the site's ownership record for the dropped name is gone");
    let mut kept = at(&keep);
    kept.sort();
    assert_eq!(kept, vec!["A".to_string(), "AAAA".to_string()], "the kept name still points at the site");

    let patch = json!({"spec": {"domain": null}});
    rig.sites.patch("named", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("domain removed");
    rig.until("named", |s| s.observed_generation == Some(3) && s.phase == Some(SitePhase::Ready) && s.dns.is_empty())
        .await;
    let records = route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let left: Vec<String> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().ends_with(&format!("{zone_name}.")) && !["NS", "SOA"].contains(&r.r#type().as_str()))
        .filter(|r| !r.name().starts_with('_') || r.name().starts_with("_awsops"))
        .map(|r| format!("{} {}", r.r#type().as_str(), r.name()))
        .collect();
    assert_eq!(left, vec![format!("TXT {drop}.")], "without a domain only the foreign TXT is left");
}

#[tokio::test]
async fn a_validation_record_another_certificate_uses_in_any_region_survives_teardown_and_an_unused_one_goes() {
    let rig = Rig::new("own-acm", "x").await;
    let (zone_name, zone_id) = rig.zone().await;
    let (www, api, app) = (format!("www.{zone_name}"), format!("api.{zone_name}"), format!("app.{zone_name}"));
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let elsewhere = aws_sdk_acm::config::Builder::from(&conf).region(aws_config::Region::new("eu-west-1")).build();
    let elsewhere = aws_sdk_acm::Client::from_conf(elsewhere);
    let validated = aws_sdk_acm::types::ValidationMethod::Dns;
    let load_balancers = elsewhere.request_certificate().domain_name(&www).validation_method(validated.clone());
    load_balancers.send().await.expect("a certificate of another team in eu-west-1");
    let same_region = rig.aws.acm.request_certificate().domain_name(&api).validation_method(validated);
    same_region.send().await.expect("a certificate of another team in us-east-1");
    let domain = json!({"names": [www, api, app], "hostedZoneName": zone_name});
    rig.site("certified", json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": domain})).await;
    let ready = rig.ready("certified").await;
    let records = ready.certificate.expect("its certificate").validation_records;
    let record_of = |host: &str| {
        let found = records.iter().find(|r| r.name.trim_end_matches('.').ends_with(&format!(".{host}")));
        found.map(|r| r.name.trim_end_matches('.').to_string()).expect("a validation record per name")
    };
    let (www_record, api_record, app_record) = (record_of(&www), record_of(&api), record_of(&app));

    rig.gone("certified").await;
    let sets = rig.aws.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let cnames: Vec<String> = sets
        .resource_record_sets()
        .iter()
        .filter(|r| r.r#type().as_str() == "CNAME")
        .map(|r| r.name().trim_end_matches('.').to_string())
        .collect();
    assert!(cnames.contains(&www_record), "renews a certificate in eu-west-1: {cnames:?}");
    assert!(cnames.contains(&api_record), "renews another certificate in us-east-1: {cnames:?}");
    assert!(!cnames.contains(&app_record), "no certificate uses it any more: {cnames:?}");
}

#[tokio::test]
async fn a_site_whose_bucket_a_foreign_distribution_also_serves_is_deleted_while_cloudfront_calls_its_oac_in_use() {
    let rig = Rig::new("own-oac", "ours").await;
    let region = std::env::var("AWS_REGION").expect("AWS_REGION is set by make test");
    let bucket = unique("shared-origin");
    let spec = json!({"region": region, "bucket": {"name": bucket}, "content": {"configMaps": [{"name": "pages"}]}});
    rig.site("shared", spec).await;
    let ready = rig.ready("shared").await;
    let oac = ready.origin_access_control_id.expect("its OAC");
    let theirs = hand_made_distribution(&rig.aws.cloudfront, &format!("{bucket}.s3.{region}.amazonaws.com")).await;
    let delete_oac = format!("DELETE /2020-05-31/origin-access-control/{oac}");
    let in_use = "<ErrorResponse><Error><Type>Sender</Type><Code>OriginAccessControlInUse</Code><Message>in use</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    rig.stage.proxy.refuse(&delete_oac, 409, "text/xml", in_use);

    // Deleted only when no distribution signs with it; CloudFront may still say in use.
    delete_site(&rig.sites, "shared", || rig.controller.log()).await;
    rig.stage.proxy.allow(&delete_oac);
    assert_eq!(enabled(&rig.aws.cloudfront, &theirs).await, Some(true), "the foreign distribution is untouched");
    assert_eq!(rig.writes_to(&theirs), vec![], "no write reached the foreign distribution");
    assert_pool_member_or_gone(&rig.aws.cloudfront, &oac).await;
}

/// A site's OAC after its deletion: gone, or a pool member others may still use.
async fn assert_pool_member_or_gone(cloudfront: &aws_sdk_cloudfront::Client, oac: &str) {
    if let Ok(left) = cloudfront.get_origin_access_control().id(oac).send().await {
        let name = left.origin_access_control().and_then(|o| o.origin_access_control_config()).map(|c| c.name());
        assert!(name.is_some_and(|n| n.starts_with("awsops-oac-")), "OAC {oac} ({name:?}) is a shared pool member");
    }
}

#[tokio::test]
async fn a_site_whose_role_was_changed_stalls_and_is_removed_through_the_identity_that_made_it() {
    let rig = Rig::new("own-role", "x").await;
    rig.site("moved", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    rig.ready("moved").await;
    // A 1.20 API server does not enforce the CEL rule that forbids this.
    let patch = json!({"spec": {"roleArn": "arn:aws:iam::123456789012:role/awsops-elsewhere"}});
    rig.sites.patch("moved", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("role changed");
    assert_eq!(rig.stalled("moved").await, "ImmutableField");

    rig.gone("moved").await;
    assert_eq!(rig.stage.proxy.count("AssumeRole"), 0, "neither apply nor deletion assumed the new role");
    let deleted = rig.stage.proxy.snapshot().iter().any(|(op, _)| op.starts_with("DELETE /2020-05-31/distribution/"));
    assert!(deleted, "its distribution was deleted, through the controller's own credentials");
}
