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
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    client: reqwest::Client,
}

impl CountingProxy {
    /// Starts a proxy on 127.0.0.1 in front of `upstream` (e.g. AWS_ENDPOINT_URL).
    pub async fn start(upstream: &str) -> Self {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            counts: counts.clone(),
            client: reqwest::Client::new(),
        };
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, counts }
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
        || ["FailoverDBCluster", "RequestCertificate", "DeleteCertificate", "AddTagsToCertificate"].contains(&op)
}

fn operation(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
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

async fn forward(State(s): State<Shared>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let op = operation(&parts.method, &parts.uri, &parts.headers, &body);
    *s.counts.lock().expect("counts").entry(op).or_default() += 1;
    let url = format!("{}{}", s.upstream, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut upstream = s.client.request(parts.method.clone(), url).body(body);
    for (name, value) in parts.headers.iter() {
        if name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    match upstream.send().await {
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
        Err(_) => {
            let mut r = Response::new(Body::from("upstream unreachable"));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}
