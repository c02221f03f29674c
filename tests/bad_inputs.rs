//! The bad-input corpus in tests/bad_inputs/: each manifest says on its first
//! line what must happen to it, `# expect: rejected <field>` (the API server
//! refuses it at admission, naming the field) or `# expect: stalled <Reason>`
//! (admitted, then `Stalled` with that reason). None may cause an AWS write.

mod support;

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use support::*;

struct Case {
    file: String,
    expect: Expect,
    manifest: serde_json::Value,
}

#[derive(Debug)]
enum Expect {
    Rejected(String),
    Stalled(String),
}

fn corpus() -> Vec<Case> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bad_inputs");
    let mut cases: Vec<Case> = std::fs::read_dir(dir)
        .expect("tests/bad_inputs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            let header = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{file}: no expect line"));
            let (what, detail) = header.split_once(' ').unwrap_or_else(|| panic!("{file}: bad expect line"));
            let expect = match what {
                "rejected" => Expect::Rejected(detail.to_string()),
                "stalled" => Expect::Stalled(detail.to_string()),
                other => panic!("{file}: unknown expectation {other}"),
            };
            let manifest = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            Case { file, expect, manifest }
        })
        .collect();
    cases.sort_by(|a, b| a.file.cmp(&b.file));
    cases
}

fn resource(kind: &str) -> ApiResource {
    match kind {
        "AuroraFailover" => ApiResource::erase::<awsops::api::AuroraFailover>(&()),
        "StaticSite" => ApiResource::erase::<awsops::api::StaticSite>(&()),
        other => panic!("unexpected kind {other}"),
    }
}

#[test]
fn the_corpus_holds_at_least_thirty_manifests_of_both_outcomes() {
    let cases = corpus();
    assert!(cases.len() >= 30, "{} manifests", cases.len());
    assert!(cases.iter().any(|c| matches!(c.expect, Expect::Rejected(_))));
    assert!(cases.iter().any(|c| matches!(c.expect, Expect::Stalled(_))));
}

#[tokio::test]
async fn every_bad_manifest_is_rejected_or_stalled_as_declared_with_no_aws_write() {
    let stage = Stage::new("bad-inputs").await;
    let _controller = stage.controller(&[], &[]);
    let cases = corpus();
    for case in &cases {
        let kind = case.manifest["kind"].as_str().expect("kind");
        let api: Api<DynamicObject> = Api::namespaced_with(stage.client.clone(), &stage.ns, &resource(kind));
        let obj: DynamicObject = serde_json::from_value(case.manifest.clone()).expect("a Kubernetes object");
        let created = api.create(&PostParams::default(), &obj).await;
        match (&case.expect, created) {
            (Expect::Rejected(field), Err(kube::Error::Api(e))) => {
                assert_eq!(e.code, 422, "{}: {}", case.file, e.message);
                assert!(
                    e.message.contains(field.as_str()),
                    "{}: the message does not name {field}: {}",
                    case.file,
                    e.message
                );
            }
            (Expect::Rejected(field), other) => {
                panic!("{}: expected rejection naming {field}, got {other:?}", case.file)
            }
            (Expect::Stalled(_), Err(e)) => panic!("{}: expected admission, got {e}", case.file),
            (Expect::Stalled(_), Ok(_)) => {}
        }
    }
    for case in &cases {
        let Expect::Stalled(reason) = &case.expect else { continue };
        let kind = case.manifest["kind"].as_str().expect("kind");
        let name = case.manifest["metadata"]["name"].as_str().expect("name");
        let api: Api<DynamicObject> = Api::namespaced_with(stage.client.clone(), &stage.ns, &resource(kind));
        let got = eventually(Duration::from_secs(30), || async {
            let obj = api.get(name).await.ok()?;
            let conds = obj.data.pointer("/status/conditions")?.as_array()?.clone();
            let stalled = conds.into_iter().find(|c| c["type"] == "Stalled" && c["status"] == "True")?;
            Some((stalled["reason"].as_str()?.to_string(), stalled["message"].as_str()?.to_string()))
        })
        .await;
        let (got, message) = got.unwrap_or_else(|| panic!("{}: not Stalled within 30 s", case.file));
        assert_eq!(&got, reason, "{}: {message}", case.file);
        assert!(!message.is_empty(), "{}", case.file);
    }
    let writes = stage.proxy.writes();
    assert!(writes.is_empty(), "AWS writes for bad input: {writes:?}");
}
