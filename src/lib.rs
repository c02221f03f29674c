//! awsops: a Kubernetes controller for two AWS jobs platform teams do by hand.
//!
//! - [`api`]: the `AuroraFailover` and `StaticSite` custom resources.
//! - [`controller`]: kube wiring shared by both (watch, finalizer, status,
//!   events, errors, leader election).
//! - [`aurora_failover`] and [`static_site`]: one reconciler each, flowing
//!   `observe` (read AWS and status) → `plan` (pure) → `act` (idempotent steps)
//!   → status.
//! - [`aws`]: the only module that talks to AWS (client factory, error
//!   classification, call counting).
//! - [`local`]: `awsops plan/apply/delete`, the same reconcilers over a local
//!   state folder instead of the API server.
//! - [`metrics`], [`http`], [`telemetry`]: what operators scrape and read.

pub mod api;
pub mod aurora_failover;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod failpoint;
pub mod http;
pub mod local;
pub mod metrics;
pub mod static_site;
pub mod telemetry;
