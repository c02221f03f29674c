//! CloudFront resources and DNS records made by hand, as a team's own console
//! work would be: the victims ownership tests check awsops never touches.

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, Origin, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins,
    S3OriginConfig, Tag, Tags, ViewerProtocolPolicy,
};

use super::unique;

/// A distribution made by hand (not by awsops) with `origin` as its origin.
pub async fn hand_made_distribution(cloudfront: &aws_sdk_cloudfront::Client, origin: &str) -> String {
    let out = cloudfront.create_distribution().distribution_config(config(origin)).send().await;
    out.expect("hand-made distribution").distribution().expect("distribution").id().to_string()
}

/// As [`hand_made_distribution`], created with these tags.
pub async fn tagged_distribution(
    cloudfront: &aws_sdk_cloudfront::Client,
    origin: &str,
    tags: &[(&str, &str)],
) -> String {
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag")).collect();
    let with_tags = DistributionConfigWithTags::builder()
        .distribution_config(config(origin))
        .tags(Tags::builder().set_items(Some(tags)).build())
        .build();
    let out = cloudfront.create_distribution_with_tags().distribution_config_with_tags(with_tags).send().await;
    out.expect("tagged distribution").distribution().expect("distribution").id().to_string()
}

fn config(origin: &str) -> DistributionConfig {
    let origin = Origin::builder()
        .id("hand-made")
        .domain_name(origin)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .expect("origin");
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id("hand-made")
        .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
        .cache_policy_id(awsops::aws::cloudfront::CACHING_OPTIMIZED)
        .build()
        .expect("behavior");
    DistributionConfig::builder()
        .caller_reference(unique("hand-made"))
        .origins(Origins::builder().quantity(1).items(origin).build().expect("origins"))
        .default_cache_behavior(behavior)
        .comment("made by hand")
        .enabled(true)
        .build()
        .expect("config")
}

/// An origin access control made by hand.
pub async fn hand_made_oac(cloudfront: &aws_sdk_cloudfront::Client) -> String {
    let config = OriginAccessControlConfig::builder()
        .name(unique("hand-made-oac"))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .expect("oac config");
    let out = cloudfront.create_origin_access_control().origin_access_control_config(config).send().await;
    out.expect("hand-made OAC").origin_access_control().expect("oac").id().to_string()
}

/// Whether the distribution is enabled; `None` once it is gone.
pub async fn enabled(cloudfront: &aws_sdk_cloudfront::Client, id: &str) -> Option<bool> {
    let out = cloudfront.get_distribution().id(id).send().await.ok()?;
    out.distribution()?.distribution_config().map(|c| c.enabled())
}

/// A record made by hand in zone `zone_id`: `name` (no root dot) of `type_` with one value.
pub async fn hand_made_record(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    name: &str,
    type_: aws_sdk_route53::types::RrType,
    value: &str,
) {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet};
    let set = ResourceRecordSet::builder()
        .name(format!("{name}."))
        .r#type(type_)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(value).build().expect("record"))
        .build()
        .expect("set");
    let change = Change::builder().action(ChangeAction::Create).resource_record_set(set).build().expect("change");
    let batch = ChangeBatch::builder().changes(change).build().expect("batch");
    route53.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch).send().await.expect("record");
}
