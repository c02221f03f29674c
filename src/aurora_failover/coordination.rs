//! What AuroraFailover reconciles share across objects, for as long as the
//! process runs: one decision per cluster at a time, which RDS events
//! each object has mirrored already, and the write probes sampling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::jiff::Timestamp;
use tokio::sync::OwnedMutexGuard;

/// Held by the controller (one for all AuroraFailovers) and by `awsops apply`.
#[derive(Default)]
pub struct Coordination {
    /// Per-cluster locks: one AuroraFailover decision per cluster at a time.
    cluster_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Time of the last RDS event mirrored, per AuroraFailover uid.
    rds_events_seen: Mutex<HashMap<String, Timestamp>>,
    /// Write probes running, per AuroraFailover uid (`spec.verify.writeProbe`).
    pub probes: crate::dataplane::probe::Sampler,
}

impl Coordination {
    /// Waits for this cluster's turn; the turn ends when the guard drops.
    pub async fn turn(&self, cluster_key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.cluster_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(cluster_key.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// When the last RDS event mirrored for this object happened.
    pub fn events_seen(&self, uid: &str) -> Option<Timestamp> {
        self.rds_events_seen.lock().ok().and_then(|seen| seen.get(uid).copied())
    }

    pub fn mark_events_seen(&self, uid: &str, last: Timestamp) {
        if let Ok(mut seen) = self.rds_events_seen.lock() {
            seen.insert(uid.to_string(), last);
        }
    }
}
