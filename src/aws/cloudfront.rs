//! What the StaticSite reconciler needs from CloudFront: Origin Access
//! Control, the distribution (created with its final settings, updated by
//! read-modify-write with the current ETag), invalidations.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, CustomErrorResponse, CustomErrorResponses, DefaultCacheBehavior,
    DistributionConfig, DistributionSummary, EventType, FunctionAssociation, FunctionAssociations, HttpVersion, Method,
    MinimumProtocolVersion, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins, Paths, PriceClass,
    S3OriginConfig, SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};

use super::{AwsError, AwsErrorKind, CreateOutcome};

/// The managed "CachingOptimized" cache policy.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// CloudFront's hosted zone for alias records.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";
pub const DEPLOYED: &str = "Deployed";

aws_state! {
    /// A distribution's deployment state: `InProgress` after every change, for
    /// minutes, then `Deployed`.
    DistributionState {
        InProgress = "InProgress",
        Deployed = DEPLOYED,
    }
}

/// CloudFront refused an alias that another distribution (in any account) holds.
impl AwsError {
    pub fn is_alias_in_use(&self) -> bool {
        self.code == "CNAMEAlreadyExists"
    }
}
/// Read-modify-write attempts against a changing ETag (distributions, functions, policies).
pub(super) const ETAG_RETRIES: usize = 3;
/// How long CloudFront caches an error response before asking S3 again.
const ERROR_CACHING_SECONDS: i64 = 10;

/// The settings a site owns on its distribution, normalised for comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistributionSettings {
    pub origin_id: String,
    pub origin_domain: String,
    /// `None` when CloudFront did not return it (some emulators do not).
    pub oac_id: Option<String>,
    pub enabled: bool,
    pub price_class: String,
    pub comment: String,
    pub default_root_object: String,
    /// Sorted.
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    pub ssl_support_method: Option<String>,
    pub minimum_protocol_version: Option<String>,
    pub viewer_protocol_policy: String,
    pub compress: bool,
    pub cache_policy_id: String,
    pub ipv6: bool,
    /// The function run on viewer requests (routing), by ARN.
    pub viewer_request_function: Option<String>,
    pub response_headers_policy_id: Option<String>,
    /// The 403 and 404 custom error responses, by code.
    pub error_pages: Vec<ErrorPage>,
}

/// A custom error response for 403 or 404 (the ones a site owns).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ErrorPage {
    pub code: i32,
    /// `/` and the key.
    pub page: String,
    pub response_code: String,
}

impl ErrorPage {
    /// `key` served with status 404 for `code`.
    pub fn new(code: i32, key: &str) -> Self {
        Self { code, page: format!("/{key}"), response_code: "404".into() }
    }

