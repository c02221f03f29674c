//! A counting HTTP proxy in front of the AWS emulator: every request is
//! forwarded unchanged and counted by operation (the Query protocol's
//! `Action=`, or the JSON protocol's `X-Amz-Target`, else method and path).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::Response;

#[derive(Clone)]
pub struct CountingProxy {
    pub addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    forwarded: Arc<Mutex<HashMap<String, usize>>>,
    refusals: Refusals,
    sent_at: Arc<Mutex<Vec<(String, std::time::Instant)>>>,
    forms: Forms,
}

/// Bodies of STS requests (Query protocol, form-encoded) by operation.
type Forms = Arc<Mutex<Vec<(String, String)>>>;

/// Scripted answers by operation: `(status, content type, body)`, never forwarded.
type Refusals = Arc<Mutex<HashMap<String, (u16, &'static str, String)>>>;

/// Faults to inject: with probability `rate` a request gets, in turn, the
/// service's own throttling error, a 500, a 503 (none forwarded), or is
/// forwarded and then its response replaced by a 500 or its connection
/// dropped mid-response (a lost response either way). Every request waits
/// `latency` first.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    pub rate: f64,
    pub latency: std::time::Duration,
    pub seed: u64,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    forwarded: Arc<Mutex<HashMap<String, usize>>>,
    client: reqwest::Client,
    faults: Option<Faults>,
    rng: Arc<Mutex<u64>>,
    refusals: Refusals,
    sent_at: Arc<Mutex<Vec<(String, std::time::Instant)>>>,
    forms: Forms,
}

impl CountingProxy {
    /// Starts a proxy on 127.0.0.1 in front of `upstream` (e.g. AWS_ENDPOINT_URL).
    pub async fn start(upstream: &str) -> Self {
        Self::start_with(upstream, None).await
    }

    /// A proxy that injects `faults`.
    pub async fn with_faults(upstream: &str, faults: Faults) -> Self {
        Self::start_with(upstream, Some(faults)).await
    }

    async fn start_with(upstream: &str, faults: Option<Faults>) -> Self {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let forwarded = Arc::new(Mutex::new(HashMap::new()));
        let refusals = Refusals::default();
        let sent_at = Arc::new(Mutex::new(Vec::new()));
        let forms = Forms::default();
        let shared = Shared {
            refusals: refusals.clone(),
            sent_at: sent_at.clone(),
            forms: forms.clone(),
            upstream: upstream.trim_end_matches('/').to_string(),
            counts: counts.clone(),
            forwarded: forwarded.clone(),
            client: reqwest::Client::new(),
            rng: Arc::new(Mutex::new(faults.map(|f| f.seed.max(1)).unwrap_or(1))),
            faults,
        };
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, counts, forwarded, refusals, sent_at, forms }
    }

    /// The form-encoded bodies of the STS requests for `operation` (e.g. `AssumeRole`), in order.
    pub fn forms(&self, operation: &str) -> Vec<String> {
        self.forms.lock().expect("forms").iter().filter(|(op, _)| op == operation).map(|(_, b)| b.clone()).collect()
    }

    /// From now on, answers `operation` with this error instead of forwarding it.
    pub fn refuse(&self, operation: &str, status: u16, content_type: &'static str, body: &str) {
        self.refusals.lock().expect("refusals").insert(operation.to_string(), (status, content_type, body.to_string()));
    }

    /// Forwards `operation` again after [`CountingProxy::refuse`].
    pub fn allow(&self, operation: &str) {
        self.refusals.lock().expect("refusals").remove(operation);
    }

    /// The most requests whose path starts with `prefix` received in any one second.
    pub fn peak_per_second(&self, prefix: &str) -> usize {
        let sent = self.sent_at.lock().expect("times");
        let times: Vec<std::time::Instant> =
            sent.iter().filter(|(op, _)| op.contains(prefix)).map(|(_, t)| *t).collect();
        let second = std::time::Duration::from_secs(1);
        (0..times.len()).map(|i| times[i..].iter().take_while(|t| **t < times[i] + second).count()).max().unwrap_or(0)
    }

    /// Requests for `operation` that reached the emulator.
    pub fn forwarded(&self, operation: &str) -> usize {
        self.forwarded.lock().expect("counts").get(operation).copied().unwrap_or(0)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every operation seen so far with its count.
    pub fn snapshot(&self) -> Vec<(String, usize)> {
        let mut all: Vec<(String, usize)> =
            self.counts.lock().expect("counts").iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        all
    }

    /// Requests whose operation starts with `prefix` (e.g. `PUT /bucket/`).
    pub fn count_prefix(&self, prefix: &str) -> usize {
        self.counts.lock().expect("counts").iter().filter(|(op, _)| op.starts_with(prefix)).map(|(_, n)| n).sum()
    }

    /// Every write request seen so far, by operation.
    pub fn writes(&self) -> Vec<(String, usize)> {
        self.snapshot().into_iter().filter(|(op, _)| is_write(op)).collect()
    }

    /// Requests seen for `operation` so far.
    pub fn count(&self, operation: &str) -> usize {
        self.counts.lock().expect("counts").get(operation).copied().unwrap_or(0)
    }
}

