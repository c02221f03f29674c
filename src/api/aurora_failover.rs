//! `AuroraFailover`: a one-shot, exactly-once manual failover of an Aurora
//! MySQL cluster. The whole spec is immutable; a new failover is a new object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::validation::{self, Problems};

/// Default for `spec.timeoutSeconds`.
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 600;

/// A manual failover of an Aurora MySQL cluster: the writer is demoted to a
/// reader and a chosen reader is promoted. Runs at most once; the whole spec is
/// immutable, so a new failover is a new object.
// Each printcolumn repeats `type_`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "awsops.dev",
    version = "v1alpha1",
    kind = "AuroraFailover",
    namespaced,
    status = "AuroraFailoverStatus",
    shortname = "af",
    category = "awsops",
    doc = "A one-shot, exactly-once manual failover of an Aurora MySQL cluster.",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.clusterIdentifier"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Previous writer", type_ = "string", json_path = ".status.previousWriter"),
    printcolumn(name = "New writer", type_ = "string", json_path = ".status.newWriter"),
    printcolumn(name = "Duration", type_ = "integer", json_path = ".status.durationSeconds"),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = "1"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable: create a new AuroraFailover for a new failover"))]
#[serde(rename_all = "camelCase")]
pub struct AuroraFailoverSpec {
    /// Identifier of the Aurora MySQL DB cluster to fail over (1-63 letters,
    /// digits or hyphens, starting with a letter).
    #[schemars(length(min = 1, max = 63), regex(pattern = validation::DB_IDENTIFIER))]
    pub cluster_identifier: String,

    /// The reader instance to promote. When omitted the controller picks the
    /// available reader with the lowest promotion tier, then the largest
    /// instance class, then the lowest name, and says why in `status.plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = validation::DB_IDENTIFIER))]
    pub target_instance: Option<String>,

    /// Guard: act only if this instance is the cluster's writer when the
    /// failover starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = validation::DB_IDENTIFIER))]
    pub expected_writer: Option<String>,

    /// Give up waiting for the roles to swap after this many seconds and end
    /// in phase `Failed` (30 to 86400, default 600).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 30, max = 86400))]
    pub timeout_seconds: i32,

    /// Plan only: fill `status.plan` and finish in phase `Planned` without
    /// calling FailoverDBCluster.
    #[serde(default)]
    pub dry_run: bool,

    /// AWS region of the cluster; defaults to the controller's `AWS_REGION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::REGION))]
    pub region: Option<String>,

    /// IAM role to assume for this object's AWS calls (cross-account).
    /// Credentials otherwise come from the controller's default chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = validation::ROLE_ARN))]
    pub role_arn: Option<String>,
    /// Checks after RDS shows the swap: `Succeeded` only once each passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
}

/// Most alarms one failover waits on.
pub const MAX_ALARMS: usize = 20;
/// Default for `spec.verify.timeoutSeconds`.
pub const DEFAULT_VERIFY_TIMEOUT_SECONDS: i32 = 300;

/// What must hold after the swap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifySpec {
    /// CloudWatch alarms (names, in the cluster's region) that must be `OK`
    /// within `timeoutSeconds` of the swap; each must exist before the
    /// failover starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), extend("x-kubernetes-list-type" = "set"))]
    pub alarms: Vec<AlarmName>,
    /// The cluster endpoint must resolve (through its CNAME chain, with the
    /// controller's resolver) to the new writer's instance endpoint, as the
    /// cluster's clients will; default true. `false` for a cluster whose
    /// endpoint the controller cannot resolve (or give it `--dns-server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<bool>,
    /// A MySQL login that asks the server behind the cluster endpoint
    /// whether it takes writes: before the failover (it must), then about
    /// every 250 ms until it does again; the outage goes to status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_probe: Option<WriteProbeSpec>,
    /// How long the checks may take after the swap before the failover ends
    /// `Failed` (`VerificationFailed`); the writer is never moved back.
    /// 30 to 3600, default 300.
    #[serde(default = "default_verify_timeout")]
    #[schemars(range(min = 30, max = 3600))]
    pub timeout_seconds: i32,
}

/// `spec.verify.writeProbe`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteProbeSpec {
    /// A Secret in this object's namespace with keys `username` and
    /// `password` (a MySQL login; it needs no privileges: the probe only runs
    /// `SELECT @@innodb_read_only`). The controller reads it with `get` on
    /// this name only: the namespace grants that with a Role and RoleBinding
    /// (README, AuroraFailover's `writeProbe`).
    pub secret_ref: SecretName,
}

/// A reference to a Secret in the object's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct SecretName {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253), regex(pattern = validation::CONFIG_MAP_NAME))]
    pub name: String,
}

