//! The sweeper of the opt-in suite against a real account (`make e2e-aws`,
//! tests/e2e_aws.rs): removes what earlier runs left behind. Every run starts
//! its controller with `--resource-tags awsops.dev/e2e=<run id>` (the run id
//! is `e2e-<unix seconds>`), so its buckets, distributions and certificates
//! carry that tag beside the controller's `awsops.dev/uid`; DNS records carry
//! no tags, so they are found by the run's host label (`awsops-<run id>`,
//! the name and names below it in the zone). Only what carries both tags (or
//! that exact label) with a run id the caller dooms is touched: a run still
//! going, or anything named otherwise, never is.
//!
//! A distribution is disabled first and deleted by a later sweep once
//! CloudFront has deployed that (minutes on AWS): what cannot go yet is
//! reported as pending, not waited for. A list or tag read that fails is
//! reported as an error. The OAC pool (`awsops-oac-<n>`, untagged, free of
//! charge) is left alone.

use std::time::Duration;

use aws_sdk_acm::types::{Filters, KeyAlgorithm};
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};

use super::Emulator;
use super::listing::{Tags, bucket_tags, certificate_tags, distribution_tags};

/// The tag key each run puts on what it creates; its value is the run id.
pub const E2E_TAG: &str = "awsops.dev/e2e";

/// How old a run must be before a sweep removes what it left: older than
/// any run can take (an hour to Ready, an hour to deletion, the fetch).
pub const STALE_AFTER: Duration = Duration::from_secs(3 * 60 * 60);

/// The id of a run started at `unix_seconds`.
pub fn run_id(unix_seconds: u64) -> String {
    format!("e2e-{unix_seconds}")
}

/// When run `id` started, if `id` is a run id at all.
pub fn run_started(id: &str) -> Option<u64> {
    let digits = id.strip_prefix("e2e-")?;
    digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
}

/// Whether run `id` started more than [`STALE_AFTER`] before `now` (seconds).
pub fn stale(id: &str, now: u64) -> bool {
    run_started(id).is_some_and(|started| started + STALE_AFTER.as_secs() < now)
}

/// The host label of a run's site: `awsops-<run id>`.
pub fn host_label(run: &str) -> String {
    format!("awsops-{run}")
}

/// What one sweep removed, what it started removing but must leave to a
/// later sweep (a distribution deploying, a certificate in use), and the
/// reads that failed. Each line names the run it belongs to.
#[derive(Debug, Default)]
pub struct Swept {
    pub removed: Vec<String>,
    pub pending: Vec<String>,
    pub errors: Vec<String>,
}

impl Swept {
    /// Everything found (removed or not) of run `id`.
    pub fn of_run(&self, id: &str) -> Vec<&String> {
        let mark = format!("(run {id})");
        self.removed.iter().chain(&self.pending).filter(|l| l.ends_with(&mark)).collect()
    }
}

/// Removes what the runs `doomed` accepts left, in this account and, with
/// `zone_id`, that zone's records.
pub async fn sweep(aws: &Emulator, zone_id: Option<&str>, doomed: &dyn Fn(&str) -> bool) -> Swept {
    let run_of = |tags: &Tags| {
        let run = tags.get(E2E_TAG).filter(|run| run_started(run).is_some() && doomed(run))?;
        tags.contains_key(awsops::api::TAG_UID).then(|| run.clone())
    };
    let mut swept = Swept::default();
    distributions(aws, &run_of, &mut swept).await;
    certificates(aws, &run_of, &mut swept).await;
    buckets(aws, &run_of, &mut swept).await;
    if let Some(zone) = zone_id {
        records(aws, zone, doomed, &mut swept).await;
    }
    swept
}

type RunOf<'a> = dyn Fn(&Tags) -> Option<String> + 'a;

async fn distributions(aws: &Emulator, run_of: &RunOf<'_>, swept: &mut Swept) {
    let cf = &aws.cloudfront;
    let mut marker: Option<String> = None;
    loop {
        let page = match cf.list_distributions().set_marker(marker.take()).send().await {
            Ok(page) => page,
            Err(e) => return swept.errors.push(format!("ListDistributions: {e}")),
        };
        let Some(list) = page.distribution_list() else { return };
        for d in list.items() {
            // A distribution deleted meanwhile has no tags to read: skipped.
            let Ok(tags) = distribution_tags(cf, d.arn()).await else { continue };
            if let Some(run) = run_of(&tags) {
                disable_or_delete(cf, d.id(), d.enabled(), d.status(), &run, swept).await;
            }
        }
        match list.next_marker() {
            Some(next) if list.is_truncated() => marker = Some(next.to_string()),
            _ => return,
        }
    }
}

async fn disable_or_delete(
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
    enabled: bool,
    status: &str,
    run: &str,
    swept: &mut Swept,
) {
    let what = format!("distribution {id}");
    let current = match cf.get_distribution_config().id(id).send().await {
        Ok(current) => current,
        Err(e) => return swept.errors.push(format!("{what}: {e} (run {run})")),
    };
    let etag = current.e_tag().unwrap_or_default().to_string();
    if enabled {
        let Some(config) = current.distribution_config() else { return };
        let mut disabled = config.clone();
        disabled.enabled = false;
        let out = cf.update_distribution().id(id).if_match(etag).distribution_config(disabled).send().await;
        let state = if out.is_ok() { "disabled, deploying" } else { "disable refused" };
        swept.pending.push(format!("{what}: {state} (run {run})"));
    } else if status == "Deployed" {
        match cf.delete_distribution().id(id).if_match(etag).send().await {
            Ok(_) => swept.removed.push(format!("{what} (run {run})")),
            Err(e) => swept.pending.push(format!("{what}: {e} (run {run})")),
        }
    } else {
        swept.pending.push(format!("{what}: still deploying (run {run})"));
    }
}

