//! What the StaticSite reconciler needs from Route 53.

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{AwsError, AwsErrorKind};

pub const INSYNC: &str = "INSYNC";

/// The record types a site reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Txt,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Txt => "TXT",
        }
    }

    /// The type of a record set, if it is one a site uses.
    pub fn parse(type_: &str) -> Option<Self> {
        [Self::A, Self::Aaaa, Self::Cname, Self::Txt].into_iter().find(|t| t.as_str() == type_)
    }

    /// A, AAAA or CNAME: the types that answer for a name (TXT records sit beside them).
    pub fn answers_for_name(self) -> bool {
        self != Self::Txt
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a change batch stands: `Pending` until every Route 53 server has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    Pending,
    InSync,
}

impl ChangeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InSync => INSYNC,
        }
    }
}

impl From<&str> for ChangeStatus {
    /// Anything but `INSYNC` is still pending.
    fn from(status: &str) -> Self {
        if status == INSYNC { Self::InSync } else { Self::Pending }
    }
}

impl std::fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Without the trailing dot.
    pub name: String,
    /// A private hosted zone (answers inside its VPCs only).
    pub private: bool,
}

/// A record set, normalised: names lowercase without the trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    pub name: String,
    pub type_: RecordType,
    /// Alias target DNS name (no trailing dot), for alias records.
    pub alias: Option<String>,
    /// Values for plain records (TXT values keep their quotes).
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordChange {
    Upsert(Record),
    Delete(Record),
}

#[async_trait]
pub trait Dns: Send + Sync {
    async fn zone_by_id(&self, id: &str) -> Result<Option<Zone>, AwsError>;
    async fn zone_by_name(&self, name: &str) -> Result<Option<Zone>, AwsError>;
    /// Every A, AAAA, CNAME and TXT record in the zone.
    async fn records(&self, zone: &Zone) -> Result<Vec<Record>, AwsError>;
    /// Applies the changes in one batch; returns the change id.
    async fn change(&self, zone: &Zone, changes: &[RecordChange]) -> Result<String, AwsError>;
    async fn change_status(&self, id: &str) -> Result<ChangeStatus, AwsError>;
}

pub struct SdkDns(pub aws_sdk_route53::Client);

pub fn bare(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase().replace("\\052", "*")
}

fn zone(z: &aws_sdk_route53::types::HostedZone) -> Zone {
    Zone {
        id: z.id().trim_start_matches("/hostedzone/").to_string(),
        name: bare(z.name()),
        private: z.config().is_some_and(|c| c.private_zone()),
    }
}

fn terminal(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(AwsErrorKind::Terminal, op, "", e.to_string())
}

fn record_set(r: &Record) -> Result<ResourceRecordSet, AwsError> {
    let mut set = ResourceRecordSet::builder().name(format!("{}.", r.name)).r#type(RrType::from(r.type_.as_str()));
    if let Some(target) = &r.alias {
        set = set.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(super::cloudfront::CLOUDFRONT_ZONE_ID)
                .dns_name(format!("{target}."))
                .evaluate_target_health(false)
                .build()
                .map_err(|e| terminal("ChangeResourceRecordSets", e))?,
        );
    } else {
        set = set.ttl(300);
        for v in &r.values {
            set = set.resource_records(
                ResourceRecord::builder().value(v).build().map_err(|e| terminal("ChangeResourceRecordSets", e))?,
            );
        }
    }
    set.build().map_err(|e| terminal("ChangeResourceRecordSets", e))
}

#[async_trait]
impl Dns for SdkDns {
    async fn zone_by_id(&self, id: &str) -> Result<Option<Zone>, AwsError> {
        match self.0.get_hosted_zone().id(id.trim_start_matches("/hostedzone/")).send().await {
            Ok(out) => Ok(out.hosted_zone().map(zone)),
            Err(e) => AwsError::from_sdk("GetHostedZone", e).absent_as(None),
        }
    }

    async fn zone_by_name(&self, name: &str) -> Result<Option<Zone>, AwsError> {
        let out = self
            .0
            .list_hosted_zones_by_name()
            .dns_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListHostedZonesByName", e))?;
        let want = bare(name);
        Ok(out.hosted_zones().iter().map(zone).find(|z| z.name == want && !z.private))
    }

    async fn records(&self, zone: &Zone) -> Result<Vec<Record>, AwsError> {
        let mut out = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut req = self.0.list_resource_record_sets().hosted_zone_id(&zone.id);
            if let Some((name, type_, identifier)) = next.take() {
                // Weighted, latency and other routed sets share a name and
                // type: the identifier says where the next page starts.
                req = req.start_record_name(name).start_record_type(type_).set_start_record_identifier(identifier);
            }
            let page = req.send().await.map_err(|e| AwsError::from_sdk("ListResourceRecordSets", e))?;
            for set in page.resource_record_sets() {
                let Some(type_) = RecordType::parse(set.r#type().as_str()) else { continue };
                out.push(Record {
                    name: bare(set.name()),
                    type_,
                    alias: set.alias_target().map(|a| bare(a.dns_name())),
                    values: set.resource_records().iter().map(|r| r.value().to_string()).collect(),
                });
            }
            match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
                (true, Some(name), Some(type_)) => {
                    next = Some((name.to_string(), type_.clone(), page.next_record_identifier().map(String::from)));
                }
                _ => return Ok(out),
            }
        }
    }

    async fn change(&self, zone: &Zone, changes: &[RecordChange]) -> Result<String, AwsError> {
        let mut batch = ChangeBatch::builder().comment("awsops");
        for c in changes {
            let (action, record) = match c {
                RecordChange::Upsert(r) => (ChangeAction::Upsert, r),
                RecordChange::Delete(r) => (ChangeAction::Delete, r),
            };
            batch = batch.changes(
                Change::builder()
                    .action(action)
                    .resource_record_set(record_set(record)?)
                    .build()
                    .map_err(|e| terminal("ChangeResourceRecordSets", e))?,
            );
        }
        let out = self
            .0
            .change_resource_record_sets()
            .hosted_zone_id(&zone.id)
            .change_batch(batch.build().map_err(|e| terminal("ChangeResourceRecordSets", e))?)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ChangeResourceRecordSets", e))?;
        Ok(out.change_info().map(|c| c.id().trim_start_matches("/change/").to_string()).unwrap_or_default())
    }

    async fn change_status(&self, id: &str) -> Result<ChangeStatus, AwsError> {
        let out = self.0.get_change().id(id).send().await.map_err(|e| AwsError::from_sdk("GetChange", e))?;
        Ok(out.change_info().map(|c| c.status().as_str()).unwrap_or_default().into())
    }
}
