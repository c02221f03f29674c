//! What `/readyz` answers: ready once the API server has answered, and not
//! while one of the controller's watches keeps failing (its RBAC taken away,
//! an API server that answers but cannot watch): then the controller sees no
//! changes, and the pod says so. `/healthz` only says the process runs, so an
//! API server outage makes the pods unready and never restart-loops them.
//!
//! A watch is broken when it failed at least [`FAILURES`] times in a row, the
//! first at least [`BROKEN_AFTER`] ago and the last within [`STREAK_GAP`]. A
//! watch that reconnects without news yields nothing (kube-runtime resumes
//! from the last resourceVersion), so a streak also ends when no error came
//! for longer than the watcher's longest wait between attempts.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Failures in a row before a watch can count as broken: one or two are
/// a dropped connection the next attempt repairs.
pub const FAILURES: u32 = 3;
/// How long a watch must have been failing: kube-runtime's default watcher
/// backoff waits 0.8 s, doubling up to 30 s, between attempts.
pub const BROKEN_AFTER: Duration = Duration::from_secs(30);
/// No error for this long ends a streak: past the backoff's longest wait
/// (30 s, up to twice that with jitter) and an attempt's own connect
/// timeout (30 s), an attempt went through. kube-runtime's backoff resets
/// after the same 120 s without an error.
pub const STREAK_GAP: Duration = Duration::from_secs(120);

/// Shared by the watches (which report) and `/readyz` (which asks).
#[derive(Debug, Default)]
pub struct Health {
    connected: AtomicBool,
    streaks: Mutex<BTreeMap<&'static str, Streak>>,
}

/// One watch's failures in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Streak {
    first: Instant,
    last: Instant,
    failures: u32,
}

impl Streak {
    fn broken(&self, now: Instant) -> bool {
        self.failures >= FAILURES
            && now.saturating_duration_since(self.first) >= BROKEN_AFTER
            && now.saturating_duration_since(self.last) < STREAK_GAP
    }
}

impl Health {
    /// The API server answered.
    pub fn connected(&self) {
        self.connected.store(true, Ordering::Relaxed);
    }

    /// Watch `name` heard from the API server (a listing, an event): its
    /// streak of failures, if any, is over.
    pub fn answered(&self, name: &'static str) {
        self.record(name, false, Instant::now());
    }

    /// Watch `name` failed: its streak grows (or a new one starts).
    /// kube-runtime logs the API server's answer; `/readyz` is unauthenticated
    /// and says only which watch and since when.
    pub fn failed(&self, name: &'static str) {
        self.record(name, true, Instant::now());
    }

    fn record(&self, name: &'static str, failed: bool, now: Instant) {
        let Ok(mut streaks) = self.streaks.lock() else { return };
        if !failed {
            streaks.remove(name);
            return;
        }
        match streaks.get_mut(name) {
            Some(streak) if now.saturating_duration_since(streak.last) < STREAK_GAP => {
                streak.last = now;
                streak.failures += 1;
            }
            _ => {
                streaks.insert(name, Streak { first: now, last: now, failures: 1 });
            }
        }
    }

    /// `Ok` when ready, else why not (for the operator reading `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        self.readiness_at(Instant::now())
    }

    fn readiness_at(&self, now: Instant) -> Result<(), String> {
        if !self.connected.load(Ordering::Relaxed) {
            return Err("not connected to the API server yet".into());
        }
        let streaks = self.streaks.lock().map_err(|_| "health state poisoned".to_string())?;
        let broken: Vec<String> = streaks
            .iter()
            .filter(|(_, streak)| streak.broken(now))
            .map(|(name, s)| {
                let since = now.saturating_duration_since(s.first).as_secs();
                format!(
                    "watch of {name} failing for {since} s ({} attempts); the log has the API server's answer",
                    s.failures
                )
            })
            .collect();
        if broken.is_empty() { Ok(()) } else { Err(broken.join("\n")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected() -> Health {
        let health = Health::default();
        health.connected();
        health
    }

    /// Fails `watch` at each offset (seconds after `start`).
    fn fail_at(health: &Health, watch: &'static str, start: Instant, offsets: &[u64]) {
        for s in offsets {
            health.record(watch, true, start + Duration::from_secs(*s));
        }
    }

    #[test]
    fn a_controller_is_not_ready_before_the_api_server_answered() {
        assert!(Health::default().readiness().is_err());
        assert_eq!(connected().readiness(), Ok(()));
    }

    #[test]
    fn a_watch_failing_past_the_backoff_makes_the_controller_unready_and_names_it() {
        let (health, start) = (connected(), Instant::now());
        fail_at(&health, "ConfigMap", start, &[0, 1, 3, 6, 13, 26]);
        assert_eq!(health.readiness_at(start + Duration::from_secs(29)), Ok(()), "not failing for 30 s yet");
        let why = health.readiness_at(start + Duration::from_secs(30)).expect_err("broken");
        assert!(why.starts_with("watch of ConfigMap failing for 30 s (6 attempts)"), "{why}");
    }

    #[test]
    fn one_or_two_failures_are_a_dropped_connection_not_a_broken_watch() {
        let (health, start) = (connected(), Instant::now());
        fail_at(&health, "StaticSite", start, &[0, 1]);
        assert_eq!(health.readiness_at(start + Duration::from_secs(40)), Ok(()));
    }

    #[test]
    fn an_event_after_the_failures_makes_the_controller_ready_again() {
        let (health, start) = (connected(), Instant::now());
        fail_at(&health, "StaticSite", start, &[0, 1, 3, 6, 13, 26]);
        health.record("StaticSite", false, start + Duration::from_secs(31));
        assert_eq!(health.readiness_at(start + Duration::from_secs(32)), Ok(()));
    }

    #[test]
    fn a_watch_that_stopped_failing_without_news_is_ready_two_minutes_after_its_last_failure() {
        let (health, start) = (connected(), Instant::now());
        fail_at(&health, "AuroraFailover", start, &[0, 1, 3, 6, 13, 26]);
        assert!(health.readiness_at(start + Duration::from_secs(26 + 119)).is_err());
        assert_eq!(health.readiness_at(start + Duration::from_secs(26 + 120)), Ok(()));
    }

    #[test]
    fn failures_further_apart_than_the_longest_wait_are_separate_streaks() {
        let (health, start) = (connected(), Instant::now());
        fail_at(&health, "ConfigMap", start, &[0, 130, 260, 390]);
        assert_eq!(health.readiness_at(start + Duration::from_secs(391)), Ok(()));
    }
}
