//! Stack-machine tests: opcode coverage per protocol, call-site resolution, layouts, malformed
//! input and limits. Streams are pasted from `CPython` 3.11 (`pickle.dumps`, with the snippet next
//! to each literal) or built with the small builder below.

use modelgate_core::Limits;
use proptest::prelude::*;

use super::*;

/// A tiny pickle builder for hand-made streams.
#[derive(Default)]
pub(crate) struct P(pub(crate) Vec<u8>);

impl P {
    pub(crate) fn new() -> Self {
        P::default()
    }
    pub(crate) fn proto(self, n: u8) -> Self {
        self.raw(&[0x80, n])
    }
    pub(crate) fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    pub(crate) fn op(self, b: u8) -> Self {
        self.raw(&[b])
    }
    /// `SHORT_BINUNICODE`
    pub(crate) fn s(self, s: &str) -> Self {
        let n = u8::try_from(s.len()).unwrap();
        self.raw(&[0x8c, n]).raw(s.as_bytes())
    }
    /// BINBYTES
    pub(crate) fn bytes(self, b: &[u8]) -> Self {
        let n = u32::try_from(b.len()).unwrap();
        self.op(b'B').raw(&n.to_le_bytes()).raw(b)
    }
    /// GLOBAL
    pub(crate) fn global(self, m: &str, n: &str) -> Self {
        self.op(b'c')
            .raw(m.as_bytes())
            .op(b'\n')
            .raw(n.as_bytes())
            .op(b'\n')
    }
    /// `STACK_GLOBAL` of two `SHORT_BINUNICODE` strings
    pub(crate) fn sglobal(self, m: &str, n: &str) -> Self {
        self.s(m).s(n).op(0x93)
    }
    /// BININT1
    pub(crate) fn int(self, i: u8) -> Self {
        self.raw(&[b'K', i])
    }
    pub(crate) fn mark(self) -> Self {
        self.op(b'(')
    }
    pub(crate) fn tuple(self) -> Self {
        self.op(b't')
    }
    pub(crate) fn tuple1(self) -> Self {
        self.op(0x85)
    }
    pub(crate) fn empty_tuple(self) -> Self {
        self.op(b')')
    }
    pub(crate) fn reduce(self) -> Self {
        self.op(b'R')
    }
    pub(crate) fn build(self) -> Self {
        self.op(b'b')
    }
    pub(crate) fn memoize(self) -> Self {
        self.op(0x94)
    }
    pub(crate) fn get(self, i: u8) -> Self {
        self.raw(&[b'h', i])
    }
    pub(crate) fn stop(self) -> Self {
        self.op(b'.')
    }
    pub(crate) fn done(self) -> Vec<u8> {
        self.0
    }
}

fn run(bytes: &[u8]) -> Analysis {
    analyze(bytes, &Limits::default())
}

fn has(a: &Analysis, module: &str, name: &str, usage: Usage) -> bool {
    a.calls
        .iter()
        .any(|c| c.target == Target::global(module, name) && c.usage == usage)
}

fn clean(a: &Analysis) {
    assert!(a.error.is_none(), "error: {:?}", a.error);
    assert!(a.limit.is_none(), "limit: {:?}", a.limit);
    assert!(a.trailing.is_none(), "trailing: {:?}", a.trailing);
}

