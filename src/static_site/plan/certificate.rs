//! Step 3: the certificate. Whether one named in the spec can serve the
//! names, whether one the site requested will ever be issued, the token that
//! keeps a request idempotent, and the validation records still missing.

use std::collections::BTreeSet;

use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::{CertificateStatus, MAX_COMMON_NAME, ValidationRecord};
use crate::aws::acm::{Certificate, CertificateState};
use crate::aws::route53::{Record, RecordChange, RecordType, bare};

/// Whether a certificate for `cert_names` serves `name` (exact, or one-label wildcard).
pub fn covers(cert_names: &[String], name: &str) -> bool {
    cert_names.iter().any(|c| {
        c == name
            || (c.starts_with("*.")
                && name.split_once('.').is_some_and(|(first, rest)| first != "*" && rest == &c[2..]))
    })
}

/// Checks a certificate named in `spec.domain.certificateArn`.
pub fn check_given_certificate(names: &[String], cert: &Certificate) -> Result<(), Stall> {
    let (arn, region, cert_names) = (&cert.arn, &cert.region, &cert.names);
    if region != "us-east-1" {
        return Err(Stall::new(
            Reason::CertificateNotUsable,
            format!("certificate {arn} is in {region}; CloudFront only uses certificates from us-east-1"),
        ));
    }
    let missing: Vec<&String> = names.iter().filter(|n| !covers(cert_names, n)).collect();
    if !missing.is_empty() {
        return Err(Stall::new(
            Reason::CertificateNotUsable,
            format!(
                "certificate {arn} does not cover {missing:?} (it covers {cert_names:?}): use a certificate for every name, or omit certificateArn"
            ),
        ));
    }
    if never_issued(cert) {
        return Err(Stall::new(
            Reason::CertificateNotUsable,
            format!(
                "certificate {arn} is {}: renew or replace it and update spec.domain.certificateArn, or remove certificateArn to have one requested",
                status_and_reason(cert)
            ),
        ));
    }
    Ok(())
}

/// Anything but ISSUED or PENDING_VALIDATION: ACM will not issue it as it stands.
fn never_issued(cert: &Certificate) -> bool {
    !matches!(cert.status, CertificateState::Issued | CertificateState::PendingValidation)
}

/// e.g. `FAILED (CAA_ERROR)`.
fn status_and_reason(cert: &Certificate) -> String {
    match &cert.failure_reason {
        Some(reason) => format!("{} ({reason})", cert.status),
        None => cert.status.to_string(),
    }
}

/// A certificate the site requested that ACM will never issue: the site
/// stalls with what to fix; once the user deletes it, a new one is requested
/// (see [`certificate_token`]).
pub fn certificate_failed(cert: &Certificate) -> Option<Stall> {
    if !never_issued(cert) {
        return None;
    }
    let hint = match (&cert.status, cert.failure_reason.as_deref()) {
        (CertificateState::ValidationTimedOut, _) => {
            " The validation records were not seen for 72 hours: check that the hosted zone is the one the domain's registrar delegates to (NS records)."
        }
        (_, Some("CAA_ERROR")) => " A CAA record forbids Amazon: allow amazon.com in the domain's CAA records.",
        _ => "",
    };
    let arn = &cert.arn;
    Some(Stall::new(
        Reason::CertificateFailed,
        format!(
            "certificate {arn} is {}; ACM will not issue it.{hint} Then delete it (aws acm delete-certificate --region us-east-1 --certificate-arn {arn}) and the site requests a new one at its next look",
            status_and_reason(cert)
        ),
    ))
}