/// A CloudWatch alarm name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(transparent)]
pub struct AlarmName(#[schemars(length(min = 1, max = 255), regex(pattern = "^[^\\x00-\\x1f]+$"))] pub String);

fn default_verify_timeout() -> i32 {
    DEFAULT_VERIFY_TIMEOUT_SECONDS
}

fn default_timeout() -> i32 {
    DEFAULT_TIMEOUT_SECONDS
}

impl AuroraFailoverSpec {
    /// `spec.verify.endpoint`, true unless set false.
    pub fn verifies_endpoint(&self) -> bool {
        self.verify.as_ref().and_then(|v| v.endpoint).unwrap_or(true)
    }

    /// The CloudWatch alarm names of `spec.verify.alarms`.
    pub fn alarm_names(&self) -> impl Iterator<Item = &str> {
        self.verify.iter().flat_map(|v| v.alarms.iter().map(|a| a.0.as_str()))
    }

    /// `spec.verify.writeProbe`.
    pub fn write_probe(&self) -> Option<&WriteProbeSpec> {
        self.verify.as_ref().and_then(|v| v.write_probe.as_ref())
    }

    /// `spec.verify.timeoutSeconds`, its default without `spec.verify`.
    pub fn verify_timeout_seconds(&self) -> i32 {
        self.verify.as_ref().map_or(DEFAULT_VERIFY_TIMEOUT_SECONDS, |v| v.timeout_seconds)
    }

    /// What the schema says, checked again by the controller (for API servers
    /// that skip parts of it, and for `awsops plan` without a cluster), plus
    /// rules that need more than one field.
    pub fn validate(&self) -> Result<(), String> {
        let mut p = Problems::default();
        let id = "a DB identifier (1-63 letters, digits or hyphens, starting with a letter)";
        for (field, value) in [
            ("spec.clusterIdentifier", Some(self.cluster_identifier.as_str())),
            ("spec.targetInstance", self.target_instance.as_deref()),
            ("spec.expectedWriter", self.expected_writer.as_deref()),
        ] {
            if let Some(v) = value {
                p.check(v.len() <= 63, || format!("{field} is longer than 63 characters"));
            }
            p.pattern(field, validation::DB_IDENTIFIER, value, id);
        }
        p.check((30..=86400).contains(&self.timeout_seconds), || {
            format!("spec.timeoutSeconds {} is outside 30..86400", self.timeout_seconds)
        });
        p.pattern("spec.region", validation::REGION, self.region.as_deref(), "an AWS region such as us-east-1");
        p.pattern("spec.roleArn", validation::ROLE_ARN, self.role_arn.as_deref(), "an IAM role ARN");
        if let Some(verify) = &self.verify {
            p.check(verify.alarms.len() <= MAX_ALARMS, || {
                format!("spec.verify.alarms lists {}; at most {MAX_ALARMS}", verify.alarms.len())
            });
            for (i, alarm) in verify.alarms.iter().enumerate() {
                let length = alarm.0.chars().count();
                p.check((1..=255).contains(&length) && !alarm.0.chars().any(|c| c < ' '), || {
                    format!("spec.verify.alarms[{i}] {:?} is not a CloudWatch alarm name (1-255 characters, no control characters)", alarm.0)
                });
            }
            p.check((30..=3600).contains(&verify.timeout_seconds), || {
                format!("spec.verify.timeoutSeconds {} is outside 30..3600", verify.timeout_seconds)
            });
            if let Some(probe) = &verify.write_probe {
                p.pattern(
                    "spec.verify.writeProbe.secretRef.name",
                    validation::CONFIG_MAP_NAME,
                    Some(probe.secret_ref.name.as_str()),
                    "a Secret name",
                );
            }
        }
        if let (Some(target), Some(writer)) = (&self.target_instance, &self.expected_writer) {
            p.check(!target.eq_ignore_ascii_case(writer), || {
                format!("spec.targetInstance and spec.expectedWriter are both {target:?}: the target must be a reader")
            });
        }
        p.into_result()
    }
}

/// Lifecycle of a failover.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum FailoverPhase {
    /// Not started: preconditions are being checked or another failover of the
    /// same cluster is in progress.
    Pending,
    /// `dryRun`: the plan is in `status.plan`; nothing was changed.
    Planned,
    /// FailoverDBCluster is being (or was) issued; waiting for the roles to swap.
    FailingOver,
    /// The target is the writer and the cluster and its members are available.
    Succeeded,
    /// The failover did not complete in `timeoutSeconds` or AWS reported failure.
    Failed,
}

impl FailoverPhase {
    /// A finished object never acts again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Planned | Self::Succeeded | Self::Failed)
    }
}