// python3 -c "import pickle,collections; shared=[1,2]; obj=[None,True,False,1,-1,255,65535,
//   2**31,2**70,-2**70,1.5,'ascii','é\u20ac',b'bytes',(1,),(1,2),(1,2,3),(1,2,3,4),{'k':shared},
//   shared,{1,2},frozenset({3}),collections.OrderedDict(a=1)]; print(pickle.dumps(obj, protocol=P))"
// (protocol 5 appends bytearray(b'ba')); op counts from len(list(pickletools.genops(data))).
const P0: &[u8] = b"(lp0\nNaI01\naI00\naI1\naI-1\naI255\naI65535\naL2147483648L\naL1180591620717411303424L\naL-1180591620717411303424L\naF1.5\naVascii\np1\naV\xe9\\u20ac\np2\nac_codecs\nencode\np3\n(Vbytes\np4\nVlatin1\np5\ntp6\nRp7\na(I1\ntp8\na(I1\nI2\ntp9\na(I1\nI2\nI3\ntp10\na(I1\nI2\nI3\nI4\ntp11\na(dp12\nVk\np13\n(lp14\nI1\naI2\nasag14\nac__builtin__\nset\np15\n((lp16\nI1\naI2\natp17\nRp18\nac__builtin__\nfrozenset\np19\n((lp20\nI3\natp21\nRp22\naccollections\nOrderedDict\np23\n(tRp24\nVa\np25\nI1\nsa.";
const P1: &[u8] = b"]q\x00(NI01\nI00\nK\x01J\xff\xff\xff\xffK\xffM\xff\xffL2147483648L\nL1180591620717411303424L\nL-1180591620717411303424L\nG?\xf8\x00\x00\x00\x00\x00\x00X\x05\x00\x00\x00asciiq\x01X\x05\x00\x00\x00\xc3\xa9\xe2\x82\xacq\x02c_codecs\nencode\nq\x03(X\x05\x00\x00\x00bytesq\x04X\x06\x00\x00\x00latin1q\x05tq\x06Rq\x07(K\x01tq\x08(K\x01K\x02tq\x09(K\x01K\x02K\x03tq\n(K\x01K\x02K\x03K\x04tq\x0b}q\x0cX\x01\x00\x00\x00kq\x0d]q\x0e(K\x01K\x02esh\x0ec__builtin__\nset\nq\x0f(]q\x10(K\x01K\x02etq\x11Rq\x12c__builtin__\nfrozenset\nq\x13(]q\x14K\x03atq\x15Rq\x16ccollections\nOrderedDict\nq\x17)Rq\x18X\x01\x00\x00\x00aq\x19K\x01se.";
const P2: &[u8] = b"\x80\x02]q\x00(N\x88\x89K\x01J\xff\xff\xff\xffK\xffM\xff\xff\x8a\x05\x00\x00\x00\x80\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xc0G?\xf8\x00\x00\x00\x00\x00\x00X\x05\x00\x00\x00asciiq\x01X\x05\x00\x00\x00\xc3\xa9\xe2\x82\xacq\x02c_codecs\nencode\nq\x03X\x05\x00\x00\x00bytesq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07K\x01\x85q\x08K\x01K\x02\x86q\x09K\x01K\x02K\x03\x87q\n(K\x01K\x02K\x03K\x04tq\x0b}q\x0cX\x01\x00\x00\x00kq\x0d]q\x0e(K\x01K\x02esh\x0ec__builtin__\nset\nq\x0f]q\x10(K\x01K\x02e\x85q\x11Rq\x12c__builtin__\nfrozenset\nq\x13]q\x14K\x03a\x85q\x15Rq\x16ccollections\nOrderedDict\nq\x17)Rq\x18X\x01\x00\x00\x00aq\x19K\x01se.";
const P3: &[u8] = b"\x80\x03]q\x00(N\x88\x89K\x01J\xff\xff\xff\xffK\xffM\xff\xff\x8a\x05\x00\x00\x00\x80\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xc0G?\xf8\x00\x00\x00\x00\x00\x00X\x05\x00\x00\x00asciiq\x01X\x05\x00\x00\x00\xc3\xa9\xe2\x82\xacq\x02C\x05bytesq\x03K\x01\x85q\x04K\x01K\x02\x86q\x05K\x01K\x02K\x03\x87q\x06(K\x01K\x02K\x03K\x04tq\x07}q\x08X\x01\x00\x00\x00kq\x09]q\n(K\x01K\x02esh\ncbuiltins\nset\nq\x0b]q\x0c(K\x01K\x02e\x85q\x0dRq\x0ecbuiltins\nfrozenset\nq\x0f]q\x10K\x03a\x85q\x11Rq\x12ccollections\nOrderedDict\nq\x13)Rq\x14X\x01\x00\x00\x00aq\x15K\x01se.";
const P4: &[u8] = b"\x80\x04\x95\xb5\x00\x00\x00\x00\x00\x00\x00]\x94(N\x88\x89K\x01J\xff\xff\xff\xffK\xffM\xff\xff\x8a\x05\x00\x00\x00\x80\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xc0G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x05ascii\x94\x8c\x05\xc3\xa9\xe2\x82\xac\x94C\x05bytes\x94K\x01\x85\x94K\x01K\x02\x86\x94K\x01K\x02K\x03\x87\x94(K\x01K\x02K\x03K\x04t\x94}\x94\x8c\x01k\x94]\x94(K\x01K\x02esh\n\x8f\x94(K\x01K\x02\x90(K\x03\x91\x94\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01a\x94K\x01se.";
const P5: &[u8] = b"\x80\x05\x95\xc1\x00\x00\x00\x00\x00\x00\x00]\x94(N\x88\x89K\x01J\xff\xff\xff\xffK\xffM\xff\xff\x8a\x05\x00\x00\x00\x80\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xc0G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x05ascii\x94\x8c\x05\xc3\xa9\xe2\x82\xac\x94C\x05bytes\x94K\x01\x85\x94K\x01K\x02\x86\x94K\x01K\x02K\x03\x87\x94(K\x01K\x02K\x03K\x04t\x94}\x94\x8c\x01k\x94]\x94(K\x01K\x02esh\n\x8f\x94(K\x01K\x02\x90(K\x03\x91\x94\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01a\x94K\x01s\x96\x02\x00\x00\x00\x00\x00\x00\x00ba\x94e.";

#[test]
fn every_protocol_decodes_cleanly() {
    // Protocol 1 has no PROTO opcode, so it reads as 0.
    for (proto, bytes, ops) in [
        (0, P0, 125),
        (0, P1, 98),
        (2, P2, 93),
        (3, P3, 85),
        (4, P4, 78),
    ] {
        let a = run(bytes);
        clean(&a);
        assert_eq!(a.ops, ops, "protocol {proto}");
        assert_eq!(a.pickles.len(), 1);
        assert_eq!(a.pickles[0].stop, Some(bytes.len() as u64 - 1));
        assert_eq!(a.protocol(), proto);
        assert!(
            has(&a, "collections", "OrderedDict", Usage::Reduce),
            "protocol {proto}"
        );
    }
    // Protocol 0 keeps Python 2 names as written; the rules map them.
    assert!(has(&run(P0), "__builtin__", "set", Usage::Reduce));
    assert!(has(&run(P3), "builtins", "frozenset", Usage::Reduce));
}

#[test]
fn protocol5_bytearray_and_frames() {
    let a = run(P5);
    clean(&a);
    assert_eq!(a.ops, 80);
    assert_eq!(a.protocol(), 5);
    // The same stream with one byte inserted inside the frame: the last opcodes now cross the
    // frame's end, which CPython rejects, so the machine must too.
    let mut v = P5.to_vec();
    v.insert(20, b'N');
    assert!(run(&v).error.is_some());
}

