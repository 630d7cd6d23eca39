//! Rule tests: every bypass technique as its own case asserting rule, subject and severity;
//! benign torch-, numpy-, sklearn- and joblib-like streams asserting nothing at high or above.
//! Benign literals come from `CPython` 3.11 (`pickle`), numpy 2.4.6, joblib 1.6.0 and
//! scikit-learn 1.9.1, with the generating snippet above each.

use modelgate_core::{Finding, Limits, Location, RuleId, Severity};

use super::*;
use crate::context::FindingSink;

#[derive(Default)]
struct P(Vec<u8>);

impl P {
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn proto(self, n: u8) -> Self {
        self.raw(&[0x80, n])
    }
    fn s(self, s: &str) -> Self {
        let n = u8::try_from(s.len()).unwrap();
        self.raw(&[0x8c, n]).raw(s.as_bytes())
    }
    fn bytes(self, b: &[u8]) -> Self {
        let n = u32::try_from(b.len()).unwrap();
        self.raw(b"B").raw(&n.to_le_bytes()).raw(b)
    }
    fn global(self, m: &str, n: &str) -> Self {
        self.raw(b"c")
            .raw(m.as_bytes())
            .raw(b"\n")
            .raw(n.as_bytes())
            .raw(b"\n")
    }
    fn sglobal(self, m: &str, n: &str) -> Self {
        self.s(m).s(n).raw(&[0x93])
    }
    fn call1(self, arg: &str) -> Self {
        self.s(arg).raw(&[0x85, b'R'])
    }
    fn stop(self) -> Vec<u8> {
        self.raw(b".").0
    }
}

fn findings_with(bytes: &[u8], limits: &Limits) -> Vec<Finding> {
    let mut sink = FindingSink::default();
    let mut ctx = Ctx::new(
        limits,
        Location::file("t.pkl"),
        "t.pkl".into(),
        None,
        &mut sink,
    );
    scan(&mut ctx, &bytes);
    sink.findings
}

fn findings(bytes: &[u8]) -> Vec<Finding> {
    findings_with(bytes, &Limits::default())
}

/// Asserts exactly one finding of `rule` for `subject`, at `severity`.
fn expect(bytes: &[u8], rule: RuleId, subject: &str, severity: Severity) -> Finding {
    let all = findings(bytes);
    let hits: Vec<&Finding> = all
        .iter()
        .filter(|f| f.rule == rule && f.subject.as_deref() == Some(subject))
        .collect();
    assert_eq!(hits.len(), 1, "{rule} {subject}: {all:#?}");
    assert_eq!(hits[0].severity, severity, "{all:#?}");
    hits[0].clone()
}

fn max_severity(bytes: &[u8]) -> Option<Severity> {
    findings(bytes).iter().map(|f| f.severity).max()
}

fn assert_benign(name: &str, bytes: &[u8]) {
    let all = findings(bytes);
    assert!(
        all.iter().all(|f| f.severity < Severity::High),
        "{name}: {all:#?}"
    );
}

/// `GLOBAL module name` + `REDUCE` with one string argument, protocol 0.
fn reduce0(module: &str, name: &str) -> Vec<u8> {
    format!("c{module}\n{name}\n(S'x'\ntR.").into_bytes()
}

