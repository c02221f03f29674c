//! What moto does not model for StaticSite, with scripted responses through
//! the real SDK clients and the real adapters: CloudFront ETag conflicts,
//! `DistributionNotDisabled`, `InProgress` deployments, Route 53 `PENDING`,
//! HeadBucket's bodiless 301 and 403.

use aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput;
use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionOutput;
use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, Distribution, DistributionConfig, Origin, Origins, ViewerProtocolPolicy,
};
use aws_sdk_route53::operation::get_change::GetChangeOutput;
use aws_sdk_route53::types::{ChangeInfo, ChangeStatus};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use awsops::aws::AwsErrorKind;
use awsops::aws::cloudfront::DistributionState;
use awsops::aws::cloudfront::{Cdn, SdkCdn};
use awsops::aws::route53::{Dns, SdkDns};
use awsops::static_site::plan::summary::finished;
use awsops::static_site::plan::teardown::{DistributionTeardown, distribution_teardown};

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    let mut i = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        i = i.with_rule(r);
    }
    i
}

fn cdn(rules: &[&Rule]) -> SdkCdn {
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudfront::config::Credentials::new("s", "s", None, None, "tests"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    SdkCdn(aws_sdk_cloudfront::Client::from_conf(config))
}

fn buckets(rules: &[&Rule]) -> awsops::aws::s3::SdkBuckets {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("s", "s", None, None, "tests"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    awsops::aws::s3::SdkBuckets(aws_sdk_s3::Client::from_conf(config))
}

fn dns(rules: &[&Rule]) -> SdkDns {
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_route53::config::Credentials::new("s", "s", None, None, "tests"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    SdkDns(aws_sdk_route53::Client::from_conf(config))
}

/// An error exactly as CloudFront sends it (REST-XML).
fn cloudfront_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    );
    HttpResponse::new(status.try_into().expect("status"), SdkBody::from(body))
}

fn config(enabled: bool) -> DistributionConfig {
    DistributionConfig::builder()
        .caller_reference("uid-1")
        .comment("site")
        .enabled(enabled)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder().id("s3-b").domain_name("b.s3.us-east-1.amazonaws.com").build().expect("origin"),
                )
                .build()
                .expect("origins"),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("s3-b")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .expect("behavior"),
        )
        .build()
        .expect("config")
}