#[test]
fn rare_opcodes_are_modelled() {
    // INST, OBJ, NEWOBJ, NEWOBJ_EX, BUILD, EXT1/2/4, PERSID, BINPERSID, LONG4, BINUNICODE8,
    // BINBYTES8, BINSTRING, SHORT_BINSTRING, DUP, POP, POP_MARK, LONG_BINPUT/GET, NEXT_BUFFER,
    // READONLY_BUFFER.
    let bytes = P::new()
        .proto(5)
        .op(b']') // result list
        .mark()
        .mark()
        .int(1)
        .raw(b"imod\nKlass\n") // INST mod.Klass(1)
        .mark()
        .global("mod", "Other")
        .int(2)
        .op(b'o') // OBJ
        .global("mod", "New")
        .empty_tuple()
        .op(0x81) // NEWOBJ
        .op(b'}')
        .build()
        .global("mod", "NewEx")
        .empty_tuple()
        .op(b'}')
        .op(0x92) // NEWOBJ_EX
        .raw(&[0x82, 1, 0x83, 2, 0, 0x84, 3, 0, 0, 0]) // EXT1/2/4
        .raw(b"Ppid\n")
        .s("x")
        .op(b'Q') // BINPERSID
        .raw(b"\x8b\x02\x00\x00\x00\x01\x02") // LONG4
        .raw(b"\x8d\x01\x00\x00\x00\x00\x00\x00\x00z") // BINUNICODE8
        .raw(b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00y") // BINBYTES8
        .raw(b"T\x01\x00\x00\x00w") // BINSTRING
        .raw(b"U\x01v") // SHORT_BINSTRING
        .op(b'2') // DUP
        .op(b'0') // POP
        .raw(b"r\x05\x00\x00\x00j\x05\x00\x00\x00") // LONG_BINPUT 5, LONG_BINGET 5
        .op(0x97) // NEXT_BUFFER
        .op(0x98) // READONLY_BUFFER
        .mark()
        .int(9)
        .op(b'1') // POP_MARK
        .op(b'e') // APPENDS
        .stop()
        .done();
    let a = run(&bytes);
    clean(&a);
    assert!(has(&a, "mod", "Klass", Usage::Inst));
    assert!(has(&a, "mod", "Other", Usage::Obj));
    assert!(has(&a, "mod", "New", Usage::NewObj));
    assert!(has(&a, "mod", "New", Usage::Build));
    assert!(has(&a, "mod", "NewEx", Usage::NewObjEx));
    for code in [1, 2, 3] {
        assert!(
            a.calls
                .iter()
                .any(|c| c.target == Target::Ext(code) && c.usage == Usage::Ext)
        );
    }
    assert_eq!(a.persistent_id_count, 2);
    assert_eq!(a.persistent_ids[0].summary, "'pid'");
}

#[test]
fn stack_global_through_the_memo_resolves() {
    // 'os' and 'system' memoized, fetched back with BINGET, then STACK_GLOBAL.
    let bytes = P::new()
        .proto(4)
        .s("os")
        .memoize()
        .op(b'0')
        .s("system")
        .memoize()
        .op(b'0')
        .get(0)
        .get(1)
        .op(0x93)
        .s("id")
        .tuple1()
        .reduce()
        .stop()
        .done();
    let a = run(&bytes);
    clean(&a);
    assert!(has(&a, "os", "system", Usage::Reduce));
}

#[test]
fn stack_global_from_computed_strings_is_unresolved() {
    // module name built by a call: ''.join(['o', 's'])
    let bytes = P::new()
        .proto(4)
        .sglobal("builtins", "str")
        .s("os")
        .tuple1()
        .reduce()
        .s("system")
        .op(0x93)
        .stop()
        .done();
    let a = run(&bytes);
    clean(&a);
    let u = a
        .calls
        .iter()
        .find(|c| matches!(c.target, Target::Unresolved(_)))
        .expect("unresolved site");
    assert!(
        u.target.to_string().contains("result of builtins.str"),
        "{}",
        u.target
    );
}

#[test]
fn getattr_and_partial_resolve_to_the_inner_callable() {
    // getattr(__import__('os'), 'system')('id')
    let bytes = P::new()
        .proto(4)
        .sglobal("builtins", "getattr")
        .sglobal("builtins", "__import__")
        .s("os")
        .tuple1()
        .reduce()
        .s("system")
        .op(0x86)
        .reduce()
        .s("id")
        .tuple1()
        .reduce()
        .stop()
        .done();
    let a = run(&bytes);
    clean(&a);
    let site = a
        .calls
        .iter()
        .find(|c| c.target == Target::global("os", "system"))
        .expect("os.system resolved");
    assert_eq!(site.usage, Usage::Reduce);
    assert_eq!(site.via, Some(Target::global("builtins", "getattr")));
    // getattr(builtins, 'eval') on an imported global object.
    let bytes = P::new()
        .proto(4)
        .sglobal("builtins", "getattr")
        .sglobal("builtins", "globals")
        .s("eval")
        .op(0x86)
        .reduce()
        .s("1")
        .tuple1()
        .reduce()
        .stop()
        .done();
    let a = run(&bytes);
    assert!(has(&a, "builtins", "globals.eval", Usage::Reduce));
    // functools.partial(os.system, 'id')()
    let bytes = P::new()
        .proto(4)
        .sglobal("functools", "partial")
        .sglobal("os", "system")
        .s("id")
        .op(0x86)
        .reduce()
        .empty_tuple()
        .reduce()
        .stop()
        .done();
    let a = run(&bytes);
    let site = a
        .calls
        .iter()
        .find(|c| c.target == Target::global("os", "system") && c.usage == Usage::Reduce)
        .expect("partial resolved");
    assert_eq!(site.via, Some(Target::global("functools", "partial")));
    assert!(
        a.calls
            .iter()
            .any(|c| c.target == Target::global("os", "system")
                && c.usage == Usage::Argument
                && c.via == Some(Target::global("functools", "partial")))
    );
}

#[test]
fn embedded_pickles_are_kept_with_their_consumers() {
    let inner = P::new()
        .proto(4)
        .sglobal("os", "system")
        .s("id")
        .tuple1()
        .reduce()
        .stop()
        .done();
    let bytes = P::new()
        .proto(4)
        .sglobal("pickle", "loads")
        .bytes(&inner)
        .tuple1()
        .reduce()
        .stop()
        .done();
    let a = run(&bytes);
    clean(&a);
    assert_eq!(a.embedded.len(), 1);
    assert_eq!(a.embedded[0].data, inner);
    assert_eq!(
        a.embedded[0].consumers,
        vec![Target::global("pickle", "loads")]
    );
    // Through _codecs.encode(str, 'latin1') as protocol 2 writes bytes.
    let text: String = inner.iter().map(|&b| char::from(b)).collect();
    let mut p = P::new()
        .proto(2)
        .global("pickle", "loads")
        .global("_codecs", "encode");
    let utf8 = text.as_bytes();
    p = p
        .op(b'X')
        .raw(&u32::try_from(utf8.len()).unwrap().to_le_bytes())
        .raw(utf8)
        .s("latin1")
        .op(0x86)
        .reduce()
        .tuple1()
        .reduce()
        .stop();
    let a = run(&p.done());
    clean(&a);
    assert_eq!(a.embedded.len(), 1);
    assert_eq!(a.embedded[0].data, inner);
    assert!(
        a.embedded[0]
            .consumers
            .contains(&Target::global("pickle", "loads"))
    );
    // Random bytes starting like a pickle are not embedded pickles.
    let a = run(&P::new()
        .proto(3)
        .bytes(b"\x80\x03garbage that is no pickle")
        .stop()
        .done());
    assert!(a.embedded.is_empty());
}

#[test]
fn malformed_streams_report_offsets() {
    let cases: &[(&[u8], u64)] = &[
        (b"\x80\x04K\x01\xff.", 4),  // unknown opcode
        (b"\x80\x04\x8c\x10abc", 2), // truncated argument
        (b"\x80\x04K\x01", 4),       // no STOP
        (b"\x80\x04R.", 2),          // stack underflow
        (b"\x80\x04h\x07.", 2),      // memo miss
        (b"\x80\x04(K\x01d.", 5),    // odd DICT
        (b"\x80\x09N.", 0),          // unsupported protocol
        (b"\x80\x04e.", 2),          // APPENDS without MARK
        (b"\x80\x04(K\x01\x81.", 5), // NEWOBJ below the mark
    ];
    for (bytes, offset) in cases {
        let a = run(bytes);
        let e = a
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("no error for {bytes:?}"));
        assert_eq!(e.offset, *offset, "{bytes:?}: {e}");
    }
    // Analysis so far is kept.
    let a = run(b"cos\nsystem\n\xff");
    assert!(has(&a, "os", "system", Usage::Import));
    assert!(a.error.is_some());
}

