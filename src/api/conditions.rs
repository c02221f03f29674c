//! Condition types and reasons, in one place (kstatus compatible: `Ready`,
//! `Reconciling` abnormal-true, `Stalled` abnormal-true), and the helper that
//! keeps `lastTransitionTime` stable when a condition does not change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

// AuroraFailover steps.
pub const PLANNED: &str = "Planned";
pub const WRITER_SWAPPED: &str = "WriterSwapped";
/// An AuroraFailover's `spec.verify` checks passed after the swap.
pub const VERIFIED: &str = "Verified";

// StaticSite steps.
pub const BUCKET_READY: &str = "BucketReady";
pub const CERTIFICATE_ISSUED: &str = "CertificateIssued";
pub const DISTRIBUTION_DEPLOYED: &str = "DistributionDeployed";
pub const CONTENT_SYNCED: &str = "ContentSynced";
pub const DNS_READY: &str = "DnsReady";

/// Declares [`Reason`]: each variant's name is the reason string itself.
macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Every reason either kind writes, in a condition or an event: the one
        /// vocabulary that status, events and GitOps health checks read.
        /// PascalCase, stable.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $name,)*
        }

        impl Reason {
            pub const ALL: &[Reason] = &[$(Self::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

reasons! {
    // Both kinds.
    /// The condition is in its expected (non-abnormal) state.
    AsExpected,
    /// The spec breaks a rule the schema could not check.
    InvalidSpec,
    /// A field that is immutable once set was changed.
    ImmutableField,
    /// AWS refused the controller's credentials for an action.
    AccessDenied,
    /// No TenantPolicy selecting the namespace allows what the spec asks for.
    NotPermitted,
    /// An AWS account quota is reached.
    QuotaExceeded,

    // AuroraFailover.
    ClusterNotFound,
    UnsupportedEngine,
    ClusterNotAvailable,
    NoWriter,
    SingleInstanceCluster,
    NoAvailableReader,
    TargetNotInCluster,
    TargetIsWriter,
    TargetNotAvailable,
    WriterMismatch,
    /// Another AuroraFailover holds the cluster.
    WaitingForOtherFailover,
    Planned,
    FailingOver,
    Succeeded,
    Timeout,
    WriterElsewhere,
    ClusterGone,
    FailoverRejected,
    /// A CloudWatch alarm `spec.verify.alarms` names does not exist.
    AlarmNotFound,
    /// Before the failover, the cluster endpoint does not resolve to the writer (`spec.verify.endpoint`).
    EndpointUnresolved,
    /// Before the failover, the write probe does not find the writer writable (or cannot log in).
    ProbeBaselineFailed,
    /// The swap is done; waiting for `spec.verify`'s checks.
    Verifying,
    /// A `spec.verify` check did not pass in time (the writer stays where it is).
    VerificationFailed,

    // StaticSite.
    Provisioning,
    BucketNotOwned,
    /// The bucket name exists in another region.
    BucketInOtherRegion,
    /// Status names an AWS resource this object cannot prove it created.
    NotOwned,
    HostedZoneNotFound,
    /// A private hosted zone: ACM cannot validate through it.
    PrivateHostedZone,
    NamesOutsideZone,
    CertificateNotFound,
    CertificateNotUsable,
    CertificateFailed,
    ConfigMapNotFound,
    ContentTooLarge,
    /// The archive's sha256 is not `spec.content.archive.sha256`.
    ContentDigestMismatch,
    /// The source cannot be served as it is: a path out of the tree, a key
    /// too long or reserved, two sources for one key, an unknown format.
    ContentInvalid,
    /// The source's host could not be reached or answered an error: retried.
    SourceUnreachable,
    /// The work folder (`--work-dir`) could not hold the source: retried.
    WorkFolderFailed,
    /// `spec.content.oci.secretRef` cannot be read or holds no login for the registry.
    PullSecretUnusable,
    /// The source redirected to a host no TenantPolicy lists, or resolved to
    /// an address content is never fetched from (link-local, metadata).
    SourceRefused,
    RecordOwnedElsewhere,
    AliasInUse,
    WaitingForCertificate,
    /// CloudFront refused the invalidation of changed content (too many in
    /// progress, throttling): the paths are kept in status and asked again.
    InvalidationPending,
    Deploying,
    Ready,
    Deleting,

    // Events only: a step done.
    /// An RDS cluster event, mirrored.
    RdsEvent,
    BucketConfigured,
    BucketPolicyApplied,
    BucketDeleted,
    /// A bucket kept (`Retain`), marked released for a new site to adopt.
    BucketReleased,
    /// A bucket `Delete` left because it holds objects the site did not upload (a Warning).
    BucketKept,
    OriginAccessControlCreated,
    CertificateRequested,
    ValidationRecordsWritten,
    CertificateDeleted,
    /// A replaced certificate CloudFront still holds (a Warning).
    CertificateNotDeleted,
    /// Routing compiled into a CloudFront Function and published (or put back after an edit).
    RoutingPublished,
    /// A response headers policy created (or put back after an edit).
    HeadersPolicyApplied,
    /// A routing function or headers policy no site uses any more, deleted.
    EdgeReleased,
    DistributionCreated,
    DistributionUpdated,
    DistributionDisabled,
    DistributionDeleted,
    ContentSynced,
    /// CloudFront refused an invalidation's paths as invalid: dropped (a Warning).
    InvalidationDropped,
    DnsRecordsChanged,
    DnsRecordsDeleted,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition's reason as the API server holds it, against the vocabulary.
impl PartialEq<Reason> for String {
    fn eq(&self, other: &Reason) -> bool {
        self == other.as_str()
    }
}

/// What a stall found before any AWS write says at the end of its message.
pub const NOTHING_CHANGED: &str = "Nothing was changed in AWS.";
/// What a stall found before any AWS request (a TenantPolicy refusal) says.
pub const NOTHING_READ: &str = "Nothing was read or changed in AWS.";

/// Why an object cannot make progress without a spec change or outside help:
/// `Stalled=True` with this reason and a message that says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    pub reason: Reason,
    pub message: String,
}

impl Stall {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }

    /// AWS refused the controller's credentials.
    pub fn access_denied(error: &impl std::fmt::Display) -> Self {
        Self::new(
            Reason::AccessDenied,
            format!("{error}. Grant the controller's role this action (see docs/iam-policy.json)."),
        )
    }

    /// AWS refused because an account quota is reached.
    pub fn quota_exceeded(error: &impl std::fmt::Display) -> Self {
        Self::new(
            Reason::QuotaExceeded,
            format!(
                "{error}. An AWS account quota is reached: raise it in the Service Quotas console (CloudFront and ACM quotas live in us-east-1), or remove resources you no longer use; the object tries again on its next look."
            ),
        )
    }

    /// The same stall, found before anything was changed in AWS: the message says so.
    #[must_use]
    pub fn untouched(self) -> Self {
        Self { message: format!("{}. {NOTHING_CHANGED}", self.message.trim_end_matches('.')), ..self }
    }

    /// The three kstatus conditions for this stall.
    pub fn conditions(&self) -> Vec<Desired> {
        summary(Summary::Stalled, self.reason, self.message.clone())
    }
}

/// A condition as a reconciler wants it; turned into a `Condition` by [`merge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: bool,
    pub reason: Reason,
    pub message: String,
}

impl Desired {
    pub fn new(type_: &'static str, status: bool, reason: Reason, message: impl Into<String>) -> Self {
        Self { type_, status, reason, message: message.into() }
    }
}

/// Builds the next condition list: each desired condition replaces the one of
/// the same type, keeping its `lastTransitionTime` when the status is unchanged;
/// conditions not mentioned are kept as they are.
pub fn merge(previous: &[Condition], desired: &[Desired], generation: Option<i64>, now: Timestamp) -> Vec<Condition> {
    let mut out: Vec<Condition> = previous.to_vec();
    for d in desired {
        let status = if d.status { "True" } else { "False" }.to_string();
        let last_transition_time = match previous.iter().find(|c| c.type_ == d.type_) {
            Some(old) if old.status == status => old.last_transition_time.clone(),
            _ => Time(now),
        };
        // Never empty: a 1.20 API server's server-side apply turns "" into null
        // and then refuses it as not a string.
        let message = if d.message.is_empty() { d.reason.as_str().to_string() } else { d.message.clone() };
        let next = Condition {
            type_: d.type_.to_string(),
            status,
            reason: d.reason.as_str().to_string(),
            message,
            observed_generation: generation,
            last_transition_time,
        };
        match out.iter_mut().find(|c| c.type_ == d.type_) {
            Some(slot) => *slot = next,
            None => out.push(next),
        }
    }
    out
}

/// The status of condition `type_` in a list, if present.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions.iter().any(|c| c.type_ == type_ && c.status == "True")
}

