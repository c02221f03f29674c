//! AWS error classification, done once: every SDK error becomes an
//! [`AwsError`] with a bounded [`AwsErrorKind`] that decides requeue delays,
//! metric labels and whether the object is `Stalled`.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call had, as far as the controller cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AwsErrorKind {
    /// The resource does not exist (often "done" during cleanup).
    NotFound,
    /// State conflict: stale ETag, resource in use, name taken, wrong state.
    Conflict,
    /// Rate limited; try again later.
    Throttled,
    /// The credentials may not do this; needs outside help.
    AccessDenied,
    /// An account quota is reached (`TooMany*`, `LimitExceededException`):
    /// needs the quota raised or resources removed.
    Quota,
    /// The request is wrong and will stay wrong without a spec change.
    Terminal,
    /// Transient: 5xx, timeouts, dropped connections.
    Retryable,
}

impl AwsErrorKind {
    /// A bounded label for metrics and event reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Throttled => "throttled",
            Self::AccessDenied => "access_denied",
            Self::Quota => "quota",
            Self::Terminal => "terminal",
            Self::Retryable => "retryable",
        }
    }
}

/// A classified AWS error. `message` is AWS's text and goes to status and
/// events only, never to metric labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub kind: AwsErrorKind,
    /// The operation that failed, e.g. `DescribeDBClusters`.
    pub operation: &'static str,
    /// AWS's error code, e.g. `DBClusterNotFoundFault`; empty when there is none.
    pub code: String,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code.is_empty(), self.message.is_empty()) {
            (true, _) => write!(f, "{}: {}", self.operation, self.message),
            (false, true) => write!(f, "{}: {}", self.operation, self.code),
            (false, false) => write!(f, "{}: {}: {}", self.operation, self.code, self.message),
        }
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn new(
        kind: AwsErrorKind,
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self { kind, operation, code: code.into(), message: message.into() }
    }

    /// A create answered "already exists" but a listing does not show it
    /// yet: a conflict to retry shortly.
    pub fn not_listed_yet(operation: &'static str, what: &str) -> Self {
        Self::new(AwsErrorKind::Conflict, operation, "", format!("{what} exists but is not listed yet"))
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    /// `Ok(value)` when the error says the resource does not exist (often the
    /// answer itself: nothing configured, already deleted), else the error.
    pub fn absent_as<T>(self, value: T) -> Result<T, AwsError> {
        if self.is_not_found() { Ok(value) } else { Err(self) }
    }

    /// CloudFront's answer when an origin access control already signs for
    /// as many distributions as it may.
    pub fn is_oac_full(&self) -> bool {
        self.code == "TooManyDistributionsAssociatedToOriginAccessControl"
    }

    /// `value` when the error is a denial, else the error.
    pub fn denied_as<T>(self, value: T) -> Result<T, AwsError> {
        if self.kind == AwsErrorKind::AccessDenied { Ok(value) } else { Err(self) }
    }

    /// Classifies any SDK error of operation `operation`.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code().unwrap_or_default().to_string();
                let message = service.err().message().unwrap_or_default().to_string();
                Self::new(classify(&code, status), operation, code, message)
            }
            SdkError::ResponseError(r) => {
                let status = r.raw().status().as_u16();
                let kind = if status == 404 { AwsErrorKind::NotFound } else { classify("", status) };
                Self::new(kind, operation, "", format!("unreadable response (HTTP {status})"))
            }
            SdkError::ConstructionFailure(_) => Self::new(AwsErrorKind::Terminal, operation, "", error_chain(&err)),
            SdkError::DispatchFailure(_) => Self::new(AwsErrorKind::Retryable, operation, "", unanswered(&err)),
            _ => Self::new(AwsErrorKind::Retryable, operation, "", error_chain(&err)),
        }
    }
}

/// Why a request got no answer, in one line that says what to set: no
/// credentials (and where the SDK looked), credentials that failed to load
/// (and why), or an endpoint that does not answer (and which). The SDK's own
/// text nests five errors deep.
fn unanswered(err: &(dyn std::error::Error + 'static)) -> String {
    use aws_credential_types::provider::error::CredentialsError;
    let innermost = innermost(err);
    match chain(err).find_map(|e| e.downcast_ref::<CredentialsError>()) {
        Some(CredentialsError::CredentialsNotLoaded(_)) => {
            return format!(
                "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), the profile (AWS_PROFILE or \
                 default, in ~/.aws/config and ~/.aws/credentials), a web identity token (IRSA, \
                 AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint (ECS, EKS Pod Identity) or instance metadata \
                 ({innermost}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (in a cluster: the \
                 ServiceAccount's role annotation or a Pod Identity association)"
            );
        }
        Some(_) => return format!("AWS credentials could not be loaded: {innermost}"),
        None => {}
    }
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => format!("the AWS endpoint {} (AWS_ENDPOINT_URL)", scheme_and_host(&url)),
        _ => "AWS".to_string(),
    };
    format!("cannot reach {endpoint}: {innermost}")
}

