//! Step 3, with a domain: the certificate, validated through DNS before the
//! distribution exists. A certificate named in the spec was checked while
//! observing; otherwise the site requests one for its names and writes the
//! validation records. The pass waits until ACM issues it.

use std::time::Duration;

use super::super::observe::CheckedDomain;
use super::super::plan::certificate::{self, certificate_failed, certificate_token, common_name_first};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{self, Reason, Summary};
use crate::api::static_site::{CertificateStatus, SitePhase};
use crate::aws::acm::{Certificate, CertificateState};
use crate::aws::{AwsError, AwsErrorKind};

/// How often to look while ACM validates.
const WAIT_CERTIFICATE: Duration = Duration::from_secs(15);

impl Steps<'_> {
    /// The issued certificate's ARN (`None` without a domain).
    pub async fn certificate(self, run: &mut Run<'_>, domain: Option<&CheckedDomain>) -> Result<Option<String>, Halt> {
        let Some(domain) = domain else { return Ok(None) };
        let cert = match &domain.given {
            Some(given) => given.clone(),
            None => self.requested(run, domain).await?,
        };
        run.next.certificate = Some(certificate::status_of(&cert));
        if let Some(stall) = certificate_failed(&cert) {
            run.condition(conditions::CERTIFICATE_ISSUED, false, stall.reason, stall.message.clone());
            return Err(stall.into());
        }
        if cert.status != CertificateState::Issued {
            let zone = &domain.zone.name;
            let message =
                format!("certificate {} is {}; DNS validation records are in zone {zone}", cert.arn, cert.status);
            run.condition(conditions::CERTIFICATE_ISSUED, false, Reason::WaitingForCertificate, message.clone());
            run.summarise(
                SitePhase::WaitingForCertificate,
                Summary::Reconciling,
                Reason::WaitingForCertificate,
                message,
            );
            run.save().await?;
            return Err(Halt::Wait(WAIT_CERTIFICATE));
        }
        let message = format!("certificate {} is issued", cert.arn);
        run.condition(conditions::CERTIFICATE_ISSUED, true, Reason::AsExpected, message);
        Ok(Some(cert.arn))
    }

    /// The certificate this site requested (requesting it when there is none
    /// for the current names), with its validation records written to the zone.
    async fn requested(self, run: &mut Run<'_>, domain: &CheckedDomain) -> Result<Certificate, Halt> {
        let cert = match &domain.requested {
            Some(cert) => cert.clone(),
            None => self.request(run, &domain.names).await?,
        };
        let missing = certificate::missing_validation_records(&cert, &domain.records);
        if !missing.is_empty() {
            self.aws.dns.change(&domain.zone, &missing).await?;
            let message = format!("{} DNS validation records in zone {}", missing.len(), domain.zone.name);
            run.note(Reason::ValidationRecordsWritten, message).await;
        }
        Ok(cert)
    }

    /// A new request. A recorded certificate that is gone (deleted after it
    /// failed) or for other names is replaced, not answered with itself by
    /// the idempotency token.
    async fn request(self, run: &mut Run<'_>, names: &[String]) -> Result<Certificate, Halt> {
        let replaces = run.written.certificate.as_ref().map(|c| c.arn.as_str());
        let token = certificate_token(&self.id.uid, names, replaces);
        let arn = self.aws.certificates.request(&common_name_first(names), &token, &self.id.tags()).await?;
        run.note(Reason::CertificateRequested, format!("certificate {arn} for {names:?}")).await;
        let pending = CertificateState::PendingValidation.to_string();
        run.next.certificate =
            Some(CertificateStatus { arn: arn.clone(), status: pending, validation_records: vec![] });
        run.save().await?;
        let cert = self.aws.certificates.describe(&arn).await?.ok_or_else(|| {
            AwsError::new(AwsErrorKind::Retryable, "DescribeCertificate", "", "certificate not yet visible")
        })?;
        Ok(cert)
    }

    /// Deletes a certificate this site requested that the distribution no
    /// longer uses (the names changed). One CloudFront still holds (ACM
    /// answers in use for minutes after the update) is kept in
    /// `status.retiredCertificates` and tried again on later looks.
    pub async fn retire_certificate(self, run: &mut Run<'_>, arn: &str) -> Result<(), AwsError> {
        let done = match self.aws.certificates.describe(arn).await? {
            None => true,
            Some(cert) if !self.id.owns(&cert.tags) => true,
            Some(_) => match self.aws.certificates.delete(arn).await {
                Ok(()) => {
                    run.note(Reason::CertificateDeleted, format!("{arn} (replaced)")).await;
                    true
                }
                Err(e) if e.kind == AwsErrorKind::Conflict => {
                    if !run.next.retired_certificates.iter().any(|a| a == arn) {
                        let message = format!(
                            "certificate {arn} is replaced but still in use ({e}); deleted on a later look once CloudFront releases it"
                        );
                        run.warn(Reason::CertificateNotDeleted, message).await;
                    }
                    false
                }
                Err(e) => return Err(e),
            },
        };
        run.next.retired_certificates.retain(|a| a != arn);
        if !done {
            run.next.retired_certificates.push(arn.to_string());
        }
        Ok(())
    }

    /// Tries again to delete each certificate a replacement left behind.
    pub async fn retire_certificates_left(self, run: &mut Run<'_>) -> Result<(), AwsError> {
        for arn in run.written.retired_certificates.clone() {
            self.retire_certificate(run, &arn).await?;
        }
        Ok(())
    }
}