#[test]
fn concatenated_pickles_and_trailing_bytes() {
    let one = P::new()
        .proto(2)
        .global("os", "getcwd")
        .empty_tuple()
        .reduce()
        .stop()
        .done();
    let two = P::new().proto(4).sglobal("subprocess", "run").stop().done();
    let mut both = one.clone();
    both.extend_from_slice(&two);
    let a = run(&both);
    clean(&a);
    assert_eq!(a.pickles.len(), 2);
    assert_eq!(a.pickles[1].start, one.len() as u64);
    assert!(has(&a, "subprocess", "run", Usage::Import));
    let mut trailing = one.clone();
    trailing.extend_from_slice(b"PAYLOAD\x00\x01");
    let a = run(&trailing);
    assert!(a.error.is_none());
    assert_eq!(
        a.trailing,
        Some(Trailing {
            offset: one.len() as u64,
            len: 9
        })
    );
}

/// A legacy `torch.save` file, as `torch.serialization._legacy_save` writes it with protocol 2:
/// magic, protocol version, `sys_info`, the object (a tensor over storage key '0'), the sorted
/// storage keys, then for each storage an 8-byte element count and the raw elements.
pub(crate) fn legacy_torch_file() -> Vec<u8> {
    let magic = P::new()
        .proto(2)
        .raw(b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")
        .stop();
    let version = magic.raw(b"\x80\x02M\xe9\x03.");
    let sys_info = version
        .proto(2)
        .op(b'}')
        .mark()
        .s("protocol_version")
        .raw(b"M\xe9\x03")
        .s("little_endian")
        .op(0x88)
        .op(b'u')
        .stop();
    let main = sys_info
        .proto(2)
        .global("torch._utils", "_rebuild_tensor_v2")
        .mark()
        .mark()
        .s("storage")
        .global("torch", "FloatStorage")
        .s("0")
        .s("cpu")
        .int(6)
        .tuple()
        .op(b'Q')
        .int(0)
        .int(2)
        .int(3)
        .op(0x86)
        .int(3)
        .int(1)
        .op(0x86)
        .op(0x89)
        .global("collections", "OrderedDict")
        .empty_tuple()
        .reduce()
        .tuple()
        .reduce()
        .stop();
    let keys = main.proto(2).op(b']').s("0").op(b'a').stop();
    let mut out = keys.done();
    out.extend_from_slice(&6u64.to_le_bytes());
    out.extend_from_slice(&[0x80; 24]); // six float32 elements that happen to look like PROTO
    out
}

#[test]
fn legacy_torch_layout_is_walked_exactly() {
    let file = legacy_torch_file();
    let a = run(&file);
    assert!(a.error.is_none(), "{:?}", a.error);
    assert_eq!(a.pickles.len(), 5);
    let l = a.legacy_torch.as_ref().expect("legacy torch");
    assert!(l.exact);
    assert_eq!(l.storages, 1);
    assert_eq!(l.bytes, 32);
    assert!(a.trailing.is_none());
    assert!(a.persistent_ids[0].torch_storage);
    // Random access skips the storage data by position and agrees with streaming.
    let by_source = analyze_source(&file.as_slice(), &Limits::default(), &Options::default());
    assert_eq!(by_source, a);
    // Extra bytes after the storages are trailing data.
    let mut more = file.clone();
    more.extend_from_slice(b"hidden");
    let a = run(&more);
    assert_eq!(a.trailing.map(|t| t.len), Some(6));
}

// python3 -c "import joblib,numpy as np,io; b=io.BytesIO(); joblib.dump({'a': np.arange(3,
//   dtype=np.int16), 'o': np.array([1, None], dtype=object)}, b); print(b.getvalue())"
// joblib 1.6.0, numpy 2.4.6.
pub(crate) const JOBLIB_P4: &[u8] = b"\x80\x04\x95\xd8\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94\x8c\x13joblib.numpy_pickle\x94\x8c\x11NumpyArrayWrapper\x94\x93\x94)\x81\x94}\x94(\x8c\x08subclass\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94\x8c\x05shape\x94K\x03\x85\x94\x8c\x05order\x94\x8c\x01C\x94\x8c\x05dtype\x94h\x08\x8c\x05dtype\x94\x93\x94\x8c\x02i2\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x8c\nallow_mmap\x94\x88\x8c\x1bnumpy_array_alignment_bytes\x94K\x10ub\x0c\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x01\x00\x02\x00\x95K\x00\x00\x00\x00\x00\x00\x00\x8c\x01o\x94h\x04)\x81\x94}\x94(h\x07h\nh\x0bK\x02\x85\x94h\x0dh\x0eh\x0fh\x11\x8c\x02O8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\x94bh\x17\x89h\x18K\x10ub\x80\x05\x95\x8d\x00\x00\x00\x00\x00\x00\x00\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01K\x02\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02O8\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\x94b\x89]\x94(K\x01Net\x94b.u.";

// python3 -c "import joblib,numpy as np,io; b=io.BytesIO(); joblib.dump([np.asfortranarray(
//   np.ones((2,2),dtype='<f4')), np.array(['ab'],dtype='U2')], b, protocol=2); print(b.getvalue())"
pub(crate) const JOBLIB_P2: &[u8] = b"\x80\x02]q\x00(cjoblib.numpy_pickle\nNumpyArrayWrapper\nq\x01)\x81q\x02}q\x03(X\x08\x00\x00\x00subclassq\x04cnumpy\nndarray\nq\x05X\x05\x00\x00\x00shapeq\x06K\x02K\x02\x86q\x07X\x05\x00\x00\x00orderq\x08X\x01\x00\x00\x00Fq\x09X\x05\x00\x00\x00dtypeq\ncnumpy\ndtype\nq\x0bX\x02\x00\x00\x00f4q\x0c\x89\x88\x87q\x0dRq\x0e(K\x03X\x01\x00\x00\x00<q\x0fNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x10bX\n\x00\x00\x00allow_mmapq\x11\x88X\x1b\x00\x00\x00numpy_array_alignment_bytesq\x12K\x10ub\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?h\x01)\x81q\x13}q\x14(h\x04h\x05h\x06K\x01\x85q\x15h\x08X\x01\x00\x00\x00Cq\x16h\nh\x0bX\x02\x00\x00\x00U2q\x17\x89\x88\x87q\x18Rq\x19(K\x03h\x0fNNNK\x08K\x04K\x08tq\x1abh\x11\x88h\x12K\x10ub\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffa\x00\x00\x00b\x00\x00\x00e.";

#[test]
fn joblib_array_data_is_skipped_exactly() {
    let a = run(JOBLIB_P4);
    clean(&a);
    let j = a.joblib.as_ref().expect("joblib");
    assert_eq!((j.arrays, j.object_arrays), (1, 1));
    assert_eq!(j.bytes, 1 + 12 + 6);
    assert!(has(
        &a,
        "numpy._core.multiarray",
        "_reconstruct",
        Usage::Reduce
    ));
    let a = run(JOBLIB_P2);
    clean(&a);
    let j = a.joblib.as_ref().expect("joblib");
    assert_eq!(j.arrays, 2);
    assert_eq!(j.bytes, (1 + 15 + 16) + (1 + 16 + 8));
    // joblib < 1.2: no alignment key, no padding byte.
    let old = P::new()
        .proto(4)
        .sglobal("joblib.numpy_pickle", "NumpyArrayWrapper")
        .empty_tuple()
        .op(0x81)
        .op(b'}')
        .mark()
        .s("shape")
        .int(2)
        .tuple1()
        .s("order")
        .s("C")
        .s("dtype")
        .sglobal("numpy", "dtype")
        .s("f8")
        .op(0x89)
        .op(0x88)
        .op(0x87)
        .reduce()
        .op(b'u')
        .build()
        .raw(&[0x11; 16])
        .stop()
        .done();
    let a = run(&old);
    clean(&a);
    assert_eq!(a.joblib.map(|j| j.bytes), Some(16));
    // A wrapper promising more data than the stream holds is truncated, not skipped silently.
    let short = &JOBLIB_P2[..JOBLIB_P2.len() - 20];
    assert!(matches!(
        run(short).error,
        Some(PickleError {
            kind: ErrorKind::Truncated(_),
            ..
        })
    ));
}

#[test]
fn sniff_accepts_pickles_and_rejects_text() {
    assert!(sniff(b"\x80\x02}q\x00."));
    assert!(sniff(b"\x80\x05"));
    assert!(!sniff(b"\x80\x06"));
    assert!(sniff(b"cos\nsystem\n(S'ls'\ntR."));
    assert!(sniff(P0));
    assert!(sniff(P1));
    assert!(sniff(b"(dp0\nVa\np1\nI1\ns."));
    assert!(sniff(b"N."));
    // PROTO then opcodes that make no sense: raw tensor data, not a pickle.
    assert!(!sniff(b"\x80\x02\xff\x13\x07\x00\x00\x00\x00\x00"));
    assert!(!sniff(b"\x80\x02R\x00\x00\x00"));
    // A value running past the 64 KiB detection prefix still counts.
    let mut long = b"S'".to_vec();
    long.resize(64 * 1024, b'a');
    assert!(sniff(&long));
    // A binary "length" past the prefix is not enough (X-cursor files start `Xcur`).
    let mut cursor = b"Xcur\x10\x00\x00\x00".to_vec();
    cursor.resize(64 * 1024, 0);
    assert!(!sniff(&cursor));
    // ...but the same truncation in a short (whole) file is not a pickle.
    assert!(!sniff(b"Go"));
    assert!(!sniff(b"S'abc"));
    // A stream cut after importing something still counts: CPython runs what it read.
    assert!(sniff(b"cbuiltins\nbreakpoint\n)R"));
    assert!(sniff(b"cidlelib.idle\nx\n.trailing"));
    // Protocol-4 opcodes without PROTO still load in CPython, so they must be scanned.
    assert!(sniff(
        &P::new()
            .sglobal("os", "system")
            .s("id")
            .tuple1()
            .reduce()
            .stop()
            .done()
    ));
    for text in [
        &b"{\"a\": 1}"[..],
        b"[1, 2, 3]",
        b"Hello, world\n",
        b"It was a dark night",
        b"(c) 2024 Example Corp\nAll rights reserved.\n",
        b"N",
        b"",
        b"# README\n",
        b"Kitten",
        b"def f():\n    pass\n",
        b"0.5,1.5\n",
        b"name,value\nx,1\n",
        b"Git v2.23.4 Release Notes\n=========================\n",
        b"PKGVERSION = \"(tzcode) \"\nTZVERSION = \"2025b\"\n",
    ] {
        assert!(!sniff(text), "{:?}", String::from_utf8_lossy(text));
    }
}

#[test]
fn limits_stop_analysis_and_say_so() {
    let many_ops = P::new()
        .proto(2)
        .op(b']')
        .raw(&b"K\x01\x85\x30".repeat(100))
        .stop()
        .done();
    let limits = Limits {
        max_pickle_ops: 50,
        ..Limits::default()
    };
    let a = analyze(many_ops.as_slice(), &limits);
    assert!(matches!(
        a.limit,
        Some(PickleError {
            kind: ErrorKind::Limit(_),
            ..
        })
    ));
    let deep = P::new().proto(2).raw(&[b'('; 1000]).stop().done();
    let limits = Limits {
        max_pickle_stack: 100,
        ..Limits::default()
    };
    assert!(analyze(deep.as_slice(), &limits).limit.is_some());
    let memo = P::new().proto(4).op(b'N').raw(&[0x94; 100]).stop().done();
    let limits = Limits {
        max_pickle_memo: 10,
        ..Limits::default()
    };
    assert!(analyze(memo.as_slice(), &limits).limit.is_some());
    let values = P::new()
        .proto(4)
        .op(b']')
        .mark()
        .raw(&[b'N'; 100])
        .op(b'e')
        .stop()
        .done();
    let limits = Limits {
        max_pickle_values: 50,
        ..Limits::default()
    };
    assert!(analyze(values.as_slice(), &limits).limit.is_some());
    let limits = Limits {
        max_pickle_bytes: 10,
        ..Limits::default()
    };
    let a = analyze(P0, &limits);
    assert!(matches!(
        a.limit,
        Some(PickleError {
            kind: ErrorKind::TooLarge,
            ..
        })
    ));
    let limits = Limits {
        max_pickles_per_stream: 2,
        ..Limits::default()
    };
    let three = [P2, P2, P2].concat();
    assert!(analyze(three.as_slice(), &limits).limit.is_some());
}

#[test]
fn a_huge_declared_value_is_streamed_not_allocated() {
    // 3 MiB of BINBYTES with a 1 KiB value cap: kept as a preview, the stream still parses.
    let payload = vec![7u8; 3 << 20];
    let bytes = P::new().proto(3).bytes(&payload).stop().done();
    let limits = Limits {
        max_pickle_value_bytes: 1024,
        ..Limits::default()
    };
    let a = analyze(bytes.as_slice(), &limits);
    clean(&a);
    assert_eq!(a.bytes, bytes.len() as u64);
    let b = analyze_source(&bytes.as_slice(), &limits, &Options::default());
    assert_eq!(a, b);
    // A declared length past the end is truncation, whichever way the bytes are skipped.
    let cut = &bytes[..bytes.len() - 10];
    let e = analyze_source(&cut, &limits, &Options::default()).error;
    assert!(
        matches!(
            e,
            Some(PickleError {
                kind: ErrorKind::Truncated(_),
                ..
            })
        ),
        "{e:?}"
    );
    let text = decompile(bytes.as_slice(), &limits);
    assert!(text.contains("(3145728 bytes)"), "{text}");
}

#[test]
fn decompile_shows_imports_calls_and_state() {
    let code = decompile(JOBLIB_P2, &Limits::default());
    assert!(
        code.contains("from joblib.numpy_pickle import NumpyArrayWrapper"),
        "{code}"
    );
    assert!(code.contains("__setstate__"), "{code}");
    assert!(code.contains("<array data read by joblib>"), "{code}");
    let listing = listing(legacy_torch_file().as_slice(), &Limits::default());
    assert!(listing.contains("legacy torch storage data"), "{listing}");
    assert!(listing.contains("# pickle 4 at offset"), "{listing}");
}

/// Opcode snippets (valid on their own) that the soup test strings together at random.
const SNIPPETS: &[&[u8]] = &[
    b"\x80\x02",
    b"\x80\x04",
    b"\x95\x04\x00\x00\x00\x00\x00\x00\x00",
    b"(",
    b")",
    b"]",
    b"}",
    b"\x8f",
    b"N",
    b"K\x01",
    b"J\xff\xff\xff\xff",
    b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
    b"\x8c\x02os",
    b"\x8c\x06system",
    b"\x8c\x13joblib.numpy_pickle",
    b"\x8c\x11NumpyArrayWrapper",
    b"\x8c\x05shape",
    b"\x8c\x05dtype",
    b"\x8c\x02f8",
    b"\x8c\x05numpy",
    b"\x8c\x07storage",
    b"cbuiltins\ngetattr\n",
    b"cfunctools\npartial\n",
    b"cnumpy\ndtype\n",
    b"ctorch\nFloatStorage\n",
    b"\x93",
    b"R",
    b"b",
    b"\x81",
    b"\x92",
    b"o",
    b"t",
    b"l",
    b"d",
    b"a",
    b"e",
    b"s",
    b"u",
    b"\x90",
    b"\x91",
    b"\x85",
    b"\x86",
    b"\x87",
    b"0",
    b"1",
    b"2",
    b"\x94",
    b"h\x00",
    b"h\x01",
    b"q\x00",
    b"g0\n",
    b"p1\n",
    b"Q",
    b"Pid\n",
    b"\x82\x01",
    b"\x97",
    b"\x98",
    b"C\x03abc",
    b"B\x0b\x00\x00\x00\x80\x02cos\nsystem\n.",
    b"S'x'\n",
    b"V\\u0041\n",
    b"I01\n",
    b"F1.5\n",
    b"imod\nname\n",
    b".",
    b"\x00\x00\x00\x00\x00\x00\x00\x00",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = Limits { max_pickle_ops: 10_000, ..Limits::default() };
        let a = analyze(bytes.as_slice(), &limits);
        prop_assert!(a.ops <= 10_001 + 64);
        let _ = sniff(&bytes);
        let _ = listing(bytes.as_slice(), &limits);
        let _ = decompile(bytes.as_slice(), &limits);
    }

    #[test]
    fn never_panics_on_opcode_soup(parts in proptest::collection::vec(0usize..SNIPPETS.len(), 0..200)) {
        let mut bytes = Vec::new();
        for i in parts {
            bytes.extend_from_slice(SNIPPETS[i]);
        }
        let limits = Limits { max_pickle_ops: 10_000, max_pickle_stack: 64, ..Limits::default() };
        let a = analyze(bytes.as_slice(), &limits);
        prop_assert!(a.bytes <= bytes.len() as u64);
        let _ = decompile(bytes.as_slice(), &limits);
    }

    #[test]
    fn never_panics_on_mutated_pickles(
        idx in 0usize..6,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let base = [P0, P1, P2, P3, P4, JOBLIB_P4][idx];
        let mut bytes = base.to_vec();
        for (at, b) in flips {
            let at = at % bytes.len();
            bytes[at] = b;
        }
        let a = analyze(bytes.as_slice(), &Limits::default());
        prop_assert!(a.bytes <= bytes.len() as u64);
        let _ = decompile(bytes.as_slice(), &Limits::default());
    }
}

