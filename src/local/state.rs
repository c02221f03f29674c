//! The local state folder of `awsops apply`: each object as the API server
//! would hold it (uid, generation, spec, status) in
//! `<state>/<namespace>/<kind>/<name>.yaml`, written before every AWS call the
//! reconcilers make, so a re-run resumes exactly where the last one stopped.
//! [`LocalObjects`] is the reconcilers' [`Objects`] over that folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret};
use kube::ResourceExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::key::Key;
use super::manifests::Manifests;
use super::terminal::Terminal;
use crate::api::{AuroraFailover, Kind};
use crate::core::objects::Event;
use crate::core::{Error, Objects};

/// Objects kept in memory and, unless planning, in the state folder.
pub struct LocalObjects {
    /// `None` for `plan`: status changes stay in memory.
    dir: Option<PathBuf>,
    objects: Mutex<BTreeMap<Key, serde_json::Value>>,
    config_maps: BTreeMap<(String, String), ConfigMap>,
    secrets: BTreeMap<(String, String), Secret>,
    terminal: Option<Terminal>,
    /// Held while this process uses the folder (see [`lock`]).
    _lock: std::fs::File,
}

impl LocalObjects {
    /// Reads the state folder and takes in `manifests` as `kubectl apply`
    /// would: a new object gets a uid and generation 1, a changed spec the
    /// next generation, and the stored status stays. With `persist`, the
    /// admitted objects are written at once and status as it changes;
    /// without (`plan`), only the uid of a new object is written, so the
    /// bucket `plan` names is the one `apply` creates.
    pub fn open(dir: &Path, manifests: &Manifests, persist: bool, terminal: Option<Terminal>) -> Result<Self, Error> {
        let lock = lock(dir)?;
        let mut objects = read_dir(dir)?;
        let admitted: Vec<(Key, Result<serde_json::Value, Error>)> = manifests
            .failovers
            .iter()
            .map(|o| (Key::of(o), to_json(o)))
            .chain(manifests.sites.iter().map(|o| (Key::of(o), to_json(o))))
            .collect();
        let this = Self {
            dir: persist.then(|| dir.to_path_buf()),
            objects: Mutex::default(),
            config_maps: manifests
                .config_maps
                .iter()
                .map(|cm| ((cm.namespace().unwrap_or_default(), cm.name_any()), cm.clone()))
                .collect(),
            secrets: manifests
                .secrets
                .iter()
                .map(|s| ((s.namespace().unwrap_or_default(), s.name_any()), s.clone()))
                .collect(),
            terminal,
            _lock: lock,
        };
        for (key, manifest) in admitted {
            let stored = objects.remove(&key);
            let new = stored.is_none();
            let object = admit(manifest?, stored);
            if persist {
                this.save(&key, &object)?;
            } else if new {
                write(dir, &key, &object)?;
            }
            objects.insert(key, object);
        }
        *this.lock() = objects;
        Ok(this)
    }

    /// The object as the reconcilers see it now (spec from the manifest, uid,
    /// generation and status from state).
    pub fn get<K: DeserializeOwned>(&self, key: &Key) -> Result<K, Error> {
        let value = self.lock().get(key).cloned().ok_or_else(|| Error::State(format!("{key} is not known")))?;
        serde_json::from_value(value).map_err(|e| Error::State(format!("{key}: {e}")))
    }

    /// Whether the state folder holds the object (it was applied before).
    pub fn stored(&self, key: &Key) -> bool {
        self.lock().get(key).is_some_and(|o| !o["status"].is_null())
    }

