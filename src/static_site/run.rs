//! One pass over one site: the AWS capabilities it uses ([`SiteAws`]), the
//! status as last written and as it will be written ([`Run`]), saved as soon
//! as a step has something to record (so a restart resumes without
//! duplicates), events, and why a pass stops early ([`Halt`]).

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::StaticSite;
use crate::api::conditions::{self, Desired, Reason, Stall, Summary};
use crate::api::static_site::{DistributionStatus, HeadersStatus, RoutingStatus, SitePhase, StaticSiteStatus};
use crate::aws::acm::Certificates;
use crate::aws::cloudfront::{Cdn, DistributionView};
use crate::aws::edge::Edge;
use crate::aws::route53::Dns;
use crate::aws::s3::Buckets;
use crate::aws::{AwsClients, AwsError};
use crate::core::{Context, Error, status};

use super::plan::routing::Attached;

/// The AWS capabilities a site uses.
pub struct SiteAws {
    pub buckets: Box<dyn Buckets>,
    pub cdn: Box<dyn Cdn>,
    pub edge: Box<dyn Edge>,
    pub certificates: Box<dyn Certificates>,
    pub dns: Box<dyn Dns>,
}

impl SiteAws {
    pub fn from_clients(c: &AwsClients) -> Self {
        Self {
            buckets: Box::new(c.buckets()),
            cdn: Box::new(c.cdn()),
            edge: Box::new(c.edge()),
            certificates: Box::new(c.certificates()),
            dns: Box::new(c.dns()),
        }
    }
}

/// How often to look while CloudFront deploys (minutes, often more).
pub const WAIT_DEPLOYMENT: Duration = Duration::from_secs(20);

/// Why a pass stops before its last step.
#[derive(Debug)]
pub enum Halt {
    /// AWS is busy (a certificate validating, a distribution deploying): look again then.
    Wait(Duration),
    /// No progress without a spec change or outside help.
    Stall(Stall),
    Aws(AwsError),
    /// The API server or the local state folder failed.
    Error(Error),
    /// Something outside AWS (a content source) failed: `Reconciling` with
    /// the reason, looked at again after [`RETRY_SOURCE`].
    Retry(Reason, String),
}

/// How long a site whose content source failed waits for the next try.
pub const RETRY_SOURCE: Duration = Duration::from_secs(30);

impl From<super::content::fetch::Failure> for Halt {
    fn from(failure: super::content::fetch::Failure) -> Self {
        match failure {
            super::content::fetch::Failure::Stall(stall) => Self::Stall(stall),
            super::content::fetch::Failure::Retry(message) => Self::Retry(Reason::SourceUnreachable, message),
            super::content::fetch::Failure::Local(message) => Self::Retry(Reason::WorkFolderFailed, message),
        }
    }
}

impl From<AwsError> for Halt {
    fn from(e: AwsError) -> Self {
        Self::Aws(e)
    }
}

impl From<Error> for Halt {
    fn from(e: Error) -> Self {
        Self::Error(e)
    }
}

impl From<Stall> for Halt {
    fn from(stall: Stall) -> Self {
        Self::Stall(stall)
    }
}

/// What status says now (`written`) and what it will say (`next`).
pub struct Run<'a> {
    pub site: &'a StaticSite,
    pub ctx: &'a Context,
    pub written: StaticSiteStatus,
    pub next: StaticSiteStatus,
    /// This pass created the distribution (it has cached nothing to invalidate).
    pub distribution_created: bool,
    now: Timestamp,
}

impl<'a> Run<'a> {
    pub fn new(site: &'a StaticSite, ctx: &'a Context) -> Self {
        let written = site.status.clone().unwrap_or_default();
        Self { site, ctx, next: written.clone(), written, distribution_created: false, now: Timestamp::now() }
    }

    /// Merges conditions into `next`.
    pub fn set(&mut self, desired: Vec<Desired>) {
        let generation = self.site.metadata.generation;
        self.next.observed_generation = generation;
        self.next.conditions = conditions::merge(&self.next.conditions, &desired, generation, self.now);
    }

    /// Sets one step's condition (`BucketReady`, `DnsReady`, ...).
    pub fn condition(&mut self, type_: &'static str, done: bool, why: Reason, message: impl Into<String>) {
        self.set(vec![Desired::new(type_, done, why, message)]);
    }

    /// Sets the phase and the summary conditions.
    pub fn summarise(&mut self, phase: SitePhase, summary: Summary, why: Reason, message: String) {
        self.next.phase = Some(phase);
        self.set(conditions::summary(summary, why, message));
    }

    /// Writes `next` if it differs from what was written, with an event when
    /// the summary condition changes.
    pub async fn save(&mut self) -> Result<(), Error> {
        if status::apply(self.ctx.objects.as_ref(), self.site, Some(&self.written), &self.next).await? {
            self.ctx.events.transition(self.site, &self.written.conditions, &self.next.conditions).await;
            self.written = self.next.clone();
        }
        Ok(())
    }

    /// A Normal event about a step done.
    pub async fn note(&self, reason: Reason, message: String) {
        self.ctx.events.normal(self.site, reason, "Reconcile", message).await;
    }

    /// A Warning event that does not stop the pass.
    pub async fn warn(&self, reason: Reason, message: String) {
        self.ctx.events.warning(self.site, reason, "Reconcile", message).await;
    }

    pub fn record_distribution(&mut self, d: &DistributionView) {
        self.next.distribution = Some(DistributionStatus {
            id: d.id.clone(),
            arn: d.arn.clone(),
            domain_name: d.domain_name.clone(),
            status: d.status.to_string(),
        });
    }

    /// What the distribution runs for `routing` and `headers`, as it runs it now.
    pub fn record_edge(&mut self, attached: &Attached) {
        let routing = self.site.spec.routing.as_ref();
        self.next.routing = routing.map(|r| RoutingStatus {
            function: attached.function.as_ref().map(|(name, _)| name.clone()),
            not_found: r.not_found.clone(),
        });
        self.next.headers = attached
            .policy
            .as_ref()
            .map(|(id, name)| HeadersStatus { policy_id: id.clone(), policy_name: name.clone() });
    }

    /// Writes the stall as the site's status.
    pub async fn stall(&mut self, stall: Stall, phase: SitePhase) -> Result<(), Error> {
        self.next.phase = Some(phase);
        self.set(stall.conditions());
        self.save().await
    }
}
