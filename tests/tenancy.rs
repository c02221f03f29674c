//! TenantPolicies on the real API server and emulator (API.md, "TenantPolicy"):
//! what no policy allows stalls `NotPermitted` before any AWS request, a
//! policy or namespace label change re-checks the objects concerned, and an
//! install moves from `--tenancy off` through `audit` to `enforce`.

mod support;

use std::time::Duration;

use awsops::api::static_site::{SitePhase, StaticSite, StaticSiteStatus};
use awsops::api::{AuroraFailover, FailoverPhase};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::aurora::seed_cluster;
use support::*;

/// A namespace labelled `team=<unique>` with no policy yet, a ConfigMap
/// `pages`, and API handles; controllers are started by each test.
struct Rig {
    stage: Stage,
    team: String,
    sites: Api<StaticSite>,
    failovers: Api<AuroraFailover>,
    controller: Option<ControllerProcess>,
}

impl Rig {
    async fn new(prefix: &str) -> Self {
        let team = unique("team");
        let stage = Stage::without_policy(prefix, &[("team", &team)]).await;
        let cms: Api<ConfigMap> = Api::namespaced(stage.client.clone(), &stage.ns);
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "pages"}, "data": {"index.html": "hi"}})).expect("cm");
        cms.create(&PostParams::default(), &cm).await.expect("configmap");
        Self {
            sites: Api::namespaced(stage.client.clone(), &stage.ns),
            failovers: Api::namespaced(stage.client.clone(), &stage.ns),
            stage,
            team,
            controller: None,
        }
    }

    /// Starts a controller with `--tenancy <mode>` (the default, enforce, when `None`).
    async fn start(&mut self, mode: Option<&str>) {
        if let Some(old) = self.controller.take() {
            old.terminate().await;
        }
        let args: Vec<&str> = mode.map(|m| vec!["--tenancy", m]).unwrap_or_default();
        self.controller = Some(self.stage.controller(&args, &[]));
    }

    fn log(&self) -> String {
        self.controller.as_ref().map(ControllerProcess::log).unwrap_or_default()
    }

    /// A policy selecting this rig's team label.
    async fn policy(&self, name: &str, allow: serde_json::Value) {
        let mut spec = allow;
        spec["namespaceSelector"] = json!({"matchLabels": {"team": self.team}});
        tenant_policy(&self.stage.client, &format!("{}-{name}", self.stage.ns), spec).await;
    }

    async fn site(&self, name: &str, spec: serde_json::Value) {
        let site: StaticSite = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("site");
        self.sites.create(&PostParams::default(), &site).await.expect("site created");
    }

    async fn failover(&self, name: &str, spec: serde_json::Value) {
        let failover: AuroraFailover = serde_json::from_value(json!({
            "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("failover");
        self.failovers.create(&PostParams::default(), &failover).await.expect("failover created");
    }

    async fn site_until(&self, name: &str, done: impl Fn(&StaticSiteStatus) -> bool) -> StaticSiteStatus {
        site_until(&self.sites, name, || self.log(), done).await
    }

    async fn failover_until(&self, name: &str, done: impl Fn(&[Condition], Option<FailoverPhase>) -> bool) {
        let got = eventually(Duration::from_secs(60), || async {
            let status = self.failovers.get(name).await.ok()?.status?;
            done(&status.conditions, status.phase).then_some(())
        });
        if got.await.is_none() {
            let last = self.failovers.get(name).await.ok().and_then(|f| f.status);
            panic!("failover {name}: {last:#?}\nlog:\n{}", self.log());
        }
    }

    async fn gone(&self, name: &str) {
        delete_site(&self.sites, name, || self.log()).await;
    }

    /// The notes of the events with `reason` about object `name`.
    /// The notes of `name`'s events with `reason`, once there is one (the
    /// event follows the status write that a test waits for; empty after 30 s).
    async fn events(&self, name: &str, reason: &str) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.stage.client.clone(), &self.stage.ns);
        let found = eventually(Duration::from_secs(30), || async {
            let list = api.list(&Default::default()).await.ok()?;
            let notes: Vec<String> = list
                .items
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some(reason))
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
                .filter_map(|e| e.note)
                .collect();
            (!notes.is_empty()).then_some(notes)
        })
        .await;
        found.unwrap_or_default()
    }

    fn requests(&self) -> Vec<(String, usize)> {
        self.stage.proxy.snapshot()
    }
}

fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn not_permitted(conditions: &[Condition]) -> bool {
    condition(conditions, "Stalled").is_some_and(|c| c.status == "True" && c.reason == "NotPermitted")
}

fn permitted(conditions: &[Condition]) -> Option<bool> {
    condition(conditions, "Permitted").map(|c| c.status == "True")
}

const ACCOUNT_ROLE: &str = "arn:aws:iam::123456789012:role";

#[tokio::test]
async fn what_no_policy_allows_stalls_not_permitted_naming_the_field_and_reaches_aws_not_once() {
    let mut rig = Rig::new("tenancy-refused").await;
    rig.policy(
        "web",
        json!({
            "identity": {"allowDefault": false, "roleArns": [format!("{ACCOUNT_ROLE}/web-*")]},
            "staticSites": {"hostedZones": ["allowed.example"], "domains": ["www.allowed.example"], "bucketNames": ["web-*"]},
            "auroraFailovers": {"clusters": ["orders-*"]}
        }),
    )
    .await;
    rig.start(None).await;
    let role = format!("{ACCOUNT_ROLE}/web-site");
    let cases = [
        (
            "foreign-name",
            json!({"roleArn": role, "domain": {"names": ["shop.allowed.example"], "hostedZoneName": "allowed.example"}}),
            "spec.domain.names[0] \"shop.allowed.example\"",
        ),
        (
            "foreign-zone",
            json!({"roleArn": role, "domain": {"names": ["www.victim.example"], "hostedZoneName": "victim.example"}}),
            "spec.domain.hostedZoneName \"victim.example\"",
        ),
        ("foreign-role", json!({"roleArn": format!("{ACCOUNT_ROLE}/db-admin")}), "spec.roleArn"),
        (
            "foreign-certificate",
            json!({"roleArn": role, "domain": {
                "names": ["www.allowed.example"], "hostedZoneName": "allowed.example",
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
            }}),
            "spec.domain.certificateArn",
        ),
        ("default-identity", json!({}), "spec.identity.allowDefault: true"),
        (
            "foreign-bucket",
            json!({"roleArn": role, "bucket": {"name": "shop-assets", "adopt": true, "deletionPolicy": "Delete"}}),
            "spec.bucket.name \"shop-assets\"",
        ),
    ];
    for (name, spec, _) in &cases {
        rig.site(name, spec.clone()).await;
    }
    rig.failover("foreign-cluster", json!({"clusterIdentifier": "billing-1", "roleArn": role})).await;

    for (name, _, field) in &cases {
        let status = rig.site_until(name, |s| not_permitted(&s.conditions)).await;
        let stalled = condition(&status.conditions, "Stalled").expect("stalled");
        assert!(stalled.message.contains(field), "{name}: {}", stalled.message);
        assert!(stalled.message.contains("Nothing was read or changed in AWS"), "{}", stalled.message);
        assert_eq!(permitted(&status.conditions), Some(false), "{name}");
    }
    rig.failover_until("foreign-cluster", |c, _| not_permitted(c)).await;
    let failover = rig.failovers.get("foreign-cluster").await.expect("failover");
    let message = failover.status.map(|s| condition(&s.conditions, "Stalled").expect("stalled").message.clone());
    assert!(message.as_deref().is_some_and(|m| m.contains("spec.clusterIdentifier \"billing-1\"")), "{message:?}");
    assert!(!rig.events("foreign-role", "NotPermitted").await.is_empty(), "the refusal is an event too");

    for (name, _, _) in &cases {
        rig.gone(name).await;
    }
    assert_eq!(rig.requests(), vec![], "no AWS request of any kind, STS included, for a refused object");

    // Another namespace, another policy: the same failover is its to plan.
    let mut billing = Rig::new("tenancy-billing").await;
    let rds = Emulator::new().await.rds;
    let cluster = unique("billing");
    let (writer, reader) = (format!("{cluster}-w"), format!("{cluster}-r"));
    seed_cluster(&rds, &cluster, "aurora-mysql", &[(&writer, 1, "db.r6g.large"), (&reader, 0, "db.r6g.large")]).await;
    billing
        .policy("billing", json!({"identity": {"allowDefault": true}, "auroraFailovers": {"clusters": ["billing-*"]}}))
        .await;
    rig.failover("theirs", json!({"clusterIdentifier": cluster, "dryRun": true})).await;
    billing.failover("ours", json!({"clusterIdentifier": cluster, "dryRun": true})).await;
    billing.start(None).await;
    billing.failover_until("ours", |_, phase| phase == Some(FailoverPhase::Planned)).await;
    rig.failover_until("theirs", |c, _| not_permitted(c)).await;
    assert_eq!(rig.requests(), vec![], "the web team's controller still asked AWS nothing");
}

