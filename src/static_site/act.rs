//! Carries out a StaticSite's steps in API.md's order, each idempotent, with
//! what each step produced (ids, ARNs, conditions) written to status as soon
//! as it exists, so a restart resumes without duplicates. A site in sync
//! makes reads only.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};

use super::content;
use super::plan::{self, BucketClaim, BucketStep, DistributionTeardown, Identity, Stall, why};
use crate::api::StaticSite;
use crate::api::conditions::{self, Desired, Summary, reason};
use crate::api::static_site::{
    BucketStatus, CertificateStatus, ContentStatus, DistributionStatus, DnsRecordStatus, SitePhase, StaticSiteStatus,
    ValidationRecord,
};
use crate::aws::acm::{Certificates, ISSUED};
use crate::aws::cloudfront::{Cdn, DEPLOYED, DistributionView};
use crate::aws::route53::{Dns, INSYNC, Record, RecordChange, Zone};
use crate::aws::s3::{BucketPresence, Buckets};
use crate::aws::{AwsClients, AwsError, AwsErrorKind};
use crate::controller::{Context, Error, status};

const WAIT_CERTIFICATE: Duration = Duration::from_secs(15);
const WAIT_DEPLOYMENT: Duration = Duration::from_secs(20);

/// The AWS capabilities a site uses.
pub struct Aws {
    pub buckets: Box<dyn Buckets>,
    pub cdn: Box<dyn Cdn>,
    pub certificates: Box<dyn Certificates>,
    pub dns: Box<dyn Dns>,
}

impl Aws {
    pub fn from_clients(c: &AwsClients) -> Self {
        Self {
            buckets: Box::new(c.buckets()),
            cdn: Box::new(c.cdn()),
            certificates: Box::new(c.certificates()),
            dns: Box::new(c.dns()),
        }
    }
}

/// Why a step stopped.
enum Halt {
    Stall(Stall),
    Aws(AwsError),
    Kube(Error),
}

impl From<AwsError> for Halt {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Self::Kube(e)
    }
}

impl From<kube::Error> for Halt {
    fn from(e: kube::Error) -> Self {
        Self::Kube(Error::Kube(e))
    }
}

/// One reconcile's view: what status says now and what it will say.
struct Run<'a> {
    site: &'a StaticSite,
    ctx: &'a Context,
    written: StaticSiteStatus,
    next: StaticSiteStatus,
    now: Timestamp,
}

impl<'a> Run<'a> {
    fn new(site: &'a StaticSite, ctx: &'a Context) -> Self {
        let written = site.status.clone().unwrap_or_default();
        Self { site, ctx, next: written.clone(), written, now: Timestamp::now() }
    }

    fn set(&mut self, desired: Vec<Desired>) {
        let generation = self.site.metadata.generation;
        self.next.observed_generation = generation;
        self.next.conditions = conditions::merge(&self.next.conditions, &desired, generation, self.now);
    }

    fn step(&mut self, type_: &'static str, done: bool, why: &'static str, message: impl Into<String>) {
        self.set(vec![Desired::new(type_, done, why, message)]);
    }

    /// Writes `next` if it differs from what was written.
    async fn save(&mut self) -> Result<(), Error> {
        if status::apply(self.ctx.objects.as_ref(), self.site, Some(&self.written), &self.next).await? {
            self.ctx.events.transition(self.site, &self.written.conditions, &self.next.conditions).await;
            self.written = self.next.clone();
        }
        Ok(())
    }

    async fn note(&self, reason: &str, message: String) {
        self.ctx.events.normal(self.site, reason, "Reconcile", message).await;
    }

    async fn finish(
        mut self,
        summary: Summary,
        why: &'static str,
        message: String,
        phase: SitePhase,
    ) -> Result<(), Error> {
        self.next.phase = Some(phase);
        self.set(conditions::summary(summary, why, message));
        self.save().await
    }
}

/// Converges one site; returns when to look again.
pub async fn apply(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    apply_with(site, ctx, |aws| aws).await
}