/// `scheme://host:port` of a URL: no user, password, path or query reaches a message.
fn scheme_and_host(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if scheme.is_empty() { host.to_string() } else { format!("{scheme}://{host}") }
}

fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// The root cause's own words (`Connection refused (os error 111)`).
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    chain(err).last().map(|e| e.to_string().trim_end_matches('.').to_string()).unwrap_or_default()
}

/// Codes of a request that lost a race or met a resource in use: decided again on a later look.
const CONFLICT: &[&str] = &[
    "PreconditionFailed",
    "InvalidIfMatchVersion",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "OperationAborted",
    "CNAMEAlreadyExists",
    "DistributionAlreadyExists",
    "DistributionNotDisabled",
    "OriginAccessControlAlreadyExists",
    "OriginAccessControlInUse",
    "FunctionAlreadyExists",
    "FunctionInUse",
    "ResponseHeadersPolicyAlreadyExists",
    "ResponseHeadersPolicyInUse",
    "ResourceInUseException",
    "InvalidDBClusterStateFault",
    // RDS sends `InvalidDBInstanceState`; the SDK names the type `...Fault`.
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "ConflictingDomainExists",
    "HostedZoneAlreadyExists",
    "ConcurrentModification",
];
// Account quotas one can raise (Service Quotas); other `TooMany*` codes are fixed limits.
const QUOTAS: &[&str] = &[
    "TooManyDistributions",
    "TooManyOriginAccessControls",
    "TooManyDistributionsAssociatedToOriginAccessControl",
    "TooManyCertificates",
    "TooManyFunctions",
    "TooManyDistributionsWithSingleFunctionARN",
    "TooManyDistributionsWithFunctionAssociations",
    "TooManyResponseHeadersPolicies",
    "TooManyDistributionsAssociatedToResponseHeadersPolicy",
    "TooManyHostedZones",
    "LimitExceededException",
];

