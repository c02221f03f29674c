//! The Argo CD health checks in docs/gitops.md, run by a real Lua interpreter
//! (Argo CD runs them with gopher-lua, Lua 5.1 semantics, which these scripts
//! stay within) on objects as the controller writes them.

use std::process::Command;

use serde_json::{Value, json};

fn script(kind: &str) -> String {
    let doc = include_str!("../docs/gitops.md");
    let key = format!("resource.customizations.health.awsops.dev_{kind}: |");
    let start = doc.find(&key).unwrap_or_else(|| panic!("no health check for {kind}")) + key.len();
    doc[start..].lines().skip(1).take_while(|l| l.starts_with("    ")).map(|l| &l[4..]).collect::<Vec<_>>().join("\n")
}

fn lua(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            format!("{{{}}}", map.iter().map(|(k, v)| format!("[{k:?}] = {}", lua(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

fn health(kind: &str, obj: Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal function check()\n{}\nend\nlocal hs = check()\nprint(hs.status)\nprint(hs.message)\n",
        lua(&obj),
        script(kind)
    );
    let out = Command::new("lua5.4").arg("-e").arg(&program).output().expect("lua5.4 is installed by make test");
    assert!(out.status.success(), "lua failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    (lines.next().unwrap_or_default().to_string(), lines.next().unwrap_or_default().to_string())
}

fn obj(generation: i64, observed: i64, conditions: &[(&str, &str, &str)]) -> Value {
    let conditions: Vec<Value> =
        conditions.iter().map(|(t, s, m)| json!({"type": t, "status": s, "reason": "R", "message": m})).collect();
    json!({"metadata": {"generation": generation}, "status": {"observedGeneration": observed, "conditions": conditions}})
}

#[test]
fn argo_cd_sees_ready_sites_healthy_stalled_degraded_and_the_rest_progressing() {
    let ready = obj(2, 2, &[("Ready", "True", "serving"), ("Reconciling", "False", "x"), ("Stalled", "False", "x")]);
    assert_eq!(health("StaticSite", ready), ("Healthy".into(), "serving".into()));
    let stalled =
        obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "False", "x"), ("Stalled", "True", "bucket taken")]);
    assert_eq!(health("StaticSite", stalled), ("Degraded".into(), "bucket taken".into()));
    let deploying =
        obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "True", "deploying"), ("Stalled", "False", "x")]);
    assert_eq!(health("StaticSite", deploying), ("Progressing".into(), "deploying".into()));
    let stale = obj(3, 2, &[("Ready", "True", "serving")]);
    assert_eq!(health("StaticSite", stale).0, "Progressing", "a new generation is not healthy until observed");
    assert_eq!(health("StaticSite", json!({"metadata": {"generation": 1}})).0, "Progressing");
}

#[test]
fn argo_cd_sees_a_succeeded_failover_healthy_and_a_failed_one_degraded() {
    let done = obj(1, 1, &[("Ready", "True", "r0 is the writer"), ("Stalled", "False", "x")]);
    assert_eq!(health("AuroraFailover", done).0, "Healthy");
    let failed = obj(1, 1, &[("Ready", "False", "x"), ("Stalled", "True", "timed out")]);
    assert_eq!(health("AuroraFailover", failed), ("Degraded".into(), "timed out".into()));
    let running = obj(1, 1, &[("Ready", "False", "x"), ("Reconciling", "True", "failing over")]);
    assert_eq!(health("AuroraFailover", running), ("Progressing".into(), "failing over".into()));
}
