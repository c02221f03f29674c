//! An SDK interceptor that counts every AWS operation (by service, operation
//! and outcome class) and every HTTP attempt into [`Metrics`].

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::metrics::Metrics;

#[derive(Clone, Debug)]
pub struct CallCounter {
    metrics: Arc<Metrics>,
}

impl CallCounter {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

fn names(cfg: &ConfigBag) -> (&str, &str) {
    cfg.load::<Metadata>().map(|m| (m.service(), m.name())).unwrap_or(("unknown", "unknown"))
}

/// Outcome classes: `ok`, `client_error` (4xx), `server_error` (5xx), or
/// `transport_error` (no response at all).
pub fn outcome(status: Option<u16>) -> &'static str {
    match status {
        Some(s) if s < 400 => "ok",
        Some(s) if s < 500 => "client_error",
        Some(_) => "server_error",
        None => "transport_error",
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "awsops-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = names(cfg);
        self.metrics.aws_request(service, operation);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = names(cfg);
        let status = context.response().map(|r| r.status().as_u16());
        self.metrics.aws_call(service, operation, outcome(status));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::outcome;

    #[test]
    fn outcomes_are_bounded_classes_of_the_http_status() {
        assert_eq!(outcome(Some(200)), "ok");
        assert_eq!(outcome(Some(404)), "client_error");
        assert_eq!(outcome(Some(503)), "server_error");
        assert_eq!(outcome(None), "transport_error");
    }
}
