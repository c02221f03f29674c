//! Fetching an archive: HTTPS only (certificates always verified, against
//! the public roots and `--source-ca-file`), from hosts the namespace's
//! TenantPolicies list (each redirect too), never from link-local or
//! instance-metadata addresses, streamed to a file in the work folder while
//! its sha256 is computed.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::api::conditions::{Reason, Stall};
use crate::api::static_site::shown_url;
use crate::core::tenancy::parsed_host;

pub use crate::dataplane::Sources as Settings;

/// Why nothing was fetched.
#[derive(Debug)]
pub enum Failure {
    /// The source cannot be used as asked (a digest mismatch, a refused host).
    Stall(Stall),
    /// The host did not answer or answered an error: tried again later.
    Retry(String),
    /// The work folder or the controller's own files failed: tried again later.
    Local(String),
}

impl From<Stall> for Failure {
    fn from(stall: Stall) -> Self {
        Self::Stall(stall)
    }
}

impl Failure {
    /// The source cannot be served as it is (`ContentInvalid`).
    pub fn invalid(message: String) -> Self {
        Self::Stall(Stall::new(Reason::ContentInvalid, message))
    }

    /// A file of the work folder could not be written or read.
    pub fn work_folder(path: &Path, e: &std::io::Error) -> Self {
        Self::Local(format!("work folder {}: {e}", path.display()))
    }
}

/// An error with every cause after it (a client's own message is often only
/// "error sending request").
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    message
}

/// Which hosts the source may be fetched from (the original and redirects).
pub type Allowed = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Most redirects followed.
const MAX_REDIRECTS: usize = 5;
/// The work folder's I/O buffer: bytes gathered before a write to it
/// (network pieces are small, and each tokio file write is a trip to the
/// blocking pool; the unpacker writes whole buffers too) and read from an
/// archive file at a time.
pub const WRITE_BUFFER: usize = 1024 * 1024;

/// Downloads `url` into `file`, checking its sha256 (lowercase hex) and
/// that it is at most `max_bytes`.
pub async fn download(
    settings: &Settings,
    url: &str,
    sha256: &str,
    max_bytes: u64,
    allowed: Allowed,
    file: &Path,
) -> Result<(), Failure> {
    let parsed = reqwest::Url::parse(url).ok();
    match parsed.as_ref().and_then(parsed_host) {
        Some(host) if allowed(&host) => refuse_literal(url)?,
        _ => {
            let message = format!("{} names a host no TenantPolicy lists in spec.staticSites.sources", shown_url(url));
            return Err(Stall::new(Reason::SourceRefused, message).into());
        }
    }
    tokio::time::timeout(DEADLINE, async {
    let client = client(settings, allowed)?;
    let response = client.get(url).send().await.map_err(|e| failure(url, e))?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(Failure::Retry(format!("{} answered {status}", shown_url(url))));
    }
    let created = tokio::fs::File::create(file).await.map_err(|e| Failure::work_folder(file, &e))?;
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, created);
    let (mut hash, mut bytes) = (Sha256::new(), 0u64);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| failure(url, e))?;
        bytes += chunk.len() as u64;
        if bytes > max_bytes {
            let message = format!(
                "{} is larger than {max_bytes} bytes, more than spec.content.maxBytes allows once unpacked: raise the limit or serve less",
                shown_url(url)
            );
            return Err(Stall::new(Reason::ContentTooLarge, message).into());
        }
        hash.update(&chunk);
        out.write_all(&chunk).await.map_err(|e| Failure::work_folder(file, &e))?;
    }
    out.flush().await.map_err(|e| Failure::work_folder(file, &e))?;
    let got = hex::encode(hash.finalize());
    if !got.eq_ignore_ascii_case(sha256) {
        let message = format!(
            "{} has sha256 {got}, not spec.content.archive.sha256 {sha256}: nothing was uploaded; set the digest of the archive you mean to serve",
            shown_url(url)
        );
        return Err(Stall::new(Reason::ContentDigestMismatch, message).into());
    }
    Ok(())
    })
    .await
    .map_err(|_| Failure::Retry(format!("fetching {} took longer than {DEADLINE:?}", shown_url(url))))?
}

/// Longest a download may take, start to end.
pub const DEADLINE: Duration = Duration::from_secs(30 * 60);

