//! awsops: a Kubernetes controller for two AWS jobs platform teams do by hand.
//!
//! - [`api`]: the `AuroraFailover` and `StaticSite` custom resources, and the
//!   one vocabulary of condition reasons.
//! - [`core`]: what every reconcile stands on (context, errors, the
//!   [`core::Objects`] it writes status through, events), in the controller
//!   and in `awsops plan/apply` alike.
//! - [`aurora_failover`] and [`static_site`]: one reconciler each, flowing
//!   `observe` (read AWS and status) → `plan` (pure) → act (idempotent
//!   steps) → status.
//! - [`aws`]: the only module that talks to AWS (client factory, error
//!   classification, typed AWS states, call counting).
//! - [`controller`]: kube-runtime wiring only (watches, finalizer, error
//!   policy, leader election).
//! - [`local`]: `awsops plan/apply/delete`, the same reconcilers over a local
//!   state folder instead of the API server.
//! - [`metrics`], [`http`], [`health`], [`telemetry`]: what operators scrape
//!   and read.
//!
//! Imports flow one way: `cli` → `controller`, `local` → the resources →
//! `core` → `api`, `aws`, `metrics`. `tests/layout.rs` checks there is no circle.

pub mod api;
pub mod aurora_failover;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod core;
pub mod dataplane;
pub mod failpoint;
pub mod health;
pub mod http;
pub mod local;
pub mod metrics;
pub mod static_site;
pub mod telemetry;
