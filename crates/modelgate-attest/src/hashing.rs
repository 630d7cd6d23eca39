//! Hashing a model (a file or a directory) into a [`Manifest`]: walk, ignore, refuse symlinks,
//! then hash every file (or shard) in parallel on the rayon pool, streaming through one fixed
//! buffer per worker, so memory does not grow with file sizes.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::algorithm::HashAlgorithm;
use crate::limits::AttestLimits;
use crate::manifest::{Manifest, Method, RelPath, Resource, ResourceKey, Serialization};

/// Paths model signing leaves out by default: git metadata, which changes without the model
/// changing.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// The shard size model signing uses by default (1 GB).
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// Bytes read per call. One such buffer per worker is all the file data held in memory.
const READ_BUF: usize = 1024 * 1024;

/// How to hash a model.
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// Digest algorithm for every resource.
    pub algorithm: HashAlgorithm,
    /// `Some(n)`: cut files into shards of `n` bytes (model signing's `shards` serialization);
    /// `None`: one digest per file.
    pub shard_size: Option<u64>,
    /// Follow symbolic links to files (their target's bytes are hashed under the link's name).
    /// Off by default: a link can point anywhere, and its target is not part of the model.
    pub allow_symlinks: bool,
    /// Paths relative to the model root to leave out (directories with everything below).
    pub ignore_paths: Vec<String>,
    /// Also leave out [`GIT_PATHS`].
    pub ignore_git_paths: bool,
    /// Worker threads; `None` uses rayon's global pool (one per core).
    pub threads: Option<usize>,
    /// Walk limits.
    pub limits: AttestLimits,
}

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            algorithm: HashAlgorithm::Sha256,
            shard_size: None,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
            threads: None,
            limits: AttestLimits::default(),
        }
    }
}

/// Hashing failed at `path`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct HashError {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: HashErrorKind,
}

/// What went wrong while hashing.
#[derive(Debug, thiserror::Error)]
pub enum HashErrorKind {
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(io::Error),
    /// The path does not exist.
    #[error("no such file or directory")]
    NotFound,
    /// A symbolic link, and links are not allowed.
    #[error(
        "is a symbolic link; links are refused because their target is not part of the model \
         (pass --allow-symlinks to hash the target's bytes under the link's name)"
    )]
    Symlink,
    /// A symbolic link to a directory (never followed: it could loop or leave the model).
    #[error("is a symbolic link to a directory; directory links are never followed")]
    SymlinkToDirectory,
    /// A directory where a file is needed.
    #[error("is a directory; attestations name files (sign directories with `sign model`)")]
    Directory,
    /// A socket, FIFO or device.
    #[error("is not a regular file or directory (socket, FIFO or device)")]
    Special,
    /// A name that is not UTF-8 (manifests name files in UTF-8 JSON).
    #[error("file name is not valid UTF-8; rename it")]
    NonUtf8Name,
    /// A name with `:` in sharded mode, where `:` separates the offsets.
    #[error("name contains ':', which the sharded manifest format cannot represent")]
    ColonInShardedName,
    /// Too many files.
    #[error("more than {0} files under this directory")]
    TooManyFiles(usize),
    /// Nested too deep.
    #[error("directories nested deeper than {0} levels")]
    TooDeep(usize),
    /// A file shrank while it was read.
    #[error("file changed while it was being hashed")]
    Changed,
    /// An ignore path that is absolute or climbs out of the model.
    #[error("ignore path `{0}` is not inside the model directory")]
    BadIgnorePath(String),
    /// An ignore path that covers the whole model.
    #[error("ignore path `{0}` covers the whole model, which would leave nothing to sign")]
    IgnoresEverything(String),
    /// A zero shard size.
    #[error("the shard size must be at least one byte")]
    ZeroShardSize,
    /// The same resource twice (a directory listing that repeats a name).
    #[error("`{0}` was listed twice while walking the directory")]
    Duplicate(String),
    /// The worker pool could not start.
    #[error("cannot start hashing threads: {0}")]
    Threads(String),
}

