//! Manifests: every file (or file shard) of a model paired with its digest, in the canonical
//! order of the OpenSSF model-signing format, and the root digest over them.
//!
//! The order is by path *components*, then shard offsets as numbers — the order Python's
//! `PurePosixPath` sorts in — so `a/x.txt` sorts before `a-b/x.txt` (`"a" < "a-b"`), whereas a
//! plain string sort would put `a-b/…` first (`'-' < '/'`).

use std::collections::BTreeMap;
use std::fmt;

use crate::algorithm::{HashAlgorithm, to_hex};

/// A path relative to the model root, kept as its components. The empty path is the model
/// itself (a single-file model), written `.` as model signing does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RelPath(Vec<String>);

/// Why a resource name or ignore path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// An absolute path, or one that climbs out of the model with `..`.
    #[error("`{0}` is not a path inside the model directory")]
    Escapes(String),
    /// A shard name that is not `path:start:end` with `start < end`.
    #[error("`{0}` is not a shard name of the form path:start:end")]
    BadShard(String),
    /// Longer than the limit.
    #[error("a resource name is longer than {0} bytes")]
    TooLong(usize),
}

impl RelPath {
    /// The model root itself (`.`).
    pub fn root() -> Self {
        RelPath(Vec::new())
    }

    /// Builds a path from components (each non-empty, without `/`).
    pub fn from_components(components: Vec<String>) -> Self {
        RelPath(components)
    }

    /// Parses a POSIX relative path the way `PurePosixPath` normalises it: repeated and
    /// trailing slashes and `.` components are dropped. Absolute paths and `..` are refused, since
    /// no file inside the model can have such a name.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if name.starts_with('/') {
            return Err(NameError::Escapes(name.to_owned()));
        }
        let mut parts = Vec::new();
        for part in name.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(NameError::Escapes(name.to_owned())),
                other => parts.push(other.to_owned()),
            }
        }
        Ok(RelPath(parts))
    }

    /// The components.
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// Whether `self` is `prefix` or lies under it (`a/b` is under `a`, `ab` is not). The root
    /// is under nothing but itself.
    pub fn starts_with(&self, prefix: &RelPath) -> bool {
        self.0.len() >= prefix.0.len() && self.0[..prefix.0.len()] == prefix.0[..]
    }

    /// A child path.
    #[must_use]
    pub fn join(&self, component: &str) -> RelPath {
        let mut parts = self.0.clone();
        parts.push(component.to_owned());
        RelPath(parts)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        f.write_str(&self.0.join("/"))
    }
}

/// What a manifest entry covers: a whole file, or the byte range `start..end` of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKey {
    /// A whole file.
    File(RelPath),
    /// Bytes `start..end` of a file.
    Shard {
        /// The file.
        path: RelPath,
        /// First byte offset (included).
        start: u64,
        /// Last byte offset (excluded).
        end: u64,
    },
}

impl ResourceKey {
    /// The file this key belongs to.
    pub fn path(&self) -> &RelPath {
        match self {
            ResourceKey::File(path) | ResourceKey::Shard { path, .. } => path,
        }
    }

    /// Parses a resource name written by model signing: `path` for files, `path:start:end` for
    /// shards.
    pub fn parse(name: &str, sharded: bool, max_len: usize) -> Result<Self, NameError> {
        if name.len() > max_len {
            return Err(NameError::TooLong(max_len));
        }
        if !sharded {
            return Ok(ResourceKey::File(RelPath::parse(name)?));
        }
        // Model signing splits on every ':' and wants exactly three parts, so paths with ':'
        // cannot be sharded; refuse them the same way.
        let bad = || NameError::BadShard(name.to_owned());
        let mut parts = name.split(':');
        let (Some(path), Some(start), Some(end), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let start: u64 = parse_offset(start).ok_or_else(bad)?;
        let end: u64 = parse_offset(end).ok_or_else(bad)?;
        if end <= start {
            return Err(bad());
        }
        Ok(ResourceKey::Shard {
            path: RelPath::parse(path)?,
            start,
            end,
        })
    }
}

/// Offsets as Python's `int()` reads them, restricted to plain ASCII digits.
fn parse_offset(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceKey::File(path) => write!(f, "{path}"),
            ResourceKey::Shard { path, start, end } => write!(f, "{path}:{start}:{end}"),
        }
    }
}

