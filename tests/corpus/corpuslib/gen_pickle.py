"""Raw pickle fixtures: every protocol, every way to reach a callable, the indirect callables
of published scanner bypasses, malformed streams, and benign pickles."""

from __future__ import annotations

import marshal
import pickle

from .pickles import CMD, PY_PAYLOAD, Call, Global, Ops, dumps, os_system
from .registry import Corpus

D = "malicious/pickle"
EXEC_RULES = ["MG101"]
ANY_CALL_RULES = ["MG101", "MG102", "MG107"]


def G(module: str, name: str) -> Global:
    return Global(module, name)


def getattr_call(obj, attr: str, *args):
    """getattr(obj, attr)(*args)."""
    return Call(Call(G("builtins", "getattr"), (obj, attr)), args)


def payload_code():
    return compile(PY_PAYLOAD, "<modelgate-corpus>", "exec")


def generate(c: Corpus) -> None:
    protocols(c)
    opcode_variants(c)
    indirect_callables(c)
    malformed(c)
    lying_extensions(c)
    benign(c)


def protocols(c: Corpus) -> None:
    for p in range(6):
        c.malicious(f"{D}/reduce_os_system_p{p}.pkl", dumps(os_system(), p),
                    f"protocol {p} {'STACK_GLOBAL' if p >= 4 else 'GLOBAL'} os.system + REDUCE",
                    EXEC_RULES)
    c.malicious(f"{D}/reduce_posix_system_p2.pkl", dumps(Call(G("posix", "system"), (CMD,)), 2),
                "protocol 2 GLOBAL posix.system (the module os.system really lives in) + REDUCE",
                EXEC_RULES)
    c.malicious(f"{D}/reduce_nt_system_p2.pkl", dumps(Call(G("nt", "system"), (CMD,)), 2),
                "protocol 2 GLOBAL nt.system (Windows) + REDUCE", EXEC_RULES)
    argv = ["echo", "modelgate-corpus"]
    c.malicious(f"{D}/subprocess_popen_p4.pkl", dumps(Call(G("subprocess", "Popen"), (argv,)), 4),
                "protocol 4 subprocess.Popen(argv)", EXEC_RULES)
    c.malicious(f"{D}/subprocess_check_output_p3.pkl",
                dumps(Call(G("subprocess", "check_output"), (argv,)), 3),
                "protocol 3 subprocess.check_output(argv)", EXEC_RULES)
    c.malicious(f"{D}/subprocess_run_p5.pkl", dumps(Call(G("subprocess", "run"), (argv,)), 5),
                "protocol 5 subprocess.run(argv)", EXEC_RULES)
    c.malicious(f"{D}/builtins_eval_p2.pkl",
                dumps(Call(G("builtins", "eval"), ("__import__('os').system('echo modelgate-corpus')",)), 2),
                "protocol 2 builtins.eval of a Python expression", EXEC_RULES)
    c.malicious(f"{D}/builtin_eval_py2_name_p2.pkl",
                dumps(Call(G("__builtin__", "eval"), ("__import__('os').system('echo modelgate-corpus')",)), 2),
                "protocol 2 __builtin__.eval (Python 2 module name, mapped to builtins on load)",
                EXEC_RULES)
    c.malicious(f"{D}/builtins_exec_p4.pkl", dumps(Call(G("builtins", "exec"), (PY_PAYLOAD,)), 4),
                "protocol 4 builtins.exec of Python source", EXEC_RULES)
    c.malicious(f"{D}/builtins_compile_exec_p3.pkl",
                dumps(Call(G("builtins", "exec"),
                           (Call(G("builtins", "compile"), (PY_PAYLOAD, "<corpus>", "exec")),)), 3),
                "protocol 3 builtins.exec(builtins.compile(source))", EXEC_RULES)
    c.malicious(f"{D}/builtins_import_getattr_p1.pkl",
                dumps(getattr_call(Call(G("builtins", "__import__"), ("os",)), "system", CMD), 1),
                "protocol 1 builtins.getattr(builtins.__import__('os'), 'system')(cmd)", EXEC_RULES)
    c.malicious(f"{D}/builtins_open_read_p2.pkl",
                dumps(getattr_call(Call(G("builtins", "open"), ("/etc/passwd",)), "read"), 2),
                "protocol 2 builtins.open('/etc/passwd').read() (file read on load)", EXEC_RULES)
    c.malicious(f"{D}/builtins_getattr_import_chain_p4.pkl",
                dumps(getattr_call(Call(G("builtins", "__import__"), ("os",)), "system", CMD), 4),
                "protocol 4 getattr(__import__('os'), 'system')(cmd) chain with STACK_GLOBAL",
                EXEC_RULES)


