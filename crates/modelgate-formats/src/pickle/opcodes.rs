//! The pickle opcode table (protocols 0 to 5), as documented by `CPython`'s `pickletools`.

/// How an opcode's argument is encoded in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument.
    None,
    /// One unsigned byte.
    U1,
    /// Two-byte unsigned little-endian.
    U2,
    /// Four-byte signed little-endian.
    I4,
    /// Four-byte unsigned little-endian.
    U4,
    /// Eight-byte unsigned little-endian.
    U8,
    /// Eight-byte big-endian IEEE double.
    F8,
    /// A decimal integer ending in a newline (`I`; `I01\n`/`I00\n` are booleans).
    DecimalNl,
    /// A decimal long ending in a newline, with an optional trailing `L`.
    LongNl,
    /// A float repr ending in a newline.
    FloatNl,
    /// A quoted, backslash-escaped string ending in a newline (`S'...'`).
    StringNl,
    /// A raw-unicode-escape string ending in a newline (`V`).
    UnicodeNl,
    /// An unescaped string ending in a newline (`P`).
    StringNlNoEscape,
    /// Two unescaped newline-terminated strings: module and name (`c`, `i`).
    StringNlPair,
    /// Byte-length-prefixed little-endian two's-complement integer (`LONG1`).
    Long1,
    /// Four-byte-length-prefixed little-endian two's-complement integer (`LONG4`).
    Long4,
    /// Bytes with a one-byte length.
    Bytes1,
    /// Bytes with a four-byte signed length (`BINSTRING`).
    BytesI4,
    /// Bytes with a four-byte unsigned length.
    Bytes4,
    /// Bytes with an eight-byte length.
    Bytes8,
    /// UTF-8 with a one-byte length.
    Utf8_1,
    /// UTF-8 with a four-byte length.
    Utf8_4,
    /// UTF-8 with an eight-byte length.
    Utf8_8,
}

macro_rules! opcodes {
    ($($variant:ident = ($byte:literal, $name:literal, $arg:ident, $proto:literal);)+) => {
        /// One pickle opcode.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Opcode { $($variant,)+ }

        impl Opcode {
            /// Every opcode, in table order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$variant,)+];

            /// The opcode for a byte, if there is one.
            #[inline]
            pub fn from_byte(b: u8) -> Option<Opcode> {
                match b { $($byte => Some(Opcode::$variant),)+ _ => None }
            }

            /// The byte that encodes this opcode.
            pub fn byte(self) -> u8 {
                match self { $(Opcode::$variant => $byte,)+ }
            }

            /// The `pickletools` name (`STACK_GLOBAL`).
            pub fn name(self) -> &'static str {
                match self { $(Opcode::$variant => $name,)+ }
            }

            /// How the argument is encoded.
            #[inline]
            pub fn arg_kind(self) -> ArgKind {
                match self { $(Opcode::$variant => ArgKind::$arg,)+ }
            }

            /// The protocol that introduced the opcode.
            pub fn protocol(self) -> u8 {
                match self { $(Opcode::$variant => $proto,)+ }
            }
        }
    };
}

