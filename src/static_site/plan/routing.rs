//! Routing and headers (API.md, "content at real size, routing and headers"):
//! the CloudFront Function `spec.routing` compiles to, the response headers
//! policy `spec.headers` asks for, the error responses `notFound` needs, and
//! the URLs a changed key is served at (what to invalidate). The function and
//! the policy are named by a hash of what they hold: sites with the same rules
//! share one (both are few per account), and a resource with that name holding
//! something else was edited by hand and is put back.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::api::static_site::{HeadersPreset, HeadersSpec, RoutingMode, RoutingSpec};
use crate::aws::cloudfront::ErrorPage;
use crate::aws::edge::HeadersPolicyConfig;

/// Names of the functions awsops compiles (never another's function).
pub const FUNCTION_PREFIX: &str = "awsops-routing-";
/// Names of the response headers policies awsops creates.
pub const POLICY_PREFIX: &str = "awsops-headers-";
/// CloudFront's limit on a function's code.
pub const MAX_FUNCTION_CODE: usize = 10 * 1024;
/// CloudFront's managed SecurityHeadersPolicy.
pub const MANAGED_SECURITY_HEADERS: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";
pub const MANAGED_SECURITY_HEADERS_NAME: &str = "Managed-SecurityHeadersPolicy";

/// A CloudFront Function: its name (from its code) and code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub code: String,
}

/// The handler, run by CloudFront's `cloudfront-js-2.0` runtime on every
/// viewer request; `ROUTES` is the site's routing as JSON.
const HANDLER: &str = r#"var REASONS = {301: 'Moved Permanently', 302: 'Found', 307: 'Temporary Redirect', 308: 'Permanent Redirect'};

function handler(event) {
    var request = event.request;
    var uri = request.uri;
    for (var i = 0; i < ROUTES.redirects.length; i++) {
        var r = ROUTES.redirects[i];
        if (r.prefix ? uri.startsWith(r.from) : uri === r.from) {
            var location = r.to.split(':splat').join(r.prefix ? uri.slice(r.from.length) : '');
            if (location.charAt(0) === '/') {
                location = '/' + location.replace(/^[\/\\]+/, '');
            }
            return {statusCode: r.status, statusDescription: REASONS[r.status], headers: {location: {value: location}}};
        }
    }
    var last = uri.slice(uri.lastIndexOf('/') + 1);
    if (ROUTES.spa) {
        if (last.indexOf('.') === -1) {
            request.uri = '/' + ROUTES.index;
        }
    } else if (ROUTES.folders) {
        if (last === '') {
            request.uri = uri + ROUTES.index;
        } else if (last.indexOf('.') === -1) {
            request.uri = uri + '/' + ROUTES.index;
        }
    }
    return request;
}
"#;

/// The function `routing` compiles to; `None` when it rewrites and
/// redirects nothing (a `notFound` page alone needs no function).
pub fn function(routing: &RoutingSpec, index_document: &str) -> Option<Function> {
    let spa = routing.mode == RoutingMode::Spa;
    let folders = !spa && routing.subdirectory_index;
    if !spa && !folders && routing.redirects.is_empty() {
        return None;
    }
    let redirects: Vec<serde_json::Value> = routing
        .redirects
        .iter()
        .map(|r| {
            let prefix = r.from.ends_with('*');
            serde_json::json!({
                "from": r.from.trim_end_matches('*'),
                "prefix": prefix,
                "to": r.to,
                "status": r.status,
            })
        })
        .collect();
    // JSON is JavaScript but for two line separators an older parser refuses in a string.
    let routes = serde_json::json!({"index": index_document, "spa": spa, "folders": folders, "redirects": redirects})
        .to_string()
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let code =
        format!("// awsops StaticSite routing: generated, edits are put back.\nvar ROUTES = {routes};\n{HANDLER}");
    let name = format!("{FUNCTION_PREFIX}{}", &hex::encode(Sha256::digest(code.as_bytes()))[..16]);
    Some(Function { name, code })
}

/// Whether `name` is a function awsops compiled (`awsops-routing-` and 16
/// hex digits): one it may detach and remove, never another's.
pub fn is_our_function(name: &str) -> bool {
    hashed(name, FUNCTION_PREFIX)
}

/// Whether `name` is a headers policy awsops created.
pub fn is_our_policy(name: &str) -> bool {
    hashed(name, POLICY_PREFIX)
}

