//! Step 4: the distribution's settings as the spec declares them, the owned
//! fields that drifted, and what an alias held elsewhere means.

use super::identity::Identity;
use super::routing::Behaviour;
use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{PriceClass, StaticSiteSpec};
use crate::aws::AwsError;
use crate::aws::cloudfront::{CACHING_OPTIMIZED, DistributionSettings};

/// CloudFront refused an alias another distribution (in any account) holds:
/// a stall, since no retry can succeed until that distribution lets go.
pub fn alias_in_use(error: &AwsError, aliases: &[String]) -> Option<Stall> {
    let detail = &error.message;
    error.is_alias_in_use().then(|| {
        Stall::new(
            Reason::AliasInUse,
            format!(
                "CloudFront says one of {aliases:?} is already an alternate domain name of another distribution ({detail}): \
                 remove it from that distribution, or from spec.domain.names"
            ),
        )
    })
}

/// The distribution's settings as the spec declares them.
pub fn desired_distribution(
    spec: &StaticSiteSpec,
    id: &Identity,
    oac_id: &str,
    certificate_arn: Option<&str>,
    behaviour: &Behaviour,
) -> DistributionSettings {
    let mut aliases: Vec<String> = spec.domain.iter().flat_map(|d| d.names.iter().map(|n| n.0.clone())).collect();
    aliases.sort();
    let price_class = match spec.distribution.price_class {
        PriceClass::PriceClass100 => "PriceClass_100",
        PriceClass::PriceClass200 => "PriceClass_200",
        PriceClass::PriceClassAll => "PriceClass_All",
    };
    let with_cert = certificate_arn.filter(|_| !aliases.is_empty());
    DistributionSettings {
        origin_id: format!("s3-{}", id.bucket),
        origin_domain: id.origin_domain(),
        oac_id: Some(oac_id.to_string()),
        enabled: spec.distribution.enabled,
        price_class: price_class.into(),
        comment: spec.distribution.comment.clone().unwrap_or_else(|| default_comment(id)),
        default_root_object: spec.content.index_document.clone(),
        aliases: if with_cert.is_some() { aliases } else { Vec::new() },
        certificate_arn: with_cert.map(str::to_string),
        ssl_support_method: with_cert.map(|_| "sni-only".to_string()),
        minimum_protocol_version: with_cert.map(|_| "TLSv1.2_2021".to_string()),
        viewer_protocol_policy: "redirect-to-https".into(),
        compress: true,
        cache_policy_id: CACHING_OPTIMIZED.into(),
        ipv6: true,
        viewer_request_function: behaviour.function_arn.clone(),
        response_headers_policy_id: behaviour.policy_id.clone(),
        error_pages: behaviour.error_pages.clone(),
    }
}

/// What a distribution runs for routing and headers, as its settings say.
pub fn behaviour_of(settings: &DistributionSettings) -> Behaviour {
    Behaviour {
        function_arn: settings.viewer_request_function.clone(),
        policy_id: settings.response_headers_policy_id.clone(),
        error_pages: settings.error_pages.clone(),
    }
}

/// The owned fields that differ (empty: in sync). An OAC id CloudFront did
/// not return is not counted as drift.
pub fn distribution_drift(desired: &DistributionSettings, actual: &DistributionSettings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |field, differs: bool| {
        if differs {
            out.push(field);
        }
    };
    check("origin", desired.origin_domain != actual.origin_domain || desired.origin_id != actual.origin_id);
    check("originAccessControlId", actual.oac_id.is_some() && desired.oac_id != actual.oac_id);
    check("enabled", desired.enabled != actual.enabled);
    check("priceClass", desired.price_class != actual.price_class);
    check("comment", desired.comment != actual.comment);
    check("defaultRootObject", desired.default_root_object != actual.default_root_object);
    check("aliases", desired.aliases != actual.aliases);
    check("certificate", desired.certificate_arn != actual.certificate_arn);
    check(
        "tls",
        desired.certificate_arn.is_some()
            && (desired.ssl_support_method != actual.ssl_support_method
                || desired.minimum_protocol_version != actual.minimum_protocol_version),
    );
    check("viewerProtocolPolicy", desired.viewer_protocol_policy != actual.viewer_protocol_policy);
    check("compress", desired.compress != actual.compress);
    check("cachePolicy", desired.cache_policy_id != actual.cache_policy_id);
    check("ipv6", desired.ipv6 != actual.ipv6);
    check("routing", desired.viewer_request_function != actual.viewer_request_function);
    check("headers", desired.response_headers_policy_id != actual.response_headers_policy_id);
    check("errorPages", desired.error_pages != actual.error_pages);
    out
}

/// The certificate the distribution served until now, when the desired
/// settings name another one (the site's names changed).
pub fn replaced_certificate(desired: &DistributionSettings, actual: &DistributionSettings) -> Option<String> {
    actual.certificate_arn.clone().filter(|old| Some(old) != desired.certificate_arn.as_ref())
}

