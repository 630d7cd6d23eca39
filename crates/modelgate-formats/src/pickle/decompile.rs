//! Explain views: an opcode [`listing`] in the style of `pickletools.dis`, and a pseudo-Python
//! [`decompile`] in the style of fickling (`from os import system`, `_var0 = system('echo hi')`,
//! `result = _var0`). Both are produced by the stack machine itself, so raw data it knows how
//! to skip (joblib arrays, legacy torch storages) is shown as such rather than as garbage.
//!
//! Output is plain text with every control and non-ASCII character escaped, and is capped in
//! length so that a hostile stream cannot make it unbounded.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;

use modelgate_core::Limits;

use super::disasm::{Arg, quote, quote_bytes};
use super::input::{RandomAccess, Source, Streaming};
use super::opcodes::Opcode;
use super::vm::{self, BytesKind, Node, SeqKind, Val, Vm};
use super::{Analysis, Target};
use crate::ByteSource;

/// Most lines kept in each view.
const MAX_LINES: usize = 200_000;
/// Longest rendering of one value.
const MAX_RENDER: usize = 400;
/// Items shown per container.
const MAX_ITEMS: usize = 8;
/// Deepest container nesting rendered.
const MAX_DEPTH: u32 = 6;

/// Both explain views and the analysis they came from.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The opcode listing.
    pub listing: String,
    /// The pseudo-Python.
    pub code: String,
    /// The analysis.
    pub analysis: Analysis,
}

#[derive(Default)]
pub(crate) struct Trace {
    listing: Vec<String>,
    code: Vec<String>,
    dropped_listing: u64,
    dropped_code: u64,
    /// Imported name → module, for rendering globals by their short name when unambiguous.
    names: HashMap<String, String>,
    pickle: usize,
}

impl Trace {
    pub(crate) fn begin_pickle(&mut self, index: usize, start: u64) {
        self.pickle = index;
        if index > 0 {
            self.line(format!("# pickle {index} at offset {start}"));
            push_capped(
                &mut self.listing,
                &mut self.dropped_listing,
                format!("# pickle {index} at offset {start}"),
            );
        }
    }

    pub(crate) fn op(&mut self, at: u64, op: Opcode, arg: &Arg, depth: usize) {
        let depth = match op {
            Opcode::List
            | Opcode::Dict
            | Opcode::Tuple
            | Opcode::Appends
            | Opcode::SetItems
            | Opcode::AddItems
            | Opcode::FrozenSet
            | Opcode::PopMark
            | Opcode::Inst
            | Opcode::Obj => depth.saturating_sub(1),
            _ => depth,
        };
        let indent = "    ".repeat(depth.min(16));
        let mut line = format!(
            "{at:>10}: {:02x} {:<16} {indent}{arg}",
            op.byte(),
            op.name()
        );
        while line.ends_with(' ') {
            line.pop();
        }
        push_capped(&mut self.listing, &mut self.dropped_listing, line);
    }

    pub(crate) fn note(&mut self, text: &str) {
        push_capped(
            &mut self.listing,
            &mut self.dropped_listing,
            format!("# {text}"),
        );
        self.line(format!("# {text}"));
    }

    pub(crate) fn import(&mut self, target: &Target) {
        match target {
            Target::Global { module, name } => {
                let short = name.rsplit('.').next().unwrap_or(name).to_owned();
                match self.names.get(&short) {
                    Some(m) if m == module => return,
                    Some(_) => {}
                    None => {
                        self.names.insert(short, module.clone());
                    }
                }
                self.line(format!("from {module} import {name}"));
            }
            Target::Unresolved(why) => self.line(format!("# unresolved global: {why}")),
            Target::Ext(_) => {}
        }
    }

    pub(crate) fn line(&mut self, text: String) {
        push_capped(&mut self.code, &mut self.dropped_code, text);
    }

