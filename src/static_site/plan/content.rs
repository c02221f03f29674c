//! Step 6: which files to upload and which to consider for pruning, the
//! paths to invalidate, and what status says about content.

use std::collections::{BTreeMap, BTreeSet};

use super::routing::Served;
use crate::api::static_site::ContentStatus;
use crate::aws::s3::ObjectInfo;

/// One file the sources declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFile {
    pub key: String,
    pub md5_hex: String,
    pub size: usize,
}

/// What content sync does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentPlan {
    pub upload: Vec<String>,
    /// Keys to delete if HeadObject shows this site uploaded them.
    pub prune_candidates: Vec<String>,
    pub unchanged: usize,
}

/// Uploads what is missing or whose MD5 differs; with `prune`, every other
/// key is a candidate for deletion (only this site's objects are deleted).
pub fn content_plan(desired: &[DesiredFile], existing: &[ObjectInfo], prune: bool) -> ContentPlan {
    let have: BTreeMap<&str, &str> = existing.iter().map(|o| (o.key.as_str(), o.etag.as_str())).collect();
    let want: BTreeSet<&str> = desired.iter().map(|f| f.key.as_str()).collect();
    let mut plan = ContentPlan::default();
    for f in desired {
        if have.get(f.key.as_str()).is_some_and(|etag| etag.eq_ignore_ascii_case(&f.md5_hex)) {
            plan.unchanged += 1;
        } else {
            plan.upload.push(f.key.clone());
        }
    }
    if prune {
        plan.prune_candidates =
            existing.iter().filter(|o| !want.contains(o.key.as_str())).map(|o| o.key.clone()).collect();
    }
    plan
}

/// Most paths in one invalidation (CloudFront allows 3,000 in flight per
/// distribution); past it, `/*`.
const MAX_PATHS: usize = 3000;
/// Most bytes of pending paths status keeps; past it, `/*` (one path to
/// CloudFront, though one of its 15 wildcards in flight).
const MAX_PENDING_BYTES: usize = 16 * 1024;

/// CloudFront paths to invalidate: those of the keys changed now and the
/// other URLs that serve them (`served`: a changed index document at `/`, a
/// folder's at `/dir/` and `/dir` with routing),
/// plus what an invalidation CloudFront refused left `pending`. Nothing for a
/// distribution created in this pass: it has cached nothing yet.
pub fn invalidation_paths(
    changed: &[String],
    pending: &[String],
    index_document: &str,
    served: Served,
    new_distribution: bool,
) -> Vec<String> {
    if new_distribution {
        return Vec::new();
    }
    let mut paths: BTreeSet<String> = pending.iter().cloned().collect();
    for key in changed {
        let path = percent_encoded(key);
        if key == index_document {
            paths.insert("/".into());
        } else if served == Served::Folders
            && let Some(folder) = path.strip_suffix(&format!("/{}", percent_encoded(index_document)))
        {
            paths.insert(format!("/{folder}/"));
            paths.insert(format!("/{folder}"));
        }
        paths.insert(format!("/{path}"));
    }
    if paths.len() > MAX_PATHS || paths.contains("/*") {
        return vec!["/*".into()];
    }
    paths.into_iter().collect()
}

