//! The symbolic stack machine: runs a pickle's opcodes over symbolic values, never importing or
//! calling anything, and records every import and call site.
//!
//! Values live in an arena (`Vec<Node>`) addressed by index, so building and rendering nested
//! values never recurses on the input's nesting; the arena, stack, marks and memo are bounded by
//! `Limits`.

use std::collections::HashMap;
use std::io::Read;

use modelgate_core::Limits;

use super::decompile::Trace;
use super::disasm::{Arg, Blob, Decoder, LongValue, PREVIEW};
use super::opcodes::Opcode;
use super::{
    Analysis, CallSite, EmbeddedPickle, ErrorKind, Joblib, LegacyTorch, Options, PersistentId,
    PickleError, PickleSummary, Target, Trailing, Usage,
};

/// `torch.serialization.MAGIC_NUMBER`, the first pickle of a legacy `torch.save` file.
const TORCH_LEGACY_MAGIC: i128 = 0x1950_a86a_20f9_469c_fc6c;
/// Persistent ids kept in the analysis (the rest are counted).
const MAX_PERSISTENT_IDS: usize = 4096;
/// Consumers kept per embedded pickle.
const MAX_CONSUMERS: usize = 8;
/// Longest string value kept whole; longer ones keep a prefix (and cannot name a callable).
const MAX_KEPT_TEXT: usize = 4096;

/// A symbolic value on the stack or in the memo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Node(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqKind {
    Tuple,
    List,
    Dict,
    Set,
    FrozenSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BytesKind {
    Bytes,
    ByteArray,
}

#[derive(Debug)]
pub(crate) enum Node {
    Long(Box<LongValue>),
    /// UTF-8 text; `data` is complete when `data.len() == len`.
    Str {
        data: Vec<u8>,
        len: u64,
        embedded: Option<u32>,
    },
    Bytes {
        data: Vec<u8>,
        len: u64,
        kind: BytesKind,
        embedded: Option<u32>,
    },
    Seq {
        kind: SeqKind,
        items: Vec<Val>,
    },
    Global {
        target: u32,
    },
    /// The result of `REDUCE` / `INST` / `OBJ` / `NEWOBJ` / `NEWOBJ_EX`.
    Obj {
        usage: Usage,
        args: Val,
        target: u32,
        var: u32,
        state: Option<Val>,
        /// Items appended or set on the object (`append`/`__setitem__` run at load); boxed
        /// because most objects have none (8 bytes instead of 24 in every node).
        #[allow(clippy::box_collection)]
        items: Option<Box<Vec<Val>>>,
        embedded: Option<u32>,
    },
    PersId {
        var: u32,
    },
    Ext {
        code: i64,
        var: u32,
    },
    Buffer,
    /// A joblib array read from raw data.
    Array {
        var: u32,
    },
}

/// Nodes in fixed-size chunks: growing never moves or copies existing nodes (a doubling
/// `Vec` would copy the whole arena and fault in twice the memory).
#[derive(Default)]
struct Arena {
    chunks: Vec<Vec<Node>>,
    len: u32,
}

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

impl Arena {
    fn push(&mut self, node: Node) -> Option<u32> {
        let idx = self.len;
        let next = idx.checked_add(1)?;
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut()?.push(node);
        self.len = next;
        Some(idx)
    }

    #[inline]
    fn get(&self, i: u32) -> Option<&Node> {
        self.chunks
            .get((i >> CHUNK_BITS) as usize)?
            .get(i as usize & (CHUNK - 1))
    }

    #[inline]
    fn get_mut(&mut self, i: u32) -> Option<&mut Node> {
        self.chunks
            .get_mut((i >> CHUNK_BITS) as usize)?
            .get_mut(i as usize & (CHUNK - 1))
    }
}

#[derive(Default)]
struct Memo {
    dense: Vec<Option<Val>>,
    sparse: HashMap<u64, Val>,
    count: usize,
}

impl Memo {
    fn get(&self, idx: u64) -> Option<Val> {
        match usize::try_from(idx).ok().and_then(|i| self.dense.get(i)) {
            Some(v) => *v,
            None => self.sparse.get(&idx).copied(),
        }
    }

    fn put(&mut self, idx: u64, v: Val) {
        let i = usize::try_from(idx).unwrap_or(usize::MAX);
        if let Some(slot) = self.dense.get_mut(i) {
            if slot.is_none() {
                self.count += 1;
            }
            *slot = Some(v);
        } else if i == self.dense.len() && !self.sparse.contains_key(&idx) {
            self.dense.push(Some(v));
            self.count += 1;
        } else if self.sparse.insert(idx, v).is_none() {
            self.count += 1;
        }
    }
}

/// What the decoder and machine were asked to do beyond analysis.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Full analysis (embedded pickles verified, layouts recognised).
    Full,
    /// Verifying that a value is a pickle: no embedded checks, no layouts.
    Verify,
    /// Sniffing a prefix.
    Sniff,
}

pub(crate) struct Vm<'a> {
    limits: &'a Limits,
    mode: Mode,
    should_stop: Option<&'a dyn Fn() -> bool>,
    nodes: Arena,
    values: usize,
    stack: Vec<Val>,
    marks: Vec<usize>,
    memo: Memo,
    proto: u8,
    pub(crate) targets: Vec<Target>,
    target_index: HashMap<Target, u32>,
    site_index: HashMap<(u32, Usage, Option<u32>), usize>,
    pub(crate) out: Analysis,
    embedded_bytes: u64,
    next_var: u32,
    joblib_inner: bool,
    /// Legacy torch: storage key → element size, from the persistent ids.
    storage_elsize: HashMap<String, Option<u64>>,
    /// Legacy torch: the storage keys (last pickle's result).
    legacy_keys: Option<Vec<Option<String>>>,
    saw_proto: bool,
    /// Set once the first pickle turned out to be torch's legacy magic number.
    legacy: bool,
    /// The shared `()` node.
    empty_tuple: Option<Val>,
    pub(crate) trace: Option<Trace>,
}

