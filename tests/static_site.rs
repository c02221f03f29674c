//! StaticSite end to end: the controller binary on the real API server, S3,
//! CloudFront, ACM and Route 53 in the moto emulator behind a counting proxy.
//! Assertions are on the object's status and on what the emulator holds.

mod support;

use std::time::Duration;

use awsops::api::static_site::{SitePhase, StaticSite, StaticSiteStatus};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::*;

struct Rig {
    sites: Api<StaticSite>,
    cms: Api<ConfigMap>,
    aws: Emulator,
    stage: Stage,
    controller: Option<ControllerProcess>,
}

impl Rig {
    async fn new(prefix: &str) -> Self {
        let stage = Stage::new(prefix).await;
        Self {
            sites: Api::namespaced(stage.client.clone(), &stage.ns),
            cms: Api::namespaced(stage.client.clone(), &stage.ns),
            aws: Emulator::new().await,
            stage,
            controller: None,
        }
    }

    fn start(&mut self, resync_seconds: u64) {
        self.start_with(resync_seconds, &[]);
    }

    fn start_with(&mut self, resync_seconds: u64, extra: &[&str]) {
        let mut args = vec!["--resync-seconds".to_string(), resync_seconds.to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.controller = Some(self.stage.controller(&args, &[]));
    }

    async fn config_map(&self, name: &str, data: serde_json::Value) {
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).expect("cm");
        self.cms
            .patch(name, &PatchParams::apply("tests").force(), &Patch::Apply(&cm))
            .await
            .expect("configmap applied");
    }

    async fn site(&self, name: &str, spec: serde_json::Value) {
        let site: StaticSite = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("site");
        self.sites.create(&PostParams::default(), &site).await.expect("site created");
    }

    /// Creates or changes a site by server-side apply (manager `tests`): a
    /// field left out is removed, and, unlike an update on a 1.20 API server,
    /// the test never becomes a co-owner of status fields the controller
    /// later removes.
    async fn apply_site(&self, name: &str, spec: serde_json::Value) {
        let site: StaticSite = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("site");
        self.sites.patch(name, &PatchParams::apply("tests").force(), &Patch::Apply(&site)).await.expect("site applied");
    }

    async fn until(&self, name: &str, secs: u64, done: impl Fn(&StaticSiteStatus) -> bool) -> StaticSiteStatus {
        let got = eventually(Duration::from_secs(secs), || async {
            self.sites.get(name).await.ok()?.status.filter(|s| done(s))
        })
        .await;
        match got {
            Some(s) => s,
            None => {
                let last = self.sites.get(name).await.ok().and_then(|o| o.status);
                let log = self.controller.as_ref().map(|c| c.log()).unwrap_or_default();
                panic!("{name} did not reach the expected status in {secs} s; last: {last:#?}\nlog:\n{log}")
            }
        }
    }

    async fn ready(&self, name: &str, secs: u64) -> StaticSiteStatus {
        self.until(name, secs, |s| s.phase == Some(SitePhase::Ready)).await
    }

    /// Waits for `Stalled=True`; the status and that condition.
    async fn stalled(&self, name: &str, secs: u64) -> (StaticSiteStatus, Condition) {
        let status =
            self.until(name, secs, |s| s.conditions.iter().any(|c| c.type_ == "Stalled" && c.status == "True")).await;
        let stalled = status.conditions.iter().find(|c| c.type_ == "Stalled").cloned().expect("Stalled");
        (status, stalled)
    }

    /// A new hosted zone `<unique>.example`; its name and id.
    async fn zone(&self) -> (String, String) {
        let name = format!("{}.example", unique("zone"));
        let zone = self
            .aws
            .route53
            .create_hosted_zone()
            .name(&name)
            .caller_reference(unique("ref"))
            .send()
            .await
            .expect("zone");
        let id = zone.hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string();
        (name, id)
    }

    async fn object(&self, bucket: &str, key: &str) -> Option<(String, String)> {
        let out = self.aws.s3.get_object().bucket(bucket).key(key).send().await.ok()?;
        let content_type = out.content_type().unwrap_or_default().to_string();
        let body = out.body.collect().await.ok()?.into_bytes();
        Some((String::from_utf8_lossy(&body).into_owned(), content_type))
    }

    /// AWS write requests seen by the proxy.
    fn writes(&self) -> usize {
        self.stage.proxy.writes().iter().map(|(_, n)| n).sum()
    }
}

