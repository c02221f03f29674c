//! Step 3b: the CloudFront Function `routing` compiles to, published to
//! LIVE, and the response headers policy `headers` asks for, both before the
//! distribution that runs them; after the distribution moved off one, its
//! release (kept while another site's distribution uses it).

use super::super::plan::routing::{self, Attached, Function, HeadersChoice};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::Reason;
use crate::aws::cloudfront::DistributionSettings;
use crate::aws::edge::{HeadersPolicyConfig, Release};
use crate::aws::{AwsError, CreateOutcome};

const FUNCTION_COMMENT: &str = "awsops StaticSite routing: shared by sites with the same routing";

impl Steps<'_> {
    /// The function and policy the spec asks for, existing with the content
    /// their names promise.
    pub async fn edge(self, run: &mut Run<'_>) -> Result<Attached, Halt> {
        let spec = &run.site.spec;
        let function = spec.routing.as_ref().and_then(|r| routing::function(r, &spec.content.index_document));
        let function = match function {
            Some(f) => Some((f.name.clone(), self.live_function(run, &f).await?)),
            None => None,
        };
        let policy = match routing::headers(spec.headers.as_ref()) {
            HeadersChoice::Nothing => None,
            HeadersChoice::Managed => Some((
                routing::MANAGED_SECURITY_HEADERS.to_string(),
                routing::MANAGED_SECURITY_HEADERS_NAME.to_string(),
            )),
            HeadersChoice::Own(config) => Some((self.headers_policy(run, &config).await?, config.name)),
        };
        Ok(Attached { function, policy })
    }

    /// The function's ARN once LIVE runs exactly `f.code`.
    async fn live_function(self, run: &Run<'_>, f: &Function) -> Result<String, AwsError> {
        let edge = &self.aws.edge;
        let live = edge.live_function(&f.name).await?;
        if let Some(live) = &live
            && live.code == f.code.as_bytes()
        {
            return Ok(live.arn.clone());
        }
        let arn = edge.publish_function(&f.name, FUNCTION_COMMENT, &f.code).await?;
        let what = if live.is_some() { "put back (its LIVE code had been changed)" } else { "published" };
        run.note(Reason::RoutingPublished, format!("routing function {} {what}", f.name)).await;
        Ok(arn)
    }

    /// The policy's id once it holds exactly `config`.
    async fn headers_policy(self, run: &Run<'_>, config: &HeadersPolicyConfig) -> Result<String, AwsError> {
        let edge = &self.aws.edge;
        let recorded = run.written.headers.as_ref().filter(|h| h.policy_name == config.name);
        let found = match recorded {
            Some(h) => edge.policy(&h.policy_id).await?.filter(|p| p.config.name == config.name),
            None => None,
        };
        let found = match found {
            Some(p) => Some(p),
            None => edge.find_policy(&config.name).await?,
        };
        match found {
            Some(p) if &p.config == config => Ok(p.id),
            Some(p) => {
                edge.update_policy(&p.id, config).await?;
                run.note(Reason::HeadersPolicyApplied, format!("headers policy {} put back", config.name)).await;
                Ok(p.id)
            }
            None => match edge.create_policy(config).await? {
                CreateOutcome::Created(id) => {
                    run.note(Reason::HeadersPolicyApplied, format!("headers policy {} created", config.name)).await;
                    Ok(id)
                }
                // Created meanwhile by a site with the same headers: found on the next look.
                CreateOutcome::AlreadyExists => Err(AwsError::not_listed_yet(
                    "ListResponseHeadersPolicies",
                    &format!("headers policy {}", config.name),
                )),
            },
        }
    }

    /// Releases what the distribution ran `before` and no longer runs: the
    /// function and policy awsops made (never another's), kept while another
    /// site's distribution still uses them.
    pub async fn release_edge(
        self,
        run: &Run<'_>,
        before: &DistributionSettings,
        now: &DistributionSettings,
    ) -> Result<(), Halt> {
        if let Some(arn) = &before.viewer_request_function
            && Some(arn) != now.viewer_request_function.as_ref()
        {
            self.release_function(run, routing::function_name(arn)).await?;
        }
        if let Some(id) = &before.response_headers_policy_id
            && Some(id) != now.response_headers_policy_id.as_ref()
        {
            self.release_policy(run, id).await?;
        }
        Ok(())
    }

    pub async fn release_function(self, run: &Run<'_>, name: &str) -> Result<(), AwsError> {
        if routing::is_ours(name) && self.aws.edge.delete_function(name).await? == Release::Deleted {
            run.note(Reason::EdgeReleased, format!("routing function {name} deleted: no site uses it")).await;
        }
        Ok(())
    }

    pub async fn release_policy(self, run: &Run<'_>, id: &str) -> Result<(), AwsError> {
        let Some(policy) = self.aws.edge.policy(id).await? else { return Ok(()) };
        let name = policy.config.name;
        if name.starts_with(routing::POLICY_PREFIX) && self.aws.edge.delete_policy(id).await? == Release::Deleted {
            run.note(Reason::EdgeReleased, format!("headers policy {name} deleted: no site uses it")).await;
        }
        Ok(())
    }
}