/// [`apply`] with the site's AWS passed through `wrap` first (`awsops plan`
/// records the writes there instead of making them).
pub async fn apply_with(site: &StaticSite, ctx: &Context, wrap: impl FnOnce(Aws) -> Aws) -> Result<Duration, Error> {
    let mut run = Run::new(site, ctx);
    if let Err(message) = site.spec.validate() {
        run.finish(
            Summary::Stalled,
            reason::INVALID_SPEC,
            format!("{message}. Nothing was changed in AWS."),
            SitePhase::Failed,
        )
        .await?;
        return Ok(ctx.resync);
    }
    let (namespace, name, uid) =
        (site.namespace().unwrap_or_default(), site.name_any(), site.uid().unwrap_or_default());
    let default_region = ctx.aws.default_region();
    let id = match Identity::resolve(&site.spec, &run.written, &namespace, &name, &uid, default_region.as_deref()) {
        Ok(id) => id,
        Err(stall) => {
            run.finish(
                Summary::Stalled,
                stall.reason,
                format!("{}. Nothing was changed in AWS.", stall.message),
                SitePhase::Failed,
            )
            .await?;
            return Ok(ctx.resync);
        }
    };
    let clients = ctx.aws.clients(Some(&id.region), site.spec.role_arn.as_deref()).await.map_err(Error::AwsConfig)?;
    let aws = wrap(Aws::from_clients(&clients));
    // A new spec (or the first look) is in progress until converged: never
    // leave Ready=True next to a newer observedGeneration.
    if run.next.phase.is_none() || run.written.observed_generation != site.metadata.generation {
        run.next.phase = Some(SitePhase::Provisioning);
        let message = format!("applying generation {}", site.metadata.generation.unwrap_or(1));
        run.set(conditions::summary(Summary::Reconciling, why::PROVISIONING, message));
        run.save().await?;
    }
    match converge(&mut run, &aws, &id).await {
        Ok(wait) => Ok(wait.unwrap_or(ctx.resync)),
        Err(Halt::Stall(stall)) => {
            run.finish(Summary::Stalled, stall.reason, stall.message, SitePhase::Failed).await?;
            Ok(ctx.resync)
        }
        Err(Halt::Aws(e)) if e.kind == AwsErrorKind::AccessDenied => {
            let message = format!("{e}. Grant the controller's role this action (see docs/iam-policy.json).");
            run.finish(Summary::Stalled, reason::ACCESS_DENIED, message, SitePhase::Failed).await?;
            Ok(Duration::from_secs(300))
        }
        Err(Halt::Aws(e)) => {
            run.save().await?;
            Err(e.into())
        }
        Err(Halt::Kube(e)) => Err(e),
    }
}

