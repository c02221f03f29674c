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

// StaticSite steps.
pub const BUCKET_READY: &str = "BucketReady";
pub const CERTIFICATE_ISSUED: &str = "CertificateIssued";
pub const DISTRIBUTION_DEPLOYED: &str = "DistributionDeployed";
pub const CONTENT_SYNCED: &str = "ContentSynced";
pub const DNS_READY: &str = "DnsReady";

/// Reasons shared by both kinds.
pub mod reason {
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const IMMUTABLE_FIELD: &str = "ImmutableField";
    pub const ACCESS_DENIED: &str = "AccessDenied";
    pub const PROGRESSING: &str = "Progressing";
    pub const PENDING: &str = "Pending";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const RECONCILED: &str = "Reconciled";
    pub const AS_EXPECTED: &str = "AsExpected";
    pub const AWS_ERROR: &str = "AwsError";
    pub const NOT_STARTED: &str = "NotStarted";
}

/// A condition as a reconciler wants it; turned into a `Condition` by [`merge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Desired {
    pub fn new(type_: &'static str, status: bool, reason: &'static str, message: impl Into<String>) -> Self {
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
        let message = if d.message.is_empty() { d.reason.to_string() } else { d.message.clone() };
        let next = Condition {
            type_: d.type_.to_string(),
            status,
            reason: d.reason.to_string(),
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

/// The summary condition that is True (one of Ready, Reconciling, Stalled), if any.
pub fn current_summary(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.status == "True" && [READY, RECONCILING, STALLED].contains(&c.type_.as_str()))
}

/// The three kstatus conditions for a summary state.
pub fn summary(state: Summary, reason: &'static str, message: impl Into<String>) -> Vec<Desired> {
    let message = message.into();
    let (ready, reconciling, stalled) = match state {
        Summary::Ready => (true, false, false),
        Summary::Reconciling => (false, true, false),
        Summary::Stalled => (false, false, true),
    };
    let pick = |on: bool, active: &'static str| if on { reason } else { active };
    vec![
        Desired::new(READY, ready, pick(ready, reason), message.clone()),
        Desired::new(
            RECONCILING,
            reconciling,
            pick(reconciling, reason::AS_EXPECTED),
            if reconciling { message.clone() } else { String::new() },
        ),
        Desired::new(
            STALLED,
            stalled,
            pick(stalled, reason::AS_EXPECTED),
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

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("valid")
    }

    #[test]
    fn merge_keeps_the_transition_time_when_status_is_unchanged() {
        let first = merge(&[], &[Desired::new(READY, false, "Pending", "a")], Some(1), ts(10));
        let second = merge(&first, &[Desired::new(READY, false, "Other", "b")], Some(2), ts(20));
        assert_eq!(second[0].last_transition_time, Time(ts(10)));
        assert_eq!(second[0].reason, "Other");
        assert_eq!(second[0].observed_generation, Some(2));
        let third = merge(&second, &[Desired::new(READY, true, "Done", "")], Some(2), ts(30));
        assert_eq!(third[0].last_transition_time, Time(ts(30)));
        assert_eq!(third[0].status, "True");
    }

    #[test]
    fn merge_keeps_conditions_it_was_not_given() {
        let first = merge(&[], &[Desired::new(PLANNED, true, "Planned", "")], Some(1), ts(1));
        let second = merge(&first, &[Desired::new(READY, false, "Pending", "")], Some(1), ts(2));
        assert_eq!(second.len(), 2);
        assert!(is_true(&second, PLANNED));
        assert!(!is_true(&second, READY));
    }

    #[test]
    fn summary_sets_exactly_one_of_the_three_kstatus_conditions() {
        for (state, on) in [(Summary::Ready, READY), (Summary::Reconciling, RECONCILING), (Summary::Stalled, STALLED)] {
            let conds = merge(&[], &summary(state, "Why", "msg"), Some(1), ts(1));
            let trues: Vec<_> = conds.iter().filter(|c| c.status == "True").map(|c| c.type_.as_str()).collect();
            assert_eq!(trues, vec![on]);
            assert_eq!(conds.iter().find(|c| c.type_ == on).map(|c| c.reason.as_str()), Some("Why"));
        }
    }
}
