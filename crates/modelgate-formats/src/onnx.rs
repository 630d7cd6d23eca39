//! ONNX `ModelProto` walker: only the fields the scan rules need, read with the bounded
//! [`protobuf`](crate::protobuf) walker so that multi-GB `raw_data` payloads are skipped by length
//! without being read.
//!
//! Collected: `ir_version` (1), `opset_import` (8: domain 1, version 2), the operator kinds of
//! every node (`op_type` 4, `domain` 7) in the main graph (7), in subgraphs held by node
//! attributes (`g` 6, `graphs` 11) and training graphs (20), and in local functions (25: name 1,
//! node 7, domain 10); every tensor that stores its data externally (`data_location` 14 =
//! EXTERNAL, or any `external_data` 13 entries `location`/`offset`/`length`) among initializers
//! (5), sparse initializers (15), and attribute tensors (`t` 5, `tensors` 10); and
//! `metadata_props` (14). Nesting is bounded by `Limits::max_protobuf_depth` and the number of
//! items kept by `Limits::max_onnx_items`.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::onnx;
//!
//! // ir_version 8, opset_import { domain "" version 17 }
//! let model = [0x08, 0x08, 0x42, 0x02, 0x10, 0x11];
//! assert!(onnx::sniff(&model));
//! let parsed = onnx::read(&model.as_slice(), &Limits::default()).unwrap();
//! assert_eq!(parsed.ir_version, Some(8));
//! assert_eq!(parsed.opset_imports[0].version, Some(17));
//! ```

use std::collections::HashMap;

use modelgate_core::Limits;

use crate::ByteSource;
use crate::protobuf::{Field, Fields, ProtobufError, Reader, Value};

/// Longest string field kept (names, domains, external-data entries).
pub const MAX_STRING: u64 = 1024 * 1024;

/// An `opset_import` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsetImport {
    /// Operator set domain (`""` is the default `ai.onnx` domain).
    pub domain: String,
    /// Version.
    pub version: Option<u64>,
    /// Offset of the entry.
    pub offset: u64,
}

/// A distinct `(domain, op_type)` used by nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpKind {
    /// Node domain (`""` is `ai.onnx`).
    pub domain: String,
    /// Operator name.
    pub op_type: String,
    /// Offset of the first node using it.
    pub first_offset: u64,
    /// How many nodes use it.
    pub count: u64,
}

/// A model-local function (`FunctionProto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Function domain.
    pub domain: String,
    /// Function name (the `op_type` nodes use to call it).
    pub name: String,
    /// Offset of the function.
    pub offset: u64,
}

/// A tensor whose data lives outside the model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalTensor {
    /// Tensor name.
    pub name: String,
    /// The `external_data` key/value entries, in order (`location`, `offset`, `length`, …).
    pub entries: Vec<(String, String)>,
    /// True when `data_location` is EXTERNAL (1).
    pub marked_external: bool,
    /// Offset of the `TensorProto`.
    pub offset: u64,
}

impl ExternalTensor {
    /// The value of the first entry with `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What the rules need from a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnnxModel {
    /// `ir_version`.
    pub ir_version: Option<u64>,
    /// Opset imports of the model (not of functions).
    pub opset_imports: Vec<OpsetImport>,
    /// Distinct operator kinds, in order of first use.
    pub op_kinds: Vec<OpKind>,
    /// Local functions.
    pub functions: Vec<Function>,
    /// Tensors with external data.
    pub external_tensors: Vec<ExternalTensor>,
    /// `metadata_props`.
    pub metadata: Vec<(String, String)>,
    /// Total nodes seen.
    pub node_count: u64,
    /// Total tensors seen.
    pub tensor_count: u64,
}

/// What is wrong with an ONNX file; every variant carries the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    /// The protobuf wire format is broken.
    #[error("{0}")]
    Wire(#[from] ProtobufError),
    /// A known field has the wrong wire type.
    #[error("field {field} of {message} at offset {offset} has the wrong wire type")]
    WireType {
        /// Offset of the field.
        offset: u64,
        /// Field number.
        field: u32,
        /// Message name.
        message: &'static str,
    },
    /// Messages nested deeper than the limit.
    #[error("messages nested deeper than {max} levels at offset {offset}")]
    TooDeep {
        /// Offset of the message that went too deep.
        offset: u64,
        /// The limit.
        max: u32,
    },
    /// More items than `Limits::max_onnx_items`.
    #[error(
        "more than {max} operator kinds, tensors with external data, functions or metadata entries (at offset {offset})"
    )]
    TooMany {
        /// Offset where the limit was hit.
        offset: u64,
        /// The limit.
        max: u64,
    },
    /// A string field longer than [`MAX_STRING`].
    #[error("string field of {len} bytes at offset {offset} exceeds {MAX_STRING} bytes")]
    StringTooLong {
        /// Offset of the string.
        offset: u64,
        /// Its length.
        len: u64,
    },
}

