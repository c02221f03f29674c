//! `spec.verify.writeProbe`: asks the server behind the cluster endpoint
//! whether it takes writes (`SELECT @@innodb_read_only`), as a client that
//! connects afresh would find it: the name resolved through the controller's
//! resolver, a new connection each time, nothing ever written.
//!
//! [`Sampler`] probes one failover about every 250 ms from the call until
//! the failover ends, in memory: a running [`Summary`] (bounded, whatever
//! the duration) is what status reports. A controller restarted mid-failover
//! starts a new sampler, marked `resumed`: it cannot know the outage.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;

use super::Resolve;

/// How often the sampler asks.
pub const EVERY: Duration = Duration::from_millis(250);
/// Resolving, connecting and the one query must each answer within this.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// The longest a sampler runs, however long the failover may take.
const AT_MOST: Duration = Duration::from_secs(3 * 3600);

/// Error code counted when the server answers `innodb_read_only = 1`: what a
/// write would get from an Aurora reader (ER_OPTION_PREVENTS_STATEMENT).
pub const READ_ONLY: u16 = 1290;
/// The client's "cannot connect" (CR_CONN_HOST_ERROR): refused, unreachable or timed out.
pub const CANNOT_CONNECT: u16 = 2003;
/// The client's "unknown host" (CR_UNKNOWN_HOST): the endpoint did not resolve.
pub const UNKNOWN_HOST: u16 = 2005;
/// The client's "unknown error" (CR_UNKNOWN_ERROR): a protocol failure.
pub const CLIENT_ERROR: u16 = 2000;
/// The client's "SSL connection error" (CR_SSL_CONNECTION_ERROR): TLS failed (certificate, name).
pub const TLS_FAILED: u16 = 2026;
/// The server demands TLS (MySQL's ER_SECURE_TRANSPORT_REQUIRED; MariaDB answers 1045 with its own text).
pub const TLS_REQUIRED: u16 = 3159;
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

/// Asks one server once.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn ask(&self, login: &Login) -> Answer;
}

/// [`Probe`] over mysql_async, connecting to the first address the resolver
/// gives; with `ca_file`, over TLS verified against those CAs for the
/// endpoint's name (what the cluster's certificate names).
pub struct MysqlProbe {
    pub dns: Arc<dyn Resolve>,
    pub ca_file: Option<std::path::PathBuf>,
}

#[async_trait]
impl Probe for MysqlProbe {
    async fn ask(&self, login: &Login) -> Answer {
        let address = match tokio::time::timeout(ANSWER_WITHIN, self.dns.resolve(&login.host)).await {
            Ok(Ok(found)) => match found.addresses.first() {
                Some(ip) => *ip,
                None => return refused(UNKNOWN_HOST, format!("{} has no address", login.host)),
            },
            Ok(Err(why)) => return refused(UNKNOWN_HOST, format!("{} does not resolve ({why})", login.host)),
            Err(_) => return refused(UNKNOWN_HOST, format!("{} did not resolve within 2 s", login.host)),
        };
        let at = format!("{}:{} ({address})", login.host, login.port);
        let opts = mysql_async::OptsBuilder::default()
            .tcp_port(login.port)
            .user(Some(login.username.clone()))
            .pass(Some(login.password.clone()))
            .prefer_socket(false);
        let opts = match &self.ca_file {
            // The name is what TLS verifies; the address is the one resolved above.
            Some(ca) => opts.ip_or_hostname(login.host.clone()).resolved_ips(Some(vec![address])).ssl_opts(
                mysql_async::SslOpts::default()
                    .with_root_certs(vec![ca.clone().into()])
                    .with_disable_built_in_roots(true),
            ),
            None => opts.ip_or_hostname(address.to_string()),
        };
        let mut conn = match tokio::time::timeout(ANSWER_WITHIN, mysql_async::Conn::new(opts)).await {
            Err(_) => return refused(CANNOT_CONNECT, format!("{at} did not accept a connection within 2 s")),
            Ok(Err(e)) => return classify(&at, &e, CANNOT_CONNECT),
            Ok(Ok(conn)) => conn,
        };
        let query = mysql_async::prelude::Queryable::query_first::<i64, _>(&mut conn, "SELECT @@innodb_read_only");
        let answer = match tokio::time::timeout(ANSWER_WITHIN, query).await {
            Err(_) => refused(LOST, format!("{at} did not answer the query within 2 s")),
            Ok(Err(e)) => classify(&at, &e, LOST),
            Ok(Ok(Some(0))) => Answer::Writable,
            Ok(Ok(_)) => refused(READ_ONLY, format!("{at} is read-only (innodb_read_only = 1)")),
        };
        let _ = tokio::time::timeout(ANSWER_WITHIN, conn.disconnect()).await;
        answer
    }
}

fn refused(code: u16, message: String) -> Answer {
    Answer::Refused { code, message }
}

