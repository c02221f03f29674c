//! Step 8: Ready once the distribution is deployed and every DNS change is
//! in sync; until then the pass waits (CloudFront takes minutes).

use super::super::plan::summary::{finished, site_url};
use super::super::run::{Halt, Run, WAIT_DEPLOYMENT};
use super::Steps;
use crate::api::conditions::{self, Reason, Summary};
use crate::api::static_site::SitePhase;
use crate::aws::cloudfront::{DistributionState, DistributionView};
use crate::aws::route53::ChangeStatus;

impl Steps<'_> {
    pub async fn summary(self, run: &mut Run<'_>, dist: &DistributionView) -> Result<(), Halt> {
        let deployed = dist.status == DistributionState::Deployed;
        let message = format!("distribution {} is {}", dist.id, dist.status);
        let why = if deployed { Reason::AsExpected } else { Reason::Deploying };
        run.condition(conditions::DISTRIBUTION_DEPLOYED, deployed, why, message);
        let url = site_url(run.site.spec.domain.as_ref(), &dist.domain_name);
        run.next.url = Some(url.clone());
        let dns: Vec<ChangeStatus> = run.next.dns.iter().map(|d| ChangeStatus::from(d.status.as_str())).collect();
        if finished(&dist.status, &dns) {
            run.summarise(SitePhase::Ready, Summary::Ready, Reason::Ready, format!("serving {url}"));
            run.save().await?;
            return Ok(());
        }
        let message = format!("distribution {} is {}; CloudFront deployments take minutes", dist.id, dist.status);
        run.summarise(SitePhase::Deploying, Summary::Reconciling, Reason::Deploying, message);
        run.save().await?;
        Err(Halt::Wait(WAIT_DEPLOYMENT))
    }
}