/// One word for an object's state, for the `awsops_objects` metric:
/// `Stalled`, `Ready` or `Reconciling` (no status yet included).
pub fn state(conditions: &[Condition]) -> &'static str {
    if is_true(conditions, STALLED) {
        STALLED
    } else if is_true(conditions, READY) {
        READY
    } else {
        RECONCILING
    }
}

/// The summary condition that is True (one of Ready, Reconciling, Stalled), if any.
pub fn current_summary(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.status == "True" && [READY, RECONCILING, STALLED].contains(&c.type_.as_str()))
}

/// The three kstatus conditions for a summary state.
pub fn summary(state: Summary, reason: Reason, message: impl Into<String>) -> Vec<Desired> {
    let message = message.into();
    let (ready, reconciling, stalled) = match state {
        Summary::Ready => (true, false, false),
        Summary::Reconciling => (false, true, false),
        Summary::Stalled => (false, false, true),
    };
    let pick = |on: bool, active: Reason| if on { reason } else { active };
    vec![
        Desired::new(READY, ready, pick(ready, reason), message.clone()),
        Desired::new(
            RECONCILING,
            reconciling,
            pick(reconciling, Reason::AsExpected),
            if reconciling { message.clone() } else { String::new() },
        ),
        Desired::new(
            STALLED,
            stalled,
            pick(stalled, Reason::AsExpected),
            if stalled { message } else { String::new() },
        ),
    ]
}