/// A key as CloudFront wants it in a path: every byte but the unreserved
/// characters and `/` percent-encoded (a raw `?`, `#` or space would name
/// another URL or be refused).
fn percent_encoded(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What status keeps of an invalidation CloudFront refused.
pub fn pending(paths: Vec<String>) -> Vec<String> {
    if paths.iter().map(String::len).sum::<usize>() > MAX_PENDING_BYTES { vec!["/*".into()] } else { paths }
}

/// What status says about content after a sync: the counts of the last sync
/// that changed something, kept while the content stays the same.
pub fn status(
    previous: Option<&ContentStatus>,
    revision: String,
    objects: usize,
    (uploaded, pruned): (usize, usize),
    invalidation_id: Option<String>,
    pending_invalidation: Vec<String>,
) -> ContentStatus {
    let unchanged = previous.filter(|c| c.revision == revision && uploaded + pruned == 0);
    ContentStatus {
        revision,
        objects: objects as i64,
        uploaded: unchanged.map_or(uploaded as i64, |c| c.uploaded),
        deleted: unchanged.map_or(pruned as i64, |c| c.deleted),
        invalidation_id: invalidation_id.or_else(|| previous.and_then(|c| c.invalidation_id.clone())),
        pending_invalidation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, md5: &str) -> DesiredFile {
        DesiredFile { key: key.into(), md5_hex: md5.into(), size: 1 }
    }

    fn object(key: &str, etag: &str) -> ObjectInfo {
        ObjectInfo { key: key.into(), etag: etag.into(), size: 1 }
    }

    #[test]
    fn content_uploads_only_what_changed_and_prunes_only_when_asked() {
        let desired = [file("index.html", "aa"), file("app.js", "bb"), file("new.css", "cc")];
        let existing = [object("index.html", "AA"), object("app.js", "old"), object("gone.txt", "dd")];
        let plan = content_plan(&desired, &existing, true);
        assert_eq!(plan.upload, vec!["app.js", "new.css"]);
        assert_eq!(plan.prune_candidates, vec!["gone.txt"]);
        assert_eq!(plan.unchanged, 1);
        assert!(content_plan(&desired, &existing, false).prune_candidates.is_empty());
    }

    #[test]
    fn invalidation_covers_exactly_the_changed_paths() {
        let paths = |changed: &[&str]| {
            let changed: Vec<String> = changed.iter().map(|k| k.to_string()).collect();
            invalidation_paths(&changed, &[], "index.html", Served::Keys, false)
        };
        assert_eq!(paths(&["app.js"]), vec!["/app.js"]);
        assert_eq!(paths(&["index.html"]), vec!["/", "/index.html"]);
        assert_eq!(paths(&["docs/index.html"]), vec!["/docs/index.html"], "a folder is not served without routing");
        let many: Vec<String> = (0..3001).map(|i| format!("f{i}")).collect();
        assert_eq!(invalidation_paths(&many, &[], "index.html", Served::Keys, false), vec!["/*"]);
    }

    #[test]
    fn with_routing_a_changed_folder_index_invalidates_the_folder_urls() {
        let paths = |key: &str, served| invalidation_paths(&[key.to_string()], &[], "index.html", served, false);
        assert_eq!(paths("docs/index.html", Served::Folders), vec!["/docs", "/docs/", "/docs/index.html"]);
        assert_eq!(paths("a b/index.html", Served::Folders), vec!["/a%20b", "/a%20b/", "/a%20b/index.html"]);
        assert_eq!(paths("index.html", Served::Folders), vec!["/", "/index.html"]);
        assert_eq!(paths("docs/page.html", Served::Folders), vec!["/docs/page.html"]);
    }

    #[test]
    fn keys_are_percent_encoded_so_the_path_names_the_same_url() {
        let paths = |key: &str| invalidation_paths(&[key.to_string()], &[], "my index.html", Served::Keys, false);
        assert_eq!(paths("my file.txt"), vec!["/my%20file.txt"]);
        assert_eq!(paths("a?b#c"), vec!["/a%3Fb%23c"]);
        assert_eq!(paths("café/ü.css"), vec!["/caf%C3%A9/%C3%BC.css"]);
        assert_eq!(paths("x*"), vec!["/x%2A"], "a key is not a wildcard");
        assert_eq!(paths("my index.html"), vec!["/", "/my%20index.html"], "the index document compared unencoded");
    }

    #[test]
    fn a_refused_invalidation_is_asked_again_with_what_changed_since() {
        let pending = vec!["/app.js".to_string()];
        assert_eq!(
            invalidation_paths(&[], &pending, "index.html", Served::Keys, false),
            vec!["/app.js"],
            "nothing new changed"
        );
        assert_eq!(
            invalidation_paths(&["a.css".into()], &pending, "index.html", Served::Keys, false),
            vec!["/a.css", "/app.js"]
        );
        assert_eq!(
            invalidation_paths(&["a.css".into()], &["/*".into()], "index.html", Served::Keys, false),
            vec!["/*"]
        );
    }

    #[test]
    fn a_distribution_created_in_this_pass_is_not_invalidated() {
        assert!(invalidation_paths(&["index.html".into()], &[], "index.html", Served::Keys, true).is_empty());
    }

    #[test]
    fn status_keeps_pending_paths_up_to_sixteen_kib_then_everything() {
        let few: Vec<String> = (0..1000).map(|i| format!("/f{i:05}")).collect();
        assert_eq!(pending(few.clone()), few, "7 KiB");
        let many: Vec<String> = (0..3000).map(|i| format!("/f{i:05}")).collect();
        assert_eq!(pending(many), vec!["/*"], "21 KiB");
    }

    #[test]
    fn content_status_keeps_the_last_changes_while_nothing_changes() {
        let first = status(None, "r1".into(), 3, (2, 1), Some("I1".into()), vec![]);
        assert_eq!((first.uploaded, first.deleted, first.objects), (2, 1, 3));
        let quiet = status(Some(&first), "r1".into(), 3, (0, 0), None, vec![]);
        assert_eq!((quiet.uploaded, quiet.deleted), (2, 1), "counts of the last change are kept");
        assert_eq!(quiet.invalidation_id.as_deref(), Some("I1"));
        let next = status(Some(&first), "r2".into(), 3, (1, 0), Some("I2".into()), vec![]);
        assert_eq!((next.uploaded, next.deleted, next.invalidation_id.as_deref()), (1, 0, Some("I2")));
        let refused = status(Some(&first), "r3".into(), 3, (1, 0), None, vec!["/a".into()]);
        assert_eq!((refused.invalidation_id.as_deref(), refused.pending_invalidation), (Some("I1"), vec!["/a".into()]));
    }
}
