//! Step 1 and step 5: what the bucket needs (or why it must not be touched),
//! and the bucket policy that lets only this site's distribution read it.

use std::collections::BTreeMap;

use serde_json::json;

use super::identity::Identity;
use crate::api::conditions::{Reason, Stall};
use crate::api::{TAG_OWNER, TAG_RELEASED, TAG_UID};
use crate::aws::s3::{BucketPresence, BucketSettings};

/// One bucket change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketStep {
    Create,
    Tag,
    BlockPublicAccess,
    EnforceOwner,
    Encrypt,
}

/// What entitles a site to an existing bucket that lacks its uid tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketClaim {
    /// Nothing: such a bucket is someone else's.
    None,
    /// `spec.bucket.adopt: true`: a bucket of this account that no live
    /// object owns: untagged, or released by the site that kept it.
    Adopt,
    /// Status records that this site was creating it (a crash or a lost
    /// response between CreateBucket and tagging): an untagged bucket only.
    Creating,
}

/// Whether a bucket's tags leave it free to adopt: no owner, or an owner
/// that released it (`deletionPolicy: Retain`).
pub fn free_to_adopt(tags: &BTreeMap<String, String>) -> bool {
    !tags.contains_key(TAG_UID) || tags.get(TAG_RELEASED).is_some_and(|v| v == "true")
}

/// Why HeadBucket's 403 stops the site: our own permissions, another
/// account's bucket, or (the bucket list denied too) one of the two.
fn forbidden(bucket: &str, in_this_account: Option<bool>) -> Stall {
    let grant = format!("grant the controller s3:ListBucket on arn:aws:s3:::{bucket} (docs/iam-policy.json)");
    match in_this_account {
        Some(true) => Stall::new(
            Reason::AccessDenied,
            format!("bucket {bucket:?} is in this account but HeadBucket was denied: {grant}"),
        ),
        Some(false) => Stall::new(
            Reason::BucketNotOwned,
            format!("bucket {bucket:?} belongs to another AWS account: choose another spec.bucket.name"),
        ),
        None => Stall::new(
            Reason::BucketNotOwned,
            format!(
                "HeadBucket on {bucket:?} was denied and so was ListBuckets: the bucket belongs to another AWS account (choose another spec.bucket.name), or {grant}"
            ),
        ),
    }
}

/// What the bucket needs, or why it must not be touched.
pub fn bucket_steps(
    presence: &BucketPresence,
    settings: Option<&BucketSettings>,
    id: &Identity,
    claim: BucketClaim,
) -> Result<Vec<BucketStep>, Stall> {
    let settings = match presence {
        BucketPresence::OtherRegion(region) => {
            return Err(Stall::new(
                Reason::BucketInOtherRegion,
                format!(
                    "bucket {:?} exists in {region}, not in {}: set spec.region to {region}, or choose another spec.bucket.name (bucket names are global)",
                    id.bucket, id.region
                ),
            ));
        }
        BucketPresence::Forbidden { in_this_account } => return Err(forbidden(&id.bucket, *in_this_account)),
        BucketPresence::Missing => {
            return Ok(vec![
                BucketStep::Create,
                BucketStep::Tag,
                BucketStep::BlockPublicAccess,
                BucketStep::EnforceOwner,
                BucketStep::Encrypt,
            ]);
        }
        BucketPresence::Exists => settings.cloned().unwrap_or_default(),
    };
    let mut steps = Vec::new();
    let ours = id.owns(&settings.tags);
    let claimed = match claim {
        BucketClaim::None => false,
        BucketClaim::Adopt => free_to_adopt(&settings.tags),
        BucketClaim::Creating => !settings.tags.contains_key(TAG_UID),
    };
    if !ours {
        if !claimed {
            let owner =
                settings.tags.get(TAG_OWNER).map(|o| format!(" (it is managed by StaticSite {o})")).unwrap_or_default();
            let fix = if claim == BucketClaim::Adopt {
                "adopt takes only a bucket no live StaticSite owns: delete that site with deletionPolicy Retain first, or choose another name"
            } else {
                "set spec.bucket.adopt: true to take it over, or choose another name"
            };
            return Err(Stall::new(
                Reason::BucketNotOwned,
                format!("bucket {:?} already exists and is not this site's{owner}: {fix}", id.bucket),
            ));
        }
        steps.push(BucketStep::Tag);
    } else if id.tags().iter().any(|(k, v)| settings.tags.get(k) != Some(v)) {
        steps.push(BucketStep::Tag);
    }
    if !settings.public_access_blocked {
        steps.push(BucketStep::BlockPublicAccess);
    }
    if !settings.owner_enforced {
        steps.push(BucketStep::EnforceOwner);
    }
    if !settings.encrypted {
        steps.push(BucketStep::Encrypt);
    }
    Ok(steps)
}