fn client(settings: &Settings, allowed: Allowed) -> Result<reqwest::Client, Failure> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(Refused(format!("more than {MAX_REDIRECTS} redirects")));
        }
        let url = attempt.url().to_string();
        match parsed_host(attempt.url()) {
            Some(host) if allowed(&host) => match refuse_literal(&url) {
                Ok(()) => attempt.follow(),
                Err(_) => attempt
                    .error(Refused(format!("it redirected to {}, a link-local or metadata address", shown_url(&url)))),
            },
            Some(host) => attempt.error(Refused(format!(
                "it redirected to host {host:?}, which no TenantPolicy lists in spec.staticSites.sources"
            ))),
            None => attempt
                .error(Refused(format!("it redirected to {}, not an https:// URL without user info", shown_url(&url)))),
        }
    });
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .redirect(policy)
        .dns_resolver(Arc::new(Guarded));
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| Failure::work_folder(path, &e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Failure::Local(format!("--source-ca-file {}: {e}", path.display())))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| Failure::Local(format!("HTTP client: {e}")))
}

/// A refusal by the redirect policy or the resolver, found again in the
/// error chain reqwest returns.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn failure(url: &str, e: reqwest::Error) -> Failure {
    // Messages name the URL without its query (a presigned URL's signature).
    let e = e.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            let message = format!("{} was not fetched: {refused}", shown_url(url));
            return Failure::Stall(Stall::new(Reason::SourceRefused, message));
        }
        source = err.source();
    }
    Failure::Retry(format!("fetching {}: {}", shown_url(url), with_causes(&e)))
}

/// Refuses a `host[:port]` that names or resolves only to addresses content
/// is never fetched from (for clients whose resolver is not [`Guarded`]).
pub async fn check_host(host: &str) -> Result<(), Failure> {
    refuse_literal(&format!("https://{host}/"))?;
    let lookup = if host.starts_with('[') || host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        tokio::net::lookup_host(host.to_string()).await
    } else {
        tokio::net::lookup_host(format!("{host}:443")).await
    };
    let Ok(addrs) = lookup else { return Ok(()) }; // the client reports it unreachable
    let all: Vec<SocketAddr> = addrs.collect();
    if !all.is_empty() && all.iter().all(|a| forbidden(a.ip())) {
        let message =
            format!("{host} resolves only to link-local or metadata addresses: content is never fetched from them");
        return Err(Stall::new(Reason::SourceRefused, message).into());
    }
    Ok(())
}

/// Resolves as the system does, keeping only addresses content may come from.
struct Guarded;

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = all.iter().copied().filter(|a| !forbidden(a.ip())).collect();
            if usable.is_empty() && !all.is_empty() {
                let why = format!("{host} resolves only to link-local or metadata addresses");
                return Err(Box::new(Refused(why)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A URL whose host is an address content is never fetched from.
fn refuse_literal(url: &str) -> Result<(), Stall> {
    let parsed = reqwest::Url::parse(url).ok();
    let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or_default();
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) if forbidden(ip) => {
            let message =
                format!("{url} names {ip}, a link-local or instance-metadata address content is never fetched from");
            Err(Stall::new(Reason::SourceRefused, message))
        }
        _ => Ok(()),
    }
}

/// Link-local (169.254.0.0/16 with the instance metadata service, fe80::/10),
/// unspecified, and the metadata service's IPv6 address fd00:ec2::254; also
/// as an IPv4-mapped, IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address.
fn forbidden(ip: IpAddr) -> bool {
    const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            let [a, b, ..] = v6.segments();
            let nat64 = (a, b) == (0x64, 0xff9b) && v6.segments()[2..6] == [0; 4];
            let octets = v6.octets();
            let embedded = std::net::Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
            if v6.to_ipv4().is_some() || nat64 {
                return v6.is_unspecified() || forbidden(IpAddr::V4(embedded));
            }
            v6.is_unicast_link_local() || v6 == METADATA_V6
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_metadata_addresses_are_never_fetched_from() {
        let refused =
            ["169.254.169.254", "169.254.1.1", "0.0.0.0", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254"];
        for ip in refused.into_iter().chain(["::a9fe:a9fe", "64:ff9b::a9fe:a9fe", "::"]) {
            assert!(forbidden(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.1", "203.0.113.9", "::1", "2001:db8::1"] {
            assert!(!forbidden(ip.parse().expect("ip")), "{ip}");
        }
        assert!(refuse_literal("https://169.254.169.254/latest/meta-data").is_err());
        assert!(refuse_literal("https://169.254.169.254:8443/x").is_err());
        assert!(refuse_literal("https://[fd00:ec2::254]/x").is_err());
        assert!(refuse_literal("https://[fd00:ec2::254]:443/x").is_err());
        assert!(refuse_literal("https://127.0.0.1:8443/site.tar.gz").is_ok());
        assert!(refuse_literal("https://ci.example.com/site.tar.gz").is_ok());
    }
}
