//! Python pickle streams (protocols 0–5): an opcode decoder and [`Disassembler`], a symbolic
//! stack machine ([`analyze`]) that resolves every callable a pickle imports or invokes without
//! executing anything, and the explain views ([`listing`], [`decompile`]).
//!
//! # What the stack machine models
//!
//! The machine keeps the unpickler's stack, mark stack and memo, and builds symbolic values in
//! an arena (no recursion over untrusted nesting): constants, containers, `Global{module, name}`,
//! calls (`REDUCE`), instances (`INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`), persistent ids and
//! extension codes. Every place the stream would import or run code becomes a [`CallSite`]
//! with its [`Usage`] and offset:
//!
//! - `GLOBAL`, `STACK_GLOBAL` (operands followed through the memo), `INST` import;
//!   `STACK_GLOBAL` operands that are not constant strings give a [`Target::Unresolved`].
//! - `REDUCE`, `INST`, `OBJ` call; `NEWOBJ`/`NEWOBJ_EX` run `cls.__new__`; `BUILD` runs
//!   `__setstate__` or updates `__dict__` ([`Usage::BuildGlobal`] when applied to an imported
//!   object itself, which sets attributes on a module or class).
//! - A callable that is itself the result of a call is resolved where the semantics are fixed
//!   by the language: `builtins.getattr(<global or imported module>, 'name')` resolves to
//!   `module.name` (recorded with `via` = `builtins.getattr`), `functools.partial(f, …)` invoked
//!   resolves to `f`. Anything else is unresolved.
//! - A global passed as the first argument of a call is recorded as [`Usage::Argument`] with the
//!   callee in `via`, so that rules can classify the class a helper such as
//!   `copyreg._reconstructor(cls, …)` rebuilds.
//! - Constant bytes/strings that are themselves complete pickles are kept (capped) as
//!   [`EmbeddedPickle`]s, with the callables they are passed to.
//!
//! The machine also knows two layouts where raw bytes follow a pickle: legacy (non-zip)
//! `torch.save` files (five pickles, then raw storage data, walked exactly) and `joblib.dump`
//! files (array bytes written right after each `NumpyArrayWrapper`'s `BUILD`, skipped exactly as
//! joblib reads them; array data that itself parses as a pickle is kept as an embedded pickle,
//! because a plain `pickle.load` of the same file would run it). Nothing here judges a
//! callable: classification is a rule in `modelgate-scan`.
//!
//! # Cost
//!
//! Streaming: one pass, a 64 KiB buffer, no allocation for skipped payloads; values longer than
//! `Limits::max_pickle_value_bytes` keep only their length and a prefix. Over a
//! [`ByteSource`] ([`analyze_source`]), raw data is skipped by position rather than read.
//! Memory grows with the number of symbolic values (bounded by `Limits::max_pickle_values`):
//! about 10 bytes of arena per byte of op-dense pickle.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::pickle::{analyze, Target, Usage};
//!
//! // python3 -c "import pickle,os; print(pickle.dumps(...))" for a reduce of os.system:
//! let a = analyze(&b"cos\nsystem\n(S'echo hi'\ntR."[..], &Limits::default());
//! assert!(a.calls.iter().any(|c| c.usage == Usage::Reduce
//!     && c.target == Target::global("os", "system")));
//! assert_eq!(a.pickles[0].stop, Some(25));
//! ```

mod decompile;
mod disasm;
mod input;
mod opcodes;
mod vm;

use std::fmt;
use std::io::Read;

use modelgate_core::Limits;

pub use decompile::{Explained, decompile, explain_source, explain_stream, listing};
pub use disasm::{Arg, Blob, Disassembler, LongValue};
pub use opcodes::{ArgKind, Opcode};

use crate::ByteSource;
use input::{RandomAccess, Streaming};

/// Why a pickle could not be analysed to the end, with the offset of the opcode concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at offset {offset}: {kind}")]
pub struct PickleError {
    /// Offset of the opcode (or value) where the problem was found.
    pub offset: u64,
    /// What was wrong.
    pub kind: ErrorKind,
}

impl PickleError {
    pub(crate) fn new(offset: u64, kind: ErrorKind) -> Self {
        PickleError { offset, kind }
    }

    /// True when analysis stopped at a limit rather than at malformed input.
    pub fn is_limit(&self) -> bool {
        matches!(self.kind, ErrorKind::Limit(_) | ErrorKind::TooLarge)
    }
}

/// What was wrong with a pickle stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A byte that is not a pickle opcode.
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    /// The stream ended inside an opcode, or before `STOP`.
    #[error("truncated: {0}")]
    Truncated(String),
    /// An opcode argument is invalid.
    #[error("bad argument: {0}")]
    BadArgument(String),
    /// An opcode needs more stack items (or a mark) than there are.
    #[error("stack underflow: {0}")]
    StackUnderflow(String),
    /// `GET` of a memo index never `PUT`.
    #[error("memo miss: index {0} was never stored")]
    MemoMiss(u64),
    /// The stream is invalid in another way the real unpickler rejects.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Reading the stream failed.
    #[error("read error: {0}")]
    Io(String),
    /// The stream is longer than `Limits::max_pickle_bytes`.
    #[error("stream exceeds the pickle size limit")]
    TooLarge,
    /// A count limit was reached (ops, stack, memo, values, pickles).
    #[error("{0} limit reached")]
    Limit(String),
}

