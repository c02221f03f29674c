//! Step 6: which files to upload and which to consider for pruning, the
//! paths to invalidate, and what status says about content.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::routing::Served;
use crate::api::static_site::ContentStatus;
use crate::aws::s3::{Headers, ObjectInfo, percent_encoded};

/// One file the sources declare, with the headers its rules give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFile {
    pub key: String,
    /// As the manifest records it ([`crate::aws::s3::Checksum::recorded`]):
    /// 32 hex digits for an MD5 (a ConfigMap's file; what a single-part
    /// upload's ETag is), `sha256:` and 64 for an archive's, which no
    /// ETag ever equals.
    pub checksum: String,
    pub size: u64,
    pub headers: Headers,
}

/// What the manifest records of one object this site wrote: its body and
/// headers as sent, and the ETag S3 gave back (`None` while an upload may be
/// in flight: recorded ahead so a crash cannot leave an object nobody prunes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub size: u64,
    /// Written as `md5` before archive files were known by their SHA-256.
    #[serde(alias = "md5")]
    pub checksum: String,
    #[serde(flatten)]
    pub headers: Headers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// When S3 took it (RFC 3339); `None` for an entry seeded from a listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Taken from a listing whose ETag was the MD5 (a bucket synced before
    /// the manifest): the body is the site's, who wrote it is unproven, so
    /// it is deleted only once HeadObject shows this site's owner metadata.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seeded: bool,
}

/// What content sync does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentPlan {
    /// Bodies to upload: new, changed, or not as recorded in the bucket.
    pub upload: Vec<String>,
    /// Same body, other headers: re-applied in place.
    pub copy: Vec<String>,
    /// Objects the manifest shows this site uploaded, no longer declared,
    /// still as it wrote them: deleted without asking.
    pub prune: BTreeMap<String, Recorded>,
    /// Objects that may be this site's, no longer declared (listed without a
    /// manifest, or seeded): deleted if HeadObject shows its owner metadata.
    pub prune_candidates: BTreeMap<String, Recorded>,
    pub unchanged: usize,
    /// The manifest's entries for declared keys that need no write (uploads
    /// and copies are added as S3 answers them).
    pub kept: BTreeMap<String, Recorded>,
    /// With `prune: false`: objects this site wrote that are no longer
    /// declared, kept in the manifest (not served) for a later prune.
    pub retained: BTreeMap<String, Recorded>,
}

/// Keys under this prefix are the controller's (the manifest): never
/// uploaded from a source, served or pruned.
pub const RESERVED_PREFIX: &str = ".awsops/";

/// Decides from the manifest (`recorded`: its served and retained entries,
/// `None` when the bucket has none for this site) and one listing: a body is unchanged when the manifest has
/// it with the same checksum and the listing still shows what S3 answered
/// (same size, and the ETag when the server lists one), so SSE-KMS and
/// multipart ETags, which are not MD5s, change nothing. Without a manifest
/// a listed ETag equal to a file's MD5 counts as unchanged (a ConfigMap
/// site's first look after the upgrade uploads nothing).
pub fn content_plan(
    desired: &[DesiredFile],
    existing: &[ObjectInfo],
    recorded: Option<&BTreeMap<String, Recorded>>,
    prune: bool,
) -> ContentPlan {
    let listed: BTreeMap<&str, &ObjectInfo> = existing.iter().map(|o| (o.key.as_str(), o)).collect();
    let want: BTreeSet<&str> = desired.iter().map(|f| f.key.as_str()).collect();
    let mut plan = ContentPlan::default();
    for f in desired {
        let object = listed.get(f.key.as_str());
        let entry = match recorded {
            Some(manifest) => manifest
                .get(&f.key)
                .filter(|r| {
                    r.checksum.eq_ignore_ascii_case(&f.checksum)
                        && r.size == f.size
                        && object.is_some_and(|o| still_as_written(o, r))
                })
                .cloned(),
            None => object
                .filter(|o| o.etag.eq_ignore_ascii_case(&f.checksum) && o.size as u64 == f.size)
                .map(|o| Recorded { seeded: true, ..listed_entry(o, f.headers.clone()) }),
        };
        match entry {
            None => plan.upload.push(f.key.clone()),
            Some(entry) if entry.headers != f.headers => {
                plan.copy.push(f.key.clone());
                plan.kept.insert(f.key.clone(), entry);
            }
            Some(entry) => {
                plan.unchanged += 1;
                plan.kept.insert(f.key.clone(), entry);
            }
        }
    }
    // Objects no longer declared that may be ours.
    let gone: Vec<(String, Recorded)> = match recorded {
        Some(manifest) => manifest
            .iter()
            .filter(|(key, _)| !want.contains(key.as_str()))
            .filter_map(|(key, entry)| {
                let o = listed.get(key.as_str())?;
                if still_as_written(o, entry) {
                    Some((key.clone(), entry.clone()))
                } else if entry.etag.is_none() {
                    // In flight when last recorded: whose it is, HeadObject tells.
                    Some((key.clone(), Recorded { seeded: true, ..listed_entry(o, entry.headers.clone()) }))
                } else {
                    None // overwritten by someone else since: no longer this site's
                }
            })
            .collect(),
        None => existing
            .iter()
            .filter(|o| !want.contains(o.key.as_str()) && !o.key.starts_with(RESERVED_PREFIX))
            .map(|o| (o.key.clone(), Recorded { seeded: true, ..listed_entry(o, Headers::default()) }))
            .collect(),
    };
    for (key, entry) in gone {
        match (prune, entry.seeded) {
            (false, _) if recorded.is_some() => _ = plan.retained.insert(key, entry),
            (false, _) => {}
            (true, false) => _ = plan.prune.insert(key, entry),
            (true, true) => _ = plan.prune_candidates.insert(key, entry),
        }
    }
    plan
}

