//! The routing function's JavaScript run by Node.js as CloudFront runs it
//! (viewer request, cloudfront-js-2.0 event shape) against a table of URIs,
//! for each mode. static_site.rs runs the code the emulator holds the same way.

mod support;

use awsops::api::static_site::{Redirect, RoutingMode, RoutingSpec};
use awsops::static_site::plan::routing::function;
use support::node::{self, redirect, uri};

const URIS: [&str; 9] = [
    "/",
    "/docs",
    "/docs/",
    "/docs/index.html",
    "/a.b/c",
    "/missing",
    "/missing.js",
    "/app/users/42",
    "/app/main.3f2a.js",
];

fn routing(mode: RoutingMode, subdirectory_index: bool) -> RoutingSpec {
    RoutingSpec { mode, subdirectory_index, not_found: Some("404.html".into()), redirects: Vec::new() }
}

fn served(routing: &RoutingSpec, uris: &[&str]) -> Vec<node::Served> {
    let f = function(routing, "index.html").expect("this routing compiles to a function");
    node::run(&f.code, uris)
}

#[test]
fn static_mode_serves_a_folders_index_for_the_folder_with_and_without_slash() {
    let got = served(&routing(RoutingMode::Static, true), &URIS);
    let want = [
        uri("/index.html"),
        uri("/docs/index.html"),
        uri("/docs/index.html"),
        uri("/docs/index.html"),
        uri("/a.b/c/index.html"),
        uri("/missing/index.html"),
        uri("/missing.js"),
        uri("/app/users/42/index.html"),
        uri("/app/main.3f2a.js"),
    ];
    assert_eq!(got, want);
}

#[test]
fn spa_mode_serves_the_index_document_for_every_path_without_a_file_extension() {
    let got = served(&routing(RoutingMode::Spa, true), &URIS);
    let want = [
        uri("/index.html"),
        uri("/index.html"),
        uri("/index.html"),
        uri("/docs/index.html"),
        uri("/index.html"),
        uri("/index.html"),
        uri("/missing.js"),
        uri("/index.html"),
        uri("/app/main.3f2a.js"),
    ];
    assert_eq!(got, want);
}

#[test]
fn redirects_come_first_and_a_prefix_carries_what_it_matched_as_splat() {
    let mut r = routing(RoutingMode::Static, true);
    r.redirects = vec![
        Redirect { from: "/old.html".into(), to: "/new.html".into(), status: 301 },
        Redirect { from: "/blog/*".into(), to: "/posts/:splat".into(), status: 308 },
        Redirect { from: "/docs/v1/*".into(), to: "https://v1.example.com/:splat".into(), status: 302 },
        Redirect { from: "/docs/*".into(), to: "/manual/".into(), status: 307 },
    ];
    let got =
        served(&r, &["/old.html", "/old.htm", "/blog/2024/hello/", "/blog/", "/docs/v1/a/b.html", "/docs/x", "/blogs"]);
    let want = [
        redirect(301, "/new.html"),
        uri("/old.htm"),
        redirect(308, "/posts/2024/hello/"),
        redirect(308, "/posts/"),
        redirect(302, "https://v1.example.com/a/b.html"),
        redirect(307, "/manual/"),
        uri("/blogs/index.html"),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_splat_cannot_turn_a_path_redirect_into_another_host() {
    let mut r = routing(RoutingMode::Static, true);
    r.redirects = vec![Redirect { from: "/x/*".into(), to: "/:splat".into(), status: 302 }];
    let got = served(&r, &["/x//evil.example/a", "/x/\\evil.example", "/x/a/b"]);
    assert_eq!(got, [redirect(302, "/evil.example/a"), redirect(302, "/evil.example"), redirect(302, "/a/b")]);
}

#[test]
fn the_index_document_named_in_the_spec_is_the_one_served() {
    let f = function(&routing(RoutingMode::Static, true), "default.htm").expect("a function");
    assert_eq!(node::run(&f.code, &["/", "/docs/"]), [uri("/default.htm"), uri("/docs/default.htm")]);
}

#[test]
fn static_mode_without_subdirectory_index_rewrites_nothing_and_keeps_redirects() {
    let mut r = routing(RoutingMode::Static, false);
    r.redirects = vec![Redirect { from: "/a".into(), to: "/b".into(), status: 301 }];
    assert_eq!(served(&r, &["/", "/docs/", "/a"]), [uri("/"), uri("/docs/"), redirect(301, "/b")]);
}
