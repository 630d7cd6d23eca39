//! Walking the paths given on the command line: files in sorted order, `.git` skipped, symbolic
//! links reported (and followed only when they lead to a regular file), depth and count bounded.

use std::fs;
use std::path::{Path, PathBuf};

use modelgate_core::Limits;

/// One thing found by the walk.
#[derive(Debug)]
pub(crate) enum WalkItem {
    /// A regular file (possibly reached through a link, named in `via_link`).
    File {
        path: PathBuf,
        via_link: Option<PathBuf>,
    },
    /// A link that was not followed (to a directory, a device, or nothing).
    UnfollowedLink { path: PathBuf, target: PathBuf },
    /// Something that could not be read.
    Error { path: PathBuf, message: String },
    /// The walk stopped at a limit.
    Limit { path: PathBuf, message: String },
}

/// Walks `roots` and returns every item in a deterministic order.
pub(crate) fn walk(roots: &[PathBuf], limits: &Limits) -> Vec<WalkItem> {
    let mut items = Vec::new();
    let mut files = 0usize;
    for root in roots {
        visit(root, 0, limits, &mut files, &mut items);
    }
    items
}

fn visit(path: &Path, depth: u32, limits: &Limits, files: &mut usize, out: &mut Vec<WalkItem>) {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.push(WalkItem::Error {
                path: path.to_owned(),
                message: format!("cannot read: {e}"),
            });
            return;
        }
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).unwrap_or_default();
        match fs::metadata(path) {
            Ok(m) if m.is_file() => push_file(path, Some(target), limits, files, out),
            _ => out.push(WalkItem::UnfollowedLink {
                path: path.to_owned(),
                target,
            }),
        }
    } else if kind.is_dir() {
        if depth >= limits.max_dir_depth {
            out.push(WalkItem::Limit {
                path: path.to_owned(),
                message: format!(
                    "directories nested deeper than {} levels",
                    limits.max_dir_depth
                ),
            });
            return;
        }
        let mut entries: Vec<PathBuf> = match fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                out.push(WalkItem::Error {
                    path: path.to_owned(),
                    message: format!("cannot list directory: {e}"),
                });
                return;
            }
        };
        entries.sort();
        for entry in entries {
            if entry.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            visit(&entry, depth + 1, limits, files, out);
        }
    } else if kind.is_file() {
        push_file(path, None, limits, files, out);
    } else {
        out.push(WalkItem::Error {
            path: path.to_owned(),
            message: "not a regular file (device, socket or pipe); not read".to_owned(),
        });
    }
}

fn push_file(
    path: &Path,
    via_link: Option<PathBuf>,
    limits: &Limits,
    files: &mut usize,
    out: &mut Vec<WalkItem>,
) {
    *files += 1;
    if *files > limits.max_files {
        if *files == limits.max_files + 1 {
            out.push(WalkItem::Limit {
                path: path.to_owned(),
                message: format!(
                    "more than {} files; the rest were not scanned",
                    limits.max_files
                ),
            });
        }
        return;
    }
    out.push(WalkItem::File {
        path: path.to_owned(),
        via_link,
    });
}
