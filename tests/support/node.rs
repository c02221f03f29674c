//! Runs CloudFront Function code with Node.js (Debian `nodejs`, installed by
//! scripts/test.sh) through tests/routing/run.js, as CloudFront calls it on a
//! viewer request.

use std::path::Path;
use std::process::Command;

/// What the function made of one request URI.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// The request goes on to S3 for this URI.
    Uri(String),
    /// The function answers a redirect.
    Redirect(u16, String),
}

pub fn uri(u: &str) -> Served {
    Served::Uri(u.to_string())
}

pub fn redirect(status: u16, location: &str) -> Served {
    Served::Redirect(status, location.to_string())
}

/// `code` run for each of `uris`.
pub fn run(code: &str, uris: &[&str]) -> Vec<Served> {
    let dir = tempfile::tempdir().expect("tempdir");
    let code_file = dir.path().join("function.js");
    let cases_file = dir.path().join("uris.json");
    std::fs::write(&code_file, code).expect("write code");
    std::fs::write(&cases_file, serde_json::to_vec(uris).expect("json")).expect("write uris");
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/routing/run.js");
    let out = Command::new("node")
        .arg(runner)
        .arg(&code_file)
        .arg(&cases_file)
        .output()
        .expect("node runs (Debian nodejs; scripts/test.sh installs it)");
    assert!(out.status.success(), "node failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json from run.js");
    results
        .into_iter()
        .map(|r| match r.get("redirect") {
            Some(status) => Served::Redirect(
                status.as_u64().expect("status") as u16,
                r["location"].as_str().expect("location").to_string(),
            ),
            None => Served::Uri(r["uri"].as_str().expect("uri").to_string()),
        })
        .collect()
}