    pub(crate) fn stop(&mut self, value: &str) {
        let name = if self.pickle == 0 {
            "result".to_owned()
        } else {
            format!("result{}", self.pickle)
        };
        self.line(format!("{name} = {value}"));
    }

    fn render_global(&self, target: &Target) -> String {
        match target {
            Target::Global { module, name } => {
                let short = name.rsplit('.').next().unwrap_or(name);
                if name.contains('.') || self.names.get(short) != Some(module) {
                    format!("{module}.{name}")
                } else {
                    short.to_owned()
                }
            }
            other => other.to_string(),
        }
    }
}

fn push_capped(lines: &mut Vec<String>, dropped: &mut u64, line: String) {
    if lines.len() < MAX_LINES {
        lines.push(line);
    } else {
        *dropped += 1;
    }
}

fn join(lines: &[String], dropped: u64) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    if dropped > 0 {
        let _ = writeln!(out, "# … {dropped} more lines not shown");
    }
    out
}

impl Vm<'_> {
    /// A bounded, escaped rendering of a symbolic value.
    pub(crate) fn render(&self, v: Val) -> String {
        let mut out = String::new();
        self.render_into(v, 0, &mut out);
        out
    }

    fn render_into(&self, v: Val, depth: u32, out: &mut String) {
        if out.len() > MAX_RENDER {
            if !out.ends_with('…') {
                out.push('…');
            }
            return;
        }
        match v {
            Val::None => out.push_str("None"),
            Val::Bool(b) => out.push_str(if b { "True" } else { "False" }),
            Val::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Val::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            Val::Node(_) => self.render_node(v, depth, out),
        }
    }

    fn render_node(&self, v: Val, depth: u32, out: &mut String) {
        let Some(node) = self.node(v) else {
            out.push('?');
            return;
        };
        match node {
            Node::Long(l) => match l.value {
                Some(x) => {
                    let _ = write!(out, "{x}");
                }
                None => {
                    let _ = write!(out, "<{}-byte int>", l.width);
                }
            },
            Node::Str { data, len, .. } => {
                let shown = &data[..data.len().min(120)];
                out.push_str(&quote(&String::from_utf8_lossy(shown)));
                if (shown.len() as u64) < *len {
                    let _ = write!(out, "…({len} bytes)");
                }
            }
            Node::Bytes {
                data, len, kind, ..
            } => {
                let shown = &data[..data.len().min(64)];
                let body = quote_bytes(shown);
                match kind {
                    BytesKind::Bytes => {
                        let _ = write!(out, "b{body}");
                    }
                    BytesKind::ByteArray => {
                        let _ = write!(out, "bytearray(b{body})");
                    }
                }
                if (shown.len() as u64) < *len {
                    let _ = write!(out, "…({len} bytes)");
                }
            }
            Node::Seq { kind, items } => {
                if depth >= MAX_DEPTH {
                    out.push('…');
                    return;
                }
                let (open, close) = match kind {
                    SeqKind::Tuple => ("(", ")"),
                    SeqKind::List => ("[", "]"),
                    SeqKind::Dict | SeqKind::Set => ("{", "}"),
                    SeqKind::FrozenSet => ("frozenset({", "})"),
                };
                if items.is_empty() && *kind == SeqKind::Set {
                    out.push_str("set()");
                    return;
                }
                out.push_str(open);
                if *kind == SeqKind::Dict {
                    for (i, kv) in items.chunks(2).take(MAX_ITEMS).enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        if let [k, val] = kv {
                            self.render_into(*k, depth + 1, out);
                            out.push_str(": ");
                            self.render_into(*val, depth + 1, out);
                        }
                    }
                    if items.len() / 2 > MAX_ITEMS {
                        let _ = write!(out, ", …({} items)", items.len() / 2);
                    }
                } else {
                    for (i, item) in items.iter().take(MAX_ITEMS).enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.render_into(*item, depth + 1, out);
                    }
                    if items.len() > MAX_ITEMS {
                        let _ = write!(out, ", …({} items)", items.len());
                    }
                    if *kind == SeqKind::Tuple && items.len() == 1 {
                        out.push(',');
                    }
                }
                out.push_str(close);
            }
            Node::Global { target } => {
                let text = match (self.target(*target), &self.trace) {
                    (Some(t), Some(trace)) => trace.render_global(t),
                    (Some(t), None) => t.to_string(),
                    _ => "?".into(),
                };
                out.push_str(&text);
            }
            Node::Obj { var, .. }
            | Node::PersId { var, .. }
            | Node::Ext { var, .. }
            | Node::Array { var } => {
                let _ = write!(out, "_var{var}");
            }
            Node::Buffer => out.push_str("<out-of-band buffer>"),
        }
    }
}

