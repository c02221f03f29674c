//! TenantPolicies and namespace labels, watched cluster-wide (also when the
//! controller watches one namespace) and held in reflector stores: the
//! reconcilers' `Policies`. When either changes, the objects whose verdict
//! changed (permitted now and refused in status, refused for other reasons,
//! or the reverse) are reconciled again; an AuroraFailover already requested
//! or finished never is.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PartialObjectMeta};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Resource, ResourceExt};

use crate::api::{AuroraFailover, FailoverPhase, StaticSite, TenantPolicy};
use crate::core::tenancy::{self, Policies};
use crate::core::{Context, Tenancy};
use crate::health::Health;

/// The stores of both watches.
#[derive(Clone)]
pub struct Watched {
    policies: Store<TenantPolicy>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
}

impl Policies for Watched {
    fn policies(&self) -> Vec<Arc<TenantPolicy>> {
        self.policies.state()
    }

    fn labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.namespaces.get(&ObjectRef::new(namespace)).map(|ns| ns.labels().clone())
    }
}

/// Starts both watches. Returns the stores (ready: both listed once) and a
/// stream that yields each time a policy or a namespace's labels change.
pub async fn watch(
    client: &kube::Client,
    health: &Arc<Health>,
) -> anyhow::Result<(Watched, mpsc::UnboundedReceiver<()>)> {
    let (policies, policy_writer) = reflector::store();
    let (namespaces, namespace_writer) = reflector::store();
    let policy_changes = watcher(Api::<TenantPolicy>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .inspect(super::watch_health::reporting(health, "TenantPolicy"))
        .reflect(policy_writer)
        .touched_objects()
        .map(|_| ());
    let namespace_changes =
        watcher(Api::<PartialObjectMeta<Namespace>>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .inspect(super::watch_health::reporting(health, "Namespace"))
            .reflect(namespace_writer)
            .touched_objects()
            .predicate_filter(predicates::labels, Default::default())
            .map(|_| ());
    let (tx, rx) = mpsc::unbounded();
    tokio::spawn(stream::select(policy_changes, namespace_changes).for_each(move |()| {
        let _ = tx.unbounded_send(());
        async {}
    }));
    let watched = Watched { policies, namespaces };
    watched.policies.wait_until_ready().await?;
    watched.namespaces.wait_until_ready().await?;
    Ok((watched, rx))
}

/// Where re-checks go: one channel per controller.
pub struct Rechecks {
    pub failovers: mpsc::UnboundedSender<ObjectRef<DeserializeGuard<AuroraFailover>>>,
    pub sites: mpsc::UnboundedSender<ObjectRef<DeserializeGuard<StaticSite>>>,
}

/// On each change, sends the objects whose verdict differs from the one their
/// status records.
pub async fn recheck_on_change(
    mut changes: mpsc::UnboundedReceiver<()>,
    ctx: Arc<Context>,
    failovers: Store<DeserializeGuard<AuroraFailover>>,
    sites: Store<DeserializeGuard<StaticSite>>,
    to: Rechecks,
) {
    while changes.next().await.is_some() {
        for guard in failovers.state() {
            let Ok(failover) = &guard.0 else { continue };
            let status = failover.status.clone().unwrap_or_default();
            let settled = status.phase.is_some_and(|p| p.is_final() || p == FailoverPhase::FailingOver);
            let asks = tenancy::failover_asks(&failover.spec);
            if !settled && flipped(&ctx.tenancy, failover, &asks, &status.conditions) {
                let _ = to.failovers.unbounded_send(ObjectRef::from_obj(guard.as_ref()));
            }
        }
        for guard in sites.state() {
            let Ok(site) = &guard.0 else { continue };
            let conditions = site.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
            if flipped(&ctx.tenancy, site, &tenancy::site_asks(&site.spec), &conditions) {
                let _ = to.sites.unbounded_send(ObjectRef::from_obj(guard.as_ref()));
            }
        }
    }
}

/// The verdict now differs from the `Permitted` condition recorded in
/// `conditions` (allowed or not, or refused for other reasons).
fn flipped<K: Resource>(
    tenancy: &Tenancy,
    obj: &K,
    asks: &[tenancy::Ask<'_>],
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> bool {
    let now = tenancy.check(&obj.namespace().unwrap_or_default(), asks).condition();
    let recorded = conditions.iter().find(|c| c.type_ == tenancy::PERMITTED);
    match (now, recorded) {
        (Some(now), Some(recorded)) => {
            (now.status, now.message.as_str()) != (recorded.status == "True", &recorded.message)
        }
        (now, recorded) => now.is_some() != recorded.is_some(),
    }
}