/// Something a pickle imports or calls: a resolved `module.name`, an unresolved expression, or
/// an extension code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `module` and `name` exactly as written in the stream (no Python 2 name mapping).
    Global {
        /// The module (`os`, `torch._utils`).
        module: String,
        /// The name, which may be a dotted attribute path (`Outer.Inner`).
        name: String,
    },
    /// Could not be resolved statically; the text says what the callable was built from.
    Unresolved(String),
    /// A `copyreg` extension code (`EXT1/2/4`).
    Ext(i64),
}

impl Target {
    /// A resolved global.
    pub fn global(module: impl Into<String>, name: impl Into<String>) -> Self {
        Target::Global {
            module: module.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Global { module, name } => write!(f, "{module}.{name}"),
            Target::Unresolved(why) => write!(f, "<unresolved: {why}>"),
            Target::Ext(code) => write!(f, "<extension code {code}>"),
        }
    }
}

/// How a pickle uses a [`Target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Usage {
    /// Imported (`GLOBAL`, `STACK_GLOBAL`): `find_class` imports the module.
    Import,
    /// Called with an argument tuple (`REDUCE`).
    Reduce,
    /// Called by protocol 0 `INST`.
    Inst,
    /// Called by protocol 1 `OBJ`.
    Obj,
    /// `cls.__new__(cls, *args)` (`NEWOBJ`).
    NewObj,
    /// `cls.__new__(cls, *args, **kwargs)` (`NEWOBJ_EX`).
    NewObjEx,
    /// Its instance gets `__setstate__` / `__dict__` update from `BUILD`.
    Build,
    /// `BUILD` applied to the imported object itself: sets attributes on a module or class.
    BuildGlobal,
    /// Looked up in the `copyreg` extension registry (`EXT1/2/4`).
    Ext,
    /// Passed as the first argument of a call to the `via` callable.
    Argument,
}

impl Usage {
    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Usage::Import => "imported",
            Usage::Reduce => "called (REDUCE)",
            Usage::Inst => "called (INST)",
            Usage::Obj => "called (OBJ)",
            Usage::NewObj => "instantiated (NEWOBJ)",
            Usage::NewObjEx => "instantiated (NEWOBJ_EX)",
            Usage::Build => "given state (BUILD)",
            Usage::BuildGlobal => "has attributes set by BUILD",
            Usage::Ext => "looked up as an extension code",
            Usage::Argument => "passed as an argument",
        }
    }
}

/// One (target, usage, via) the stream uses, with its first offset and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    /// What is imported or called.
    pub target: Target,
    /// How.
    pub usage: Usage,
    /// The wrapper through which it is reached (`builtins.getattr`, `functools.partial`), or
    /// the callee it is passed to for [`Usage::Argument`].
    pub via: Option<Target>,
    /// Offset of the first opcode doing this.
    pub offset: u64,
    /// How many times the stream does this.
    pub count: u64,
    /// True when every one of these calls passed exactly one constant scalar (str, int, float,
    /// bool, None): the shape of an `Enum` member lookup (`Color('red')`).
    pub single_constant_arg: bool,
}

/// A persistent id (`PERSID`/`BINPERSID`), resolved by the loader's `persistent_load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentId {
    /// Offset of the opcode.
    pub offset: u64,
    /// A short rendering of the id.
    pub summary: String,
    /// True for torch's `('storage', <storage type>, key, location, numel)` shape.
    pub torch_storage: bool,
}

/// A constant bytes/str value that is itself a complete pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedPickle {
    /// Offset of the opcode that pushed the value.
    pub offset: u64,
    /// The pickle bytes (a `str` is taken as its latin-1 encoding, as `_codecs.encode` does).
    pub data: Vec<u8>,
    /// True when the bytes are joblib array data (read as data by `joblib.load`, but run as
    /// opcodes by a plain `pickle.load` of the same file), not a constant.
    pub joblib_array_data: bool,
    /// The callables it is passed to, directly or through other calls.
    pub consumers: Vec<Target>,
}

/// Where one pickle of the stream started and stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleSummary {
    /// Offset of its first opcode.
    pub start: u64,
    /// The `PROTO` argument, if the pickle declares one.
    pub protocol: Option<u8>,
    /// Offset of its `STOP` opcode, if it was reached.
    pub stop: Option<u64>,
}

/// Raw bytes after the last pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailing {
    /// Where they start.
    pub offset: u64,
    /// How many.
    pub len: u64,
}

/// The raw storage data of a legacy (non-zip) `torch.save` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyTorch {
    /// Where the raw data starts.
    pub offset: u64,
    /// Storages walked.
    pub storages: u64,
    /// Raw bytes walked.
    pub bytes: u64,
    /// True when every storage key had a known element size and the walk matched the data.
    pub exact: bool,
}

