//! What a site's routing and headers need from CloudFront: functions (code
//! in a DEVELOPMENT stage, published to LIVE, which is what distributions
//! run) and response headers policies. Both are account-wide and few, and
//! awsops names them by a hash of their content, so removing one that a
//! distribution still uses is answered [`Release::InUse`], not an error.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::primitives::Blob;
use aws_sdk_cloudfront::types::{
    FrameOptionsList, FunctionConfig, FunctionRuntime, FunctionStage, ReferrerPolicyList, ResponseHeadersPolicyConfig,
    ResponseHeadersPolicyContentSecurityPolicy, ResponseHeadersPolicyContentTypeOptions,
    ResponseHeadersPolicyFrameOptions, ResponseHeadersPolicyReferrerPolicy, ResponseHeadersPolicySecurityHeadersConfig,
    ResponseHeadersPolicyStrictTransportSecurity, ResponseHeadersPolicyType, ResponseHeadersPolicyXssProtection,
};

use super::cloudfront::{ETAG_RETRIES, build_err, next_page};
use super::{AwsError, AwsErrorKind, CreateOutcome};

/// A function's LIVE stage: what distributions run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveFunction {
    pub arn: String,
    pub code: Vec<u8>,
}

/// A response headers policy's settings, normalised for comparison: each
/// security header by name with the value browsers receive (always set
/// with override).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadersPolicyConfig {
    pub name: String,
    pub comment: String,
    pub security: BTreeMap<String, String>,
    /// Read back only: the policy sets something else too (CORS, custom or
    /// removed headers, Server-Timing, a header without override).
    pub other: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadersPolicy {
    pub id: String,
    pub config: HeadersPolicyConfig,
}

/// What removing a shared resource came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Deleted, or gone already.
    Deleted,
    /// A distribution still uses it (another site with the same rules): kept.
    InUse,
}

#[async_trait]
pub trait Edge: Send + Sync {
    /// The function's LIVE stage; `None` when it does not exist or was never published.
    async fn live_function(&self, name: &str) -> Result<Option<LiveFunction>, AwsError>;
    /// Puts `code` in the function's DEVELOPMENT stage (creating the
    /// function if needed) and publishes it to LIVE; returns its ARN.
    async fn publish_function(&self, name: &str, comment: &str, code: &str) -> Result<String, AwsError>;
    async fn delete_function(&self, name: &str) -> Result<Release, AwsError>;
    async fn policy(&self, id: &str) -> Result<Option<HeadersPolicy>, AwsError>;
    /// The custom policy of this name (names are unique in an account).
    async fn find_policy(&self, name: &str) -> Result<Option<HeadersPolicy>, AwsError>;
    /// `AlreadyExists` when a policy of that name exists.
    async fn create_policy(&self, config: &HeadersPolicyConfig) -> Result<CreateOutcome<String>, AwsError>;
    async fn update_policy(&self, id: &str, config: &HeadersPolicyConfig) -> Result<(), AwsError>;
    async fn delete_policy(&self, id: &str) -> Result<Release, AwsError>;
}

pub struct SdkEdge(pub aws_sdk_cloudfront::Client);

fn arn_of(summary: Option<&aws_sdk_cloudfront::types::FunctionSummary>) -> String {
    summary.and_then(|s| s.function_metadata()).map(|m| m.function_arn().to_string()).unwrap_or_default()
}

/// Deleted, gone, or kept because a distribution uses it.
fn released(result: Result<(), AwsError>) -> Result<Release, AwsError> {
    match result {
        Ok(()) => Ok(Release::Deleted),
        Err(e) if e.code == "FunctionInUse" || e.code == "ResponseHeadersPolicyInUse" => Ok(Release::InUse),
        Err(e) => e.absent_as(Release::Deleted),
    }
}

impl SdkEdge {
    /// The DEVELOPMENT stage's ETag and the function's ARN.
    async fn development(&self, name: &str) -> Result<Option<(String, String)>, AwsError> {
        match self.0.describe_function().name(name).stage(FunctionStage::Development).send().await {
            Ok(out) => Ok(Some((out.e_tag().unwrap_or_default().to_string(), arn_of(out.function_summary())))),
            Err(e) => AwsError::from_sdk("DescribeFunction", e).absent_as(None),
        }
    }