impl HashError {
    fn new(path: impl Into<PathBuf>, kind: HashErrorKind) -> Self {
        HashError {
            path: path.into(),
            kind,
        }
    }

    fn io(path: &Path, err: io::Error) -> Self {
        let kind = if err.kind() == io::ErrorKind::NotFound {
            HashErrorKind::NotFound
        } else {
            HashErrorKind::Io(err)
        };
        HashError::new(path, kind)
    }
}

/// A regular file found by the walk.
#[derive(Debug, Clone)]
struct FileEntry {
    rel: RelPath,
    abs: PathBuf,
    size: u64,
}

/// The normalised ignore list: the given paths plus, optionally, the git paths; sorted and
/// deduplicated, as recorded in the manifest.
pub fn effective_ignore_paths(
    model: &Path,
    ignore_paths: &[String],
    ignore_git_paths: bool,
) -> Result<Vec<RelPath>, HashError> {
    let mut out = Vec::new();
    let git = GIT_PATHS.iter().filter(|_| ignore_git_paths).copied();
    for p in ignore_paths.iter().map(String::as_str).chain(git) {
        let rel = RelPath::parse(p)
            .map_err(|_| HashError::new(model, HashErrorKind::BadIgnorePath(p.to_owned())))?;
        if rel == RelPath::root() {
            return Err(HashError::new(
                model,
                HashErrorKind::IgnoresEverything(p.to_owned()),
            ));
        }
        out.push(rel);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The name model signing gives a model: the last component of its path, resolved when the
/// path is `.` or ends in `..`.
pub fn model_name(path: &Path) -> String {
    let direct = path
        .file_name()
        .filter(|n| *n != "..")
        .map(|n| n.to_string_lossy().into_owned());
    direct
        .or_else(|| {
            fs::canonicalize(path)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default()
}

/// Hashes the model at `path` (a file or a directory) into a manifest.
pub fn hash_model(path: &Path, options: &HashOptions) -> Result<Manifest, HashError> {
    if options.shard_size == Some(0) {
        return Err(HashError::new(path, HashErrorKind::ZeroShardSize));
    }
    let ignores = effective_ignore_paths(path, &options.ignore_paths, options.ignore_git_paths)?;
    let files = walk(path, options, &ignores)?;
    let serialization = Serialization {
        method: match options.shard_size {
            None => Method::Files,
            Some(shard_size) => Method::Shards { shard_size },
        },
        hash: options.algorithm,
        allow_symlinks: options.allow_symlinks,
        ignore_paths: ignores.iter().map(ToString::to_string).collect(),
    };
    let run = || hash_files(&files, options);
    let (resources, unlisted) = match options.threads {
        None => run(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| HashError::new(path, HashErrorKind::Threads(e.to_string())))?
            .install(run),
    }?;
    let mut manifest = Manifest::new(model_name(path), serialization, resources)
        // The walk yields each file once, so this only fires if the file system lies.
        .map_err(|e| HashError::new(path, HashErrorKind::Duplicate(e.0)))?;
    manifest.unlisted_empty_files = unlisted;
    Ok(manifest)
}

fn hash_files(
    files: &[FileEntry],
    options: &HashOptions,
) -> Result<(Vec<Resource>, Vec<RelPath>), HashError> {
    // Work items, biggest first so the long ones start early and the small ones fill the gaps.
    let mut unlisted = Vec::new();
    let mut items: Vec<(usize, u64, u64)> = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        match options.shard_size {
            None => items.push((i, 0, f.size)),
            Some(_) if f.size == 0 => unlisted.push(f.rel.clone()),
            Some(shard) => {
                let mut start = 0;
                while start < f.size {
                    let end = f.size.min(start.saturating_add(shard));
                    items.push((i, start, end));
                    start = end;
                }
            }
        }
    }
    items.sort_by_key(|&(_, start, end)| std::cmp::Reverse(end - start));
    let algorithm = options.algorithm;
    let sharded = options.shard_size.is_some();
    let hash_item = |buf: &mut [u8], (i, start, end): (usize, u64, u64)| {
        let f: &FileEntry = &files[i];
        let digest = if sharded {
            hash_range(&f.abs, start, end, algorithm, buf)
        } else {
            hash_whole(&f.abs, algorithm, buf)
        }?;
        let key = if sharded {
            ResourceKey::Shard {
                path: f.rel.clone(),
                start,
                end,
            }
        } else {
            ResourceKey::File(f.rel.clone())
        };
        Ok(Resource { key, digest })
    };
    // Greedy longest-first schedule: every worker takes the next-largest item from a shared
    // counter. With a few large files and many small ones this keeps all cores busy to the end,
    // where splitting the list into ranges (rayon's default) can leave the large files queued
    // behind each other on one core.
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Resource>> = Mutex::new(Vec::with_capacity(items.len()));
    let first_error: Mutex<Option<HashError>> = Mutex::new(None);
    let workers = rayon::current_num_threads().clamp(1, items.len().max(1));
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                let mut buf = vec![0u8; READ_BUF];
                let mut done = Vec::new();
                while !failed.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&item) = items.get(n) else { break };
                    match hash_item(&mut buf, item) {
                        Ok(r) => done.push(r),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            let mut slot =
                                first_error.lock().unwrap_or_else(PoisonError::into_inner);
                            slot.get_or_insert(e);
                        }
                    }
                }
                results
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .append(&mut done);
            });
        }
    });
    if let Some(e) = first_error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(e);
    }
    let resources = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    Ok((resources, unlisted))
}