#[tokio::test]
async fn a_site_without_a_domain_becomes_ready_with_its_files_served_privately() {
    let mut rig = Rig::new("site-plain").await;
    rig.config_map("pages", json!({"index.html": "<h1>hello</h1>", "app.js": "console.log(1)"})).await;
    rig.start(600);
    rig.site("plain", json!({"content": {"configMaps": [{"name": "pages"}], "cacheControl": "max-age=60"}, "distribution": {"comment": "plain site"}})).await;

    let status = rig.ready("plain", 60).await;
    let bucket = status.bucket.clone().expect("bucket").name;
    let dist = status.distribution.clone().expect("distribution");
    assert!(
        status.url.as_deref().is_some_and(|u| u.starts_with("https://") && u.ends_with(".cloudfront.net")),
        "{:?}",
        status.url
    );
    assert_eq!(status.url.as_deref(), Some(format!("https://{}", dist.domain_name).as_str()));
    assert_eq!(status.content.as_ref().map(|c| (c.objects, c.uploaded)), Some((2, 2)));
    for c in ["Ready", "BucketReady", "DistributionDeployed", "ContentSynced"] {
        assert!(
            status.conditions.iter().any(|x| x.type_ == c && x.status == "True"),
            "{c} not True: {:#?}",
            status.conditions
        );
    }

    let (body, content_type) = rig.object(&bucket, "index.html").await.expect("index.html in the bucket");
    assert_eq!(body, "<h1>hello</h1>");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let pab = rig.aws.s3.get_public_access_block().bucket(&bucket).send().await.expect("pab");
    let c = pab.public_access_block_configuration().expect("config");
    assert_eq!(
        (c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let policy = rig.aws.s3.get_bucket_policy().bucket(&bucket).send().await.expect("policy");
    let policy: serde_json::Value = serde_json::from_str(policy.policy().expect("doc")).expect("json");
    assert_eq!(policy["Statement"][0]["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"], dist.arn.as_str());

    let config = rig.aws.cloudfront.get_distribution_config().id(&dist.id).send().await.expect("config");
    let config = config.distribution_config().expect("config");
    assert_eq!(config.default_root_object(), Some("index.html"));
    assert_eq!(config.default_cache_behavior().map(|b| b.viewer_protocol_policy().as_str()), Some("redirect-to-https"));
    assert_eq!(config.price_class().map(|p| p.as_str()), Some("PriceClass_100"));
    assert_eq!(config.comment(), "plain site");
    assert_eq!(rig.stage.proxy.count("POST /2020-05-31/distribution"), 1, "exactly one distribution created");
}

#[tokio::test]
async fn a_site_with_a_domain_gets_a_certificate_aliases_and_dns_records() {
    let mut rig = Rig::new("site-domain").await;
    let (zone_name, zone_id) = rig.zone().await;
    rig.config_map("pages", json!({"index.html": "<h1>domain</h1>"})).await;
    rig.start_with(3, &["--resource-tags", "team=web,cost-center=4711"]);
    let host = format!("static.{zone_name}");
    rig.site("branded", json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": {"names": [host], "hostedZoneName": zone_name}})).await;

    let waiting = rig.until("branded", 30, |s| s.certificate.is_some()).await;
    assert!(waiting.distribution.is_none(), "the distribution waits for the certificate");
    let status = rig.ready("branded", 90).await;
    assert_eq!(status.url.as_deref(), Some(format!("https://{host}").as_str()));
    let cert = status.certificate.clone().expect("certificate");
    assert_eq!(cert.status, "ISSUED");
    assert!(cert.arn.contains(":us-east-1:"), "{}", cert.arn);

    let dist = status.distribution.clone().expect("distribution");
    let config = rig.aws.cloudfront.get_distribution_config().id(&dist.id).send().await.expect("config");
    let config = config.distribution_config().expect("config");
    assert_eq!(config.aliases().map(|a| a.items().to_vec()), Some(vec![host.clone()]));
    let vc = config.viewer_certificate().expect("viewer certificate");
    assert_eq!(vc.acm_certificate_arn(), Some(cert.arn.as_str()));
    assert_eq!(vc.ssl_support_method().map(|m| m.as_str()), Some("sni-only"));
    assert_eq!(vc.minimum_protocol_version().map(|m| m.as_str()), Some("TLSv1.2_2021"));

    // The controller's --resource-tags are on everything the site created, beside its own.
    let owner = format!("{}/branded", rig.stage.ns);
    let wanted = [("team", "web"), ("cost-center", "4711"), ("awsops.dev/owner", owner.as_str())];
    let has_all = |tags: listing::Tags| wanted.iter().all(|(k, v)| tags.get(*k).map(String::as_str) == Some(*v));
    assert!(has_all(listing::certificate_tags(&rig.aws.acm, &cert.arn).await.expect("certificate tags")));
    let arn = rig.aws.cloudfront.get_distribution().id(&dist.id).send().await.expect("distribution");
    let arn = arn.distribution().expect("distribution").arn().to_string();
    assert!(has_all(listing::distribution_tags(&rig.aws.cloudfront, &arn).await.expect("distribution tags")));
    let bucket = status.bucket.clone().expect("bucket").name;
    assert!(has_all(listing::bucket_tags(&rig.aws.s3, &bucket).await.expect("bucket tags")));

    let records = rig.aws.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let sets = records.resource_record_sets();
    for type_ in ["A", "AAAA"] {
        let r = sets
            .iter()
            .find(|r| r.name() == format!("{host}.") && r.r#type().as_str() == type_)
            .unwrap_or_else(|| panic!("{type_} record missing"));
        let alias = r.alias_target().expect("alias");
        assert_eq!(alias.hosted_zone_id(), "Z2FDTNDATAQYW2");
        assert_eq!(alias.dns_name().trim_end_matches('.'), dist.domain_name);
    }
    assert!(
        sets.iter().any(|r| r.name() == format!("_awsops.{host}.") && r.r#type().as_str() == "TXT"),
        "ownership TXT"
    );
    for v in &cert.validation_records {
        assert!(
            sets.iter()
                .any(|r| r.name().trim_end_matches('.') == v.name.trim_end_matches('.')
                    && r.r#type().as_str() == "CNAME"),
            "validation record {v:?}"
        );
    }
    assert!(status.dns.iter().all(|d| d.status == "INSYNC") && status.dns.len() == 2, "{:?}", status.dns);

    // Drift: someone deletes the A record; the next resync puts it back.
    let a = sets.iter().find(|r| r.name() == format!("{host}.") && r.r#type().as_str() == "A").expect("A").clone();
    let delete = aws_sdk_route53::types::Change::builder()
        .action(aws_sdk_route53::types::ChangeAction::Delete)
        .resource_record_set(a)
        .build()
        .expect("change");
    rig.aws
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(aws_sdk_route53::types::ChangeBatch::builder().changes(delete).build().expect("batch"))
        .send()
        .await
        .expect("record deleted");
    let restored = eventually(Duration::from_secs(30), || async {
        let out = rig.aws.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.ok()?;
        out.resource_record_sets()
            .iter()
            .any(|r| r.name() == format!("{host}.") && r.r#type().as_str() == "A")
            .then_some(())
    })
    .await;
    assert!(restored.is_some(), "the deleted A record was not restored");
}

#[tokio::test]
async fn drift_is_repaired_and_a_site_in_sync_makes_no_writes() {
    let mut rig = Rig::new("site-drift").await;
    rig.config_map("pages", json!({"index.html": "<h1>v1</h1>"})).await;
    rig.start(2);
    rig.site("drifty", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let status = rig.ready("drifty", 60).await;
    let bucket = status.bucket.clone().expect("bucket").name;
    let dist = status.distribution.clone().expect("distribution");

    // In sync: resyncs every 2 s read and never write.
    let before = rig.writes();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(rig.writes(), before, "writes during in-sync resyncs: {:?}", rig.stage.proxy.snapshot());
    assert!(
        rig.stage.proxy.count("GET /2020-05-31/distribution/".to_string().as_str()) > 0
            || rig.stage.proxy.snapshot().iter().any(|(op, _)| op.starts_with("GET /2020-05-31/distribution/")),
        "resyncs read the distribution"
    );

    // Someone disables the distribution, opens the bucket and deletes a file.
    let current = rig.aws.cloudfront.get_distribution_config().id(&dist.id).send().await.expect("config");
    let mut config = current.distribution_config().expect("config").clone();
    config.enabled = false;
    rig.aws
        .cloudfront
        .update_distribution()
        .id(&dist.id)
        .if_match(current.e_tag().unwrap_or_default())
        .distribution_config(config)
        .send()
        .await
        .expect("disabled");
    rig.aws.s3.delete_public_access_block().bucket(&bucket).send().await.expect("opened");
    rig.aws.s3.delete_bucket_policy().bucket(&bucket).send().await.expect("policy removed");
    rig.aws.s3.delete_object().bucket(&bucket).key("index.html").send().await.expect("deleted");

    let restored = eventually(Duration::from_secs(30), || async {
        let enabled = rig
            .aws
            .cloudfront
            .get_distribution_config()
            .id(&dist.id)
            .send()
            .await
            .ok()?
            .distribution_config()?
            .enabled();
        let pab = rig.aws.s3.get_public_access_block().bucket(&bucket).send().await.ok()?;
        let policy = rig.aws.s3.get_bucket_policy().bucket(&bucket).send().await.ok()?;
        let object = rig.object(&bucket, "index.html").await?;
        (enabled
            && pab.public_access_block_configuration()?.block_public_policy() == Some(true)
            && policy.policy().is_some()
            && object.0 == "<h1>v1</h1>")
            .then_some(())
    })
    .await;
    assert!(
        restored.is_some(),
        "drift not repaired:\n{}",
        rig.controller.as_ref().map(|c| c.log()).unwrap_or_default()
    );
}

#[tokio::test]
async fn a_site_is_not_woken_by_its_own_status_writes_and_an_annotation_wakes_it_once() {
    let mut rig = Rig::new("site-wake").await;
    rig.config_map("pages", json!({"index.html": "<h1>quiet</h1>"})).await;
    rig.start(600);
    rig.site("quiet", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    rig.ready("quiet", 60).await;
    let controller = rig.controller.as_ref().expect("controller");
    let reconciles = r#"awsops_reconciles_total{kind="StaticSite"}"#;

    // Each reconcile writes status several times. Were any of those writes to
    // wake the site, every look would cause the next and the count would
    // never settle. How many looks it takes to settle depends on how busy the
    // machine is (a ConfigMap watch that lists late adds one), so only
    // settling is asserted, not the number.
    let mut settled = controller.sample(reconciles).await;
    let mut quiet = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = controller.sample(reconciles).await;
        quiet = now == settled;
        settled = now;
        if quiet {
            break;
        }
    }
    assert!(quiet, "{settled} reconciles and counting: status writes wake the site");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(controller.sample(reconciles).await, settled, "nothing ran while nothing changed");

    // An annotation (what `kubectl annotate` does to ask for a look now) wakes it exactly once.
    let writes = rig.writes();
    let patch = json!({"metadata": {"annotations": {"awsops.dev/poke": "1"}}});
    rig.sites.patch("quiet", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("annotated");
    let woke = eventually(Duration::from_secs(10), || async {
        (controller.sample(reconciles).await == settled + 1.0).then_some(())
    })
    .await;
    assert!(woke.is_some(), "the annotation woke the site");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(controller.sample(reconciles).await, settled + 1.0, "once");
    assert_eq!(rig.writes(), writes, "a look at a site in sync writes nothing");
}

#[tokio::test]
async fn a_config_map_edit_uploads_only_the_changed_file_and_invalidates_only_its_path() {
    let mut rig = Rig::new("site-edit").await;
    rig.config_map("pages", json!({"index.html": "<h1>v1</h1>", "app.js": "v1", "style.css": "v1"})).await;
    rig.start(600);
    rig.site("edited", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let first = rig.ready("edited", 60).await;
    let revision = first.content.clone().expect("content").revision;
    let dist = first.distribution.clone().expect("distribution");
    let bucket = first.bucket.clone().expect("bucket").name;
    let puts_before = rig.stage.proxy.count_prefix(&format!("PUT /{bucket}/"));

    rig.config_map("pages", json!({"index.html": "<h1>v1</h1>", "app.js": "v2", "style.css": "v1"})).await;
    let status = rig.until("edited", 30, |s| s.content.as_ref().is_some_and(|c| c.revision != revision)).await;
    let content = status.content.clone().expect("content");
    assert_eq!((content.objects, content.uploaded, content.deleted), (3, 1, 0));
    let puts_after = rig.stage.proxy.count_prefix(&format!("PUT /{bucket}/"));
    let manifest = rig.stage.proxy.count(&format!("PUT /{bucket}/.awsops/manifest.json"));
    assert_eq!(manifest, 3, "the manifest: before and after the first sync's new keys, after this upload");
    assert_eq!(puts_after - puts_before, 2, "only app.js was uploaded: {:?}", rig.stage.proxy.snapshot());
    assert_eq!(rig.object(&bucket, "app.js").await.map(|o| o.0).as_deref(), Some("v2"));

    let inv = rig
        .aws
        .cloudfront
        .get_invalidation()
        .distribution_id(&dist.id)
        .id(content.invalidation_id.clone().expect("invalidation"))
        .send()
        .await
        .expect("invalidation");
    let paths = inv
        .invalidation()
        .and_then(|i| i.invalidation_batch())
        .and_then(|b| b.paths())
        .map(|p| p.items().to_vec())
        .unwrap_or_default();
    assert_eq!(paths, vec!["/app.js".to_string()]);
}

#[tokio::test]
async fn deletion_retains_or_deletes_the_bucket_and_removes_the_rest() {
    let mut rig = Rig::new("site-delete").await;
    rig.config_map("pages", json!({"index.html": "<h1>bye</h1>"})).await;
    rig.start(600);
    rig.site("kept", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    rig.site("gone", json!({"content": {"configMaps": [{"name": "pages"}]}, "bucket": {"deletionPolicy": "Delete"}}))
        .await;
    let kept = rig.ready("kept", 60).await;
    let gone = rig.ready("gone", 60).await;

    for name in ["kept", "gone"] {
        rig.sites.delete(name, &DeleteParams::default()).await.expect("delete");
    }
    for name in ["kept", "gone"] {
        let removed = eventually(Duration::from_secs(90), || async {
            rig.sites.get_opt(name).await.ok()?.is_none().then_some(())
        })
        .await;
        assert!(
            removed.is_some(),
            "{name} still has its finalizer:\n{}",
            rig.controller.as_ref().map(|c| c.log()).unwrap_or_default()
        );
    }
    for status in [&kept, &gone] {
        let id = &status.distribution.as_ref().expect("distribution").id;
        assert!(rig.aws.cloudfront.get_distribution().id(id).send().await.is_err(), "distribution {id} deleted");
        let oac = status.origin_access_control_id.clone().expect("oac");
        // A pool member: deleted by the last site that used it, else left signing for others.
        if let Ok(left) = rig.aws.cloudfront.get_origin_access_control().id(&oac).send().await {
            let name = left.origin_access_control().and_then(|o| o.origin_access_control_config()).map(|c| c.name());
            assert!(name.is_some_and(|n| n.starts_with("awsops-oac-")), "OAC {oac} ({name:?}) is a shared pool member");
        }
    }
    let kept_bucket = kept.bucket.expect("bucket").name;
    assert_eq!(
        rig.object(&kept_bucket, "index.html").await.map(|o| o.0).as_deref(),
        Some("<h1>bye</h1>"),
        "Retain keeps the bucket and its objects"
    );
    let gone_bucket = gone.bucket.expect("bucket").name;
    assert!(rig.aws.s3.head_bucket().bucket(&gone_bucket).send().await.is_err(), "Delete removes the bucket");
}

#[tokio::test]
async fn a_missing_config_map_a_foreign_bucket_or_a_missing_zone_stalls_without_any_aws_write() {
    let mut rig = Rig::new("site-bad").await;
    let foreign = unique("foreign");
    rig.aws.s3.create_bucket().bucket(&foreign).send().await.expect("someone else's bucket");
    rig.start(600);
    rig.site("no-cm", json!({"content": {"configMaps": [{"name": "absent"}]}})).await;
    rig.site("taken", json!({"bucket": {"name": foreign}})).await;
    let nowhere = format!("{}.example", unique("nozone"));
    rig.site("no-zone", json!({"domain": {"names": [format!("www.{nowhere}")], "hostedZoneName": nowhere}})).await;
    let (_, stalled) = rig.stalled("no-cm", 30).await;
    assert_eq!(stalled.reason, "ConfigMapNotFound");
    assert!(stalled.message.contains("absent"));
    let (taken, stalled) = rig.stalled("taken", 30).await;
    assert_eq!(stalled.reason, "BucketNotOwned");
    let tags = rig.aws.s3.get_bucket_tagging().bucket(&foreign).send().await;
    assert!(tags.map(|t| t.tag_set().is_empty()).unwrap_or(true), "the foreign bucket was not tagged");
    assert!(taken.distribution.is_none());
    let (_, stalled) = rig.stalled("no-zone", 30).await;
    assert_eq!(stalled.reason, "HostedZoneNotFound");
    assert_eq!(rig.writes(), 0, "nothing was changed in AWS: {:?}", rig.stage.proxy.snapshot());
}

#[tokio::test]
async fn a_price_class_change_updates_the_same_distribution() {
    let mut rig = Rig::new("site-change").await;
    rig.config_map("pages", json!({"index.html": "<h1>x</h1>"})).await;
    rig.start(600);
    rig.site("changed", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let before = rig.ready("changed", 60).await.distribution.expect("distribution");
    let patch = json!({"spec": {"distribution": {"priceClass": "PriceClass_All"}}});
    rig.sites.patch("changed", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patched");
    let after =
        rig.until("changed", 30, |s| s.observed_generation == Some(2) && s.phase == Some(SitePhase::Ready)).await;
    assert_eq!(after.distribution.expect("distribution").id, before.id, "updated in place, not recreated");
    let config = rig.aws.cloudfront.get_distribution_config().id(&before.id).send().await.expect("config");
    assert_eq!(config.distribution_config().and_then(|c| c.price_class()).map(|p| p.as_str()), Some("PriceClass_All"));
    assert_eq!(rig.stage.proxy.count("POST /2020-05-31/distribution"), 1);
}

#[tokio::test]
async fn adding_a_domain_name_reissues_the_certificate_and_updates_the_same_distribution() {
    let mut rig = Rig::new("site-names").await;
    let (zone_name, _) = rig.zone().await;
    rig.config_map("pages", json!({"index.html": "<h1>names</h1>"})).await;
    rig.start(600);
    let (a, b) = (format!("a.{zone_name}"), format!("b.{zone_name}"));
    rig.site(
        "named",
        json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": {"names": [a], "hostedZoneName": zone_name}}),
    )
    .await;
    let first = rig.ready("named", 90).await;
    let old_cert = first.certificate.expect("certificate").arn;
    let dist = first.distribution.expect("distribution").id;

    let patch = json!({"spec": {"domain": {"names": [a, b]}}});
    rig.sites.patch("named", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patched");
    let second =
        rig.until("named", 90, |s| s.observed_generation == Some(2) && s.phase == Some(SitePhase::Ready)).await;
    let new_cert = second.certificate.expect("certificate").arn;
    assert_ne!(new_cert, old_cert, "ACM certificates cannot gain names: a new one is requested");
    assert_eq!(second.distribution.expect("distribution").id, dist, "the distribution is updated in place");
    let config = rig.aws.cloudfront.get_distribution_config().id(&dist).send().await.expect("config");
    let config = config.distribution_config().expect("config");
    let mut aliases = config.aliases().map(|x| x.items().to_vec()).unwrap_or_default();
    aliases.sort();
    assert_eq!(aliases, vec![a.clone(), b.clone()]);
    assert_eq!(config.viewer_certificate().and_then(|v| v.acm_certificate_arn()), Some(new_cert.as_str()));
    assert!(
        rig.aws.acm.describe_certificate().certificate_arn(&old_cert).send().await.is_err(),
        "the replaced certificate is deleted"
    );
    assert_eq!(second.dns.iter().filter(|d| d.name == b).count(), 2, "A and AAAA for the new name: {:?}", second.dns);
}

#[tokio::test]
async fn an_alias_held_by_another_distribution_stalls_the_site_and_nothing_is_overwritten() {
    let mut rig = Rig::new("site-alias").await;
    let (zone_name, zone_id) = rig.zone().await;
    // CloudFront's answer when another distribution (any account) already serves the name; moto does not model it.
    rig.stage.proxy.refuse(
        "POST /2020-05-31/distribution",
        409,
        "text/xml",
        "<ErrorResponse><Error><Type>Sender</Type><Code>CNAMEAlreadyExists</Code><Message>One or more of the CNAMEs you provided are already associated with a different resource.</Message></Error><RequestId>r</RequestId></ErrorResponse>",
    );
    rig.config_map("pages", json!({"index.html": "<h1>taken</h1>"})).await;
    rig.start(3);
    let host = format!("www.{zone_name}");
    rig.site("taken", json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": {"names": [host], "hostedZoneName": zone_name}})).await;

    let (status, stalled) = rig.stalled("taken", 60).await;
    assert_eq!(stalled.reason, "AliasInUse");
    assert!(stalled.message.contains(&host) && stalled.message.contains("spec.domain.names"), "{}", stalled.message);
    assert!(status.distribution.is_none(), "no distribution was recorded");
    let dns_changes = rig.stage.proxy.count_prefix("POST /2013-04-01/hostedzone/");
    let records = rig.aws.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await;
    let names: Vec<String> = records
        .expect("records")
        .resource_record_sets()
        .iter()
        .map(|r| format!("{} {}", r.r#type().as_str(), r.name()))
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("A ") || n.starts_with("AAAA ")),
        "no alias record was written: {names:?}"
    );
    // Stalled, it stays put: a few resyncs later nothing new was attempted beyond reads.
    let creates = rig.stage.proxy.count("POST /2020-05-31/distribution");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(rig.stage.proxy.count("POST /2020-05-31/distribution") <= creates + 2, "resyncs retry slowly at most");
    assert_eq!(
        rig.stage.proxy.count_prefix("POST /2013-04-01/hostedzone/"),
        dns_changes,
        "no DNS change after the stall"
    );
}

/// Sites share origin access controls (API.md, step 2): AWS allows 100 per
/// account, so one per site would stop the 101st site. Two sites made at
/// once sign with the same pool member, and no pool name exists twice.
#[tokio::test]
async fn sites_share_one_pool_origin_access_control_and_never_duplicate_it() {
    let mut rig = Rig::new("site-oac").await;
    rig.config_map("pages", json!({"index.html": "<h1>oac</h1>"})).await;
    rig.start(60);
    let spec = json!({"content": {"configMaps": [{"name": "pages"}]}});
    rig.site("one", spec.clone()).await;
    rig.site("two", spec).await;
    let one = rig.ready("one", 90).await.origin_access_control_id.expect("oac");
    let two = rig.ready("two", 90).await.origin_access_control_id.expect("oac");
    assert_eq!(one, two, "both sites sign with the same pool member");
    let names = support::listing::oac_names(&rig.aws.cloudfront).await;
    let pool: Vec<&String> = names.iter().filter(|n| n.starts_with("awsops-oac-")).collect();
    let mut unique = pool.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(pool.len(), unique.len(), "no pool name twice: {pool:?}");
    assert!(
        rig.stage.proxy.count("POST /2020-05-31/origin-access-control") <= 2,
        "at most one create each, none after"
    );
}

#[tokio::test]
async fn a_failed_certificate_stalls_the_site_before_any_distribution_and_is_replaced_once_deleted() {
    let mut rig = Rig::new("site-certfail").await;
    let (zone_name, _) = rig.zone().await;
    let host = format!("www.{zone_name}");
    // ACM's answer for a certificate a CAA record forbids; moto issues every certificate.
    let failed = json!({"Certificate": {
        "Status": "FAILED", "FailureReason": "CAA_ERROR", "DomainName": host,
        "SubjectAlternativeNames": [host], "DomainValidationOptions": [],
    }});
    rig.stage.proxy.refuse("DescribeCertificate", 200, "application/x-amz-json-1.1", &failed.to_string());
    rig.config_map("pages", json!({"index.html": "<h1>caa</h1>"})).await;
    rig.start(2);
    rig.site("caa", json!({"content": {"configMaps": [{"name": "pages"}]}, "domain": {"names": [host], "hostedZoneName": zone_name}})).await;

    let (status, stalled) = rig.stalled("caa", 60).await;
    assert_eq!(stalled.reason, "CertificateFailed");
    assert!(
        stalled.message.contains("CAA_ERROR") && stalled.message.contains("delete-certificate"),
        "{}",
        stalled.message
    );
    let certificate = status.certificate.clone().expect("the failed certificate is recorded");
    assert_eq!(certificate.status, "FAILED");
    assert!(status.distribution.is_none(), "no distribution for a certificate that will not be issued");
    assert_eq!(rig.stage.proxy.count("POST /2020-05-31/distribution"), 0);
    // Stalled, it does not ask ACM again on later looks (every 2 s here).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(rig.stage.proxy.count("RequestCertificate"), 1, "one request while the failed one exists");

    // The cause fixed, the user deletes the certificate as the message says: a new one is requested.
    rig.aws.acm.delete_certificate().certificate_arn(&certificate.arn).send().await.expect("deleted");
    rig.stage.proxy.allow("DescribeCertificate");
    let ready = rig.ready("caa", 120).await;
    let replacement = ready.certificate.expect("certificate").arn;
    assert_ne!(replacement, certificate.arn, "a new certificate, not the deleted one");
    assert_eq!(rig.stage.proxy.count("RequestCertificate"), 2);
}

/// ACM answers `ResourceInUseException` for a certificate CloudFront let go
/// of moments ago, for minutes (ACM API reference, DeleteCertificate): the
/// replaced certificate stays in status and is deleted on a later look.
#[tokio::test]
async fn a_replaced_certificate_acm_still_calls_in_use_is_deleted_on_a_later_look() {
    let mut rig = Rig::new("site-retire").await;
    let (zone_name, _) = rig.zone().await;
    let (first, second) = (format!("www.{zone_name}"), format!("shop.{zone_name}"));
    rig.config_map("pages", json!({"index.html": "<h1>retire</h1>"})).await;
    rig.start(2);
    let content = json!({"configMaps": [{"name": "pages"}]});
    let domain = json!({"names": [first], "hostedZoneName": zone_name});
    rig.site("renamed", json!({"content": content, "domain": domain})).await;
    let old = rig.ready("renamed", 120).await.certificate.expect("certificate").arn;
    let in_use = json!({"__type": "ResourceInUseException", "message": "Certificate is in use."});
    rig.stage.proxy.refuse("DeleteCertificate", 400, "application/x-amz-json-1.1", &in_use.to_string());

    let patch = json!({"spec": {"domain": {"names": [first, second]}}});
    rig.sites.patch("renamed", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("a name added");
    let held = rig.until("renamed", 120, |s| s.retired_certificates.contains(&old)).await;
    assert_ne!(held.certificate.map(|c| c.arn), Some(old.clone()), "the distribution moved to a new certificate");
    assert!(rig.aws.acm.describe_certificate().certificate_arn(&old).send().await.is_ok(), "still there");

    rig.stage.proxy.allow("DeleteCertificate");
    rig.until("renamed", 120, |s| s.retired_certificates.is_empty()).await;
    let gone = rig.aws.acm.describe_certificate().certificate_arn(&old).send().await;
    assert!(gone.is_err(), "the replaced certificate is deleted once ACM lets go");
}

/// Route 53 refuses a CNAME at a zone's apex (InvalidChangeBatch) and ACM
/// validates only through public DNS (a private zone's certificate times out
/// after 72 hours): both are refused before any AWS write. The private zone
/// is Route 53's GetHostedZone answer, scripted (the emulator's zone ids do
/// not look like AWS's `Z...`).
#[tokio::test]
async fn a_private_zone_or_a_cname_at_the_apex_stalls_before_any_aws_write() {
    let mut rig = Rig::new("site-zones").await;
    let (zone_name, _) = rig.zone().await;
    let private_id = "Z0PRIVATE00000001";
    let private_name = format!("{}.internal", unique("private"));
    let answer = format!(
        "<?xml version=\"1.0\"?><GetHostedZoneResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><HostedZone><Id>/hostedzone/{private_id}</Id><Name>{private_name}.</Name><CallerReference>r</CallerReference><Config><PrivateZone>true</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone><VPCs><VPC><VPCRegion>us-east-1</VPCRegion><VPCId>vpc-1</VPCId></VPC></VPCs></GetHostedZoneResponse>"
    );
    rig.stage.proxy.refuse(&format!("GET /2013-04-01/hostedzone/{private_id}"), 200, "text/xml", &answer);
    rig.start(600);
    let apex = json!({"names": [zone_name], "hostedZoneName": zone_name, "record": "CNAME"});
    rig.site("apex", json!({"domain": apex})).await;
    let inside = json!({"names": [format!("www.{private_name}")], "hostedZoneId": private_id});
    rig.site("inside", json!({"domain": inside})).await;

    let (_, apex) = rig.stalled("apex", 60).await;
    assert_eq!(apex.reason, "InvalidSpec");
    assert!(apex.message.contains("apex") && apex.message.contains("record: Alias"), "{}", apex.message);
    let (_, inside) = rig.stalled("inside", 60).await;
    assert_eq!(inside.reason, "PrivateHostedZone");
    assert!(inside.message.contains("public DNS"), "{}", inside.message);
    assert_eq!(rig.writes(), 0, "nothing was written in AWS: {:?}", rig.stage.proxy.writes());
}

/// In a versioned bucket a delete only adds a delete marker, and S3 refuses
/// to delete a bucket that still holds versions (BucketNotEmpty): deletion
/// removes every version of what the site uploaded, and only that.
#[tokio::test]
async fn a_versioned_adopted_bucket_loses_every_version_the_site_wrote_and_keeps_the_rest() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let mut rig = Rig::new("site-versions").await;
    let bucket = unique("versioned");
    rig.aws.s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    rig.aws.s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(on).send().await.expect("versioning");
    let theirs = rig.aws.s3.put_object().bucket(&bucket).key("theirs.txt").body(b"theirs".to_vec().into());
    theirs.send().await.expect("a file that was there before");
    rig.config_map("pages", json!({"index.html": "<h1>v1</h1>"})).await;
    rig.start(2);
    let spec = json!({"bucket": {"name": bucket, "adopt": true, "deletionPolicy": "Delete"}, "content": {"configMaps": [{"name": "pages"}]}});
    rig.site("versions", spec).await;
    rig.ready("versions", 90).await;
    rig.config_map("pages", json!({"index.html": "<h1>v2</h1>"})).await;
    let changed = eventually(Duration::from_secs(60), || async {
        rig.object(&bucket, "index.html").await.filter(|(body, _)| body.contains("v2"))
    });
    assert!(changed.await.is_some(), "the second version is uploaded");
    let versions = rig.aws.s3.list_object_versions().bucket(&bucket).send().await.expect("versions");
    assert!(versions.versions().len() >= 2, "two versions of index.html: {versions:?}");

    delete_site(&rig.sites, "versions", || rig.controller.as_ref().map(|c| c.log()).unwrap_or_default()).await;
    let left = rig.aws.s3.list_object_versions().bucket(&bucket).send().await.expect("versions");
    let keys: Vec<&str> = left.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(keys, vec!["theirs.txt"], "every version of index.html is gone, theirs stays");
    assert!(left.delete_markers().is_empty(), "no marker left over the site's keys");
    let tags = rig.aws.s3.get_bucket_tagging().bucket(&bucket).send().await.expect("tags");
    assert!(tags.tag_set().iter().any(|t| t.key() == "awsops.dev/released"), "the bucket is kept and released");
}

/// CloudFront's account quotas (500 distributions, 100 origin access
/// controls, 100 distributions per OAC) answer `TooMany*`; the emulator has
/// none, so the answer is scripted: the site stalls `QuotaExceeded` saying
/// where to raise it, and goes on by itself once CloudFront accepts.
#[tokio::test]
async fn a_cloudfront_quota_stalls_the_site_with_where_to_raise_it_and_it_goes_on_once_accepted() {
    let mut rig = Rig::new("site-quota").await;
    let too_many = "<ErrorResponse><Error><Type>Sender</Type><Code>TooManyDistributions</Code><Message>Your request contains more CloudFront distributions than are allowed per AWS account.</Message></Error><RequestId>q</RequestId></ErrorResponse>";
    let create = "POST /2020-05-31/distribution";
    rig.stage.proxy.refuse(create, 400, "text/xml", too_many);
    rig.config_map("pages", json!({"index.html": "<h1>quota</h1>"})).await;
    rig.start(2);
    rig.site("quota", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let (_, stalled) = rig.stalled("quota", 60).await;
    assert_eq!(stalled.reason, "QuotaExceeded");
    assert!(
        stalled.message.contains("TooManyDistributions") && stalled.message.contains("Service Quotas"),
        "{}",
        stalled.message
    );

    rig.stage.proxy.allow(create);
    let ready = rig.ready("quota", 150).await;
    assert!(ready.distribution.is_some(), "created once CloudFront accepted");
}

/// Every invalidation the emulator holds for a distribution: its CallerReference and paths.
async fn invalidations(aws: &Emulator, dist: &str) -> Vec<(String, Vec<String>)> {
    let listed = aws.cloudfront.list_invalidations().distribution_id(dist).send().await.expect("invalidations");
    let ids: Vec<String> =
        listed.invalidation_list().map(|l| l.items().iter().map(|i| i.id().to_string()).collect()).unwrap_or_default();
    let mut out = Vec::new();
    for id in ids {
        let inv = aws.cloudfront.get_invalidation().distribution_id(dist).id(&id).send().await.expect("invalidation");
        let batch = inv.invalidation().and_then(|i| i.invalidation_batch()).expect("batch");
        let paths = batch.paths().map(|p| p.items().to_vec()).unwrap_or_default();
        out.push((batch.caller_reference().to_string(), paths));
    }
    out
}

#[tokio::test]
async fn a_refused_invalidation_is_kept_until_accepted_and_content_b_a_b_gets_three_with_their_own_references() {
    let mut rig = Rig::new("site-inval").await;
    let page = |v: &str| json!({"index.html": format!("<h1>{v}</h1>"), "app.js": "same"});
    rig.config_map("pages", page("A")).await;
    rig.start(2);
    rig.site("inval", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let first = rig.ready("inval", 60).await;
    let dist = first.distribution.clone().expect("distribution").id;
    assert!(first.content.clone().expect("content").invalidation_id.is_none(), "a new distribution has cached nothing");
    assert!(invalidations(&rig.aws, &dist).await.is_empty());

    let create = format!("POST /2020-05-31/distribution/{dist}/invalidation");
    let busy = "<ErrorResponse><Error><Type>Sender</Type><Code>TooManyInvalidationsInProgress</Code><Message>Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.</Message></Error><RequestId>i</RequestId></ErrorResponse>";
    rig.stage.proxy.refuse(&create, 400, "text/xml", busy);
    rig.config_map("pages", page("B")).await;
    // Written ahead of the upload, then kept when CloudFront refuses.
    let refused = rig
        .until("inval", 60, |s| {
            s.conditions.iter().any(|c| c.type_ == "ContentSynced" && c.reason == "InvalidationPending")
        })
        .await;
    assert_eq!(refused.content.expect("content").pending_invalidation, vec!["/", "/index.html"]);
    let synced = refused.conditions.iter().find(|c| c.type_ == "ContentSynced").expect("ContentSynced");
    assert_eq!(
        (synced.status.as_str(), synced.reason.as_str()),
        ("False", "InvalidationPending"),
        "{}",
        synced.message
    );
    assert!(synced.message.contains("TooManyInvalidationsInProgress"), "{}", synced.message);
    assert!(
        rig.object(&first.bucket.clone().expect("bucket").name, "index.html")
            .await
            .is_some_and(|o| o.0 == "<h1>B</h1>")
    );

    // The bucket already holds B: only status remembers the invalidation, asked again until accepted.
    rig.stage.proxy.allow(&create);
    let accepted = rig
        .until("inval", 120, |s| {
            s.phase == Some(SitePhase::Ready) && s.content.as_ref().is_some_and(|c| c.pending_invalidation.is_empty())
        })
        .await;
    assert!(accepted.content.expect("content").invalidation_id.is_some());
    assert_eq!(invalidations(&rig.aws, &dist).await.len(), 1, "B's invalidation, accepted once");

    for (version, count) in [("A", 2), ("B", 3)] {
        rig.config_map("pages", page(version)).await;
        eventually(Duration::from_secs(60), || async {
            (invalidations(&rig.aws, &dist).await.len() == count).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("no invalidation for content {version}"));
    }
    let made = invalidations(&rig.aws, &dist).await;
    let references: std::collections::BTreeSet<&String> = made.iter().map(|(r, _)| r).collect();
    assert_eq!(
        references.len(),
        3,
        "CloudFront would answer a reused CallerReference with the old invalidation: {made:?}"
    );
    assert!(made.iter().all(|(_, paths)| paths == &vec!["/".to_string(), "/index.html".to_string()]), "{made:?}");
}

#[tokio::test]
async fn a_crash_between_upload_and_invalidation_still_invalidates_the_uploaded_paths() {
    let mut rig = Rig::new("site-crash-inval").await;
    rig.config_map("pages", json!({"index.html": "<h1>A</h1>"})).await;
    rig.start(2);
    rig.site("crashy", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let dist = rig.ready("crashy", 60).await.distribution.expect("distribution").id;
    rig.controller.take().expect("controller").terminate().await;

    // B is uploaded, then the process dies before CloudFront hears of it.
    let mut crashing = rig.stage.controller(&["--resync-seconds", "2"], &[("AWSOPS_FAILPOINT", "site-after-upload")]);
    rig.config_map("pages", json!({"index.html": "<h1>B</h1>"})).await;
    let exited = crashing.wait_exit(Duration::from_secs(60)).await;
    assert!(exited.is_some_and(|s| !s.success()), "the controller died at the failpoint:\n{}", crashing.log());
    assert!(invalidations(&rig.aws, &dist).await.is_empty(), "nothing invalidated before the crash");

    // The bucket already holds B: only the paths written ahead say what to invalidate.
    rig.start(2);
    rig.until("crashy", 60, |s| {
        s.content.as_ref().is_some_and(|c| c.pending_invalidation.is_empty() && c.invalidation_id.is_some())
    })
    .await;
    let made = invalidations(&rig.aws, &dist).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, vec!["/".to_string(), "/index.html".to_string()]);
}

/// The distribution's default behaviour: its viewer-request function ARN,
/// response headers policy id and (code, page, response code) error responses.
async fn edge_of(aws: &Emulator, dist: &str) -> (Option<String>, Option<String>, Vec<(i32, String, String)>) {
    let out = aws.cloudfront.get_distribution_config().id(dist).send().await.expect("config");
    let config = out.distribution_config().expect("config");
    let behaviour = config.default_cache_behavior().expect("behaviour");
    let function = behaviour
        .function_associations()
        .and_then(|f| f.items().iter().find(|a| a.event_type().as_str() == "viewer-request"))
        .map(|a| a.function_arn().to_string());
    let policy = behaviour.response_headers_policy_id().filter(|p| !p.is_empty()).map(str::to_string);
    let mut pages: Vec<(i32, String, String)> = config
        .custom_error_responses()
        .map(|r| r.items())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.error_code(),
                r.response_page_path().unwrap_or_default().to_string(),
                r.response_code().unwrap_or_default().to_string(),
            )
        })
        .collect();
    pages.sort();
    (function, policy, pages)
}

/// The LIVE code of a function, `None` when it does not exist.
async fn live_code(aws: &Emulator, name: &str) -> Option<String> {
    let out = aws
        .cloudfront
        .get_function()
        .name(name)
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .ok()?;
    Some(String::from_utf8_lossy(out.function_code()?.as_ref()).into_owned())
}

/// The Content-Security-Policy a response headers policy sets, `None` when it does not exist.
async fn csp_of(aws: &Emulator, id: &str) -> Option<String> {
    let out = aws.cloudfront.get_response_headers_policy().id(id).send().await.ok()?;
    let config = out.response_headers_policy()?.response_headers_policy_config()?;
    let csp = config.security_headers_config()?.content_security_policy()?;
    Some(csp.content_security_policy().to_string())
}

#[tokio::test]
async fn routing_and_headers_are_attached_shared_repaired_after_drift_and_released_by_the_last_site() {
    let mut rig = Rig::new("site-routing").await;
    let token = unique("r");
    rig.config_map("pages", json!({"index.html": "<h1>home</h1>", "404.html": "not here"})).await;
    rig.config_map("docs", json!({"index.html": "<h1>docs v1</h1>"})).await;
    rig.start(2);
    let csp = format!("default-src 'self'; report-uri /{token}");
    let spec = json!({
        "content": {"configMaps": [{"name": "pages"}, {"name": "docs", "prefix": "docs/"}]},
        "routing": {"notFound": "404.html", "redirects": [{"from": format!("/{token}/*"), "to": "/new/:splat"}]},
        "headers": {"contentSecurityPolicy": csp},
    });
    rig.apply_site("routed", spec.clone()).await;
    let status = rig.ready("routed", 60).await;
    let dist = status.distribution.clone().expect("distribution").id;
    let function = status.routing.clone().and_then(|r| r.function).expect("status names the routing function");
    let headers = status.headers.clone().expect("status names the headers policy");
    assert!(function.starts_with("awsops-routing-") && headers.policy_name.starts_with("awsops-headers-"));

    // Attached as declared, and the code CloudFront runs serves folders and redirects.
    let (attached, policy, pages) = edge_of(&rig.aws, &dist).await;
    assert!(attached.as_deref().is_some_and(|arn| arn.ends_with(&format!("function/{function}"))), "{attached:?}");
    assert_eq!(policy.as_deref(), Some(headers.policy_id.as_str()));
    let not_found = |code: i32| (code, "/404.html".to_string(), "404".to_string());
    assert_eq!(pages, vec![not_found(403), not_found(404)]);
    let code = live_code(&rig.aws, &function).await.expect("published to LIVE");
    let served = support::node::run(&code, &["/docs", "/docs/", &format!("/{token}/a/b")]);
    assert_eq!(
        served,
        [
            support::node::uri("/docs/index.html"),
            support::node::uri("/docs/index.html"),
            support::node::redirect(301, "/new/a/b")
        ]
    );
    assert_eq!(csp_of(&rig.aws, &headers.policy_id).await.as_deref(), Some(csp.as_str()));

    // A second site with the same routing and headers shares both.
    rig.site("twin", spec.clone()).await;
    let twin = rig.ready("twin", 60).await;
    assert_eq!(twin.routing.and_then(|r| r.function).as_deref(), Some(function.as_str()));
    assert_eq!(twin.headers.as_ref().map(|h| h.policy_id.as_str()), Some(headers.policy_id.as_str()));
    assert_eq!(rig.stage.proxy.count("POST /2020-05-31/function"), 1, "one function for both sites");
    assert_eq!(rig.stage.proxy.count("POST /2020-05-31/response-headers-policy"), 1, "one policy for both sites");

    // A changed folder index invalidates the folder's URLs too.
    rig.config_map("docs", json!({"index.html": "<h1>docs v2</h1>"})).await;
    let folder_paths = eventually(Duration::from_secs(60), || async {
        invalidations(&rig.aws, &dist).await.into_iter().map(|(_, p)| p).find(|p| p.iter().any(|x| x == "/docs/"))
    })
    .await;
    assert_eq!(folder_paths, Some(vec!["/docs".to_string(), "/docs/".into(), "/docs/index.html".into()]));

    // Hand edits: the function detached and its LIVE code changed, the policy's CSP changed.
    let current = rig.aws.cloudfront.get_distribution_config().id(&dist).send().await.expect("config");
    let mut config = current.distribution_config().expect("config").clone();
    let mut behaviour = config.default_cache_behavior.take().expect("behaviour");
    behaviour.function_associations = Some(
        aws_sdk_cloudfront::types::FunctionAssociations::builder()
            .quantity(0)
            .set_items(Some(vec![]))
            .build()
            .expect("empty"),
    );
    config.default_cache_behavior = Some(behaviour);
    rig.aws
        .cloudfront
        .update_distribution()
        .id(&dist)
        .if_match(current.e_tag().unwrap_or_default())
        .distribution_config(config)
        .send()
        .await
        .expect("detached");
    let dev = rig.aws.cloudfront.describe_function().name(&function).send().await.expect("described");
    let edited = rig
        .aws
        .cloudfront
        .update_function()
        .name(&function)
        .if_match(dev.e_tag().unwrap_or_default())
        .function_config(dev.function_summary().and_then(|s| s.function_config()).cloned().expect("config"))
        .function_code(aws_sdk_cloudfront::primitives::Blob::new(b"function handler(e) { return e.request; }".to_vec()))
        .send()
        .await
        .expect("edited");
    rig.aws
        .cloudfront
        .publish_function()
        .name(&function)
        .if_match(edited.e_tag().unwrap_or_default())
        .send()
        .await
        .expect("published");
    let held = rig.aws.cloudfront.get_response_headers_policy().id(&headers.policy_id).send().await.expect("policy");
    let mut policy_config =
        held.response_headers_policy().and_then(|p| p.response_headers_policy_config()).cloned().expect("config");
    let mut security = policy_config.security_headers_config.take().expect("security");
    security.content_security_policy = Some(
        aws_sdk_cloudfront::types::ResponseHeadersPolicyContentSecurityPolicy::builder()
            .r#override(true)
            .content_security_policy("default-src *")
            .build()
            .expect("csp"),
    );
    policy_config.security_headers_config = Some(security);
    rig.aws
        .cloudfront
        .update_response_headers_policy()
        .id(&headers.policy_id)
        .if_match(held.e_tag().unwrap_or_default())
        .response_headers_policy_config(policy_config)
        .send()
        .await
        .expect("policy edited");
    let repaired = eventually(Duration::from_secs(60), || async {
        let (attached, _, _) = edge_of(&rig.aws, &dist).await;
        (attached.is_some()
            && live_code(&rig.aws, &function).await? == code
            && csp_of(&rig.aws, &headers.policy_id).await? == csp)
            .then_some(())
    })
    .await;
    assert!(
        repaired.is_some(),
        "drift not repaired:\n{}",
        rig.controller.as_ref().map(|c| c.log()).unwrap_or_default()
    );

    // The first site moves to SPA mode without headers: its own new function;
    // the old function and the policy stay while the twin uses them.
    let mut spa = spec.clone();
    spa["routing"]["mode"] = json!("SPA");
    spa.as_object_mut().expect("spec").remove("headers");
    rig.apply_site("routed", spa).await;
    let moved = rig
        .until("routed", 60, |s| {
            s.phase == Some(SitePhase::Ready)
                && s.routing.as_ref().and_then(|r| r.function.as_ref()).is_some_and(|f| f != &function)
                && s.headers.is_none()
        })
        .await;
    let spa_function = moved.routing.and_then(|r| r.function).expect("spa function");
    let (attached, policy, _) = edge_of(&rig.aws, &dist).await;
    assert!(attached.is_some_and(|arn| arn.ends_with(&spa_function)));
    assert_eq!(policy, None);
    let spa_code = live_code(&rig.aws, &spa_function).await.expect("spa function LIVE");
    assert_eq!(support::node::run(&spa_code, &["/users/42"]), [support::node::uri("/index.html")]);
    assert!(live_code(&rig.aws, &function).await.is_some(), "the twin still uses the static function");
    assert!(csp_of(&rig.aws, &headers.policy_id).await.is_some(), "the twin still uses the policy");

    // The twin deleted: the last user of the function and the policy releases both.
    rig.sites.delete("twin", &DeleteParams::default()).await.expect("delete");
    let released = eventually(Duration::from_secs(90), || async {
        (rig.sites.get_opt("twin").await.ok()?.is_none()
            && live_code(&rig.aws, &function).await.is_none()
            && csp_of(&rig.aws, &headers.policy_id).await.is_none())
        .then_some(())
    })
    .await;
    assert!(released.is_some(), "not released:\n{}", rig.controller.as_ref().map(|c| c.log()).unwrap_or_default());
    assert!(live_code(&rig.aws, &spa_function).await.is_some(), "the first site's function stays");

    // Routing removed, Secure headers without a CSP: the function detached
    // and released, its error pages gone, CloudFront's managed policy attached.
    let mut plain = spec.clone();
    let fields = plain.as_object_mut().expect("spec");
    fields.remove("routing");
    fields.insert("headers".into(), json!({"preset": "Secure"}));
    rig.apply_site("routed", plain).await;
    let managed = "67f7725c-6f97-4210-82d7-5512b31e9d03".to_string();
    let unrouted = eventually(Duration::from_secs(60), || async {
        let (attached, policy, pages) = edge_of(&rig.aws, &dist).await;
        (attached.is_none()
            && policy.as_ref() == Some(&managed)
            && pages.is_empty()
            && live_code(&rig.aws, &spa_function).await.is_none())
        .then_some(())
    })
    .await;
    assert!(
        unrouted.is_some(),
        "routing not removed:\n{}",
        rig.controller.as_ref().map(|c| c.log()).unwrap_or_default()
    );
    let status = rig
        .until("routed", 30, |s| {
            s.phase == Some(SitePhase::Ready) && s.routing.is_none() && s.edge_resources.is_empty()
        })
        .await;
    assert_eq!(status.headers.map(|h| h.policy_name).as_deref(), Some("Managed-SecurityHeadersPolicy"));
}

/// PUTs of content keys (not the manifest) to `bucket` seen so far.
fn content_puts(rig: &Rig, bucket: &str) -> usize {
    let all = rig.stage.proxy.count_prefix(&format!("PUT /{bucket}/"));
    all - rig.stage.proxy.count_prefix(&format!("PUT /{bucket}/.awsops/"))
}

async fn cache_control(rig: &Rig, bucket: &str, key: &str) -> Option<String> {
    let out = rig.aws.s3.head_object().bucket(bucket).key(key).send().await.ok()?;
    Some(out.cache_control().unwrap_or_default().to_string())
}

fn source_ca() -> String {
    support::files::test_ca().join("ca.crt").display().to_string()
}

#[tokio::test]
async fn an_archive_site_serves_nested_keys_with_its_rules_and_a_new_archive_uploads_only_what_changed() {
    use support::files::{FileServer, sha256, tar_gz};
    let server = FileServer::start().await;
    let v1 = tar_gz(&[
        ("public/index.html", b"<h1>v1</h1>"),
        ("public/docs/index.html", b"docs"),
        ("public/assets/app.js", b"js1"),
        ("README.md", b"not served"),
    ]);
    let url = server.put("site-1.tar.gz", &v1);
    let mut rig = Rig::new("site-archive").await;
    rig.start_with(600, &["--source-ca-file", &source_ca()]);
    let rules = json!([
        {"match": "assets/**", "cacheControl": "public, max-age=31536000, immutable"},
        {"match": "**/*.html", "cacheControl": "no-cache"},
    ]);
    let spec = |url: &str, sha: &str, rules: &serde_json::Value| json!({"content": {"archive": {"url": url, "sha256": sha}, "path": "public/", "rules": rules, "cacheControl": "max-age=300"}});
    rig.site("archive", spec(&url, &sha256(&v1), &rules)).await;
    let status = rig.ready("archive", 90).await;
    let content = status.content.clone().expect("content");
    assert_eq!(content.source.as_deref(), Some(format!("sha256:{}", sha256(&v1)).as_str()));
    assert_eq!((content.files, content.bytes, content.uploaded), (3, 18, 3));
    let bucket = status.bucket.clone().expect("bucket").name;
    assert_eq!(rig.object(&bucket, "docs/index.html").await.map(|o| o.0).as_deref(), Some("docs"));
    assert_eq!(cache_control(&rig, &bucket, "docs/index.html").await.as_deref(), Some("no-cache"));
    assert_eq!(cache_control(&rig, &bucket, "index.html").await.as_deref(), Some("no-cache"));
    let immutable = Some("public, max-age=31536000, immutable");
    assert_eq!(cache_control(&rig, &bucket, "assets/app.js").await.as_deref(), immutable);
    assert!(rig.object(&bucket, "README.md").await.is_none(), "outside spec.content.path");
    assert!(rig.object(&bucket, "public/index.html").await.is_none(), "keys are relative to the path");
    assert!(rig.object(&bucket, ".awsops/manifest.json").await.is_some(), "the manifest is in the bucket");

    // A new artifact with one changed file: exactly that PUT.
    let v2 = tar_gz(&[
        ("public/index.html", b"<h1>v1</h1>"),
        ("public/docs/index.html", b"docs"),
        ("public/assets/app.js", b"js2"),
    ]);
    let url2 = server.put("site-2.tar.gz", &v2);
    let before = content_puts(&rig, &bucket);
    rig.apply_site("archive", spec(&url2, &sha256(&v2), &rules)).await;
    let status = rig.until("archive", 60, |s| s.content.as_ref().is_some_and(|c| c.revision != content.revision)).await;
    let content = status.content.clone().expect("content");
    assert_eq!((content.uploaded, content.updated, content.deleted), (1, 0, 0));
    assert_eq!(content_puts(&rig, &bucket) - before, 1, "{:?}", rig.stage.proxy.snapshot());
    assert_eq!(rig.object(&bucket, "assets/app.js").await.map(|o| o.0).as_deref(), Some("js2"));

    // A rule change with the archive's server gone: nothing is fetched (the
    // manifest knows the files), the headers are copied in place, nothing uploaded.
    drop(server);
    let copies_before = rig.stage.proxy.count("CopyObject");
    let before = content_puts(&rig, &bucket);
    let rules = json!([{"match": "**/*.html", "cacheControl": "max-age=10"}]);
    rig.apply_site("archive", spec(&url2, &sha256(&v2), &rules)).await;
    let status = rig.until("archive", 60, |s| s.content.as_ref().is_some_and(|c| c.revision != content.revision)).await;
    let content = status.content.clone().expect("content");
    assert_eq!((content.uploaded, content.updated), (0, 3), "two pages and the asset whose rule went away");
    assert_eq!(rig.stage.proxy.count("CopyObject") - copies_before, 3);
    assert_eq!(content_puts(&rig, &bucket), before, "no body was uploaded");
    assert_eq!(cache_control(&rig, &bucket, "docs/index.html").await.as_deref(), Some("max-age=10"));
    assert_eq!(cache_control(&rig, &bucket, "assets/app.js").await.as_deref(), Some("max-age=300"));
    let owner = rig.aws.s3.head_object().bucket(&bucket).key("index.html").send().await.expect("head");
    assert!(owner.metadata().is_some_and(|m| m.contains_key("awsops-uid")), "copies keep the owner metadata");
}

#[tokio::test]
async fn a_digest_mismatch_or_a_traversal_archive_stalls_with_nothing_written_and_an_unreachable_one_is_retried() {
    use support::files::{FileServer, sha256, tar_gz, traversal_tar_gz};
    let server = FileServer::start().await;
    let good = tar_gz(&[("index.html", b"<h1>hi</h1>")]);
    let url = server.put("good.tar.gz", &good);
    let evil = traversal_tar_gz();
    let evil_url = server.put("evil.tar.gz", &evil);
    let mut rig = Rig::new("site-bad-archive").await;
    rig.start_with(600, &["--source-ca-file", &source_ca()]);
    let wrong = "0".repeat(64);
    rig.site("mismatch", json!({"content": {"archive": {"url": url, "sha256": wrong}}})).await;
    rig.site("traversal", json!({"content": {"archive": {"url": evil_url, "sha256": sha256(&evil)}}})).await;
    let nobody = format!("https://localhost:{}/site.tar.gz", free_port());
    rig.site("unreachable", json!({"content": {"archive": {"url": nobody, "sha256": sha256(&good)}}})).await;

    let (_, stalled) = rig.stalled("mismatch", 60).await;
    assert_eq!(stalled.reason, "ContentDigestMismatch");
    assert!(stalled.message.contains(&sha256(&good)), "{}", stalled.message);
    let (_, stalled) = rig.stalled("traversal", 60).await;
    assert_eq!(stalled.reason, "ContentInvalid");
    assert!(stalled.message.contains("out of the archive"), "{}", stalled.message);
    let status = rig
        .until("unreachable", 60, |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Reconciling" && c.status == "True" && c.reason == "SourceUnreachable")
        })
        .await;
    assert!(!status.conditions.iter().any(|c| c.type_ == "Stalled" && c.status == "True"), "retried, not stalled");
    assert_eq!(rig.writes(), 0, "nothing was created or uploaded: {:?}", rig.stage.proxy.snapshot());
}

#[tokio::test]
async fn a_config_map_site_from_before_the_manifest_seeds_it_from_md5_etags_without_uploading() {
    let mut rig = Rig::new("site-seed").await;
    rig.config_map("pages", json!({"index.html": "<h1>v1</h1>", "app.js": "v1"})).await;
    rig.start(600);
    rig.site("seeded", json!({"content": {"configMaps": [{"name": "pages"}]}})).await;
    let status = rig.ready("seeded", 60).await;
    let bucket = status.bucket.clone().expect("bucket").name;
    // What a bucket synced by a version without the manifest holds.
    rig.aws.s3.delete_object().bucket(&bucket).key(".awsops/manifest.json").send().await.expect("deleted");
    let before = content_puts(&rig, &bucket);

    let patch = json!({"metadata": {"annotations": {"awsops.dev/poke": "1"}}});
    rig.sites.patch("seeded", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("annotated");
    let manifest =
        eventually(Duration::from_secs(30), || async { rig.object(&bucket, ".awsops/manifest.json").await }).await;
    let manifest: serde_json::Value = serde_json::from_str(&manifest.expect("the manifest is seeded").0).expect("json");
    assert_eq!(manifest["files"].as_object().map(|f| f.len()), Some(2));
    assert_eq!(content_puts(&rig, &bucket), before, "no file was uploaded: {:?}", rig.stage.proxy.snapshot());
}

#[tokio::test]
async fn an_oci_artifact_site_serves_the_digest_it_pulled_and_an_unbound_pull_secret_says_how_to_grant_it() {
    use support::files::{pull_secret, push_artifact, registry, tar_gz};
    let mut rig = Rig::new("site-oci").await;
    let (host, _, _) = registry();
    let repo = format!("{host}/{}/site", rig.stage.ns);
    let v1 = tar_gz(&[("public/index.html", b"<h1>v1</h1>"), ("public/docs/guide/index.html", b"guide")]);
    let d1 = push_artifact(&format!("{repo}:live"), &v1).await;
    pull_secret(&rig.stage.client, &rig.stage.ns, "regcred").await;
    support::secrets::grant_secret(&rig.stage.client, &rig.stage.ns, "regcred").await;
    pull_secret(&rig.stage.client, &rig.stage.ns, "unbound").await;
    rig.start_with(600, &["--source-ca-file", &source_ca()]);
    let oci = |secret: &str| {
        json!({"content": {"oci": {"ref": format!("{repo}:live"), "secretRef": {"name": secret}}, "path": "public",
               "rules": [{"match": "**/*.html", "cacheControl": "no-cache"}]}})
    };
    rig.site("oci", oci("regcred")).await;
    rig.site("unbound", oci("unbound")).await;

    let status = rig.ready("oci", 90).await;
    let content = status.content.clone().expect("content");
    assert_eq!(content.source.as_deref(), Some(format!("{repo}@{d1}").as_str()), "the digest the tag named");
    assert_eq!((content.files, content.uploaded), (2, 2));
    let bucket = status.bucket.clone().expect("bucket").name;
    assert_eq!(rig.object(&bucket, "docs/guide/index.html").await.map(|o| o.0).as_deref(), Some("guide"));
    assert_eq!(cache_control(&rig, &bucket, "docs/guide/index.html").await.as_deref(), Some("no-cache"));

    let (_, stalled) = rig.stalled("unbound", 60).await;
    assert_eq!(stalled.reason, "PullSecretUnusable");
    assert!(stalled.message.contains("create role awsops-pull-unbound"), "{}", stalled.message);
    assert!(stalled.message.contains("--resource-name=unbound"), "{}", stalled.message);

    // The tag moves to a new artifact: the next look pulls it and uploads the one changed file.
    let v2 = tar_gz(&[("public/index.html", b"<h1>v2</h1>"), ("public/docs/guide/index.html", b"guide")]);
    let d2 = push_artifact(&format!("{repo}:live"), &v2).await;
    let before = content_puts(&rig, &bucket);
    let patch = json!({"metadata": {"annotations": {"awsops.dev/poke": "1"}}});
    rig.sites.patch("oci", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("annotated");
    let served = format!("{repo}@{d2}");
    let status =
        rig.until("oci", 60, |s| s.content.as_ref().and_then(|c| c.source.as_deref()) == Some(served.as_str())).await;
    assert_eq!(status.content.expect("content").uploaded, 1);
    assert_eq!(content_puts(&rig, &bucket) - before, 1, "only index.html: {:?}", rig.stage.proxy.snapshot());
    assert_eq!(rig.object(&bucket, "index.html").await.map(|o| o.0).as_deref(), Some("<h1>v2</h1>"));
}

#[tokio::test]
async fn an_artifact_the_registry_serves_altered_stalls_with_nothing_written_and_a_zip_artifact_is_served() {
    use support::files::{pull_secret, push_artifact, push_artifact_as, registry, tamper_blob, tar_gz, zip};
    let mut rig = Rig::new("site-oci-bytes").await;
    let (host, _, _) = registry();
    let repo = format!("{host}/{}/site", rig.stage.ns);
    // Bytes of this test alone: the registry stores one blob per digest.
    let page = format!("<h1>{}</h1>", rig.stage.ns);
    let altered = tar_gz(&[("index.html", page.as_bytes()), ("docs/index.html", b"altered")]);
    push_artifact(&format!("{repo}:altered"), &altered).await;
    tamper_blob(&altered);
    // Over 256 KiB (src/aws/s3.rs READ_BUFFER): uploaded from the work file in pieces, not read whole.
    let big = "0123456789abcdef".repeat(20_000);
    let zipped = zip(&[
        ("index.html", page.as_bytes()),
        ("docs/guide/index.html", b"zipped guide"),
        ("big.css", big.as_bytes()),
    ]);
    let zip_digest = push_artifact_as(&format!("{repo}:zip"), &zipped, "application/zip").await;
    pull_secret(&rig.stage.client, &rig.stage.ns, "regcred").await;
    support::secrets::grant_secret(&rig.stage.client, &rig.stage.ns, "regcred").await;
    rig.start_with(600, &["--source-ca-file", &source_ca()]);
    let oci =
        |tag: &str| json!({"content": {"oci": {"ref": format!("{repo}:{tag}"), "secretRef": {"name": "regcred"}}}});

    // One rig for both (a controller start is the slow part): the altered
    // artifact first, while no write at all is the proof that nothing was uploaded.
    rig.site("altered", oci("altered")).await;
    let (_, stalled) = rig.stalled("altered", 90).await;
    assert_eq!(stalled.reason, "ContentDigestMismatch", "{}", stalled.message);
    assert!(stalled.message.contains("nothing was uploaded"), "{}", stalled.message);
    assert_eq!(rig.writes(), 0, "nothing was created or uploaded: {:?}", rig.stage.proxy.snapshot());

    rig.site("zipped", oci("zip")).await;
    let status = rig.ready("zipped", 90).await;
    let content = status.content.clone().expect("content");
    assert_eq!(content.source.as_deref(), Some(format!("{repo}@{zip_digest}").as_str()));
    assert_eq!((content.files, content.uploaded), (3, 3));
    let bucket = status.bucket.expect("bucket").name;
    assert_eq!(rig.object(&bucket, "docs/guide/index.html").await.map(|o| o.0).as_deref(), Some("zipped guide"));
    assert_eq!(rig.object(&bucket, "index.html").await.map(|o| o.0), Some(page));
    assert_eq!(rig.object(&bucket, "big.css").await.map(|o| o.0), Some(big.clone()));
    // Sent with its SHA-256, which S3 checks the body against and keeps.
    let head = rig.aws.s3.head_object().bucket(&bucket).key("big.css");
    let head = head.checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled).send().await.expect("head");
    let sha = hex::decode(support::files::sha256(big.as_bytes())).expect("hex");
    let sha = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sha);
    assert_eq!(head.checksum_sha256(), Some(sha.as_str()));
}
