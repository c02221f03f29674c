//! The AWS client factory. One shared SDK configuration is loaded at start-up
//! (credential chain: IRSA, EKS Pod Identity, environment; adaptive retries;
//! `AWS_ENDPOINT_URL` for emulators). Per object it hands out clients for the
//! object's region and, with `roleArn`, for an assumed role. ACM and CloudFront
//! clients are always in us-east-1, as CloudFront requires. Route 53 clients
//! share one rate limit per account (see `rate_limit.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::sdk_config::SharedCredentialsProvider;

use super::AwsError;
use super::interceptor::CallCounter;
use super::rate_limit::{Limiter, ROUTE53_REQUESTS_PER_SECOND, RateLimited};
use crate::metrics::Metrics;

/// CloudFront only uses ACM certificates from this region, and its own API
/// (like Route 53's) is served from it.
pub const GLOBAL_REGION: &str = "us-east-1";

/// An object without `spec.region` where awsops runs without a region.
pub const NO_REGION: &str = "no AWS region: set spec.region, or AWS_REGION where awsops runs (the controller's \
                             environment, or your shell for awsops plan and apply)";

/// Most attempts per AWS call, first one included.
const MAX_ATTEMPTS: u32 = 5;

/// How long one attempt of an AWS call may take (connect included), and the
/// whole call with its retries: a response that hangs after connecting fails
/// instead of holding a site's pass or a cluster's lock forever (the SDK
/// sets only a 3.1 s connect timeout by default).
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How long building clients waits for STS to name the controller's own
/// account (once per process; it only picks the Route 53 limit).
const ACCOUNT_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// SDK clients for one (region, role) pair.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub region: String,
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub acm: aws_sdk_acm::Client,
    pub route53: aws_sdk_route53::Client,
    /// The Route 53 limit of the account these clients act in (the
    /// `route53` client's every request waits on it).
    pub route53_limit: Arc<Limiter>,
}

impl AwsClients {
    pub fn rds(&self) -> super::rds::SdkRds {
        super::rds::SdkRds(self.rds.clone())
    }

    pub fn alarms(&self) -> super::cloudwatch::SdkAlarms {
        super::cloudwatch::SdkAlarms(self.cloudwatch.clone())
    }

    pub fn buckets(&self) -> super::s3::SdkBuckets {
        super::s3::SdkBuckets(self.s3.clone())
    }

    pub fn cdn(&self) -> super::cloudfront::SdkCdn {
        super::cloudfront::SdkCdn(self.cloudfront.clone())
    }

    pub fn edge(&self) -> super::edge::SdkEdge {
        super::edge::SdkEdge(self.cloudfront.clone())
    }

    pub fn certificates(&self) -> super::acm::SdkCertificates {
        super::acm::SdkCertificates(self.acm.clone())
    }

    pub fn dns(&self) -> super::route53::SdkDns {
        super::route53::SdkDns(self.route53.clone())
    }
}

/// A role assumed for one object. The session names the object and carries
/// its namespace and name as session tags (`awsops.dev/namespace`,
/// `awsops.dev/name`), so a role's trust policy can say which objects may
/// use it (the controller's policy needs `sts:TagSession`).
#[derive(Clone, Copy, Debug)]
pub struct RoleSession<'a> {
    pub arn: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl RoleSession<'_> {
    /// `awsops-<namespace>-<name>`, in STS's characters and at most its 64.
    pub fn session_name(&self) -> String {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c);
        let mut name: String = format!("awsops-{}-{}", self.namespace, self.name)
            .chars()
            .map(|c| if allowed(c) { c } else { '-' })
            .collect();
        name.truncate(64);
        name
    }
}

/// Region, and the role session's ARN, namespace and name.
type ClientsKey = (String, Option<(String, String, String)>);

/// Hands out (and caches) [`AwsClients`] per region and role session.
pub struct AwsFactory {
    base: SdkConfig,
    counter: CallCounter,
    cache: Mutex<HashMap<ClientsKey, AwsClients>>,
    /// The HTTP client every Route 53 client wraps in its account's limiter.
    http: SharedHttpClient,
    /// One Route 53 rate limit per account: `None` for the controller's own
    /// (and a role's in that account), else a role's account from its ARN.
    route53_limits: Mutex<HashMap<Option<String>, Arc<Limiter>>>,
    /// The account of the controller's own credentials, asked of STS once.
    own_account: tokio::sync::OnceCell<String>,
    /// Tags put on every resource created (`--resource-tags`).
    resource_tags: BTreeMap<String, String>,
}