def opcode_variants(c: Corpus) -> None:
    # STACK_GLOBAL whose module and name strings come back out of the memo.
    c.malicious(f"{D}/stack_global_memo_binput.pkl",
                Ops(4).short_binunicode("os").binput(0).short_binunicode("system").binput(1)
                .pop().pop().binget(0).binget(1).stack_global()
                .short_binunicode(CMD).tuple1().reduce().stop().bytes(),
                "STACK_GLOBAL with module/name strings stored by BINPUT and fetched by BINGET",
                EXEC_RULES)
    c.malicious(f"{D}/stack_global_memoize.pkl",
                Ops(4).short_binunicode("subprocess").memoize().short_binunicode("check_output")
                .memoize().pop().pop().binget(0).binget(1).stack_global()
                .raw(pickle.EMPTY_LIST).mark().short_binunicode("echo")
                .short_binunicode("modelgate-corpus").raw(pickle.APPENDS)
                .tuple1().reduce().stop().bytes(),
                "STACK_GLOBAL with strings stored by MEMOIZE and fetched by BINGET", EXEC_RULES)
    c.malicious(f"{D}/stack_global_text_put_get.pkl",
                Ops(4).unicode0("os").put(7).unicode0("system").put(8).pop().pop()
                .get(7).get(8).stack_global().unicode0(CMD).tuple1().reduce().stop().bytes(),
                "STACK_GLOBAL fed by protocol-0 text PUT/GET inside a protocol 4 stream",
                EXEC_RULES)
    # picklescan issue 13/14 style memo confusion: BINPUT and MEMOIZE mixed, so a scanner that
    # counts MEMOIZE from zero believes memo[0] is 'torch._utils'.
    c.malicious(f"{D}/memo_confusion_binput_memoize.pkl",
                Ops(4).binunicode("os").binput(0).binunicode("system").binput(1)
                .binunicode("torch._utils").memoize().binunicode("_rebuild_tensor_v2").memoize()
                .pop().pop().pop().pop().binget(0).binget(1).stack_global()
                .binunicode(CMD).tuple1().reduce().stop().bytes(),
                "memo confusion: BINPUT and MEMOIZE mixed so a naive memo tracker resolves "
                "STACK_GLOBAL to torch._utils._rebuild_tensor_v2 (picklescan issue 14)",
                EXEC_RULES)
    c.malicious(f"{D}/inst_os_system_p0.pkl",
                Ops().mark().unicode0(CMD).inst("os", "system").stop().bytes(),
                "protocol 0 INST os.system (calls without GLOBAL or REDUCE)", EXEC_RULES)
    c.malicious(f"{D}/inst_builtins_eval_p0.pkl",
                Ops().mark().string0("__import__('os').system('echo modelgate-corpus')")
                .inst("builtins", "eval").stop().bytes(),
                "protocol 0 INST builtins.eval (picklescan issue 13)", EXEC_RULES)
    c.malicious(f"{D}/obj_os_system_p1.pkl",
                Ops(1).mark().global_("os", "system").binunicode(CMD).obj().stop().bytes(),
                "protocol 1 OBJ with os.system as the 'class' (calls it with the marked args)",
                EXEC_RULES)
    # NEWOBJ builds functools.partial(os.system, cmd) without REDUCE; an empty REDUCE calls it.
    c.malicious(f"{D}/newobj_partial_os_system_p2.pkl",
                Ops(2).global_("functools", "partial").global_("os", "system").binunicode(CMD)
                .tuple2().newobj().empty_tuple().reduce().stop().bytes(),
                "NEWOBJ functools.partial(os.system, cmd) then REDUCE with no args", EXEC_RULES)
    c.malicious(f"{D}/newobj_ex_partial_os_system_p4.pkl",
                Ops(4).short_binunicode("functools").short_binunicode("partial").stack_global()
                .short_binunicode("os").short_binunicode("system").stack_global()
                .short_binunicode(CMD).tuple2().empty_dict().newobj_ex()
                .empty_tuple().reduce().stop().bytes(),
                "NEWOBJ_EX functools.partial(os.system, cmd) then REDUCE with no args", EXEC_RULES)
    c.malicious(f"{D}/newobj_subprocess_popen_p2.pkl",
                Ops(2).global_("subprocess", "Popen").binunicode(CMD).tuple1().newobj()
                .stop().bytes(),
                "NEWOBJ of subprocess.Popen (a dangerous class instantiated without REDUCE)",
                ANY_CALL_RULES)
    # BUILD gadget: set an instance attribute __setstate__ = os.system, then BUILD again so the
    # unpickler calls inst.__setstate__(cmd). os.system is never the target of REDUCE.
    c.malicious(f"{D}/build_setstate_gadget_p2.pkl",
                Ops(2).global_("argparse", "Namespace").empty_tuple().newobj()
                .none().empty_dict().binunicode("__setstate__").global_("os", "system").setitem()
                .tuple2().build().binunicode(CMD).build().stop().bytes(),
                "BUILD with slot state setting __setstate__ = os.system, then BUILD(cmd)",
                EXEC_RULES)
    c.malicious(f"{D}/getattr_import_chain_p2.pkl",
                Ops(2).global_("builtins", "getattr").global_("builtins", "__import__")
                .binunicode("os").tuple1().reduce().binunicode("system").tuple2().reduce()
                .binunicode(CMD).tuple1().reduce().stop().bytes(),
                "hand-written getattr(__import__('os'), 'system')(cmd)", EXEC_RULES)
    for op, code in (("ext1", 0x2A), ("ext2", 0x1234), ("ext4", 0x12345678)):
        ops = Ops(2)
        getattr(ops, op)(code)
        c.malicious(f"{D}/{op}_extension_code_call.pkl",
                    ops.binunicode(CMD).tuple1().reduce().stop().bytes(),
                    f"{op.upper()} copyreg extension code {code:#x} called via REDUCE "
                    "(the callable depends on the loading process's registry)",
                    ["MG108"])
    c.malicious(f"{D}/binpersid_reduce_payload_p2.pkl",
                Ops(2).global_("os", "system").binunicode(CMD).tuple1().reduce().binpersid()
                .stop().bytes(),
                "BINPERSID whose persistent id is computed by os.system(cmd) (REDUCE runs first)",
                EXEC_RULES)
    c.malicious(f"{D}/persid_then_payload_p0.pkl",
                Ops().mark().persid("modelgate-corpus-0").global_("os", "system").mark()
                .unicode0(CMD).tuple().reduce().tuple().stop().bytes(),
                "protocol 0 PERSID record next to a GLOBAL os.system + REDUCE", EXEC_RULES)
    oob = dumps([pickle.PickleBuffer(b"\x00" * 64), os_system()], 5,
                buffer_callback=lambda _buf: False)
    assert pickle.NEXT_BUFFER in oob
    c.malicious(f"{D}/proto5_out_of_band_buffer_payload.pkl", oob,
                "protocol 5 NEXT_BUFFER/READONLY_BUFFER out-of-band buffer next to os.system",
                EXEC_RULES)
    # modelscan issue 89: numpy.__builtins__ is the builtins dict; dict.get fetches exec.
    c.malicious(f"{D}/numpy_builtins_dict_get_exec_p5.pkl",
                Ops(5).global_("builtins", "dict.get").global_("numpy", "__builtins__")
                .short_binunicode("exec").tuple2().reduce().binunicode(PY_PAYLOAD).tuple1()
                .reduce().stop().bytes(),
                "builtins.dict.get(numpy.__builtins__, 'exec')(source) (modelscan issue 89)",
                ANY_CALL_RULES)
    c.malicious(f"{D}/dotted_name_logging_os_system_p4.pkl",
                dumps(Call(G("logging", "os.system"), (CMD,)), 4),
                "STACK_GLOBAL logging / 'os.system': a dotted name walks from a harmless module "
                "to os.system (protocol 4 attribute paths)", ANY_CALL_RULES)