/// Throughput sanity check (no timed assertion): run with
/// `cargo test -p modelgate-formats --release -- --ignored throughput --nocapture`.
#[test]
#[ignore = "prints throughput; run on demand"]
fn throughput() {
    use std::time::Instant;
    // Op-dense: a torch-like state dict with 200k tensors' worth of opcodes.
    let mut p = P::new()
        .proto(2)
        .global("collections", "OrderedDict")
        .empty_tuple()
        .reduce();
    for i in 0..200_000u32 {
        // SETITEMS in batches of 1000, as pickle writes them.
        if i % 1000 == 0 {
            if i > 0 {
                p = p.op(b'u');
            }
            p = p.mark();
        }
        let key = format!("layer{i}.weight");
        p = p
            .s(&key)
            .global("torch._utils", "_rebuild_tensor_v2")
            .mark()
            .mark()
            .s("storage")
            .global("torch", "FloatStorage")
            .s(&i.to_string())
            .s("cpu")
            .int(6)
            .tuple()
            .op(b'Q')
            .int(0)
            .int(2)
            .int(3)
            .op(0x86)
            .int(3)
            .int(1)
            .op(0x86)
            .op(0x89)
            .global("collections", "OrderedDict")
            .empty_tuple()
            .reduce()
            .tuple()
            .reduce();
    }
    let dense = p.op(b'u').stop().done();
    // Payload-heavy: 64 values of 4 MiB each (BINBYTES), as joblib/legacy pickles carry.
    let mut p = P::new().proto(3).op(b']').mark();
    let chunk = vec![0x5au8; 4 << 20];
    for _ in 0..64 {
        p = p.bytes(&chunk);
    }
    let heavy = p.op(b'e').stop().done();
    for (name, bytes) in [("op-dense", &dense), ("payload-heavy", &heavy)] {
        let t = Instant::now();
        let a = analyze(bytes.as_slice(), &Limits::default());
        let secs = t.elapsed().as_secs_f64();
        assert!(
            a.error.is_none() && a.limit.is_none(),
            "{:?} {:?}",
            a.error,
            a.limit
        );
        #[allow(clippy::cast_precision_loss)]
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "{name}: {mb:.1} MB, {} ops in {secs:.3}s = {:.0} MB/s",
            a.ops,
            mb / secs
        );
    }
}