fn hashed(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A function or policy a site made or uses, as `status.edgeResources` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeResource {
    Function(String),
    Policy(String),
}

impl EdgeResource {
    /// The entry in status: `function/<name>` or `policy/<name>`.
    pub fn entry(&self) -> String {
        match self {
            Self::Function(name) => format!("function/{name}"),
            Self::Policy(name) => format!("policy/{name}"),
        }
    }

    /// An entry read back from status; `None` for anything awsops would not
    /// have written (status can be edited: never a name outside awsops' own).
    pub fn parse(entry: &str) -> Option<Self> {
        match entry.split_once('/')? {
            ("function", name) if is_our_function(name) => Some(Self::Function(name.to_string())),
            ("policy", name) if is_our_policy(name) => Some(Self::Policy(name.to_string())),
            _ => None,
        }
    }
}

/// `recorded` with `made` added (each once).
pub fn with_made(recorded: &[String], made: &[EdgeResource]) -> Vec<String> {
    let mut out = recorded.to_vec();
    for entry in made.iter().map(EdgeResource::entry) {
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// The distribution's 403 and 404 error responses: the `notFound` page with
/// status 404 (S3 answers 403 through OAC for a missing key). A site without
/// `routing` leaves them as they are, except the ones it set itself
/// (`recorded`, from status) when routing was removed.
pub fn error_pages(routing: Option<&RoutingSpec>, recorded: Option<&str>, actual: &[ErrorPage]) -> Vec<ErrorPage> {
    match routing {
        Some(routing) => {
            routing.not_found.iter().flat_map(|page| [403, 404].map(|code| ErrorPage::new(code, page))).collect()
        }
        None => {
            let ours = recorded.map(|page| format!("/{page}"));
            actual.iter().filter(|p| Some(&p.page) != ours.as_ref()).cloned().collect()
        }
    }
}

/// The response headers policy `headers` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadersChoice {
    /// No policy on the distribution.
    Nothing,
    /// CloudFront's managed SecurityHeadersPolicy.
    Managed,
    /// A policy awsops creates, named by a hash of its headers.
    Own(HeadersPolicyConfig),
}

/// The headers of the `Secure` preset, as the managed SecurityHeadersPolicy sets them.
const SECURE: [(&str, &str); 5] = [
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-XSS-Protection", "1; mode=block"),
];

pub fn headers(spec: Option<&HeadersSpec>) -> HeadersChoice {
    let Some(spec) = spec else { return HeadersChoice::Nothing };
    let mut security: BTreeMap<String, String> = BTreeMap::new();
    if spec.preset == HeadersPreset::Secure {
        security.extend(SECURE.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    match &spec.content_security_policy {
        None if spec.preset == HeadersPreset::Secure => return HeadersChoice::Managed,
        None => return HeadersChoice::Nothing,
        Some(csp) => security.insert("Content-Security-Policy".into(), csp.clone()),
    };
    let hashed: String = security.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    let name = format!("{POLICY_PREFIX}{}", &hex::encode(Sha256::digest(hashed.as_bytes()))[..16]);
    let comment = "awsops StaticSite headers: shared by sites with the same headers, edits are put back".into();
    HeadersChoice::Own(HeadersPolicyConfig { name, comment, security, other: false })
}

/// The routing function and headers policy a site's distribution runs,
/// once they exist in AWS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attached {
    /// Name and ARN.
    pub function: Option<(String, String)>,
    /// Id and name.
    pub policy: Option<(String, String)>,
}

/// The name of the function behind an ARN (`arn:aws:cloudfront::<account>:function/<name>`).
pub fn function_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Which URLs serve a key besides `/<key>`: what a changed key invalidates.
/// (CloudFront caches a rewritten request under the URI the function gave
/// it, so SPA deep links share `/index.html`'s cache entry; API.md still
/// asks for the folder URLs, which cost nothing.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Each key at its own path (and the index document at `/`).
    Keys,
    /// `dir/<index>` also at `/dir/` and `/dir`.
    Folders,
}

pub fn served(routing: Option<&RoutingSpec>) -> Served {
    match routing {
        Some(r) if r.mode == RoutingMode::Static && r.subdirectory_index => Served::Folders,
        _ => Served::Keys,
    }
}

/// What a site's distribution runs for routing and headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    pub function_arn: Option<String>,
    pub policy_id: Option<String>,
    pub error_pages: Vec<ErrorPage>,
}

/// What the site last recorded its distribution running (status).
#[derive(Clone, Copy, Debug, Default)]
pub struct Recorded<'a> {
    pub not_found: Option<&'a str>,
    pub policy_id: Option<&'a str>,
}