#[tokio::test]
async fn content_from_a_host_no_policy_lists_is_not_permitted_and_nothing_is_fetched_or_asked() {
    let mut rig = Rig::new("tenancy-sources").await;
    let sites = json!({"allowDefault": true});
    rig.policy("web", json!({"identity": sites, "staticSites": {"sources": ["registry.allowed.example"]}})).await;
    rig.start(None).await;
    let cases = [
        (
            "foreign-registry",
            json!({"oci": {"ref": "registry.victim.example/web/site:1"}}),
            "spec.content.oci.ref \"registry.victim.example\" is not allowed (add it to spec.staticSites.sources)",
        ),
        (
            "metadata-archive",
            json!({"archive": {"url": "https://169.254.169.254/latest/meta-data/", "sha256": "0".repeat(64)}}),
            "spec.content.archive.url \"169.254.169.254\"",
        ),
    ];
    for (name, content, _) in &cases {
        rig.site(name, json!({"content": content})).await;
    }
    for (name, _, field) in &cases {
        let status = rig.site_until(name, |s| not_permitted(&s.conditions)).await;
        let stalled = condition(&status.conditions, "Stalled").expect("stalled");
        assert!(stalled.message.contains(field), "{name}: {}", stalled.message);
    }
    assert_eq!(rig.requests(), vec![], "no AWS request for a refused object");
}

#[tokio::test]
async fn a_policy_granted_then_a_namespace_relabelled_re_checks_its_objects_and_deletion_still_cleans_up() {
    let mut rig = Rig::new("tenancy-recheck").await;
    let rds = Emulator::new().await.rds;
    let cluster = unique("orders");
    let (writer, reader) = (format!("{cluster}-w"), format!("{cluster}-r"));
    seed_cluster(&rds, &cluster, "aurora-mysql", &[(&writer, 1, "db.r6g.large"), (&reader, 0, "db.r6g.large")]).await;
    rig.start(None).await;
    let bucket = unique("web-recheck");
    let site =
        json!({"bucket": {"name": bucket, "deletionPolicy": "Delete"}, "content": {"configMaps": [{"name": "pages"}]}});
    rig.site("site", site).await;
    rig.failover("planned", json!({"clusterIdentifier": cluster, "dryRun": true})).await;
    rig.site_until("site", |s| not_permitted(&s.conditions)).await;
    rig.failover_until("planned", |c, _| not_permitted(c)).await;
    let message = rig.sites.get("site").await.ok().and_then(|s| s.status).map(|s| s.conditions);
    let message = message.and_then(|c| condition(&c, "Stalled").map(|c| c.message.clone())).unwrap_or_default();
    assert!(message.contains("no TenantPolicy selects namespace"), "{message}");

    // Granted: the watch of policies wakes both (the resync is 10 minutes away).
    rig.policy(
        "grant",
        json!({
            "identity": {"allowDefault": true},
            "staticSites": {"bucketNames": ["web-*"]},
            "auroraFailovers": {"clusters": ["orders-*"]}
        }),
    )
    .await;
    let ready = rig.site_until("site", |s| s.phase == Some(SitePhase::Ready)).await;
    assert_eq!(permitted(&ready.conditions), Some(true));
    rig.failover_until("planned", |_, phase| phase == Some(FailoverPhase::Planned)).await;

    // The policy narrowed: the Ready site stalls; widened again, it is Ready again.
    let narrowed = json!({"identity": {"allowDefault": true}, "auroraFailovers": {"clusters": ["orders-*"]}});
    rig.policy("grant", narrowed).await;
    let stalled = rig.site_until("site", |s| not_permitted(&s.conditions)).await;
    let message = condition(&stalled.conditions, "Stalled").map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains(&format!("spec.bucket.name {bucket:?}")), "{message}");
    let widened = json!({"identity": {"allowDefault": true}, "staticSites": {"bucketNames": ["web-*"]}});
    rig.policy("grant", widened).await;
    rig.site_until("site", |s| s.phase == Some(SitePhase::Ready) && permitted(&s.conditions) == Some(true)).await;

    // The namespace leaves the team: the Ready site stalls; the finished failover is not even looked at.
    let looks_at_failovers = "awsops_reconciles_total{kind=\"AuroraFailover\"}";
    let before = rig.controller.as_ref().expect("controller").sample(looks_at_failovers).await;
    let namespaces: Api<Namespace> = Api::all(rig.stage.client.clone());
    let relabel = json!({"metadata": {"labels": {"team": "elsewhere"}}});
    namespaces.patch(&rig.stage.ns, &PatchParams::default(), &Patch::Merge(&relabel)).await.expect("relabelled");
    rig.site_until("site", |s| not_permitted(&s.conditions)).await;
    let after = rig.controller.as_ref().expect("controller").sample(looks_at_failovers).await;
    assert_eq!(after, before, "no re-check of a finished failover");

    // Refused now, but what it created is still its own to remove.
    rig.gone("site").await;
    let s3 = Emulator::new().await.s3;
    let head = s3.head_bucket().bucket(&bucket).send().await;
    assert!(head.is_err(), "the site's bucket is deleted (deletionPolicy: Delete)");
}