impl OnnxError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            OnnxError::Wire(e) => e.offset(),
            OnnxError::WireType { offset, .. }
            | OnnxError::TooDeep { offset, .. }
            | OnnxError::TooMany { offset, .. }
            | OnnxError::StringTooLong { offset, .. } => *offset,
        }
    }
}

/// `ModelProto` field numbers and whether each is length-delimited.
fn model_field_is_len(number: u64) -> Option<bool> {
    match number {
        1 | 5 => Some(false), // ir_version, model_version
        2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25 | 26 => Some(true), // strings and messages
        _ => None,
    }
}

/// True when `prefix` plausibly starts an ONNX `ModelProto`: field 1 (`ir_version`) as a small
/// varint first, then a walkable sequence of `ModelProto` fields with the right wire types, at
/// least two fields in all, and string fields that are UTF-8 where they fit in the prefix.
pub fn sniff(prefix: &[u8]) -> bool {
    if prefix.first() != Some(&0x08) {
        return false;
    }
    let mut r = Reader::new(&prefix);
    let end = prefix.len() as u64;
    let mut fields = Fields::new(0, u64::MAX);
    let mut count = 0u32;
    loop {
        let field = match fields.next(&mut r) {
            Ok(Some(f)) => f,
            // Running off the end of the prefix inside a large field is expected.
            Err(ProtobufError::Truncated { .. } | ProtobufError::Read { .. }) | Ok(None) => break,
            Err(_) => return false,
        };
        let Some(is_len) = model_field_is_len(u64::from(field.number)) else {
            return false;
        };
        match field.value {
            Value::Varint(v) if !is_len => {
                if field.number == 1 && !(1..=64).contains(&v) {
                    return false;
                }
            }
            Value::Len { start, len } if is_len => {
                let field_end = start.saturating_add(len);
                if matches!(field.number, 2 | 3 | 4 | 6) && field_end <= end {
                    let Some(bytes) = prefix.get(start as usize..field_end as usize) else {
                        return false;
                    };
                    if std::str::from_utf8(bytes).is_err() {
                        return false;
                    }
                }
                count += 1;
                if field_end >= end {
                    break;
                }
                continue;
            }
            _ => return false,
        }
        count += 1;
    }
    count >= 2
}

/// Walks the ONNX model in `src`.
pub fn read(src: &dyn ByteSource, limits: &Limits) -> Result<OnnxModel, OnnxError> {
    let mut w = Walker {
        r: Reader::new(src),
        limits,
        model: OnnxModel::default(),
        kinds: HashMap::new(),
        items: 0,
    };
    let end = w.r.len();
    w.model_proto(0, end)?;
    Ok(w.model)
}

struct Walker<'a> {
    r: Reader<'a>,
    limits: &'a Limits,
    model: OnnxModel,
    kinds: HashMap<(String, String), usize>,
    items: u64,
}