/// How a model was cut into resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One resource per file (`"method": "files"`).
    Files,
    /// Files cut into shards of `shard_size` bytes (`"method": "shards"`); empty files have no
    /// shard and so do not appear.
    Shards {
        /// Bytes per shard (the last shard of a file may be shorter).
        shard_size: u64,
    },
}

/// Everything needed to recompute a manifest the same way: recorded in the signed predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    /// Files or shards.
    pub method: Method,
    /// The digest algorithm of every resource.
    pub hash: HashAlgorithm,
    /// Whether symbolic links to files were followed (their target's bytes hashed).
    pub allow_symlinks: bool,
    /// Paths (relative to the model root) left out, directories with everything under them.
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The `algorithm` written on each resource: `sha256`, or `sha256-sharded-1000000` for
    /// shards, as model signing names them.
    pub fn resource_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash.as_str().to_owned(),
            Method::Shards { shard_size } => format!("{}-sharded-{shard_size}", self.hash),
        }
    }
}

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// What it covers.
    pub key: ResourceKey,
    /// Its digest under the manifest's algorithm.
    pub digest: Vec<u8>,
}

/// Two resources with the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the resource `{0}` is listed more than once")]
pub struct DuplicateResource(pub String);

/// A model's manifest: resources in canonical order with their digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Informative name (the model directory's name); renaming a model does not change it.
    pub model_name: String,
    /// How the resources were produced.
    pub serialization: Serialization,
    resources: Vec<Resource>,
    /// Files that exist but have no resource: empty files under sharded serialization, which the
    /// format cannot record. Only filled when hashing a directory, never by parsing.
    pub unlisted_empty_files: Vec<RelPath>,
}

impl Manifest {
    /// Builds a manifest, putting the resources in canonical order. Duplicate keys are refused.
    pub fn new(
        model_name: String,
        serialization: Serialization,
        mut resources: Vec<Resource>,
    ) -> Result<Self, DuplicateResource> {
        resources.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(pair) = resources.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(DuplicateResource(pair[0].key.to_string()));
        }
        Ok(Manifest {
            model_name,
            serialization,
            resources,
            unlisted_empty_files: Vec::new(),
        })
    }

    /// The resources, in canonical order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// SHA-256 over the concatenated raw digests in canonical order: the statement's subject
    /// digest in model signing.
    pub fn root_digest(&self) -> [u8; 32] {
        root_digest(self.resources.iter().map(|r| r.digest.as_slice()))
    }

    /// Number of distinct files covered.
    pub fn file_count(&self) -> usize {
        let mut n = 0;
        let mut last: Option<&RelPath> = None;
        for r in &self.resources {
            if last != Some(r.key.path()) {
                n += 1;
                last = Some(r.key.path());
            }
        }
        n
    }

    /// Resources grouped per file.
    fn by_file(&self) -> BTreeMap<&RelPath, Vec<&Resource>> {
        let mut map: BTreeMap<&RelPath, Vec<&Resource>> = BTreeMap::new();
        for r in &self.resources {
            map.entry(r.key.path()).or_default().push(r);
        }
        map
    }
}

/// SHA-256 over digests in the given order.
pub fn root_digest<'a>(digests: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for d in digests {
        h.update(d);
    }
    h.finalize().into()
}

/// A file whose bytes differ from what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// The file, relative to the model root.
    pub path: String,
    /// What was signed (hex digest, or the shard list for sharded manifests).
    pub expected: String,
    /// What is on disk now.
    pub actual: String,
}

/// A file on disk that the signature does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    /// The file, relative to the model root.
    pub path: String,
    /// Why it is unsigned beyond "not listed", if there is more to say.
    pub note: Option<String>,
}

/// Precisely how a model on disk differs from its signed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManifestDiff {
    /// Files whose content changed.
    pub changed: Vec<ChangedFile>,
    /// Signed files that are gone.
    pub missing: Vec<String>,
    /// Files present but not signed.
    pub extra: Vec<ExtraFile>,
}