/// The behaviour the spec asks for, given what exists (`attached`) and what
/// the distribution runs now (`actual`, empty for a new one). A site with
/// `routing` owns the viewer-request function and the 403/404 error
/// responses, one with `headers` the policy; without them it leaves what
/// someone else attached and removes only what it put there itself (a
/// function by its `awsops-routing-` name, the policy and pages status
/// recorded).
pub fn behaviour(
    routing: Option<&RoutingSpec>,
    headers: bool,
    attached: &Attached,
    recorded: Recorded<'_>,
    actual: &Behaviour,
) -> Behaviour {
    let function_arn = match routing {
        Some(_) => attached.function.as_ref().map(|(_, arn)| arn.clone()),
        None => actual.function_arn.clone().filter(|arn| !is_our_function(function_name(arn))),
    };
    let policy_id = if headers {
        attached.policy.as_ref().map(|(id, _)| id.clone())
    } else {
        actual.policy_id.clone().filter(|id| Some(id.as_str()) != recorded.policy_id)
    };
    let error_pages = error_pages(routing, recorded.not_found, &actual.error_pages);
    Behaviour { function_arn, policy_id, error_pages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::static_site::Redirect;

    fn routing(mode: RoutingMode) -> RoutingSpec {
        RoutingSpec { mode, subdirectory_index: true, not_found: None, redirects: Vec::new() }
    }

    #[test]
    fn the_function_is_named_by_its_code_so_equal_routing_shares_one() {
        let a = function(&routing(RoutingMode::Static), "index.html").expect("a function");
        let b = function(&routing(RoutingMode::Static), "index.html").expect("a function");
        assert_eq!(a, b);
        assert!(a.name.starts_with(FUNCTION_PREFIX) && a.name.len() <= 64 && is_our_function(&a.name));
        let spa = function(&routing(RoutingMode::Spa), "index.html").expect("a function");
        assert_ne!(a.name, spa.name);
        let other_index = function(&routing(RoutingMode::Static), "default.htm").expect("a function");
        assert_ne!(a.name, other_index.name);
        assert!(!is_our_function("someone-elses-function"));
        assert!(!is_our_function("awsops-routing-not-a-hash-at-all"), "only the exact form awsops writes");
    }

    #[test]
    fn routing_that_rewrites_and_redirects_nothing_needs_no_function() {
        let mut r = routing(RoutingMode::Static);
        r.subdirectory_index = false;
        r.not_found = Some("404.html".into());
        assert_eq!(function(&r, "index.html"), None);
        r.redirects.push(Redirect { from: "/old".into(), to: "/new".into(), status: 301 });
        assert!(function(&r, "index.html").is_some());
    }

    #[test]
    fn redirects_and_the_index_are_data_in_the_code_never_code() {
        let mut r = routing(RoutingMode::Static);
        r.redirects.push(Redirect { from: "/blog/*".into(), to: "/posts/:splat".into(), status: 308 });
        let f = function(&r, "index.html").expect("a function");
        assert!(f.code.contains(r#"{"from":"/blog/","prefix":true,"to":"/posts/:splat","status":308}"#), "{}", f.code);
        assert!(f.code.len() < MAX_FUNCTION_CODE);
    }

    #[test]
    fn the_largest_routing_the_schema_allows_fits_in_a_function() {
        let mut r = routing(RoutingMode::Static);
        for i in 0..crate::api::static_site::MAX_REDIRECTS {
            let from = format!("/{i:02}{}*", "f".repeat(124));
            let to = format!("https://{i:02}{}", "t".repeat(190));
            r.redirects.push(Redirect { from, to, status: 301 });
        }
        let f = function(&r, &"i".repeat(255)).expect("a function");
        assert!(f.code.len() <= MAX_FUNCTION_CODE, "{} bytes", f.code.len());
    }

    #[test]
    fn not_found_serves_the_page_with_404_for_both_codes_s3_answers() {
        let mut r = routing(RoutingMode::Static);
        r.not_found = Some("404.html".into());
        let pages = error_pages(Some(&r), None, &[]);
        assert_eq!(pages, vec![ErrorPage::new(403, "404.html"), ErrorPage::new(404, "404.html")]);
        assert_eq!(pages[0].page, "/404.html");
        assert_eq!(pages[0].response_code, "404");
        r.not_found = None;
        let hand_made = vec![ErrorPage::new(403, "index.html")];
        assert!(error_pages(Some(&r), None, &hand_made).is_empty(), "routing owns the 403 and 404 responses");
    }

    #[test]
    fn without_routing_only_the_pages_the_site_set_are_removed() {
        let actual = vec![ErrorPage::new(403, "index.html"), ErrorPage::new(404, "404.html")];
        assert_eq!(error_pages(None, None, &actual), actual, "never configured: left alone");
        assert_eq!(error_pages(None, Some("404.html"), &actual), vec![ErrorPage::new(403, "index.html")]);
    }

    #[test]
    fn secure_headers_without_csp_use_the_managed_policy_and_with_csp_an_own_one() {
        let spec = |preset, csp: Option<&str>| HeadersSpec { preset, content_security_policy: csp.map(str::to_string) };
        assert_eq!(headers(None), HeadersChoice::Nothing);
        assert_eq!(headers(Some(&spec(HeadersPreset::None, None))), HeadersChoice::Nothing);
        assert_eq!(headers(Some(&spec(HeadersPreset::Secure, None))), HeadersChoice::Managed);
        let HeadersChoice::Own(own) = headers(Some(&spec(HeadersPreset::Secure, Some("default-src 'self'")))) else {
            panic!("an own policy")
        };
        assert_eq!(own.security.len(), 6);
        assert_eq!(own.security["Content-Security-Policy"], "default-src 'self'");
        assert!(own.name.starts_with(POLICY_PREFIX) && own.name.len() <= 128);
        let HeadersChoice::Own(csp_only) = headers(Some(&spec(HeadersPreset::None, Some("default-src 'self'")))) else {
            panic!("an own policy")
        };
        assert_eq!(csp_only.security.keys().collect::<Vec<_>>(), vec!["Content-Security-Policy"]);
        assert_ne!(own.name, csp_only.name);
    }

    #[test]
    fn a_function_arn_names_its_function() {
        assert_eq!(function_name("arn:aws:cloudfront::123456789012:function/awsops-routing-ab"), "awsops-routing-ab");
    }

    #[test]
    fn line_separators_in_the_spec_are_escaped_in_the_code() {
        let f = function(&routing(RoutingMode::Static), "a\u{2028}b.html").expect("a function");
        assert!(!f.code.contains('\u{2028}') && f.code.contains("a\\u2028b.html"));
    }

    #[test]
    fn status_lists_only_functions_and_policies_awsops_names() {
        let f = EdgeResource::Function("awsops-routing-0123456789abcdef".into());
        let p = EdgeResource::Policy("awsops-headers-0123456789abcdef".into());
        assert_eq!(EdgeResource::parse(&f.entry()), Some(f.clone()));
        assert_eq!(EdgeResource::parse(&p.entry()), Some(p.clone()));
        assert_eq!(EdgeResource::parse("function/someone-elses"), None);
        assert_eq!(EdgeResource::parse("policy/Managed-SecurityHeadersPolicy"), None);
        assert_eq!(EdgeResource::parse("bucket/awsops-routing-0123456789abcdef"), None);
        let listed = with_made(&[f.entry()], &[f.clone(), p.clone()]);
        assert_eq!(listed, vec![f.entry(), p.entry()]);
    }

    #[test]
    fn without_routing_or_headers_a_site_keeps_what_others_attached_and_drops_its_own() {
        let ours = "arn:aws:cloudfront::1:function/awsops-routing-0123456789abcdef".to_string();
        let theirs = "arn:aws:cloudfront::1:function/hand-made".to_string();
        let actual = |function: &str, policy: &str| Behaviour {
            function_arn: Some(function.to_string()),
            policy_id: Some(policy.to_string()),
            error_pages: vec![ErrorPage::new(403, "index.html")],
        };
        let recorded = Recorded { not_found: None, policy_id: Some("P-OURS") };
        let kept = behaviour(None, false, &Attached::default(), recorded, &actual(&theirs, "P-THEIRS"));
        assert_eq!(kept, actual(&theirs, "P-THEIRS"));
        let dropped = behaviour(None, false, &Attached::default(), recorded, &actual(&ours, "P-OURS"));
        assert_eq!((dropped.function_arn, dropped.policy_id), (None, None));
        let attached = Attached {
            function: Some(("awsops-routing-0123456789abcdef".into(), ours.clone())),
            policy: Some(("P-NEW".into(), "awsops-headers-0123456789abcdef".into())),
        };
        let owned =
            behaviour(Some(&routing(RoutingMode::Static)), true, &attached, recorded, &actual(&theirs, "P-THEIRS"));
        assert_eq!((owned.function_arn.as_deref(), owned.policy_id.as_deref()), (Some(ours.as_str()), Some("P-NEW")));
        assert!(owned.error_pages.is_empty(), "routing owns the 403 and 404 responses");
    }

    #[test]
    fn what_a_key_is_served_at_follows_the_mode() {
        assert_eq!(served(None), Served::Keys);
        assert_eq!(served(Some(&routing(RoutingMode::Static))), Served::Folders);
        assert_eq!(served(Some(&routing(RoutingMode::Spa))), Served::Keys);
        let mut plain = routing(RoutingMode::Static);
        plain.subdirectory_index = false;
        assert_eq!(served(Some(&plain)), Served::Keys);
    }
}
