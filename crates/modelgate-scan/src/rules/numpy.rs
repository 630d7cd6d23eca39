//! NumPy `.npy` arrays (standalone, or members of an `.npz`).
//!
//! ## numpy-object-array (MG301)
//!
//! **What it does**: flags an array whose dtype is, or contains, `object` (`|O`). Its data is
//! a pickle stream, which is then scanned one level deeper as `<object array data>`.
//!
//! **Why is this bad**: `numpy.load(..., allow_pickle=True)` unpickles the data, running any
//! callable it names. Low on its own; the nested pickle scan reports what the pickle does.
//!
//! **Example**: `np.save("x.npy", np.array([Exploit()], dtype=object))`.
//!
//! **References**: CWE-502; CVE-2019-6446 (numpy `allow_pickle` default).
//!
//! ## numpy-malformed (MG302)
//!
//! **What it does**: flags a `.npy` whose magic, version, header length or header dict is
//! invalid, or whose data length differs from `product(shape) × itemsize`.
//!
//! **Why is this bad**: loaders reject or misread it; bytes beyond the declared array are
//! hidden from array-level tools.
//!
//! **Example**: `{'descr': '<f4', 'fortran_order': False, 'shape': (10,)}` followed by 12
//! bytes.
//!
//! **References**: CWE-20; NEP 1 (the `.npy` format).

use modelgate_core::{Finding, RuleId};
use modelgate_formats::npy::parse_header;
use modelgate_formats::{ByteSource, SubSource};

use crate::Ctx;

/// Scans a `.npy` array.
pub fn scan_npy(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let header = match parse_header(src, ctx.limits) {
        Ok(h) => h,
        Err(e) => {
            ctx.report_at(
                RuleId::NumpyMalformed,
                e.offset(),
                format!("{e}; numpy cannot load this array as written, do not trust it"),
            );
            return;
        }
    };
    let data_len = src.len().saturating_sub(header.data_offset);
    match header.data_len() {
        Ok(None) => {
            let descr = match &header.descr {
                modelgate_formats::npy::Descr::Scalar(s) => s.text.clone(),
                modelgate_formats::npy::Descr::Structured(_) => {
                    "structured with object fields".into()
                }
            };
            ctx.report(
                Finding::of(
                    RuleId::NumpyObjectArray,
                    ctx.at(0),
                    "object array: numpy.load(allow_pickle=True) unpickles its data; its pickle was \
                     scanned as `<object array data>`",
                )
                .with_evidence(format!("descr {descr}")),
            );
            if let Ok(window) = SubSource::new(src, header.data_offset, data_len) {
                crate::scan_nested(ctx, "<object array data>", &window);
            }
        }
        Ok(Some(expected)) if expected == data_len => {}
        Ok(Some(expected)) => ctx.report_at(
            RuleId::NumpyMalformed,
            header.data_offset,
            format!(
                "the header's shape {:?} × itemsize promises {expected} data bytes but {data_len} \
                 follow the header; the array is truncated or carries hidden bytes",
                header.shape
            ),
        ),
        Err(e) => ctx.report_at(RuleId::NumpyMalformed, e.offset(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use modelgate_core::Severity;
    use proptest::prelude::*;

    use super::*;
    use crate::rules::archive::tests::{npy_file, run};

    #[test]
    fn valid_numeric_array_is_clean() {
        let f = npy_file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
            &[0; 16],
        );
        assert!(run(&f, "w.npy").is_empty());
    }

    #[test]
    fn object_array_is_low_and_its_pickle_is_scanned() {
        let f = npy_file(
            "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
            b"\x80\x02N.",
        );
        let findings = run(&f, "o.npy");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, RuleId::NumpyObjectArray);
        assert_eq!(findings[0].severity, Severity::Low);
    }

    #[test]
    fn length_mismatch_and_bad_header() {
        let short = npy_file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
            &[0; 12],
        );
        let findings = run(&short, "s.npy");
        assert_eq!(findings[0].rule, RuleId::NumpyMalformed);
        assert_eq!(findings[0].location.offset, Some(128));
        let long = npy_file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
            &[0; 40],
        );
        assert_eq!(run(&long, "l.npy")[0].rule, RuleId::NumpyMalformed);
        let bad = npy_file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
            &[0; 4],
        );
        let findings = run(&bad, "b.npy");
        assert_eq!(findings[0].rule, RuleId::NumpyMalformed);
        assert!(findings[0].severity >= Severity::High);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&tail);
            let _ = run(&bytes, "p.npy");
        }
    }
}