impl AwsFactory {
    /// Loads the shared configuration from the environment.
    pub async fn from_env(metrics: Arc<Metrics>) -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        Self::from_config(base, metrics)
    }

    pub fn from_config(base: SdkConfig, metrics: Arc<Metrics>) -> Self {
        Self::with_timeouts(base, metrics, ATTEMPT_TIMEOUT, OPERATION_TIMEOUT)
    }

    /// [`AwsFactory::from_config`] with other limits for one attempt and one
    /// whole call (tests of a hung endpoint use seconds).
    pub fn with_timeouts(
        base: SdkConfig,
        metrics: Arc<Metrics>,
        attempt: std::time::Duration,
        operation: std::time::Duration,
    ) -> Self {
        let mut timeouts = base.timeout_config().map(TimeoutConfig::to_builder).unwrap_or_else(TimeoutConfig::builder);
        timeouts.set_operation_attempt_timeout(Some(attempt));
        timeouts.set_operation_timeout(Some(operation));
        let base = base.to_builder().timeout_config(timeouts.build()).build();
        let http = base.http_client().unwrap_or_else(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
                .build_https()
        });
        Self {
            http,
            base,
            counter: CallCounter::new(metrics),
            cache: Mutex::new(HashMap::new()),
            route53_limits: Mutex::new(HashMap::new()),
            own_account: tokio::sync::OnceCell::new(),
            resource_tags: BTreeMap::new(),
        }
    }

    /// This factory with tags for every resource created (cost allocation,
    /// a test run's mark); the owner and uid tags always win.
    pub fn with_resource_tags(self, resource_tags: BTreeMap<String, String>) -> Self {
        Self { resource_tags, ..self }
    }

    pub fn resource_tags(&self) -> &BTreeMap<String, String> {
        &self.resource_tags
    }

    /// The account an object acts in: the one its role ARN names, else the
    /// controller's own (GetCallerIdentity, once).
    pub async fn account(&self, role_arn: Option<&str>) -> Result<String, AwsError> {
        if let Some(account) = role_arn.and_then(|arn| arn.split(':').nth(4)).filter(|a| !a.is_empty()) {
            return Ok(account.to_string());
        }
        let ask = || async {
            let region = self.base.region().cloned().unwrap_or_else(|| Region::new(GLOBAL_REGION));
            let config =
                aws_sdk_sts::config::Builder::from(&self.base).region(region).interceptor(self.counter.clone());
            let sts = aws_sdk_sts::Client::from_conf(config.build());
            let out = sts.get_caller_identity().send().await.map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
            Ok::<_, AwsError>(out.account().unwrap_or_default().to_string())
        };
        self.own_account.get_or_try_init(ask).await.cloned()
    }

    /// The region used when an object does not name one.
    pub fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    /// Clients for `region` (or the default) acting through `role` (or as
    /// the controller's own identity).
    pub async fn clients(&self, region: Option<&str>, role: Option<RoleSession<'_>>) -> Result<AwsClients, String> {
        let region = match region.map(str::to_string).or_else(|| self.default_region()) {
            Some(r) => r,
            None => return Err(NO_REGION.into()),
        };
        let key = (region.clone(), role.map(|r| (r.arn.to_string(), r.namespace.to_string(), r.name.to_string())));
        if let Some(found) = self.cache.lock().map_err(|_| "client cache poisoned")?.get(&key) {
            return Ok(found.clone());
        }
        let credentials = match role {
            Some(role) => Some(SharedCredentialsProvider::new(
                AssumeRoleProvider::builder(role.arn)
                    .session_name(role.session_name())
                    .tags([("awsops.dev/namespace", role.namespace), ("awsops.dev/name", role.name)])
                    .region(Region::new(region.clone()))
                    .configure(&self.base)
                    .build()
                    .await,
            )),
            None => None,
        };
        let role_arn = role.map(|r| r.arn);
        let config_for = |r: &str| {
            let mut builder = self.base.to_builder().region(Region::new(r.to_string()));
            if let Some(c) = &credentials {
                builder.set_credentials_provider(Some(c.clone()));
            }
            builder.build()
        };
        let regional = config_for(&region);
        let global = config_for(GLOBAL_REGION);
        let (account, keep) = self.limit_key(role_arn).await;
        let limiter = self
            .route53_limits
            .lock()
            .map_err(|_| "rate limits poisoned")?
            .entry(account)
            .or_insert_with(|| Limiter::per_second(ROUTE53_REQUESTS_PER_SECOND))
            .clone();
        let clients = self.build(region, &regional, &global, limiter);
        // Clients whose account STS could not confirm are not kept: the next
        // object asks again.
        if keep {
            self.cache.lock().map_err(|_| "client cache poisoned")?.insert(key, clients.clone());
        }
        Ok(clients)
    }

    /// Which Route 53 limit clients acting through `role_arn` share: `None`
    /// for the controller's own identity and for a role of its own account
    /// (asked of STS once), else the role's account. The flag says whether
    /// STS answered (always true without a role: no question asked).
    async fn limit_key(&self, role_arn: Option<&str>) -> (Option<String>, bool) {
        let Some(role_account) = role_arn.and_then(|arn| arn.split(':').nth(4)).filter(|a| !a.is_empty()) else {
            return (None, true);
        };
        match tokio::time::timeout(ACCOUNT_LOOKUP_TIMEOUT, self.account(None)).await {
            Ok(Ok(own)) if own == role_account => (None, true),
            Ok(Ok(_)) => (Some(role_account.to_string()), true),
            _ => (Some(role_account.to_string()), false),
        }
    }

    fn build(&self, region: String, regional: &SdkConfig, global: &SdkConfig, dns_limit: Arc<Limiter>) -> AwsClients {
        let counter = || self.counter.clone();
        // Emulators serve every bucket from one host: use path-style addressing there.
        let path_style = regional.endpoint_url().is_some();
        AwsClients {
            region,
            rds: aws_sdk_rds::Client::from_conf(
                aws_sdk_rds::config::Builder::from(regional).interceptor(counter()).build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(regional).interceptor(counter()).build(),
            ),
            // Uploads carry a checksum of their own (Content-MD5 or a
            // SHA-256), which S3 checks; the SDK's default CRC32 would send a
            // file body as aws-chunked with a trailer, which S3-compatible
            // servers (s3s, older MinIO, Ceph) refuse.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(regional)
                    .force_path_style(path_style)
                    .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                    .interceptor(counter())
                    .build(),
            ),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(
                aws_sdk_cloudfront::config::Builder::from(global).interceptor(counter()).build(),
            ),
            acm: aws_sdk_acm::Client::from_conf(
                aws_sdk_acm::config::Builder::from(global).interceptor(counter()).build(),
            ),
            route53: aws_sdk_route53::Client::from_conf(
                aws_sdk_route53::config::Builder::from(global)
                    .http_client(RateLimited::new(self.http.clone(), dns_limit.clone()))
                    .interceptor(counter())
                    .build(),
            ),
            route53_limit: dns_limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_controllers_own_identity_and_a_role_of_its_account_share_one_route53_limit() {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new("k", "s", None, None, "test"))
            .load()
            .await;
        let factory = AwsFactory::from_config(base, Arc::new(Metrics::default()));
        factory.own_account.set("111111111111".to_string()).expect("own account");
        let role = |arn| Some(RoleSession { arn, namespace: "web", name: "site" });
        let own = factory.clients(None, None).await.expect("own clients");
        let same = factory.clients(None, role("arn:aws:iam::111111111111:role/web")).await.expect("role");
        let other = factory.clients(None, role("arn:aws:iam::222222222222:role/web")).await.expect("other role");
        assert!(Arc::ptr_eq(&own.route53_limit, &same.route53_limit), "one account, one limit");
        assert!(!Arc::ptr_eq(&own.route53_limit, &other.route53_limit), "another account has its own");
    }

    #[test]
    fn a_role_session_is_named_after_its_object_within_the_limits_of_sts() {
        let session = RoleSession { arn: "arn:aws:iam::1:role/r", namespace: "web", name: "marketing.site" };
        assert_eq!(session.session_name(), "awsops-web-marketing.site");
        let long = RoleSession { name: &"n".repeat(80), ..session };
        assert_eq!(long.session_name().len(), 64);
        assert!(long.session_name().starts_with("awsops-web-nnn"));
    }
}