/// CloudFront keeps at most this many characters of a comment.
const MAX_COMMENT: usize = 128;

/// `awsops <namespace>/<name>`, cut to what CloudFront accepts.
fn default_comment(id: &Identity) -> String {
    let mut comment = format!("awsops {}/{}", id.namespace, id.name);
    comment.truncate(MAX_COMMENT);
    comment
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{mk_id, mk_spec, with_domain};
    use super::*;

    #[test]
    fn the_default_comment_fits_cloudfronts_128_characters() {
        let mut id = mk_id();
        assert_eq!(default_comment(&id), format!("awsops {}/{}", id.namespace, id.name));
        id.name = "n".repeat(253);
        assert_eq!(default_comment(&id).len(), MAX_COMMENT);
    }
    use crate::aws::AwsErrorKind;

    #[test]
    fn the_distribution_uses_sni_tls12_https_and_the_oac() {
        let names = with_domain(&["b.example.com", "a.example.com"]);
        let d = desired_distribution(&names, &mk_id(), "OAC1", Some("arn:cert"), &Behaviour::default());
        assert_eq!(d.aliases, vec!["a.example.com", "b.example.com"]);
        assert_eq!(d.ssl_support_method.as_deref(), Some("sni-only"));
        assert_eq!(d.minimum_protocol_version.as_deref(), Some("TLSv1.2_2021"));
        assert_eq!(d.viewer_protocol_policy, "redirect-to-https");
        assert_eq!(d.oac_id.as_deref(), Some("OAC1"));
        assert_eq!(d.origin_domain, "site-bucket.s3.eu-west-1.amazonaws.com");
        assert_eq!(d.cache_policy_id, CACHING_OPTIMIZED);
        assert!(d.compress && d.ipv6);
        assert_eq!(d.price_class, "PriceClass_100");
        assert_eq!(d.default_root_object, "index.html");
        let plain = desired_distribution(&mk_spec(), &mk_id(), "OAC1", None, &Behaviour::default());
        assert!(plain.aliases.is_empty() && plain.certificate_arn.is_none());
    }

    #[test]
    fn drift_compares_only_owned_fields_and_tolerates_a_missing_oac_read_back() {
        let desired = desired_distribution(
            &with_domain(&["a.example.com"]),
            &mk_id(),
            "OAC1",
            Some("arn:cert"),
            &Behaviour::default(),
        );
        let mut actual = desired.clone();
        actual.oac_id = None;
        assert!(distribution_drift(&desired, &actual).is_empty());
        actual.enabled = false;
        actual.aliases.clear();
        actual.certificate_arn = Some("arn:other".into());
        assert_eq!(distribution_drift(&desired, &actual), vec!["enabled", "aliases", "certificate"]);
    }

    #[test]
    fn routing_headers_and_error_pages_are_owned_and_their_drift_named() {
        let behaviour = Behaviour {
            function_arn: Some("arn:fn".into()),
            policy_id: Some("P1".into()),
            error_pages: vec![crate::aws::cloudfront::ErrorPage::new(403, "404.html")],
        };
        let desired = desired_distribution(&mk_spec(), &mk_id(), "OAC1", None, &behaviour);
        assert_eq!(behaviour_of(&desired), behaviour);
        let mut actual = desired.clone();
        actual.viewer_request_function = None;
        actual.response_headers_policy_id = Some("P2".into());
        actual.error_pages.clear();
        assert_eq!(distribution_drift(&desired, &actual), vec!["routing", "headers", "errorPages"]);
    }

    #[test]
    fn an_alias_held_elsewhere_is_a_stall_naming_the_names_and_other_conflicts_are_not() {
        let names = vec!["www.example.com".to_string()];
        let refused =
            |code: &str, message: &str| AwsError::new(AwsErrorKind::Conflict, "UpdateDistribution", code, message);
        let stall = alias_in_use(&refused("CNAMEAlreadyExists", "taken"), &names).expect("a stall");
        assert_eq!(stall.reason, Reason::AliasInUse);
        assert!(stall.message.contains("www.example.com") && stall.message.contains("spec.domain.names"));
        assert_eq!(alias_in_use(&refused("DistributionAlreadyExists", "lost response"), &names), None);
    }

    #[test]
    fn a_certificate_is_replaced_only_when_the_desired_one_differs() {
        let desired = desired_distribution(
            &with_domain(&["a.example.com"]),
            &mk_id(),
            "OAC1",
            Some("arn:new"),
            &Behaviour::default(),
        );
        let mut actual = desired.clone();
        assert_eq!(replaced_certificate(&desired, &actual), None);
        actual.certificate_arn = Some("arn:old".into());
        assert_eq!(replaced_certificate(&desired, &actual).as_deref(), Some("arn:old"));
        actual.certificate_arn = None;
        assert_eq!(replaced_certificate(&desired, &actual), None);
    }
}