fn hash_whole(path: &Path, algorithm: HashAlgorithm, buf: &mut [u8]) -> Result<Vec<u8>, HashError> {
    let mut file = File::open(path).map_err(|e| HashError::io(path, e))?;
    let mut hasher = algorithm.hasher();
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HashError::io(path, e)),
        }
    }
    Ok(hasher.finalize())
}

/// Digests of one file under several algorithms, in one streaming pass. Symbolic links are
/// followed (the caller named the file); directories and special files are refused.
pub fn digest_file(path: &Path, algorithms: &[HashAlgorithm]) -> Result<Vec<Vec<u8>>, HashError> {
    let meta = fs::metadata(path).map_err(|e| HashError::io(path, e))?;
    if meta.is_dir() {
        return Err(HashError::new(path, HashErrorKind::Directory));
    }
    if !meta.is_file() {
        return Err(HashError::new(path, HashErrorKind::Special));
    }
    let mut file = File::open(path).map_err(|e| HashError::io(path, e))?;
    let mut hashers: Vec<_> = algorithms.iter().map(|a| a.hasher()).collect();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hashers.iter_mut().for_each(|h| h.update(&buf[..n])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HashError::io(path, e)),
        }
    }
    Ok(hashers
        .into_iter()
        .map(crate::algorithm::Hasher::finalize)
        .collect())
}

fn hash_range(
    path: &Path,
    start: u64,
    end: u64,
    algorithm: HashAlgorithm,
    buf: &mut [u8],
) -> Result<Vec<u8>, HashError> {
    let file = File::open(path).map_err(|e| HashError::io(path, e))?;
    let mut hasher = algorithm.hasher();
    let mut offset = start;
    while offset < end {
        let want = usize::try_from(end - offset).map_or(buf.len(), |left| left.min(buf.len()));
        match file.read_at(&mut buf[..want], offset) {
            Ok(0) => return Err(HashError::new(path, HashErrorKind::Changed)),
            Ok(n) => {
                hasher.update(&buf[..n]);
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HashError::io(path, e)),
        }
    }
    Ok(hasher.finalize())
}