opcodes! {
    Int = (b'I', "INT", DecimalNl, 0);
    BinInt = (b'J', "BININT", I4, 1);
    BinInt1 = (b'K', "BININT1", U1, 1);
    BinInt2 = (b'M', "BININT2", U2, 1);
    Long = (b'L', "LONG", LongNl, 0);
    Long1 = (0x8a, "LONG1", Long1, 2);
    Long4 = (0x8b, "LONG4", Long4, 2);
    String = (b'S', "STRING", StringNl, 0);
    BinString = (b'T', "BINSTRING", BytesI4, 1);
    ShortBinString = (b'U', "SHORT_BINSTRING", Bytes1, 1);
    BinBytes = (b'B', "BINBYTES", Bytes4, 3);
    ShortBinBytes = (b'C', "SHORT_BINBYTES", Bytes1, 3);
    BinBytes8 = (0x8e, "BINBYTES8", Bytes8, 4);
    ByteArray8 = (0x96, "BYTEARRAY8", Bytes8, 5);
    NextBuffer = (0x97, "NEXT_BUFFER", None, 5);
    ReadonlyBuffer = (0x98, "READONLY_BUFFER", None, 5);
    NoneOp = (b'N', "NONE", None, 0);
    NewTrue = (0x88, "NEWTRUE", None, 2);
    NewFalse = (0x89, "NEWFALSE", None, 2);
    Unicode = (b'V', "UNICODE", UnicodeNl, 0);
    ShortBinUnicode = (0x8c, "SHORT_BINUNICODE", Utf8_1, 4);
    BinUnicode = (b'X', "BINUNICODE", Utf8_4, 1);
    BinUnicode8 = (0x8d, "BINUNICODE8", Utf8_8, 4);
    Float = (b'F', "FLOAT", FloatNl, 0);
    BinFloat = (b'G', "BINFLOAT", F8, 1);
    EmptyList = (b']', "EMPTY_LIST", None, 1);
    Append = (b'a', "APPEND", None, 0);
    Appends = (b'e', "APPENDS", None, 1);
    List = (b'l', "LIST", None, 0);
    EmptyTuple = (b')', "EMPTY_TUPLE", None, 1);
    Tuple = (b't', "TUPLE", None, 0);
    Tuple1 = (0x85, "TUPLE1", None, 2);
    Tuple2 = (0x86, "TUPLE2", None, 2);
    Tuple3 = (0x87, "TUPLE3", None, 2);
    EmptyDict = (b'}', "EMPTY_DICT", None, 1);
    Dict = (b'd', "DICT", None, 0);
    SetItem = (b's', "SETITEM", None, 0);
    SetItems = (b'u', "SETITEMS", None, 1);
    EmptySet = (0x8f, "EMPTY_SET", None, 4);
    AddItems = (0x90, "ADDITEMS", None, 4);
    FrozenSet = (0x91, "FROZENSET", None, 4);
    Pop = (b'0', "POP", None, 0);
    Dup = (b'2', "DUP", None, 0);
    Mark = (b'(', "MARK", None, 0);
    PopMark = (b'1', "POP_MARK", None, 1);
    Get = (b'g', "GET", DecimalNl, 0);
    BinGet = (b'h', "BINGET", U1, 1);
    LongBinGet = (b'j', "LONG_BINGET", U4, 1);
    Put = (b'p', "PUT", DecimalNl, 0);
    BinPut = (b'q', "BINPUT", U1, 1);
    LongBinPut = (b'r', "LONG_BINPUT", U4, 1);
    Memoize = (0x94, "MEMOIZE", None, 4);
    Ext1 = (0x82, "EXT1", U1, 2);
    Ext2 = (0x83, "EXT2", U2, 2);
    Ext4 = (0x84, "EXT4", I4, 2);
    Global = (b'c', "GLOBAL", StringNlPair, 0);
    StackGlobal = (0x93, "STACK_GLOBAL", None, 4);
    Reduce = (b'R', "REDUCE", None, 0);
    Build = (b'b', "BUILD", None, 0);
    Inst = (b'i', "INST", StringNlPair, 0);
    Obj = (b'o', "OBJ", None, 1);
    NewObj = (0x81, "NEWOBJ", None, 2);
    NewObjEx = (0x92, "NEWOBJ_EX", None, 4);
    Proto = (0x80, "PROTO", U1, 2);
    Stop = (b'.', "STOP", None, 0);
    Frame = (0x95, "FRAME", U8, 4);
    PersId = (b'P', "PERSID", StringNlNoEscape, 0);
    BinPersId = (b'Q', "BINPERSID", None, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips_and_matches_pickletools_count() {
        // pickletools.opcodes has 68 entries in CPython 3.8+.
        assert_eq!(Opcode::ALL.len(), 68);
        for op in Opcode::ALL {
            assert_eq!(Opcode::from_byte(op.byte()), Some(*op));
            assert!(op.protocol() <= 5);
        }
        assert_eq!(Opcode::from_byte(b'\n'), None);
    }
}