    fn owned(code: i32) -> bool {
        code == 403 || code == 404
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionView {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub status: DistributionState,
    pub settings: DistributionSettings,
    /// The CallerReference it was created with (a site's uid, for awsops).
    pub caller_reference: String,
}

#[async_trait]
pub trait Cdn: Send + Sync {
    /// Every origin access control of the account: (id, name).
    async fn oacs(&self) -> Result<Vec<(String, String)>, AwsError>;
    /// How many distributions sign with each OAC id.
    async fn oac_users(&self) -> Result<BTreeMap<String, usize>, AwsError>;
    async fn find_oac(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// The name of the OAC with this id, `None` when it does not exist (one
    /// read, unlike [`Cdn::find_oac`]).
    async fn oac_name(&self, id: &str) -> Result<Option<String>, AwsError>;
    /// `Exists` when an OAC of this name exists (OAC names are unique in an account).
    async fn create_oac(&self, name: &str) -> Result<CreateOutcome<String>, AwsError>;
    /// Deletes the OAC; "already gone" is success.
    async fn delete_oac(&self, id: &str) -> Result<(), AwsError>;
    async fn get(&self, id: &str) -> Result<Option<DistributionView>, AwsError>;
    /// Every distribution with `origin_domain` as an origin (to find one
    /// created by a request whose response was lost).
    async fn find_by_origin(&self, origin_domain: &str) -> Result<Vec<String>, AwsError>;
    /// `Exists` when a distribution with this caller reference exists.
    async fn create(
        &self,
        caller_reference: &str,
        settings: &DistributionSettings,
        tags: &BTreeMap<String, String>,
    ) -> Result<CreateOutcome<DistributionView>, AwsError>;
    /// Read-modify-write of the full config with the current ETag, retried on
    /// `PreconditionFailed`; settings the site does not own are kept.
    async fn update(&self, id: &str, settings: &DistributionSettings) -> Result<DistributionView, AwsError>;
    /// Deletes a disabled, deployed distribution; "already gone" is success.
    async fn delete(&self, id: &str) -> Result<(), AwsError>;
    async fn invalidate(&self, id: &str, paths: &[String], caller_reference: &str) -> Result<String, AwsError>;
}

pub struct SdkCdn(pub aws_sdk_cloudfront::Client);

/// The marker of the next page; an API that hands back the marker it was
/// given would loop forever, so that is an error instead.
pub(super) fn next_page(
    op: &'static str,
    next: Option<&str>,
    truncated: bool,
    given: &str,
) -> Result<Option<String>, AwsError> {
    match next {
        Some(next) if truncated && next == given => Err(AwsError::new(
            AwsErrorKind::Retryable,
            op,
            "",
            format!("the next page marker {next:?} repeats the current one"),
        )),
        Some(next) if truncated => Ok(Some(next.to_string())),
        _ => Ok(None),
    }
}

pub(super) fn build_err(op: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(AwsErrorKind::Terminal, op, "", e.to_string())
}

/// Writes `s` into `config` (a fresh one, or the current one for updates).
fn apply(
    mut config: aws_sdk_cloudfront::types::builders::DistributionConfigBuilder,
    s: &DistributionSettings,
    current: Option<&DistributionConfig>,
    op: &'static str,
) -> Result<DistributionConfig, AwsError> {
    let origin = Origin::builder()
        .id(&s.origin_id)
        .domain_name(&s.origin_domain)
        .origin_access_control_id(s.oac_id.clone().unwrap_or_default())
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .map_err(|e| build_err(op, e))?;
    let get_head = || vec![Method::Get, Method::Head];
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(&s.origin_id)
        .viewer_protocol_policy(ViewerProtocolPolicy::from(s.viewer_protocol_policy.as_str()))
        .compress(s.compress)
        .cache_policy_id(&s.cache_policy_id)
        .set_response_headers_policy_id(s.response_headers_policy_id.clone())
        .function_associations(function_associations(s.viewer_request_function.as_deref(), current, op)?)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(2)
                .set_items(Some(get_head()))
                .cached_methods(
                    CachedMethods::builder()
                        .quantity(2)
                        .set_items(Some(get_head()))
                        .build()
                        .map_err(|e| build_err(op, e))?,
                )
                .build()
                .map_err(|e| build_err(op, e))?,
        )
        .build()
        .map_err(|e| build_err(op, e))?;
    let certificate = match &s.certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .cloud_front_default_certificate(false)
            .ssl_support_method(SslSupportMethod::from(s.ssl_support_method.as_deref().unwrap_or("sni-only")))
            .minimum_protocol_version(MinimumProtocolVersion::from(
                s.minimum_protocol_version.as_deref().unwrap_or("TLSv1.2_2021"),
            ))
            .build(),
        None => ViewerCertificate::builder().cloud_front_default_certificate(true).build(),
    };
    config = config
        .origins(Origins::builder().quantity(1).items(origin).build().map_err(|e| build_err(op, e))?)
        .default_cache_behavior(behavior)
        .enabled(s.enabled)
        .price_class(PriceClass::from(s.price_class.as_str()))
        .comment(&s.comment)
        .default_root_object(&s.default_root_object)
        .aliases(
            Aliases::builder()
                .quantity(s.aliases.len() as i32)
                .set_items(Some(s.aliases.clone()))
                .build()
                .map_err(|e| build_err(op, e))?,
        )
        .viewer_certificate(certificate)
        .is_ipv6_enabled(s.ipv6)
        .http_version(HttpVersion::Http2and3)
        .custom_error_responses(error_responses(&s.error_pages, current, op)?);
    config.build().map_err(|e| build_err(op, e))
}

/// `arn` on viewer requests, and whatever `current` runs on other events.
fn function_associations(
    arn: Option<&str>,
    current: Option<&DistributionConfig>,
    op: &'static str,
) -> Result<FunctionAssociations, AwsError> {
    let kept = current
        .and_then(|c| c.default_cache_behavior())
        .and_then(|b| b.function_associations())
        .map(|f| f.items())
        .unwrap_or_default();
    let mut items: Vec<FunctionAssociation> =
        kept.iter().filter(|a| a.event_type() != &EventType::ViewerRequest).cloned().collect();
    if let Some(arn) = arn {
        items.push(
            FunctionAssociation::builder()
                .function_arn(arn)
                .event_type(EventType::ViewerRequest)
                .build()
                .map_err(|e| build_err(op, e))?,
        );
    }
    FunctionAssociations::builder()
        .quantity(items.len() as i32)
        .set_items(Some(items))
        .build()
        .map_err(|e| build_err(op, e))
}

/// `pages` for 403 and 404, and whatever `current` has for other codes.
fn error_responses(
    pages: &[ErrorPage],
    current: Option<&DistributionConfig>,
    op: &'static str,
) -> Result<CustomErrorResponses, AwsError> {
    let kept = current.and_then(|c| c.custom_error_responses()).map(|r| r.items()).unwrap_or_default();
    let mut items: Vec<CustomErrorResponse> =
        kept.iter().filter(|r| !ErrorPage::owned(r.error_code())).cloned().collect();
    for p in pages {
        items.push(
            CustomErrorResponse::builder()
                .error_code(p.code)
                .response_page_path(&p.page)
                .response_code(&p.response_code)
                .error_caching_min_ttl(ERROR_CACHING_SECONDS)
                .build()
                .map_err(|e| build_err(op, e))?,
        );
    }
    CustomErrorResponses::builder()
        .quantity(items.len() as i32)
        .set_items(Some(items))
        .build()
        .map_err(|e| build_err(op, e))
}

/// A builder holding every field of `current` the site does not own, so an
/// update never drops what someone else configured.
fn preserve(current: &DistributionConfig) -> aws_sdk_cloudfront::types::builders::DistributionConfigBuilder {
    DistributionConfig::builder()
        .caller_reference(current.caller_reference())
        .set_origin_groups(current.origin_groups().cloned())
        .set_cache_behaviors(current.cache_behaviors().cloned())
        .set_logging(current.logging().cloned())
        .set_restrictions(current.restrictions().cloned())
        .set_web_acl_id(current.web_acl_id().map(str::to_string))
        .set_continuous_deployment_policy_id(current.continuous_deployment_policy_id().map(str::to_string))
        .set_staging(current.staging())
}

/// Reads the owned settings back from a config, normalised.
fn read(config: &DistributionConfig) -> DistributionSettings {
    let origin = config.origins().and_then(|o| o.items().first());
    let behavior = config.default_cache_behavior();
    let cert = config.viewer_certificate();
    let acm = cert.and_then(|c| c.acm_certificate_arn()).filter(|a| !a.is_empty()).map(str::to_string);
    let mut aliases: Vec<String> = config.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
    aliases.sort();
    DistributionSettings {
        origin_id: origin.map(|o| o.id().to_string()).unwrap_or_default(),
        origin_domain: origin.map(|o| o.domain_name().to_string()).unwrap_or_default(),
        oac_id: origin.and_then(|o| o.origin_access_control_id()).filter(|s| !s.is_empty()).map(str::to_string),
        enabled: config.enabled(),
        price_class: config.price_class().map(|p| p.as_str().to_string()).unwrap_or_default(),
        comment: config.comment().to_string(),
        default_root_object: config.default_root_object().unwrap_or_default().to_string(),
        aliases,
        ssl_support_method: acm.as_ref().and(cert.and_then(|c| c.ssl_support_method()).map(|m| m.as_str().to_string())),
        minimum_protocol_version: acm
            .as_ref()
            .and(cert.and_then(|c| c.minimum_protocol_version()).map(|m| m.as_str().to_string())),
        certificate_arn: acm,
        viewer_protocol_policy: behavior.map(|b| b.viewer_protocol_policy().as_str().to_string()).unwrap_or_default(),
        compress: behavior.and_then(|b| b.compress()).unwrap_or(false),
        cache_policy_id: behavior.and_then(|b| b.cache_policy_id()).unwrap_or_default().to_string(),
        ipv6: config.is_ipv6_enabled().unwrap_or(false),
        viewer_request_function: behavior
            .and_then(|b| b.function_associations())
            .and_then(|f| f.items().iter().find(|a| a.event_type() == &EventType::ViewerRequest))
            .map(|a| a.function_arn().to_string()),
        response_headers_policy_id: behavior
            .and_then(|b| b.response_headers_policy_id())
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        error_pages: error_pages(config),
    }
}

fn error_pages(config: &DistributionConfig) -> Vec<ErrorPage> {
    let items = config.custom_error_responses().map(|r| r.items()).unwrap_or_default();
    let mut pages: Vec<ErrorPage> = items
        .iter()
        .filter(|r| ErrorPage::owned(r.error_code()))
        .map(|r| ErrorPage {
            code: r.error_code(),
            page: r.response_page_path().unwrap_or_default().to_string(),
            response_code: r.response_code().unwrap_or_default().to_string(),
        })
        .collect();
    pages.sort();
    pages
}

impl SdkCdn {
    async fn config(&self, id: &str) -> Result<Option<(DistributionConfig, String)>, AwsError> {
        match self.0.get_distribution_config().id(id).send().await {
            Ok(out) => Ok(out.distribution_config().cloned().map(|c| (c, out.e_tag().unwrap_or_default().to_string()))),
            Err(e) => AwsError::from_sdk("GetDistributionConfig", e).absent_as(None),
        }
    }
}

fn view(d: &aws_sdk_cloudfront::types::Distribution) -> DistributionView {
    DistributionView {
        id: d.id().to_string(),
        arn: d.arn().to_string(),
        domain_name: d.domain_name().to_string(),
        status: d.status().into(),
        settings: d.distribution_config().map(read).unwrap_or_default(),
        caller_reference: d.distribution_config().map(|c| c.caller_reference().to_string()).unwrap_or_default(),
    }
}

impl SdkCdn {
    /// Every distribution of the account, as ListDistributions summarises it.
    async fn summaries(&self) -> Result<Vec<DistributionSummary>, AwsError> {
        let (mut marker, mut found): (Option<String>, Vec<DistributionSummary>) = (None, Vec::new());
        loop {
            let out = self
                .0
                .list_distributions()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListDistributions", e))?;
            let Some(list) = out.distribution_list() else { return Ok(found) };
            found.extend(list.items().iter().cloned());
            match next_page("ListDistributions", list.next_marker(), list.is_truncated(), list.marker())? {
                Some(next) => marker = Some(next),
                None => return Ok(found),
            }
        }
    }
}

#[async_trait]
impl Cdn for SdkCdn {
    async fn oacs(&self) -> Result<Vec<(String, String)>, AwsError> {
        let (mut marker, mut found): (Option<String>, Vec<(String, String)>) = (None, Vec::new());
        loop {
            let out = self
                .0
                .list_origin_access_controls()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListOriginAccessControls", e))?;
            let Some(list) = out.origin_access_control_list() else { return Ok(found) };
            found.extend(list.items().iter().map(|o| (o.id().to_string(), o.name().to_string())));
            match next_page("ListOriginAccessControls", list.next_marker(), list.is_truncated(), list.marker())? {
                Some(next) => marker = Some(next),
                None => return Ok(found),
            }
        }
    }