/// Runs the machine once and returns the listing, the pseudo-Python and the analysis.
pub fn explain_stream<R: Read>(reader: R, limits: &Limits) -> Explained {
    explain_with(Streaming(reader), limits)
}

/// [`explain_stream`] over a random-access source (raw data skipped by position).
pub fn explain_source(source: &dyn ByteSource, limits: &Limits) -> Explained {
    explain_with(RandomAccess::new(source), limits)
}

fn explain_with<R: Source>(reader: R, limits: &Limits) -> Explained {
    let (analysis, trace) = vm::run_traced(reader, limits, Trace::default());
    let mut trace = trace;
    let mut notes = Vec::new();
    if let Some(j) = &analysis.joblib {
        notes.push(format!(
            "joblib: {} array(s), {} raw bytes skipped, {} object array(s) analysed inline",
            j.arrays, j.bytes, j.object_arrays
        ));
    }
    if let Some(l) = &analysis.legacy_torch {
        notes.push(format!(
            "legacy torch storage data at offset {}: {} storage(s), {} bytes{}",
            l.offset,
            l.storages,
            l.bytes,
            if l.exact {
                ""
            } else {
                " (layout not matched exactly)"
            }
        ));
    }
    if let Some(t) = &analysis.trailing {
        notes.push(format!("{} trailing bytes at offset {}", t.len, t.offset));
    }
    if let Some(e) = &analysis.error {
        notes.push(format!("error: {e}"));
    }
    if let Some(e) = &analysis.limit {
        notes.push(format!("stopped: {e}"));
    }
    for n in &notes {
        trace.note(n);
    }
    Explained {
        listing: join(&trace.listing, trace.dropped_listing),
        code: join(&trace.code, trace.dropped_code),
        analysis,
    }
}

/// An opcode listing like `pickletools.dis`: offset, opcode byte and name, argument, indented
/// by mark depth; notes for skipped raw data, trailing bytes, and the error that stopped it.
pub fn listing<R: Read>(reader: R, limits: &Limits) -> String {
    explain_stream(reader, limits).listing
}

/// Pseudo-Python for what loading the stream would do (nothing is executed to produce it).
pub fn decompile<R: Read>(reader: R, limits: &Limits) -> String {
    explain_stream(reader, limits).code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompiles_a_reduce() {
        // python3 -c "import pickle,os; ..." protocol 0 os.system reduce, hand-written.
        let code = decompile(&b"cos\nsystem\n(S'echo hi'\ntR."[..], &Limits::default());
        assert_eq!(
            code,
            "from os import system\n_var0 = system('echo hi')\nresult = _var0\n"
        );
        let list = listing(&b"cos\nsystem\n(S'echo hi'\ntR."[..], &Limits::default());
        assert!(list.contains("GLOBAL"), "{list}");
        assert!(list.contains("'os' 'system'"), "{list}");
        assert!(list.contains("STOP"), "{list}");
    }

    #[test]
    fn listing_notes_errors_and_escapes() {
        let list = listing(&b"S'\\x1b[2J'\n\xff"[..], &Limits::default());
        assert!(list.contains("\\x1b"), "{list}");
        assert!(!list.contains('\u{1b}'));
        assert!(list.contains("error: at offset"), "{list}");
    }
}