/// The idempotency token for a certificate request: stable for the same site
/// and names (a retry after a lost response gets the same certificate), and
/// new once the recorded certificate it `replaces` is gone.
pub fn certificate_token(uid: &str, names: &[String], replaces: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(uid);
    for n in names {
        h.update(n);
    }
    if let Some(previous) = replaces {
        h.update(previous);
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// Whether a certificate covers exactly `names` (a certificate for other
/// names is replaced by a new request).
pub fn for_exactly(cert: &Certificate, names: &[String]) -> bool {
    cert.names.iter().collect::<BTreeSet<_>>() == names.iter().collect::<BTreeSet<_>>()
}

/// The validation CNAMEs ACM asks for that the zone does not hold yet;
/// none once the certificate is issued.
pub fn missing_validation_records(cert: &Certificate, existing: &[Record]) -> Vec<RecordChange> {
    if cert.status == CertificateState::Issued {
        return Vec::new();
    }
    cert.validation
        .iter()
        .map(|v| Record { name: bare(&v.name), type_: RecordType::Cname, alias: None, values: vec![v.value.clone()] })
        .filter(|wanted| {
            !existing.iter().any(|e| {
                e.name == wanted.name
                    && e.type_ == RecordType::Cname
                    && e.values.iter().any(|x| x.trim_end_matches('.') == wanted.values[0].trim_end_matches('.'))
            })
        })
        .map(RecordChange::Upsert)
        .collect()
}

/// The certificate as status shows it.
pub fn status_of(cert: &Certificate) -> CertificateStatus {
    CertificateStatus {
        arn: cert.arn.clone(),
        status: cert.status.to_string(),
        validation_records: cert
            .validation
            .iter()
            .map(|v| ValidationRecord {
                name: v.name.clone(),
                type_: RecordType::Cname.to_string(),
                value: v.value.clone(),
            })
            .collect(),
    }
}

/// The names in request order: first the one ACM makes the common name,
/// the shortest of at most 64 characters (ACM requires one), then the rest
/// as they were.
pub fn common_name_first(names: &[String]) -> Vec<String> {
    let common = names.iter().enumerate().filter(|(_, n)| n.len() <= MAX_COMMON_NAME).min_by_key(|(_, n)| n.len());
    match common {
        Some((at, _)) => {
            let mut out = names.to_vec();
            let first = out.remove(at);
            out.insert(0, first);
            out
        }
        None => names.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_is_the_shortest_name_that_acm_takes() {
        let long = format!("{}.example.com", "a".repeat(60));
        let names = vec![long.clone(), "www.example.com".to_string(), "example.com".to_string()];
        assert_eq!(common_name_first(&names), vec!["example.com".to_string(), long.clone(), "www.example.com".into()]);
        let short_first = vec!["a.io".to_string(), long.clone()];
        assert_eq!(common_name_first(&short_first), short_first);
    }
    use std::collections::BTreeMap;

    use crate::aws::acm::{ISSUED, ValidationCname};

    #[test]
    fn certificates_cover_exact_names_and_one_wildcard_level() {
        let names = vec!["example.com".to_string(), "*.example.com".to_string()];
        assert!(covers(&names, "example.com"));
        assert!(covers(&names, "www.example.com"));
        assert!(!covers(&names, "a.b.example.com"));
        assert!(!covers(&names, "example.org"));
        let arn = "arn:aws:acm:us-east-1:1:certificate/x";
        let cert = |region: &str, status: &str| Certificate {
            arn: arn.into(),
            status: status.into(),
            failure_reason: None,
            names: names.clone(),
            region: region.into(),
            validation: vec![],
            tags: BTreeMap::new(),
        };
        assert_eq!(check_given_certificate(&["www.example.com".into()], &cert("us-east-1", ISSUED)), Ok(()));
        assert_eq!(
            check_given_certificate(&["www.example.com".into()], &cert("eu-west-1", ISSUED))
                .expect_err("region")
                .reason,
            Reason::CertificateNotUsable
        );
        assert!(
            check_given_certificate(&["shop.example.org".into()], &cert("us-east-1", ISSUED))
                .expect_err("names")
                .message
                .contains("does not cover")
        );
    }

    #[test]
    fn the_certificate_token_depends_on_site_names_and_the_certificate_it_replaces() {
        let a = certificate_token("u", &["a.example.com".into()], None);
        assert_eq!(a, certificate_token("u", &["a.example.com".into()], None));
        assert_ne!(a, certificate_token("u", &["b.example.com".into()], None));
        assert_ne!(a, certificate_token("v", &["a.example.com".into()], None));
        let replacing = certificate_token("u", &["a.example.com".into()], Some("arn:old"));
        assert_ne!(a, replacing, "a deleted certificate is replaced by a new request, not the same one");
        assert_eq!(replacing, certificate_token("u", &["a.example.com".into()], Some("arn:old")));
        assert_eq!(a.len(), 32);
    }

    fn certificate(status: &str, failure_reason: Option<&str>) -> Certificate {
        Certificate {
            arn: "arn:c".into(),
            status: status.into(),
            failure_reason: failure_reason.map(str::to_string),
            names: vec!["www.example.com".into()],
            region: "us-east-1".into(),
            validation: vec![],
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn only_issued_and_pending_certificates_are_waited_for() {
        let names = ["www.example.com".to_string()];
        assert_eq!(certificate_failed(&certificate(ISSUED, None)), None);
        assert_eq!(certificate_failed(&certificate("PENDING_VALIDATION", None)), None);
        assert_eq!(check_given_certificate(&names, &certificate("PENDING_VALIDATION", None)), Ok(()));
        for status in ["FAILED", "VALIDATION_TIMED_OUT", "EXPIRED", "REVOKED", "INACTIVE"] {
            let requested = certificate_failed(&certificate(status, None)).expect("stalls");
            assert_eq!(requested.reason, Reason::CertificateFailed, "{status}");
            assert!(requested.message.contains("delete-certificate") && requested.message.contains("arn:c"));
            let given = check_given_certificate(&names, &certificate(status, None)).expect_err("stalls");
            assert_eq!(given.reason, Reason::CertificateNotUsable, "{status}");
            assert!(given.message.contains("spec.domain.certificateArn"), "{}", given.message);
        }
    }

    #[test]
    fn a_failed_certificate_says_why_and_what_to_fix() {
        let caa = certificate_failed(&certificate("FAILED", Some("CAA_ERROR"))).expect("stalls");
        assert!(caa.message.contains("(CAA_ERROR)") && caa.message.contains("allow amazon.com"), "{}", caa.message);
        let timed_out = certificate_failed(&certificate("VALIDATION_TIMED_OUT", None)).expect("stalls");
        assert!(timed_out.message.contains("NS records"), "{}", timed_out.message);
        let other = certificate_failed(&certificate("FAILED", Some("DOMAIN_NOT_ALLOWED"))).expect("stalls");
        assert!(other.message.contains("(DOMAIN_NOT_ALLOWED)"), "{}", other.message);
    }

    #[test]
    fn only_the_validation_records_the_zone_lacks_are_written_and_none_once_issued() {
        let mut cert = certificate("PENDING_VALIDATION", None);
        cert.validation = vec![
            ValidationCname { name: "_a.www.example.com.".into(), value: "_x.acm-validations.aws.".into() },
            ValidationCname { name: "_b.example.com.".into(), value: "_y.acm-validations.aws.".into() },
        ];
        let present = Record {
            name: "_a.www.example.com".into(),
            type_: RecordType::Cname,
            alias: None,
            values: vec!["_x.acm-validations.aws".into()],
        };
        let missing = missing_validation_records(&cert, &[present]);
        assert_eq!(missing.len(), 1);
        assert!(
            matches!(&missing[0], RecordChange::Upsert(r) if r.name == "_b.example.com" && r.type_ == RecordType::Cname)
        );
        cert.status = CertificateState::Issued;
        assert!(missing_validation_records(&cert, &[]).is_empty());
    }

    #[test]
    fn a_certificate_is_kept_only_for_exactly_the_same_names() {
        let cert = certificate(ISSUED, None);
        assert!(for_exactly(&cert, &["www.example.com".into()]));
        assert!(!for_exactly(&cert, &["www.example.com".into(), "example.com".into()]));
    }
}
