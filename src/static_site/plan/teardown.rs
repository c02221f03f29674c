//! Deletion's decisions: what to do with the distribution this pass
//! (disable, wait, delete), which validation records go, and whether the
//! bucket goes.

use crate::api::static_site::{DeletionPolicy, StaticSiteStatus};
use crate::aws::acm::{OtherCertificates, ValidationCname};
use crate::aws::cloudfront::DistributionState;

/// Deletion: what to do with the distribution this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistributionTeardown {
    Gone,
    Disable,
    WaitForDeployment,
    Delete,
}

pub fn distribution_teardown(enabled: Option<bool>, status: Option<&DistributionState>) -> DistributionTeardown {
    match (enabled, status) {
        (None, _) => DistributionTeardown::Gone,
        (Some(true), _) => DistributionTeardown::Disable,
        (Some(false), Some(DistributionState::Deployed)) => DistributionTeardown::Delete,
        (Some(false), _) => DistributionTeardown::WaitForDeployment,
    }
}

/// Whether cleanup empties and deletes the bucket.
pub fn deletes_bucket(policy: DeletionPolicy) -> bool {
    policy == DeletionPolicy::Delete
}

/// The domain a validation record proves (`_x.www.example.com.` →
/// `www.example.com`).
pub fn validated_domain(record: &str) -> Option<String> {
    let (_, domain) = record.trim_end_matches('.').split_once('.')?;
    Some(domain.to_ascii_lowercase())
}

/// The validation records no other certificate needs: none of `others`
/// covers their domain (a wildcard `*.d` renews through `d`'s record), and
/// no region was unreadable (then every record stays).
pub fn unshared(validation: &[ValidationCname], others: &OtherCertificates) -> Vec<ValidationCname> {
    if !others.unreadable.is_empty() {
        return Vec::new();
    }
    let covered =
        |domain: &str| others.names.iter().flatten().any(|n| n.trim_start_matches("*.").eq_ignore_ascii_case(domain));
    validation.iter().filter(|v| validated_domain(&v.name).is_none_or(|d| !covered(&d))).cloned().collect()
}

/// Status names nothing the site created in AWS.
pub fn nothing_recorded(status: &StaticSiteStatus) -> bool {
    status.bucket.is_none()
        && status.origin_access_control_id.is_none()
        && status.certificate.is_none()
        && status.retired_certificates.is_empty()
        && status.edge_resources.is_empty()
        && status.distribution.is_none()
        && status.dns.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_record_another_certificate_covers_stays_and_the_others_go() {
        let record = |name: &str| ValidationCname { name: name.into(), value: format!("{name}acm-validations.aws.") };
        let validation = [record("_a1.www.example.com."), record("_b2.example.com."), record("_c3.api.example.com.")];
        assert_eq!(validated_domain("_a1.www.example.com."), Some("www.example.com".into()));
        assert_eq!(validated_domain("_A1.WWW.Example.com"), Some("www.example.com".into()));
        assert_eq!(validated_domain("nodot"), None);
        let others = |names: &[&str]| OtherCertificates {
            names: vec![names.iter().map(|n| n.to_string()).collect()],
            unreadable: vec![],
        };
        let doomed = unshared(&validation, &others(&["*.Example.com", "shop.example.org"]));
        assert_eq!(
            doomed,
            vec![record("_a1.www.example.com."), record("_c3.api.example.com.")],
            "a wildcard shares d's record"
        );
        assert_eq!(unshared(&validation, &others(&[])), validation.to_vec(), "nothing shared: all go");
        let blind = OtherCertificates { names: vec![], unreadable: vec!["eu-west-1".into()] };
        assert_eq!(unshared(&validation, &blind), vec![], "a region that could not be read keeps every record");
    }

    #[test]
    fn a_site_that_recorded_nothing_has_nothing_to_remove() {
        assert!(nothing_recorded(&StaticSiteStatus::default()));
        let with_dns = StaticSiteStatus { dns: vec![Default::default()], ..Default::default() };
        assert!(!nothing_recorded(&with_dns));
        let with_oac = StaticSiteStatus { origin_access_control_id: Some("E1".into()), ..Default::default() };
        assert!(!nothing_recorded(&with_oac));
    }

    #[test]
    fn a_distribution_is_disabled_then_waited_for_then_deleted() {
        assert_eq!(distribution_teardown(None, None), DistributionTeardown::Gone);
        assert_eq!(
            distribution_teardown(Some(true), Some(&DistributionState::Deployed)),
            DistributionTeardown::Disable
        );
        assert_eq!(
            distribution_teardown(Some(false), Some(&DistributionState::InProgress)),
            DistributionTeardown::WaitForDeployment
        );
        assert_eq!(
            distribution_teardown(Some(false), Some(&DistributionState::Deployed)),
            DistributionTeardown::Delete
        );
        assert!(deletes_bucket(DeletionPolicy::Delete) && !deletes_bucket(DeletionPolicy::Retain));
    }
}
