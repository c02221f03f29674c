//! Who a site is in AWS: its region, bucket, tags and the names derived
//! from the object, refusing a change of bucket or region once recorded.

use std::collections::BTreeMap;

use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{StaticSiteSpec, StaticSiteStatus};
use crate::api::{TAG_OWNER, TAG_UID};
use crate::aws::cloudfront::DistributionView;

/// Who a site is in AWS: names, tags and references derived from the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub region: String,
    pub bucket: String,
    /// The controller's `--resource-tags`, put on everything the site creates.
    pub resource_tags: BTreeMap<String, String>,
}

impl Identity {
    /// Resolves the bucket name and region, refusing changes to either once recorded.
    pub fn resolve(
        spec: &StaticSiteSpec,
        status: &StaticSiteStatus,
        namespace: &str,
        name: &str,
        uid: &str,
        default_region: Option<&str>,
    ) -> Result<Self, Stall> {
        let region = match spec.region.as_deref().or(default_region) {
            Some(r) => r.to_string(),
            None => {
                return Err(Stall::new(Reason::InvalidSpec, crate::aws::NO_REGION));
            }
        };
        let bucket = spec.bucket.name.clone().unwrap_or_else(|| default_bucket_name(namespace, name, uid));
        if let Some(recorded) = &status.bucket {
            if recorded.name != bucket {
                return Err(Stall::new(
                    Reason::ImmutableField,
                    format!(
                        "spec.bucket.name is immutable: the site uses bucket {:?}; restore the field (a new bucket needs a new StaticSite)",
                        recorded.name
                    ),
                ));
            }
            if recorded.region != region {
                return Err(Stall::new(
                    Reason::ImmutableField,
                    format!("spec.region is immutable: the site lives in {:?}; restore the field", recorded.region),
                ));
            }
            // Recorded since the controller checks it; older statuses say nothing.
            if let Some(identity) = recorded.identity.as_deref().filter(|i| *i != spec.identity()) {
                return Err(Stall::new(
                    Reason::ImmutableField,
                    format!(
                        "spec.roleArn is immutable: the site's resources were made through {identity:?}; restore the field (another account needs a new StaticSite)"
                    ),
                ));
            }
        }
        let resource_tags = BTreeMap::new();
        Ok(Self { namespace: namespace.into(), name: name.into(), uid: uid.into(), region, bucket, resource_tags })
    }

    /// This identity with the controller's resource tags.
    pub fn with_resource_tags(self, resource_tags: &BTreeMap<String, String>) -> Self {
        Self { resource_tags: resource_tags.clone(), ..self }
    }

    /// The tags of everything the site creates: the resource tags, then the
    /// owner and uid (which no resource tag can replace).
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.resource_tags.clone();
        tags.insert(TAG_OWNER.to_string(), format!("{}/{}", self.namespace, self.name));
        tags.insert(TAG_UID.to_string(), self.uid.clone());
        tags
    }

    /// Whether these tags (of a bucket, a certificate, ...) name this site.
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(TAG_UID) == Some(&self.uid)
    }

    /// Proof that a distribution is this site's: it was created with the
    /// site's uid as CallerReference (every distribution a site creates is).
    pub fn prove_distribution(&self, d: &DistributionView) -> Result<(), Stall> {
        if d.caller_reference == self.uid {
            return Ok(());
        }
        Err(Stall::new(
            Reason::NotOwned,
            format!(
                "status.distribution.id names distribution {}, which this StaticSite did not create (its CallerReference is {:?}, not this object's uid); awsops changes only what it can prove it owns: remove status.distribution, or create a new StaticSite",
                d.id, d.caller_reference
            ),
        ))
    }

    /// Proof that an origin access control may sign for this site: a pool
    /// member (`awsops-oac-<n>`), or the site's own from before the pool.
    pub fn prove_oac(&self, oac: &str, name: &str) -> Result<(), Stall> {
        if name == self.oac_name() || super::oac::pool_index(name).is_some() {
            return Ok(());
        }
        Err(Stall::new(
            Reason::NotOwned,
            format!(
                "status.originAccessControlId names origin access control {oac} ({name:?}), which this StaticSite did not create; awsops changes only what it can prove it owns: remove status.originAccessControlId, or create a new StaticSite"
            ),
        ))
    }

    pub fn origin_domain(&self) -> String {
        format!("{}.s3.{}.amazonaws.com", self.bucket, self.region)
    }

    /// The site's own OAC name, from before the pool (`awsops-<uid>`).
    pub fn oac_name(&self) -> String {
        format!("awsops-{}", self.uid)
    }

    pub fn bucket_arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.bucket)
    }
}