/// Where an object stands, in kstatus terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summary {
    Ready,
    Reconciling,
    Stalled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_objects_state_is_stalled_over_ready_and_reconciling_otherwise() {
        let at = |summary, why| merge(&[], &super::summary(summary, why, "m"), Some(1), Timestamp::UNIX_EPOCH);
        assert_eq!(state(&[]), RECONCILING, "no status yet");
        assert_eq!(state(&at(Summary::Ready, Reason::Ready)), READY);
        assert_eq!(state(&at(Summary::Stalled, Reason::InvalidSpec)), STALLED);
        assert_eq!(state(&at(Summary::Reconciling, Reason::Provisioning)), RECONCILING);
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("valid")
    }

    #[test]
    fn merge_keeps_the_transition_time_when_status_is_unchanged() {
        let first = merge(&[], &[Desired::new(READY, false, Reason::Provisioning, "a")], Some(1), ts(10));
        let second = merge(&first, &[Desired::new(READY, false, Reason::Deploying, "b")], Some(2), ts(20));
        assert_eq!(second[0].last_transition_time, Time(ts(10)));
        assert_eq!(second[0].reason, "Deploying");
        assert_eq!(second[0].observed_generation, Some(2));
        let third = merge(&second, &[Desired::new(READY, true, Reason::Ready, "")], Some(2), ts(30));
        assert_eq!(third[0].last_transition_time, Time(ts(30)));
        assert_eq!(third[0].status, "True");
    }

    #[test]
    fn merge_keeps_conditions_it_was_not_given() {
        let first = merge(&[], &[Desired::new(PLANNED, true, Reason::Planned, "")], Some(1), ts(1));
        let second = merge(&first, &[Desired::new(READY, false, Reason::Provisioning, "")], Some(1), ts(2));
        assert_eq!(second.len(), 2);
        assert!(is_true(&second, PLANNED));
        assert!(!is_true(&second, READY));
    }

    #[test]
    fn summary_sets_exactly_one_of_the_three_kstatus_conditions() {
        for (state, on) in [(Summary::Ready, READY), (Summary::Reconciling, RECONCILING), (Summary::Stalled, STALLED)] {
            let conds = merge(&[], &summary(state, Reason::Timeout, "msg"), Some(1), ts(1));
            let trues: Vec<_> = conds.iter().filter(|c| c.status == "True").map(|c| c.type_.as_str()).collect();
            assert_eq!(trues, vec![on]);
            assert_eq!(conds.iter().find(|c| c.type_ == on).map(|c| c.reason.as_str()), Some("Timeout"));
        }
    }

    #[test]
    fn every_reason_is_a_distinct_pascal_case_word() {
        let names: std::collections::BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
        for name in names {
            assert!(name.starts_with(|c: char| c.is_ascii_uppercase()), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
        }
    }

    #[test]
    fn a_stall_found_before_any_change_says_nothing_was_changed() {
        let stall = Stall::new(Reason::InvalidSpec, "spec.x is wrong").untouched();
        assert_eq!(stall.message, "spec.x is wrong. Nothing was changed in AWS.");
        let denied = Stall::access_denied(&"Op: AccessDenied");
        assert_eq!(denied.reason, Reason::AccessDenied);
        assert!(denied.message.ends_with("(see docs/iam-policy.json)."), "{}", denied.message);
        let untouched = denied.clone().untouched().message;
        assert!(untouched.ends_with("(see docs/iam-policy.json). Nothing was changed in AWS."), "{untouched}");
        let stalled = merge(&[], &denied.conditions(), Some(1), ts(1));
        assert!(is_true(&stalled, STALLED));
    }
}
