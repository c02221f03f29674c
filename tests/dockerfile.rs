//! The Dockerfile's build stage replayed without a container engine: each
//! COPY brings exactly the files it names into an empty folder, and each RUN
//! line runs there in order, its `cargo build --release --locked` replaced by
//! `cargo check --locked` run far enough to load the manifest and every
//! target as the build would (a target whose file the layer lacks fails at
//! once) and no further: once cargo starts compiling it is stopped and the
//! line goes on (what compiling the stubs themselves would reveal is left to
//! a real build). The target folder is a fresh one, so nothing waits on
//! another build's lock.

use std::path::Path;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The build stage's instructions, continuation lines joined.
fn build_stage() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile");
    let joined = text.replace("\\\n", " ");
    let mut stage = Vec::new();
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with("FROM ") && !stage.is_empty() {
            break;
        }
        stage.push(line.to_string());
    }
    stage
}

fn copy_into(work: &Path, sources: &[&str]) {
    for source in sources {
        let from = Path::new(ROOT).join(source);
        assert!(from.exists(), "COPY {source}: not in the repository");
        let status = Command::new("cp").arg("-r").arg(&from).arg(work).status().expect("cp runs");
        assert!(status.success(), "cp {source}");
    }
}

/// `replay_cargo ARGS`: `cargo check ARGS` until it ends or, having loaded
/// the manifest, starts compiling (then it is stopped and counts as passed),
/// so the rest of the RUN line goes on as in the real build.
const REPLAY_CARGO: &str = r#"
replay_cargo() {
  out="$(mktemp)"
  cargo check "$@" >"$out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if grep -qE '^ *(Compiling|Checking|Finished) ' "$out"; then
      kill "$pid"; wait "$pid" 2>/dev/null || true; cat "$out" >&2; return 0
    fi
    sleep 0.1
  done
  rc=0; wait "$pid" || rc=$?; cat "$out" >&2; return "$rc"
}
"#;

/// Runs one RUN line (its cargo builds replayed) in `dir`; `Err` with what it
/// printed when it fails or takes more than two minutes.
fn replay(command: &str, dir: &Path) -> Result<(), String> {
    let script = format!("{REPLAY_CARGO}\nset -e\n{command}");
    let mut child = Command::new("setsid")
        .args(["sh", "-c", &script])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("CARGO_TERM_COLOR", "never")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let group = format!("-{}", child.id());
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(120));
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    });
    let mut output = String::new();
    use std::io::Read;
    child.stderr.take().expect("stderr").read_to_string(&mut output).expect("output");
    let status = child.wait().expect("sh ends");
    if status.success() { Ok(()) } else { Err(output) }
}

#[test]
fn every_layer_of_the_dockerfile_build_stage_loads_every_target_of_the_manifest_from_what_it_copied() {
    let work = tempfile::tempdir().expect("tempdir");
    let stage = build_stage();
    assert!(stage[0].starts_with("FROM rust:"), "{stage:?}");
    let mut runs = 0;
    for line in &stage[1..] {
        let (instruction, rest) = line.split_once(' ').expect("an instruction and its arguments");
        match instruction {
            "COPY" => {
                let words: Vec<&str> = rest.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let (dest, sources) = words.split_last().expect("COPY sources and a destination");
                assert!(*dest == "./" || sources.len() == 1, "COPY {rest}: a folder destination takes one source");
                copy_into(work.path(), sources);
            }
            "RUN" => {
                runs += 1;
                let command = rest.replace("cargo build --release --locked", "replay_cargo --locked");
                assert_ne!(command, rest, "each layer builds with cargo: {rest}");
                if let Err(output) = replay(&command, work.path()) {
                    panic!("a layer fails: {rest}\n{output}");
                }
            }
            "WORKDIR" => {}
            other => panic!("an instruction this replay does not know: {other}"),
        }
    }
    assert_eq!(runs, 2, "the dependency layer and the image's own build");
}
