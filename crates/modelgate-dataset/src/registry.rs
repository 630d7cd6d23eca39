//! The registry of vetted datasets: a YAML file listing each dataset's name, source, revision,
//! pinned SHA-256 (of the file, or of the manifest of a directory), license, who vetted it and
//! when. `modelgate dataset vet` appends to it after a clean scan; `modelgate dataset verify` and
//! the eval runner's preflight re-hash a dataset and refuse a mismatch through [`Registry::verify`].
//!
//! ```yaml
//! version: 1
//! datasets:
//!   - name: support-tickets
//!     source: s3://corp-data/support/tickets-2024.jsonl
//!     revision: v3
//!     path: data/tickets.jsonl
//!     kind: file
//!     sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     size: 1048576
//!     license: CC-BY-4.0
//!     vetted_by: alice@example.com
//!     vetted_at: 2026-11-22T02:00:00Z
//! ```
//!
//! A directory's digest is the SHA-256 of its manifest: one line `<sha256>  <relative path>\n`
//! per regular file, in path-component order (`a/x` before `a-b/x`), skipping `.git`,
//! `.gitattributes`, `.github` and `.gitignore`. Symbolic links are refused: a pinned dataset must
//! not depend on what a link points to at load time.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use modelgate_core::{SeverityCounts, to_hex};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::RegistryError;

/// Largest registry file read.
const MAX_REGISTRY_BYTES: u64 = 16 * 1024 * 1024;
/// Most files pinned in one directory.
const MAX_DIR_FILES: usize = 1_000_000;
/// Paths ignored when pinning a directory (as in OpenSSF model signing).
const IGNORED: &[&str] = &[".git", ".gitattributes", ".github", ".gitignore"];

/// What a digest covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinKind {
    /// The SHA-256 of one file's bytes.
    File,
    /// The SHA-256 of a directory's manifest.
    Directory,
}

/// The scan that vetted a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VettingScan {
    /// modelgate's version.
    pub tool_version: String,
    /// The `--fail-on` threshold the scan passed.
    pub fail_on: String,
    /// Rows scanned.
    pub rows: u64,
    /// Findings (all below `fail_on`) by severity.
    pub findings: SeverityCounts,
}

/// One vetted dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    /// Unique name used by `verify` and eval specs.
    pub name: String,
    /// Where the dataset came from (URL, bucket, hub id).
    pub source: String,
    /// The upstream revision (commit, tag, version), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The path that was vetted (default for `verify`).
    pub path: String,
    /// What `sha256` covers.
    pub kind: PinKind,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes (sum over files for a directory).
    pub size: u64,
    /// Number of files (directories only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// SPDX license identifier or free text.
    pub license: String,
    /// Who vetted it.
    pub vetted_by: String,
    /// When (RFC 3339, UTC).
    pub vetted_at: String,
    /// The scan that vetted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<VettingScan>,
}

/// The registry file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Format version; always 1.
    pub version: u32,
    /// The vetted datasets.
    #[serde(default)]
    pub datasets: Vec<DatasetEntry>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            version: 1,
            datasets: Vec::new(),
        }
    }
}

/// A pinned digest of a file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// File or directory.
    pub kind: PinKind,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes hashed.
    pub size: u64,
    /// Files hashed.
    pub files: u64,
}

/// The outcome of [`Registry::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The dataset's name.
    pub name: String,
    /// The path re-hashed.
    pub path: PathBuf,
    /// The registered digest.
    pub expected: String,
    /// The digest now.
    pub actual: String,
    /// Whether the kind (file/directory) still matches.
    pub kind_matches: bool,
}

impl Verification {
    /// The dataset is exactly what was vetted.
    pub fn ok(&self) -> bool {
        self.kind_matches && self.expected == self.actual
    }
}