#[test]
#[ignore = "manual: counts files under $SNIFF_DIR that sniff as pickles"]
fn sniff_survey() {
    let dir = std::env::var("SNIFF_DIR").unwrap();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    let (mut files, mut hits) = (0, 0);
    while let Some(p) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() && !path.is_symlink() {
                    stack.push(path);
                } else if path.is_file() {
                    let Ok(bytes) = std::fs::read(&path) else {
                        continue;
                    };
                    files += 1;
                    let prefix = &bytes[..bytes.len().min(65536)];
                    if sniff(prefix) {
                        hits += 1;
                        println!("{}", path.display());
                    }
                }
            }
        }
    }
    println!("{hits} of {files} files sniff as pickles");
}

/// Throughput on a file: `PICKLE_FILE=… cargo test -p modelgate-formats --release -- --ignored
/// throughput_file --nocapture` (reads through a buffered file reader, as the scanner does).
#[test]
#[ignore = "prints throughput for $PICKLE_FILE"]
fn throughput_file() {
    use std::time::Instant;
    let path = std::env::var("PICKLE_FILE").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let len = file.metadata().unwrap().len();
    let t = Instant::now();
    let a = analyze(std::io::BufReader::new(file), &Limits::default());
    let secs = t.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let mb = len as f64 / 1e6;
    println!(
        "{path}: {mb:.1} MB, {} ops, {} sites, error {:?}, in {secs:.3}s = {:.0} MB/s",
        a.ops,
        a.calls.len(),
        a.error,
        mb / secs
    );
}