async fn certificates(aws: &Emulator, run_of: &RunOf<'_>, swept: &mut Swept) {
    let every_key =
        Filters::builder().set_key_types(Some(KeyAlgorithm::values().iter().map(|k| (*k).into()).collect()));
    let mut token: Option<String> = None;
    loop {
        let request = aws.acm.list_certificates().includes(every_key.clone().build()).set_next_token(token.take());
        let page = match request.send().await {
            Ok(page) => page,
            Err(e) => return swept.errors.push(format!("ListCertificates: {e}")),
        };
        for arn in page.certificate_summary_list().iter().filter_map(|c| c.certificate_arn()) {
            let Ok(tags) = certificate_tags(&aws.acm, arn).await else { continue };
            let Some(run) = run_of(&tags) else { continue };
            match aws.acm.delete_certificate().certificate_arn(arn).send().await {
                Ok(_) => swept.removed.push(format!("certificate {arn} (run {run})")),
                Err(e) => swept.pending.push(format!("certificate {arn}: {e} (run {run})")),
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return,
        }
    }
}

async fn buckets(aws: &Emulator, run_of: &RunOf<'_>, swept: &mut Swept) {
    let list = match aws.s3.list_buckets().send().await {
        Ok(list) => list,
        Err(e) => return swept.errors.push(format!("ListBuckets: {e}")),
    };
    for name in list.buckets().iter().filter_map(|b| b.name()) {
        // No tags, another region or already gone: not a run's bucket here.
        let Ok(tags) = bucket_tags(&aws.s3, name).await else { continue };
        let Some(run) = run_of(&tags) else { continue };
        empty(&aws.s3, name).await;
        match aws.s3.delete_bucket().bucket(name).send().await {
            Ok(_) => swept.removed.push(format!("bucket {name} (run {run})")),
            Err(e) => swept.pending.push(format!("bucket {name}: {e} (run {run})")),
        }
    }
}

/// Deletes every object version and delete marker (a plain object is the
/// version `null`).
async fn empty(s3: &aws_sdk_s3::Client, bucket: &str) {
    loop {
        let Ok(page) = s3.list_object_versions().bucket(bucket).send().await else { return };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let all: Vec<_> =
            versions.chain(markers).filter_map(|(k, v)| Some((k?.to_string(), v.map(String::from)))).collect();
        if all.is_empty() {
            return;
        }
        for (key, version) in all {
            let _ = s3.delete_object().bucket(bucket).key(key).set_version_id(version).send().await;
        }
    }
}

async fn records(aws: &Emulator, zone_id: &str, doomed: &dyn Fn(&str) -> bool, swept: &mut Swept) {
    let zone = match aws.route53.get_hosted_zone().id(zone_id).send().await {
        Ok(zone) => zone,
        Err(e) => return swept.errors.push(format!("GetHostedZone {zone_id}: {e}")),
    };
    let Some(zone_name) = zone.hosted_zone().map(|z| z.name().trim_end_matches('.').to_string()) else { return };
    // The run whose host label the name ends in, if it is a doomed run's.
    let run_of = |name: &str| {
        let under = name.trim_end_matches('.').strip_suffix(&format!(".{zone_name}"))?;
        let run = under.rsplit('.').next()?.strip_prefix("awsops-")?;
        (run_started(run).is_some() && doomed(run)).then(|| run.to_string())
    };
    // Every page first, then the deletions (a deletion would move the pages).
    let mut doomed_sets = Vec::new();
    let mut start: Option<(String, aws_sdk_route53::types::RrType)> = None;
    loop {
        let mut request = aws.route53.list_resource_record_sets().hosted_zone_id(zone_id);
        if let Some((name, type_)) = start.take() {
            request = request.start_record_name(name).start_record_type(type_);
        }
        let page = match request.send().await {
            Ok(page) => page,
            Err(e) => return swept.errors.push(format!("ListResourceRecordSets {zone_id}: {e}")),
        };
        doomed_sets.extend(page.resource_record_sets().iter().filter_map(|s| Some((run_of(s.name())?, s.clone()))));
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(name), Some(type_)) => start = Some((name.to_string(), type_.clone())),
            _ => break,
        }
    }
    for (run, set) in doomed_sets {
        let what = format!("record {} {}", set.name(), set.r#type().as_str());
        let change = Change::builder().action(ChangeAction::Delete).resource_record_set(set).build().expect("change");
        let batch = ChangeBatch::builder().changes(change).build().expect("batch");
        match aws.route53.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch).send().await {
            Ok(_) => swept.removed.push(format!("{what} (run {run})")),
            Err(e) => swept.pending.push(format!("{what}: {e} (run {run})")),
        }
    }
}
