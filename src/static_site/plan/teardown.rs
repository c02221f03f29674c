//! Deletion's decisions: what to do with the distribution this pass
//! (disable, wait, delete), and whether the bucket goes.

use crate::api::static_site::DeletionPolicy;
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

#[cfg(test)]
mod tests {
    use super::*;

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