    async fn oac_users(&self) -> Result<BTreeMap<String, usize>, AwsError> {
        let mut users = BTreeMap::new();
        for d in self.summaries().await? {
            let oacs = d.origins().map(|o| o.items()).unwrap_or_default().iter();
            for oac in oacs.filter_map(|o| o.origin_access_control_id()).filter(|id| !id.is_empty()) {
                *users.entry(oac.to_string()).or_insert(0) += 1;
            }
        }
        Ok(users)
    }

    async fn find_oac(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.oacs().await?.into_iter().find(|(_, n)| n == name).map(|(id, _)| id))
    }
    async fn oac_name(&self, id: &str) -> Result<Option<String>, AwsError> {
        match self.0.get_origin_access_control().id(id).send().await {
            Ok(out) => Ok(Some(
                out.origin_access_control()
                    .and_then(|o| o.origin_access_control_config())
                    .map(|c| c.name().to_string())
                    .unwrap_or_default(),
            )),
            Err(e) => AwsError::from_sdk("GetOriginAccessControl", e).absent_as(None),
        }
    }

    async fn create_oac(&self, name: &str) -> Result<CreateOutcome<String>, AwsError> {
        let config = OriginAccessControlConfig::builder()
            .name(name)
            .description("awsops: CloudFront reads the site's private bucket")
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .map_err(|e| build_err("CreateOriginAccessControl", e))?;
        // Retried by the SDK like any call: OAC names are unique in an account,
        // so a retry after a lost response gets OriginAccessControlAlreadyExists.
        match self.0.create_origin_access_control().origin_access_control_config(config).send().await {
            Ok(out) => {
                Ok(CreateOutcome::Created(out.origin_access_control().map(|o| o.id().to_string()).unwrap_or_default()))
            }
            Err(e) => match AwsError::from_sdk("CreateOriginAccessControl", e) {
                e if e.code == "OriginAccessControlAlreadyExists" => Ok(CreateOutcome::AlreadyExists),
                e => Err(e),
            },
        }
    }

