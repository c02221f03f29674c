//! Deletion's decisions: what to do with the distribution this pass
//! (disable, wait, delete), which validation records go, and whether the
//! bucket goes.

use crate::api::static_site::DeletionPolicy;
use crate::aws::acm::ValidationCname;
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

/// The validation records whose domain no other certificate covers (`shared`).
pub fn unshared(validation: &[ValidationCname], shared: &[String]) -> Vec<ValidationCname> {
    validation.iter().filter(|v| validated_domain(&v.name).is_none_or(|d| !shared.contains(&d))).cloned().collect()
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
        let shared = ["example.com".to_string()];
        let doomed = unshared(&validation, &shared);
        assert_eq!(doomed, vec![record("_a1.www.example.com."), record("_c3.api.example.com.")]);
        assert_eq!(unshared(&validation, &[]), validation.to_vec(), "nothing shared: all go");
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
