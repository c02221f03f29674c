//! The StaticSite reconciler: `apply` converges AWS toward the spec in
//! API.md's order (bucket, OAC, certificate, distribution, policy, content,
//! DNS), `cleanup` removes what the site owns; both safe to repeat. Pure
//! decisions live in `plan`, AWS and status writes in `act`.

pub mod act;
pub mod content;
pub mod plan;

use std::time::Duration;

use crate::api::StaticSite;
use crate::controller::{Context, Error};

/// Converges one site; returns when to look again.
pub async fn apply(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    act::apply(site, ctx).await
}

/// Removes what the site owns in AWS; `Duration::ZERO` once everything is gone.
pub async fn cleanup(site: &StaticSite, ctx: &Context) -> Result<Duration, Error> {
    act::cleanup(site, ctx).await
}