#[test]
fn denylisted_callables_are_critical_however_named() {
    // (module as written, name as written, expected subject).
    let cases: &[(&str, &str, &str)] = &[
        ("os", "system", "os.system"),
        ("posix", "system", "posix.system"),
        ("nt", "system", "nt.system"),
        ("posixpath", "expanduser", "posixpath.expanduser"),
        ("subprocess", "Popen", "subprocess.Popen"),
        ("subprocess", "check_output", "subprocess.check_output"),
        ("commands", "getoutput", "subprocess.getoutput"),
        ("sys", "exit", "sys.exit"),
        ("builtins", "eval", "builtins.eval"),
        ("builtins", "exec", "builtins.exec"),
        ("builtins", "compile", "builtins.compile"),
        ("builtins", "__import__", "builtins.__import__"),
        ("builtins", "open", "builtins.open"),
        ("builtins", "breakpoint", "builtins.breakpoint"),
        ("builtins", "input", "builtins.input"),
        ("builtins", "globals", "builtins.globals"),
        ("builtins", "vars", "builtins.vars"),
        ("builtins", "getattr", "builtins.getattr"),
        ("builtins", "setattr", "builtins.setattr"),
        ("__builtin__", "eval", "builtins.eval"),
        ("__builtin__", "execfile", "builtins.execfile"),
        ("__builtin__", "reduce", "functools.reduce"),
        ("types", "FunctionType", "types.FunctionType"),
        ("types", "CodeType", "types.CodeType"),
        ("types", "MethodType", "types.MethodType"),
        ("marshal", "loads", "marshal.loads"),
        ("pickle", "loads", "pickle.loads"),
        ("_pickle", "loads", "_pickle.loads"),
        ("cPickle", "loads", "pickle.loads"),
        ("cloudpickle", "loads", "cloudpickle.loads"),
        ("dill", "loads", "dill.loads"),
        ("importlib", "import_module", "importlib.import_module"),
        ("runpy", "run_path", "runpy.run_path"),
        ("pip", "main", "pip.main"),
        ("webbrowser", "open", "webbrowser.open"),
        ("socket", "create_connection", "socket.create_connection"),
        ("shutil", "rmtree", "shutil.rmtree"),
        ("ctypes", "CDLL", "ctypes.CDLL"),
        ("code", "interact", "code.interact"),
        ("codeop", "compile_command", "codeop.compile_command"),
        ("pdb", "run", "pdb.run"),
        ("profile", "run", "profile.run"),
        ("cProfile", "runctx", "cProfile.runctx"),
        ("multiprocessing", "Process", "multiprocessing.Process"),
        ("signal", "signal", "signal.signal"),
        (
            "asyncio.subprocess",
            "create_subprocess_shell",
            "asyncio.subprocess.create_subprocess_shell",
        ),
        (
            "asyncio.unix_events",
            "_UnixSubprocessTransport",
            "asyncio.unix_events._UnixSubprocessTransport",
        ),
        ("pydoc", "pipepager", "pydoc.pipepager"),
        ("uuid", "_get_command_stdout", "uuid._get_command_stdout"),
        ("_osx_support", "_read_output", "_osx_support._read_output"),
        ("timeit", "timeit", "timeit.timeit"),
        ("pty", "spawn", "pty.spawn"),
        (
            "lib2to3.pgen2.pgen",
            "generate_grammar",
            "lib2to3.pgen2.pgen.generate_grammar",
        ),
        ("idlelib.pyshell", "main", "idlelib.pyshell.main"),
        ("bdb", "Bdb", "bdb.Bdb"),
        ("trace", "Trace", "trace.Trace"),
        ("doctest", "debug_script", "doctest.debug_script"),
        (
            "code",
            "InteractiveInterpreter",
            "code.InteractiveInterpreter",
        ),
        (
            "distutils.file_util",
            "write_file",
            "distutils.file_util.write_file",
        ),
        ("ensurepip", "_run_pip", "ensurepip._run_pip"),
        ("venv", "create", "venv.create"),
        ("zipimport", "zipimporter", "zipimport.zipimporter"),
        ("torch.hub", "load", "torch.hub.load"),
        ("torch.jit", "load", "torch.jit.load"),
        ("torch", "load", "torch.load"),
        ("torch.serialization", "load", "torch.serialization.load"),
        ("numpy", "load", "numpy.load"),
        (
            "numpy.testing._private.utils",
            "runstring",
            "numpy.testing._private.utils.runstring",
        ),
        ("operator", "attrgetter", "operator.attrgetter"),
        ("operator", "methodcaller", "operator.methodcaller"),
        ("operator", "itemgetter", "operator.itemgetter"),
        ("_operator", "attrgetter", "_operator.attrgetter"),
        ("functools", "reduce", "functools.reduce"),
        ("io", "open", "io.open"),
        ("tempfile", "mkstemp", "tempfile.mkstemp"),
        ("pkgutil", "resolve_name", "pkgutil.resolve_name"),
        ("copyreg", "add_extension", "copyreg.add_extension"),
        (
            "code",
            "InteractiveInterpreter.runcode",
            "code.InteractiveInterpreter.runcode",
        ),
        (
            "idlelib.pyshell",
            "ModifiedInterpreter.runcode",
            "idlelib.pyshell.ModifiedInterpreter.runcode",
        ),
        ("trace", "Trace.runctx", "trace.Trace.runctx"),
        (
            "torch.utils._config_module",
            "ConfigModule.load_config",
            "torch.utils._config_module.ConfigModule.load_config",
        ),
        (
            "torch._inductor.codecache",
            "compile_file",
            "torch._inductor.codecache.compile_file",
        ),
        (
            "torch.utils.data.datapipes.utils.decoder",
            "basichandlers",
            "torch.utils.data.datapipes.utils.decoder.basichandlers",
        ),
        ("mailcap", "findmatch", "mailcap.findmatch"),
        ("imaplib", "IMAP4_stream", "imaplib.IMAP4_stream"),
        ("logging", "FileHandler", "logging.FileHandler"),
        ("requests.api", "get", "requests.api.get"),
        ("aiohttp", "request", "aiohttp.request"),
        ("_io", "FileIO", "_io.FileIO"),
        (
            "mylib",
            "Loader.from_pretrained",
            "mylib.Loader.from_pretrained",
        ),
        ("mylib.compat", "system", "mylib.compat.system"),
        ("mylib.compat", "os", "mylib.compat.os"),
    ];
    for (module, name, subject) in cases {
        let f = expect(
            &reduce0(module, name),
            RuleId::PickleDangerousCallable,
            subject,
            Severity::Critical,
        );
        assert!(f.message.contains("first at offset 0x0"), "{}", f.message);
        assert!(f.evidence.as_deref().unwrap().contains(name));
    }
}

