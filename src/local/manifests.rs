//! Reads the manifests `awsops plan/apply/delete -f` are given: files or
//! folders of YAML documents, as `kubectl apply -f` takes them. AuroraFailovers,
//! StaticSites, ConfigMaps and Secrets (a write probe's login) are kept; other kinds (a Namespace, say) are
//! listed as skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use serde::Deserialize;

use crate::api::{AuroraFailover, GROUP, StaticSite};

/// Namespace of an object whose manifest names none (as kubectl's default context).
pub const DEFAULT_NAMESPACE: &str = "default";

#[derive(Default, Debug)]
pub struct Manifests {
    pub failovers: Vec<AuroraFailover>,
    pub sites: Vec<StaticSite>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    /// `Kind/name (file)` of documents of other kinds.
    pub skipped: Vec<String>,
}

/// Reads every `.yaml`/`.yml`/`.json` file under `paths` (folders recursively, in name order).
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Manifests> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    let mut manifests = Manifests::default();
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for (i, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let value = serde_json::Value::deserialize(document)
                .with_context(|| format!("{}: document {} is not valid YAML", file.display(), i + 1))?;
            if value.is_null() {
                continue;
            }
            manifests.add(value).with_context(|| format!("{}: document {}", file.display(), i + 1))?;
        }
    }
    manifests.check_unique()?;
    Ok(manifests)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading folder {}", path.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            let manifest = entry.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
            if entry.is_dir() || manifest {
                collect(&entry, files)?;
            }
        }
    } else if path.exists() {
        files.push(path.to_path_buf());
    } else {
        bail!("{} does not exist", path.display());
    }
    Ok(())
}

impl Manifests {
    fn add(&mut self, value: serde_json::Value) -> anyhow::Result<()> {
        let api_version = value["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
        match (group, kind.as_str()) {
            (GROUP, "AuroraFailover") => {
                let failover: AuroraFailover =
                    serde_json::from_value(value).context("not a valid AuroraFailover: fix the manifest")?;
                self.failovers.push(defaulted(failover));
            }
            (GROUP, "StaticSite") => {
                let site: StaticSite =
                    serde_json::from_value(value).context("not a valid StaticSite: fix the manifest")?;
                self.sites.push(defaulted(site));
            }
            ("", "ConfigMap") => {
                let cm: ConfigMap = serde_json::from_value(value).context("not a valid ConfigMap")?;
                self.config_maps.push(defaulted(cm));
            }
            ("", "Secret") => {
                let secret: Secret = serde_json::from_value(value).context("not a valid Secret")?;
                self.secrets.push(defaulted(secret));
            }
            ("", "List") => {
                for item in value["items"].as_array().cloned().unwrap_or_default() {
                    self.add(item)?;
                }
            }
            _ => {
                let name = value["metadata"]["name"].as_str().unwrap_or_default();
                self.skipped.push(format!("{kind}/{name}"));
            }
        }
        Ok(())
    }

    fn check_unique(&self) -> anyhow::Result<()> {
        let mut seen = BTreeSet::new();
        let keys = self.failovers.iter().map(|o| ("AuroraFailover", o.namespace(), o.name_any()));
        let keys = keys.chain(self.sites.iter().map(|o| ("StaticSite", o.namespace(), o.name_any())));
        let keys = keys.chain(self.config_maps.iter().map(|o| ("ConfigMap", o.namespace(), o.name_any())));
        let keys = keys.chain(self.secrets.iter().map(|o| ("Secret", o.namespace(), o.name_any())));
        for (kind, namespace, name) in keys {
            if name.is_empty() {
                bail!("a {kind} has no metadata.name");
            }
            if !seen.insert((kind, namespace.clone(), name.clone())) {
                bail!("{kind} {}/{name} appears twice", namespace.unwrap_or_default());
            }
        }
        Ok(())
    }
}

fn defaulted<K: kube::Resource>(mut obj: K) -> K {
    if obj.meta().namespace.is_none() {
        obj.meta_mut().namespace = Some(DEFAULT_NAMESPACE.to_string());
    }
    obj
}