    /// Removes the object from state once its cleanup is done.
    pub fn forget(&self, key: &Key) -> Result<(), Error> {
        self.lock().remove(key);
        if let Some(dir) = &self.dir {
            let path = path_of(dir, key);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
            }
        }
        Ok(())
    }

    pub fn terminal(&self) -> Option<&Terminal> {
        self.terminal.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, serde_json::Value>> {
        self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn save(&self, key: &Key, object: &serde_json::Value) -> Result<(), Error> {
        match &self.dir {
            Some(dir) => write(dir, key, object),
            None => Ok(()),
        }
    }
}

/// Writes one object, atomically (a kill mid-write leaves the old file).
fn write(dir: &Path, key: &Key, object: &serde_json::Value) -> Result<(), Error> {
    let path = path_of(dir, key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let text = serde_yaml_ng::to_string(object).map_err(|e| Error::State(e.to_string()))?;
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
}

#[async_trait]
impl Objects for LocalObjects {
    /// One awsops at a time holds the state folder (its lock): no version to compare.
    async fn apply_status(&self, object: &ObjectReference, status: serde_json::Value) -> Result<Option<String>, Error> {
        let key = Key::of_reference(object)?;
        let (before, updated) = {
            let mut objects = self.lock();
            let stored = objects.get_mut(&key).ok_or_else(|| Error::State(format!("{key} is not known")))?;
            if object.uid.is_some() && stored["metadata"]["uid"].as_str() != object.uid.as_deref() {
                return Err(Error::State(format!("{key} was replaced while it was reconciled")));
            }
            let before = std::mem::replace(&mut stored["status"], status);
            (before, stored.clone())
        };
        self.save(&key, &updated)?;
        if let Some(terminal) = &self.terminal {
            let phase = |s: &serde_json::Value| s["phase"].as_str().unwrap_or("Pending").to_string();
            let (was, now) = (phase(&before), phase(&updated["status"]));
            if was != now {
                terminal.line(&key, &format!("{was} -> {now}"));
            }
        }
        Ok(None)
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, Error> {
        Ok(self.config_maps.get(&(namespace.to_string(), name.to_string())).cloned())
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, Error> {
        let Some(secret) = self.secrets.get(&(namespace.to_string(), name.to_string())) else { return Ok(None) };
        let mut data: BTreeMap<String, Vec<u8>> =
            secret.data.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
        for (k, v) in secret.string_data.clone().unwrap_or_default() {
            data.insert(k, v.into_bytes());
        }
        Ok(Some(data))
    }

    async fn failovers(&self, namespace: Option<&str>) -> Result<Vec<AuroraFailover>, Error> {
        let objects = self.lock();
        objects
            .iter()
            .filter(|(k, _)| k.kind == Kind::AuroraFailover && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(k, v)| serde_json::from_value(v.clone()).map_err(|e| Error::State(format!("{k}: {e}"))))
            .collect()
    }

    async fn publish(&self, object: &ObjectReference, event: Event) {
        if let Some(terminal) = &self.terminal {
            let note = event.note;
            match Key::of_reference(object) {
                Ok(key) => terminal.line(&key, &format!("  {}: {note}", event.reason)),
                Err(e) => terminal.say(&format!("{e}: {}: {note}", event.reason)),
            }
        }
    }

    fn upload_progress(&self, object: &ObjectReference, done: usize, total: usize) {
        if let (Some(terminal), Ok(key)) = (&self.terminal, Key::of_reference(object)) {
            terminal.progress(&key, done, total);
        }
    }
}

fn to_json<K: Serialize>(obj: &K) -> Result<serde_json::Value, Error> {
    serde_json::to_value(obj).map_err(|e| Error::State(e.to_string()))
}

/// The manifest with the stored uid, generation and status.
fn admit(mut manifest: serde_json::Value, stored: Option<serde_json::Value>) -> serde_json::Value {
    let (uid, generation, status) = match stored {
        Some(stored) => {
            let generation = stored["metadata"]["generation"].as_i64().unwrap_or(1);
            // A spec changed after `plan` but before the first `apply` is still generation 1.
            let changed = stored["spec"] != manifest["spec"] && !stored["status"].is_null();
            let uid = stored["metadata"]["uid"].as_str().map(str::to_string).unwrap_or_else(new_uid);
            (uid, if changed { generation + 1 } else { generation }, stored["status"].clone())
        }
        None => (new_uid(), 1, serde_json::Value::Null),
    };
    manifest["metadata"]["uid"] = uid.into();
    manifest["metadata"]["generation"] = generation.into();
    manifest["status"] = status;
    manifest
}

/// A random-enough UUID-shaped id: time, process and a counter, hashed.
fn new_uid() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let hash = hex::encode(Sha256::digest(format!("{nanos}-{}-{n}", std::process::id())));
    format!("{}-{}-4{}-a{}-{}", &hash[0..8], &hash[8..12], &hash[13..16], &hash[17..20], &hash[20..32])
}

fn path_of(dir: &Path, key: &Key) -> PathBuf {
    dir.join(&key.namespace).join(key.kind.as_str().to_ascii_lowercase()).join(format!("{}.yaml", key.name))
}

/// Every object stored under `dir` (none when the folder does not exist yet).
fn read_dir(dir: &Path) -> Result<BTreeMap<Key, serde_json::Value>, Error> {
    let mut objects = BTreeMap::new();
    let Ok(namespaces) = std::fs::read_dir(dir) else { return Ok(objects) };
    for namespace in namespaces.flatten().filter(|e| e.path().is_dir()) {
        for kind in std::fs::read_dir(namespace.path()).map_err(|e| io_error(&namespace.path(), e))?.flatten() {
            for file in std::fs::read_dir(kind.path()).map_err(|e| io_error(&kind.path(), e))?.flatten() {
                let path = file.path();
                if path.extension().is_none_or(|e| e != "yaml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
                let value: serde_json::Value =
                    serde_yaml_ng::from_str(&text).map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
                let kind = value["kind"].as_str().unwrap_or_default().parse::<Kind>();
                let kind = kind.map_err(|e| Error::State(format!("{}: {e}", path.display())))?;
                let key = Key {
                    kind,
                    namespace: value["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                    name: value["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                };
                objects.insert(key, value);
            }
        }
    }
    Ok(objects)
}

/// One `awsops` at a time per state folder: two `apply` runs on one folder
/// would each act on the same recorded intent (a failover called twice). The
/// lock is the OS's on `<dir>/.lock`, released when the process ends, however
/// it ends; the file names the holder's pid for the message.
fn lock(dir: &Path) -> Result<std::fs::File, Error> {
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let path = dir.join(".lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    match file.try_lock() {
        Ok(()) => {
            let pid = std::process::id().to_string();
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(pid.as_bytes()))
                .map_err(|e| io_error(&path, e))?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Err(Error::State(format!(
                "{} is in use by another awsops (pid {}); wait for it to finish, or give this run its own --state-dir. Nothing was changed.",
                dir.display(),
                if holder.trim().is_empty() { "unknown" } else { holder.trim() }
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(&path, e)),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::State(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_object_gets_a_uid_and_generation_one() {
        let admitted = admit(serde_json::json!({"metadata": {"name": "a"}, "spec": {"x": 1}}), None);
        assert_eq!(admitted["metadata"]["generation"], 1);
        assert_eq!(admitted["metadata"]["uid"].as_str().map(str::len), Some(36));
        assert!(admitted["status"].is_null());
    }

    #[test]
    fn a_changed_spec_gets_the_next_generation_and_keeps_uid_and_status() {
        let stored = serde_json::json!({
            "metadata": {"name": "a", "uid": "u-1", "generation": 3},
            "spec": {"x": 1},
            "status": {"phase": "Ready"},
        });
        let same = admit(serde_json::json!({"metadata": {"name": "a"}, "spec": {"x": 1}}), Some(stored.clone()));
        assert_eq!((same["metadata"]["uid"].as_str(), same["metadata"]["generation"].as_i64()), (Some("u-1"), Some(3)));
        let changed = admit(serde_json::json!({"metadata": {"name": "a"}, "spec": {"x": 2}}), Some(stored));
        assert_eq!(changed["metadata"]["generation"], 4);
        assert_eq!(changed["status"]["phase"], "Ready");
    }

    #[test]
    fn a_spec_changed_between_plan_and_the_first_apply_stays_generation_one() {
        let planned = serde_json::json!({"metadata": {"name": "a", "uid": "u-1", "generation": 1}, "spec": {"x": 1}});
        let admitted = admit(serde_json::json!({"metadata": {"name": "a"}, "spec": {"x": 2}}), Some(planned));
        assert_eq!(
            (admitted["metadata"]["uid"].as_str(), admitted["metadata"]["generation"].as_i64()),
            (Some("u-1"), Some(1))
        );
    }

    #[test]
    fn a_folder_in_use_is_refused_with_the_holders_pid_and_free_again_once_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock(dir.path()).expect("first lock");
        let refused = lock(dir.path()).expect_err("second lock refused");
        let message = refused.to_string();
        assert!(
            message.contains("in use by another awsops") && message.contains(&std::process::id().to_string()),
            "{message}"
        );
        drop(held);
        assert!(lock(dir.path()).is_ok(), "free again once released");
    }

    #[test]
    fn uids_differ_between_objects() {
        assert_ne!(new_uid(), new_uid());
    }
}