    fn config(comment: &str) -> Result<FunctionConfig, AwsError> {
        FunctionConfig::builder()
            .comment(comment)
            .runtime(FunctionRuntime::CloudfrontJs20)
            .build()
            .map_err(|e| build_err("CreateFunction", e))
    }

    /// The DEVELOPMENT stage holding `code`: its ETag and the ARN.
    async fn develop(&self, name: &str, comment: &str, code: &str) -> Result<(String, String), AwsError> {
        let blob = || Blob::new(code.as_bytes().to_vec());
        if let Some((etag, arn)) = self.development(name).await? {
            let out = self
                .0
                .update_function()
                .name(name)
                .if_match(etag)
                .function_config(Self::config(comment)?)
                .function_code(blob())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UpdateFunction", e))?;
            return Ok((out.e_tag().unwrap_or_default().to_string(), arn));
        }
        let created = self
            .0
            .create_function()
            .name(name)
            .function_config(Self::config(comment)?)
            .function_code(blob())
            .send()
            .await;
        // FunctionAlreadyExists (created meanwhile by a site with the same
        // routing) is retried by `publish_function`, which then updates it.
        let out = created.map_err(|e| AwsError::from_sdk("CreateFunction", e))?;
        Ok((out.e_tag().unwrap_or_default().to_string(), arn_of(out.function_summary())))
    }

    async fn policy_etag(&self, id: &str) -> Result<Option<String>, AwsError> {
        match self.0.get_response_headers_policy().id(id).send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => AwsError::from_sdk("GetResponseHeadersPolicy", e).absent_as(None),
        }
    }
}

#[async_trait]
impl Edge for SdkEdge {
    async fn live_function(&self, name: &str) -> Result<Option<LiveFunction>, AwsError> {
        let described = match self.0.describe_function().name(name).stage(FunctionStage::Live).send().await {
            Ok(out) => out,
            Err(e) => return AwsError::from_sdk("DescribeFunction", e).absent_as(None),
        };
        let arn = arn_of(described.function_summary());
        match self.0.get_function().name(name).stage(FunctionStage::Live).send().await {
            Ok(out) => Ok(Some(LiveFunction {
                arn,
                code: out.function_code().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
            })),
            Err(e) => AwsError::from_sdk("GetFunction", e).absent_as(None),
        }
    }