/// The claim a site has on an existing bucket without its uid tag.
pub fn claim(adopt: bool, recorded_before_create: bool) -> BucketClaim {
    match (adopt, recorded_before_create) {
        (true, _) => BucketClaim::Adopt,
        (false, true) => BucketClaim::Creating,
        (false, false) => BucketClaim::None,
    }
}

/// The tags a bucket gets when this site takes it: its own, anyone else's
/// kept, the released mark dropped.
pub fn tags_when_taken(current: &BTreeMap<String, String>, id: &Identity) -> BTreeMap<String, String> {
    let mut tags = current.clone();
    tags.remove(TAG_RELEASED);
    tags.extend(id.tags());
    tags
}

/// The tags a bucket this site keeps (`Retain`) gets when the site is
/// deleted: marked released, the old uid kept for the record.
pub fn tags_when_released(current: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut tags = current.clone();
    tags.insert(TAG_RELEASED.to_string(), "true".to_string());
    tags
}

/// The bucket policy: `s3:GetObject` for CloudFront, only from this
/// distribution, and never of the controller's records (the manifest).
pub fn bucket_policy(id: &Identity, distribution_arn: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowCloudFrontServicePrincipalReadOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            // Every object but the controller's records (the manifest): a
            // bucket policy grants only on its own bucket, so NotResource
            // names exactly the rest of it.
            "NotResource": format!("{}/{}*", id.bucket_arn(), super::content::RESERVED_PREFIX),
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        }]
    })
}

/// Whether the current policy document differs from the desired one (compared
/// as JSON, so formatting and key order do not count).
pub fn policy_differs(current: Option<&str>, desired: &serde_json::Value) -> bool {
    current.and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()).as_ref() != Some(desired)
}

