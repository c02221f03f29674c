//! A proxy in front of the API server that makes a controller's watches lag:
//! each chunk of a `watch=true` response reaches the client `delay` after
//! the API server sent it (a watch cache behind by that much); every other
//! request passes at once. Plain HTTP towards the controller, HTTPS (the test
//! CA) towards the API server; the controller's own token passes through, so
//! RBAC still applies.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use base64::Engine;
use futures::StreamExt;

pub struct WatchDelay {
    pub addr: SocketAddr,
    kubeconfig: tempfile::NamedTempFile,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    delay: Duration,
}

impl WatchDelay {
    /// A proxy to the API server `kubeconfig` names, answering as that
    /// kubeconfig's user; [`WatchDelay::kubeconfig`] points at the proxy.
    pub async fn start(kubeconfig: &str, delay: Duration) -> Self {
        let text = std::fs::read_to_string(kubeconfig).expect("kubeconfig");
        let config: serde_json::Value = serde_yaml_ng::from_str(&text).expect("kubeconfig YAML");
        let cluster = &config["clusters"][0]["cluster"];
        let upstream = cluster["server"].as_str().expect("server").trim_end_matches('/').to_string();
        let ca = base64::engine::general_purpose::STANDARD
            .decode(cluster["certificate-authority-data"].as_str().expect("CA data"))
            .expect("CA base64");
        let token = config["users"][0]["user"]["token"].as_str().expect("token").to_string();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"))
            .build()
            .expect("client");
        let app = axum::Router::new().fallback(forward).with_state(Shared { upstream, client, delay });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut file = tempfile::NamedTempFile::new().expect("kubeconfig file");
        let proxied = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lagging\n  cluster:\n    server: http://{addr}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: lagging\n  context: {{cluster: lagging, user: u}}\ncurrent-context: lagging\n"
        );
        std::io::Write::write_all(&mut file, proxied.as_bytes()).expect("write kubeconfig");
        Self { addr, kubeconfig: file }
    }

    /// A kubeconfig for the proxy, with the original user's token.
    pub fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig.path().to_path_buf()
    }
}

async fn forward(State(s): State<Shared>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let watch = parts.uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    let mut upstream = s.client.request(parts.method.clone(), format!("{}{path}", s.upstream)).body(body);
    for (name, value) in parts.headers.iter() {
        if name != "content-length" && name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    let resp = match upstream.send().await {
        Ok(resp) => resp,
        Err(_) => return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::empty()).expect("response"),
    };
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out = out.header(name, value);
        }
    }
    let delay = if watch { s.delay } else { Duration::ZERO };
    // A delay line: each chunk is released `delay` after it arrived, in order.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Result<Bytes, reqwest::Error>)>();
    let mut chunks = resp.bytes_stream();
    tokio::spawn(async move {
        while let Some(chunk) = chunks.next().await {
            if tx.send((tokio::time::Instant::now() + delay, chunk)).is_err() {
                break;
            }
        }
    });
    let released = futures::stream::unfold(rx, |mut rx| async move {
        let (at, chunk) = rx.recv().await?;
        tokio::time::sleep_until(at).await;
        Some((chunk, rx))
    });
    out.body(Body::from_stream(released)).unwrap_or_else(|_| Response::new(Body::empty()))
}