impl Walker<'_> {
    fn count_item(&mut self, offset: u64) -> Result<(), OnnxError> {
        self.items += 1;
        if self.items > self.limits.max_onnx_items {
            return Err(OnnxError::TooMany {
                offset,
                max: self.limits.max_onnx_items,
            });
        }
        Ok(())
    }

    fn check_depth(&self, depth: u32, offset: u64) -> Result<(), OnnxError> {
        if depth > self.limits.max_protobuf_depth {
            return Err(OnnxError::TooDeep {
                offset,
                max: self.limits.max_protobuf_depth,
            });
        }
        Ok(())
    }

    fn string(&mut self, field: &Field, message: &'static str) -> Result<String, OnnxError> {
        let (start, len) = len_of(field, message)?;
        if len > MAX_STRING {
            return Err(OnnxError::StringTooLong {
                offset: field.offset,
                len,
            });
        }
        let bytes = self.r.bytes(start, len)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn model_proto(&mut self, start: u64, end: u64) -> Result<(), OnnxError> {
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                1 => self.model.ir_version = Some(varint_of(&f, "ModelProto")?),
                7 => {
                    let (s, l) = len_of(&f, "ModelProto")?;
                    self.graph(s, s + l, 1)?;
                }
                8 => {
                    let (s, l) = len_of(&f, "ModelProto")?;
                    let opset = self.opset(f.offset, s, s + l)?;
                    self.count_item(f.offset)?;
                    self.model.opset_imports.push(opset);
                }
                14 => {
                    let (s, l) = len_of(&f, "ModelProto")?;
                    let entry = self.string_entry(s, s + l)?;
                    self.count_item(f.offset)?;
                    self.model.metadata.push(entry);
                }
                20 => {
                    // TrainingInfoProto: initialization (1) and algorithm (2) are graphs.
                    let (s, l) = len_of(&f, "ModelProto")?;
                    let mut inner = Fields::new(s, s + l);
                    while let Some(g) = inner.next(&mut self.r)? {
                        if matches!(g.number, 1 | 2) {
                            let (gs, gl) = len_of(&g, "TrainingInfoProto")?;
                            self.graph(gs, gs + gl, 2)?;
                        }
                    }
                }
                25 => {
                    let (s, l) = len_of(&f, "ModelProto")?;
                    self.function(f.offset, s, s + l)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn opset(&mut self, offset: u64, start: u64, end: u64) -> Result<OpsetImport, OnnxError> {
        let mut opset = OpsetImport {
            domain: String::new(),
            version: None,
            offset,
        };
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                1 => opset.domain = self.string(&f, "OperatorSetIdProto")?,
                2 => opset.version = Some(varint_of(&f, "OperatorSetIdProto")?),
                _ => {}
            }
        }
        Ok(opset)
    }

    fn string_entry(&mut self, start: u64, end: u64) -> Result<(String, String), OnnxError> {
        let (mut key, mut value) = (String::new(), String::new());
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                1 => key = self.string(&f, "StringStringEntryProto")?,
                2 => value = self.string(&f, "StringStringEntryProto")?,
                _ => {}
            }
        }
        Ok((key, value))
    }

    fn graph(&mut self, start: u64, end: u64, depth: u32) -> Result<(), OnnxError> {
        self.check_depth(depth, start)?;
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                1 => {
                    let (s, l) = len_of(&f, "GraphProto")?;
                    self.node(f.offset, s, s + l, depth + 1)?;
                }
                5 => {
                    let (s, l) = len_of(&f, "GraphProto")?;
                    self.tensor(f.offset, s, s + l)?;
                }
                15 => {
                    let (s, l) = len_of(&f, "GraphProto")?;
                    self.sparse_tensor(s, s + l)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn function(&mut self, offset: u64, start: u64, end: u64) -> Result<(), OnnxError> {
        let mut function = Function {
            domain: String::new(),
            name: String::new(),
            offset,
        };
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                1 => function.name = self.string(&f, "FunctionProto")?,
                10 => function.domain = self.string(&f, "FunctionProto")?,
                7 => {
                    let (s, l) = len_of(&f, "FunctionProto")?;
                    self.node(f.offset, s, s + l, 2)?;
                }
                _ => {}
            }
        }
        self.count_item(offset)?;
        self.model.functions.push(function);
        Ok(())
    }

    fn node(&mut self, offset: u64, start: u64, end: u64, depth: u32) -> Result<(), OnnxError> {
        self.check_depth(depth, offset)?;
        self.model.node_count += 1;
        let (mut op_type, mut domain) = (String::new(), String::new());
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                4 => op_type = self.string(&f, "NodeProto")?,
                7 => domain = self.string(&f, "NodeProto")?,
                5 => {
                    let (s, l) = len_of(&f, "NodeProto")?;
                    self.attribute(s, s + l, depth + 1)?;
                }
                _ => {}
            }
        }
        let key = (domain, op_type);
        if let Some(&i) = self.kinds.get(&key) {
            if let Some(kind) = self.model.op_kinds.get_mut(i) {
                kind.count += 1;
            }
        } else {
            self.count_item(offset)?;
            self.kinds.insert(key.clone(), self.model.op_kinds.len());
            self.model.op_kinds.push(OpKind {
                domain: key.0,
                op_type: key.1,
                first_offset: offset,
                count: 1,
            });
        }
        Ok(())
    }

    fn attribute(&mut self, start: u64, end: u64, depth: u32) -> Result<(), OnnxError> {
        self.check_depth(depth, start)?;
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                5 | 10 => {
                    let (s, l) = len_of(&f, "AttributeProto")?;
                    self.tensor(f.offset, s, s + l)?;
                }
                6 | 11 => {
                    let (s, l) = len_of(&f, "AttributeProto")?;
                    self.graph(s, s + l, depth + 1)?;
                }
                22 | 23 => {
                    let (s, l) = len_of(&f, "AttributeProto")?;
                    self.sparse_tensor(s, s + l)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn sparse_tensor(&mut self, start: u64, end: u64) -> Result<(), OnnxError> {
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            if matches!(f.number, 1 | 2) {
                let (s, l) = len_of(&f, "SparseTensorProto")?;
                self.tensor(f.offset, s, s + l)?;
            }
        }
        Ok(())
    }

    fn tensor(&mut self, offset: u64, start: u64, end: u64) -> Result<(), OnnxError> {
        self.model.tensor_count += 1;
        let mut tensor = ExternalTensor {
            name: String::new(),
            entries: Vec::new(),
            marked_external: false,
            offset,
        };
        let mut fields = Fields::new(start, end);
        while let Some(f) = fields.next(&mut self.r)? {
            match f.number {
                8 => tensor.name = self.string(&f, "TensorProto")?,
                13 => {
                    let (s, l) = len_of(&f, "TensorProto")?;
                    let entry = self.string_entry(s, s + l)?;
                    self.count_item(f.offset)?;
                    tensor.entries.push(entry);
                }
                14 => tensor.marked_external = varint_of(&f, "TensorProto")? == 1,
                // raw_data (9) and the typed data fields are skipped by length.
                _ => {}
            }
        }
        if tensor.marked_external || !tensor.entries.is_empty() {
            self.count_item(offset)?;
            self.model.external_tensors.push(tensor);
        }
        Ok(())
    }
}