#[test]
fn joblib_array_data_that_is_a_pickle_is_checked() {
    // joblib < 1.2 layout (no padding byte): a uint8 array whose bytes are opcodes. joblib
    // reads them as data; plain pickle.load would run them.
    let payload = P::new()
        .proto(2)
        .global("os", "system")
        .s("id")
        .tuple1()
        .reduce()
        .stop()
        .done();
    let n = u8::try_from(payload.len()).unwrap();
    let bytes = P::new()
        .proto(4)
        .sglobal("joblib.numpy_pickle", "NumpyArrayWrapper")
        .empty_tuple()
        .op(0x81)
        .op(b'}')
        .mark()
        .s("shape")
        .int(n)
        .tuple1()
        .s("order")
        .s("C")
        .s("dtype")
        .sglobal("numpy", "dtype")
        .s("u1")
        .op(0x89)
        .op(0x88)
        .op(0x87)
        .reduce()
        .op(b'u')
        .build()
        .raw(&payload)
        .stop()
        .done();
    let a = run(&bytes);
    clean(&a);
    assert_eq!(a.joblib.as_ref().map(|j| j.arrays), Some(1));
    assert_eq!(a.embedded.len(), 1);
    assert_eq!(a.embedded[0].data, payload);
}

#[test]
#[ignore = "manual: prints the explain views of $PICKLE_FILE"]
fn print_views() {
    let path = std::env::var("PICKLE_FILE").unwrap();
    let bytes = std::fs::read(path).unwrap();
    let e = explain_stream(bytes.as_slice(), &Limits::default());
    println!("{}\n{}", e.listing, e.code);
}