/// The MySQL error code of a failure: the server's own, else `network` for
/// an I/O error (cannot connect, or connection lost during the query).
fn classify(at: &str, e: &mysql_async::Error, network: u16) -> Answer {
    match e {
        mysql_async::Error::Server(server) => refused(server.code, format!("{at}: {}", server.message)),
        mysql_async::Error::Io(io @ mysql_async::IoError::Tls(_)) => refused(TLS_FAILED, format!("{at}: {io}")),
        mysql_async::Error::Io(io) => refused(network, format!("{at}: {io}")),
        other => refused(CLIENT_ERROR, format!("{at}: {other}")),
    }
}

/// What the sampler saw since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The sampler started after the failover had begun (a restarted
    /// controller): answers before it are unknown, so is the outage.
    pub resumed: bool,
    /// The first answer that did not find a writable server.
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

impl Summary {
    pub fn push(&mut self, at: Timestamp, answer: Answer) {
        self.last_at = Some(at);
        match answer {
            Answer::Writable => {
                if !self.writable_now {
                    self.writable_since = Some(at);
                }
                self.writable_now = true;
            }
            Answer::Refused { code, message } => {
                self.first_refused.get_or_insert(at);
                *self.errors.entry(code).or_default() += 1;
                self.last_error = Some(message);
                self.writable_now = false;
                self.writable_since = None;
            }
        }
    }

    /// Seconds from the first refused answer to the writable one after the
    /// last (0 when none was refused); `None` while refused, or when resumed.
    pub fn outage_seconds(&self) -> Option<f64> {
        match (self.resumed, self.first_refused, self.writable_since) {
            (true, _, _) => None,
            (false, Some(from), Some(to)) => Some(to.duration_since(from).as_secs_f64().max(0.0)),
            (false, None, Some(_)) => Some(0.0),
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
    summary: Arc<Mutex<Summary>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sampler {
    /// Starts probing `login` for `uid` every [`EVERY`] until [`Sampler::stop`]
    /// or `at_most` (at most 3 hours), adding to `from` (empty, or for a
    /// failover that began before this sampler, `resumed` with the counts
    /// status already holds); a sampler already running for `uid` is kept.
    pub fn start(&self, uid: &str, probe: Arc<dyn Probe>, login: Login, at_most: Duration, from: Summary) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|_, r| !r.task.is_finished());
        if running.contains_key(uid) {
            return;
        }
        let summary = Arc::new(Mutex::new(from));
        let into = summary.clone();
        let task = tokio::spawn(async move {
            let until = tokio::time::Instant::now() + at_most.min(AT_MOST);
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while tokio::time::Instant::now() < until {
                tick.tick().await;
                let at = Timestamp::now();
                let answer = probe.ask(&login).await;
                into.lock().unwrap_or_else(|p| p.into_inner()).push(at, answer);
            }
        });
        running.insert(uid.to_string(), Running { summary, task });
    }

    pub fn is_running(&self, uid: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(uid).is_some_and(|r| !r.task.is_finished())
    }

    /// What `uid`'s sampler saw; `None` when none runs for it.
    pub fn summary(&self, uid: &str) -> Option<Summary> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let summary = running.get(uid)?.summary.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Some(summary)
    }

    /// Stops and forgets `uid`'s sampler.
    pub fn stop(&self, uid: &str) {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
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

    fn summary(answers: Vec<(i64, Answer)>) -> Summary {
        let mut s = Summary::default();
        for (ms, answer) in answers {
            s.push(t(ms), answer);
        }
        s
    }

    #[test]
    fn the_outage_runs_from_the_first_refusal_to_the_writable_answer_after_the_last() {
        let s = summary(vec![
            (0, Answer::Writable),
            (250, no(CANNOT_CONNECT)),
            (500, no(CANNOT_CONNECT)),
            (750, no(READ_ONLY)),
            // The old writer answers writable once more before it restarts read-only.
            (1000, Answer::Writable),
            (1250, no(LOST)),
            (1500, Answer::Writable),
            (1750, Answer::Writable),
        ]);
        assert_eq!(s.first_refused, Some(t(250)));
        assert_eq!(s.writable_since, Some(t(1500)));
        assert!(s.writable_now);
        assert_eq!(s.last_at, Some(t(1750)));
        assert_eq!(s.outage_seconds(), Some(1.25));
        assert_eq!(s.errors, BTreeMap::from([(READ_ONLY, 1), (CANNOT_CONNECT, 2), (LOST, 1)]));
    }

    #[test]
    fn no_refusal_is_no_outage_and_a_resumed_sampler_knows_none() {
        let s = summary(vec![(0, Answer::Writable), (250, Answer::Writable)]);
        assert_eq!(s.outage_seconds(), Some(0.0));
        assert!(s.errors.is_empty());
        let resumed = Summary { resumed: true, ..s };
        assert_eq!(resumed.outage_seconds(), None, "a restarted controller cannot know the outage");
    }

    #[test]
    fn still_refused_is_no_outage_figure_yet() {
        let s = summary(vec![(0, Answer::Writable), (250, no(READ_ONLY))]);
        assert!(!s.writable_now);
        assert_eq!(s.outage_seconds(), None);
        assert_eq!(s.last_error.as_deref(), Some("error 1290"));
    }
}