impl Registry {
    /// Loads a registry; a missing file is an empty registry only when `allow_missing`.
    pub fn load(path: &Path, allow_missing: bool) -> Result<Registry, RegistryError> {
        let io = |action, source| RegistryError::Io {
            path: path.to_owned(),
            action,
            source,
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if allow_missing && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registry::default());
            }
            Err(e) => return Err(io("cannot open the registry", e)),
        };
        let mut text = String::new();
        file.take(MAX_REGISTRY_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| io("cannot read the registry", e))?;
        if text.len() as u64 > MAX_REGISTRY_BYTES {
            return Err(RegistryError::Invalid {
                path: path.to_owned(),
                message: format!("larger than {MAX_REGISTRY_BYTES} bytes"),
            });
        }
        Registry::parse(&text, path)
    }

    /// Parses registry YAML (`path` names the file in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Registry, RegistryError> {
        let reg: Registry = serde_saphyr::from_str(text).map_err(|e| RegistryError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        reg.validate(path)?;
        Ok(reg)
    }

    fn validate(&self, path: &Path) -> Result<(), RegistryError> {
        let invalid = |message: String| RegistryError::Invalid {
            path: path.to_owned(),
            message,
        };
        if self.version != 1 {
            return Err(invalid(format!(
                "unsupported version {} (expected 1)",
                self.version
            )));
        }
        for (i, e) in self.datasets.iter().enumerate() {
            if e.name.trim().is_empty() {
                return Err(invalid(format!("datasets[{i}]: empty name")));
            }
            if self.datasets[..i].iter().any(|o| o.name == e.name) {
                return Err(invalid(format!(
                    "datasets[{i}]: name `{}` is registered twice",
                    e.name
                )));
            }
            if e.sha256.len() != 64
                || !e
                    .sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(invalid(format!(
                    "datasets[{i}] (`{}`): sha256 must be 64 lowercase hex digits",
                    e.name
                )));
            }
        }
        Ok(())
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&DatasetEntry> {
        self.datasets.iter().find(|e| e.name == name)
    }

    /// Adds an entry; an existing entry of the same name is replaced only when `replace`.
    pub fn insert(
        &mut self,
        entry: DatasetEntry,
        replace: bool,
        path: &Path,
    ) -> Result<(), RegistryError> {
        match self.datasets.iter().position(|e| e.name == entry.name) {
            Some(i) if replace => self.datasets[i] = entry,
            Some(_) => {
                return Err(RegistryError::DuplicateName {
                    path: path.to_owned(),
                    name: entry.name,
                });
            }
            None => self.datasets.push(entry),
        }
        Ok(())
    }

    /// The registry as YAML.
    pub fn to_yaml(&self) -> String {
        let body = serde_saphyr::to_string(self).unwrap_or_default();
        format!(
            "# modelgate dataset registry: vetted datasets pinned by SHA-256.\n# Written by `modelgate dataset vet`; check with `modelgate dataset verify NAME`.\n{body}"
        )
    }

    /// Writes the registry atomically (temporary file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), RegistryError> {
        let io = |action, source| RegistryError::Io {
            path: path.to_owned(),
            action,
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map_or_else(|| "registry".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut f = File::create(&tmp).map_err(|e| io("cannot write the registry", e))?;
        f.write_all(self.to_yaml().as_bytes())
            .map_err(|e| io("cannot write the registry", e))?;
        f.sync_all()
            .map_err(|e| io("cannot write the registry", e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("cannot replace the registry", e)
        })
    }

    /// Re-hashes `path` (or the entry's recorded path) and compares with the registered digest.
    pub fn verify(
        &self,
        name: &str,
        path: Option<&Path>,
        registry_path: &Path,
    ) -> Result<Verification, RegistryError> {
        let entry = self.get(name).ok_or_else(|| RegistryError::UnknownName {
            path: registry_path.to_owned(),
            name: name.to_owned(),
        })?;
        let target = path.map_or_else(|| PathBuf::from(&entry.path), Path::to_path_buf);
        let pin = pin(&target)?;
        Ok(Verification {
            name: entry.name.clone(),
            path: target,
            expected: entry.sha256.clone(),
            actual: pin.sha256,
            kind_matches: pin.kind == entry.kind,
        })
    }
}

/// SHA-256 of one file, streamed in 1 MiB reads.
pub fn hash_file(path: &Path) -> Result<([u8; 32], u64), RegistryError> {
    let io = |source| RegistryError::Io {
        path: path.to_owned(),
        action: "cannot hash",
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hasher.finalize().into(), size))
}

/// Pins a file or a directory (see the module documentation for the manifest format).
pub fn pin(path: &Path) -> Result<Pin, RegistryError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| RegistryError::Io {
        path: path.to_owned(),
        action: "cannot read",
        source,
    })?;
    if meta.file_type().is_symlink() {
        return Err(RegistryError::Unpinnable {
            path: path.to_owned(),
            message: "is a symbolic link; pin the file it points to".to_owned(),
        });
    }
    if meta.is_file() {
        let (digest, size) = hash_file(path)?;
        return Ok(Pin {
            kind: PinKind::File,
            sha256: to_hex(&digest),
            size,
            files: 1,
        });
    }
    let manifest = manifest(path)?;
    let mut text = String::new();
    let mut size = 0u64;
    for (rel, digest, len) in &manifest {
        text.push_str(&to_hex(digest));
        text.push_str("  ");
        text.push_str(rel);
        text.push('\n');
        size += len;
    }
    Ok(Pin {
        kind: PinKind::Directory,
        sha256: to_hex(&Sha256::digest(text.as_bytes())),
        size,
        files: manifest.len() as u64,
    })
}

