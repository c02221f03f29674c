//! kube-runtime wiring for both kinds, and nothing else: the watch of each
//! kind (namespace, label selector, concurrency), the StaticSite finalizer,
//! the error policy, leader election and shutdown. Reconcilers (in
//! `aurora_failover` and `static_site`, over `core`) return how long until
//! the next look; this module turns that into kube-runtime actions.

mod kube_objects;
pub mod leader;
mod tenancy;
mod watch_health;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{self, UnboundedReceiver};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PartialObjectMeta};
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::watch;
use tracing::Instrument;

pub use kube_objects::KubeObjects;

use crate::api::conditions::{self, Reason, Summary};
use crate::api::{AuroraFailover, FINALIZER, FailoverPhase, Kind, StaticSite};
use crate::aurora_failover::Coordination;
use crate::aws::AwsFactory;
use crate::core::tenancy::Mode;
use crate::core::{Context, Error, Tenancy, reconcile_span};
use crate::health::Health;
use crate::metrics::Metrics;
use watch_health::reporting;

/// Settings of `awsops controller` (see `cli.rs` for flags and env vars).
#[derive(Clone, Debug)]
pub struct Config {
    /// Watch only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Reconcile only objects matching this label selector (sharding).
    pub label_selector: Option<String>,
    /// Look at every object at least this often, to repair drift.
    pub resync: Duration,
    pub metrics_addr: SocketAddr,
    /// Objects of one kind reconciled at the same time.
    pub concurrency: u16,
    pub leader_election: bool,
    pub lease_name: String,
    pub lease_namespace: String,
    /// This replica's name (the pod name) for the Lease and event reporter.
    pub identity: String,
    /// What a TenantPolicy refusal does.
    pub tenancy: Mode,
    /// `--dns-server` and `--mysql-ca-file`.
    pub dataplane: crate::dataplane::Settings,
    /// Tags put on every AWS resource created, beside the owner and uid.
    pub resource_tags: std::collections::BTreeMap<String, String>,
}