/// An entry for a listed object: its size and ETag (which is its MD5 when
/// the server lists MD5s), the ETag taken as the checksum: it is one only
/// when it equals a file's MD5, which is when the plan seeds from it.
fn listed_entry(o: &ObjectInfo, headers: Headers) -> Recorded {
    Recorded {
        size: o.size as u64,
        checksum: o.etag.to_lowercase(),
        headers,
        etag: Some(o.etag.clone()),
        at: None,
        seeded: false,
    }
}

/// The listed object is the one this site wrote: the size it sent, and the
/// ETag S3 gave back when both the answer and the listing have one (a server
/// that lists none is trusted on size; an entry still in flight never is).
fn still_as_written(listed: &ObjectInfo, entry: &Recorded) -> bool {
    let Some(etag) = &entry.etag else { return false };
    listed.size as u64 == entry.size && (listed.etag.is_empty() || etag.is_empty() || listed.etag == *etag)
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

/// What status keeps of an invalidation CloudFront refused.
pub fn pending(paths: Vec<String>) -> Vec<String> {
    if paths.iter().map(String::len).sum::<usize>() > MAX_PENDING_BYTES { vec!["/*".into()] } else { paths }
}

/// What the sources declare, as status reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    /// sha256 over keys, checksums and headers.
    pub revision: String,
    /// `registry/repository@sha256:...`, `sha256:...` of an archive, or `configMaps`.
    pub source: String,
    pub files: usize,
    pub bytes: u64,
}

/// What one sync wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub uploaded: usize,
    /// Headers re-applied in place.
    pub updated: usize,
    pub pruned: usize,
}

