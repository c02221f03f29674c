//! `spec.verify.writeProbe`: asks the server behind the cluster endpoint
//! whether it takes writes (`SELECT @@innodb_read_only`), as a client that
//! connects afresh would find it: the name resolved through the controller's
//! resolver, a new connection each time, nothing ever written.
//!
//! [`Sampler`] probes one failover about every 250 ms from the call until
//! verification ends, in memory (a restarted controller measures from its
//! restart); [`Samples::summary`] is what status reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;

use super::Resolve;

/// How often the sampler asks.
pub const EVERY: Duration = Duration::from_millis(250);
/// A connection and its one query must answer within this.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Error code counted when the server answers `innodb_read_only = 1`: what a
/// write would get from an Aurora reader (ER_OPTION_PREVENTS_STATEMENT).
pub const READ_ONLY: u16 = 1290;
/// The client's "cannot connect" (CR_CONN_HOST_ERROR): refused, unreachable, timed out, or the name did not resolve.
pub const CANNOT_CONNECT: u16 = 2003;
/// The client's "lost connection during query" (CR_SERVER_LOST).
pub const LOST: u16 = 2013;
/// A login the server refused (ER_ACCESS_DENIED_ERROR).
pub const ACCESS_DENIED: u16 = 1045;

/// Where and as whom to probe. The password is never printed (no `Debug`).
#[derive(Clone)]
pub struct Login {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

/// One answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Writable,
    /// Failed, or answered read-only ([`READ_ONLY`]): a MySQL error code and what happened.
    Refused {
        code: u16,
        message: String,
    },
}

impl Answer {
    pub fn is_writable(&self) -> bool {
        *self == Answer::Writable
    }
}

/// Asks one server once.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn ask(&self, login: &Login) -> Answer;
}

/// [`Probe`] over mysql_async, connecting to the first address the resolver gives.
pub struct MysqlProbe {
    pub dns: Arc<dyn Resolve>,
}

#[async_trait]
impl Probe for MysqlProbe {
    async fn ask(&self, login: &Login) -> Answer {
        let address = match self.dns.resolve(&login.host).await {
            Ok(found) => match found.addresses.first() {
                Some(ip) => *ip,
                None => return refused(CANNOT_CONNECT, format!("{} has no address", login.host)),
            },
            Err(why) => return refused(CANNOT_CONNECT, format!("{} does not resolve ({why})", login.host)),
        };
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(address.to_string())
            .tcp_port(login.port)
            .user(Some(login.username.clone()))
            .pass(Some(login.password.clone()))
            .prefer_socket(false);
        let asked = async {
            let mut conn = mysql_async::Conn::new(opts).await?;
            let read_only: Option<i64> =
                mysql_async::prelude::Queryable::query_first(&mut conn, "SELECT @@innodb_read_only").await?;
            let _ = conn.disconnect().await;
            Ok::<_, mysql_async::Error>(read_only)
        };
        let at = format!("{}:{} ({address})", login.host, login.port);
        match tokio::time::timeout(ANSWER_WITHIN, asked).await {
            Err(_) => refused(CANNOT_CONNECT, format!("{at} did not answer within {} s", ANSWER_WITHIN.as_secs())),
            Ok(Ok(Some(0))) => Answer::Writable,
            Ok(Ok(_)) => refused(READ_ONLY, format!("{at} is read-only (innodb_read_only = 1)")),
            Ok(Err(e)) => classify(&at, &e),
        }
    }
}

fn refused(code: u16, message: String) -> Answer {
    Answer::Refused { code, message }
}

/// The MySQL error code of a failed connection or query.
fn classify(at: &str, e: &mysql_async::Error) -> Answer {
    match e {
        mysql_async::Error::Server(server) => refused(server.code, format!("{at}: {}", server.message)),
        mysql_async::Error::Io(io) => {
            let connected = matches!(io, mysql_async::IoError::Io(err) if err.kind() != std::io::ErrorKind::ConnectionRefused && err.kind() != std::io::ErrorKind::TimedOut);
            let code = if connected { LOST } else { CANNOT_CONNECT };
            refused(code, format!("{at}: {io}"))
        }
        other => refused(LOST, format!("{at}: {other}")),
    }
}

/// What the sampler saw, in order.
#[derive(Default)]
pub struct Samples {
    seen: Vec<(Timestamp, Answer)>,
}

/// The outage clients of the cluster endpoint saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The first probe that did not find a writable server.
    pub first_refused: Option<Timestamp>,
    /// The first writable answer after the last refused one (or the first
    /// writable answer at all, when none was refused).
    pub writable_since: Option<Timestamp>,
    /// Whether the latest answer was writable.
    pub writable_now: bool,
    /// Refused answers by MySQL error code.
    pub errors: BTreeMap<u16, u32>,
    /// The latest refused answer, for messages.
    pub last_error: Option<String>,
    /// When the latest answer was asked.
    pub last_at: Option<Timestamp>,
}

