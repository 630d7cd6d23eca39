//! Raw data that follows pickle opcodes in known layouts: joblib's array data after each
//! `NumpyArrayWrapper`, and the storages after a legacy `torch.save` file's five pickles.

use super::{Node, Step, Val, Vm};
use crate::pickle::disasm::Decoder;
use crate::pickle::input::Source;
use crate::pickle::{ErrorKind, Joblib, LegacyTorch, PickleError, Target, Trailing};

impl Vm<'_> {
    /// Recognises torch's `('storage', <storage type>, key, location, numel[, view])` and
    /// remembers the key's element size for legacy files.
    pub(super) fn torch_storage_pid(&mut self, pid: Val) -> bool {
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

    pub(super) fn dict_get(&self, dict: Val, key: &str) -> Option<Val> {
        let items = self.items_of(dict)?;
        items
            .chunks_exact(2)
            .find(|kv| self.str_of(kv[0]) == Some(key))
            .map(|kv| kv[1])
    }

    /// Skips the raw array bytes joblib wrote after a `NumpyArrayWrapper`, exactly as
    /// `NumpyArrayWrapper.read_array` reads them.
    pub(super) fn joblib_array<R: Source>(
        &mut self,
        dec: &mut Decoder<R>,
        at: u64,
        state: Val,
    ) -> Step {
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
        if size > 0 && size <= cap && crate::pickle::sniff(&probe[..n.min(size as usize)]) {
            let mut data = Vec::new();
            dec.input
                .skip_raw_keep(size, &mut data)
                .map_err(truncated)?;
            self.check_embedded_from(data_at, &data, true);
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
    pub(super) fn dtype_info(&self, dtype: Val) -> Option<(u64, bool)> {
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

    /// Walks the raw storage data after a legacy `torch.save`'s five pickles: for each key of
    /// the last pickle, an 8-byte little-endian element count and that many elements.
    pub(super) fn legacy_storages<R: Source>(&mut self, dec: &mut Decoder<R>, start: u64) {
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

    pub(super) fn trailing<R: Source>(&mut self, dec: &mut Decoder<R>, start: u64) {
        match dec.input.drain() {
            Ok(len) => self.out.trailing = Some(Trailing { offset: start, len }),
            Err(_) => self.fail(PickleError::new(start, ErrorKind::Io("read failed".into()))),
        }
    }
}

/// Element size of a torch storage class, by name.
pub(super) fn storage_element_size(name: &str) -> Option<u64> {
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