#[test]
fn stack_global_through_memo_and_dotted_names() {
    // protocol 4: 'os' and 'system' memoized and fetched back.
    let bytes = P::default()
        .proto(4)
        .s("os")
        .raw(&[0x94, b'0'])
        .s("system")
        .raw(&[0x94, b'0', b'h', 0, b'h', 1, 0x93])
        .call1("id")
        .stop();
    expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "os.system",
        Severity::Critical,
    );
    // Dotted attribute paths resolved by _getattribute (protocol 4).
    for (m, n, subject) in [
        ("builtins", "getattr.__call__", "builtins.getattr.__call__"),
        (
            "torch",
            "serialization.os.system",
            "torch.serialization.os.system",
        ),
        (
            "collections",
            "OrderedDict.__init__.__globals__",
            "collections.OrderedDict.__init__.__globals__",
        ),
        (
            "mylib",
            "helpers.subprocess.run",
            "mylib.helpers.subprocess.run",
        ),
    ] {
        let bytes = P::default().proto(4).sglobal(m, n).call1("id").stop();
        expect(
            &bytes,
            RuleId::PickleDangerousCallable,
            subject,
            Severity::Critical,
        );
    }
}

#[test]
fn getattr_chains_report_both_callables() {
    // getattr(__import__('os'), 'system')('id')
    let bytes = P::default()
        .proto(4)
        .sglobal("builtins", "getattr")
        .sglobal("builtins", "__import__")
        .call1("os")
        .s("system")
        .raw(&[0x86, b'R'])
        .call1("id")
        .stop();
    let f = expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "os.system",
        Severity::Critical,
    );
    assert!(f.message.contains("via builtins.getattr"), "{}", f.message);
    expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "builtins.getattr",
        Severity::Critical,
    );
    expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "builtins.__import__",
        Severity::Critical,
    );
    // getattr(__import__('builtins'), 'eval')('1')
    let bytes = P::default()
        .proto(4)
        .sglobal("builtins", "getattr")
        .sglobal("builtins", "__import__")
        .call1("builtins")
        .s("eval")
        .raw(&[0x86, b'R'])
        .call1("1")
        .stop();
    let f = expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "builtins.eval",
        Severity::Critical,
    );
    assert!(f.message.contains("via builtins.getattr"), "{}", f.message);
    // getattr(<safe global>, 'eval'): the attribute path is what gets called.
    let bytes = P::default()
        .proto(4)
        .sglobal("builtins", "getattr")
        .sglobal("collections", "OrderedDict")
        .s("__init__")
        .raw(&[0x86, b'R'])
        .call1("x")
        .stop();
    expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "collections.OrderedDict.__init__",
        Severity::Critical,
    );
}

#[test]
fn wrappers_classify_the_inner_callable() {
    // functools.partial(os.system, 'id')()
    let bytes = P::default()
        .proto(4)
        .sglobal("functools", "partial")
        .sglobal("os", "system")
        .s("id")
        .raw(&[0x86, b'R', b')', b'R'])
        .stop();
    let f = expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "os.system",
        Severity::Critical,
    );
    assert!(f.message.contains("via functools.partial"), "{}", f.message);
    assert!(
        findings(&bytes)
            .iter()
            .all(|f| f.subject.as_deref() != Some("functools.partial"))
    );
    // partial(<unknown>, ...) invoked: the unknown callable is invoked.
    let bytes = P::default()
        .proto(4)
        .sglobal("functools", "partial")
        .sglobal("mylib", "setup")
        .s("x")
        .raw(&[0x86, b'R', b')', b'R'])
        .stop();
    expect(
        &bytes,
        RuleId::PickleUnknownCallableInvoked,
        "mylib.setup",
        Severity::High,
    );
    // copyreg._reconstructor(cls, object, None) + BUILD: the class is rebuilt (medium).
    let bytes =
        b"ccopy_reg\n_reconstructor\n(cmylib\nModel\nc__builtin__\nobject\nNtR(dS'w'\nI1\nsb.";
    expect(
        bytes,
        RuleId::PickleUnknownClassRebuilt,
        "mylib.Model",
        Severity::Medium,
    );
    // copyreg.__newobj__(cls) via REDUCE.
    let bytes = P::default()
        .proto(4)
        .sglobal("copyreg", "__newobj__")
        .sglobal("mylib", "Model")
        .raw(&[0x85, b'R'])
        .stop();
    expect(
        &bytes,
        RuleId::PickleUnknownClassRebuilt,
        "mylib.Model",
        Severity::Medium,
    );
    // torch._tensor._rebuild_from_type_v2(func, ...) calls func.
    let bytes = P::default()
        .proto(2)
        .global("torch._tensor", "_rebuild_from_type_v2")
        .global("mylib", "hook")
        .global("torch", "Tensor")
        .raw(b")}")
        .raw(&[b'(', b't', b'R'][..0])
        .raw(b"\x87R")
        .stop();
    let _ = bytes;
    let bytes =
        b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(cmylib\nhook\nctorch\nTensor\n)}tR.";
    expect(
        bytes,
        RuleId::PickleUnknownCallableInvoked,
        "mylib.hook",
        Severity::High,
    );
}