    async fn delete_oac(&self, id: &str) -> Result<(), AwsError> {
        let etag = match self.0.get_origin_access_control().id(id).send().await {
            Ok(out) => out.e_tag().unwrap_or_default().to_string(),
            Err(e) => {
                return AwsError::from_sdk("GetOriginAccessControl", e).absent_as(());
            }
        };
        match self.0.delete_origin_access_control().id(id).if_match(etag).send().await {
            Ok(_) => Ok(()),
            Err(e) => AwsError::from_sdk("DeleteOriginAccessControl", e).absent_as(()),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<DistributionView>, AwsError> {
        match self.0.get_distribution().id(id).send().await {
            Ok(out) => Ok(out.distribution().map(view)),
            Err(e) => AwsError::from_sdk("GetDistribution", e).absent_as(None),
        }
    }

    async fn find_by_origin(&self, origin_domain: &str) -> Result<Vec<String>, AwsError> {
        let with_origin = |d: &DistributionSummary| {
            d.origins().is_some_and(|o| o.items().iter().any(|o| o.domain_name() == origin_domain))
        };
        Ok(self.summaries().await?.iter().filter(|d| with_origin(d)).map(|d| d.id().to_string()).collect())
    }

    async fn create(
        &self,
        caller_reference: &str,
        settings: &DistributionSettings,
        tags: &BTreeMap<String, String>,
    ) -> Result<CreateOutcome<DistributionView>, AwsError> {
        let config = apply(
            DistributionConfig::builder().caller_reference(caller_reference),
            settings,
            None,
            "CreateDistributionWithTags",
        )?;
        let mut tag_items = Vec::new();
        for (k, v) in tags {
            tag_items
                .push(Tag::builder().key(k).value(v).build().map_err(|e| build_err("CreateDistributionWithTags", e))?);
        }
        let with_tags = aws_sdk_cloudfront::types::DistributionConfigWithTags::builder()
            .distribution_config(config)
            .tags(Tags::builder().set_items(Some(tag_items)).build())
            .build();
        let out = match self.0.create_distribution_with_tags().distribution_config_with_tags(with_tags).send().await {
            Ok(out) => out,
            Err(e) => {
                return match AwsError::from_sdk("CreateDistributionWithTags", e) {
                    e if e.code == "DistributionAlreadyExists" => Ok(CreateOutcome::AlreadyExists),
                    e => Err(e),
                };
            }
        };
        out.distribution()
            .map(|d| CreateOutcome::Created(view(d)))
            .ok_or_else(|| build_err("CreateDistributionWithTags", "no distribution in the response"))
    }

    async fn update(&self, id: &str, settings: &DistributionSettings) -> Result<DistributionView, AwsError> {
        let mut last = None;
        for _ in 0..ETAG_RETRIES {
            let Some((current, etag)) = self.config(id).await? else {
                return Err(AwsError::new(AwsErrorKind::NotFound, "UpdateDistribution", "NoSuchDistribution", id));
            };
            let config = apply(preserve(&current), settings, Some(&current), "UpdateDistribution")?;
            match self.0.update_distribution().id(id).if_match(etag).distribution_config(config).send().await {
                Ok(out) => {
                    return out
                        .distribution()
                        .map(view)
                        .ok_or_else(|| build_err("UpdateDistribution", "no distribution in the response"));
                }
                Err(e) => {
                    let e = AwsError::from_sdk("UpdateDistribution", e);
                    if e.code != "PreconditionFailed" {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| build_err("UpdateDistribution", "ETag retries exhausted")))
    }

    async fn delete(&self, id: &str) -> Result<(), AwsError> {
        let Some((_, etag)) = self.config(id).await? else { return Ok(()) };
        match self.0.delete_distribution().id(id).if_match(etag).send().await {
            Ok(_) => Ok(()),
            Err(e) => AwsError::from_sdk("DeleteDistribution", e).absent_as(()),
        }
    }

    async fn invalidate(&self, id: &str, paths: &[String], caller_reference: &str) -> Result<String, AwsError> {
        let batch = aws_sdk_cloudfront::types::InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(paths.len() as i32)
                    .set_items(Some(paths.to_vec()))
                    .build()
                    .map_err(|e| build_err("CreateInvalidation", e))?,
            )
            .caller_reference(caller_reference)
            .build()
            .map_err(|e| build_err("CreateInvalidation", e))?;
        let out = self
            .0
            .create_invalidation()
            .distribution_id(id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateInvalidation", e))?;
        Ok(out.invalidation().map(|i| i.id().to_string()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DistributionSettings {
        DistributionSettings {
            origin_id: "s3-b".into(),
            origin_domain: "b.s3.us-east-1.amazonaws.com".into(),
            oac_id: Some("OAC1".into()),
            enabled: true,
            price_class: "PriceClass_100".into(),
            comment: "c".into(),
            default_root_object: "index.html".into(),
            viewer_protocol_policy: "redirect-to-https".into(),
            compress: true,
            cache_policy_id: CACHING_OPTIMIZED.into(),
            ipv6: true,
            viewer_request_function: Some("arn:aws:cloudfront::1:function/awsops-routing-0123456789abcdef".into()),
            response_headers_policy_id: Some("P1".into()),
            error_pages: vec![ErrorPage::new(403, "404.html"), ErrorPage::new(404, "404.html")],
            ..Default::default()
        }
    }

    #[test]
    fn the_owned_settings_read_back_as_they_were_written() {
        let config =
            apply(DistributionConfig::builder().caller_reference("r"), &settings(), None, "Test").expect("built");
        assert_eq!(read(&config), settings());
    }

    #[test]
    fn an_update_keeps_other_error_responses_and_functions_on_other_events() {
        let other_page =
            CustomErrorResponse::builder().error_code(500).response_page_path("/oops.html").build().expect("page");
        let viewer_response = FunctionAssociation::builder()
            .function_arn("arn:aws:cloudfront::1:function/theirs")
            .event_type(EventType::ViewerResponse)
            .build()
            .expect("association");
        let mut current =
            apply(DistributionConfig::builder().caller_reference("r"), &settings(), None, "Test").expect("built");
        current.custom_error_responses =
            Some(CustomErrorResponses::builder().quantity(1).items(other_page.clone()).build().expect("pages"));
        let mut behaviour = current.default_cache_behavior.clone().expect("behaviour");
        behaviour.function_associations = Some(
            FunctionAssociations::builder().quantity(1).items(viewer_response.clone()).build().expect("functions"),
        );
        current.default_cache_behavior = Some(behaviour);

        let updated = apply(preserve(&current), &settings(), Some(&current), "Test").expect("built");
        let pages = updated.custom_error_responses().expect("pages").items();
        assert!(pages.contains(&other_page) && pages.len() == 3, "{pages:?}");
        let functions = updated.default_cache_behavior().and_then(|b| b.function_associations()).expect("functions");
        assert!(functions.items().contains(&viewer_response) && functions.quantity() == 2, "{functions:?}");
        assert_eq!(read(&updated), settings());
    }
}
