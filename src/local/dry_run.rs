//! AWS for `awsops plan`: every read goes to AWS, every write is recorded as a
//! [`Change`] and answered as if it had succeeded (a new bucket is empty, a new
//! certificate is issued, a new distribution is deployed), so the StaticSite
//! reconciler runs its real steps to the end and the recorded changes are
//! exactly what `apply` would do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::aws::acm::{Certificate, CertificateState, Certificates, OtherCertificates};
use crate::aws::clients::GLOBAL_REGION;
use crate::aws::cloudfront::{Cdn, DistributionSettings, DistributionState, DistributionView};
use crate::aws::edge::{Edge, HeadersPolicy, HeadersPolicyConfig, LiveFunction, Release};
use crate::aws::route53::{ChangeStatus, Dns, Record, RecordChange, Zone};
use crate::aws::s3::{BucketPresence, BucketSettings, Buckets, Headers, ObjectInfo, Upload};
use crate::aws::{AwsError, CreateOutcome};
use crate::static_site::{SiteAws, distribution_drift};

/// One change `apply` would make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Create(String),
    Update(String),
    Delete(String),
    Upsert(String),
    Upload { key: String, bytes: usize },
    Invalidate(String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create(what) => write!(f, "+ create {what}"),
            Self::Update(what) => write!(f, "~ update {what}"),
            Self::Delete(what) => write!(f, "- delete {what}"),
            Self::Upsert(what) => write!(f, "+ upsert {what}"),
            Self::Upload { key, bytes } => write!(f, "^ upload {key} ({bytes} bytes)"),
            Self::Invalidate(what) => write!(f, "~ invalidate {what}"),
        }
    }
}

/// Placeholder ids of things the plan would create.
const NEW_OAC: &str = "(new origin access control)";
const NEW_CERTIFICATE: &str = "(new certificate)";
const NEW_DISTRIBUTION: &str = "(new distribution)";
const NEW_DNS_CHANGE: &str = "(new change)";

/// The changes recorded so far, and what the plan has pretended to create.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Recorded>>,
}

#[derive(Default)]
struct Recorded {
    changes: Vec<Change>,
    new_buckets: HashSet<String>,
    new_certificates: HashMap<String, Vec<String>>,
    new_distributions: HashMap<String, DistributionView>,
}

impl Recorder {
    /// The changes in the order the reconciler would make them.
    pub fn changes(&self) -> Vec<Change> {
        self.lock().changes.clone()
    }