fn len_of(f: &Field, message: &'static str) -> Result<(u64, u64), OnnxError> {
    match f.value {
        Value::Len { start, len } => Ok((start, len)),
        _ => Err(OnnxError::WireType {
            offset: f.offset,
            field: f.number,
            message,
        }),
    }
}

fn varint_of(f: &Field, message: &'static str) -> Result<u64, OnnxError> {
    match f.value {
        Value::Varint(v) => Ok(v),
        _ => Err(OnnxError::WireType {
            offset: f.offset,
            field: f.number,
            message,
        }),
    }
}

/// A minimal protobuf encoder for building test models.
#[cfg(test)]
pub(crate) mod build {
    /// Appends a varint.
    pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A varint field.
    pub(crate) fn int(number: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, u64::from(number) << 3);
        varint(&mut out, v);
        out
    }

    /// A length-delimited field.
    pub(crate) fn bytes(number: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, (u64::from(number) << 3) | 2);
        varint(&mut out, payload.len() as u64);
        out.extend_from_slice(payload);
        out
    }

    /// A string field.
    pub(crate) fn string(number: u32, s: &str) -> Vec<u8> {
        bytes(number, s.as_bytes())
    }

    /// Concatenates fields.
    pub(crate) fn msg(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// A node `{op_type, domain}`.
    pub(crate) fn node(op: &str, domain: &str) -> Vec<u8> {
        msg(&[string(4, op), string(7, domain)])
    }

    /// A tensor with external data entries.
    pub(crate) fn external_tensor(name: &str, location: &str) -> Vec<u8> {
        let entry = |k: &str, v: &str| bytes(13, &msg(&[string(1, k), string(2, v)]));
        msg(&[
            int(1, 4),
            int(2, 1),
            string(8, name),
            entry("location", location),
            entry("offset", "0"),
            entry("length", "16"),
            int(14, 1),
        ])
    }

    /// A model `{ir_version 8, opset "" 17, graph {nodes…, initializers…}}`.
    pub(crate) fn model(nodes: &[Vec<u8>], initializers: &[Vec<u8>]) -> Vec<u8> {
        let mut graph = Vec::new();
        for n in nodes {
            graph.extend(bytes(1, n));
        }
        graph.extend(string(2, "g"));
        for t in initializers {
            graph.extend(bytes(5, t));
        }
        msg(&[
            int(1, 8),
            string(2, "pytorch"),
            bytes(7, &graph),
            bytes(8, &msg(&[string(1, ""), int(2, 17)])),
        ])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::build::*;
    use super::*;

    fn parse(b: &[u8]) -> Result<OnnxModel, OnnxError> {
        read(&b, &Limits::default())
    }

    #[test]
    fn reads_nodes_opsets_and_external_data() {
        let raw = bytes(9, &[0u8; 4096]);
        let inline = msg(&[string(8, "w"), raw]);
        let m = model(
            &[
                node("Conv", ""),
                node("Conv", ""),
                node("Gelu", "com.microsoft"),
            ],
            &[inline, external_tensor("big", "weights.bin")],
        );
        assert!(sniff(&m));
        let p = parse(&m).unwrap();
        assert_eq!(p.ir_version, Some(8));
        assert_eq!(p.node_count, 3);
        assert_eq!(p.op_kinds.len(), 2);
        assert_eq!(p.op_kinds[0].count, 2);
        assert_eq!(p.op_kinds[1].domain, "com.microsoft");
        assert_eq!(p.tensor_count, 2);
        assert_eq!(p.external_tensors.len(), 1);
        assert_eq!(p.external_tensors[0].get("location"), Some("weights.bin"));
        assert!(p.external_tensors[0].marked_external);
    }

    #[test]
    fn subgraphs_and_functions_are_walked() {
        let inner = bytes(1, &node("Custom", "my.ops"));
        let attr = msg(&[string(1, "then_branch"), bytes(6, &inner)]);
        let if_node = msg(&[string(4, "If"), bytes(5, &attr)]);
        let mut m = model(&[if_node], &[]);
        let function = msg(&[
            string(1, "F"),
            string(10, "local"),
            bytes(7, &node("Relu", "")),
        ]);
        m.extend(bytes(25, &function));
        let p = parse(&m).unwrap();
        assert!(
            p.op_kinds
                .iter()
                .any(|k| k.domain == "my.ops" && k.op_type == "Custom")
        );
        assert_eq!(p.functions[0].name, "F");
        assert_eq!(p.functions[0].domain, "local");
    }

    #[test]
    fn depth_and_wire_errors() {
        // A graph nested through If attributes 100 times.
        let mut g = bytes(1, &node("Relu", ""));
        for _ in 0..100 {
            let attr = msg(&[string(1, "b"), bytes(6, &g)]);
            g = bytes(1, &msg(&[string(4, "If"), bytes(5, &attr)]));
        }
        let m = msg(&[int(1, 8), bytes(7, &g)]);
        assert!(matches!(parse(&m), Err(OnnxError::TooDeep { .. })));
        let m = msg(&[int(1, 8), int(7, 3)]);
        assert!(matches!(
            parse(&m),
            Err(OnnxError::WireType { field: 7, .. })
        ));
        let mut m = model(&[], &[]);
        m.push(0x0b);
        assert!(matches!(
            parse(&m),
            Err(OnnxError::Wire(ProtobufError::BadWireType { .. }))
        ));
    }

    #[test]
    fn item_limit() {
        let nodes: Vec<Vec<u8>> = (0..20).map(|i| node(&format!("Op{i}"), "x")).collect();
        let m = model(&nodes, &[]);
        let limits = Limits {
            max_onnx_items: 5,
            ..Limits::default()
        };
        assert!(matches!(
            read(&m.as_slice(), &limits),
            Err(OnnxError::TooMany { .. })
        ));
    }

    #[test]
    fn sniff_rejects_text_json_and_random() {
        assert!(!sniff(b"{\"ir_version\": 8}"));
        assert!(!sniff(b"hello world"));
        assert!(!sniff(&[0x08]));
        assert!(!sniff(&[0x08, 0x08]));
        assert!(!sniff(&[0x08, 0x07, 0xff, 0xff]));
        assert!(!sniff(&[0x08, 0x07, 0x48, 0x01])); // field 9 is not a ModelProto field
        assert!(!sniff(&[0x08, 0x00, 0x12, 0x01, b'x'])); // ir_version 0
        assert!(!sniff(&[0x08, 0x07, 0x12, 0x02, 0xff, 0xfe])); // producer_name not UTF-8
        // A truncated prefix of a large graph field still sniffs.
        let mut m = msg(&[int(1, 7), string(2, "onnx")]);
        m.extend([0x3a, 0xff, 0xff, 0x01, 0x0a]);
        assert!(sniff(&m));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = read(&bytes.as_slice(), &Limits::default());
            let _ = sniff(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_model(pos in 0usize..120, byte in any::<u8>()) {
            let mut m = model(&[node("Conv", ""), node("X", "y")], &[external_tensor("t", "w.bin")]);
            if let Some(b) = m.get_mut(pos) {
                *b = byte;
            }
            let _ = read(&m.as_slice(), &Limits::default());
            let _ = sniff(&m);
        }
    }
}
