//! The last inch: the controller against a real AWS account the user owns
//! (`make e2e-aws`, see README "Against a real AWS account"). The tests
//! whose names contain `in_a_real_account` run only with `AWSOPS_E2E_AWS=1`
//! and print one line saying why they were skipped otherwise (so `make test`
//! runs them skipped); once asked for, missing credentials, region or the
//! account's confirmation fail them. Everything a run creates is tagged
//! `awsops.dev/e2e=<run id>`; each run first sweeps what runs older than
//! three hours left. The sweeper itself is tested here against the emulator.

mod support;

use std::time::{Duration, Instant};

use awsops::api::{AuroraFailover, FailoverPhase, SitePhase, StaticSite};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;
use support::sweep::{E2E_TAG, host_label, run_id, stale, sweep};
use support::{ControllerProcess, Emulator, unique};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// The run, once the user asked for one against the account they confirmed;
/// `None` (having said why) when the suite is not asked for.
async fn live() -> Option<String> {
    if std::env::var("AWSOPS_E2E_AWS").as_deref() != Ok("1") {
        eprintln!("skipped: set AWSOPS_E2E_AWS=1 and AWS credentials for a sandbox account to run it (make e2e-aws)");
        return None;
    }
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_err(),
        "AWS_ENDPOINT_URL is set: the real-account suite talks to AWS itself; unset it"
    );
    assert!(std::env::var("AWS_REGION").is_ok(), "AWS_REGION: the region the test site's bucket goes in");
    let account = std::env::var("AWSOPS_E2E_ACCOUNT").expect(
        "AWSOPS_E2E_ACCOUNT: the sandbox account's id, checked against the credentials before anything is made",
    );
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let caller = aws_sdk_sts::Client::new(&conf).get_caller_identity().send().await;
    let caller = caller.unwrap_or_else(|e| panic!("AWSOPS_E2E_AWS=1 but no usable AWS credentials: {e:?}"));
    assert_eq!(caller.account(), Some(account.as_str()), "the credentials are not the sandbox account's");
    Some(run_id(now()))
}

/// Waits up to `limit`, checking every 15 s (AWS takes minutes; a line when done).
async fn within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = check().await {
            eprintln!("{what}: after {}s", start.elapsed().as_secs());
            return Some(v);
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
    None
}

