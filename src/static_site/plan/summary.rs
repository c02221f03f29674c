//! Step 8: when a site is Ready, and the URL it answers on.

use crate::api::static_site::DomainSpec;
use crate::aws::cloudfront::DistributionState;
use crate::aws::route53::ChangeStatus;

/// Step 8: Ready only when the distribution is `Deployed` and every DNS change
/// is `INSYNC`; otherwise still deploying.
pub fn finished(distribution: &DistributionState, dns: &[ChangeStatus]) -> bool {
    *distribution == DistributionState::Deployed && dns.iter().all(|s| *s == ChangeStatus::InSync)
}

/// The address the site answers on: the first name that is not a wildcard,
/// else the distribution's own domain.
pub fn site_url(domain: Option<&DomainSpec>, distribution_domain: &str) -> String {
    let name = domain.and_then(|d| d.names.iter().map(|n| n.0.as_str()).find(|n| !n.starts_with("*.")));
    format!("https://{}", name.unwrap_or(distribution_domain))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::with_domain;
    use super::*;

    #[test]
    fn ready_waits_for_deployed_and_insync() {
        let (deployed, in_progress) = (DistributionState::Deployed, DistributionState::InProgress);
        let (insync, pending) = (ChangeStatus::InSync, ChangeStatus::Pending);
        assert!(finished(&deployed, &[insync.clone(), insync.clone()]));
        assert!(finished(&deployed, &[]));
        assert!(!finished(&in_progress, std::slice::from_ref(&insync)));
        assert!(!finished(&deployed, &[insync, pending]));
    }

    #[test]
    fn the_url_is_the_first_name_that_is_not_a_wildcard_else_the_distribution() {
        let spec = with_domain(&["*.example.com", "www.example.com"]);
        assert_eq!(site_url(spec.domain.as_ref(), "d1.cloudfront.net"), "https://www.example.com");
        assert_eq!(
            site_url(with_domain(&["*.example.com"]).domain.as_ref(), "d1.cloudfront.net"),
            "https://d1.cloudfront.net"
        );
        assert_eq!(site_url(None, "d1.cloudfront.net"), "https://d1.cloudfront.net");
    }
}