    /// Wraps real AWS so writes are recorded here instead of made.
    pub fn wrap(&self, real: SiteAws) -> SiteAws {
        SiteAws {
            buckets: Box::new(DryBuckets { real: real.buckets, log: self.clone() }),
            cdn: Box::new(DryCdn { real: real.cdn, log: self.clone() }),
            edge: Box::new(DryEdge { real: real.edge, log: self.clone() }),
            certificates: Box::new(DryCertificates { real: real.certificates, log: self.clone() }),
            dns: Box::new(DryDns { real: real.dns, log: self.clone() }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, change: Change) {
        self.lock().changes.push(change);
    }

    fn is_new_bucket(&self, bucket: &str) -> bool {
        self.lock().new_buckets.contains(bucket)
    }
}

struct DryBuckets {
    real: Box<dyn Buckets>,
    log: Recorder,
}

impl DryBuckets {
    /// Settings of a bucket the plan creates are part of creating it.
    fn setting(&self, bucket: &str, what: &str) -> Result<(), AwsError> {
        if !self.log.is_new_bucket(bucket) {
            self.log.record(Change::Update(format!("bucket {bucket}: {what}")));
        }
        Ok(())
    }
}

#[async_trait]
impl Buckets for DryBuckets {
    async fn presence(&self, bucket: &str) -> Result<BucketPresence, AwsError> {
        self.real.presence(bucket).await
    }
    async fn settings(&self, bucket: &str) -> Result<BucketSettings, AwsError> {
        self.real.settings(bucket).await
    }
    async fn create(&self, bucket: &str, region: &str) -> Result<(), AwsError> {
        let what = format!("bucket {bucket} in {region} (private, encrypted, owner enforced, tagged)");
        let mut recorded = self.log.lock();
        recorded.new_buckets.insert(bucket.to_string());
        recorded.changes.push(Change::Create(what));
        Ok(())
    }
    async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError> {
        self.setting(bucket, "block all public access")
    }
    async fn enforce_owner(&self, bucket: &str) -> Result<(), AwsError> {
        self.setting(bucket, "object ownership BucketOwnerEnforced")
    }
    async fn encrypt(&self, bucket: &str) -> Result<(), AwsError> {
        self.setting(bucket, "default encryption SSE-S3")
    }
    async fn put_tags(&self, bucket: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.setting(bucket, &format!("tags {:?}", tags.keys().collect::<Vec<_>>()))
    }
    async fn put_policy(&self, bucket: &str, _policy: &str) -> Result<(), AwsError> {
        let what = format!("bucket {bucket} policy: s3:GetObject for this distribution only");
        self.log.record(if self.log.is_new_bucket(bucket) { Change::Create(what) } else { Change::Update(what) });
        Ok(())
    }
    async fn list(&self, bucket: &str) -> Result<Vec<ObjectInfo>, AwsError> {
        if self.log.is_new_bucket(bucket) {
            return Ok(Vec::new());
        }
        self.real.list(bucket).await
    }
    async fn owner_of(&self, bucket: &str, key: &str) -> Result<Option<String>, AwsError> {
        if self.log.is_new_bucket(bucket) {
            return Ok(None);
        }
        self.real.owner_of(bucket, key).await
    }
    async fn put(&self, _bucket: &str, upload: Upload, _owner_uid: &str) -> Result<String, AwsError> {
        // The content manifest is the controller's bookkeeping, not a change to show.
        if !upload.key.starts_with(crate::static_site::RESERVED_PREFIX) {
            self.log.record(Change::Upload { key: upload.key, bytes: upload.size as usize });
        }
        Ok(String::new())
    }
    async fn set_headers(&self, bucket: &str, key: &str, headers: &Headers, _: &str) -> Result<String, AwsError> {
        let cache = headers.cache_control.as_deref().unwrap_or("(none)");
        let what = format!("s3://{bucket}/{key} headers: Content-Type {}, Cache-Control {cache}", headers.content_type);
        self.log.record(Change::Update(what));
        Ok(String::new())
    }
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        if self.log.is_new_bucket(bucket) {
            return Ok(None);
        }
        self.real.get(bucket, key).await
    }
    async fn delete(&self, bucket: &str, keys: &[String]) -> Result<(), AwsError> {
        for key in keys {
            self.log.record(Change::Delete(format!("s3://{bucket}/{key}")));
        }
        Ok(())
    }
    async fn purge(&self, bucket: &str, _uid: &str) -> Result<usize, AwsError> {
        self.log.record(Change::Delete(format!("every version this site uploaded to s3://{bucket}")));
        Ok(0)
    }
    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        self.log.record(Change::Delete(format!("bucket {bucket}")));
        Ok(())
    }
}

struct DryCdn {
    real: Box<dyn Cdn>,
    log: Recorder,
}