/// Runs both controllers until SIGTERM/SIGINT, or until leadership is lost
/// (then returns an error so the pod restarts as a standby).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await?;
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    crate::http::serve(config.metrics_addr, metrics.clone(), health.clone()).await?;
    let version = client.apiserver_version().await?;
    tracing::info!(version = %version.git_version, "connected to the API server");
    health.connected();

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let leadership = if config.leader_election {
        tokio::select! {
            held = leader::acquire(client.clone(), &config.lease_namespace, &config.lease_name, &config.identity) => Some(held?),
            _ = stopped(stop_rx.clone()) => return Ok(()),
        }
    } else {
        None
    };

    let (tenancy, policy_changes) = match config.tenancy {
        Mode::Off => (Tenancy::off(), None),
        mode => {
            let (watched, changes) = tenancy::watch(&client, &health).await?;
            tracing::info!(?mode, "TenantPolicies and namespaces listed");
            (Tenancy::new(mode, Arc::new(watched)), Some(changes))
        }
    };
    let aws = AwsFactory::from_env(metrics.clone()).await.with_resource_tags(config.resource_tags.clone());
    let objects = Arc::new(KubeObjects::new(client.clone(), &config.identity));
    let ctx = Context::new(objects, aws, metrics, config.resync, config.namespace.clone(), tenancy);
    if let Some(work_dir) = &config.dataplane.work_dir {
        crate::static_site::content::archive::clear_workspaces(work_dir);
    }
    let ctx = Arc::new(ctx.with_dataplane(&config.dataplane));
    let controllers = run_controllers(client, ctx, &config, stop_rx, policy_changes, health);
    match leadership {
        None => controllers.await,
        Some(mut held) => {
            tokio::select! {
                _ = controllers => held.release().await,
                _ = held.lost() => anyhow::bail!("lost leadership of lease {}; exiting so another replica acts alone", config.lease_name),
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return futures::future::pending().await,
        };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

fn scoped<K>(client: kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

async fn run_controllers(
    client: kube::Client,
    ctx: Arc<Context>,
    config: &Config,
    stop: watch::Receiver<bool>,
    policy_changes: Option<UnboundedReceiver<()>>,
    health: Arc<Health>,
) {
    let mut wc = watcher::Config::default();
    if let Some(selector) = &config.label_selector {
        wc = wc.labels(selector);
    }
    let runtime = controller::Config::default().concurrency(config.concurrency);
    let ns = config.namespace.as_deref();

    let (failover_rechecks, failovers_to_recheck) = mpsc::unbounded();
    let (site_rechecks, sites_to_recheck) = mpsc::unbounded();
    let shared = Arc::new(Coordination::default());
    let (failover_store, failover_writer) = reflector::store();
    let failover_changes = watcher(scoped::<DeserializeGuard<AuroraFailover>>(client.clone(), ns), wc.clone())
        .default_backoff()
        .inspect(reporting(&health, "AuroraFailover"))
        .reflect(failover_writer)
        .applied_objects();
    let failovers = Controller::for_stream(failover_changes, failover_store.clone())
        .reconcile_on(failovers_to_recheck)
        .with_config(runtime.clone())
        .graceful_shutdown_on(stopped(stop.clone()))
        .run(
            {
                let client = client.clone();
                move |obj, ctx| reconcile_failover(obj, ctx, shared.clone(), client.clone())
            },
            error_policy,
            ctx.clone(),
        )
        .for_each(log_outcome);
    // A site's own status writes do not wake it again (each would cost a full
    // look at AWS): only a new generation (spec edit, deletion), a finalizer
    // or an annotation change does; the reconciler's requeue covers waiting.
    let (store, writer) = reflector::store();
    let changes = watcher(scoped::<DeserializeGuard<StaticSite>>(client.clone(), ns), wc)
        .default_backoff()
        .inspect(reporting(&health, "StaticSite"))
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers).combine(predicates::annotations),
            Default::default(),
        );
    let sites = Controller::for_stream(changes, store.clone()).reconcile_on(sites_to_recheck);
    ctx.metrics.count_objects_from(object_states(failover_store.clone(), store.clone()));
    if let Some(policy_changes) = policy_changes {
        let to = tenancy::Rechecks { failovers: failover_rechecks, sites: site_rechecks };
        tokio::spawn(tenancy::recheck_on_change(policy_changes, ctx.clone(), failover_store, store.clone(), to));
    }
    // An edit to a ConfigMap a site serves reconciles that site. Only names
    // are watched: a site reads the data when it reconciles.
    let config_maps = watcher(scoped::<PartialObjectMeta<ConfigMap>>(client.clone(), ns), watcher::Config::default())
        .default_backoff()
        .inspect(reporting(&health, "ConfigMap"))
        .touched_objects();
    let sites = sites
        .watches_stream(config_maps, move |cm| {
            let (namespace, name) = (cm.namespace(), cm.name_any());
            store
                .state()
                .into_iter()
                .filter(|guard| {
                    guard.0.as_ref().is_ok_and(|site| {
                        site.namespace() == namespace && site.spec.content.config_maps.iter().any(|c| c.name == name)
                    })
                })
                .map(|guard| ObjectRef::from_obj(guard.as_ref()))
                .collect::<Vec<_>>()
        })
        .with_config(runtime)
        .graceful_shutdown_on(stopped(stop))
        .run(move |site, ctx| reconcile_site(site, ctx, client.clone()), error_policy, ctx)
        .for_each(log_outcome);
    futures::join!(failovers, sites);
}

/// The state of every object in both watch caches, for `awsops_objects`; an
/// object that does not match the schema is `Stalled` (as its status says).
fn object_states(
    failovers: reflector::Store<DeserializeGuard<AuroraFailover>>,
    sites: reflector::Store<DeserializeGuard<StaticSite>>,
) -> crate::metrics::ObjectStates {
    Box::new(move || {
        let failovers = failovers.state().into_iter().map(|guard| {
            let state = guard
                .0
                .as_ref()
                .map_or(conditions::STALLED, |f| f.status.as_ref().map_or(conditions::RECONCILING, |s| s.state()));
            (Kind::AuroraFailover.as_str(), state)
        });
        let sites = sites.state().into_iter().map(|guard| {
            let state = guard
                .0
                .as_ref()
                .map_or(conditions::STALLED, |s| s.status.as_ref().map_or(conditions::RECONCILING, |s| s.state()));
            (Kind::StaticSite.as_str(), state)
        });
        failovers.chain(sites).collect()
    })
}

async fn log_outcome<T: std::fmt::Debug, E: std::fmt::Display>(outcome: Result<T, E>) {
    match outcome {
        Ok(obj) => tracing::debug!(?obj, "reconciled"),
        Err(e) => tracing::warn!(error = %e, "reconcile failed"),
    }
}

async fn reconcile_failover(
    obj: Arc<DeserializeGuard<AuroraFailover>>,
    ctx: Arc<Context>,
    shared: Arc<Coordination>,
    client: kube::Client,
) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile(Kind::AuroraFailover.as_str());
    let span = reconcile_span(Kind::AuroraFailover, &obj.namespace().unwrap_or_default(), &obj.name_any());
    match &obj.0 {
        Ok(cached) => {
            let Some(failover) = fresh_unless_finished(cached, &client).await? else {
                return Ok(Action::await_change());
            };
            crate::aurora_failover::reconcile(&failover, &ctx, &shared).instrument(span).await.map(Action::requeue)
        }
        Err(invalid) => report_invalid::<AuroraFailover>(invalid, &ctx).instrument(span).await,
    }
}