/// Observed progress of an AuroraFailover.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuroraFailoverStatus {
    /// One-word summary: Pending, Planned, FailingOver, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<FailoverPhase>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Which reader is promoted and why, with every candidate in rank order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<FailoverPlan>,
    /// The writer before the failover (recorded before FailoverDBCluster is called).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_writer: Option<String>,
    /// The writer after the failover, once observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_writer: Option<String>,
    /// When the intent to fail over was recorded, before FailoverDBCluster
    /// was called (the timeout counts from here until the call is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When FailoverDBCluster was last decided and sent (recorded before the
    /// call): a call RDS shows no sign of is sent again only 35 s after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_at: Option<Time>,
    /// When FailoverDBCluster was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Time>,
    /// When the swap was first observed (`spec.verify` counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// Seconds from `requestedAt` to `completedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// Last observed roles of the cluster members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberStatus>,
    /// What `spec.verify` checked after the swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationStatus>,
    /// Ready, Reconciling, Stalled, Planned, WriterSwapped and (with
    /// `spec.verify`) Verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The checks of `spec.verify`, as last observed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationStatus {
    /// When the cluster endpoint was first seen resolving to the new writer
    /// (`spec.verify.endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_switched_at: Option<Time>,
    /// The write probe's first writable answer after its last refused one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writable_at: Option<Time>,
    /// From the write probe's first refused (or read-only) answer to
    /// `writableAt`: what clients of the cluster endpoint saw; 0 when every
    /// answer was writable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_outage_seconds: Option<serde_json::Number>,
    /// The write probe's refused answers by MySQL error code: 1290 read-only,
    /// 2003 cannot connect, 2013 connection lost, 1045 login refused, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probe_errors: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<AlarmStatus>,
}

/// One alarm's state: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStatus {
    pub name: String,
    pub state: String,
}

/// The failover plan: current writer, chosen target, the reason and the ranking.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverPlan {
    /// The writer when the plan was made.
    pub current_writer: String,
    /// The reader that is (or would be) promoted.
    pub target: String,
    /// Why this target, e.g. `lowest promotion tier (tier-0)`.
    pub reason: String,
    /// Every reader considered, in rank order.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// One reader considered for promotion.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub instance: String,
    pub promotion_tier: i32,
    pub instance_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub status: String,
}

/// One cluster member as last observed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    pub instance: String,
    /// `writer` or `reader`.
    pub role: MemberRole,
    pub promotion_tier: i32,
    pub status: String,
}

/// A cluster member's role (the writer sorts first).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Writer,
    #[default]
    Reader,
}

impl std::fmt::Display for MemberRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Writer => "writer",
            Self::Reader => "reader",
        })
    }
}