impl ManifestDiff {
    /// No differences at all.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

fn describe(resources: &[&Resource]) -> String {
    match resources {
        [one] if matches!(one.key, ResourceKey::File(_)) => to_hex(&one.digest),
        many => many
            .iter()
            .map(|r| match &r.key {
                ResourceKey::Shard { start, end, .. } => {
                    format!("[{start}..{end}] {}", to_hex(&r.digest))
                }
                ResourceKey::File(_) => to_hex(&r.digest),
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Compares a signed manifest with one computed from disk, file by file.
pub fn diff(signed: &Manifest, actual: &Manifest) -> ManifestDiff {
    let expected = signed.by_file();
    let found = actual.by_file();
    let mut out = ManifestDiff::default();
    for (path, want) in &expected {
        match found.get(path) {
            None => out.missing.push(path.to_string()),
            Some(have) => {
                let same = want.len() == have.len()
                    && want
                        .iter()
                        .zip(have.iter())
                        .all(|(a, b)| a.key == b.key && a.digest == b.digest);
                if !same {
                    out.changed.push(ChangedFile {
                        path: path.to_string(),
                        expected: describe(want),
                        actual: describe(have),
                    });
                }
            }
        }
    }
    for path in found.keys() {
        if !expected.contains_key(path) {
            out.extra.push(ExtraFile {
                path: path.to_string(),
                note: None,
            });
        }
    }
    for path in &actual.unlisted_empty_files {
        out.extra.push(ExtraFile {
            path: path.to_string(),
            note: Some(
                "empty file: sharded manifests cannot list empty files, so the signature says \
                 nothing about it"
                    .to_owned(),
            ),
        });
    }
    out.extra.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[(&str, u8)]) -> Manifest {
        let resources = names
            .iter()
            .map(|(n, d)| Resource {
                key: ResourceKey::File(RelPath::parse(n).unwrap()),
                digest: vec![*d; 32],
            })
            .collect();
        Manifest::new(
            "m".into(),
            Serialization {
                method: Method::Files,
                hash: HashAlgorithm::Sha256,
                allow_symlinks: false,
                ignore_paths: vec![],
            },
            resources,
        )
        .unwrap()
    }

    #[test]
    fn canonical_order_is_by_components() {
        let m = files(&[("a-b/x.txt", 1), ("a/x.txt", 2), ("a/b/c", 3), ("B", 4)]);
        let names: Vec<String> = m.resources().iter().map(|r| r.key.to_string()).collect();
        assert_eq!(names, ["B", "a/b/c", "a/x.txt", "a-b/x.txt"]);
    }

    #[test]
    fn shards_sort_numerically() {
        let key = |s| ResourceKey::parse(s, true, 100).unwrap();
        let mut keys = [key("f:1000:2000"), key("f:0:1000"), key("e:5:6")];
        keys.sort();
        let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["e:5:6", "f:0:1000", "f:1000:2000"]);
    }

    #[test]
    fn names_normalise_like_pure_posix_path() {
        assert_eq!(RelPath::parse("a//b/./c/").unwrap().to_string(), "a/b/c");
        assert_eq!(RelPath::parse(".").unwrap(), RelPath::root());
        assert!(RelPath::parse("/etc/passwd").is_err());
        assert!(RelPath::parse("a/../../b").is_err());
        assert!(ResourceKey::parse("a:1", true, 100).is_err());
        assert!(ResourceKey::parse("a:2:1", true, 100).is_err());
        assert!(ResourceKey::parse("a:+1:2", true, 100).is_err());
        assert!(ResourceKey::parse("a:b:1:2", true, 100).is_err());
        assert!(ResourceKey::parse("abcdef", false, 3).is_err());
    }

    #[test]
    fn prefix_is_by_component() {
        let a = RelPath::parse("a").unwrap();
        assert!(RelPath::parse("a/b").unwrap().starts_with(&a));
        assert!(RelPath::parse("a").unwrap().starts_with(&a));
        assert!(!RelPath::parse("ab").unwrap().starts_with(&a));
    }

    #[test]
    fn duplicates_are_refused() {
        let s = files(&[]).serialization;
        let r = Resource {
            key: ResourceKey::File(RelPath::parse("a").unwrap()),
            digest: vec![0; 32],
        };
        assert!(Manifest::new("m".into(), s, vec![r.clone(), r]).is_err());
    }

    #[test]
    fn diff_names_each_kind() {
        let signed = files(&[("keep", 1), ("edit", 2), ("gone", 3)]);
        let actual = files(&[("keep", 1), ("edit", 9), ("new", 4)]);
        let d = diff(&signed, &actual);
        assert_eq!(d.missing, ["gone"]);
        assert_eq!(d.extra[0].path, "new");
        assert_eq!(d.changed[0].path, "edit");
        assert!(diff(&signed, &signed).is_empty());
    }

    #[test]
    fn root_digest_of_nothing_is_sha256_of_empty() {
        assert_eq!(
            to_hex(&files(&[]).root_digest()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