def indirect_callables(c: Corpus) -> None:
    inner = dumps(os_system(), 2)
    code = payload_code()
    npy_payload = _object_npy_bytes()
    code_args = (
        code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_nlocals,
        code.co_stacksize, code.co_flags, code.co_code, code.co_consts, code.co_names,
        code.co_varnames, code.co_filename, code.co_name, code.co_qualname,
        code.co_firstlineno, code.co_linetable, code.co_exceptiontable, code.co_freevars,
        code.co_cellvars,
    )
    fn = G("types", "FunctionType")
    posix_os = G("posixpath", "os")  # the os module, reached as an attribute of posixpath
    cases = [
        ("runpy_run_code", Call(G("runpy", "_run_code"), (PY_PAYLOAD, {})), 4,
         "runpy._run_code(source, globals)", EXEC_RULES),
        ("pty_spawn", Call(G("pty", "spawn"), (["echo", "modelgate-corpus"],)), 2,
         "pty.spawn(argv) (fickling GHSA-r7v6-mfhq-g3m2)", EXEC_RULES),
        ("importlib_import_module", getattr_call(Call(G("importlib", "import_module"), ("os",)),
                                                 "system", CMD), 4,
         "getattr(importlib.import_module('os'), 'system')(cmd) (picklescan issue 66)",
         EXEC_RULES),
        ("pickle_loads_nested", Call(G("pickle", "loads"), (inner,)), 4,
         "pickle.loads of an embedded os.system pickle (nested payload)",
         ["MG106", "MG101"]),
        ("_pickle_loads_nested", Call(G("_pickle", "loads"), (inner,)), 2,
         "_pickle.loads of an embedded os.system pickle (nested payload)",
         ["MG106", "MG101"]),
        ("marshal_loads_function_type", Call(Call(fn, (Call(G("marshal", "loads"),
                                                            (marshal.dumps(code),)), {})), ()), 4,
         "types.FunctionType(marshal.loads(bytecode), {})() (picklescan PR 74)", EXEC_RULES),
        ("types_code_type", Call(Call(fn, (Call(G("types", "CodeType"), code_args), {})), ()), 4,
         "types.FunctionType(types.CodeType(<3.11 code fields>), {})()", EXEC_RULES),
        ("operator_attrgetter", Call(Call(Call(G("operator", "attrgetter"), ("system",)),
                                          (posix_os,)), (CMD,)), 4,
         "operator.attrgetter('system')(posixpath.os)(cmd)", ANY_CALL_RULES),
        ("operator_methodcaller", Call(Call(G("operator", "methodcaller"), ("system", CMD)),
                                       (posix_os,)), 2,
         "operator.methodcaller('system', cmd)(posixpath.os)", ANY_CALL_RULES),
        ("functools_partial_os_system", Call(Call(G("functools", "partial"),
                                                  (G("os", "system"), CMD)), ()), 4,
         "functools.partial(os.system, cmd)()", EXEC_RULES),
        ("pip_main", Call(G("pip", "main"), (["install", "--no-index", "modelgate-corpus"],)), 4,
         "pip.main(['install', ...]) (installs and runs package code)", EXEC_RULES),
        ("webbrowser_open", Call(G("webbrowser", "open"), ("http://127.0.0.1:9/modelgate-corpus",)),
         4, "webbrowser.open(url)", EXEC_RULES),
        ("socket_create_connection", Call(G("socket", "create_connection"), (("127.0.0.1", 9),)),
         4, "socket.create_connection((host, port))", EXEC_RULES),
        ("shutil_rmtree", Call(G("shutil", "rmtree"), ("/tmp/modelgate-corpus-does-not-exist",)),
         2, "shutil.rmtree(path)", EXEC_RULES),
        ("ctypes_cdll", getattr_call(Call(G("ctypes", "CDLL"), (None,)), "system",
                                     b"echo modelgate-corpus"), 4,
         "getattr(ctypes.CDLL(None), 'system')(cmd) (modelscan PR 339)", EXEC_RULES),
        ("code_interactive_interpreter_runsource",
         Call(G("code", "InteractiveInterpreter.runsource"),
              (Call(G("code", "InteractiveInterpreter"), ()), PY_PAYLOAD)), 4,
         "code.InteractiveInterpreter.runsource(InteractiveInterpreter(), source)", EXEC_RULES),
        ("codeop_compile_command",
         Call(Call(fn, (Call(G("codeop", "compile_command"), (PY_PAYLOAD, "<c>", "exec")), {})),
              ()), 4,
         "types.FunctionType(codeop.compile_command(source), {})()", EXEC_RULES),
        ("timeit_timeit", Call(G("timeit", "timeit"), ("pass", PY_PAYLOAD)), 4,
         "timeit.timeit(stmt, setup=source) (modelscan issue 272)", EXEC_RULES),
        ("cprofile_run", Call(G("cProfile", "run"), (PY_PAYLOAD,)), 4, "cProfile.run(source)",
         EXEC_RULES),
        ("cprofile_runctx", Call(G("cProfile", "runctx"), (PY_PAYLOAD, {}, {})), 2,
         "cProfile.runctx(source, globals, locals) (picklescan GHSA-9w88-8rmg-7g2p)", EXEC_RULES),
        ("profile_run", Call(G("profile", "run"), (PY_PAYLOAD,)), 4, "profile.run(source)",
         EXEC_RULES),
        ("pdb_run", Call(G("pdb", "run"), (PY_PAYLOAD,)), 4, "pdb.run(source)", EXEC_RULES),
        ("numpy_testing_runstring",
         Call(G("numpy.testing._private.utils", "runstring"), (PY_PAYLOAD, {})), 4,
         "numpy.testing._private.utils.runstring(source, dict) (picklescan PR 40)", EXEC_RULES),
        ("asyncio_create_subprocess_shell",
         Call(G("asyncio", "run"), (Call(G("asyncio", "create_subprocess_shell"), (CMD,)),)), 4,
         "asyncio.run(asyncio.create_subprocess_shell(cmd))", EXEC_RULES),
        ("uuid_get_command_stdout", Call(G("uuid", "_get_command_stdout"),
                                         ("echo", "modelgate-corpus")), 4,
         "uuid._get_command_stdout(cmd, args)", EXEC_RULES),
        ("osx_support_read_output", Call(G("_osx_support", "_read_output"), (CMD,)), 2,
         "_osx_support._read_output(cmd)", EXEC_RULES),
        ("pydoc_pipepager", Call(G("pydoc", "pipepager"), ("modelgate-corpus", CMD)), 4,
         "pydoc.pipepager(text, cmd)", EXEC_RULES),
        ("bdb_bdb_run", Call(G("bdb", "Bdb.run"), (Call(G("bdb", "Bdb"), ()), PY_PAYLOAD)), 4,
         "bdb.Bdb.run(Bdb(), source)", EXEC_RULES),
        ("trace_trace_run", Call(G("trace", "Trace.run"), (Call(G("trace", "Trace"), ()),
                                                            PY_PAYLOAD)), 4,
         "trace.Trace.run(Trace(), source)", EXEC_RULES),
        ("torch_hub_load", Call(G("torch.hub", "load"), ("modelgate-corpus/none", "model")), 2,
         "torch.hub.load(repo, model) (downloads and runs hubconf.py)", EXEC_RULES),
        ("torch_jit_load", Call(G("torch.jit", "load"), ("/tmp/modelgate-corpus.pt",)), 4,
         "torch.jit.load(path)", EXEC_RULES),
        ("torch_load_nested", Call(G("torch", "load"), (Call(G("io", "BytesIO"), (inner,)),)), 2,
         "torch.load(io.BytesIO(<embedded os.system pickle>)) (nested)",
         ["MG106", "MG101"]),
        ("numpy_load_allow_pickle",
         Call(G("numpy", "load"), (Call(G("io", "BytesIO"), (npy_payload,)), None, True)), 4,
         "numpy.load(io.BytesIO(<object .npy with payload>), None, allow_pickle=True) (nested)",
         ["MG106", "MG101"]),
        ("pkgutil_resolve_name", Call(Call(G("pkgutil", "resolve_name"), ("os:system",)), (CMD,)),
         4, "pkgutil.resolve_name('os:system')(cmd) (picklescan GHSA-vvpj-8cmc-gx39)",
         ANY_CALL_RULES),
        ("ensurepip_run_pip", Call(G("ensurepip", "_run_pip"), (["--version"],)), 4,
         "ensurepip._run_pip(args) (picklescan GHSA-xp4f-hrf8-rxw7)", ANY_CALL_RULES),
        ("doctest_debug_script", Call(G("doctest", "debug_script"), (PY_PAYLOAD,)), 4,
         "doctest.debug_script(source) (picklescan GHSA-fqq6-7vqf-w3fg)", ANY_CALL_RULES),
    ]
    for name, obj, proto, technique, rules in cases:
        c.malicious(f"malicious/pickle-indirect/{name}_p{proto}.pkl", dumps(obj, proto),
                    technique, rules)


