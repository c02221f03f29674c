//! Prometheus metrics: reconciles, their durations and errors per kind,
//! every AWS call by service, operation and outcome, and how many objects
//! of each kind are in each state (counted from the watch cache at each
//! scrape). Labels are bounded: kinds, states, error categories, SDK
//! operation names, outcome classes. `charts/awsops/files/alerts.yaml`
//! alerts on them.

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    kind: String,
    state: String,
}

/// The (kind, state) of every object the controller watches, asked at
/// each scrape.
pub type ObjectStates = Box<dyn Fn() -> Vec<(&'static str, &'static str)> + Send + Sync>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsRequestLabels {
    service: String,
    operation: String,
}

/// The controller's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Family<KindLabels, Histogram>,
    aws_calls: Family<AwsCallLabels, Counter>,
    aws_requests: Family<AwsRequestLabels, Counter>,
    objects: Family<StateLabels, Gauge>,
    object_states: Mutex<Option<ObjectStates>>,
    failover_duration: Family<ResultLabels, Histogram>,
    write_outage: Family<ResultLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("awsops");
        let reconciles = Family::<KindLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let aws_requests = Family::<AwsRequestLabels, Counter>::default();
        registry.register("reconciles", "Reconciles run, by kind", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by kind and error category",
            reconcile_errors.clone(),
        );
        registry.register("reconcile_duration_seconds", "Time spent in one reconcile", reconcile_duration.clone());
        registry.register(
            "aws_calls",
            "AWS operations completed (after retries), by service, operation and outcome",
            aws_calls.clone(),
        );
        registry.register(
            "aws_requests",
            "HTTP requests sent to AWS (each attempt), by service and operation",
            aws_requests.clone(),
        );
        let objects = Family::<StateLabels, Gauge>::default();
        registry.register(
            "objects",
            "Objects watched, by kind and state (Ready, Reconciling, Stalled; a failover's Succeeded or Failed)",
            objects.clone(),
        );
        let object_states = Mutex::new(None);
        // 1 s to about an hour: Aurora swaps in seconds to minutes.
        let failover_duration = Family::<ResultLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1.0, 2.0, 12))
        });
        registry.register(
            "failover_duration_seconds",
            "AuroraFailovers finished, by result (Succeeded, Failed): seconds from the accepted call to the swap, or from the intent to the end",
            failover_duration.clone(),
        );
        // 0.25 s (the probe's cadence) to about 8 minutes.
        let write_outage = Family::<ResultLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.25, 2.0, 12))
        });
        registry.register(
            "failover_write_outage_seconds",
            "AuroraFailovers with spec.verify.writeProbe finished, by result: seconds from the first refused probe to the first writable one after the last",
            write_outage.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            aws_calls,
            aws_requests,
            objects,
            object_states,
            failover_duration,
            write_outage,
        }
    }
}

impl Metrics {
    /// Counts a reconcile of `kind` and records its duration when the guard drops.
    pub fn reconcile(&self, kind: &str) -> ReconcileTimer<'_> {
        let labels = KindLabels { kind: kind.to_string() };
        self.reconciles.get_or_create(&labels).inc();
        ReconcileTimer { metrics: self, labels, start: Instant::now() }
    }

    pub fn reconcile_error(&self, kind: &str, category: &str) {
        self.reconcile_errors.get_or_create(&ErrorLabels { kind: kind.into(), category: category.into() }).inc();
    }

    pub fn aws_call(&self, service: &str, operation: &str, outcome: &str) {
        let labels = AwsCallLabels { service: service.into(), operation: operation.into(), outcome: outcome.into() };
        self.aws_calls.get_or_create(&labels).inc();
    }

    pub fn aws_request(&self, service: &str, operation: &str) {
        self.aws_requests
            .get_or_create(&AwsRequestLabels { service: service.into(), operation: operation.into() })
            .inc();
    }

    /// A failover finished (`result`: Succeeded or Failed) after `seconds`.
    pub fn failover_finished(&self, result: &str, seconds: f64) {
        self.failover_duration.get_or_create(&ResultLabels { result: result.to_string() }).observe(seconds);
    }

    /// A failover whose write probe measured `seconds` of write outage finished with `result`.
    pub fn write_outage(&self, result: &str, seconds: f64) {
        self.write_outage.get_or_create(&ResultLabels { result: result.to_string() }).observe(seconds);
    }

    /// Where `awsops_objects` is counted from (the controller's watch caches).
    pub fn count_objects_from(&self, states: ObjectStates) {
        if let Ok(mut slot) = self.object_states.lock() {
            *slot = Some(states);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        // Held until the text is written: a second scrape waits instead of
        // seeing the family between `clear` and the new counts.
        let slot = self.object_states.lock();
        if let Ok(Some(states)) = slot.as_deref() {
            self.objects.clear();
            for (kind, state) in states() {
                self.objects.get_or_create(&StateLabels { kind: kind.into(), state: state.into() }).inc();
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        drop(slot);
        out
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Records a reconcile's duration when dropped (so early returns count too).
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    labels: KindLabels,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics.reconcile_duration.get_or_create(&self.labels).observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_errors_and_aws_calls_appear_in_the_exposition() {
        let m = Metrics::default();
        drop(m.reconcile("StaticSite"));
        m.reconcile_error("StaticSite", "aws_throttled");
        m.aws_call("RDS", "DescribeDBClusters", "ok");
        m.aws_request("RDS", "DescribeDBClusters");
        let text = m.encode();
        assert!(text.contains(r#"awsops_reconciles_total{kind="StaticSite"} 1"#), "{text}");
        assert!(
            text.contains(r#"awsops_reconcile_errors_total{kind="StaticSite",category="aws_throttled"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"awsops_aws_calls_total{service="RDS",operation="DescribeDBClusters",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"awsops_reconcile_duration_seconds_count{kind="StaticSite"} 1"#), "{text}");
    }

    #[test]
    fn objects_are_counted_by_kind_and_state_at_each_scrape() {
        let metrics = Metrics::default();
        let states = std::sync::Arc::new(Mutex::new(vec![("StaticSite", "Ready"), ("StaticSite", "Stalled")]));
        let source = states.clone();
        metrics.count_objects_from(Box::new(move || source.lock().expect("states").clone()));
        let text = metrics.encode();
        assert!(text.contains(r#"awsops_objects{kind="StaticSite",state="Stalled"} 1"#), "{text}");
        *states.lock().expect("states") = vec![("StaticSite", "Ready"), ("StaticSite", "Ready")];
        let text = metrics.encode();
        assert!(text.contains(r#"awsops_objects{kind="StaticSite",state="Ready"} 2"#), "{text}");
        assert!(!text.contains(r#"state="Stalled""#), "a state no object is in any more is gone: {text}");
    }
}