impl AuroraFailoverStatus {
    /// One word for the `awsops_objects` metric: `Succeeded` or `Failed` once
    /// finished, else the summary condition's (see [`super::conditions::state`]).
    pub fn state(&self) -> &'static str {
        match self.phase {
            Some(FailoverPhase::Succeeded) => "Succeeded",
            Some(FailoverPhase::Failed) => "Failed",
            _ => super::conditions::state(&self.conditions),
        }
    }

    /// Seconds the failover took, when this status finishes one that
    /// `before` had started (the swap's `durationSeconds`, else from
    /// `startedAt` to `completedAt`); `None` for a dry run or a refusal.
    pub fn finished_after(&self, before: &AuroraFailoverStatus) -> Option<f64> {
        let finished = matches!(self.phase, Some(FailoverPhase::Succeeded | FailoverPhase::Failed));
        if !finished || before.phase != Some(FailoverPhase::FailingOver) {
            return None;
        }
        let measured = || {
            let (start, end) = (self.started_at.as_ref()?.0, self.completed_at.as_ref()?.0);
            Some(end.duration_since(start).as_secs().max(0))
        };
        self.duration_seconds.or_else(measured).map(|s| s as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failovers_state_is_its_final_phase_or_its_summary_condition() {
        use crate::api::conditions::{Reason, Summary, merge, summary};
        let gone = summary(Summary::Stalled, Reason::ClusterNotFound, "gone");
        let stalled = merge(&[], &gone, Some(1), k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let status = |phase: Option<FailoverPhase>, conditions: &[Condition]| AuroraFailoverStatus {
            phase,
            conditions: conditions.to_vec(),
            ..Default::default()
        };
        assert_eq!(status(None, &[]).state(), "Reconciling", "no status yet");
        assert_eq!(status(Some(FailoverPhase::Pending), &stalled).state(), "Stalled");
        assert_eq!(status(Some(FailoverPhase::Succeeded), &[]).state(), "Succeeded");
        assert_eq!(status(Some(FailoverPhase::Failed), &stalled).state(), "Failed", "the phase wins");
    }

    fn mk_spec() -> AuroraFailoverSpec {
        AuroraFailoverSpec {
            cluster_identifier: "orders-aurora".into(),
            target_instance: None,
            expected_writer: None,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            dry_run: false,
            region: None,
            role_arn: None,
            verify: None,
        }
    }

    #[test]
    fn a_minimal_spec_is_valid() {
        assert_eq!(mk_spec().validate(), Ok(()));
    }

    #[test]
    fn omitted_fields_take_their_defaults() {
        let spec: AuroraFailoverSpec =
            serde_json::from_value(serde_json::json!({"clusterIdentifier": "c1"})).expect("parses");
        assert_eq!(spec.timeout_seconds, 600);
        assert!(!spec.dry_run);
    }

    #[test]
    fn every_bad_field_is_named_in_the_message() {
        let spec = AuroraFailoverSpec {
            cluster_identifier: "1bad".into(),
            timeout_seconds: 5,
            region: Some("mars-1".into()),
            role_arn: Some("nope".into()),
            ..mk_spec()
        };
        let msg = spec.validate().expect_err("invalid");
        for field in ["spec.clusterIdentifier", "spec.timeoutSeconds", "spec.region", "spec.roleArn"] {
            assert!(msg.contains(field), "{field} missing from {msg}");
        }
    }

    #[test]
    fn the_target_cannot_be_the_expected_writer() {
        let spec =
            AuroraFailoverSpec { target_instance: Some("w1".into()), expected_writer: Some("w1".into()), ..mk_spec() };
        assert!(spec.validate().expect_err("invalid").contains("must be a reader"));
    }

    #[test]
    fn verify_takes_its_defaults_and_checks_alarm_names_timeouts_and_the_secret_name() {
        let parse = |verify: serde_json::Value| -> AuroraFailoverSpec {
            serde_json::from_value(serde_json::json!({"clusterIdentifier": "c1", "verify": verify})).expect("parses")
        };
        let spec = parse(serde_json::json!({"alarms": ["api-5xx"]}));
        assert_eq!(spec.verify.as_ref().map(|v| v.timeout_seconds), Some(DEFAULT_VERIFY_TIMEOUT_SECONDS));
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(parse(serde_json::json!({"endpoint": false})).validate(), Ok(()));
        assert_eq!(parse(serde_json::json!({"endpoint": true})).validate(), Ok(()));
        assert_eq!(parse(serde_json::json!({"writeProbe": {"secretRef": {"name": "p"}}})).validate(), Ok(()));
        let message =
            parse(serde_json::json!({"writeProbe": {"secretRef": {"name": "P_x"}}})).validate().expect_err("no");
        assert!(message.contains("spec.verify.writeProbe.secretRef.name"), "{message}");
        let long = "é".repeat(255);
        assert_eq!(parse(serde_json::json!({"alarms": [long]})).validate(), Ok(()), "255 characters, not bytes");
        let message =
            parse(serde_json::json!({"alarms": ["a\u{1}b"], "timeoutSeconds": 5})).validate().expect_err("bad");
        assert!(
            message.contains("spec.verify.alarms[0]") && message.contains("spec.verify.timeoutSeconds"),
            "{message}"
        );
    }

    #[test]
    fn a_failover_is_measured_once_when_it_finishes_from_failing_over() {
        let t = |s: i64| Time(k8s_openapi::jiff::Timestamp::from_second(s).expect("valid"));
        let failing = AuroraFailoverStatus { phase: Some(FailoverPhase::FailingOver), ..Default::default() };
        let done = AuroraFailoverStatus {
            phase: Some(FailoverPhase::Succeeded),
            duration_seconds: Some(12),
            ..Default::default()
        };
        assert_eq!(done.finished_after(&failing), Some(12.0));
        assert_eq!(done.finished_after(&done), None, "already finished: not again");
        let timed_out = AuroraFailoverStatus {
            phase: Some(FailoverPhase::Failed),
            started_at: Some(t(100)),
            completed_at: Some(t(700)),
            ..Default::default()
        };
        assert_eq!(timed_out.finished_after(&failing), Some(600.0));
        let refused = AuroraFailoverStatus { phase: Some(FailoverPhase::Failed), ..Default::default() };
        assert_eq!(refused.finished_after(&AuroraFailoverStatus::default()), None, "never started");
    }

    #[test]
    fn only_planned_succeeded_and_failed_are_final() {
        assert!(FailoverPhase::Succeeded.is_final());
        assert!(FailoverPhase::Failed.is_final());
        assert!(FailoverPhase::Planned.is_final());
        assert!(!FailoverPhase::Pending.is_final());
        assert!(!FailoverPhase::FailingOver.is_final());
    }
}