def _object_npy_bytes() -> bytes:
    from .gen_numpy import object_npy_with_payload

    return object_npy_with_payload()


def malformed(c: Corpus) -> None:
    payload = dumps(os_system(), 2)
    assert payload.endswith(pickle.STOP)
    c.malicious(f"{D}/truncated_after_payload.pkl", payload[:-1],
                "os.system + REDUCE, then the stream ends without STOP (the call runs before the "
                "unpickler notices)", ["MG101", "MG104"])
    c.malicious(f"{D}/truncated_mid_opcode.pkl",
                payload[:-1] + pickle.BINUNICODE + (1000).to_bytes(4, "little") + b"abc",
                "os.system + REDUCE, then a BINUNICODE whose length runs past the end",
                ["MG101", "MG104"])
    c.malicious(f"{D}/invalid_opcode_after_payload.pkl", payload[:-1] + b"\xff" + pickle.STOP,
                "os.system + REDUCE, then an undefined opcode 0xff", ["MG101", "MG104"])
    benign = dumps({"weights": [0.5, 1.5], "epoch": 3}, 2)
    c.malicious(f"{D}/concatenated_benign_then_malicious.pkl", benign + payload,
                "a benign pickle, then a second pickle with os.system after its STOP",
                ["MG101", "MG106"])
    c.malicious(f"{D}/trailing_garbage_after_payload.pkl",
                payload + b"\x00\x01modelgate-corpus trailing bytes\xfe",
                "os.system pickle followed by trailing garbage", EXEC_RULES)
    c.malicious(f"{D}/stack_underflow_after_payload.pkl",
                payload[:-1] + pickle.POP + pickle.POP + pickle.POP + pickle.STOP,
                "os.system + REDUCE, then POPs past the bottom of the stack",
                ["MG101", "MG104"])


