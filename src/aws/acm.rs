//! What the StaticSite reconciler needs from ACM (always us-east-1).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_acm::types::{DomainValidationOption, Filters, KeyAlgorithm, Tag, ValidationMethod};

use super::{AwsError, AwsErrorKind};

pub const ISSUED: &str = "ISSUED";

aws_state! {
    /// ACM's status of a certificate. The site waits while it is
    /// `PendingValidation`, goes on once `Issued`; any other state ACM will not
    /// issue as it stands.
    CertificateState {
        PendingValidation = "PENDING_VALIDATION",
        Issued = ISSUED,
        Inactive = "INACTIVE",
        Expired = "EXPIRED",
        ValidationTimedOut = "VALIDATION_TIMED_OUT",
        Revoked = "REVOKED",
        Failed = "FAILED",
    }
}

/// A DNS validation record ACM asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationCname {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub arn: String,
    pub status: CertificateState,
    /// ACM's reason for FAILED, e.g. CAA_ERROR.
    pub failure_reason: Option<String>,
    /// Every name the certificate covers (domain + SANs).
    pub names: Vec<String>,
    pub region: String,
    pub validation: Vec<ValidationCname>,
    pub tags: BTreeMap<String, String>,
}

#[async_trait]
pub trait Certificates: Send + Sync {
    /// Requests a DNS-validated certificate; `token` makes retries idempotent.
    async fn request(&self, names: &[String], token: &str, tags: &BTreeMap<String, String>)
    -> Result<String, AwsError>;
    async fn describe(&self, arn: &str) -> Result<Option<Certificate>, AwsError>;
    /// "Already gone" is success.
    async fn delete(&self, arn: &str) -> Result<(), AwsError>;
    /// The names of every certificate but `except` in [`ACCOUNT_REGIONS`]
    /// (ACM validates and renews all certificates for a name, in every
    /// region of the account, through the same DNS record).
    async fn others(&self, except: &str) -> Result<OtherCertificates, AwsError>;
}

/// What [`Certificates::others`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtherCertificates {
    /// Each certificate's names (domain and SANs).
    pub names: Vec<Vec<String>>,
    /// Regions where listing was denied: what they hold is unknown.
    pub unreadable: Vec<String>,
}

/// The regions every AWS account has enabled (opt-in regions are not
/// listed: a certificate there keeps its own record alive only if it is in
/// one of these too).
pub const ACCOUNT_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

pub struct SdkCertificates(pub aws_sdk_acm::Client);

#[async_trait]
impl Certificates for SdkCertificates {
    async fn request(
        &self,
        names: &[String],
        token: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let (first, rest) = names
            .split_first()
            .ok_or_else(|| AwsError::new(AwsErrorKind::Terminal, "RequestCertificate", "", "no names"))?;
        let mut req = self
            .0
            .request_certificate()
            .domain_name(first)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .set_subject_alternative_names((!rest.is_empty()).then(|| rest.to_vec()));
        for name in names {
            req = req.domain_validation_options(
                DomainValidationOption::builder()
                    .domain_name(name)
                    .validation_domain(name.trim_start_matches("*."))
                    .build()
                    .map_err(|e| AwsError::new(AwsErrorKind::Terminal, "RequestCertificate", "", e.to_string()))?,
            );
        }
        for (k, v) in tags {
            req = req.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| AwsError::new(AwsErrorKind::Terminal, "RequestCertificate", "", e.to_string()))?,
            );
        }
        let out = req.send().await.map_err(|e| AwsError::from_sdk("RequestCertificate", e))?;
        Ok(out.certificate_arn().unwrap_or_default().to_string())
    }

    async fn describe(&self, arn: &str) -> Result<Option<Certificate>, AwsError> {
        let out = match self.0.describe_certificate().certificate_arn(arn).send().await {
            Ok(out) => out,
            Err(e) => {
                return AwsError::from_sdk("DescribeCertificate", e).absent_as(None);
            }
        };
        let Some(c) = out.certificate() else { return Ok(None) };
        let mut validation: Vec<ValidationCname> = c
            .domain_validation_options()
            .iter()
            .filter_map(|o| o.resource_record())
            .map(|r| ValidationCname { name: r.name().to_string(), value: r.value().to_string() })
            .collect();
        validation.sort();
        validation.dedup();
        let tags = match self.0.list_tags_for_certificate().certificate_arn(arn).send().await {
            Ok(t) => {
                t.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect()
            }
            Err(e) => return Err(AwsError::from_sdk("ListTagsForCertificate", e)),
        };
        Ok(Some(Certificate {
            arn: arn.to_string(),
            status: c.status().map(|s| s.as_str()).unwrap_or_default().into(),
            failure_reason: c.failure_reason().map(|r| r.as_str().to_string()),
            names: c.subject_alternative_names().to_vec(),
            region: arn.split(':').nth(3).unwrap_or_default().to_string(),
            validation,
            tags,
        }))
    }

    async fn delete(&self, arn: &str) -> Result<(), AwsError> {
        match self.0.delete_certificate().certificate_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) => AwsError::from_sdk("DeleteCertificate", e).absent_as(()),
        }
    }

    async fn others(&self, except: &str) -> Result<OtherCertificates, AwsError> {
        let mut out = OtherCertificates::default();
        for region in ACCOUNT_REGIONS {
            let config = self.0.config().to_builder().region(aws_types::region::Region::new(*region)).build();
            match certificate_names(&aws_sdk_acm::Client::from_conf(config), except).await {
                Ok(names) => out.names.extend(names),
                Err(e) if e.kind == AwsErrorKind::AccessDenied => out.unreadable.push((*region).to_string()),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The names of each certificate in the client's region but `except`, of
/// every key type and status.
async fn certificate_names(client: &aws_sdk_acm::Client, except: &str) -> Result<Vec<Vec<String>>, AwsError> {
    let every_key_type = Filters::builder()
        .set_key_types(Some(KeyAlgorithm::values().iter().map(|k| KeyAlgorithm::from(*k)).collect()))
        .build();
    let mut pages = client.list_certificates().includes(every_key_type).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListCertificates", e))?;
        for c in page.certificate_summary_list() {
            if c.certificate_arn() == Some(except) {
                continue;
            }
            let mut names: Vec<String> = c.subject_alternative_name_summaries().to_vec();
            names.extend(c.domain_name().map(String::from));
            // The summary holds the first 100 names only.
            if c.has_additional_subject_alternative_names() == Some(true)
                && let Some(arn) = c.certificate_arn()
            {
                let full = client.describe_certificate().certificate_arn(arn).send().await;
                let full = full.map_err(|e| AwsError::from_sdk("DescribeCertificate", e))?;
                names.extend(full.certificate().map(|c| c.subject_alternative_names().to_vec()).unwrap_or_default());
            }
            out.push(names);
        }
    }
    Ok(out)
}