type Step = Result<(), PickleError>;

fn underflow(at: u64, op: Opcode) -> PickleError {
    PickleError::new(
        at,
        ErrorKind::StackUnderflow(format!("{} needs more stack items", op.name())),
    )
}

fn invalid(at: u64, why: impl Into<String>) -> PickleError {
    PickleError::new(at, ErrorKind::Invalid(why.into()))
}

fn limit(at: u64, what: &str) -> PickleError {
    PickleError::new(at, ErrorKind::Limit(what.to_owned()))
}

/// Encodes text as latin-1 when every character fits (what `_codecs.encode(s, 'latin1')` does).
pub(crate) fn latin1(text: &[u8]) -> Option<Vec<u8>> {
    String::from_utf8_lossy(text)
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

impl<'a> Vm<'a> {
    fn new(limits: &'a Limits, mode: Mode, should_stop: Option<&'a dyn Fn() -> bool>) -> Self {
        Vm {
            limits,
            mode,
            should_stop,
            nodes: Arena::default(),
            values: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::default(),
            proto: 0,
            targets: Vec::new(),
            target_index: HashMap::new(),
            site_index: HashMap::new(),
            out: Analysis::default(),
            embedded_bytes: 0,
            next_var: 0,
            joblib_inner: false,
            storage_elsize: HashMap::new(),
            legacy_keys: None,
            saw_proto: false,
            legacy: false,
            empty_tuple: None,
            trace: None,
        }
    }

    // ----- arena, targets, sites -------------------------------------------------------

    #[inline]
    fn alloc(&mut self, at: u64, node: Node) -> Result<Val, PickleError> {
        self.charge(at, 1)?;
        let idx = self
            .nodes
            .push(node)
            .ok_or_else(|| limit(at, "symbolic value"))?;
        Ok(Val::Node(idx))
    }

    fn charge(&mut self, at: u64, n: usize) -> Step {
        self.values = self.values.saturating_add(n);
        if self.values > self.limits.max_pickle_values {
            return Err(limit(at, "symbolic value count"));
        }
        Ok(())
    }

    pub(crate) fn node(&self, v: Val) -> Option<&Node> {
        match v {
            Val::Node(i) => self.nodes.get(i),
            _ => None,
        }
    }

    fn node_mut(&mut self, v: Val) -> Option<&mut Node> {
        match v {
            Val::Node(i) => self.nodes.get_mut(i),
            _ => None,
        }
    }

    fn intern(&mut self, t: Target) -> u32 {
        if let Some(&i) = self.target_index.get(&t) {
            return i;
        }
        let i = u32::try_from(self.targets.len()).unwrap_or(u32::MAX);
        self.targets.push(t.clone());
        self.target_index.insert(t, i);
        i
    }

    pub(crate) fn target(&self, i: u32) -> Option<&Target> {
        self.targets.get(i as usize)
    }

    fn site(&mut self, target: u32, usage: Usage, via: Option<u32>, at: u64) {
        self.site_with(target, usage, via, at, false);
    }

    fn site_with(&mut self, target: u32, usage: Usage, via: Option<u32>, at: u64, constant: bool) {
        if let Some(&i) = self.site_index.get(&(target, usage, via)) {
            if let Some(site) = self.out.calls.get_mut(i) {
                site.count = site.count.saturating_add(1);
                site.single_constant_arg &= constant;
            }
            return;
        }
        let Some(t) = self.target(target).cloned() else {
            return;
        };
        let via_t = via.and_then(|v| self.target(v).cloned());
        self.site_index
            .insert((target, usage, via), self.out.calls.len());
        self.out.calls.push(CallSite {
            target: t,
            usage,
            via: via_t,
            offset: at,
            count: 1,
            single_constant_arg: constant,
        });
    }

    fn var(&mut self) -> u32 {
        let v = self.next_var;
        self.next_var = self.next_var.wrapping_add(1);
        v
    }

    // ----- value accessors -------------------------------------------------------------

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

    fn is_scalar_constant(&self, v: Val) -> bool {
        match v {
            Val::None | Val::Bool(_) | Val::Int(_) | Val::Float(_) => true,
            Val::Node(_) => matches!(self.node(v), Some(Node::Long(_))) || self.str_of(v).is_some(),
        }
    }

    fn global_target(&self, v: Val) -> Option<u32> {
        match self.node(v)? {
            Node::Global { target } => Some(*target),
            _ => None,
        }
    }

    fn is_global(&self, t: u32, module: &[&str], name: &str) -> bool {
        matches!(self.target(t), Some(Target::Global { module: m, name: n })
            if n == name && module.contains(&m.as_str()))
    }

    fn kind_name(&self, v: Val) -> &'static str {
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

    fn embedded_of(&self, v: Val) -> Option<u32> {
        match self.node(v)? {
            Node::Str { embedded, .. }
            | Node::Bytes { embedded, .. }
            | Node::Obj { embedded, .. } => *embedded,
            _ => None,
        }
    }

    /// For `getattr` chains: the module and attribute path an object stands for, when it is a
    /// global, an imported module, or an attribute of one of those.
    fn object_path(&self, v: Val, depth: u32) -> Option<(String, Option<String>)> {
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
    fn resolve_callable(&mut self, v: Val, depth: u32) -> (u32, Option<u32>) {
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
                if self.is_global(target, &["functools", "_functools"], "partial") {
                    if let Some(f) = first {
                        let (t, _) = self.resolve_callable(f, depth + 1);
                        return (t, Some(target));
                    }
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

    // ----- stack -------------------------------------------------------------------------

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    #[inline]
    fn push(&mut self, at: u64, v: Val) -> Step {
        if self.stack.len() + self.marks.len() >= self.limits.max_pickle_stack {
            return Err(limit(at, "stack depth"));
        }
        self.stack.push(v);
        Ok(())
    }

    #[inline]
    fn pop(&mut self, at: u64, op: Opcode) -> Result<Val, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(underflow(at, op));
        }
        self.stack.pop().ok_or_else(|| underflow(at, op))
    }

    fn top(&self, at: u64, op: Opcode) -> Result<Val, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(underflow(at, op));
        }
        self.stack.last().copied().ok_or_else(|| underflow(at, op))
    }

    fn pop_mark(&mut self, at: u64, op: Opcode) -> Result<Vec<Val>, PickleError> {
        let Some(mark) = self.marks.pop() else {
            return Err(PickleError::new(
                at,
                ErrorKind::StackUnderflow(format!("{} could not find MARK", op.name())),
            ));
        };
        let mark = mark.min(self.stack.len());
        Ok(self.stack.split_off(mark))
    }

    fn seq(&mut self, at: u64, kind: SeqKind, items: Vec<Val>) -> Result<Val, PickleError> {
        self.charge(at, items.len())?;
        self.alloc(at, Node::Seq { kind, items })
    }

    /// Appends to a list/set/dict (or to the item log of an object, whose `append`/`extend`/
    /// `__setitem__`/`add` runs at load).
    fn extend_container(&mut self, at: u64, target: Val, new: Vec<Val>) -> Step {
        self.charge(at, new.len())?;
        match self.node_mut(target) {
            Some(Node::Seq { kind, items }) if *kind != SeqKind::Tuple => items.extend(new),
            Some(Node::Obj { items, .. }) => items.get_or_insert_with(Box::default).extend(new),
            _ => {}
        }
        Ok(())
    }

    /// APPENDS / ADDITEMS / SETITEMS without a temporary vector: moves the items above the
    /// last mark straight into the container below it.
    fn extend_from_mark(&mut self, at: u64, op: Opcode, pairs: bool) -> Step {
        let Some(mark) = self.marks.pop() else {
            return Err(PickleError::new(
                at,
                ErrorKind::StackUnderflow(format!("{} could not find MARK", op.name())),
            ));
        };
        let mark = mark.min(self.stack.len());
        let n = self.stack.len() - mark;
        if pairs && n % 2 != 0 {
            return Err(invalid(at, "odd number of items for SETITEMS"));
        }
        if mark <= self.fence() {
            return Err(underflow(at, op));
        }
        let target = self
            .stack
            .get(mark - 1)
            .copied()
            .ok_or_else(|| underflow(at, op))?;
        self.charge(at, n)?;
        let Self { stack, nodes, .. } = self;
        let drained = stack.drain(mark..);
        match target {
            Val::Node(i) => match nodes.get_mut(i) {
                Some(Node::Seq { kind, items }) if *kind != SeqKind::Tuple => items.extend(drained),
                Some(Node::Obj { items, .. }) => {
                    items.get_or_insert_with(Box::default).extend(drained);
                }
                _ => drop(drained),
            },
            _ => drop(drained),
        }
        Ok(())
    }

    // ----- values from arguments -------------------------------------------------------------

    fn blob_val(
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
            if first.is_some_and(super::can_start_pickle) {
                let candidate = if text { latin1(&data) } else { None };
                let bytes = candidate.as_deref().unwrap_or(&data);
                if super::sniff(bytes) {
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

    fn check_embedded(&mut self, at: u64, bytes: &[u8]) -> Option<u32> {
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
            consumers: Vec::new(),
        });
        Some(idx)
    }

    fn note_consumer(&mut self, args: &[Val], callee: u32) -> Option<u32> {
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
                if let (Some(emb), Some(t)) = (self.out.embedded.get_mut(e as usize), t) {
                    if emb.consumers.len() < MAX_CONSUMERS && !emb.consumers.contains(&t) {
                        emb.consumers.push(t);
                    }
                }
                found = found.or(Some(e));
            }
        }
        found
    }

    // ----- running -------------------------------------------------------------------------

    /// Runs one pickle (to its STOP) and returns its result.
    fn run_one<R: Read>(&mut self, dec: &mut Decoder<R>) -> Result<Val, PickleError> {
        self.stack.clear();
        self.marks.clear();
        self.memo = Memo::default();
        self.proto = 0;
        self.saw_proto = false;
        loop {
            self.out.ops += 1;
            let at = dec.offset();
            if self.out.ops > self.limits.max_pickle_ops {
                return Err(limit(at, "opcode count"));
            }
            if self.out.ops % 65_536 == 0 && self.should_stop.is_some_and(|f| f()) {
                return Err(limit(at, "time budget"));
            }
            let Some((at, op, arg)) = dec.next()? else {
                return Err(PickleError::new(
                    at,
                    ErrorKind::Truncated("the stream ends before STOP".into()),
                ));
            };
            if let Some(trace) = self.trace.as_mut() {
                trace.op(at, op, &arg, self.marks.len());
            }
            if op == Opcode::Stop {
                let result = self.pop(at, op)?;
                dec.end_frame();
                self.trace_stop(result);
                return Ok(result);
            }
            self.step(dec, at, op, arg)?;
        }
    }

    fn trace_stop(&mut self, result: Val) {
        if self.trace.is_some() {
            let text = self.render(result);
            if let Some(trace) = self.trace.as_mut() {
                trace.stop(&text);
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn step<R: Read>(&mut self, dec: &mut Decoder<R>, at: u64, op: Opcode, arg: Arg) -> Step {
        use Opcode as O;
        match op {
            O::Proto => {
                if let Arg::Proto(p) = arg {
                    if p > 5 {
                        return Err(invalid(at, format!("unsupported pickle protocol: {p}")));
                    }
                    self.proto = p;
                    self.saw_proto = true;
                }
            }
            O::Frame | O::Stop => {}
            O::Int | O::BinInt | O::BinInt1 | O::BinInt2 | O::Long | O::Long1 | O::Long4 => {
                let v = match arg {
                    Arg::Int(i) => Val::Int(i),
                    Arg::Bool(b) => Val::Bool(b),
                    Arg::Long(l) => self.alloc(at, Node::Long(l))?,
                    _ => Val::None,
                };
                self.push(at, v)?;
            }
            O::NoneOp => self.push(at, Val::None)?,
            O::NewTrue => self.push(at, Val::Bool(true))?,
            O::NewFalse => self.push(at, Val::Bool(false))?,
            O::Float | O::BinFloat => {
                let v = if let Arg::Float(f) = arg { f } else { 0.0 };
                self.push(at, Val::Float(v))?;
            }
            O::String | O::BinString | O::ShortBinString => {
                // Python 2 `str`: decoded to `str` by the default (ASCII/UTF-8) encoding.
                if let Arg::Str8(blob) = arg {
                    let text = std::str::from_utf8(&blob.data).is_ok() || !blob.complete();
                    let v = self.blob_val(at, blob, text, BytesKind::Bytes)?;
                    self.push(at, v)?;
                }
            }
            O::Unicode | O::ShortBinUnicode | O::BinUnicode | O::BinUnicode8 => {
                if let Arg::Text(blob) = arg {
                    let v = self.blob_val(at, blob, true, BytesKind::Bytes)?;
                    self.push(at, v)?;
                }
            }
            O::BinBytes | O::ShortBinBytes | O::BinBytes8 | O::ByteArray8 => {
                if let Arg::Bytes(blob) = arg {
                    let kind = if op == O::ByteArray8 {
                        BytesKind::ByteArray
                    } else {
                        BytesKind::Bytes
                    };
                    let v = self.blob_val(at, blob, false, kind)?;
                    self.push(at, v)?;
                }
            }
            O::NextBuffer => {
                let v = self.alloc(at, Node::Buffer)?;
                self.push(at, v)?;
            }
            O::ReadonlyBuffer => {
                self.top(at, op)?;
            }
            O::EmptyList => {
                let v = self.seq(at, SeqKind::List, Vec::new())?;
                self.push(at, v)?;
            }
            O::EmptyTuple => {
                // Immutable and frequent (every `OrderedDict()` call): one shared node.
                let v = match self.empty_tuple {
                    Some(v) => v,
                    None => {
                        let v = self.seq(at, SeqKind::Tuple, Vec::new())?;
                        self.empty_tuple = Some(v);
                        v
                    }
                };
                self.push(at, v)?;
            }
            O::EmptyDict => {
                let v = self.seq(at, SeqKind::Dict, Vec::new())?;
                self.push(at, v)?;
            }
            O::EmptySet => {
                let v = self.seq(at, SeqKind::Set, Vec::new())?;
                self.push(at, v)?;
            }
            O::Append => {
                let v = self.pop(at, op)?;
                let list = self.top(at, op)?;
                self.trace_mutation(list, "append", &[v]);
                self.extend_container(at, list, vec![v])?;
            }
            O::Appends | O::AddItems if self.trace.is_none() => {
                self.extend_from_mark(at, op, false)?;
            }
            O::Appends | O::AddItems => {
                let items = self.pop_mark(at, op)?;
                let list = self.top(at, op)?;
                let method = if op == O::Appends { "extend" } else { "update" };
                self.trace_mutation(list, method, &items);
                self.extend_container(at, list, items)?;
            }
            O::SetItem => {
                let v = self.pop(at, op)?;
                let k = self.pop(at, op)?;
                let d = self.top(at, op)?;
                self.trace_mutation(d, "__setitem__", &[k, v]);
                self.extend_container(at, d, vec![k, v])?;
            }
            O::SetItems if self.trace.is_none() => {
                self.extend_from_mark(at, op, true)?;
            }
            O::SetItems => {
                let items = self.pop_mark(at, op)?;
                if items.len() % 2 != 0 {
                    return Err(invalid(at, "odd number of items for SETITEMS"));
                }
                let d = self.top(at, op)?;
                self.trace_mutation(d, "update", &items);
                self.extend_container(at, d, items)?;
            }
            O::List | O::Tuple | O::Dict | O::FrozenSet => {
                let items = self.pop_mark(at, op)?;
                let kind = match op {
                    O::List => SeqKind::List,
                    O::Tuple => SeqKind::Tuple,
                    O::Dict => SeqKind::Dict,
                    _ => SeqKind::FrozenSet,
                };
                if kind == SeqKind::Dict && items.len() % 2 != 0 {
                    return Err(invalid(at, "odd number of items for DICT"));
                }
                let v = self.seq(at, kind, items)?;
                self.push(at, v)?;
            }
            O::Tuple1 | O::Tuple2 | O::Tuple3 => {
                let n = match op {
                    O::Tuple1 => 1,
                    O::Tuple2 => 2,
                    _ => 3,
                };
                let mut items = vec![Val::None; n];
                for slot in items.iter_mut().rev() {
                    *slot = self.pop(at, op)?;
                }
                let v = self.seq(at, SeqKind::Tuple, items)?;
                self.push(at, v)?;
            }
            O::Pop => {
                if self.stack.len() > self.fence() {
                    self.stack.pop();
                } else if self.marks.pop().is_none() {
                    return Err(underflow(at, op));
                }
            }
            O::Dup => {
                let v = self.top(at, op)?;
                self.push(at, v)?;
            }
            O::Mark => {
                if self.stack.len() + self.marks.len() >= self.limits.max_pickle_stack {
                    return Err(limit(at, "stack depth"));
                }
                self.marks.push(self.stack.len());
            }
            O::PopMark => {
                self.pop_mark(at, op)?;
            }
            O::Get | O::BinGet | O::LongBinGet => {
                let Arg::Memo(idx) = arg else { return Ok(()) };
                let v = self
                    .memo
                    .get(idx)
                    .ok_or_else(|| PickleError::new(at, ErrorKind::MemoMiss(idx)))?;
                self.push(at, v)?;
            }
            O::Put | O::BinPut | O::LongBinPut | O::Memoize => {
                let v = self.top(at, op)?;
                let idx = match arg {
                    Arg::Memo(i) => i,
                    _ => self.memo.count as u64,
                };
                if self.memo.count >= self.limits.max_pickle_memo {
                    return Err(limit(at, "memo size"));
                }
                self.memo.put(idx, v);
            }
            O::Global => {
                if let Arg::Pair(pair) = arg {
                    let (module, name) = *pair;
                    // Sniffing: a name no module can have fails `find_class` before anything
                    // runs, so such text is not a pickle worth scanning ("class X(Base): …").
                    if self.mode == Mode::Sniff && !(importable(&module) && importable(&name)) {
                        return Err(invalid(at, "not an importable name"));
                    }
                    let t = self.intern(Target::Global { module, name });
                    self.site(t, Usage::Import, None, at);
                    self.trace_import(t);
                    let v = self.alloc(at, Node::Global { target: t })?;
                    self.push(at, v)?;
                }
            }
            O::StackGlobal => {
                let name = self.pop(at, op)?;
                let module = self.pop(at, op)?;
                let t = match (self.str_of(module), self.str_of(name)) {
                    (Some(m), Some(n)) => Target::Global {
                        module: m.to_owned(),
                        name: n.to_owned(),
                    },
                    _ => Target::Unresolved(format!(
                        "STACK_GLOBAL operands are a {} and a {}, not constant strings",
                        self.describe_operand(module),
                        self.describe_operand(name)
                    )),
                };
                let t = self.intern(t);
                self.site(t, Usage::Import, None, at);
                self.trace_import(t);
                let v = self.alloc(at, Node::Global { target: t })?;
                self.push(at, v)?;
            }
            O::Reduce => {
                let args = self.pop(at, op)?;
                let callee = self.pop(at, op)?;
                let v = self.call(at, Usage::Reduce, callee, args, None)?;
                self.push(at, v)?;
            }
            O::NewObj => {
                let args = self.pop(at, op)?;
                let cls = self.pop(at, op)?;
                let v = self.call(at, Usage::NewObj, cls, args, None)?;
                self.push(at, v)?;
            }
            O::NewObjEx => {
                let kwargs = self.pop(at, op)?;
                let args = self.pop(at, op)?;
                let cls = self.pop(at, op)?;
                let v = self.call(at, Usage::NewObjEx, cls, args, Some(kwargs))?;
                self.push(at, v)?;
            }
            O::Inst => {
                let items = self.pop_mark(at, op)?;
                if let Arg::Pair(pair) = arg {
                    let (module, name) = *pair;
                    if self.mode == Mode::Sniff && !(importable(&module) && importable(&name)) {
                        return Err(invalid(at, "not an importable name"));
                    }
                    let t = self.intern(Target::Global { module, name });
                    self.trace_import(t);
                    let cls = self.alloc(at, Node::Global { target: t })?;
                    let args = self.seq(at, SeqKind::Tuple, items)?;
                    let v = self.call(at, Usage::Inst, cls, args, None)?;
                    self.push(at, v)?;
                }
            }
            O::Obj => {
                let mut items = self.pop_mark(at, op)?;
                if items.is_empty() {
                    return Err(underflow(at, op));
                }
                let cls = items.remove(0);
                let args = self.seq(at, SeqKind::Tuple, items)?;
                let v = self.call(at, Usage::Obj, cls, args, None)?;
                self.push(at, v)?;
            }
            O::Build => {
                let state = self.pop(at, op)?;
                let obj = self.top(at, op)?;
                self.build(dec, at, obj, state)?;
            }
            O::Ext1 | O::Ext2 | O::Ext4 => {
                let Arg::Ext(code) = arg else { return Ok(()) };
                let t = self.intern(Target::Ext(code));
                self.site(t, Usage::Ext, None, at);
                let var = self.var();
                if let Some(trace) = self.trace.as_mut() {
                    trace.line(format!("_var{var} = copyreg._extension_registry[{code}]"));
                }
                let v = self.alloc(at, Node::Ext { code, var })?;
                self.push(at, v)?;
            }
            O::PersId => {
                let Arg::PersId(text) = arg else {
                    return Ok(());
                };
                let len = text.len() as u64;
                let pid = self.alloc(
                    at,
                    Node::Str {
                        data: text.into_bytes(),
                        len,
                        embedded: None,
                    },
                )?;
                let v = self.persistent(at, pid)?;
                self.push(at, v)?;
            }
            O::BinPersId => {
                let pid = self.pop(at, op)?;
                let v = self.persistent(at, pid)?;
                self.push(at, v)?;
            }
        }
        Ok(())
    }

    fn describe_operand(&self, v: Val) -> String {
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

    /// `REDUCE` / `NEWOBJ` / `NEWOBJ_EX` / `INST` / `OBJ`.
    fn call(
        &mut self,
        at: u64,
        usage: Usage,
        callee: Val,
        args: Val,
        kwargs: Option<Val>,
    ) -> Result<Val, PickleError> {
        let (target, via) = self.resolve_callable(callee, 0);
        let constant = usage == Usage::Reduce
            && matches!(self.items_of(args), Some([only]) if self.is_scalar_constant(*only));
        self.site_with(target, usage, via, at, constant);
        // A global passed first is what helpers like copyreg._reconstructor rebuild.
        let first = self.items_of(args).and_then(|items| items.first().copied());
        if let Some(t) = first.and_then(|f| self.global_target(f)) {
            self.site(t, Usage::Argument, Some(target), at);
        }
        let embedded = if self.out.embedded.is_empty() {
            None
        } else {
            let mut all: Vec<Val> = self.items_of(args).map(<[Val]>::to_vec).unwrap_or_default();
            all.extend(kwargs);
            self.note_consumer(&all, target)
        };
        let var = self.var();
        if self.trace.is_some() {
            self.trace_call(var, usage, callee, args, kwargs);
        }
        self.alloc(
            at,
            Node::Obj {
                usage,
                args,
                target,
                var,
                state: None,
                items: None,
                embedded,
            },
        )
    }

    fn persistent(&mut self, at: u64, pid: Val) -> Result<Val, PickleError> {
        self.out.persistent_id_count += 1;
        let torch = self.torch_storage_pid(pid);
        if self.out.persistent_ids.len() < MAX_PERSISTENT_IDS {
            let summary = self.render(pid);
            self.out.persistent_ids.push(PersistentId {
                offset: at,
                summary,
                torch_storage: torch,
            });
        }
        let var = self.var();
        if self.trace.is_some() {
            let text = self.render(pid);
            if let Some(trace) = self.trace.as_mut() {
                trace.line(format!("_var{var} = persistent_load({text})"));
            }
        }
        self.alloc(at, Node::PersId { var })
    }

    /// Recognises torch's `('storage', <storage type>, key, location, numel[, view])` and
    /// remembers the key's element size for legacy files.
    fn torch_storage_pid(&mut self, pid: Val) -> bool {
        let Some(items) = self.items_of(pid) else {
            return false;
        };
        if !(5..=6).contains(&items.len()) {
            return false;
        }
        let (tag, ty, key) = (items[0], items[1], items[2]);
        if self.str_of(tag) != Some("storage") {
            return false;
        }
        let Some(t) = self.global_target(ty) else {
            return false;
        };
        let Some(key) = self.str_of(key).map(str::to_owned) else {
            return false;
        };
        let size = match self.target(t) {
            Some(Target::Global { module, name }) if module.starts_with("torch") => {
                storage_element_size(name)
            }
            _ => None,
        };
        if self.legacy && self.storage_elsize.len() < 10_000_000 {
            self.storage_elsize.insert(key, size);
        }
        true
    }

    fn build<R: Read>(&mut self, dec: &mut Decoder<R>, at: u64, obj: Val, state: Val) -> Step {
        let info = match self.node(obj) {
            Some(Node::Obj { target, .. }) => Some((*target, false)),
            Some(Node::Global { target }) => Some((*target, true)),
            _ => None,
        };
        if let Some((target, on_global)) = info {
            let usage = if on_global {
                Usage::BuildGlobal
            } else {
                Usage::Build
            };
            self.site(target, usage, None, at);
        }
        if self.trace.is_some() {
            let o = self.render(obj);
            let s = self.render(state);
            if let Some(trace) = self.trace.as_mut() {
                trace.line(format!("{o}.__setstate__({s})"));
            }
        }
        if let Some(Node::Obj { state: slot, .. }) = self.node_mut(obj) {
            *slot = Some(state);
        }
        let wrapper = info.is_some_and(|(t, g)| {
            !g && self.is_global(
                t,
                &[
                    "joblib.numpy_pickle",
                    "sklearn.externals.joblib.numpy_pickle",
                ],
                "NumpyArrayWrapper",
            )
        });
        if wrapper && self.mode == Mode::Full && !self.joblib_inner {
            self.joblib_array(dec, at, state)?;
            let var = self.var();
            let v = self.alloc(at, Node::Array { var })?;
            if let Some(top) = self.stack.last_mut() {
                *top = v;
            }
            if let Some(trace) = self.trace.as_mut() {
                trace.line(format!("_var{var} = <array data read by joblib>"));
            }
        }
        Ok(())
    }

    fn dict_get(&self, dict: Val, key: &str) -> Option<Val> {
        let items = self.items_of(dict)?;
        items
            .chunks_exact(2)
            .find(|kv| self.str_of(kv[0]) == Some(key))
            .map(|kv| kv[1])
    }

    /// Skips the raw array bytes joblib wrote after a `NumpyArrayWrapper`, exactly as
    /// `NumpyArrayWrapper.read_array` reads them.
    fn joblib_array<R: Read>(&mut self, dec: &mut Decoder<R>, at: u64, state: Val) -> Step {
        let bad = |why: &str| {
            PickleError::new(
                at,
                ErrorKind::Invalid(format!("joblib NumpyArrayWrapper state: {why}")),
            )
        };
        let shape = self
            .dict_get(state, "shape")
            .ok_or_else(|| bad("no shape"))?;
        let dims = self
            .items_of(shape)
            .ok_or_else(|| bad("shape is not a tuple"))?;
        let mut count: u64 = 1;
        for d in dims {
            let Val::Int(n) = d else {
                return Err(bad("shape holds a non-integer"));
            };
            let n = u64::try_from(*n).map_err(|_| bad("negative dimension"))?;
            count = count
                .checked_mul(n)
                .ok_or_else(|| bad("array size overflows"))?;
        }
        let dtype = self
            .dict_get(state, "dtype")
            .ok_or_else(|| bad("no dtype"))?;
        let (itemsize, object) = self
            .dtype_info(dtype)
            .ok_or_else(|| bad("dtype not understood"))?;
        let aligned = self
            .dict_get(state, "numpy_array_alignment_bytes")
            .is_some_and(|v| v != Val::None);
        let joblib = self.out.joblib.get_or_insert_with(Joblib::default);
        if object {
            joblib.object_arrays += 1;
            // The array is an inline pickle read by a fresh unpickler.
            let saved_stack = std::mem::take(&mut self.stack);
            let saved_marks = std::mem::take(&mut self.marks);
            let saved_memo = std::mem::take(&mut self.memo);
            let saved_proto = self.proto;
            self.joblib_inner = true;
            if let Some(trace) = self.trace.as_mut() {
                trace.line("# joblib object array: inline pickle follows".into());
            }
            let r = self.run_one(dec);
            self.joblib_inner = false;
            self.stack = saved_stack;
            self.marks = saved_marks;
            self.memo = saved_memo;
            self.proto = saved_proto;
            r?;
            return Ok(());
        }
        let mut total = 0u64;
        if dec.frame_open() {
            return Err(bad("array data would start inside a pickle frame"));
        }
        if aligned {
            let pad = dec.input.byte().map_err(|_| {
                PickleError::new(
                    dec.offset(),
                    ErrorKind::Truncated("joblib padding byte".into()),
                )
            })?;
            dec.input.skip_raw(u64::from(pad)).map_err(|_| {
                PickleError::new(dec.offset(), ErrorKind::Truncated("joblib padding".into()))
            })?;
            total += 1 + u64::from(pad);
        }
        let size = count
            .checked_mul(itemsize)
            .ok_or_else(|| bad("array size overflows"))?;
        let data_at = dec.offset();
        let truncated = |_| {
            PickleError::new(
                data_at,
                ErrorKind::Truncated(format!("joblib array data ({size} bytes declared)")),
            )
        };
        // joblib reads these bytes as array data, but plain `pickle.load` of the same file
        // would run them as opcodes: array data that looks like a pickle is kept and checked
        // like an embedded pickle.
        let mut probe = [0u8; 64];
        let n = dec.input.peek_into(&mut probe).unwrap_or(0);
        let cap = self.limits.max_pickle_value_bytes as u64;
        if size > 0 && size <= cap && super::sniff(&probe[..n.min(size as usize)]) {
            let mut data = Vec::new();
            dec.input
                .skip_raw_keep(size, &mut data)
                .map_err(truncated)?;
            self.check_embedded(data_at, &data);
        } else {
            dec.input.skip_raw(size).map_err(truncated)?;
        }
        total += size;
        if let Some(j) = self.out.joblib.as_mut() {
            j.arrays += 1;
            j.bytes = j.bytes.saturating_add(total);
        }
        Ok(())
    }

    /// Item size and `hasobject` of a `numpy.dtype(...)` value with its BUILD state.
    fn dtype_info(&self, dtype: Val) -> Option<(u64, bool)> {
        let Some(Node::Obj {
            target,
            args,
            state,
            ..
        }) = self.node(dtype)
        else {
            return None;
        };
        if !self.is_global(
            *target,
            &["numpy", "numpy.core.multiarray", "numpy._core.multiarray"],
            "dtype",
        ) {
            return None;
        }
        let spec = self.str_of(*self.items_of(*args)?.first()?)?;
        let st = state.and_then(|s| self.items_of(s));
        let elsize = st.and_then(|s| s.get(5).copied());
        let flags = st.and_then(|s| s.get(7).copied());
        let object = spec.starts_with('O') || matches!(flags, Some(Val::Int(f)) if f & 1 != 0);
        let size = match elsize {
            Some(Val::Int(n)) if n > 0 => u64::try_from(n).ok()?,
            _ => {
                let digits: String = spec.chars().skip_while(|c| !c.is_ascii_digit()).collect();
                digits.parse::<u64>().ok()?
            }
        };
        Some((size, object))
    }

    fn trace_import(&mut self, t: u32) {
        if self.trace.is_none() {
            return;
        }
        let target = self.target(t).cloned();
        if let (Some(trace), Some(target)) = (self.trace.as_mut(), target) {
            trace.import(&target);
        }
    }

    fn trace_mutation(&mut self, target: Val, method: &str, items: &[Val]) {
        if self.trace.is_none() {
            return;
        }
        // Only objects built by calls get statements; literals render with their items.
        let var = match self.node(target) {
            Some(Node::Obj { var, .. }) => *var,
            _ => return,
        };
        let rendered: Vec<String> = items.iter().take(16).map(|&v| self.render(v)).collect();
        let line = match method {
            "__setitem__" if rendered.len() == 2 => {
                format!("_var{var}[{}] = {}", rendered[0], rendered[1])
            }
            "update" => {
                let pairs: Vec<String> = rendered.chunks(2).map(|kv| kv.join(": ")).collect();
                format!("_var{var}.update({{{}}})", pairs.join(", "))
            }
            _ => format!("_var{var}.{method}([{}])", rendered.join(", ")),
        };
        if let Some(trace) = self.trace.as_mut() {
            trace.line(line);
        }
    }

    fn trace_call(&mut self, var: u32, usage: Usage, callee: Val, args: Val, kwargs: Option<Val>) {
        let f = self.render(callee);
        let a: Vec<String> = self.items_of(args).map_or_else(
            || vec![format!("*{}", self.render(args))],
            |items| items.iter().take(32).map(|&v| self.render(v)).collect(),
        );
        let kw = kwargs.map(|k| self.render(k));
        let line = match usage {
            Usage::NewObj => {
                let mut parts = vec![f.clone()];
                parts.extend(a);
                format!("_var{var} = {f}.__new__({})", parts.join(", "))
            }
            Usage::NewObjEx => {
                let mut parts = vec![f.clone()];
                parts.extend(a);
                if let Some(kw) = kw {
                    parts.push(format!("**{kw}"));
                }
                format!("_var{var} = {f}.__new__({})", parts.join(", "))
            }
            _ => format!("_var{var} = {f}({})", a.join(", ")),
        };
        if let Some(trace) = self.trace.as_mut() {
            trace.line(line);
        }
    }
}

/// Element size of a torch storage class, by name.
fn storage_element_size(name: &str) -> Option<u64> {
    Some(match name {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "ComplexDoubleStorage" => 16,
        "FloatStorage" | "IntStorage" | "QInt32Storage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" | "QUInt8Storage" | "QInt8Storage"
        | "QUInt4x2Storage" | "QUInt2x4Storage" | "UntypedStorage" | "_UntypedStorage" => 1,
        _ => return None,
    })
}

/// Runs a whole stream: one or several pickles, then any known raw layout or trailing bytes.
pub(crate) fn run<R: Read>(
    reader: R,
    limits: &Limits,
    options: &Options<'_>,
    full: bool,
    trace: Option<Trace>,
) -> Analysis {
    let mode = if full { Mode::Full } else { Mode::Verify };
    let mut vm = Vm::new(limits, mode, options.should_stop);
    vm.trace = trace;
    let mut dec = Decoder::new(reader, limits);
    vm.run_stream(&mut dec);
    vm.out.bytes = dec.offset();
    vm.out
}

/// Like [`run`] but returns the machine, for the decompiler.
pub(crate) fn run_traced<R: Read>(reader: R, limits: &Limits, trace: Trace) -> (Analysis, Trace) {
    let mut vm = Vm::new(limits, Mode::Full, None);
    vm.trace = Some(trace);
    let mut dec = Decoder::new(reader, limits);
    vm.run_stream(&mut dec);
    vm.out.bytes = dec.offset();
    let trace = vm.trace.take().unwrap_or_default();
    (vm.out, trace)
}

impl Vm<'_> {
    fn fail(&mut self, e: PickleError) {
        if e.is_limit() {
            if self.out.limit.is_none() {
                self.out.limit = Some(e);
            }
        } else if self.out.error.is_none() {
            self.out.error = Some(e);
        }
    }

    fn run_stream<R: Read>(&mut self, dec: &mut Decoder<R>) {
        let mut legacy = false;
        loop {
            let start = dec.offset();
            let index = self.out.pickles.len();
            if index > 0 {
                match dec.input.at_end() {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(_) => {
                        self.fail(PickleError::new(start, ErrorKind::Io("read failed".into())));
                        return;
                    }
                }
                if legacy && index == 5 {
                    self.legacy_storages(dec, start);
                    return;
                }
                let mut peek = [0u8; 64];
                let n = dec.input.peek_into(&mut peek).unwrap_or(0);
                if !super::sniff(&peek[..n]) {
                    self.trailing(dec, start);
                    return;
                }
                if index >= self.limits.max_pickles_per_stream {
                    self.fail(limit(start, "pickles per stream"));
                    return;
                }
            }
            if let Some(trace) = self.trace.as_mut() {
                trace.begin_pickle(index, start);
            }
            self.out.pickles.push(PickleSummary {
                start,
                protocol: None,
                stop: None,
            });
            let result = self.run_one(dec);
            let proto = self.proto;
            let saw = self.saw_proto;
            if let Some(p) = self.out.pickles.last_mut() {
                p.protocol = saw.then_some(proto);
            }
            match result {
                Ok(v) => {
                    if let Some(p) = self.out.pickles.last_mut() {
                        p.stop = Some(dec.offset().saturating_sub(1));
                    }
                    if index == 0 && self.mode == Mode::Full {
                        legacy = matches!(self.node(v), Some(Node::Long(l)) if l.value == Some(TORCH_LEGACY_MAGIC));
                        self.legacy = legacy;
                    }
                    if legacy && index == 4 {
                        let keys = self.items_of(v).map(|items| {
                            items
                                .iter()
                                .map(|&k| self.str_of(k).map(str::to_owned))
                                .collect()
                        });
                        self.legacy_keys = keys;
                    }
                    if self.mode != Mode::Full {
                        return;
                    }
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    fn trailing<R: Read>(&mut self, dec: &mut Decoder<R>, start: u64) {
        match dec.input.drain() {
            Ok(len) => self.out.trailing = Some(Trailing { offset: start, len }),
            Err(_) => self.fail(PickleError::new(start, ErrorKind::Io("read failed".into()))),
        }
    }

    /// Walks the raw storage data after a legacy `torch.save`'s five pickles: for each key of
    /// the last pickle, an 8-byte little-endian element count and that many elements.
    fn legacy_storages<R: Read>(&mut self, dec: &mut Decoder<R>, start: u64) {
        let keys = self.legacy_keys.take().unwrap_or_default();
        let mut info = LegacyTorch {
            offset: start,
            storages: 0,
            bytes: 0,
            exact: true,
        };
        for key in &keys {
            let size = key
                .as_ref()
                .and_then(|k| self.storage_elsize.get(k).copied().flatten());
            let Some(elsize) = size else {
                info.exact = false;
                break;
            };
            let Ok(raw) = dec.input.array::<8>() else {
                info.exact = false;
                break;
            };
            let count = u64::from_le_bytes(raw);
            let Some(n) = count.checked_mul(elsize) else {
                info.exact = false;
                break;
            };
            if dec.input.skip_raw(n).is_err() {
                info.exact = false;
                break;
            }
            info.storages += 1;
            info.bytes = info.bytes.saturating_add(8 + n);
        }
        if keys.is_empty() {
            info.exact = false;
        }
        let after = dec.offset();
        match dec.input.drain() {
            Ok(0) => {}
            Ok(len) => {
                if info.exact {
                    // Storage data accounted for exactly; anything after it is trailing.
                    self.out.trailing = Some(Trailing { offset: after, len });
                } else {
                    info.bytes = info.bytes.saturating_add(len);
                }
            }
            Err(_) => self.fail(PickleError::new(after, ErrorKind::Io("read failed".into()))),
        }
        self.out.legacy_torch = Some(info);
    }
}

/// A dotted path of Python identifiers (what `import` and `getattr` can resolve).
fn importable(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            seg.chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_alphabetic())
                && seg.chars().all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// Sniffs a prefix: the opcodes decode cleanly with a consistent stack up to STOP or the end
/// of the prefix.
pub(crate) fn sniff_ops(prefix: &[u8]) -> bool {
    let limits = Limits {
        max_pickle_ops: 64,
        max_pickle_value_bytes: 256,
        max_pickle_values: 10_000,
        ..Limits::default()
    };
    let mut vm = Vm::new(&limits, Mode::Sniff, None);
    let mut dec = Decoder::with_buffer(prefix, &limits, prefix.len().min(4096));
    let r = vm.run_one(&mut dec);
    let ops = vm.out.ops;
    match r {
        // `G` + 8 bytes + `.` is a valid pickle of one float, and also how "Git v2.23.4
        // Release Notes" starts. A pickle that imports and calls nothing is harmless data, so
        // a short one counts only when STOP ends the data exactly.
        Ok(_) => {
            !vm.out.calls.is_empty()
                || vm.out.persistent_id_count > 0
                || dec.offset() == prefix.len() as u64
        }
        Err(e) => match e.kind {
            ErrorKind::Truncated(_) => ops >= 5,
            ErrorKind::Limit(_) => true,
            _ => false,
        },
    }
}
