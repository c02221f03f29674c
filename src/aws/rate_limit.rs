//! A client-side rate limit for Route 53, whose API allows five requests per
//! second per account. It sits in the HTTP layer, so every attempt (SDK
//! retries included) waits for its own slot and a large fleet is never
//! throttled by Route 53.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::time::Instant;

/// Route 53's documented limit per account.
pub const ROUTE53_REQUESTS_PER_SECOND: u32 = 5;

/// Hands out send times at least `interval` apart.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: tokio::sync::Mutex<Option<Instant>>,
}

impl Limiter {
    /// At most `per_second` sends in any second, with 5% headroom for
    /// network jitter between here and the server.
    pub fn per_second(per_second: u32) -> Arc<Self> {
        let interval = Duration::from_secs(1).mul_f64(1.05) / per_second.max(1);
        Arc::new(Self { interval, next: tokio::sync::Mutex::new(None) })
    }

    /// Waits for the next free slot.
    pub async fn wait(&self) {
        let slot = self.reserve(Instant::now()).await;
        tokio::time::sleep_until(slot).await;
    }

    /// Takes the first free slot at or after `now`.
    async fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().await;
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot
    }
}

/// An [`HttpClient`] whose every request first waits on a [`Limiter`].
#[derive(Debug, Clone)]
pub struct RateLimited {
    inner: SharedHttpClient,
    limiter: Arc<Limiter>,
}

impl RateLimited {
    pub fn new(inner: SharedHttpClient, limiter: Arc<Limiter>) -> Self {
        Self { inner, limiter }
    }
}

impl HttpClient for RateLimited {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, limiter) = (self.inner.clone(), self.limiter.clone());
        HttpConnectorFuture::new(async move {
            limiter.wait().await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_is_spread_so_no_second_holds_more_than_five_sends() {
        let limiter = Limiter::per_second(ROUTE53_REQUESTS_PER_SECOND);
        let start = Instant::now();
        let mut slots = Vec::new();
        for _ in 0..20 {
            slots.push(limiter.reserve(start).await - start);
        }
        for (i, at) in slots.iter().enumerate() {
            let in_window = slots[i..].iter().filter(|t| **t < *at + Duration::from_secs(1)).count();
            assert!(in_window <= 5, "{in_window} sends in the second from {at:?}");
        }
        assert_eq!(slots[0], Duration::ZERO, "the first send does not wait");
        assert!(slots[19] < Duration::from_secs(4), "no longer than it must: {:?}", slots[19]);
    }

    #[tokio::test]
    async fn a_quiet_limiter_does_not_delay_the_next_send() {
        let limiter = Limiter::per_second(ROUTE53_REQUESTS_PER_SECOND);
        let start = Instant::now();
        limiter.reserve(start).await;
        let later = start + Duration::from_secs(10);
        assert_eq!(limiter.reserve(later).await, later);
    }
}
