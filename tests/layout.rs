//! The house rules of `src/`, read from the source as text: imports flow one
//! way (no circle between modules), only `cli` reaches `controller` and only
//! `controller` uses kube-runtime, only `aws/` names an AWS SDK crate or an
//! AWS error code. Test modules (`#[cfg(test)]` to the end of a file) are not read.
//! A `pub use` is a name, not a dependency: a path through it counts as a
//! path to the module that defines the item.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module of `src/` by its path (`static_site::steps::dns`), with its code.
struct Module {
    file: PathBuf,
    code: String,
}

fn modules() -> BTreeMap<String, Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).expect("under src").with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts == ["main"] || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read module");
            out.insert(parts.join("::"), Module { file: path, code: without_tests_and_comments(&text) });
        }
    }
    out
}

fn without_tests_and_comments(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests"))
        .unwrap_or(lines.len());
    lines[..end].iter().map(|l| l.trim_start()).filter(|l| !l.starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every `use` statement of a module (is it `pub use`, the paths it names),
/// and the rest of its code.
fn split_uses(code: &str) -> (Vec<(bool, Vec<String>)>, String) {
    let mut out = Vec::new();
    let mut rest_of_code = String::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let (public, rest) = if let Some(rest) = line.strip_prefix("use ") {
            (false, rest)
        } else if let Some(rest) = line.strip_prefix("pub use ") {
            (true, rest)
        } else if line.starts_with("pub(")
            && let Some((_, rest)) = line.split_once(") use ")
        {
            (true, rest)
        } else {
            rest_of_code.push_str(line);
            rest_of_code.push('\n');
            continue;
        };
        let mut statement = rest.to_string();
        while !statement.contains(';') {
            let Some(next) = lines.next() else { break };
            statement.push(' ');
            statement.push_str(next);
        }
        let statement = normalise(statement.split(';').next().unwrap_or_default());
        let mut paths = Vec::new();
        expand("", &statement, &mut paths);
        out.push((public, paths));
    }
    (out, rest_of_code)
}

/// One space between words, none around `{`, `}`, `,` and `::`.
fn normalise(tree: &str) -> String {
    let mut out = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    for token in ["{", "}", ",", "::"] {
        out = out.replace(&format!(" {token}"), token).replace(&format!("{token} "), token);
    }
    out
}

/// `a::{b, c::{d, e as f}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let join = |p: &str, s: &str| if p.is_empty() { s.to_string() } else { format!("{p}::{s}") };
    match tree.find('{') {
        None => {
            let path = tree.split(" as ").next().unwrap_or(tree);
            let path = path.trim_end_matches("::self").trim_end_matches("::*");
            out.push(join(prefix, path.trim_end_matches("::")));
        }
        Some(open) => {
            let head = join(prefix, tree[..open].trim_end_matches("::"));
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand_item(&head, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand_item(&head, &inner[start..], out);
        }
    }
}

fn expand_item(head: &str, item: &str, out: &mut Vec<String>) {
    match item {
        "" => {}
        "self" => out.push(head.to_string()),
        item => expand(head, item, out),
    }
}

/// Paths written inline in code: `crate::a::b(..)`, `super::a`, `child::f(..)`.
fn inline_paths(code: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        if starts_word && (bytes[i].is_ascii_lowercase()) {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_alphanumeric() || bytes[j] == '_' || bytes[j] == ':') {
                j += 1;
            }
            let path: String = bytes[i..j].iter().collect();
            let first = path.split("::").next().unwrap_or_default();
            if path.contains("::") && (first == "crate" || first == "super" || children.contains(first)) {
                out.push(path.trim_end_matches(':').to_string());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Turns a path written in module `from` into the module that defines what it names.
fn resolve(
    from: &str,
    path: &str,
    modules: &BTreeMap<String, Module>,
    aliases: &BTreeMap<String, String>,
) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = if from.is_empty() { vec![] } else { from.split("::").collect() };
    match segments.first().copied() {
        Some("crate") => {
            base.clear();
            segments.remove(0);
        }
        Some("super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        Some("self") => {
            segments.remove(0);
        }
        Some(first) if modules.contains_key(&join(&base, first)) => {}
        _ => return None,
    }
    let mut module = base.join("::");
    for segment in segments {
        let child = join_str(&module, segment);
        if modules.contains_key(&child) {
            module = child;
        } else if let Some(origin) = aliases.get(&child) {
            return Some(origin.clone());
        } else {
            break;
        }
    }
    Some(module)
}

fn join(base: &[&str], segment: &str) -> String {
    join_str(&base.join("::"), segment)
}

fn join_str(module: &str, segment: &str) -> String {
    if module.is_empty() { segment.to_string() } else { format!("{module}::{segment}") }
}

/// Module -> the modules it imports (self and parent-to-child `mod` lines excluded).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    // `pub use` names: `a::Name` -> the module `Name` really lives in.
    let mut aliases = BTreeMap::new();
    for _ in 0..3 {
        for (name, module) in &modules {
            for (public, paths) in split_uses(&module.code).0 {
                for path in paths.iter().filter(|_| public) {
                    let item = path.rsplit("::").next().unwrap_or_default();
                    if let Some(origin) = resolve(name, path, &modules, &aliases) {
                        aliases.insert(join_str(name, item), origin);
                    }
                }
            }
        }
    }
    let mut edges = BTreeMap::new();
    for (name, module) in &modules {
        let children: BTreeSet<String> = modules
            .keys()
            .filter_map(|k| k.strip_prefix(&join_str(name, "")).filter(|rest| !rest.contains("::")).map(str::to_string))
            .collect();
        let (uses, code) = split_uses(&module.code);
        let private_uses = uses.into_iter().filter(|(public, _)| !public).flat_map(|(_, paths)| paths);
        let targets: BTreeSet<String> = private_uses
            .chain(inline_paths(&code, &children))
            .filter_map(|path| resolve(name, &path, &modules, &aliases))
            .filter(|target| target != name && !target.is_empty())
            .collect();
        edges.insert(name.clone(), targets);
    }
    edges
}

/// A circle of imports, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

#[test]
fn no_module_of_src_imports_another_that_imports_it_back() {
    let edges = graph();
    assert!(edges.contains_key("static_site::steps::dns") && edges.contains_key("core"), "the tree was read");
    assert!(edges["aurora_failover"].contains("aurora_failover::plan"), "parent-to-child calls are seen");
    assert!(edges["static_site::steps::dns"].contains("static_site::plan::dns"), "child imports are seen");
    assert!(edges["static_site::steps"].contains("static_site::observe"), "`super::` paths are seen");
    assert!(edges["static_site::plan::bucket"].contains("static_site::plan::identity"), "sibling imports are seen");
    assert!(edges["static_site::run"].contains("core::error"), "a path through a `pub use` reaches the origin");
    if let Some(found) = circle(&edges) {
        panic!("import circle: {}", found.join(" -> "));
    }
    let tops: BTreeMap<String, BTreeSet<String>> = edges.iter().fold(BTreeMap::new(), |mut acc, (from, to)| {
        let targets = to.iter().map(|t| top(t).to_string()).filter(|t| t != top(from));
        acc.entry(top(from).to_string()).or_default().extend(targets);
        acc
    });
    if let Some(found) = circle(&tops) {
        panic!("import circle between top-level modules: {}", found.join(" -> "));
    }
}

/// `runtime::` as a segment of a `use kube::{...}` group (not another crate's
/// `...::runtime::`, nor an identifier ending in `runtime`).
fn uses_runtime_in_a_kube_group(code: &str) -> bool {
    code.match_indices("runtime::").any(|(i, _)| {
        let before = code[..i].trim_end();
        !before.ends_with("::") && !before.ends_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn only_the_command_line_reaches_the_kube_runtime_wiring() {
    for (name, module) in modules() {
        if top(&name) != "controller" {
            let runtime = module.code.contains("kube::runtime") || uses_runtime_in_a_kube_group(&module.code);
            assert!(!runtime, "{} uses kube-runtime", module.file.display());
        }
    }
    let edges = graph();
    assert!(edges["cli"].contains("controller"), "the command line's reach is seen");
    for (from, to) in edges {
        if top(&from) != "controller" && from != "cli" {
            let reached: Vec<&String> = to.iter().filter(|t| top(t) == "controller").collect();
            assert!(reached.is_empty(), "{from} imports {reached:?}: the shared core lives in core/");
        }
    }
}

#[test]
fn the_local_commands_call_each_kind_through_its_public_entries_only() {
    let modules = modules();
    let mut seen = 0;
    for (name, module) in modules.iter().filter(|(name, _)| top(name) == "local") {
        let (uses, code) = split_uses(&module.code);
        let paths = uses.into_iter().flat_map(|(_, paths)| paths).chain(inline_paths(&code, &BTreeSet::new()));
        for path in paths {
            let segments: Vec<&str> = path.trim_start_matches("crate::").split("::").collect();
            if let [kind @ ("aurora_failover" | "static_site"), item, ..] = segments[..] {
                seen += 1;
                let inner = format!("{kind}::{item}");
                assert!(!modules.contains_key(&inner), "{name} reaches into {inner}: export what it needs from {kind}");
            }
        }
    }
    assert!(seen > 0, "the local commands' calls were read");
}

#[test]
fn aws_sdk_types_and_aws_error_codes_stay_inside_aws() {
    let modules = modules();
    let literal = regex_lite::Regex::new(r#""([A-Z][A-Za-z0-9]+)""#).expect("regex");
    let classified = &modules["aws::error"].code;
    let codes: BTreeSet<&str> =
        literal.captures_iter(classified).filter_map(|c| c.get(1)).map(|m| m.as_str()).collect();
    for code in ["AccessDenied", "CNAMEAlreadyExists", "PreconditionFailed", "SlowDown"] {
        assert!(codes.contains(code), "the codes aws/error.rs classifies were read: {code}");
    }
    let code_like = regex_lite::Regex::new(
        r#""[A-Z][A-Za-z]*(AlreadyExists|AlreadyOwnedByYou|Fault|Exception|InUse|NotDisabled|NotFound)""#,
    )
    .expect("regex");
    assert!(code_like.is_match(&modules["aws::cloudfront"].code), "the code pattern matches what aws/ names");
    for (name, module) in &modules {
        if top(name) == "aws" {
            continue;
        }
        let file = module.file.display();
        assert!(!module.code.contains("aws_sdk_"), "{file} names an AWS SDK type");
        assert!(code_like.find(&module.code).is_none(), "{file} matches an AWS error code: classify it in aws/");
        for found in literal.captures_iter(&module.code).filter_map(|c| c.get(1)) {
            assert!(
                !codes.contains(found.as_str()),
                "{file} names AWS error code {:?}: classify it in aws/",
                found.as_str()
            );
        }
    }
}