/// A failover that may still act is read from the API server, not the watch
/// cache: a cache that has not shown the intent this controller (or another
/// replica) wrote would decide to fail over again. A finished one never acts.
/// `None`: deleted since the watch saw it.
async fn fresh_unless_finished(
    cached: &AuroraFailover,
    client: &kube::Client,
) -> Result<Option<AuroraFailover>, Error> {
    let finished = cached.status.as_ref().and_then(|s| s.phase).is_some_and(FailoverPhase::is_final);
    if finished {
        return Ok(Some(cached.clone()));
    }
    let api: Api<AuroraFailover> = Api::namespaced(client.clone(), &cached.namespace().unwrap_or_default());
    Ok(api.get_opt(&cached.name_any()).await?)
}

async fn reconcile_site(
    obj: Arc<DeserializeGuard<StaticSite>>,
    ctx: Arc<Context>,
    client: kube::Client,
) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile(Kind::StaticSite.as_str());
    let span = reconcile_span(Kind::StaticSite, &obj.namespace().unwrap_or_default(), &obj.name_any());
    let site = match &obj.0 {
        Ok(site) => Arc::new(site.clone()),
        Err(invalid) => return report_invalid::<StaticSite>(invalid, &ctx).instrument(span).await,
    };
    let api: Api<StaticSite> = Api::namespaced(client, &site.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, site, |event| async {
        match event {
            finalizer::Event::Apply(site) => crate::static_site::apply(&site, &ctx).await.map(Action::requeue),
            finalizer::Event::Cleanup(site) => crate::static_site::cleanup(&site, &ctx).await.map(Action::requeue),
        }
    })
    .instrument(span)
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::Finalizer(other.to_string()),
    })
}

fn error_policy<K>(obj: Arc<DeserializeGuard<K>>, error: &Error, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let kind = K::kind(&());
    if let Error::CleanupPending(wait) = error {
        return Action::requeue(*wait);
    }
    ctx.metrics.reconcile_error(&kind, error.category());
    tracing::warn!(%kind, name = %obj.name_any(), category = error.category(), error = %error, "reconcile error");
    Action::requeue(error.requeue_after())
}

/// An object that does not deserialise (a CRD older or newer than this
/// controller, say) gets `Stalled/InvalidSpec` and an event; the others go on.
async fn report_invalid<K>(invalid: &InvalidObject, ctx: &Context) -> Result<Action, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let namespace = invalid.metadata.namespace.clone().unwrap_or_default();
    let name = invalid.metadata.name.clone().unwrap_or_default();
    let message =
        format!("the object does not match the {} schema ({}): fix the manifest", K::kind(&()), invalid.error);
    let conds = conditions::merge(
        &[],
        &conditions::summary(Summary::Stalled, Reason::InvalidSpec, message.clone()),
        invalid.metadata.generation,
        k8s_openapi::jiff::Timestamp::now(),
    );
    let status = serde_json::json!({ "observedGeneration": invalid.metadata.generation, "conditions": conds });
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: Some(name),
        namespace: Some(namespace),
        uid: invalid.metadata.uid.clone(),
        ..Default::default()
    };
    ctx.objects.apply_status(&reference, status).await?;
    ctx.events.warning_ref(&reference, Reason::InvalidSpec, "Validate", message).await;
    Ok(Action::requeue(ctx.resync))
}