#[test]
fn protocol0_inst_and_obj_are_calls() {
    expect(
        b"(S'id'\nios\nsystem\n.",
        RuleId::PickleDangerousCallable,
        "os.system",
        Severity::Critical,
    );
    expect(
        b"(S'x'\nimylib\nRun\n.",
        RuleId::PickleUnknownCallableInvoked,
        "mylib.Run",
        Severity::High,
    );
    expect(
        b"(cmylib\nRun\nS'x'\no.",
        RuleId::PickleUnknownCallableInvoked,
        "mylib.Run",
        Severity::High,
    );
}

#[test]
fn unknown_callables_by_usage() {
    expect(
        &reduce0("mylib", "setup"),
        RuleId::PickleUnknownCallableInvoked,
        "mylib.setup",
        Severity::High,
    );
    let newobj = P::default()
        .proto(4)
        .sglobal("mylib", "Model")
        .raw(b")\x81}b")
        .stop();
    expect(
        &newobj,
        RuleId::PickleUnknownClassRebuilt,
        "mylib.Model",
        Severity::Medium,
    );
    let import_only = P::default().proto(4).sglobal("mylib", "CONST").stop();
    expect(
        &import_only,
        RuleId::PickleUnknownClassRebuilt,
        "mylib.CONST",
        Severity::Low,
    );
    // torch.nn.modules classes: fine when rebuilt, reported when called.
    let rebuilt = P::default()
        .proto(2)
        .global("torch.nn.modules.linear", "Linear")
        .raw(b")\x81}b")
        .stop();
    assert_eq!(max_severity(&rebuilt), None);
    expect(
        &reduce0("torch.nn.modules.linear", "Linear"),
        RuleId::PickleUnknownCallableInvoked,
        "torch.nn.modules.linear.Linear",
        Severity::High,
    );
    // numpy.memmap: harmless as joblib's subclass reference, dangerous when called.
    assert_eq!(
        max_severity(&P::default().proto(4).sglobal("numpy", "memmap").stop()),
        None
    );
    expect(
        &reduce0("numpy", "memmap"),
        RuleId::PickleDangerousCallable,
        "numpy.memmap",
        Severity::Critical,
    );
    // Weird characters never make a name safe: unknown, or dangerous when the name is.
    expect(
        &P::default()
            .proto(4)
            .sglobal("mylib\u{200b}", "run")
            .call1("id")
            .stop(),
        RuleId::PickleUnknownCallableInvoked,
        "mylib\u{200b}.run",
        Severity::High,
    );
    expect(
        &P::default()
            .proto(4)
            .sglobal("os ", "system")
            .call1("id")
            .stop(),
        RuleId::PickleDangerousCallable,
        "os .system",
        Severity::Critical,
    );
}

#[test]
fn build_on_a_global_is_monkey_patching() {
    // BUILD with (None, {'_rebuild_tensor_v2': ...}) on torch._utils itself.
    let bytes = P::default()
        .proto(4)
        .sglobal("torch", "_utils")
        .raw(b"N}")
        .s("_rebuild_tensor_v2")
        .sglobal("os", "system")
        .raw(b"s\x86b")
        .stop();
    expect(
        &bytes,
        RuleId::PickleDangerousCallable,
        "torch._utils",
        Severity::Critical,
    );
}

#[test]
fn unresolved_and_extension_callables() {
    let bytes = P::default()
        .proto(4)
        .sglobal("builtins", "str")
        .call1("os")
        .s("system")
        .raw(&[0x93])
        .call1("id")
        .stop();
    expect(
        &bytes,
        RuleId::PickleUnresolvedCallable,
        "<unresolved>",
        Severity::High,
    );
    let ext = P::default().proto(2).raw(&[0x82, 0x07]).raw(b")R").stop();
    expect(&ext, RuleId::PickleExtensionCode, "EXT 7", Severity::High);
}

