//! What the AuroraFailover reconciler needs from RDS, as a small trait with
//! plain types, and its SDK-backed implementation.

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;

use super::AwsError;

/// The RDS status the failover logic waits on.
pub const AVAILABLE: &str = "available";

aws_state! {
    /// A cluster's or an instance's status: `available`, the one state the
    /// failover waits for, or any other RDS status (`failing-over`,
    /// `rebooting`, `modifying`, ...), kept as RDS wrote it.
    DbStatus {
        Available = AVAILABLE,
    }
}

impl DbStatus {
    pub fn is_available(&self) -> bool {
        *self == Self::Available
    }
}

/// A DB cluster as the failover logic sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbCluster {
    pub identifier: String,
    pub status: DbStatus,
    /// e.g. `aurora-mysql`.
    pub engine: String,
    pub members: Vec<DbMember>,
    /// Serverless v2: the cluster's maximum capacity in GiB (2 per ACU).
    pub serverless_max_gib: Option<u32>,
    /// The cluster (writer) endpoint's DNS name, e.g. `orders.cluster-abc.eu-west-1.rds.amazonaws.com`.
    pub endpoint: Option<String>,
    /// The port of its endpoints (3306 unless set otherwise).
    pub port: Option<u16>,
}

impl DbCluster {
    /// The member that writes, if any.
    pub fn writer(&self) -> Option<&DbMember> {
        self.members.iter().find(|m| m.is_writer)
    }
}

/// One cluster member, joined from DescribeDBClusters and DescribeDBInstances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbMember {
    pub instance: String,
    pub is_writer: bool,
    pub promotion_tier: i32,
    /// e.g. `db.r6g.large`; empty when DescribeDBInstances did not return it.
    pub instance_class: String,
    pub availability_zone: Option<String>,
    /// Instance status.
    pub status: DbStatus,
    /// The instance endpoint's DNS name (what the cluster endpoint is a CNAME of while it writes).
    pub endpoint: Option<String>,
}

/// An RDS event about the cluster (mirrored as a Kubernetes Event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdsEvent {
    pub time: Timestamp,
    pub message: String,
}

impl RdsEvent {
    /// Whether RDS logged the start or end of a failover.
    pub fn is_failover(&self) -> bool {
        self.message.to_ascii_lowercase().contains("failover")
    }
}

#[async_trait]
pub trait Rds: Send + Sync {
    /// The cluster with its members; `Ok(None)` when it does not exist.
    async fn describe_cluster(&self, identifier: &str) -> Result<Option<DbCluster>, AwsError>;
    /// FailoverDBCluster, always with an explicit target.
    async fn failover(&self, cluster: &str, target: &str) -> Result<(), AwsError>;
    /// Events for the cluster since `since`, oldest first.
    async fn cluster_events(&self, cluster: &str, since: Timestamp) -> Result<Vec<RdsEvent>, AwsError>;
}

/// [`Rds`] over the AWS SDK.
pub struct SdkRds(pub aws_sdk_rds::Client);

#[async_trait]
impl Rds for SdkRds {
    async fn describe_cluster(&self, identifier: &str) -> Result<Option<DbCluster>, AwsError> {
        let out = match self.0.describe_db_clusters().db_cluster_identifier(identifier).send().await {
            Ok(out) => out,
            Err(e) => {
                return AwsError::from_sdk("DescribeDBClusters", e).absent_as(None);
            }
        };
        let Some(cluster) = out.db_clusters().first() else { return Ok(None) };
        let instances = self
            .0
            .describe_db_instances()
            .filters(aws_sdk_rds::types::Filter::builder().name("db-cluster-id").values(identifier).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeDBInstances", e))?;
        let members = cluster
            .db_cluster_members()
            .iter()
            .map(|m| {
                let id = m.db_instance_identifier().unwrap_or_default();
                let inst = instances.db_instances().iter().find(|i| i.db_instance_identifier() == Some(id));
                DbMember {
                    instance: id.to_string(),
                    is_writer: m.is_cluster_writer().unwrap_or(false),
                    promotion_tier: m.promotion_tier().unwrap_or(1),
                    instance_class: inst.and_then(|i| i.db_instance_class()).unwrap_or("unknown").to_string(),
                    availability_zone: inst.and_then(|i| i.availability_zone()).map(str::to_string),
                    status: inst.and_then(|i| i.db_instance_status()).unwrap_or("unknown").into(),
                    endpoint: inst.and_then(|i| i.endpoint()).and_then(|e| e.address()).map(str::to_string),
                }
            })
            .collect();
        Ok(Some(DbCluster {
            identifier: cluster.db_cluster_identifier().unwrap_or(identifier).to_string(),
            status: cluster.status().unwrap_or("unknown").into(),
            engine: cluster.engine().unwrap_or("unknown").to_string(),
            members,
            serverless_max_gib: cluster
                .serverless_v2_scaling_configuration()
                .and_then(|s| s.max_capacity())
                .map(|acu| (acu * 2.0).round() as u32),
            endpoint: cluster.endpoint().map(str::to_string),
            port: cluster.port().and_then(|p| u16::try_from(p).ok()),
        }))
    }

    async fn failover(&self, cluster: &str, target: &str) -> Result<(), AwsError> {
        // Never retried by the SDK: a response lost after RDS accepted the call
        // would otherwise start a second failover. The reconciler decides from
        // the writer and RDS events whether a call is still needed.
        let once =
            aws_sdk_rds::config::Builder::default().retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled());
        self.0
            .failover_db_cluster()
            .db_cluster_identifier(cluster)
            .target_db_instance_identifier(target)
            .customize()
            .config_override(once)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("FailoverDBCluster", e))
    }

    async fn cluster_events(&self, cluster: &str, since: Timestamp) -> Result<Vec<RdsEvent>, AwsError> {
        let out = self
            .0
            .describe_events()
            .source_type(aws_sdk_rds::types::SourceType::DbCluster)
            .source_identifier(cluster)
            .start_time(aws_smithy_types::DateTime::from_secs(since.as_second()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeEvents", e))?;
        let mut events: Vec<RdsEvent> = out
            .events()
            .iter()
            .filter_map(|e| {
                let time = Timestamp::from_second(e.date()?.secs()).ok()?;
                Some(RdsEvent { time, message: e.message()?.to_string() })
            })
            .collect();
        events.sort_by_key(|e| e.time);
        Ok(events)
    }
}
