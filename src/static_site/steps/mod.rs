//! Steps 1 to 8 of API.md, one file each, in the order `converge` calls
//! them. A step takes what `observe` read, asks `plan` what to do, does it
//! (reading AWS again only for the answer to its own write), and records the
//! result in status; it goes on with what the next step needs, or stops the
//! pass ([`Halt`]: wait, stall or error).

mod bucket;
mod certificate;
mod content;
mod distribution;
mod dns;
mod edge;
mod oac;
mod policy;
mod summary;

use super::observe::observe;
use super::plan::identity::Identity;
use super::run::{Halt, Run, SiteAws};

/// The steps of one pass (here, and the teardown in `teardown.rs`): what they act on, one
/// site's AWS and its identity there; each step is a method.
#[derive(Clone, Copy)]
pub struct Steps<'a> {
    pub aws: &'a SiteAws,
    pub id: &'a Identity,
}

impl Steps<'_> {
    /// One pass toward the spec; `Ok` once the site is Ready.
    pub async fn converge(self, run: &mut Run<'_>) -> Result<(), Halt> {
        let seen = observe(run, self.aws, self.id).await?;
        self.bucket(run, &seen.bucket_steps, &seen.bucket_tags, seen.kms_key.as_deref()).await?;
        let oac = self.origin_access_control(run, seen.oac).await?;
        let certificate = self.certificate(run, seen.domain.as_ref()).await?;
        let attached = self.edge(run).await?;
        let dist = self.distribution(run, seen.distribution, &oac, certificate.as_deref(), &attached).await?;
        self.bucket_policy(run, seen.policy.as_deref(), &dist).await?;
        self.content(run, &dist, seen.content).await?;
        self.dns(run, seen.domain.as_ref(), &dist).await?;
        self.summary(run, &dist).await
    }
}