#[test]
fn nested_pickles_are_scanned_recursively() {
    let inner = P::default()
        .proto(4)
        .sglobal("os", "system")
        .call1("id")
        .stop();
    let bytes = P::default()
        .proto(4)
        .sglobal("pickle", "loads")
        .bytes(&inner)
        .raw(&[0x85, b'R'])
        .stop();
    let all = findings(&bytes);
    let nested = expect(
        &bytes,
        RuleId::PickleNestedPickle,
        "pickle.loads",
        Severity::Critical,
    );
    assert!(nested.message.contains("<embedded pickle @0x"));
    let inner_hit = all
        .iter()
        .find(|f| f.subject.as_deref() == Some("os.system"))
        .expect("inner finding");
    assert!(
        inner_hit
            .location
            .member
            .as_deref()
            .unwrap()
            .starts_with("<embedded pickle @0x")
    );
    assert_eq!(inner_hit.severity, Severity::Critical);
    // Carried but not loaded: high (it imports things).
    let carried = P::default().proto(4).bytes(&inner).stop();
    let all = findings(&carried);
    assert!(
        all.iter()
            .any(|f| f.rule == RuleId::PickleNestedPickle && f.severity == Severity::High)
    );
    // A protocol-0 pickle inside a protocol-0 string, passed to a loader through _codecs.encode.
    let bytes = b"c__builtin__\ngetattr\n(cpickle\nloads\n(c_codecs\nencode\n(Vcos\\u000asystem\\u000a(S'id'\\u000atR.\nVlatin1\ntRtR.";
    let _ = findings(bytes);
    let bytes = b"cpickle\nloads\n(c_codecs\nencode\n(Vcos\\u000asystem\\u000a(S'id'\\u000atR.\nVlatin1\ntRtR.";
    expect(
        bytes,
        RuleId::PickleNestedPickle,
        "pickle.loads",
        Severity::Critical,
    );
    let all = findings(bytes);
    assert!(
        all.iter()
            .any(|f| f.subject.as_deref() == Some("os.system") && f.location.member.is_some())
    );
}

#[test]
fn malformed_trailing_and_limits() {
    let f = expect_rule(b"\x80\x04K\x01\xff.", RuleId::PickleMalformed);
    assert_eq!(f.location.offset, Some(4));
    assert_eq!(f.severity, Severity::High);
    assert!(f.message.contains("unknown opcode 0xff"), "{}", f.message);
    let f = expect_rule(b"\x80\x04N.junk\x00", RuleId::PickleTrailingData);
    assert_eq!((f.severity, f.location.offset), (Severity::Low, Some(4)));
    let limits = Limits {
        max_pickle_ops: 3,
        ..Limits::default()
    };
    let all = findings_with(&P0_SET, &limits);
    assert!(
        all.iter().any(|f| f.rule == RuleId::LimitExceeded),
        "{all:#?}"
    );
}

const P0_SET: [u8; 14] = *b"(lp0\nI1\naI2\na.";

fn expect_rule(bytes: &[u8], rule: RuleId) -> Finding {
    let all = findings(bytes);
    let hits: Vec<&Finding> = all.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(hits.len(), 1, "{all:#?}");
    hits[0].clone()
}

#[test]
fn one_finding_per_callable_with_a_count() {
    let mut p = P::default().proto(4).raw(b"]").raw(b"(");
    for _ in 0..10_000 {
        p = p.sglobal("mylib", "make").raw(b")R");
    }
    let bytes = p.raw(b"e").stop();
    let all = findings(&bytes);
    let hits: Vec<_> = all
        .iter()
        .filter(|f| f.subject.as_deref() == Some("mylib.make"))
        .collect();
    assert_eq!(hits.len(), 1, "{all:#?}");
    assert_eq!(hits[0].rule, RuleId::PickleUnknownCallableInvoked);
    assert!(
        hits[0].message.contains("called (REDUCE) ×10000"),
        "{}",
        hits[0].message
    );
}

// A torch.save state dict (protocol 2, BINPERSID storages, _rebuild_tensor_v2, OrderedDict with
// _metadata). torch is not installed here, so the stream was written by CPython 3.11's pickle
// with the globals and persistent ids torch.save writes, over stub modules:
//   torch = types.ModuleType('torch'); tu = types.ModuleType('torch._utils')
//   def _rebuild_tensor_v2(*a): pass            # __module__ = 'torch._utils'
//   class FloatStorage: pass                     # __module__ = 'torch'
//   sys.modules['torch'], sys.modules['torch._utils'] = torch, tu
//   class T:  # a tensor
//       def __reduce_ex__(s, p): return (_rebuild_tensor_v2, (Storage(s.k, n), 0, s.shape,
//                                        stride, False, collections.OrderedDict()))
//   class P(pickle.Pickler):
//       def persistent_id(s, o):
//           return ('storage', FloatStorage, o.k, 'cpu', o.n) if isinstance(o, Storage) else None
//   sd = OrderedDict([('fc.weight', T('0', (2, 3))), ('fc.bias', T('1', (3,)))])
//   sd._metadata = OrderedDict([('', {'version': 1}), ('fc', {'version': 1})])
//   P(buf, protocol=2).dump(sd)
const STATE_DICT: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x09\x00\x00\x00fc.weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x06tq\x08QK\x00K\x02K\x03\x86q\x09K\x03K\x01\x86q\n\x89h\x00)Rq\x0btq\x0cRq\x0dX\x07\x00\x00\x00fc.biasq\x0eh\x03((h\x04h\x05X\x01\x00\x00\x001q\x0fh\x07K\x03tq\x10QK\x00K\x03\x85q\x11K\x03\x85q\x12\x89h\x00)Rq\x13tq\x14Rq\x15u}q\x16X\x09\x00\x00\x00_metadataq\x17h\x00)Rq\x18(X\x00\x00\x00\x00q\x19}q\x1aX\x07\x00\x00\x00versionq\x1bK\x01sX\x02\x00\x00\x00fcq\x1c}q\x1dh\x1bK\x01susb.";