#[async_trait]
impl Cdn for DryCdn {
    async fn oacs(&self) -> Result<Vec<(String, String)>, AwsError> {
        self.real.oacs().await
    }
    async fn oac_users(&self) -> Result<BTreeMap<String, usize>, AwsError> {
        self.real.oac_users().await
    }
    async fn find_oac(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.real.find_oac(name).await
    }
    async fn oac_name(&self, id: &str) -> Result<Option<String>, AwsError> {
        self.real.oac_name(id).await
    }
    async fn create_oac(&self, name: &str) -> Result<CreateOutcome<String>, AwsError> {
        // The real create would answer that it exists.
        if self.real.find_oac(name).await?.is_some() {
            return Ok(CreateOutcome::AlreadyExists);
        }
        self.log.record(Change::Create(format!("origin access control {name} (sigv4, always sign)")));
        Ok(CreateOutcome::Created(NEW_OAC.into()))
    }
    async fn delete_oac(&self, id: &str) -> Result<(), AwsError> {
        self.log.record(Change::Delete(format!("origin access control {id}")));
        Ok(())
    }
    async fn get(&self, id: &str) -> Result<Option<DistributionView>, AwsError> {
        if let Some(planned) = self.log.lock().new_distributions.get(id) {
            return Ok(Some(planned.clone()));
        }
        self.real.get(id).await
    }
    async fn find_by_origin(&self, origin_domain: &str) -> Result<Vec<String>, AwsError> {
        self.real.find_by_origin(origin_domain).await
    }
    async fn create(
        &self,
        caller_reference: &str,
        settings: &DistributionSettings,
        _tags: &BTreeMap<String, String>,
    ) -> Result<CreateOutcome<DistributionView>, AwsError> {
        let view = DistributionView {
            id: NEW_DISTRIBUTION.into(),
            arn: format!("arn:aws:cloudfront::(account):distribution/{NEW_DISTRIBUTION}"),
            domain_name: "(new).cloudfront.net".into(),
            status: DistributionState::Deployed,
            settings: settings.clone(),
            caller_reference: caller_reference.to_string(),
        };
        let mut what = format!(
            "distribution for {} ({}, {}, root object {:?}",
            settings.origin_domain, settings.price_class, settings.viewer_protocol_policy, settings.default_root_object
        );
        if !settings.aliases.is_empty() {
            what.push_str(&format!(", aliases {:?}, SNI only", settings.aliases));
        }
        what.push(')');
        let mut recorded = self.log.lock();
        recorded.new_distributions.insert(view.id.clone(), view.clone());
        recorded.changes.push(Change::Create(what));
        Ok(CreateOutcome::Created(view))
    }
    async fn update(&self, id: &str, settings: &DistributionSettings) -> Result<DistributionView, AwsError> {
        let current = self.get(id).await?;
        let (fields, mut view) = match current {
            Some(view) => (distribution_drift(settings, &view.settings), view),
            None => (
                vec!["every owned field"],
                DistributionView {
                    id: id.into(),
                    arn: String::new(),
                    domain_name: String::new(),
                    status: DistributionState::Deployed,
                    settings: settings.clone(),
                    caller_reference: String::new(),
                },
            ),
        };
        let what = if settings.enabled { fields.join(", ") } else { "disable".into() };
        self.log.record(Change::Update(format!("distribution {id}: {what}")));
        view.settings = settings.clone();
        view.status = DistributionState::Deployed;
        self.log.lock().new_distributions.insert(id.to_string(), view.clone());
        Ok(view)
    }
    async fn delete(&self, id: &str) -> Result<(), AwsError> {
        self.log.record(Change::Delete(format!("distribution {id}")));
        Ok(())
    }
    async fn invalidate(&self, id: &str, paths: &[String], _caller_reference: &str) -> Result<String, AwsError> {
        self.log.record(Change::Invalidate(format!("{} paths on distribution {id}: {}", paths.len(), paths.join(" "))));
        Ok("(new invalidation)".into())
    }
}

struct DryEdge {
    real: Box<dyn Edge>,
    log: Recorder,
}