/// Steps 1 to 8; `Some(delay)` while waiting for AWS.
async fn converge(run: &mut Run<'_>, aws: &Aws, id: &Identity) -> Result<Option<Duration>, Halt> {
    let spec = &run.site.spec;
    // 0. Read-only checks first: a spec AWS would refuse changes nothing.
    let files =
        content::read_sources(run.ctx.objects.as_ref(), &id.namespace, &spec.content).await?.map_err(Halt::Stall)?;
    let presence = aws.buckets.presence(&id.bucket).await?;
    let settings = match presence {
        BucketPresence::Exists => Some(aws.buckets.settings(&id.bucket).await?),
        _ => None,
    };
    let recorded = run.written.bucket.as_ref().is_some_and(|b| b.name == id.bucket);
    let claim = match (spec.bucket.adopt, recorded) {
        (true, _) => BucketClaim::Adopt,
        (false, true) => BucketClaim::Creating,
        (false, false) => BucketClaim::None,
    };
    let steps = plan::bucket_steps(&presence, settings.as_ref(), id, claim).map_err(Halt::Stall)?;
    let domain = match &spec.domain {
        Some(domain) => Some(check_domain(aws, domain).await?),
        None => None,
    };

    // 1. Bucket, recorded before it is created: after a crash (or a lost
    // response) before tagging, the untagged bucket is known to be ours.
    let bucket_status = BucketStatus { name: id.bucket.clone(), arn: id.bucket_arn(), region: id.region.clone() };
    if steps.contains(&BucketStep::Create) {
        run.next.bucket = Some(bucket_status.clone());
        run.save().await?;
    }
    for step in &steps {
        match step {
            BucketStep::Create => aws.buckets.create(&id.bucket, &id.region).await?,
            BucketStep::Tag => aws.buckets.put_tags(&id.bucket, &id.tags()).await?,
            BucketStep::BlockPublicAccess => aws.buckets.block_public_access(&id.bucket).await?,
            BucketStep::EnforceOwner => aws.buckets.enforce_owner(&id.bucket).await?,
            BucketStep::Encrypt => aws.buckets.encrypt(&id.bucket).await?,
        }
    }
    if !steps.is_empty() {
        run.note("BucketConfigured", format!("bucket {}: {steps:?}", id.bucket)).await;
    }
    run.next.bucket = Some(bucket_status);
    run.step(
        conditions::BUCKET_READY,
        true,
        reason::AS_EXPECTED,
        format!("bucket {} is private, encrypted and tagged", id.bucket),
    );
    run.save().await?;

    // 2. Origin Access Control: the recorded one (one read), else created. No
    // listing for a new site: OAC names are unique, so a create whose earlier
    // response was lost answers OriginAccessControlAlreadyExists and the OAC
    // is then found by name.
    let recorded = match &run.written.origin_access_control_id {
        Some(oac) if aws.cdn.oac_exists(oac).await? => Some(oac.clone()),
        _ => None,
    };
    let oac = match recorded {
        Some(oac) => oac,
        None => match aws.cdn.create_oac(&id.oac_name()).await {
            Ok(oac) => {
                run.note("OriginAccessControlCreated", format!("origin access control {oac}")).await;
                oac
            }
            Err(e) if e.code == "OriginAccessControlAlreadyExists" => {
                aws.cdn.find_oac(&id.oac_name()).await?.ok_or(e)?
            }
            Err(e) => return Err(e.into()),
        },
    };
    run.next.origin_access_control_id = Some(oac.clone());
    run.save().await?;

    // 3. Certificate (with a domain), validated through DNS before the distribution exists.
    let mut zone_records: Option<(Zone, Vec<Record>)> = None;
    let mut certificate_arn = None;
    if let Some(CheckedDomain { names, zone, records, given }) = domain {
        let cert = match given {
            Some(cert) => cert,
            None => request_certificate(run, aws, id, &names, &zone, &records).await?,
        };
        run.next.certificate = Some(CertificateStatus {
            arn: cert.arn.clone(),
            status: cert.status.clone(),
            validation_records: cert
                .validation
                .iter()
                .map(|v| ValidationRecord { name: v.name.clone(), type_: "CNAME".into(), value: v.value.clone() })
                .collect(),
        });
        // A given certificate was checked with the domain (step 0).
        if let Some(stall) = plan::certificate_failed(&cert) {
            run.step(conditions::CERTIFICATE_ISSUED, false, stall.reason, stall.message.clone());
            return Err(Halt::Stall(stall));
        }
        if cert.status != ISSUED {
            run.next.phase = Some(SitePhase::WaitingForCertificate);
            let message = format!(
                "certificate {} is {}; DNS validation records are in zone {}",
                cert.arn, cert.status, zone.name
            );
            run.step(conditions::CERTIFICATE_ISSUED, false, why::WAITING_FOR_CERTIFICATE, message.clone());
            run.set(conditions::summary(Summary::Reconciling, why::WAITING_FOR_CERTIFICATE, message));
            run.save().await?;
            return Ok(Some(WAIT_CERTIFICATE));
        }
        run.step(
            conditions::CERTIFICATE_ISSUED,
            true,
            reason::AS_EXPECTED,
            format!("certificate {} is issued", cert.arn),
        );
        certificate_arn = Some(cert.arn);
        zone_records = Some((zone, records));
    }

    // 4. Distribution, created with its final settings.
    let desired = plan::desired_distribution(spec, id, &oac, certificate_arn.as_deref());
    // No listing for a new site: CallerReference (the uid) makes the create
    // idempotent, and DistributionAlreadyExists (a lost response) is answered
    // by a search by origin.
    let mut dist = recorded_distribution(run, aws).await?;
    if dist.is_none() {
        let created = match aws.cdn.create(&id.uid, &desired, &id.tags()).await {
            Ok(d) => d,
            Err(e) if e.code == "DistributionAlreadyExists" => {
                let found = match aws.cdn.find_by_origin(&id.origin_domain()).await? {
                    Some(found) => aws.cdn.get(&found).await?,
                    None => None,
                };
                found.ok_or(e)?
            }
            Err(e) => {
                return Err(plan::alias_in_use(&e.code, &desired.aliases, &e.message).map_or(e.into(), Halt::Stall));
            }
        };
        crate::failpoint::crash_point("site-after-distribution-create");
        run.note("DistributionCreated", format!("distribution {} ({})", created.id, created.domain_name)).await;
        dist = Some(created);
    }
    let mut dist = dist.expect("set above");
    record_distribution(run, &dist);
    run.save().await?;
    let drift = plan::distribution_drift(&desired, &dist.settings);
    if !drift.is_empty() {
        let replaced = dist.settings.certificate_arn.clone().filter(|old| Some(old) != certificate_arn.as_ref());
        dist = match aws.cdn.update(&dist.id, &desired).await {
            Ok(updated) => updated,
            Err(e) => {
                return Err(plan::alias_in_use(&e.code, &desired.aliases, &e.message).map_or(e.into(), Halt::Stall));
            }
        };
        run.note("DistributionUpdated", format!("distribution {}: {}", dist.id, drift.join(", "))).await;
        record_distribution(run, &dist);
        if let Some(old) = replaced {
            retire_certificate(run, aws, id, &old).await?;
        }
    }

    // 5. Bucket policy for this distribution only.
    let policy = plan::bucket_policy(id, &dist.arn);
    let current_policy = settings.as_ref().and_then(|s| s.policy.as_deref());
    if plan::policy_differs(current_policy, &policy) {
        aws.buckets.put_policy(&id.bucket, &policy.to_string()).await?;
        run.note("BucketPolicyApplied", format!("s3:GetObject for distribution {} only", dist.id)).await;
    }

    // 6. Content.
    sync_content(run, aws, id, &dist, &files).await?;

    // 7. DNS.
    if let (Some(domain), Some((zone, records))) = (&spec.domain, &zone_records) {
        let names: Vec<String> = domain.names.iter().map(|n| n.0.clone()).collect();
        let previous: Vec<String> =
            run.written.dns.iter().map(|d| d.name.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let desired = plan::desired_records(&names, domain.record, &dist.domain_name, id);
        let changes = plan::dns_changes(&desired, records, &names, &previous, id).map_err(Halt::Stall)?;
        // A new change, or the last one still PENDING: poll it until INSYNC.
        let pending = run.written.dns.iter().find(|d| d.status != INSYNC).and_then(|d| d.change_id.clone());
        let change = if changes.is_empty() {
            pending
        } else {
            let id = aws.dns.change(zone, &changes).await?;
            run.note("DnsRecordsChanged", format!("{} record changes in zone {}", changes.len(), zone.name)).await;
            Some(id)
        };
        let change_status = match &change {
            Some(id) => aws.dns.change_status(id).await?,
            None => INSYNC.to_string(),
        };
        run.next.dns = desired
            .iter()
            .filter(|r| r.type_ != "TXT")
            .map(|r| DnsRecordStatus {
                name: r.name.clone(),
                type_: r.type_.clone(),
                target: dist.domain_name.clone(),
                status: change_status.clone(),
                change_id: change.clone().filter(|_| change_status != INSYNC),
            })
            .collect();
        let in_sync = run.next.dns.iter().all(|d| d.status == INSYNC);
        run.step(
            conditions::DNS_READY,
            in_sync,
            if in_sync { reason::AS_EXPECTED } else { why::DEPLOYING },
            format!("{} records point at {}", run.next.dns.len(), dist.domain_name),
        );
    } else {
        run.next.dns.clear();
    }

    // 8. Deployed and in sync.
    let deployed = dist.status == DEPLOYED;
    run.step(
        conditions::DISTRIBUTION_DEPLOYED,
        deployed,
        if deployed { reason::AS_EXPECTED } else { why::DEPLOYING },
        format!("distribution {} is {}", dist.id, dist.status),
    );
    run.next.url = Some(match &spec.domain {
        Some(d) => format!(
            "https://{}",
            d.names.iter().map(|n| n.0.as_str()).find(|n| !n.starts_with("*.")).unwrap_or(&dist.domain_name)
        ),
        None => format!("https://{}", dist.domain_name),
    });
    let dns: Vec<&str> = run.next.dns.iter().map(|d| d.status.as_str()).collect();
    if plan::finished(&dist.status, &dns) {
        run.next.phase = Some(SitePhase::Ready);
        let url = run.next.url.clone().unwrap_or_default();
        run.set(conditions::summary(Summary::Ready, why::READY, format!("serving {url}")));
        run.save().await?;
        Ok(None)
    } else {
        run.next.phase = Some(SitePhase::Deploying);
        run.set(conditions::summary(
            Summary::Reconciling,
            why::DEPLOYING,
            format!("distribution {} is {}; CloudFront deployments take minutes", dist.id, dist.status),
        ));
        run.save().await?;
        Ok(Some(WAIT_DEPLOYMENT))
    }
}

/// A domain whose zone exists and holds every name, with the zone's records
/// and the certificate named in the spec (checked), if any.
struct CheckedDomain {
    names: Vec<String>,
    zone: Zone,
    records: Vec<Record>,
    given: Option<crate::aws::acm::Certificate>,
}

async fn check_domain(aws: &Aws, domain: &crate::api::static_site::DomainSpec) -> Result<CheckedDomain, Halt> {
    let names: Vec<String> = domain.names.iter().map(|n| n.0.clone()).collect();
    let zone = match (&domain.hosted_zone_id, &domain.hosted_zone_name) {
        (Some(zid), _) => aws.dns.zone_by_id(zid).await?,
        (None, Some(zname)) => aws.dns.zone_by_name(zname).await?,
        (None, None) => None,
    };
    let Some(zone) = zone else {
        let zone = domain.hosted_zone_id.clone().or(domain.hosted_zone_name.clone()).unwrap_or_default();
        let message = format!("hosted zone {zone} does not exist in this account: check spec.domain");
        return Err(Halt::Stall(Stall::new(why::HOSTED_ZONE_NOT_FOUND, message)));
    };
    let outside = plan::names_outside_zone(names.iter().map(String::as_str), &zone.name);
    if !outside.is_empty() {
        let message =
            format!("{outside:?} are not inside hosted zone {}: use names in the zone or another zone", zone.name);
        return Err(Halt::Stall(Stall::new(why::NAMES_OUTSIDE_ZONE, message)));
    }
    let records = aws.dns.records(&zone).await?;
    let given = match &domain.certificate_arn {
        Some(arn) => {
            let Some(cert) = aws.certificates.describe(arn).await? else {
                let message = format!("certificate {arn} does not exist: check spec.domain.certificateArn");
                return Err(Halt::Stall(Stall::new(why::CERTIFICATE_NOT_FOUND, message)));
            };
            plan::check_given_certificate(&names, &cert).map_err(Halt::Stall)?;
            Some(cert)
        }
        None => None,
    };
    Ok(CheckedDomain { names, zone, records, given })
}

/// Deletes a certificate this site requested that the distribution no longer
/// uses (the names changed). One still held by CloudFront is left, with a
/// warning naming it.
async fn retire_certificate(run: &Run<'_>, aws: &Aws, id: &Identity, arn: &str) -> Result<(), AwsError> {
    let Some(cert) = aws.certificates.describe(arn).await? else { return Ok(()) };
    if cert.tags.get(crate::api::TAG_UID) != Some(&id.uid) {
        return Ok(());
    }
    match aws.certificates.delete(arn).await {
        Ok(()) => run.note("CertificateDeleted", format!("{arn} (replaced)")).await,
        Err(e) if e.kind == AwsErrorKind::Conflict => {
            let message =
                format!("certificate {arn} is replaced but still in use ({e}); delete it once CloudFront releases it");
            run.ctx.events.warning(run.site, "CertificateNotDeleted", "Reconcile", message).await;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

fn record_distribution(run: &mut Run<'_>, d: &DistributionView) {
    run.next.distribution = Some(DistributionStatus {
        id: d.id.clone(),
        arn: d.arn.clone(),
        domain_name: d.domain_name.clone(),
        status: d.status.clone(),
    });
}

/// The distribution whose id status records, if it still exists.
async fn recorded_distribution(run: &Run<'_>, aws: &Aws) -> Result<Option<DistributionView>, AwsError> {
    match &run.written.distribution {
        Some(recorded) => aws.cdn.get(&recorded.id).await,
        None => Ok(None),
    }
}

/// The site's distribution: by the id in status, else by its origin (a create
/// whose response was lost).
async fn find_distribution(run: &Run<'_>, aws: &Aws, id: &Identity) -> Result<Option<DistributionView>, AwsError> {
    if let Some(d) = recorded_distribution(run, aws).await? {
        return Ok(Some(d));
    }
    match aws.cdn.find_by_origin(&id.origin_domain()).await? {
        Some(found) => aws.cdn.get(&found).await,
        None => Ok(None),
    }
}

/// The certificate this site requested (requesting it when there is none for
/// the current names), with its validation records written to the zone.
async fn request_certificate(
    run: &mut Run<'_>,
    aws: &Aws,
    id: &Identity,
    names: &[String],
    zone: &Zone,
    records: &[Record],
) -> Result<crate::aws::acm::Certificate, Halt> {
    let wanted: BTreeSet<&String> = names.iter().collect();
    let mut current = None;
    if let Some(recorded) = &run.written.certificate
        && let Some(cert) = aws.certificates.describe(&recorded.arn).await?
        && cert.names.iter().collect::<BTreeSet<_>>() == wanted
    {
        current = Some(cert);
    }
    let cert = match current {
        Some(cert) => cert,
        None => {
            // A recorded certificate that is gone (deleted after it failed) or
            // for other names is replaced by a new request, not answered with
            // itself by the idempotency token.
            let replaces = run.written.certificate.as_ref().map(|c| c.arn.as_str());
            let token = plan::certificate_token(&id.uid, names, replaces);
            let arn = aws.certificates.request(names, &token, &id.tags()).await?;
            run.note("CertificateRequested", format!("certificate {arn} for {names:?}")).await;
            run.next.certificate = Some(CertificateStatus {
                arn: arn.clone(),
                status: "PENDING_VALIDATION".into(),
                validation_records: vec![],
            });
            run.save().await?;
            aws.certificates.describe(&arn).await?.ok_or_else(|| {
                AwsError::new(AwsErrorKind::Retryable, "DescribeCertificate", "", "certificate not yet visible")
            })?
        }
    };
    let missing: Vec<RecordChange> = cert
        .validation
        .iter()
        .map(|v| Record {
            name: crate::aws::route53::bare(&v.name),
            type_: "CNAME".into(),
            alias: None,
            values: vec![v.value.clone()],
        })
        .filter(|r| {
            !records.iter().any(|e| {
                e.name == r.name
                    && e.type_ == "CNAME"
                    && e.values.iter().any(|x| x.trim_end_matches('.') == r.values[0].trim_end_matches('.'))
            })
        })
        .map(RecordChange::Upsert)
        .collect();
    if !missing.is_empty() && cert.status != ISSUED {
        aws.dns.change(zone, &missing).await?;
        run.note("ValidationRecordsWritten", format!("{} DNS validation records in zone {}", missing.len(), zone.name))
            .await;
    }
    Ok(cert)
}

async fn sync_content(
    run: &mut Run<'_>,
    aws: &Aws,
    id: &Identity,
    dist: &DistributionView,
    files: &[content::File],
) -> Result<(), Halt> {
    let spec = &run.site.spec.content;
    let desired = content::desired(files);
    let revision = content::revision(&desired);
    let reference = run.site.object_ref(&());
    let objects = run.ctx.objects.as_ref();
    let progress = |done, total| objects.upload_progress(&reference, done, total);
    let synced = content::sync(aws.buckets.as_ref(), &id.bucket, &id.uid, files, &desired, spec, &progress).await?;
    let (uploaded, pruned) = (synced.uploaded, synced.pruned);
    let changed: Vec<String> = uploaded.iter().chain(pruned.iter()).cloned().collect();
    let previous = run.written.content.clone();
    let mut invalidation_id = previous.as_ref().and_then(|c| c.invalidation_id.clone());
    if !changed.is_empty() {
        let paths = plan::invalidation_paths(&changed, &spec.index_document);
        let inv = aws.cdn.invalidate(&dist.id, &paths, &format!("{}-{}", id.uid, &revision[..16])).await?;
        run.note(
            "ContentSynced",
            format!("uploaded {}, deleted {}, invalidated {} paths ({inv})", uploaded.len(), pruned.len(), paths.len()),
        )
        .await;
        invalidation_id = Some(inv);
    }
    let unchanged_since = previous.as_ref().filter(|c| c.revision == revision && changed.is_empty());
    run.next.content = Some(ContentStatus {
        revision,
        objects: desired.len() as i64,
        uploaded: unchanged_since.map(|c| c.uploaded).unwrap_or(uploaded.len() as i64),
        deleted: unchanged_since.map(|c| c.deleted).unwrap_or(pruned.len() as i64),
        invalidation_id,
    });
    run.step(conditions::CONTENT_SYNCED, true, reason::AS_EXPECTED, format!("{} objects in sync", desired.len()));
    run.save().await?;
    Ok(())
}

/// Removes what the site owns, in API.md's order; `Duration::ZERO` when done.
pub async fn cleanup(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    let mut run = Run::new(site, ctx);
    if run.next.phase != Some(SitePhase::Deleting) {
        run.next.phase = Some(SitePhase::Deleting);
        run.set(conditions::summary(Summary::Reconciling, why::DELETING, "removing what the site created in AWS"));
        run.save().await?;
    }
    let (namespace, name, uid) =
        (site.namespace().unwrap_or_default(), site.name_any(), site.uid().unwrap_or_default());
    let default_region = ctx.aws.default_region();
    // Use what status recorded; fall back to the spec when Apply never ran.
    let id = match (
        &run.written.bucket,
        Identity::resolve(&site.spec, &StaticSiteStatus::default(), &namespace, &name, &uid, default_region.as_deref()),
    ) {
        (Some(b), _) => Identity { namespace, name, uid, region: b.region.clone(), bucket: b.name.clone() },
        (None, Ok(id)) => id,
        (None, Err(_)) => return Ok(Duration::ZERO),
    };
    let clients = ctx.aws.clients(Some(&id.region), site.spec.role_arn.as_deref()).await.map_err(Error::AwsConfig)?;
    let aws = Aws::from_clients(&clients);
    match teardown(&mut run, &aws, &id).await {
        Ok(wait) if wait.is_zero() => Ok(wait),
        Ok(wait) => Err(Error::CleanupPending(wait)),
        Err(Halt::Kube(e)) => Err(e),
        Err(Halt::Aws(e)) => Err(e.into()),
        Err(Halt::Stall(s)) => {
            run.finish(Summary::Stalled, s.reason, s.message, SitePhase::Deleting).await?;
            Ok(ctx.resync)
        }
    }
}

async fn teardown(run: &mut Run<'_>, aws: &Aws, id: &Identity) -> Result<Duration, Halt> {
    let spec = &run.site.spec;
    // DNS records this site owns (and its certificate's validation records).
    if let Some(domain) = &spec.domain {
        let zone = match (&domain.hosted_zone_id, &domain.hosted_zone_name) {
            (Some(zid), _) => aws.dns.zone_by_id(zid).await?,
            (None, Some(zname)) => aws.dns.zone_by_name(zname).await?,
            _ => None,
        };
        if let Some(zone) = zone {
            let records = aws.dns.records(&zone).await?;
            let mut names: Vec<String> = domain.names.iter().map(|n| n.0.clone()).collect();
            names.extend(run.written.dns.iter().map(|d| d.name.clone()));
            names.sort();
            names.dedup();
            let mut doomed: Vec<RecordChange> =
                plan::owned_records(&records, &names, &id.uid).into_iter().map(RecordChange::Delete).collect();
            if domain.certificate_arn.is_none()
                && let Some(cert) = &run.written.certificate
            {
                for v in &cert.validation_records {
                    let bare = crate::aws::route53::bare(&v.name);
                    doomed.extend(
                        records
                            .iter()
                            .filter(|r| r.name == bare && r.type_ == "CNAME")
                            .cloned()
                            .map(RecordChange::Delete),
                    );
                }
            }
            doomed.dedup();
            if !doomed.is_empty() {
                aws.dns.change(&zone, &doomed).await?;
                run.note("DnsRecordsDeleted", format!("{} records in zone {}", doomed.len(), zone.name)).await;
            }
        }
        run.next.dns.clear();
        run.save().await?;
    }
    // Distribution: disable, wait until deployed, delete with a fresh ETag.
    if let Some(dist) = find_distribution(run, aws, id).await? {
        match plan::distribution_teardown(Some(dist.settings.enabled), Some(&dist.status)) {
            DistributionTeardown::Disable => {
                let mut disabled = dist.settings.clone();
                disabled.enabled = false;
                let updated = aws.cdn.update(&dist.id, &disabled).await?;
                record_distribution(run, &updated);
                run.note("DistributionDisabled", format!("distribution {} disabled; deleting once deployed", dist.id))
                    .await;
                run.save().await?;
                return Ok(WAIT_DEPLOYMENT);
            }
            DistributionTeardown::WaitForDeployment => {
                record_distribution(run, &dist);
                run.save().await?;
                return Ok(WAIT_DEPLOYMENT);
            }
            DistributionTeardown::Delete => {
                aws.cdn.delete(&dist.id).await?;
                run.note("DistributionDeleted", format!("distribution {}", dist.id)).await;
            }
            DistributionTeardown::Gone => {}
        }
    }
    run.next.distribution = None;
    run.save().await?;
    if let Some(oac) = &run.written.origin_access_control_id {
        aws.cdn.delete_oac(oac).await?;
    }
    if let Some(oac) = aws.cdn.find_oac(&id.oac_name()).await? {
        aws.cdn.delete_oac(&oac).await?;
    }
    // A certificate this site requested (never one it was given).
    if spec.domain.as_ref().is_some_and(|d| d.certificate_arn.is_none())
        && let Some(cert) = &run.written.certificate
        && let Some(found) = aws.certificates.describe(&cert.arn).await?
        && found.tags.get(crate::api::TAG_UID) == Some(&id.uid)
    {
        aws.certificates.delete(&cert.arn).await?;
        run.note("CertificateDeleted", cert.arn.clone()).await;
    }
    if plan::deletes_bucket(spec.bucket.deletion_policy)
        && aws.buckets.presence(&id.bucket).await? == BucketPresence::Exists
    {
        let ours = aws.buckets.settings(&id.bucket).await?.tags.get(crate::api::TAG_UID) == Some(&id.uid);
        if ours {
            let keys: Vec<String> = aws.buckets.list(&id.bucket).await?.into_iter().map(|o| o.key).collect();
            aws.buckets.delete(&id.bucket, &keys).await?;
            aws.buckets.delete_bucket(&id.bucket).await?;
            run.note("BucketDeleted", id.bucket.clone()).await;
        }
    }
    Ok(Duration::ZERO)
}