/// `BucketReady`'s message. An SSE-KMS bucket (an adopted one) serves
/// through OAC only if the key policy lets CloudFront decrypt: say so, since
/// viewers otherwise get 403 while everything looks ready.
pub fn bucket_ready_message(bucket: &str, kms_key: Option<&str>) -> String {
    match kms_key {
        None => format!("bucket {bucket} is private, encrypted and tagged"),
        Some(key) if key == "aws/s3" || key.ends_with("alias/aws/s3") => format!(
            "bucket {bucket} is private and tagged, encrypted with the AWS managed key aws/s3, whose key policy cannot let CloudFront decrypt: viewers get 403; switch the bucket's default encryption to SSE-S3 or a customer managed key"
        ),
        Some(key) => format!(
            "bucket {bucket} is private and tagged, encrypted with SSE-KMS key {key}: its key policy must allow kms:Decrypt to the service principal cloudfront.amazonaws.com for this distribution (AWS:SourceArn), or viewers get 403"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sse_kms_bucket_says_what_its_key_policy_needs() {
        assert_eq!(bucket_ready_message("b", None), "bucket b is private, encrypted and tagged");
        let kms = bucket_ready_message("b", Some("arn:aws:kms:us-east-1:1:key/k"));
        assert!(kms.contains("arn:aws:kms:us-east-1:1:key/k") && kms.contains("kms:Decrypt"), "{kms}");
        assert!(kms.contains("cloudfront.amazonaws.com") && kms.contains("403"), "{kms}");
        let managed = bucket_ready_message("b", Some("aws/s3"));
        assert!(managed.contains("SSE-S3 or a customer managed key"), "{managed}");
    }

    #[test]
    fn a_403_says_whose_bucket_it_is_and_a_301_names_the_region() {
        let stall = |presence| bucket_steps(&presence, None, &mk_id(), BucketClaim::None).expect_err("stall");
        let ours = stall(BucketPresence::Forbidden { in_this_account: Some(true) });
        assert_eq!(ours.reason, Reason::AccessDenied);
        assert!(ours.message.contains("s3:ListBucket on arn:aws:s3:::"), "{}", ours.message);
        let theirs = stall(BucketPresence::Forbidden { in_this_account: Some(false) });
        assert_eq!(theirs.reason, Reason::BucketNotOwned);
        assert!(theirs.message.contains("another AWS account"), "{}", theirs.message);
        let unknown = stall(BucketPresence::Forbidden { in_this_account: None });
        assert!(unknown.message.contains("another AWS account") && unknown.message.contains("s3:ListBucket"));
        let moved = stall(BucketPresence::OtherRegion("eu-west-3".into()));
        assert_eq!(moved.reason, Reason::BucketInOtherRegion);
        assert!(moved.message.contains("set spec.region to eu-west-3"), "{}", moved.message);
    }
    use std::collections::BTreeMap;

    use super::super::fixtures::{mk_id, ours};
    use crate::api::TAG_RELEASED;

    #[test]
    fn a_missing_bucket_is_created_private_encrypted_and_tagged() {
        let steps = bucket_steps(&BucketPresence::Missing, None, &mk_id(), BucketClaim::None).expect("ok");
        assert_eq!(
            steps,
            vec![
                BucketStep::Create,
                BucketStep::Tag,
                BucketStep::BlockPublicAccess,
                BucketStep::EnforceOwner,
                BucketStep::Encrypt
            ]
        );
    }

    #[test]
    fn a_bucket_in_sync_needs_nothing() {
        assert_eq!(bucket_steps(&BucketPresence::Exists, Some(&ours()), &mk_id(), BucketClaim::None), Ok(vec![]));
    }

    #[test]
    fn bucket_drift_is_repaired_step_by_step() {
        let mut drifted = ours();
        drifted.public_access_blocked = false;
        drifted.encrypted = false;
        assert_eq!(
            bucket_steps(&BucketPresence::Exists, Some(&drifted), &mk_id(), BucketClaim::None),
            Ok(vec![BucketStep::BlockPublicAccess, BucketStep::Encrypt])
        );
    }

    #[test]
    fn a_bucket_of_someone_else_is_never_touched_and_adopted_only_when_no_live_site_owns_it() {
        let foreign = BucketSettings {
            tags: BTreeMap::from([(TAG_UID.into(), "other".into()), (TAG_OWNER.into(), "x/y".into())]),
            ..ours()
        };
        let stall =
            bucket_steps(&BucketPresence::Exists, Some(&foreign), &mk_id(), BucketClaim::None).expect_err("stall");
        assert_eq!(stall.reason, Reason::BucketNotOwned);
        assert!(stall.message.contains("StaticSite x/y"));
        let live = bucket_steps(&BucketPresence::Exists, Some(&foreign), &mk_id(), BucketClaim::Adopt);
        assert_eq!(live.expect_err("another live site's").reason, Reason::BucketNotOwned);
        let untagged = BucketSettings { tags: BTreeMap::new(), ..ours() };
        assert_eq!(
            bucket_steps(&BucketPresence::Exists, Some(&untagged), &mk_id(), BucketClaim::Adopt),
            Ok(vec![BucketStep::Tag])
        );
        let released = BucketSettings { tags: tags_when_released(&foreign.tags), ..ours() };
        assert_eq!(
            bucket_steps(&BucketPresence::Exists, Some(&released), &mk_id(), BucketClaim::Adopt),
            Ok(vec![BucketStep::Tag])
        );
        let other = BucketPresence::Forbidden { in_this_account: Some(false) };
        let taken = bucket_steps(&other, None, &mk_id(), BucketClaim::Adopt).expect_err("stall");
        assert!(taken.message.contains("another AWS account"));
    }

    #[test]
    fn a_bucket_this_site_was_creating_is_claimed_only_while_untagged() {
        let untagged = BucketSettings::default();
        let steps = bucket_steps(&BucketPresence::Exists, Some(&untagged), &mk_id(), BucketClaim::Creating);
        assert_eq!(steps.expect("claimed").first(), Some(&BucketStep::Tag));
        let mut other = BucketSettings::default();
        other.tags.insert(TAG_UID.into(), "someone-else".into());
        let stall = bucket_steps(&BucketPresence::Exists, Some(&other), &mk_id(), BucketClaim::Creating);
        assert_eq!(stall.expect_err("not ours").reason, Reason::BucketNotOwned);
        let never_recorded = bucket_steps(&BucketPresence::Exists, Some(&untagged), &mk_id(), BucketClaim::None);
        assert!(never_recorded.is_err(), "an untagged bucket the site never recorded is someone else's");
    }

    #[test]
    fn the_policy_allows_only_this_distribution_and_ignores_formatting() {
        let p = bucket_policy(&mk_id(), "arn:aws:cloudfront::1:distribution/E1");
        assert_eq!(p["Statement"][0]["Principal"]["Service"], "cloudfront.amazonaws.com");
        assert_eq!(
            p["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"],
            "arn:aws:cloudfront::1:distribution/E1"
        );
        assert!(!policy_differs(Some(&serde_json::to_string_pretty(&p).expect("json")), &p));
        assert!(policy_differs(None, &p));
        assert!(p["Statement"][0]["NotResource"].as_str().expect("not resource").ends_with("/.awsops/*"));
        assert!(policy_differs(Some(r#"{"Version":"2012-10-17","Statement":[]}"#), &p));
    }

    #[test]
    fn a_taken_bucket_keeps_foreign_tags_and_loses_the_released_mark() {
        let mut current = BTreeMap::from([("team".to_string(), "web".to_string())]);
        current.insert(TAG_UID.into(), "old-uid".into());
        let released = tags_when_released(&current);
        assert_eq!(released.get(TAG_RELEASED).map(String::as_str), Some("true"));
        assert_eq!(released.get(TAG_UID).map(String::as_str), Some("old-uid"), "the old uid is kept for the record");
        assert!(free_to_adopt(&released) && !free_to_adopt(&current) && free_to_adopt(&BTreeMap::new()));
        let taken = tags_when_taken(&released, &mk_id());
        assert_eq!(taken.get(TAG_UID), Some(&mk_id().uid));
        assert_eq!(taken.get("team").map(String::as_str), Some("web"));
        assert!(!taken.contains_key(TAG_RELEASED));
    }
}
