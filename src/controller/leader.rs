//! Leader election on a `coordination.k8s.io/v1` Lease (kube-lease-manager),
//! so two replicas never both act. The lease is released on shutdown.

use std::time::Duration;

use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Seconds a lease stays valid after its last renewal.
const LEASE_DURATION: u64 = 15;
/// Renew this many seconds before expiry.
const LEASE_GRACE: u64 = 5;

/// Held leadership: [`Leadership::lost`] resolves if it is lost; dropping it via
/// [`Leadership::release`] frees the Lease for the next replica.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

/// Waits until this instance holds the Lease `namespace/name`.
pub async fn acquire(client: kube::Client, namespace: &str, name: &str, identity: &str) -> anyhow::Result<Leadership> {
    let manager = LeaseManagerBuilder::new(client, name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_duration(LEASE_DURATION)
        .with_grace(LEASE_GRACE)
        .build()
        .await?;
    let (mut state, task) = manager.watch().await;
    tracing::info!(lease = name, namespace, identity, "waiting for leadership");
    while !*state.borrow_and_update() {
        state.changed().await?;
    }
    tracing::info!(lease = name, identity, "acquired leadership");
    Ok(Leadership { state, task })
}

impl Leadership {
    /// Resolves when this instance no longer holds the Lease.
    pub async fn lost(&mut self) {
        while *self.state.borrow_and_update() {
            if self.state.changed().await.is_err() {
                return;
            }
        }
    }

    /// Gives the Lease up so a standby replica takes over at once.
    pub async fn release(self) {
        drop(self.state);
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("released leadership"),
            other => tracing::warn!(?other, "could not release the lease cleanly"),
        }
    }
}