/// `awsops-<namespace>-<name>-<uid prefix>`, lowercased and cut to S3's 63 characters.
pub fn default_bucket_name(namespace: &str, name: &str, uid: &str) -> String {
    let clean = |s: &str| {
        s.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>()
    };
    let suffix: String =
        uid.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect::<String>().to_ascii_lowercase();
    let mut head = format!("awsops-{}-{}", clean(namespace), clean(name));
    head.truncate(63 - suffix.len() - 1);
    format!("{}-{suffix}", head.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::mk_spec;
    use super::*;

    #[test]
    fn the_default_bucket_name_is_valid_and_stable() {
        let name = default_bucket_name("Web_Team", "marketing.site", "ABCDEF12-3456");
        assert_eq!(name, "awsops-web-team-marketing-site-abcdef12");
        let long = default_bucket_name(&"n".repeat(60), &"m".repeat(60), "abcdef12");
        assert!(long.len() <= 63 && long.ends_with("-abcdef12"), "{long}");
        assert!(crate::api::validation::matches(crate::api::validation::BUCKET_NAME, &long));
    }

    #[test]
    fn the_role_cannot_change_once_a_bucket_is_recorded_through_it() {
        let recorded = |identity: Option<&str>| StaticSiteStatus {
            bucket: Some(crate::api::static_site::BucketStatus {
                name: "b".into(),
                arn: "a".into(),
                region: "eu-west-1".into(),
                identity: identity.map(String::from),
            }),
            ..Default::default()
        };
        let mut spec = mk_spec();
        spec.bucket.name = Some("b".into());
        spec.region = Some("eu-west-1".into());
        let role = "arn:aws:iam::111122223333:role/awsops-web";
        let through_default = recorded(Some("default"));
        assert!(Identity::resolve(&spec, &through_default, "web", "m", "u", None).is_ok());
        spec.role_arn = Some(role.into());
        let stall = Identity::resolve(&spec, &through_default, "web", "m", "u", None).expect_err("a role added");
        assert_eq!(stall.reason, Reason::ImmutableField);
        assert!(stall.message.contains("spec.roleArn is immutable"), "{}", stall.message);
        assert!(Identity::resolve(&spec, &recorded(Some(role)), "web", "m", "u", None).is_ok());
        assert!(
            Identity::resolve(&spec, &recorded(None), "web", "m", "u", None).is_ok(),
            "an older status says nothing"
        );
        spec.role_arn = None;
        let removed = Identity::resolve(&spec, &recorded(Some(role)), "web", "m", "u", None);
        assert_eq!(removed.expect_err("a role removed").reason, Reason::ImmutableField);
    }

    #[test]
    fn bucket_name_and_region_cannot_change_once_recorded() {
        let status = StaticSiteStatus {
            bucket: Some(crate::api::static_site::BucketStatus {
                name: "old".into(),
                arn: "a".into(),
                region: "eu-west-1".into(),
                identity: None,
            }),
            ..Default::default()
        };
        let mut spec = mk_spec();
        spec.bucket.name = Some("new".into());
        spec.region = Some("eu-west-1".into());
        let stall = Identity::resolve(&spec, &status, "web", "m", "u", None).expect_err("stall");
        assert_eq!(stall.reason, Reason::ImmutableField);
        spec.bucket.name = Some("old".into());
        spec.region = Some("us-west-2".into());
        assert!(
            Identity::resolve(&spec, &status, "web", "m", "u", None)
                .expect_err("stall")
                .message
                .contains("spec.region")
        );
        spec.region = Some("eu-west-1".into());
        assert!(Identity::resolve(&spec, &status, "web", "m", "u", None).is_ok());
    }

    #[test]
    fn a_distribution_or_oac_is_proven_ours_only_by_its_caller_reference_or_name() {
        let id = Identity::resolve(&mk_spec(), &StaticSiteStatus::default(), "web", "m", "uid-1", Some("eu-west-1"))
            .expect("identity");
        let mut d = DistributionView {
            id: "E1".into(),
            arn: String::new(),
            domain_name: String::new(),
            status: crate::aws::cloudfront::DistributionState::Deployed,
            settings: Default::default(),
            caller_reference: "uid-1".into(),
        };
        assert_eq!(id.prove_distribution(&d), Ok(()));
        d.caller_reference = "hand-made".into();
        let stall = id.prove_distribution(&d).expect_err("not ours");
        assert_eq!(stall.reason, Reason::NotOwned);
        assert!(stall.message.contains("E1") && stall.message.contains("status.distribution"), "{}", stall.message);
        assert_eq!(id.prove_oac("O1", "awsops-uid-1"), Ok(()));
        assert_eq!(id.prove_oac("O3", "awsops-oac-7"), Ok(()), "a pool member signs for any site");
        let stall = id.prove_oac("O2", "their-oac").expect_err("not ours");
        assert!(stall.message.contains("O2") && stall.message.contains("their-oac"), "{}", stall.message);
    }
}
