//! Reading symbolic values: constants, containers, and what a callable value resolves to
//! (`getattr` chains, `functools.partial`), plus embedded-pickle detection.

use super::{BytesKind, MAX_CONSUMERS, MAX_KEPT_TEXT, Mode, Node, SeqKind, Val, Vm, latin1, limit};
use crate::pickle::disasm::{Blob, Decoder, PREVIEW};
use crate::pickle::{EmbeddedPickle, PickleError, Target, Usage};

impl Vm<'_> {
    /// The text of a complete string value.
    pub(crate) fn str_of(&self, v: Val) -> Option<&str> {
        match self.node(v)? {
            Node::Str { data, len, .. } if data.len() as u64 == *len => {
                std::str::from_utf8(data).ok()
            }
            _ => None,
        }
    }

    pub(crate) fn items_of(&self, v: Val) -> Option<&[Val]> {
        match self.node(v)? {
            Node::Seq { items, .. } => Some(items),
            _ => None,
        }
    }

    pub(super) fn is_scalar_constant(&self, v: Val) -> bool {
        match v {
            Val::None | Val::Bool(_) | Val::Int(_) | Val::Float(_) => true,
            Val::Node(_) => matches!(self.node(v), Some(Node::Long(_))) || self.str_of(v).is_some(),
        }
    }

    pub(super) fn global_target(&self, v: Val) -> Option<u32> {
        match self.node(v)? {
            Node::Global { target } => Some(*target),
            _ => None,
        }
    }

    pub(super) fn is_global(&self, t: u32, module: &[&str], name: &str) -> bool {
        matches!(self.target(t), Some(Target::Global { module: m, name: n })
            if n == name && module.contains(&m.as_str()))
    }

    pub(super) fn kind_name(&self, v: Val) -> &'static str {
        match v {
            Val::None => "None",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float",
            Val::Node(_) => match self.node(v) {
                Some(Node::Long(_)) => "int",
                Some(Node::Str { .. }) => "str",
                Some(Node::Bytes { .. }) => "bytes",
                Some(Node::Seq { kind, .. }) => match kind {
                    SeqKind::Tuple => "tuple",
                    SeqKind::List => "list",
                    SeqKind::Dict => "dict",
                    SeqKind::Set => "set",
                    SeqKind::FrozenSet => "frozenset",
                },
                Some(Node::Global { .. }) => "global",
                Some(Node::Obj { .. }) => "call result",
                Some(Node::PersId { .. }) => "persistent object",
                Some(Node::Ext { .. }) => "extension object",
                Some(Node::Buffer) => "buffer",
                Some(Node::Array { .. }) => "array",
                None => "value",
            },
        }
    }

    pub(super) fn embedded_of(&self, v: Val) -> Option<u32> {
        match self.node(v)? {
            Node::Str { embedded, .. }
            | Node::Bytes { embedded, .. }
            | Node::Obj { embedded, .. } => *embedded,
            _ => None,
        }
    }

    /// For `getattr` chains: the module and attribute path an object stands for, when it is a
    /// global, an imported module, or an attribute of one of those.
    pub(super) fn object_path(&self, v: Val, depth: u32) -> Option<(String, Option<String>)> {
        if depth > 16 {
            return None;
        }
        match self.node(v)? {
            Node::Global { target } => match self.target(*target)? {
                Target::Global { module, name } => Some((module.clone(), Some(name.clone()))),
                _ => None,
            },
            Node::Obj {
                usage: Usage::Reduce,
                target,
                args,
                ..
            } => {
                let items = self.items_of(*args)?;
                let first = items.first().copied()?;
                if self.is_global(*target, &["importlib"], "import_module") {
                    return Some((self.str_of(first)?.to_owned(), None));
                }
                if self.is_global(*target, &["builtins", "__builtin__"], "__import__") {
                    let m = self.str_of(first)?;
                    let top = m.split('.').next().unwrap_or(m);
                    return Some((top.to_owned(), None));
                }
                if self.is_global(*target, &["builtins", "__builtin__"], "getattr") {
                    let attr = self.str_of(*items.get(1)?)?;
                    let (module, path) = self.object_path(first, depth + 1)?;
                    let path = match path {
                        Some(p) => format!("{p}.{attr}"),
                        None => attr.to_owned(),
                    };
                    return Some((module, Some(path)));
                }
                None
            }
            _ => None,
        }
    }

    /// What calling `v` calls: the target and the wrapper it was reached through.
    pub(super) fn resolve_callable(&mut self, v: Val, depth: u32) -> (u32, Option<u32>) {
        let unresolved = |vm: &mut Self, why: String| (vm.intern(Target::Unresolved(why)), None);
        if depth > 16 {
            return unresolved(self, "callable nested too deeply".into());
        }
        let Some(node) = self.node(v) else {
            let kind = self.kind_name(v);
            return unresolved(self, format!("a constant {kind} value"));
        };
        match node {
            Node::Global { target } => (*target, None),
            Node::Obj {
                usage: Usage::Reduce,
                target,
                args,
                ..
            } => {
                let (target, args) = (*target, *args);
                let first = self.items_of(args).and_then(|i| i.first().copied());
                if self.is_global(target, &["builtins", "__builtin__"], "getattr") {
                    if let Some((module, Some(path))) = self.object_path(v, 0) {
                        let t = self.intern(Target::Global { module, name: path });
                        return (t, Some(target));
                    }
                    let attr = self
                        .items_of(args)
                        .and_then(|i| i.get(1).copied())
                        .and_then(|a| self.str_of(a))
                        .map_or_else(|| "<non-constant>".to_owned(), |s| format!("'{s}'"));
                    let via = Some(target);
                    let (t, _) = unresolved(self, format!("attribute {attr} of a computed object"));
                    return (t, via);
                }
                if self.is_global(target, &["functools", "_functools"], "partial")
                    && let Some(f) = first
                {
                    let (t, _) = self.resolve_callable(f, depth + 1);
                    return (t, Some(target));
                }
                let name = self
                    .target(target)
                    .map_or_else(String::new, ToString::to_string);
                unresolved(self, format!("the result of calling {name}"))
            }
            Node::Obj { target, .. } => {
                let name = self
                    .target(*target)
                    .map_or_else(String::new, ToString::to_string);
                unresolved(self, format!("an instance of {name}"))
            }
            Node::PersId { .. } => unresolved(self, "a persistent object".into()),
            Node::Ext { code, .. } => {
                let code = *code;
                (self.intern(Target::Ext(code)), None)
            }
            _ => {
                let kind = self.kind_name(v);
                unresolved(self, format!("a {kind} value"))
            }
        }
    }

    pub(super) fn describe_operand(&self, v: Val) -> String {
        match self.node(v) {
            Some(Node::Obj { target, .. }) => format!(
                "result of {}",
                self.target(*target)
                    .map_or_else(String::new, ToString::to_string)
            ),
            Some(Node::Str { .. }) => "truncated str".into(),
            _ => self.kind_name(v).into(),
        }
    }

    pub(super) fn blob_val(
        &mut self,
        at: u64,
        blob: Blob,
        text: bool,
        kind: BytesKind,
    ) -> Result<Val, PickleError> {
        let Blob { len, mut data } = blob;
        let complete = data.len() as u64 == len;
        let mut embedded = None;
        // A pickle that does anything takes at least 8 bytes (`cm\nn\n)R.`); the first byte
        // must be able to start one. Both checks keep the per-string cost near zero.
        if self.mode == Mode::Full && complete && len >= 8 {
            let first = if text {
                std::str::from_utf8(&data)
                    .ok()
                    .and_then(|s| s.chars().next())
                    .and_then(|c| u8::try_from(u32::from(c)).ok())
            } else {
                data.first().copied()
            };
            if first.is_some_and(crate::pickle::can_start_pickle) {
                let candidate = if text { latin1(&data) } else { None };
                let bytes = candidate.as_deref().unwrap_or(&data);
                if crate::pickle::sniff(bytes) {
                    embedded = self.check_embedded(at, bytes);
                }
            }
        }
        // Strings are kept whole up to a few KiB (module/name operands, dict keys); bytes
        // only as a preview. An embedded pickle's bytes live in the analysis.
        let keep = if text { MAX_KEPT_TEXT } else { PREVIEW };
        if data.len() > keep {
            data.truncate(keep);
        }
        let node = if text {
            Node::Str {
                data,
                len,
                embedded,
            }
        } else {
            Node::Bytes {
                data,
                len,
                kind,
                embedded,
            }
        };
        self.alloc(at, node)
    }

    pub(super) fn check_embedded(&mut self, at: u64, bytes: &[u8]) -> Option<u32> {
        self.check_embedded_from(at, bytes, false)
    }

    pub(super) fn check_embedded_from(
        &mut self,
        at: u64,
        bytes: &[u8],
        joblib_array_data: bool,
    ) -> Option<u32> {
        let verified = {
            let mut vm = Vm::new(self.limits, Mode::Verify, None);
            let mut dec = Decoder::with_buffer(bytes, self.limits, bytes.len());
            let r = vm.run_one(&mut dec);
            r.is_ok()
        };
        if !verified {
            return None;
        }
        let size = bytes.len() as u64;
        if self.embedded_bytes.saturating_add(size) > self.limits.max_pickle_embedded_bytes {
            if self.out.limit.is_none() {
                self.out.limit = Some(limit(at, "embedded pickle bytes"));
            }
            return None;
        }
        self.embedded_bytes += size;
        let idx = u32::try_from(self.out.embedded.len()).ok()?;
        self.out.embedded.push(EmbeddedPickle {
            offset: at,
            data: bytes.to_vec(),
            joblib_array_data,
            consumers: Vec::new(),
        });
        Some(idx)
    }

    pub(super) fn note_consumer(&mut self, args: &[Val], callee: u32) -> Option<u32> {
        let mut found = None;
        for &a in args {
            let mut e = self.embedded_of(a);
            if e.is_none() {
                // One level into containers: `loads((payload,))`-style wrapping.
                if let Some(items) = self.items_of(a) {
                    e = items.iter().find_map(|&i| self.embedded_of(i));
                }
            }
            if let Some(e) = e {
                let t = self.target(callee).cloned();
                if let (Some(emb), Some(t)) = (self.out.embedded.get_mut(e as usize), t)
                    && emb.consumers.len() < MAX_CONSUMERS
                    && !emb.consumers.contains(&t)
                {
                    emb.consumers.push(t);
                }
                found = found.or(Some(e));
            }
        }
        found
    }
}