#[tokio::test]
async fn an_install_without_policies_moves_from_off_through_audit_to_enforce() {
    let mut rig = Rig::new("tenancy-upgrade").await;
    rig.start(Some("off")).await;
    let pages = json!({"configMaps": [{"name": "pages"}]});
    rig.site("kept", json!({"content": pages})).await;
    let outsider = unique("shop");
    rig.site("outsider", json!({"bucket": {"name": outsider}, "content": pages})).await;
    for name in ["kept", "outsider"] {
        let ready = rig.site_until(name, |s| s.phase == Some(SitePhase::Ready)).await;
        assert_eq!(permitted(&ready.conditions), None, "off records no verdict");
    }

    rig.start(Some("audit")).await;
    for name in ["kept", "outsider"] {
        let status = rig.site_until(name, |s| permitted(&s.conditions) == Some(false)).await;
        assert_eq!(status.phase, Some(SitePhase::Ready), "audit stalls nothing");
        let notes = rig.events(name, "NotPermitted").await;
        assert!(notes.iter().any(|n| n.contains("--tenancy enforce would stall")), "{name}: {notes:?}");
    }

    rig.policy("defaults", json!({"identity": {"allowDefault": true}})).await;
    rig.site_until("kept", |s| permitted(&s.conditions) == Some(true)).await;
    let named = format!("spec.bucket.name {outsider:?}");
    let refused = |s: &StaticSiteStatus| {
        condition(&s.conditions, "Permitted").is_some_and(|c| c.status == "False" && c.message.contains(&named))
    };
    rig.site_until("outsider", refused).await;

    rig.start(None).await;
    rig.site_until("outsider", |s| not_permitted(&s.conditions)).await;
    let controller = rig.controller.as_ref().expect("controller");
    let looked = eventually(Duration::from_secs(60), || async {
        let done = controller.sample("awsops_reconcile_duration_seconds_count{kind=\"StaticSite\"}").await;
        (done >= 2.0).then_some(())
    });
    assert!(looked.await.is_some(), "the enforcing controller looked at both sites:\n{}", rig.log());
    let kept = rig.sites.get("kept").await.expect("site").status.expect("status");
    assert_eq!(kept.phase, Some(SitePhase::Ready), "only the unpermitted object stalls");
    assert_eq!(permitted(&kept.conditions), Some(true));
}