impl Samples {
    pub fn push(&mut self, at: Timestamp, answer: Answer) {
        self.seen.push((at, answer));
    }

    /// What the answers `since` (the call) add up to.
    pub fn summary(&self, since: Timestamp) -> Summary {
        let mut s = Summary::default();
        for (at, answer) in self.seen.iter().filter(|(at, _)| *at >= since) {
            s.last_at = Some(*at);
            match answer {
                Answer::Writable => {
                    if !s.writable_now {
                        s.writable_since = Some(*at);
                    }
                    s.writable_now = true;
                }
                Answer::Refused { code, message } => {
                    s.first_refused.get_or_insert(*at);
                    *s.errors.entry(*code).or_default() += 1;
                    s.last_error = Some(message.clone());
                    s.writable_now = false;
                    s.writable_since = None;
                }
            }
        }
        s
    }

    /// Seconds from the first refused answer to the writable one that followed the last.
    pub fn outage_seconds(summary: &Summary) -> Option<f64> {
        match (summary.first_refused, summary.writable_since) {
            (Some(from), Some(to)) => Some(to.duration_since(from).as_secs_f64().max(0.0)),
            (None, Some(_)) => Some(0.0),
            _ => None,
        }
    }
}

/// Probes running for failovers, by object uid.
#[derive(Default)]
pub struct Sampler {
    running: Mutex<BTreeMap<String, Running>>,
}

struct Running {
    samples: Arc<Mutex<Samples>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts probing `login` for `uid` every [`EVERY`] until [`Sampler::stop`]
    /// or `at_most`; a sampler already running for `uid` is kept.
    pub fn start(&self, uid: &str, probe: Arc<dyn Probe>, login: Login, at_most: Duration) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(uid).is_some_and(|r| !r.task.is_finished()) {
            return;
        }
        let samples = Arc::new(Mutex::new(Samples::default()));
        let into = samples.clone();
        let task = tokio::spawn(async move {
            let until = tokio::time::Instant::now() + at_most;
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while tokio::time::Instant::now() < until {
                tick.tick().await;
                let at = Timestamp::now();
                let answer = probe.ask(&login).await;
                into.lock().unwrap_or_else(|p| p.into_inner()).push(at, answer);
            }
        });
        running.insert(uid.to_string(), Running { samples, task });
    }

    pub fn is_running(&self, uid: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(uid).is_some_and(|r| !r.task.is_finished())
    }

    /// The summary of `uid`'s answers since `since`; `None` when nothing samples it.
    pub fn summary(&self, uid: &str, since: Timestamp) -> Option<Summary> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let samples = running.get(uid)?.samples.lock().unwrap_or_else(|p| p.into_inner()).summary(since);
        Some(samples)
    }

    /// Stops and forgets `uid`'s probe.
    pub fn stop(&self, uid: &str) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = running.remove(uid) {
            r.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).expect("valid")
    }

    fn no(code: u16) -> Answer {
        Answer::Refused { code, message: format!("error {code}") }
    }

    #[test]
    fn the_outage_runs_from_the_first_refusal_to_the_writable_answer_after_the_last() {
        let mut s = Samples::default();
        for (ms, answer) in [
            (0, Answer::Writable),
            (250, no(CANNOT_CONNECT)),
            (500, no(CANNOT_CONNECT)),
            (750, no(READ_ONLY)),
            // The old writer answers writable once more before it restarts read-only.
            (1000, Answer::Writable),
            (1250, no(LOST)),
            (1500, Answer::Writable),
            (1750, Answer::Writable),
        ] {
            s.push(t(ms), answer);
        }
        let summary = s.summary(t(0));
        assert_eq!(summary.first_refused, Some(t(250)));
        assert_eq!(summary.writable_since, Some(t(1500)));
        assert!(summary.writable_now);
        assert_eq!(Samples::outage_seconds(&summary), Some(1.25));
        assert_eq!(summary.errors, BTreeMap::from([(READ_ONLY, 1), (CANNOT_CONNECT, 2), (LOST, 1)]));
    }

    #[test]
    fn answers_before_the_call_do_not_count_and_no_refusal_is_no_outage() {
        let mut s = Samples::default();
        s.push(t(0), no(CANNOT_CONNECT));
        s.push(t(500), Answer::Writable);
        let summary = s.summary(t(100));
        assert_eq!(Samples::outage_seconds(&summary), Some(0.0));
        assert!(summary.errors.is_empty());
    }

    #[test]
    fn still_refused_is_no_outage_figure_yet() {
        let mut s = Samples::default();
        s.push(t(0), Answer::Writable);
        s.push(t(250), no(READ_ONLY));
        let summary = s.summary(t(0));
        assert!(!summary.writable_now);
        assert_eq!(Samples::outage_seconds(&summary), None);
        assert_eq!(summary.last_error.as_deref(), Some("error 1290"));
    }
}