#[test]
#[ignore = "manual: prints `file offset opcode` for every file under $CORPUS (differential check)"]
fn corpus_ops() {
    use std::fmt::Write as _;
    let dir = std::env::var("CORPUS").unwrap();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        let a = analyze(bytes.as_slice(), &Limits::default());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        println!(
            "SUMMARY {name} ops={} err={:?} trailing={:?}",
            a.ops, a.error, a.trailing
        );
        for c in &a.calls {
            if let (Target::Global { module, name: n }, Usage::Import | Usage::Inst) =
                (&c.target, c.usage)
            {
                println!("GLOBAL {name} {module} {n}");
            }
        }
        for item in Disassembler::new(bytes.as_slice(), &Limits::default()) {
            match item {
                Ok((off, op, arg)) => {
                    let canon = match &arg {
                        Arg::Int(i) | Arg::Ext(i) => i.to_string(),
                        Arg::Memo(i) | Arg::Frame(i) => i.to_string(),
                        Arg::Proto(p) => p.to_string(),
                        Arg::Bool(b) => (if *b { "True" } else { "False" }).to_owned(),
                        Arg::Long(l) => l.value.map_or_else(|| "?".to_owned(), |v| v.to_string()),
                        Arg::Float(f) => format!("{f:e}"),
                        Arg::Text(b) => format!(
                            "T{}",
                            b.data.iter().fold(String::new(), |mut h, c| {
                                let _ = write!(h, "{c:02x}");
                                h
                            })
                        ),
                        Arg::Str8(b) | Arg::Bytes(b) => format!(
                            "B{}",
                            b.data.iter().fold(String::new(), |mut h, c| {
                                let _ = write!(h, "{c:02x}");
                                h
                            })
                        ),
                        Arg::Pair(p) => format!("{}.{}", p.0, p.1),
                        Arg::PersId(p) => p.clone(),
                        Arg::None => "-".to_owned(),
                    };
                    println!("OP {name} {off} {} {canon}", op.name());
                }
                Err(e) => println!("ERR {name} {e}"),
            }
        }
    }
}