    async fn publish_function(&self, name: &str, comment: &str, code: &str) -> Result<String, AwsError> {
        let mut last = None;
        for _ in 0..ETAG_RETRIES {
            let (etag, arn) = match self.develop(name, comment, code).await {
                Ok(found) => found,
                Err(e) if e.code == "PreconditionFailed" || e.code == "FunctionAlreadyExists" => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match self.0.publish_function().name(name).if_match(etag).send().await {
                Ok(_) => return Ok(arn),
                Err(e) => match AwsError::from_sdk("PublishFunction", e) {
                    e if e.code == "PreconditionFailed" => last = Some(e),
                    e => return Err(e),
                },
            }
        }
        Err(last.unwrap_or_else(|| build_err("PublishFunction", "ETag retries exhausted")))
    }

    async fn delete_function(&self, name: &str) -> Result<Release, AwsError> {
        let Some((etag, _)) = self.development(name).await? else { return Ok(Release::Deleted) };
        let deleted = self.0.delete_function().name(name).if_match(etag).send().await;
        released(deleted.map(|_| ()).map_err(|e| AwsError::from_sdk("DeleteFunction", e)))
    }

    async fn policy(&self, id: &str) -> Result<Option<HeadersPolicy>, AwsError> {
        match self.0.get_response_headers_policy().id(id).send().await {
            Ok(out) => Ok(out.response_headers_policy().map(|p| HeadersPolicy {
                id: p.id().to_string(),
                config: p.response_headers_policy_config().map(read).unwrap_or_default(),
            })),
            Err(e) => AwsError::from_sdk("GetResponseHeadersPolicy", e).absent_as(None),
        }
    }

    async fn find_policy(&self, name: &str) -> Result<Option<HeadersPolicy>, AwsError> {
        let mut marker: Option<String> = None;
        loop {
            let given = marker.take().unwrap_or_default();
            let out = self
                .0
                .list_response_headers_policies()
                .r#type(ResponseHeadersPolicyType::Custom)
                .set_marker(Some(given.clone()).filter(|m| !m.is_empty()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListResponseHeadersPolicies", e))?;
            let Some(list) = out.response_headers_policy_list() else { return Ok(None) };
            for summary in list.items() {
                if let Some(p) = summary.response_headers_policy()
                    && let Some(config) = p.response_headers_policy_config()
                    && config.name() == name
                {
                    return Ok(Some(HeadersPolicy { id: p.id().to_string(), config: read(config) }));
                }
            }
            // A server repeating the marker it was given would loop forever: an error instead.
            match next_page("ListResponseHeadersPolicies", list.next_marker().filter(|m| !m.is_empty()), true, &given)?
            {
                Some(next) => marker = Some(next),
                None => return Ok(None),
            }
        }
    }

    async fn create_policy(&self, config: &HeadersPolicyConfig) -> Result<CreateOutcome<String>, AwsError> {
        let built = write(config)?;
        match self.0.create_response_headers_policy().response_headers_policy_config(built).send().await {
            Ok(out) => Ok(CreateOutcome::Created(
                out.response_headers_policy().map(|p| p.id().to_string()).unwrap_or_default(),
            )),
            Err(e) => match AwsError::from_sdk("CreateResponseHeadersPolicy", e) {
                e if e.code == "ResponseHeadersPolicyAlreadyExists" => Ok(CreateOutcome::AlreadyExists),
                e => Err(e),
            },
        }
    }

    async fn update_policy(&self, id: &str, config: &HeadersPolicyConfig) -> Result<(), AwsError> {
        let mut last = None;
        for _ in 0..ETAG_RETRIES {
            let Some(etag) = self.policy_etag(id).await? else {
                return Err(AwsError::new(
                    AwsErrorKind::NotFound,
                    "UpdateResponseHeadersPolicy",
                    "NoSuchResponseHeadersPolicy",
                    id,
                ));
            };
            let sent = self
                .0
                .update_response_headers_policy()
                .id(id)
                .if_match(etag)
                .response_headers_policy_config(write(config)?)
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e) => match AwsError::from_sdk("UpdateResponseHeadersPolicy", e) {
                    e if e.code == "PreconditionFailed" => last = Some(e),
                    e => return Err(e),
                },
            }
        }
        Err(last.unwrap_or_else(|| build_err("UpdateResponseHeadersPolicy", "ETag retries exhausted")))
    }

    async fn delete_policy(&self, id: &str) -> Result<Release, AwsError> {
        let Some(etag) = self.policy_etag(id).await? else { return Ok(Release::Deleted) };
        let deleted = self.0.delete_response_headers_policy().id(id).if_match(etag).send().await;
        released(deleted.map(|_| ()).map_err(|e| AwsError::from_sdk("DeleteResponseHeadersPolicy", e)))
    }
}

/// The SDK's policy config for the normalised one: each header awsops sets,
/// with override (a browser gets awsops' value whatever S3 stored).
fn write(c: &HeadersPolicyConfig) -> Result<ResponseHeadersPolicyConfig, AwsError> {
    const OP: &str = "ResponseHeadersPolicy";
    let err = |e| build_err(OP, e);
    let mut security = ResponseHeadersPolicySecurityHeadersConfig::builder();
    for (header, value) in &c.security {
        security = match header.as_str() {
            "Strict-Transport-Security" => {
                let parts: Vec<&str> = value.split(';').map(str::trim).collect();
                let max_age = parts
                    .iter()
                    .find_map(|p| p.strip_prefix("max-age="))
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| build_err(OP, format!("no max-age in {value:?}")))?;
                security.strict_transport_security(
                    ResponseHeadersPolicyStrictTransportSecurity::builder()
                        .r#override(true)
                        .access_control_max_age_sec(max_age)
                        .include_subdomains(parts.contains(&"includeSubDomains"))
                        .preload(parts.contains(&"preload"))
                        .build()
                        .map_err(err)?,
                )
            }
            "X-Content-Type-Options" => security.content_type_options(
                ResponseHeadersPolicyContentTypeOptions::builder().r#override(true).build().map_err(err)?,
            ),
            "X-Frame-Options" => security.frame_options(
                ResponseHeadersPolicyFrameOptions::builder()
                    .r#override(true)
                    .frame_option(FrameOptionsList::from(value.as_str()))
                    .build()
                    .map_err(err)?,
            ),
            "Referrer-Policy" => security.referrer_policy(
                ResponseHeadersPolicyReferrerPolicy::builder()
                    .r#override(true)
                    .referrer_policy(ReferrerPolicyList::from(value.as_str()))
                    .build()
                    .map_err(err)?,
            ),
            "X-XSS-Protection" => security.xss_protection(
                ResponseHeadersPolicyXssProtection::builder()
                    .r#override(true)
                    .protection(value.starts_with('1'))
                    .set_mode_block(value.contains("mode=block").then_some(true))
                    .build()
                    .map_err(err)?,
            ),
            "Content-Security-Policy" => security.content_security_policy(
                ResponseHeadersPolicyContentSecurityPolicy::builder()
                    .r#override(true)
                    .content_security_policy(value)
                    .build()
                    .map_err(err)?,
            ),
            other => return Err(build_err(OP, format!("no security header {other}"))),
        };
    }
    ResponseHeadersPolicyConfig::builder()
        .name(&c.name)
        .comment(&c.comment)
        .security_headers_config(security.build())
        .build()
        .map_err(err)
}