// An optimizer state_dict, same generator: P(buf, protocol=2).dump({'state': {0: {'step':
//   T('2', ()), 'exp_avg': T('3', (2, 3))}}, 'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999),
//   'eps': 1e-08, 'weight_decay': 0, 'amsgrad': False, 'params': [0, 1]}]}).
const OPTIM: &[u8] = b"\x80\x02}q\x00(X\x05\x00\x00\x00stateq\x01}q\x02K\x00}q\x03(X\x04\x00\x00\x00stepq\x04ctorch._utils\n_rebuild_tensor_v2\nq\x05((X\x07\x00\x00\x00storageq\x06ctorch\nFloatStorage\nq\x07X\x01\x00\x00\x002q\x08X\x03\x00\x00\x00cpuq\x09K\x01tq\nQK\x00))\x89ccollections\nOrderedDict\nq\x0b)Rq\x0ctq\x0dRq\x0eX\x07\x00\x00\x00exp_avgq\x0fh\x05((h\x06h\x07X\x01\x00\x00\x003q\x10h\x09K\x06tq\x11QK\x00K\x02K\x03\x86q\x12K\x03K\x01\x86q\x13\x89h\x0b)Rq\x14tq\x15Rq\x16usX\x0c\x00\x00\x00param_groupsq\x17]q\x18}q\x19(X\x02\x00\x00\x00lrq\x1aG?PbM\xd2\xf1\xa9\xfcX\x05\x00\x00\x00betasq\x1bG?\xec\xcc\xcc\xcc\xcc\xcc\xcdG?\xef\xf7\xce\xd9\x16\x87+\x86q\x1cX\x03\x00\x00\x00epsq\x1dG>Ey\x8e\xe20\x8c:X\x0c\x00\x00\x00weight_decayq\x1eK\x00X\x07\x00\x00\x00amsgradq\x1f\x89X\x06\x00\x00\x00paramsq ]q!(K\x00K\x01euau.";

// pickle.dumps({'args': argparse.Namespace(lr=0.1, name='run'), 'saved_at': datetime.datetime(2024,5,1,12,0),
//   'epoch': 3, 'out': pathlib.PurePosixPath('/ckpt')}, protocol=2)
const CKPT2: &[u8] = b"\x80\x02}q\x00(X\x04\x00\x00\x00argsq\x01cargparse\nNamespace\nq\x02)\x81q\x03}q\x04(X\x02\x00\x00\x00lrq\x05G?\xb9\x99\x99\x99\x99\x99\x9aX\x04\x00\x00\x00nameq\x06X\x03\x00\x00\x00runq\x07ubX\x08\x00\x00\x00saved_atq\x08cdatetime\ndatetime\nq\x09c_codecs\nencode\nq\nX\x0b\x00\x00\x00\x07\xc3\xa8\x05\x01\x0c\x00\x00\x00\x00\x00q\x0bX\x06\x00\x00\x00latin1q\x0c\x86q\x0dRq\x0e\x85q\x0fRq\x10X\x05\x00\x00\x00epochq\x11K\x03X\x03\x00\x00\x00outq\x12cpathlib\nPurePosixPath\nq\x13X\x01\x00\x00\x00/q\x14X\x04\x00\x00\x00ckptq\x15\x86q\x16Rq\x17u.";

// the same, protocol=4
const CKPT4: &[u8] = b"\x80\x04\x95\xb7\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04args\x94\x8c\x08argparse\x94\x8c\x09Namespace\x94\x93\x94)\x81\x94}\x94(\x8c\x02lr\x94G?\xb9\x99\x99\x99\x99\x99\x9a\x8c\x04name\x94\x8c\x03run\x94ub\x8c\x08saved_at\x94\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xe8\x05\x01\x0c\x00\x00\x00\x00\x00\x94\x85\x94R\x94\x8c\x05epoch\x94K\x03\x8c\x03out\x94\x8c\x07pathlib\x94\x8c\x0dPurePosixPath\x94\x93\x94\x8c\x01/\x94\x8c\x04ckpt\x94\x86\x94R\x94u.";

// the same, protocol=0
const CKPT0: &[u8] = b"(dp0\nVargs\np1\nccopy_reg\n_reconstructor\np2\n(cargparse\nNamespace\np3\nc__builtin__\nobject\np4\nNtp5\nRp6\n(dp7\nVlr\np8\nF0.1\nsVname\np9\nVrun\np10\nsbsVsaved_at\np11\ncdatetime\ndatetime\np12\n(c_codecs\nencode\np13\n(V\x07\xe8\x05\x01\x0c\\u0000\\u0000\\u0000\\u0000\\u0000\np14\nVlatin1\np15\ntp16\nRp17\ntp18\nRp19\nsVepoch\np20\nI3\nsVout\np21\ncpathlib\nPurePosixPath\np22\n(V/\np23\nVckpt\np24\ntp25\nRp26\ns.";