fn distribution(status: &str, enabled: bool) -> Distribution {
    Distribution::builder()
        .id("E1")
        .arn("arn:aws:cloudfront::123456789012:distribution/E1")
        .status(status)
        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
        .in_progress_invalidation_batches(0)
        .domain_name("d1.cloudfront.net")
        .distribution_config(config(enabled))
        .build()
        .expect("distribution")
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_the_update_retried() {
    let reads = mock!(aws_sdk_cloudfront::Client::get_distribution_config)
        .sequence()
        .output(|| GetDistributionConfigOutput::builder().distribution_config(config(true)).e_tag("E-OLD").build())
        .output(|| GetDistributionConfigOutput::builder().distribution_config(config(true)).e_tag("E-NEW").build())
        .build();
    let stale = mock!(aws_sdk_cloudfront::Client::update_distribution)
        .match_requests(|r| r.if_match() == Some("E-OLD"))
        .then_http_response(|| {
            cloudfront_error(412, "PreconditionFailed", "The request failed because it didn't meet the preconditions")
        });
    let fresh = mock!(aws_sdk_cloudfront::Client::update_distribution)
        .match_requests(|r| r.if_match() == Some("E-NEW") && r.distribution_config().is_some_and(|c| !c.enabled()))
        .then_output(|| UpdateDistributionOutput::builder().distribution(distribution("InProgress", false)).build());
    let cdn = cdn(&[&reads, &stale, &fresh]);

    let mut wanted = awsops::aws::cloudfront::DistributionSettings {
        origin_id: "s3-b".into(),
        origin_domain: "b.s3.us-east-1.amazonaws.com".into(),
        ..Default::default()
    };
    wanted.enabled = false;
    wanted.viewer_protocol_policy = "redirect-to-https".into();
    let updated = cdn.update("E1", &wanted).await.expect("the retry succeeds");
    assert_eq!((stale.num_calls(), fresh.num_calls(), reads.num_calls()), (1, 1, 2));
    assert_eq!(updated.status.as_str(), "InProgress");
    assert!(!updated.settings.enabled);
    // An update still deploying is not Ready.
    assert!(!finished(&updated.status, &[]));
}

#[tokio::test]
async fn deleting_a_distribution_that_is_not_disabled_is_a_conflict_to_wait_out() {
    let read = mock!(aws_sdk_cloudfront::Client::get_distribution_config)
        .then_output(|| GetDistributionConfigOutput::builder().distribution_config(config(true)).e_tag("E1").build());
    let refused = mock!(aws_sdk_cloudfront::Client::delete_distribution).then_http_response(|| {
        cloudfront_error(
            409,
            "DistributionNotDisabled",
            "The distribution you are trying to delete has not been disabled.",
        )
    });
    let err = cdn(&[&read, &refused]).delete("E1").await.expect_err("refused");
    assert_eq!(err.kind, AwsErrorKind::Conflict);
    assert_eq!(err.code, "DistributionNotDisabled");
    // What cleanup does instead: disable, then wait for the deployment, then delete.
    let (deployed, in_progress) = (DistributionState::Deployed, DistributionState::InProgress);
    assert_eq!(distribution_teardown(Some(true), Some(&deployed)), DistributionTeardown::Disable);
    assert_eq!(distribution_teardown(Some(false), Some(&in_progress)), DistributionTeardown::WaitForDeployment);
}

#[tokio::test]
async fn a_pending_route53_change_keeps_the_site_deploying_until_insync() {
    let change = mock!(aws_sdk_route53::Client::get_change)
        .sequence()
        .output(|| {
            GetChangeOutput::builder()
                .change_info(
                    ChangeInfo::builder()
                        .id("/change/C1")
                        .status(ChangeStatus::Pending)
                        .submitted_at(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .expect("info"),
                )
                .build()
        })
        .output(|| {
            GetChangeOutput::builder()
                .change_info(
                    ChangeInfo::builder()
                        .id("/change/C1")
                        .status(ChangeStatus::Insync)
                        .submitted_at(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .expect("info"),
                )
                .build()
        })
        .build();
    let dns = dns(&[&change]);
    let first = dns.change_status("C1").await.expect("status");
    assert_eq!(first.as_str(), "PENDING");
    assert!(!finished(&DistributionState::Deployed, &[first]));
    let second = dns.change_status("C1").await.expect("status");
    assert!(finished(&DistributionState::Deployed, &[second]));
}

/// HeadBucket answers with a status and no body (S3 API reference,
/// HeadBucket): 301 with `x-amz-bucket-region` for a bucket in another
/// region, 403 for one we may not read, ours or another account's.
#[tokio::test]
async fn head_bucket_without_a_body_still_tells_region_permission_and_owner_apart() {
    use aws_sdk_s3::operation::list_buckets::ListBucketsOutput;
    use awsops::aws::s3::{BucketPresence, Buckets};
    let bare = |status: u16| HttpResponse::new(status.try_into().expect("status"), SdkBody::empty());
    let moved = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(move || {
        let mut r = bare(301);
        r.headers_mut().insert("x-amz-bucket-region", "eu-west-3");
        r
    });
    assert_eq!(
        buckets(&[&moved]).presence("b").await.expect("presence"),
        BucketPresence::OtherRegion("eu-west-3".into())
    );

    let denied = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(move || bare(403));
    let listed = |names: &'static [&'static str]| {
        mock!(aws_sdk_s3::Client::list_buckets).then_output(move || {
            let mut out = ListBucketsOutput::builder();
            for n in names {
                out = out.buckets(aws_sdk_s3::types::Bucket::builder().name(*n).build());
            }
            out.build()
        })
    };
    let ours = listed(&["b"]);
    assert_eq!(
        buckets(&[&denied, &ours]).presence("b").await.expect("presence"),
        BucketPresence::Forbidden { in_this_account: Some(true) }
    );
    let denied = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(move || bare(403));
    let theirs = listed(&["b-other"]);
    assert_eq!(
        buckets(&[&denied, &theirs]).presence("b").await.expect("presence"),
        BucketPresence::Forbidden { in_this_account: Some(false) }
    );
    let denied = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(move || bare(403));
    let no_list = mock!(aws_sdk_s3::Client::list_buckets).then_http_response(|| {
        HttpResponse::new(
            403.try_into().expect("status"),
            SdkBody::from("<Error><Code>AccessDenied</Code><Message>no</Message></Error>"),
        )
    });
    assert_eq!(
        buckets(&[&denied, &no_list]).presence("b").await.expect("presence"),
        BucketPresence::Forbidden { in_this_account: None }
    );
}

/// Route 53 pages through routed record sets (weighted, latency...) that
/// share a name and type with `NextRecordIdentifier` (API reference,
/// ListResourceRecordSets): the next page starts there, or a page repeats.
#[tokio::test]
async fn record_pages_continue_at_the_set_identifier_route53_names() {
    use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    use awsops::aws::route53::Zone;
    let weighted = |id: &str| {
        let value = ResourceRecord::builder().value("192.0.2.1").build().expect("value");
        let set = ResourceRecordSet::builder().name("www.example.com.").r#type(RrType::A).set_identifier(id);
        set.weight(1).ttl(60).resource_records(value).build().expect("set")
    };
    let first = mock!(aws_sdk_route53::Client::list_resource_record_sets)
        .match_requests(|r| r.start_record_identifier().is_none())
        .then_output(move || {
            let page = ListResourceRecordSetsOutput::builder().resource_record_sets(weighted("a")).is_truncated(true);
            let page =
                page.next_record_name("www.example.com.").next_record_type(RrType::A).next_record_identifier("b");
            page.max_items(1).build().expect("page")
        });
    let second = mock!(aws_sdk_route53::Client::list_resource_record_sets)
        .match_requests(|r| r.start_record_identifier() == Some("b"))
        .then_output(move || {
            let page = ListResourceRecordSetsOutput::builder().resource_record_sets(weighted("b")).is_truncated(false);
            page.max_items(1).build().expect("page")
        });
    let zone = Zone { id: "Z1".into(), name: "example.com".into(), private: false };
    let records = dns(&[&first, &second]).records(&zone).await.expect("records");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

/// DeleteObjects in quiet mode answers HTTP 200 and lists only the keys it
/// could not delete (S3 API reference, DeleteObjects): those are an error.
#[tokio::test]
async fn keys_delete_objects_could_not_delete_are_an_error_not_silence() {
    use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
    use awsops::aws::s3::Buckets;
    let partly = mock!(aws_sdk_s3::Client::delete_objects).then_output(|| {
        let failed =
            aws_sdk_s3::types::Error::builder().key("b.html").code("AccessDenied").message("Access Denied").build();
        DeleteObjectsOutput::builder().errors(failed).build()
    });
    let keys = vec!["a.html".to_string(), "b.html".to_string()];
    let err = buckets(&[&partly]).delete("site", &keys).await.expect_err("a key was not deleted");
    assert_eq!(err.kind, AwsErrorKind::AccessDenied, "{err}");
    assert!(err.to_string().contains("b.html"), "{err}");
}