#[tokio::test]
async fn a_static_site_on_a_custom_domain_in_a_real_account_serves_https_and_leaves_nothing_behind() {
    let Some(run) = live().await else { return };
    let zone = std::env::var("AWSOPS_E2E_ZONE").expect("AWSOPS_E2E_ZONE: a public hosted zone (its name) for the site");
    let zone = zone.trim_end_matches('.').to_string();
    let aws = Emulator::new().await;
    let zone_id = zone_id(&aws, &zone).await;
    let before = sweep(&aws, Some(&zone_id), &|r| stale(r, now())).await;
    eprintln!("swept runs older than 3 h: {before:#?}");

    let client = support::kube_client().await;
    support::install_crds(&client).await;
    let ns = support::namespace(&client, "e2e").await;
    let tag = format!("{E2E_TAG}={run}");
    let controller = ControllerProcess::start(&ns, "awsops", &unique("e2e"), &["--resource-tags", &tag]);
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), &ns);
    let page = format!("<h1>awsops {run}</h1>");
    let map = json!({"metadata": {"name": "pages"}, "data": {"index.html": page}});
    maps.create(&PostParams::default(), &serde_json::from_value(map).expect("map")).await.expect("pages");
    let host = format!("{}.{zone}", host_label(&run));
    let sites: Api<StaticSite> = Api::namespaced(client.clone(), &ns);
    let site = json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "StaticSite", "metadata": {"name": "e2e"},
        "spec": {
            "content": {"configMaps": [{"name": "pages"}]},
            "domain": {"names": [host], "hostedZoneName": zone},
            "bucket": {"deletionPolicy": "Delete"}
        }
    });
    sites.create(&PostParams::default(), &serde_json::from_value(site).expect("site")).await.expect("site created");

    // Certificate validation and CloudFront's deployment: 30 minutes is usual.
    let ready = within("Ready", Duration::from_secs(60 * 60), || async {
        let status = sites.get("e2e").await.ok()?.status?;
        (status.phase == Some(SitePhase::Ready)).then_some(status)
    })
    .await;
    let status = ready.unwrap_or_else(|| panic!("not Ready within an hour:\n{}", controller.log()));
    let bucket = status.bucket.as_ref().expect("bucket").name.clone();
    let served = within("served over HTTPS", Duration::from_secs(15 * 60), || async {
        let body = reqwest::get(format!("https://{host}/")).await.ok()?.text().await.ok()?;
        body.contains(&page).then_some(())
    })
    .await;
    assert!(served.is_some(), "https://{host}/ did not serve the page within 15 minutes");

    sites.delete("e2e", &DeleteParams::default()).await.expect("delete");
    let gone = within("deleted", Duration::from_secs(60 * 60), || async {
        sites.get_opt("e2e").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(gone.is_some(), "the site kept its finalizer for an hour:\n{}", controller.log());
    assert!(aws.s3.head_bucket().bucket(&bucket).send().await.is_err(), "bucket {bucket} is gone");
    // What is still there of this run is swept now, and fails the test.
    let left = sweep(&aws, Some(&zone_id), &|r| r == run).await;
    assert!(left.errors.is_empty() && left.of_run(&run).is_empty(), "the site's deletion left {left:#?}");
}

#[tokio::test]
async fn a_named_aurora_cluster_fails_over_in_a_real_account() {
    let Some(_run) = live().await else { return };
    let Ok(cluster) = std::env::var("AWSOPS_E2E_AURORA_CLUSTER") else {
        eprintln!("skipped: set AWSOPS_E2E_AURORA_CLUSTER to a sandbox Aurora MySQL cluster to fail it over");
        return;
    };
    let aws = Emulator::new().await;
    let before = support::aurora::writer(&aws.rds, &cluster).await;
    let client = support::kube_client().await;
    support::install_crds(&client).await;
    let ns = support::namespace(&client, "e2e").await;
    let controller = ControllerProcess::start(&ns, "awsops", &unique("e2e"), &[]);
    let failovers: Api<AuroraFailover> = Api::namespaced(client.clone(), &ns);
    let failover = json!({
        "apiVersion": "awsops.dev/v1alpha1", "kind": "AuroraFailover", "metadata": {"name": "e2e"},
        "spec": {"clusterIdentifier": cluster}
    });
    failovers
        .create(&PostParams::default(), &serde_json::from_value(failover).expect("failover"))
        .await
        .expect("created");
    let done = within("Succeeded", Duration::from_secs(30 * 60), || async {
        let status = failovers.get("e2e").await.ok()?.status?;
        (status.phase == Some(FailoverPhase::Succeeded)).then_some(status)
    })
    .await;
    let status = done.unwrap_or_else(|| panic!("no Succeeded within 30 minutes:\n{}", controller.log()));
    let after = support::aurora::writer(&aws.rds, &cluster).await;
    assert_ne!(after, before, "the writer moved");
    assert_eq!(Some(after), status.plan.map(|p| p.target), "to the reader the plan named");
}

async fn zone_id(aws: &Emulator, zone: &str) -> String {
    let out = aws.route53.list_hosted_zones_by_name().dns_name(zone).send().await.expect("hosted zones");
    let found = out.hosted_zones().iter().find(|z| z.name().trim_end_matches('.') == zone);
    found.map(|z| z.id().trim_start_matches("/hostedzone/").to_string()).expect("AWSOPS_E2E_ZONE names a hosted zone")
}

/// What a run's controller tags its resources with.
fn run_tags(run: &str) -> [(&str, &str); 2] {
    [(E2E_TAG, run), (awsops::api::TAG_UID, "e2e-uid")]
}

async fn distribution(aws: &Emulator, tags: &[(&str, &str)]) -> String {
    support::handmade::tagged_distribution(&aws.cloudfront, "e2e.s3.amazonaws.com", tags).await
}

async fn bucket(aws: &Emulator, tags: &[(&str, &str)]) -> String {
    let name = unique("e2e-bucket");
    aws.s3.create_bucket().bucket(&name).send().await.expect("bucket");
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"left behind");
    aws.s3.put_object().bucket(&name).key("index.html").body(body).send().await.expect("object");
    if !tags.is_empty() {
        let tags = tags.iter().map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(*k).value(*v).build().expect("tag"));
        let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tags.collect())).build().expect("tagging");
        aws.s3.put_bucket_tagging().bucket(&name).tagging(tagging).send().await.expect("tagged");
    }
    name
}

async fn certificate(aws: &Emulator, tags: &[(&str, &str)]) -> String {
    let mut request = aws.acm.request_certificate().domain_name(format!("{}.example.org", unique("e2e")));
    for (k, v) in tags {
        request = request.tags(aws_sdk_acm::types::Tag::builder().key(*k).value(*v).build().expect("tag"));
    }
    request.send().await.expect("certificate").certificate_arn().expect("arn").to_string()
}