/// Raw NumPy array data a `joblib.dump` stream carries inline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Joblib {
    /// `NumpyArrayWrapper`s whose data was skipped.
    pub arrays: u64,
    /// Bytes of raw array data skipped (padding included).
    pub bytes: u64,
    /// Object arrays, whose data is an inline pickle (analysed).
    pub object_arrays: u64,
}

/// Everything the stack machine learned about a stream. Analysis that stopped early (an error
/// or a limit) keeps what it found before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// The pickles read back to back.
    pub pickles: Vec<PickleSummary>,
    /// Every import and call, aggregated by (target, usage, via), in order of first use.
    pub calls: Vec<CallSite>,
    /// Persistent ids (the first few thousand).
    pub persistent_ids: Vec<PersistentId>,
    /// How many persistent ids there were in all.
    pub persistent_id_count: u64,
    /// Constant values that are pickles themselves.
    pub embedded: Vec<EmbeddedPickle>,
    /// The malformation that stopped analysis.
    pub error: Option<PickleError>,
    /// The limit that stopped analysis.
    pub limit: Option<PickleError>,
    /// Bytes after the last pickle that are not a known layout.
    pub trailing: Option<Trailing>,
    /// Set for legacy `torch.save` files.
    pub legacy_torch: Option<LegacyTorch>,
    /// Set for `joblib.dump` files.
    pub joblib: Option<Joblib>,
    /// Opcodes executed symbolically.
    pub ops: u64,
    /// Bytes consumed.
    pub bytes: u64,
}

impl Analysis {
    /// The protocol of the first pickle (0 when it has no `PROTO`).
    pub fn protocol(&self) -> u8 {
        self.pickles.first().and_then(|p| p.protocol).unwrap_or(0)
    }
}

/// Options for [`analyze_with`].
#[derive(Default)]
pub struct Options<'a> {
    /// Polled every few thousand opcodes; analysis stops with a limit when it returns true
    /// (the scanner's time budget).
    pub should_stop: Option<&'a dyn Fn() -> bool>,
}

/// Analyses a pickle stream (one or several pickles) read from `reader`.
pub fn analyze<R: Read>(reader: R, limits: &Limits) -> Analysis {
    analyze_with(reader, limits, &Options::default())
}

/// [`analyze`] with options.
pub fn analyze_with<R: Read>(reader: R, limits: &Limits, options: &Options<'_>) -> Analysis {
    vm::run(Streaming(reader), limits, options, true, None)
}

/// [`analyze`] over a random-access source: read sequentially through a buffer, with raw data
/// (joblib arrays, legacy torch storages, long skipped values, trailing bytes) skipped by
/// position instead of read.
pub fn analyze_source(source: &dyn ByteSource, limits: &Limits, options: &Options<'_>) -> Analysis {
    vm::run(RandomAccess::new(source), limits, options, true, None)
}

/// True when `prefix` plausibly starts a pickle stream: `PROTO` (`0x80`) with a protocol the
/// unpickler accepts (0 to 5; `CPython` itself writes 2 to 5) followed by opcodes that decode
/// without a clear error, or (protocol 0/1, or no `PROTO`) opcodes that decode cleanly with a
/// consistent stack, such as `cos\nsystem\n(S'ls'\ntR.`. Text and JSON fail within a few
/// bytes; raw tensor data that starts `\x80\x02` fails on its next opcodes.
pub fn sniff(prefix: &[u8]) -> bool {
    match prefix {
        [0x80, proto, ..] => *proto <= 5 && vm::sniff_ops(prefix, true),
        [0x80] | [] => false,
        [first, ..] => can_start_pickle(*first) && vm::sniff_ops(prefix, false),
    }
}

/// True for opcodes a pickle can begin with: those that push without popping (plus `PROTO`,
/// `FRAME` and `MARK`). Anything else underflows at once, so sniffing stops at the first byte.
pub(crate) fn can_start_pickle(byte: u8) -> bool {
    use Opcode as O;
    Opcode::from_byte(byte).is_some_and(|op| {
        matches!(
            op,
            O::Int
                | O::BinInt
                | O::BinInt1
                | O::BinInt2
                | O::Long
                | O::Long1
                | O::Long4
                | O::String
                | O::BinString
                | O::ShortBinString
                | O::BinBytes
                | O::ShortBinBytes
                | O::BinBytes8
                | O::ByteArray8
                | O::NextBuffer
                | O::NoneOp
                | O::NewTrue
                | O::NewFalse
                | O::Unicode
                | O::ShortBinUnicode
                | O::BinUnicode
                | O::BinUnicode8
                | O::Float
                | O::BinFloat
                | O::EmptyList
                | O::EmptyTuple
                | O::EmptyDict
                | O::EmptySet
                | O::Mark
                | O::Get
                | O::BinGet
                | O::LongBinGet
                | O::Ext1
                | O::Ext2
                | O::Ext4
                | O::Global
                | O::Proto
                | O::Frame
                | O::PersId
        )
    })
}

#[cfg(test)]
mod tests;