def lying_extensions(c: Corpus) -> None:
    c.malicious("malicious/extension/model.safetensors", dumps(os_system(), 4),
                "protocol 4 os.system pickle named .safetensors", ["MG101", "MG001"])
    c.malicious("malicious/extension/weights.json", dumps(os_system(), 0),
                "protocol 0 (printable) os.system pickle named .json", ["MG101", "MG001"])
    c.malicious("malicious/extension/tokenizer.model.png", dumps(os_system(), 2),
                "protocol 2 os.system pickle named .png", ["MG101", "MG001"])
    c.malicious("malicious/extension/config.txt", dumps(Call(G("builtins", "exec"),
                                                            (PY_PAYLOAD,)), 0),
                "protocol 0 builtins.exec pickle named .txt (CVE-2025-10155 style)",
                ["MG101", "MG001"])


def benign(c: Corpus) -> None:
    import collections
    import datetime

    value = {"name": "modelgate-corpus", "values": [1, 2.5, None, True], "nested": {"a": (1, 2)},
             "blob": b"\x00\x01\x02"}
    for p in (0, 2, 4, 5):
        c.benign(f"benign/pickle/plain_containers_p{p}.pkl", pickle.dumps(value, p),
                 f"protocol {p} pickle of plain dict/list/tuple/bytes values")
    c.benign("benign/pickle/ordereddict_datetime_p4.pkl",
             pickle.dumps({"order": collections.OrderedDict([("b", 1), ("a", 2)]),
                           "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
                           "day": datetime.date(2024, 1, 2)}, 4),
             "protocol 4 pickle of collections.OrderedDict, datetime.datetime and datetime.date")
