//! What each watch stream tells [`Health`] (and so `/readyz`): an answer
//! from the API server, or a failure.

use std::sync::Arc;

use kube::runtime::watcher;

use crate::health::Health;

/// What a watch stream reports to [`Health`]: `Init` comes before the
/// listing is asked for, so only the events after it are an answer.
pub fn reporting<K>(
    health: &Arc<Health>,
    name: &'static str,
) -> impl Fn(&Result<watcher::Event<K>, watcher::Error>) + use<K> {
    let health = health.clone();
    move |item| match item {
        Ok(watcher::Event::Init) => {}
        Ok(_) => health.answered(name),
        Err(_) => health.failed(name),
    }
}
