//! Fixtures the plan tests share: one site identity and spec.

use crate::api::static_site::{DomainName, DomainSpec, RecordKind, StaticSiteSpec};
use crate::aws::s3::BucketSettings;

use super::identity::Identity;

pub fn mk_id() -> Identity {
    Identity {
        namespace: "web".into(),
        name: "marketing".into(),
        uid: "1234abcd-0000".into(),
        region: "eu-west-1".into(),
        bucket: "site-bucket".into(),
        resource_tags: Default::default(),
    }
}

pub fn mk_spec() -> StaticSiteSpec {
    serde_json::from_value(serde_json::json!({})).expect("defaults")
}

pub fn ours() -> BucketSettings {
    BucketSettings {
        tags: mk_id().tags(),
        public_access_blocked: true,
        owner_enforced: true,
        encrypted: true,
        kms_key: None,
        policy: None,
    }
}

pub fn with_domain(names: &[&str]) -> StaticSiteSpec {
    let mut spec = mk_spec();
    spec.domain = Some(DomainSpec {
        names: names.iter().map(|n| DomainName((*n).into())).collect(),
        hosted_zone_id: Some("Z1".into()),
        hosted_zone_name: None,
        certificate_arn: None,
        record: RecordKind::Alias,
    });
    spec
}