// pickle.dumps(numpy.array([1, 'a', None, 2.5], dtype=object), protocol=2)
const NPOBJ2: &[u8] = b"\x80\x02cnumpy._core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85q\x02c_codecs\nencode\nq\x03X\x01\x00\x00\x00bq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07\x87q\x08Rq\x09(K\x01K\x04\x85q\ncnumpy\ndtype\nq\x0bX\x02\x00\x00\x00O8q\x0c\x89\x88\x87q\x0dRq\x0e(K\x03X\x01\x00\x00\x00|q\x0fNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tq\x10b\x89]q\x11(K\x01X\x01\x00\x00\x00aq\x12NG@\x04\x00\x00\x00\x00\x00\x00etq\x13b.";

// the same, protocol=5
const NPOBJ5: &[u8] = b"\x80\x05\x95\x9a\x00\x00\x00\x00\x00\x00\x00\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01K\x04\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02O8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\x94b\x89]\x94(K\x01\x8c\x01a\x94NG@\x04\x00\x00\x00\x00\x00\x00et\x94b.";

// b=io.BytesIO(); joblib.dump(StandardScaler().fit(numpy.array([[0.,1.],[1.,0.],[2.,2.]])), b)
const SCALER: &[u8] = b"\x80\x04\x95\x8b\x01\x00\x00\x00\x00\x00\x00\x8c\x1bsklearn.preprocessing._data\x94\x8c\x0eStandardScaler\x94\x93\x94)\x81\x94}\x94(\x8c\x09with_mean\x94\x88\x8c\x08with_std\x94\x88\x8c\x04copy\x94\x88\x8c\x0en_features_in_\x94K\x02\x8c\x0fn_samples_seen_\x94\x8c\x16numpy._core.multiarray\x94\x8c\x06scalar\x94\x93\x94\x8c\x05numpy\x94\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94bC\x08\x00\x00\x00\x00\x00\x00\x08@\x94\x86\x94R\x94\x8c\x05mean_\x94\x8c\x13joblib.numpy_pickle\x94\x8c\x11NumpyArrayWrapper\x94\x93\x94)\x81\x94}\x94(\x8c\x08subclass\x94h\x0d\x8c\x07ndarray\x94\x93\x94\x8c\x05shape\x94K\x02\x85\x94\x8c\x05order\x94\x8c\x01C\x94\x8c\x05dtype\x94h\x12\x8c\nallow_mmap\x94\x88\x8c\x1bnumpy_array_alignment_bytes\x94K\x10ub\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\xf0?\x95*\x00\x00\x00\x00\x00\x00\x00\x8c\x04var_\x94h\x1b)\x81\x94}\x94(h\x1eh h!K\x02\x85\x94h#h$h%h\x12h&\x88h'K\x10ub\x0c\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffUUUUUU\xe5?UUUUUU\xe5?\x95,\x00\x00\x00\x00\x00\x00\x00\x8c\x06scale_\x94h\x1b)\x81\x94}\x94(h\x1eh h!K\x02\x85\x94h#h$h%h\x12h&\x88h'K\x10ub\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff>,\x0cp\xbd \xea?>,\x0cp\xbd \xea?\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x10_sklearn_version\x94\x8c\x051.9.1\x94ub.";

#[test]
fn benign_checkpoints_have_nothing_high() {
    for (name, bytes) in [
        ("state_dict", STATE_DICT),
        ("optimizer", OPTIM),
        ("checkpoint p2", CKPT2),
        ("checkpoint p4", CKPT4),
        ("checkpoint p0", CKPT0),
        ("numpy object array p2", NPOBJ2),
        ("numpy object array p5", NPOBJ5),
    ] {
        assert_eq!(max_severity(bytes), None, "{name}: {:#?}", findings(bytes));
    }
    // sklearn estimators are unknown classes rebuilt from state: medium at most.
    assert_benign("joblib scaler", SCALER);
    expect(
        SCALER,
        RuleId::PickleUnknownClassRebuilt,
        "sklearn.preprocessing._data.StandardScaler",
        Severity::Medium,
    );
}

#[test]
fn joblib_refines_the_format() {
    let limits = Limits::default();
    let mut sink = FindingSink::default();
    let mut ctx = Ctx::new(
        &limits,
        Location::file("m.joblib"),
        "m.joblib".into(),
        None,
        &mut sink,
    );
    scan(&mut ctx, &SCALER);
    assert_eq!(
        sink.refined_format,
        Some(modelgate_core::FileFormat::Joblib)
    );
}