/// What status says about content after a sync: the counts of the last sync
/// that changed something, kept while the content stays the same.
pub fn status(
    previous: Option<&ContentStatus>,
    inventory: &Inventory,
    counts: Counts,
    invalidation_id: Option<String>,
    pending_invalidation: Vec<String>,
) -> ContentStatus {
    let quiet = counts == Counts::default();
    let unchanged = previous.filter(|c| c.revision == inventory.revision && quiet);
    ContentStatus {
        revision: inventory.revision.clone(),
        source: Some(inventory.source.clone()),
        files: inventory.files as i64,
        bytes: inventory.bytes as i64,
        objects: inventory.files as i64,
        uploaded: unchanged.map_or(counts.uploaded as i64, |c| c.uploaded),
        updated: unchanged.map_or(counts.updated as i64, |c| c.updated),
        deleted: unchanged.map_or(counts.pruned as i64, |c| c.deleted),
        invalidation_id: invalidation_id.or_else(|| previous.and_then(|c| c.invalidation_id.clone())),
        pending_invalidation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, md5: &str) -> DesiredFile {
        DesiredFile { key: key.into(), checksum: md5.into(), size: 1, headers: headers("text/html", None) }
    }

    fn headers(content_type: &str, cache_control: Option<&str>) -> Headers {
        Headers { content_type: content_type.into(), cache_control: cache_control.map(String::from) }
    }

    fn recorded(md5: &str, etag: Option<&str>) -> Recorded {
        Recorded {
            size: 1,
            checksum: md5.into(),
            headers: headers("text/html", None),
            etag: etag.map(String::from),
            at: None,
            seeded: false,
        }
    }

    fn object(key: &str, etag: &str) -> ObjectInfo {
        ObjectInfo { key: key.into(), etag: etag.into(), size: 1 }
    }

    #[test]
    fn without_a_manifest_md5_etags_seed_it_and_only_owned_keys_are_prune_candidates() {
        let desired = [file("index.html", "aa"), file("app.js", "bb"), file("new.css", "cc")];
        let existing = [
            object("index.html", "AA"),
            object("app.js", "old"),
            object("gone.txt", "dd"),
            object(".awsops/manifest.json", "ee"),
        ];
        let plan = content_plan(&desired, &existing, None, true);
        assert_eq!(plan.upload, vec!["app.js", "new.css"]);
        let keys = |map: &BTreeMap<String, Recorded>| map.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&plan.prune_candidates), vec!["gone.txt"], "the reserved prefix is never a candidate");
        assert!(plan.prune.is_empty());
        assert_eq!(plan.unchanged, 1);
        let seeded = &plan.kept["index.html"];
        assert_eq!((seeded.etag.as_deref(), seeded.seeded), (Some("AA"), true), "seeded from the listing");
        let kept = content_plan(&desired, &existing, None, false);
        assert!(kept.prune_candidates.is_empty() && kept.retained.is_empty(), "nothing is known to be ours");
    }

    #[test]
    fn a_manifest_that_recorded_md5s_reads_and_an_archive_file_now_known_by_its_sha256_is_uploaded_once() {
        let written = r#"{"size": 1, "md5": "aa", "contentType": "text/html", "etag": "aa"}"#;
        let old: Recorded = serde_json::from_str(written).expect("the md5 field reads");
        assert_eq!(old.checksum, "aa");
        let manifest = BTreeMap::from([("index.html".into(), old)]);
        let sha = format!("sha256:{}", "ab".repeat(32));
        let plan = content_plan(&[file("index.html", &sha)], &[object("index.html", "aa")], Some(&manifest), true);
        assert_eq!(plan.upload, vec!["index.html"], "an MD5 never equals a SHA-256");
        let rewritten = serde_json::to_string(&manifest["index.html"]).expect("json");
        assert!(rewritten.contains(r#""checksum":"aa""#) && !rewritten.contains("md5"), "{rewritten}");
    }

    #[test]
    fn with_a_manifest_etags_that_are_not_md5s_change_nothing() {
        let desired = [file("index.html", "aa"), file("app.js", "bb")];
        let existing = [object("index.html", "kms-etag-1"), object("app.js", "")];
        let manifest = BTreeMap::from([
            ("index.html".into(), recorded("aa", Some("kms-etag-1"))),
            ("app.js".into(), recorded("bb", Some("x"))),
        ]);
        let plan = content_plan(&desired, &existing, Some(&manifest), true);
        assert_eq!(
            (plan.upload.len(), plan.copy.len(), plan.unchanged),
            (0, 0, 2),
            "a server listing no ETag is trusted on size"
        );
    }

    #[test]
    fn with_a_manifest_a_changed_body_an_overwritten_object_or_one_in_flight_is_uploaded() {
        let desired = [file("a", "new"), file("b", "bb"), file("c", "cc"), file("d", "dd")];
        let existing = [object("a", "e1"), object("b", "someone-else"), object("c", "e3")];
        let manifest = BTreeMap::from([
            ("a".into(), recorded("old", Some("e1"))),
            ("b".into(), recorded("bb", Some("e2"))),
            ("c".into(), recorded("cc", None)),
            ("d".into(), recorded("dd", Some("e4"))),
        ]);
        let plan = content_plan(&desired, &existing, Some(&manifest), true);
        assert_eq!(plan.upload, vec!["a", "b", "c", "d"], "changed, overwritten, in flight, deleted by someone");
        assert!(plan.kept.is_empty());
    }

    #[test]
    fn with_a_manifest_other_headers_are_a_copy_not_an_upload() {
        let mut desired = file("app.js", "bb");
        desired.headers = headers("text/javascript", Some("max-age=60"));
        let manifest = BTreeMap::from([("app.js".into(), recorded("bb", Some("e")))]);
        let plan = content_plan(&[desired], &[object("app.js", "e")], Some(&manifest), true);
        assert_eq!((plan.upload.len(), plan.copy.clone()), (0, vec!["app.js".to_string()]));
        assert_eq!(plan.kept["app.js"].etag.as_deref(), Some("e"));
    }

    #[test]
    fn with_a_manifest_prune_asks_nothing_and_deletes_only_what_this_site_wrote_as_it_wrote_it() {
        let desired = [file("index.html", "aa")];
        let existing = [
            object("index.html", "e"),
            object("old.js", "e2"),
            object("replaced.js", "someone"),
            object("foreign.txt", "f"),
        ];
        let manifest = BTreeMap::from([
            ("index.html".into(), recorded("aa", Some("e"))),
            ("old.js".into(), recorded("x", Some("e2"))),
            ("replaced.js".into(), recorded("y", Some("e3"))),
            ("vanished.js".into(), recorded("z", Some("e4"))),
        ]);
        let plan = content_plan(&desired, &existing, Some(&manifest), true);
        assert_eq!(plan.prune.keys().collect::<Vec<_>>(), vec!["old.js"]);
        assert!(plan.prune_candidates.is_empty(), "no HeadObject");
        assert_eq!(plan.kept.keys().collect::<Vec<_>>(), vec!["index.html"], "the others are forgotten");
        let kept = content_plan(&desired, &existing, Some(&manifest), false);
        assert!(kept.prune.is_empty());
        assert_eq!(kept.kept.keys().collect::<Vec<_>>(), vec!["index.html"], "served");
        assert_eq!(kept.retained.keys().collect::<Vec<_>>(), vec!["old.js"], "kept, not served, for a later prune");
    }

    #[test]
    fn an_entry_in_flight_or_seeded_that_is_no_longer_declared_is_deleted_only_once_proven_ours() {
        let existing = [object("flight.js", "e1"), object("seeded.js", "bb")];
        let seeded = Recorded { seeded: true, ..recorded("bb", Some("bb")) };
        let manifest = BTreeMap::from([("flight.js".into(), recorded("x", None)), ("seeded.js".into(), seeded)]);
        let plan = content_plan(&[], &existing, Some(&manifest), true);
        assert!(plan.prune.is_empty());
        assert_eq!(
            plan.prune_candidates.keys().collect::<Vec<_>>(),
            vec!["flight.js", "seeded.js"],
            "HeadObject first"
        );
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
        let inventory =
            |revision: &str| Inventory { revision: revision.into(), source: "configMaps".into(), files: 3, bytes: 9 };
        let counts = |uploaded, updated, pruned| Counts { uploaded, updated, pruned };
        let first = status(None, &inventory("r1"), counts(2, 0, 1), Some("I1".into()), vec![]);
        assert_eq!((first.uploaded, first.deleted, first.objects, first.files, first.bytes), (2, 1, 3, 3, 9));
        assert_eq!(first.source.as_deref(), Some("configMaps"));
        let quiet = status(Some(&first), &inventory("r1"), Counts::default(), None, vec![]);
        assert_eq!((quiet.uploaded, quiet.deleted), (2, 1), "counts of the last change are kept");
        assert_eq!(quiet.invalidation_id.as_deref(), Some("I1"));
        let next = status(Some(&first), &inventory("r2"), counts(1, 0, 0), Some("I2".into()), vec![]);
        assert_eq!((next.uploaded, next.deleted, next.invalidation_id.as_deref()), (1, 0, Some("I2")));
        let headers = status(Some(&next), &inventory("r3"), counts(0, 2, 0), Some("I3".into()), vec![]);
        assert_eq!((headers.uploaded, headers.updated), (0, 2));
        let refused = status(Some(&first), &inventory("r3"), counts(1, 0, 0), None, vec!["/a".into()]);
        assert_eq!((refused.invalidation_id.as_deref(), refused.pending_invalidation), (Some("I1"), vec!["/a".into()]));
    }
}