fn walk(
    root: &Path,
    options: &HashOptions,
    ignores: &[RelPath],
) -> Result<Vec<FileEntry>, HashError> {
    let meta = fs::symlink_metadata(root).map_err(|e| HashError::io(root, e))?;
    let meta = if meta.file_type().is_symlink() {
        if !options.allow_symlinks {
            return Err(HashError::new(root, HashErrorKind::Symlink));
        }
        fs::metadata(root).map_err(|e| HashError::io(root, e))?
    } else {
        meta
    };
    if meta.is_file() {
        return Ok(vec![FileEntry {
            rel: RelPath::root(),
            abs: root.to_path_buf(),
            size: meta.len(),
        }]);
    }
    if !meta.is_dir() {
        return Err(HashError::new(root, HashErrorKind::Special));
    }
    let mut out = Vec::new();
    walk_dir(root, &RelPath::root(), 0, options, ignores, &mut out)?;
    Ok(out)
}

fn walk_dir(
    dir: &Path,
    rel: &RelPath,
    depth: usize,
    options: &HashOptions,
    ignores: &[RelPath],
    out: &mut Vec<FileEntry>,
) -> Result<(), HashError> {
    let limits = &options.limits;
    if depth >= limits.max_dir_depth {
        return Err(HashError::new(
            dir,
            HashErrorKind::TooDeep(limits.max_dir_depth),
        ));
    }
    let entries = fs::read_dir(dir).map_err(|e| HashError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| HashError::io(dir, e))?;
        let abs = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(HashError::new(abs, HashErrorKind::NonUtf8Name));
        };
        let child = rel.join(&name);
        // Ignored paths are skipped before anything else, so a huge `.git` is never walked.
        if ignores.iter().any(|ig| child.starts_with(ig)) {
            continue;
        }
        if options.shard_size.is_some() && name.contains(':') {
            return Err(HashError::new(abs, HashErrorKind::ColonInShardedName));
        }
        let mut file_type = entry.file_type().map_err(|e| HashError::io(&abs, e))?;
        let mut size = None;
        if file_type.is_symlink() {
            if !options.allow_symlinks {
                return Err(HashError::new(abs, HashErrorKind::Symlink));
            }
            let target = fs::metadata(&abs).map_err(|e| HashError::io(&abs, e))?;
            if target.is_dir() {
                return Err(HashError::new(abs, HashErrorKind::SymlinkToDirectory));
            }
            file_type = target.file_type();
            size = Some(target.len());
        }
        if file_type.is_dir() {
            walk_dir(&abs, &child, depth + 1, options, ignores, out)?;
        } else if file_type.is_file() {
            let size = match size {
                Some(s) => s,
                None => entry.metadata().map_err(|e| HashError::io(&abs, e))?.len(),
            };
            if out.len() >= limits.max_files {
                return Err(HashError::new(
                    dir,
                    HashErrorKind::TooManyFiles(limits.max_files),
                ));
            }
            out.push(FileEntry {
                rel: child,
                abs,
                size,
            });
        } else {
            return Err(HashError::new(abs, HashErrorKind::Special));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::to_hex;

    fn names(m: &Manifest) -> Vec<String> {
        m.resources().iter().map(|r| r.key.to_string()).collect()
    }

    #[test]
    fn hashes_directory_in_canonical_order_with_default_ignores() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a")).unwrap();
        fs::create_dir_all(root.join("a-b")).unwrap();
        fs::create_dir_all(root.join(".git/objects")).unwrap();
        fs::write(root.join("a/x.txt"), "hello\n").unwrap();
        fs::write(root.join("a-b/x.txt"), "world\n").unwrap();
        fs::write(root.join("empty.bin"), "").unwrap();
        fs::write(root.join(".gitignore"), "x").unwrap();
        fs::write(root.join(".git/objects/o"), "x").unwrap();
        let m = hash_model(root, &HashOptions::default()).unwrap();
        assert_eq!(names(&m), ["a/x.txt", "a-b/x.txt", "empty.bin"]);
        // Same directory signed by model_signing 1.1.1 (see the interop tests) has this root.
        assert_eq!(
            to_hex(&m.root_digest()),
            "3eb231bcc8d1e064f424b3f32906dfa6eda2cb08e4aad25c0dcc95387e449b82"
        );
        assert_eq!(
            m.serialization.ignore_paths,
            [".git", ".gitattributes", ".github", ".gitignore"]
        );
    }

    #[test]
    fn shards_cover_files_and_skip_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("big"), vec![1u8; 2500]).unwrap();
        fs::write(dir.path().join("empty"), "").unwrap();
        let opts = HashOptions {
            shard_size: Some(1000),
            ..HashOptions::default()
        };
        let m = hash_model(dir.path(), &opts).unwrap();
        assert_eq!(names(&m), ["big:0:1000", "big:1000:2000", "big:2000:2500"]);
        assert_eq!(m.unlisted_empty_files, [RelPath::parse("empty").unwrap()]);
        assert_eq!(
            m.resources()[2].digest,
            HashAlgorithm::Sha256.digest(&[1u8; 500])
        );
        assert_eq!(m.serialization.resource_algorithm(), "sha256-sharded-1000");
    }

    #[test]
    fn single_file_is_named_dot() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("model.bin");
        fs::write(&f, "abcd").unwrap();
        let m = hash_model(&f, &HashOptions::default()).unwrap();
        assert_eq!(names(&m), ["."]);
        assert_eq!(m.model_name, "model.bin");
    }

    #[test]
    fn symlinks_are_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("t"), "target").unwrap();
        std::os::unix::fs::symlink("t", dir.path().join("link")).unwrap();
        let err = hash_model(dir.path(), &HashOptions::default()).unwrap_err();
        assert!(matches!(err.kind, HashErrorKind::Symlink), "{err}");
        assert!(err.to_string().contains("link"));
        let opts = HashOptions {
            allow_symlinks: true,
            ..HashOptions::default()
        };
        let m = hash_model(dir.path(), &opts).unwrap();
        assert_eq!(m.resources()[0].digest, m.resources()[1].digest);
        std::os::unix::fs::symlink(".", dir.path().join("loop")).unwrap();
        let err = hash_model(dir.path(), &opts).unwrap_err();
        assert!(matches!(err.kind, HashErrorKind::SymlinkToDirectory));
    }

    #[test]
    fn bad_options_and_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = hash_model(&dir.path().join("nope"), &HashOptions::default()).unwrap_err();
        assert!(matches!(missing.kind, HashErrorKind::NotFound));
        let everything = HashOptions {
            ignore_paths: vec![".".into()],
            ..HashOptions::default()
        };
        assert!(hash_model(dir.path(), &everything).is_err());
        let outside = HashOptions {
            ignore_paths: vec!["../x".into()],
            ..HashOptions::default()
        };
        assert!(hash_model(dir.path(), &outside).is_err());
        let zero = HashOptions {
            shard_size: Some(0),
            ..HashOptions::default()
        };
        assert!(hash_model(dir.path(), &zero).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b/c")).unwrap();
        fs::write(dir.path().join("a/b/c/f"), "x").unwrap();
        fs::write(dir.path().join("g"), "x").unwrap();
        let mut opts = HashOptions::default();
        opts.limits.max_dir_depth = 2;
        assert!(matches!(
            hash_model(dir.path(), &opts).unwrap_err().kind,
            HashErrorKind::TooDeep(2)
        ));
        let mut opts = HashOptions::default();
        opts.limits.max_files = 1;
        assert!(matches!(
            hash_model(dir.path(), &opts).unwrap_err().kind,
            HashErrorKind::TooManyFiles(1)
        ));
    }

    #[test]
    fn explicit_thread_count_gives_the_same_manifest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..20 {
            fs::write(
                dir.path().join(format!("f{i}")),
                vec![i; 1000 * usize::from(i)],
            )
            .unwrap();
        }
        let a = hash_model(dir.path(), &HashOptions::default()).unwrap();
        let opts = HashOptions {
            threads: Some(1),
            algorithm: HashAlgorithm::Sha256,
            ..HashOptions::default()
        };
        assert_eq!(a, hash_model(dir.path(), &opts).unwrap());
    }
}