#[async_trait]
impl Edge for DryEdge {
    async fn live_function(&self, name: &str) -> Result<Option<LiveFunction>, AwsError> {
        self.real.live_function(name).await
    }
    async fn publish_function(&self, name: &str, _comment: &str, code: &str) -> Result<String, AwsError> {
        let what = format!("routing function {name} ({} bytes), published to LIVE", code.len());
        let exists = self.real.live_function(name).await?.is_some();
        self.log.record(if exists { Change::Update(what) } else { Change::Create(what) });
        Ok(format!("arn:aws:cloudfront::(account):function/{name}"))
    }
    async fn delete_function(&self, name: &str) -> Result<Release, AwsError> {
        self.log
            .record(Change::Delete(format!("routing function {name} (unless another site's distribution uses it)")));
        Ok(Release::Deleted)
    }
    async fn policy(&self, id: &str) -> Result<Option<HeadersPolicy>, AwsError> {
        self.real.policy(id).await
    }
    async fn find_policy(&self, name: &str) -> Result<Option<HeadersPolicy>, AwsError> {
        self.real.find_policy(name).await
    }
    async fn create_policy(&self, config: &HeadersPolicyConfig) -> Result<CreateOutcome<String>, AwsError> {
        let headers: Vec<&str> = config.security.keys().map(String::as_str).collect();
        self.log.record(Change::Create(format!("response headers policy {} ({})", config.name, headers.join(", "))));
        Ok(CreateOutcome::Created(format!("(new response headers policy {})", config.name)))
    }
    async fn update_policy(&self, id: &str, config: &HeadersPolicyConfig) -> Result<(), AwsError> {
        self.log.record(Change::Update(format!("response headers policy {} ({id})", config.name)));
        Ok(())
    }
    async fn delete_policy(&self, id: &str) -> Result<Release, AwsError> {
        self.log.record(Change::Delete(format!(
            "response headers policy {id} (unless another site's distribution uses it)"
        )));
        Ok(Release::Deleted)
    }
}

struct DryCertificates {
    real: Box<dyn Certificates>,
    log: Recorder,
}

#[async_trait]
impl Certificates for DryCertificates {
    async fn request(
        &self,
        names: &[String],
        _token: &str,
        _tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let what = format!("certificate for {names:?} in {GLOBAL_REGION}, validated through DNS");
        let mut recorded = self.log.lock();
        recorded.new_certificates.insert(NEW_CERTIFICATE.into(), names.to_vec());
        recorded.changes.push(Change::Create(what));
        Ok(NEW_CERTIFICATE.into())
    }
    async fn describe(&self, arn: &str) -> Result<Option<Certificate>, AwsError> {
        if let Some(names) = self.log.lock().new_certificates.get(arn) {
            return Ok(Some(Certificate {
                arn: arn.into(),
                status: CertificateState::Issued,
                failure_reason: None,
                names: names.clone(),
                region: GLOBAL_REGION.into(),
                validation: Vec::new(),
                tags: BTreeMap::new(),
            }));
        }
        self.real.describe(arn).await
    }
    async fn delete(&self, arn: &str) -> Result<(), AwsError> {
        self.log.record(Change::Delete(format!("certificate {arn}")));
        Ok(())
    }
    async fn others(&self, except: &str) -> Result<OtherCertificates, AwsError> {
        self.real.others(except).await
    }
}

struct DryDns {
    real: Box<dyn Dns>,
    log: Recorder,
}

#[async_trait]
impl Dns for DryDns {
    async fn zone_by_id(&self, id: &str) -> Result<Option<Zone>, AwsError> {
        self.real.zone_by_id(id).await
    }
    async fn zone_by_name(&self, name: &str) -> Result<Option<Zone>, AwsError> {
        self.real.zone_by_name(name).await
    }
    async fn records(&self, zone: &Zone) -> Result<Vec<Record>, AwsError> {
        self.real.records(zone).await
    }
    async fn change(&self, zone: &Zone, changes: &[RecordChange]) -> Result<String, AwsError> {
        for change in changes {
            let (upsert, record) = match change {
                RecordChange::Upsert(r) => (true, r),
                RecordChange::Delete(r) => (false, r),
            };
            let target = record.alias.clone().map(|a| format!("alias {a}")).unwrap_or(record.values.join(" "));
            let what = format!("record {} {} -> {target} in zone {}", record.type_, record.name, zone.name);
            self.log.record(if upsert { Change::Upsert(what) } else { Change::Delete(what) });
        }
        Ok(NEW_DNS_CHANGE.into())
    }
    async fn change_status(&self, id: &str) -> Result<ChangeStatus, AwsError> {
        if id == NEW_DNS_CHANGE {
            return Ok(ChangeStatus::InSync);
        }
        self.real.change_status(id).await
    }
}