/// Maps an AWS error code (any service, any protocol) and HTTP status to a kind.
pub fn classify(code: &str, http_status: u16) -> AwsErrorKind {
    const THROTTLED: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        // Fifteen invalidations at a time per distribution: it clears by itself.
        "TooManyInvalidationsInProgress",
        "ProvisionedThroughputExceededException",
    ];
    const ACCESS_DENIED: &[&str] = &[
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
        "AllAccessDisabled",
    ];
    if THROTTLED.contains(&code) || http_status == 429 {
        AwsErrorKind::Throttled
    } else if ACCESS_DENIED.contains(&code) {
        AwsErrorKind::AccessDenied
    } else if QUOTAS.contains(&code) {
        AwsErrorKind::Quota
    } else if code.starts_with("NoSuch") || code.contains("NotFound") {
        AwsErrorKind::NotFound
    } else if CONFLICT.contains(&code) || http_status == 409 || http_status == 412 {
        AwsErrorKind::Conflict
    } else if http_status >= 500 || code == "InternalError" || code == "InternalFailure" || code == "ServiceUnavailable"
    {
        AwsErrorKind::Retryable
    } else if http_status == 403 {
        AwsErrorKind::AccessDenied
    } else if http_status == 404 {
        AwsErrorKind::NotFound
    } else {
        AwsErrorKind::Terminal
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_quotas_are_told_apart_from_throttling() {
        for code in [
            "TooManyDistributions",
            "TooManyOriginAccessControls",
            "TooManyDistributionsAssociatedToOriginAccessControl",
            "TooManyFunctions",
            "TooManyDistributionsWithSingleFunctionARN",
            "TooManyResponseHeadersPolicies",
            "TooManyDistributionsAssociatedToResponseHeadersPolicy",
            "LimitExceededException",
        ] {
            assert_eq!(classify(code, 400), Quota, "{code}");
        }
        for code in ["FunctionInUse", "ResponseHeadersPolicyInUse", "ResponseHeadersPolicyAlreadyExists"] {
            assert_eq!(classify(code, 409), Conflict, "{code}");
        }
        assert_eq!(classify("TooManyRequestsException", 400), Throttled);
        assert_eq!(classify("TooManyInvalidationsInProgress", 400), Throttled);
        assert_eq!(classify("TooManyTagsException", 400), Terminal, "a fixed limit: no quota to raise");
    }
    use AwsErrorKind::*;

    fn unanswered_because(cause: aws_smithy_runtime_api::client::result::ConnectorError) -> AwsError {
        let err: SdkError<aws_sdk_s3::operation::head_bucket::HeadBucketError, HttpResponse> =
            SdkError::dispatch_failure(cause);
        AwsError::from_sdk("HeadBucket", err)
    }

    #[test]
    fn a_request_without_credentials_says_where_the_sdk_looked_and_what_to_set() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let missing = CredentialsError::not_loaded("no providers in chain provided credentials");
        let error = unanswered_because(ConnectorError::other(Box::new(missing), None));
        assert_eq!(error.kind, Retryable);
        for part in ["no AWS credentials", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "instance metadata", "no providers"] {
            assert!(error.message.contains(part), "{part:?} in {error}");
        }
    }

    #[test]
    fn credentials_that_failed_to_load_are_told_apart_from_none_found() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let refused = CredentialsError::provider_error("AssumeRoleWithWebIdentity: not authorized");
        let error = unanswered_because(ConnectorError::other(Box::new(refused), None));
        assert!(error.message.starts_with("AWS credentials could not be loaded: "), "{error}");
        assert!(error.message.contains("not authorized") && !error.message.contains("set AWS_PROFILE"), "{error}");
    }

    #[test]
    fn a_request_that_cannot_connect_says_so_with_the_root_cause() {
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let error = unanswered_because(ConnectorError::io(Box::new(refused)));
        assert_eq!(error.kind, Retryable);
        assert!(error.message.starts_with("cannot reach "), "{error}");
        assert!(error.message.ends_with("connection refused"), "{error}");
    }

    #[test]
    fn an_endpoint_is_named_without_its_credentials_path_or_query() {
        assert_eq!(scheme_and_host("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(scheme_and_host("https://user:secret@proxy.example:8443/x?token=t"), "https://proxy.example:8443");
        assert_eq!(scheme_and_host("localhost:4566"), "localhost:4566");
    }

    #[test]
    fn throttling_is_recognised_in_every_protocol_spelling() {
        for code in ["Throttling", "ThrottlingException", "SlowDown", "PriorRequestNotComplete"] {
            assert_eq!(classify(code, 400), Throttled, "{code}");
        }
        assert_eq!(classify("", 429), Throttled);
        assert_eq!(classify("SlowDown", 503), Throttled);
    }

    #[test]
    fn missing_resources_are_not_found() {
        for code in [
            "DBClusterNotFoundFault",
            "NoSuchBucket",
            "NoSuchDistribution",
            "ResourceNotFoundException",
            "NoSuchHostedZone",
        ] {
            assert_eq!(classify(code, 404), NotFound, "{code}");
        }
    }

    #[test]
    fn state_and_etag_conflicts_are_conflicts() {
        for code in [
            "PreconditionFailed",
            "DistributionNotDisabled",
            "InvalidDBClusterStateFault",
            "InvalidDBInstanceState",
            "CNAMEAlreadyExists",
        ] {
            assert_eq!(classify(code, 400), Conflict, "{code}");
        }
    }

    #[test]
    fn permission_errors_need_outside_help() {
        assert_eq!(classify("AccessDenied", 403), AccessDenied);
        assert_eq!(classify("AccessDeniedException", 400), AccessDenied);
        assert_eq!(classify("", 403), AccessDenied);
    }

    #[test]
    fn server_errors_are_retryable_and_bad_requests_terminal() {
        assert_eq!(classify("InternalError", 500), Retryable);
        assert_eq!(classify("", 503), Retryable);
        assert_eq!(classify("InvalidParameterValue", 400), Terminal);
        assert_eq!(classify("InvalidChangeBatch", 400), Terminal);
    }

    #[test]
    fn display_names_operation_code_and_message() {
        let e = AwsError::new(NotFound, "DescribeDBClusters", "DBClusterNotFoundFault", "DBCluster x not found");
        assert_eq!(e.to_string(), "DescribeDBClusters: DBClusterNotFoundFault: DBCluster x not found");
    }
}
