//! The symbolic stack machine: runs a pickle's opcodes over symbolic values, never importing or
//! calling anything, and records every import and call site.
//!
//! Values live in an arena (`Vec<Node>`) addressed by index, so building and rendering nested
//! values never recurses on the input's nesting; the arena, stack, marks and memo are bounded by
//! `Limits`.

use std::collections::HashMap;

use modelgate_core::Limits;

mod layouts;
mod sniff;
mod stream;
mod trace;
mod values;

use sniff::importable;
pub(crate) use sniff::sniff_ops;
pub(crate) use stream::{run, run_traced};

use super::decompile::Trace;
use super::disasm::{Arg, Decoder, LongValue};
use super::input::Source;
use super::opcodes::Opcode;
use super::{Analysis, CallSite, ErrorKind, PersistentId, PickleError, Target, Usage};

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
        if pairs && !n.is_multiple_of(2) {
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

    // ----- running -------------------------------------------------------------------------

    /// Runs one pickle (to its STOP) and returns its result.
    fn run_one<R: Source>(&mut self, dec: &mut Decoder<R>) -> Result<Val, PickleError> {
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
            if self.out.ops.is_multiple_of(65_536) && self.should_stop.is_some_and(|f| f()) {
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

    #[allow(clippy::too_many_lines)]
    fn step<R: Source>(&mut self, dec: &mut Decoder<R>, at: u64, op: Opcode, arg: Arg) -> Step {
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
                let v = if let Some(v) = self.empty_tuple {
                    v
                } else {
                    let v = self.seq(at, SeqKind::Tuple, Vec::new())?;
                    self.empty_tuple = Some(v);
                    v
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

    fn build<R: Source>(&mut self, dec: &mut Decoder<R>, at: u64, obj: Val, state: Val) -> Step {
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
        // Sniffing follows the layout too, so that a joblib file's first array does not read
        // as garbage opcodes.
        if wrapper && self.mode != Mode::Verify && !self.joblib_inner {
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
}