#[test]
fn legacy_torch_raw_data_is_info() {
    // Five protocol-2 pickles as torch.serialization._legacy_save writes them, then storage
    // '0' (6 float32 elements) as an 8-byte count and raw bytes.
    let mut file = Vec::new();
    file.extend_from_slice(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    file.extend_from_slice(b"\x80\x02M\xe9\x03.");
    file.extend_from_slice(b"\x80\x02}(X\x10\x00\x00\x00protocol_versionM\xe9\x03u.");
    file.extend_from_slice(b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQK\x00K\x06\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.");
    file.extend_from_slice(b"\x80\x02]X\x01\x00\x00\x000a.");
    file.extend_from_slice(&6u64.to_le_bytes());
    file.extend_from_slice(&[0x80; 24]);
    let all = findings(&file);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        (all[0].rule, all[0].severity),
        (RuleId::PickleTrailingData, Severity::Info)
    );
}

#[test]
fn explain_lists_opcodes_code_and_classes() {
    let text = explain(&reduce0("os", "system").as_slice(), &Limits::default());
    assert!(text.contains("== opcodes =="), "{text}");
    assert!(text.contains("from os import system"), "{text}");
    assert!(text.contains("_var0 = system('x')"), "{text}");
    assert!(text.contains("[dangerous: `os`"), "{text}");
    assert!(text.contains("MG101 critical"), "{text}");
    let text = explain(&STATE_DICT, &Limits::default());
    assert!(text.contains("[safe]"), "{text}");
    assert!(text.contains("persistent ids: 2"), "{text}");
}

#[test]
fn docs_list_every_table_entry() {
    let doc = include_str!("../../../../../docs/rules/pickle.md");
    for (m, _) in denylist::DANGEROUS_MODULES {
        assert!(doc.contains(&format!("| `{m}` |")), "docs miss module {m}");
    }
    for (m, n, _) in denylist::DANGEROUS_NAMES
        .iter()
        .chain(denylist::DANGEROUS_WHEN_CALLED)
        .chain(allowlist::SAFE)
        .chain(allowlist::LIBRARY_REBUILDERS)
    {
        assert!(doc.contains(&format!("| `{m}.{n}` |")), "docs miss {m}.{n}");
    }
    for (m, _) in allowlist::SAFE_PREFIXES
        .iter()
        .chain(allowlist::REBUILD_SAFE_PREFIXES)
    {
        assert!(doc.contains(&format!("| `{m}` |")), "docs miss prefix {m}");
    }
    for n in denylist::DANGEROUS_FINAL_NAMES
        .iter()
        .chain(denylist::DANGEROUS_TRAVERSAL_NAMES)
    {
        assert!(doc.contains(&format!("`{n}`")), "docs miss attribute {n}");
    }
    for (m, n, _) in allowlist::HELPER_ROLES {
        assert!(
            doc.contains(&format!("| `{m}.{n}` |")),
            "docs miss helper {m}.{n}"
        );
    }
}

#[test]
fn enum_members_are_medium_not_high() {
    // Enum members pickle as Cls(value): HF training_args.bin carries several.
    let bytes = P::default()
        .proto(4)
        .sglobal("transformers.trainer_utils", "IntervalStrategy")
        .call1("steps")
        .stop();
    expect(
        &bytes,
        RuleId::PickleUnknownClassRebuilt,
        "transformers.trainer_utils.IntervalStrategy",
        Severity::Medium,
    );
    // Two arguments, or a non-constant argument, is a call again.
    let bytes = P::default()
        .proto(4)
        .sglobal("mylib", "Runner")
        .s("a")
        .s("b")
        .raw(&[0x86, b'R'])
        .stop();
    expect(
        &bytes,
        RuleId::PickleUnknownCallableInvoked,
        "mylib.Runner",
        Severity::High,
    );
    let bytes = P::default()
        .proto(4)
        .sglobal("mylib", "Runner")
        .raw(b"]")
        .raw(&[0x85, b'R'])
        .stop();
    expect(
        &bytes,
        RuleId::PickleUnknownCallableInvoked,
        "mylib.Runner",
        Severity::High,
    );
}

#[test]
fn build_slotstate_then_stack_global_from_attributes() {
    // modelscan#85: BUILD sets numpy.prod.a = 'os' and numpy.prod.b = 'system', then
    // STACK_GLOBAL takes its operands from GLOBAL numpy prod.a / prod.b through the memo.
    let bytes = b"\x80\x05cnumpy\nprod\nN(Va\nVos\nd\x86bN(Vb\nVsystem\nd\x86b0cnumpy\nprod.a\np0\ncnumpy\nprod.b\np1\n00g0\ng1\n\x93Vecho pwned\n\x85R.";
    expect(
        bytes,
        RuleId::PickleDangerousCallable,
        "numpy.prod",
        Severity::Critical,
    );
    expect(
        bytes,
        RuleId::PickleUnresolvedCallable,
        "<unresolved>",
        Severity::High,
    );
}