/// Whether an operation label is an AWS write: a REST mutation (S3,
/// CloudFront, Route 53), or a Query/JSON write of RDS or ACM.
pub fn is_write(op: &str) -> bool {
    op.starts_with("PUT ")
        || op.starts_with("POST ")
        || op.starts_with("DELETE ")
        || ["CopyObject", "FailoverDBCluster", "RequestCertificate", "DeleteCertificate", "AddTagsToCertificate"]
            .contains(&op)
}

fn operation(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    if *method == Method::PUT && headers.contains_key("x-amz-copy-source") {
        return "CopyObject".to_string();
    }
    let query = uri.query().unwrap_or_default();
    let form = String::from_utf8_lossy(body);
    for part in query.split('&').chain(form.split('&')) {
        if let Some(action) = part.strip_prefix("Action=") {
            return action.to_string();
        }
    }
    format!("{method} {}", uri.path())
}

/// The throttling error each protocol sends.
fn throttle(path: &str, headers: &HeaderMap) -> Response {
    let (status, content_type, body) = if headers.contains_key("x-amz-target") {
        (400, "application/x-amz-json-1.1", r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string())
    } else if path == "/" || path.starts_with("/2020-05-31/") || path.starts_with("/2013-04-01/") {
        // Query (RDS, STS) and REST-XML (CloudFront, Route 53) errors share this shape.
        (400, "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>f</RequestId></ErrorResponse>".to_string())
    } else {
        (
            503,
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_string(),
        )
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    r.headers_mut().insert("content-type", axum::http::HeaderValue::from_static(content_type));
    r
}

fn status_only(code: StatusCode) -> Response {
    let mut r = Response::new(Body::from("injected fault"));
    *r.status_mut() = code;
    r
}

/// xorshift64: reproducible fault placement for a given seed.
fn roll(rng: &Mutex<u64>) -> f64 {
    let mut x = rng.lock().expect("rng");
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    (*x % 1_000_000) as f64 / 1_000_000.0
}

async fn forward(State(s): State<Shared>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let op = operation(&parts.method, &parts.uri, &parts.headers, &body);
    *s.counts.lock().expect("counts").entry(op.clone()).or_default() += 1;
    if body.starts_with(b"Action=") && String::from_utf8_lossy(&body).contains("Version=2011-06-15") {
        s.forms.lock().expect("forms").push((op.clone(), String::from_utf8_lossy(&body).into_owned()));
    }
    s.sent_at.lock().expect("times").push((format!("{op} {}", parts.uri.path()), std::time::Instant::now()));
    if let Some((status, content_type, body)) = s.refusals.lock().expect("refusals").get(&op).cloned() {
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT);
        r.headers_mut().insert("content-type", axum::http::HeaderValue::from_static(content_type));
        return r;
    }
    let (mut lose_response, mut drop_connection) = (false, false);
    if let Some(f) = s.faults {
        tokio::time::sleep(f.latency).await;
        let r = roll(&s.rng);
        if r < f.rate {
            match ((r / f.rate) * 5.0) as usize {
                0 => return throttle(parts.uri.path(), &parts.headers),
                1 => return status_only(StatusCode::INTERNAL_SERVER_ERROR),
                2 => return status_only(StatusCode::SERVICE_UNAVAILABLE),
                3 => lose_response = true,
                _ => drop_connection = true,
            }
        }
    }
    *s.forwarded.lock().expect("counts").entry(op).or_default() += 1;
    let url = format!("{}{}", s.upstream, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut upstream = s.client.request(parts.method.clone(), url).body(body);
    for (name, value) in parts.headers.iter() {
        if name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let response = match upstream.send().await {
        Ok(resp) => {
            let mut out = Response::builder().status(resp.status());
            for (name, value) in resp.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    out = out.header(name, value);
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            out.body(Body::from(bytes)).unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Err(_) => status_only(StatusCode::BAD_GATEWAY),
    };
    // A HEAD response has no body to cut short: it is lost as a 500 instead.
    if drop_connection && parts.method != Method::HEAD {
        return dropped_mid_response();
    }
    lose_response |= drop_connection;
    if lose_response { status_only(StatusCode::INTERNAL_SERVER_ERROR) } else { response }
}

/// A 200 whose body fails after the headers: the server closes the
/// connection and the client never sees a complete response.
fn dropped_mid_response() -> Response {
    let failing =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::ErrorKind::ConnectionReset.into()) });
    Response::new(Body::from_stream(failing))
}