/// The normalised config of a policy as CloudFront returns it.
fn read(c: &ResponseHeadersPolicyConfig) -> HeadersPolicyConfig {
    let mut security = BTreeMap::new();
    let mut other = c.cors_config().is_some()
        || c.custom_headers_config().is_some_and(|h| !h.items().is_empty())
        || c.remove_headers_config().is_some_and(|h| !h.items().is_empty())
        || c.server_timing_headers_config().is_some_and(|s| s.enabled());
    let mut put = |name: &str, overrides: bool, value: String| {
        other |= !overrides;
        security.insert(name.to_string(), value);
    };
    if let Some(s) = c.security_headers_config() {
        if let Some(h) = s.strict_transport_security() {
            let mut value = format!("max-age={}", h.access_control_max_age_sec());
            if h.include_subdomains().unwrap_or(false) {
                value.push_str("; includeSubDomains");
            }
            if h.preload().unwrap_or(false) {
                value.push_str("; preload");
            }
            put("Strict-Transport-Security", h.r#override(), value);
        }
        if let Some(h) = s.content_type_options() {
            put("X-Content-Type-Options", h.r#override(), "nosniff".into());
        }
        if let Some(h) = s.frame_options() {
            put("X-Frame-Options", h.r#override(), h.frame_option().as_str().to_string());
        }
        if let Some(h) = s.referrer_policy() {
            put("Referrer-Policy", h.r#override(), h.referrer_policy().as_str().to_string());
        }
        if let Some(h) = s.xss_protection() {
            let value = match (h.protection(), h.mode_block().unwrap_or(false)) {
                (false, _) => "0".to_string(),
                (true, true) => "1; mode=block".to_string(),
                (true, false) => "1".to_string(),
            };
            put("X-XSS-Protection", h.r#override(), value);
        }
        if let Some(h) = s.content_security_policy() {
            put("Content-Security-Policy", h.r#override(), h.content_security_policy().to_string());
        }
    }
    HeadersPolicyConfig {
        name: c.name().to_string(),
        comment: c.comment().unwrap_or_default().to_string(),
        security,
        other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_config_reads_back_as_it_was_written() {
        let security: BTreeMap<String, String> = [
            ("Content-Security-Policy", "default-src 'self'"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("Strict-Transport-Security", "max-age=31536000"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-XSS-Protection", "1; mode=block"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = HeadersPolicyConfig { name: "n".into(), comment: "c".into(), security, other: false };
        assert_eq!(read(&write(&config).expect("written")), config);
    }

    #[test]
    fn a_header_without_override_or_extra_settings_read_back_as_other() {
        let mut config = HeadersPolicyConfig { name: "n".into(), ..Default::default() };
        config.security.insert("X-Content-Type-Options".into(), "nosniff".into());
        let mut sdk = write(&config).expect("written");
        let weak = ResponseHeadersPolicyContentTypeOptions::builder().r#override(false).build().expect("built");
        sdk.security_headers_config =
            Some(ResponseHeadersPolicySecurityHeadersConfig::builder().content_type_options(weak).build());
        assert!(read(&sdk).other);
    }
}
