//! Step 3b: the CloudFront Function `routing` compiles to, published to
//! LIVE, and the response headers policy `headers` asks for, both before the
//! distribution that runs them and each listed in `status.edgeResources`
//! before it is made; after the distribution step, the listed ones it no
//! longer runs are released (deleted, or left to the other sites that use
//! them), so neither a failed pass nor a crash leaves one behind.

use super::super::plan::routing::{self, Attached, Behaviour, EdgeResource, Function, HeadersChoice};
use super::super::run::{Halt, Run};
use super::Steps;
use crate::api::conditions::{Reason, Stall};
use crate::aws::edge::{HeadersPolicyConfig, Release};
use crate::aws::{AwsError, CreateOutcome};

const FUNCTION_COMMENT: &str = "awsops StaticSite routing: shared by sites with the same routing";

impl Steps<'_> {
    /// The function and policy the spec asks for, existing with the content
    /// their names promise.
    pub async fn edge(self, run: &mut Run<'_>) -> Result<Attached, Halt> {
        let spec = &run.site.spec;
        let function = spec.routing.as_ref().and_then(|r| routing::function(r, &spec.content.index_document));
        if let Some(f) = &function
            && f.code.len() > routing::MAX_FUNCTION_CODE
        {
            let message = format!(
                "spec.routing compiles to {} bytes of function code; CloudFront takes at most {}: use fewer or shorter redirects",
                f.code.len(),
                routing::MAX_FUNCTION_CODE
            );
            return Err(Halt::Stall(Stall::new(Reason::InvalidSpec, message)));
        }
        let headers = routing::headers(spec.headers.as_ref());
        let mut made = Vec::new();
        if let Some(f) = &function {
            made.push(EdgeResource::Function(f.name.clone()));
        }
        if let HeadersChoice::Own(config) = &headers {
            made.push(EdgeResource::Policy(config.name.clone()));
        }
        let listed = routing::with_made(&run.next.edge_resources, &made);
        if listed != run.next.edge_resources {
            run.next.edge_resources = listed;
            run.save().await?;
        }
        let function = match function {
            Some(f) => Some((f.name.clone(), self.live_function(run, &f).await?)),
            None => None,
        };
        let policy = match headers {
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

    /// Releases what `status.edgeResources` lists and neither the spec asks
    /// for (`attached`) nor the distribution runs (`runs`); one that cannot
    /// be released now stays listed, with a Warning, for the next look.
    pub async fn release_unused(self, run: &mut Run<'_>, runs: &Behaviour, attached: &Attached) -> Result<(), Halt> {
        let wanted = |r: &EdgeResource| match r {
            EdgeResource::Function(name) => {
                attached.function.as_ref().is_some_and(|(n, _)| n == name)
                    || runs.function_arn.as_deref().is_some_and(|arn| routing::function_name(arn) == name)
            }
            EdgeResource::Policy(name) => attached.policy.as_ref().is_some_and(|(_, n)| n == name),
        };
        let mut kept = Vec::new();
        for entry in run.written.edge_resources.clone() {
            let Some(resource) = EdgeResource::parse(&entry) else { continue };
            if wanted(&resource) {
                kept.push(entry);
                continue;
            }
            match self.release(run, &resource, runs.policy_id.as_deref()).await {
                Ok(true) => {}
                Ok(false) => kept.push(entry),
                Err(e) => {
                    run.warn(Reason::EdgeReleased, format!("{entry} not released yet: {e}")).await;
                    kept.push(entry);
                }
            }
        }
        if kept != run.next.edge_resources {
            run.next.edge_resources = kept;
            run.save().await?;
        }
        Ok(())
    }

    /// Releases everything `status.edgeResources` lists (the distribution is gone).
    pub async fn release_all(self, run: &mut Run<'_>) -> Result<(), Halt> {
        for entry in run.written.edge_resources.clone() {
            if let Some(resource) = EdgeResource::parse(&entry) {
                self.release(run, &resource, None).await?;
            }
        }
        run.next.edge_resources.clear();
        run.next.routing = None;
        run.next.headers = None;
        run.save().await?;
        Ok(())
    }

    /// Deletes one function or policy unless a distribution uses it;
    /// `false` when `attached_policy` (the site's own distribution's) is it.
    async fn release(
        self,
        run: &Run<'_>,
        resource: &EdgeResource,
        attached_policy: Option<&str>,
    ) -> Result<bool, AwsError> {
        let edge = &self.aws.edge;
        let (released, what) = match resource {
            EdgeResource::Function(name) => (edge.delete_function(name).await?, format!("routing function {name}")),
            EdgeResource::Policy(name) => {
                let Some(policy) = edge.find_policy(name).await? else { return Ok(true) };
                if Some(policy.id.as_str()) == attached_policy {
                    return Ok(false);
                }
                (edge.delete_policy(&policy.id).await?, format!("headers policy {name}"))
            }
        };
        if released == Release::Deleted {
            run.note(Reason::EdgeReleased, format!("{what} deleted: no distribution uses it")).await;
        }
        Ok(true)
    }
}