/// Every regular file under `root`: (relative path with `/`, SHA-256, size), in path-component order.
pub fn manifest(root: &Path) -> Result<Vec<(String, [u8; 32], u64)>, RegistryError> {
    let mut rels: Vec<Vec<String>> = Vec::new();
    let mut stack = vec![(root.to_owned(), Vec::<String>::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|source| RegistryError::Io {
            path: dir.clone(),
            action: "cannot list",
            source,
        })?;
        for entry in rd {
            let entry = entry.map_err(|source| RegistryError::Io {
                path: dir.clone(),
                action: "cannot list",
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && IGNORED.contains(&name.as_str()) {
                continue;
            }
            let ft = entry.file_type().map_err(|source| RegistryError::Io {
                path: entry.path(),
                action: "cannot stat",
                source,
            })?;
            let mut rel = prefix.clone();
            rel.push(name);
            if ft.is_symlink() {
                return Err(RegistryError::Unpinnable {
                    path: entry.path(),
                    message: "symbolic link inside the dataset directory; replace it with the file"
                        .to_owned(),
                });
            } else if ft.is_dir() {
                if rel.len() > 64 {
                    return Err(RegistryError::Unpinnable {
                        path: entry.path(),
                        message: "directory nesting deeper than 64".to_owned(),
                    });
                }
                stack.push((entry.path(), rel));
            } else if ft.is_file() {
                rels.push(rel);
                if rels.len() > MAX_DIR_FILES {
                    return Err(RegistryError::Unpinnable {
                        path: root.to_owned(),
                        message: format!("more than {MAX_DIR_FILES} files"),
                    });
                }
            }
        }
    }
    rels.sort();
    let mut out = Vec::with_capacity(rels.len());
    for rel in rels {
        let mut p = root.to_owned();
        for c in &rel {
            p.push(c);
        }
        let (digest, size) = hash_file(&p)?;
        out.push((rel.join("/"), digest, size));
    }
    Ok(out)
}

/// Now as RFC 3339 UTC (`2026-11-22T02:00:00Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> DatasetEntry {
        DatasetEntry {
            name: name.to_owned(),
            source: "https://example.invalid/d".to_owned(),
            revision: Some("v1".to_owned()),
            path: "d.jsonl".to_owned(),
            kind: PinKind::File,
            sha256: "0".repeat(64),
            size: 3,
            files: None,
            license: "MIT".to_owned(),
            vetted_by: "alice".to_owned(),
            vetted_at: rfc3339(0),
            scan: None,
        }
    }

    #[test]
    fn yaml_round_trips_and_rejects_unknown_fields() {
        let mut reg = Registry::default();
        reg.insert(entry("a"), false, Path::new("r.yaml")).unwrap();
        assert!(reg.insert(entry("a"), false, Path::new("r.yaml")).is_err());
        let text = reg.to_yaml();
        let back = Registry::parse(&text, Path::new("r.yaml")).unwrap();
        assert_eq!(back, reg);
        let bad = text.replace("license: MIT", "license: MIT\n    licence: typo");
        let err = Registry::parse(&bad, Path::new("r.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("licence"), "{err}");
        let bad = text.replace(&"0".repeat(64), "abc");
        assert!(Registry::parse(&bad, Path::new("r.yaml")).is_err());
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn directory_pin_changes_with_any_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::create_dir(dir.path().join("a-b")).unwrap();
        std::fs::write(dir.path().join("a/x.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.path().join("a-b/x.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "x").unwrap();
        let m = manifest(dir.path()).unwrap();
        assert_eq!(
            m.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
            ["a/x.jsonl", "a-b/x.jsonl"]
        );
        let before = pin(dir.path()).unwrap();
        assert_eq!(before.kind, PinKind::Directory);
        std::fs::write(dir.path().join("a/x.jsonl"), "{} \n").unwrap();
        assert_ne!(pin(dir.path()).unwrap().sha256, before.sha256);
    }
}