async fn cname(aws: &Emulator, zone_id: &str, name: &str) {
    let cname = aws_sdk_route53::types::RrType::Cname;
    support::handmade::hand_made_record(&aws.route53, zone_id, name, cname, "target.example.org").await;
}

async fn record_names(aws: &Emulator, zone_id: &str) -> Vec<String> {
    let out = aws.route53.list_resource_record_sets().hosted_zone_id(zone_id).send().await.expect("records");
    out.resource_record_sets().iter().map(|s| s.name().trim_end_matches('.').to_string()).collect()
}

#[test]
fn only_run_ids_older_than_three_hours_are_stale() {
    let now = 1_800_000_000;
    assert!(stale(&run_id(now - 4 * 3600), now));
    assert!(!stale(&run_id(now - 3600), now), "a run still going");
    for not_a_run in ["e2e-", "e2e-12a", "prod", "e2e-1 ", "E2E-1", "e2e-demo"] {
        assert!(!stale(not_a_run, now), "{not_a_run}");
    }
}

/// Against the emulator: an old run's bucket, certificate, records and
/// distribution go (the distribution disabled first, deleted by the next
/// sweep); a run still going, anything tagged without the controller's uid
/// tag, anything untagged and names that are not a run's stay.
#[tokio::test]
async fn the_sweeper_removes_what_earlier_runs_left_and_nothing_else() {
    support::require_env();
    let aws = Emulator::new().await;
    let (old, going) = (run_id(now() - 4 * 3600), run_id(now() - 3600));
    let (old_tags, going_tags) = (run_tags(&old), run_tags(&going));
    let by_hand = [(E2E_TAG, old.as_str())];
    let zone = format!("{}.test", unique("sweep"));
    let created = aws.route53.create_hosted_zone().name(&zone).caller_reference(unique("zone")).send().await;
    let zone_id =
        created.expect("zone").hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string();
    let (left, kept) = (host_label(&old), [host_label(&going), "awsops-e2e-demo".into(), "www".into()]);
    for name in [left.clone(), format!("_validation.{left}")].iter().chain(&kept) {
        cname(&aws, &zone_id, &format!("{name}.{zone}")).await;
    }
    let buckets = [
        bucket(&aws, &old_tags).await,
        bucket(&aws, &going_tags).await,
        bucket(&aws, &by_hand).await,
        bucket(&aws, &[]).await,
    ];
    let certificates = [
        certificate(&aws, &old_tags).await,
        certificate(&aws, &going_tags).await,
        certificate(&aws, &by_hand).await,
        certificate(&aws, &[]).await,
    ];
    let distributions = [
        distribution(&aws, &old_tags).await,
        distribution(&aws, &going_tags).await,
        distribution(&aws, &by_hand).await,
        distribution(&aws, &[]).await,
    ];
    let stale_now = |r: &str| stale(r, now());

    let first = sweep(&aws, Some(&zone_id), &stale_now).await;
    assert!(first.errors.is_empty(), "{first:#?}");
    assert!(aws.s3.head_bucket().bucket(&buckets[0]).send().await.is_err(), "the old run's bucket is gone: {first:#?}");
    for kept in &buckets[1..] {
        assert!(aws.s3.head_bucket().bucket(kept).send().await.is_ok(), "{kept} kept");
    }
    let describe = |arn: &str| aws.acm.describe_certificate().certificate_arn(arn).send();
    assert!(describe(&certificates[0]).await.is_err(), "the old run's certificate is gone: {first:#?}");
    for kept in &certificates[1..] {
        assert!(describe(kept).await.is_ok(), "{kept} kept");
    }
    let mut names = record_names(&aws, &zone_id).await;
    names.retain(|n| n != &zone);
    names.sort();
    let mut expected: Vec<String> = kept.iter().map(|k| format!("{k}.{zone}")).collect();
    expected.sort();
    assert_eq!(names, expected, "{first:#?}");
    // CloudFront deletes only a disabled, deployed distribution: disabled now, deleted by the next sweep.
    assert_eq!(support::handmade::enabled(&aws.cloudfront, &distributions[0]).await, Some(false), "{first:#?}");
    assert!(first.pending.iter().any(|p| p.contains(&distributions[0])), "{first:#?}");
    assert_eq!(first.of_run(&old).len(), 1 + 1 + 2 + 1, "bucket, certificate, two records, distribution: {first:#?}");

    let second = sweep(&aws, Some(&zone_id), &stale_now).await;
    assert_eq!(support::handmade::enabled(&aws.cloudfront, &distributions[0]).await, None, "gone: {second:#?}");
    for kept in &distributions[1..] {
        assert_eq!(support::handmade::enabled(&aws.cloudfront, kept).await, Some(true), "{kept} kept");
    }
}
