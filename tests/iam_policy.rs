//! docs/iam-policy.json allows every AWS operation the controller made during
//! the integration suite. `make test` runs this after the suite (it reads
//! `$AWSOPS_TEST_ENV/aws-operations.txt`, written from each controller's
//! `awsops_aws_calls_total` metric), so it is ignored in a plain run.

use std::collections::BTreeSet;

/// The IAM actions an SDK operation needs, where they are not `service:Operation`.
fn iam_actions(service: &str, operation: &str) -> Vec<String> {
    let prefix = match service.to_ascii_lowercase().replace(' ', "").as_str() {
        "route53" => "route53".to_string(),
        other => other.to_string(),
    };
    let named: &[&str] = match (prefix.as_str(), operation) {
        ("s3", "HeadBucket" | "ListObjectsV2") => &["s3:ListBucket"],
        ("s3", "ListBuckets") => &["s3:ListAllMyBuckets"],
        ("s3", "ListObjectVersions") => &["s3:ListBucketVersions"],
        ("s3", "DeleteObjects") => &["s3:DeleteObject", "s3:DeleteObjectVersion"],
        ("s3", "HeadObject") => &["s3:GetObject"],
        ("s3", "CopyObject") => &["s3:GetObject", "s3:PutObject"],
        ("s3", "GetBucketEncryption") => &["s3:GetEncryptionConfiguration"],
        ("s3", "PutBucketEncryption") => &["s3:PutEncryptionConfiguration"],
        ("s3", "GetPublicAccessBlock") => &["s3:GetBucketPublicAccessBlock"],
        ("s3", "PutPublicAccessBlock") => &["s3:PutBucketPublicAccessBlock"],
        ("cloudfront", "CreateDistributionWithTags") => &["cloudfront:CreateDistribution", "cloudfront:TagResource"],
        ("acm", "RequestCertificate") => &["acm:RequestCertificate", "acm:AddTagsToCertificate"],
        ("sts", "AssumeRole") => &["sts:AssumeRole", "sts:TagSession"],
        _ => &[],
    };
    if named.is_empty() { vec![format!("{prefix}:{operation}")] } else { named.iter().map(|s| s.to_string()).collect() }
}

fn allowed() -> BTreeSet<String> {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../docs/iam-policy.json")).expect("docs/iam-policy.json is JSON");
    let mut out = BTreeSet::new();
    for statement in doc["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        for action in statement["Action"].as_array().expect("actions") {
            let action = action.as_str().expect("action").to_string();
            assert!(!action.contains('*'), "{action}: list actions exactly, no wildcards");
            out.insert(action);
        }
    }
    out
}

#[test]
fn the_policy_names_each_action_once_and_only_known_services() {
    let all = allowed();
    for action in &all {
        let service = action.split(':').next().unwrap_or_default();
        assert!(["rds", "cloudwatch", "s3", "cloudfront", "acm", "route53", "sts"].contains(&service), "{action}");
    }
}

/// Whether an IAM action only reads (its verb is Describe, Get or List).
fn reads(action: &str) -> bool {
    let verb = action.split(':').nth(1).unwrap_or_default();
    ["Describe", "Get", "List"].iter().any(|v| verb.starts_with(v))
}

fn resources(statement: &serde_json::Value) -> Vec<String> {
    match &statement["Resource"] {
        serde_json::Value::String(one) => vec![one.clone()],
        many => many.as_array().expect("Resource").iter().filter_map(|r| r.as_str().map(String::from)).collect(),
    }
}

fn statements() -> Vec<serde_json::Value> {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../docs/iam-policy.json")).expect("docs/iam-policy.json is JSON");
    doc["Statement"].as_array().expect("statements").clone()
}

#[test]
fn no_write_is_allowed_on_every_resource_without_a_condition() {
    for statement in statements() {
        let on_everything = resources(&statement).iter().any(|r| r == "*");
        let conditioned = statement.get("Condition").is_some();
        for action in statement["Action"].as_array().expect("actions").iter().filter_map(|a| a.as_str()) {
            assert!(
                reads(action) || !on_everything || conditioned,
                "{action} may write on Resource \"*\" with no condition ({})",
                statement["Sid"]
            );
        }
    }
}

#[test]
fn writes_to_cloudfront_and_acm_need_the_awsops_tags() {
    for statement in statements() {
        let actions: Vec<&str> =
            statement["Action"].as_array().expect("actions").iter().filter_map(|a| a.as_str()).collect();
        let writes_tagged = actions.iter().any(|a| {
            ["cloudfront:CreateDistribution", "cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution"]
                .contains(a)
                || (a.starts_with("acm:") && !reads(a))
        });
        if writes_tagged {
            let condition = statement["Condition"].to_string();
            assert!(
                condition.contains("Tag/awsops.dev/uid"),
                "{}: {actions:?} without a tag condition",
                statement["Sid"]
            );
        }
    }
}

#[test]
fn roles_to_assume_are_named_by_a_pattern_not_every_role() {
    for statement in statements() {
        let actions = statement["Action"].to_string();
        if actions.contains("sts:AssumeRole") {
            for resource in resources(&statement) {
                let name = resource.split_once(":role/").map(|(_, name)| name).unwrap_or("*");
                assert!(!name.starts_with('*'), "sts:AssumeRole on {resource}: name the roles by a prefix");
            }
        }
    }
}

#[test]
#[ignore = "run by `make test` after the integration suite"]
fn every_aws_operation_the_suite_recorded_is_allowed_by_the_iam_policy() {
    let dir = std::env::var("AWSOPS_TEST_ENV").expect("run by make test");
    let recorded = std::fs::read_to_string(format!("{dir}/aws-operations.txt")).expect("the suite recorded operations");
    let ops: BTreeSet<(String, String)> =
        recorded.lines().filter_map(|l| l.split_once('\t')).map(|(s, o)| (s.to_string(), o.to_string())).collect();
    assert!(ops.len() >= 20, "too few operations recorded to mean anything: {ops:?}");
    let allowed = allowed();
    let missing: Vec<String> =
        ops.iter().flat_map(|(s, o)| iam_actions(s, o)).filter(|a| !allowed.contains(a)).collect();
    assert!(missing.is_empty(), "docs/iam-policy.json lacks {missing:?} (recorded: {ops:?})");
}
