//! Steps 1 to 8 of API.md, one file each, in the order `converge` calls
//! them. A step reads what it needs, asks `plan` what to do, does it, and
//! records the result in status; it goes on with what the next step needs,
//! or stops the pass ([`Halt`]: wait, stall or error).

mod bucket;
mod certificate;
mod content;
mod distribution;
mod dns;
mod oac;
mod policy;
mod summary;

use super::observe::observe;
use super::plan::identity::Identity;
use super::run::{Halt, Run, SiteAws};

/// One pass toward the spec; `Ok` once the site is Ready.
pub async fn converge(run: &mut Run<'_>, aws: &SiteAws, id: &Identity) -> Result<(), Halt> {
    let seen = observe(run, aws, id).await?;
    bucket::ensure(run, aws, id, &seen).await?;
    let oac = oac::ensure(run, aws, id).await?;
    let certificate = certificate::ensure(run, aws, id, seen.domain.as_ref()).await?;
    let dist = distribution::ensure(run, aws, id, &oac, certificate.as_deref()).await?;
    let current_policy = seen.settings.as_ref().and_then(|s| s.policy.as_deref());
    policy::ensure(run, aws, id, current_policy, &dist).await?;
    content::sync(run, aws, id, &dist, &seen.files).await?;
    dns::ensure(run, aws, id, seen.domain.as_ref(), &dist).await?;
    summary::finish(run, &dist).await
}
