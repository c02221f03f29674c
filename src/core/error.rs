//! The reconcilers' error type: each variant maps to a bounded category (for
//! metrics and event reasons) and a requeue delay.

use std::time::Duration;

use crate::aws::{AwsError, AwsErrorKind};

/// How long an object whose credentials AWS refused waits for the next look
/// (someone must change IAM first), for both kinds.
pub const ACCESS_DENIED_RECHECK: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("AWS configuration: {0}")]
    AwsConfig(String),
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The local state folder of `awsops apply` could not be read or written.
    #[error("state: {0}")]
    State(String),
    #[error("timed out after {0:?} writing status")]
    StatusTimeout(Duration),
    /// Cleanup is waiting for AWS (a distribution deploying its disabled
    /// state); kube-runtime's finalizer helper removes the finalizer on any
    /// `Ok`, so waiting is reported as this error and requeued, not counted.
    #[error("cleanup waits {0:?} for AWS")]
    CleanupPending(Duration),
}

impl Error {
    /// The API server refused the request for lack of permission (403).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Kube(kube::Error::Api(e)) if e.code == 403)
    }

    /// A bounded label: never AWS or Kubernetes message text.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(e)) if e.code == 409 => "kube_conflict",
            Self::Kube(_) => "kube",
            Self::Aws(e) => match e.kind {
                AwsErrorKind::NotFound => "aws_not_found",
                AwsErrorKind::Conflict => "aws_conflict",
                AwsErrorKind::Throttled => "aws_throttled",
                AwsErrorKind::AccessDenied => "aws_access_denied",
                AwsErrorKind::Quota => "aws_quota",
                AwsErrorKind::Terminal => "aws_terminal",
                AwsErrorKind::Retryable => "aws_retryable",
            },
            Self::AwsConfig(_) => "aws_config",
            Self::Finalizer(_) => "finalizer",
            Self::State(_) => "state",
            Self::StatusTimeout(_) => "status_timeout",
            Self::CleanupPending(_) => "cleanup_pending",
        }
    }

    /// How long to wait before the next attempt.
    pub fn requeue_after(&self) -> Duration {
        let secs = match self {
            Self::Kube(kube::Error::Api(e)) if e.code == 409 => 1,
            Self::Kube(_) | Self::StatusTimeout(_) | Self::Finalizer(_) | Self::State(_) => 5,
            Self::Aws(e) => match e.kind {
                AwsErrorKind::Conflict => 10,
                AwsErrorKind::Retryable => 15,
                AwsErrorKind::Throttled => 30,
                AwsErrorKind::NotFound => 30,
                AwsErrorKind::AccessDenied | AwsErrorKind::Quota => return ACCESS_DENIED_RECHECK,
                AwsErrorKind::Terminal => 300,
            },
            Self::AwsConfig(_) => 300,
            Self::CleanupPending(wait) => return *wait,
        };
        Duration::from_secs(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_waits_longer_than_a_transient_error_and_less_than_a_terminal_one() {
        let err = |kind| Error::Aws(AwsError::new(kind, "Op", "", ""));
        let throttled = err(AwsErrorKind::Throttled);
        assert_eq!(throttled.category(), "aws_throttled");
        assert!(throttled.requeue_after() > err(AwsErrorKind::Retryable).requeue_after());
        assert!(throttled.requeue_after() < err(AwsErrorKind::Terminal).requeue_after());
    }

    #[test]
    fn categories_never_carry_message_text() {
        let e =
            Error::Aws(AwsError::new(AwsErrorKind::AccessDenied, "Op", "AccessDenied", "user arn:aws:iam::1:user/x"));
        assert_eq!(e.category(), "aws_access_denied");
        assert_eq!(Error::AwsConfig("secret text".into()).category(), "aws_config");
    }
}
