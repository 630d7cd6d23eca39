//! Callables a pickle may import and call without a finding: the tensor, storage, array and
//! container builders that PyTorch's `weights_only` unpickler (`torch/_weights_only_unpickler.py`:
//! `_get_allowed_globals`, `_tensor_rebuild_functions`, storage types, dtypes) and NumPy's own
//! pickles use, plus harmless standard-library value types that real checkpoints carry
//! (training arguments, timestamps, paths).
//!
//! An entry is safe because calling it with any arguments only builds a value: it runs no code
//! named by the pickle, imports nothing the pickle chooses, and does no I/O.

/// How a helper treats its first argument (a class or callable passed to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Rebuilds an instance of its first argument without calling it with the pickle's
    /// arguments (`copyreg._reconstructor(cls, base, state)`, `copyreg.__newobj__(cls)`,
    /// NumPy's `_reconstruct(subtype, …)`): the class is classified as *rebuilt*.
    Rebuilds,
    /// Calls its first argument with pickle-chosen arguments (torch's
    /// `_rebuild_from_type_v2(func, type, args, state)`): classified as *invoked*.
    Calls,
    /// Wraps its first argument for later calls (`functools.partial`): classified as
    /// *referenced*, or *invoked* when the wrapper itself is called (the stack machine
    /// resolves that).
    Wraps,
}

/// Exact `module.name` pairs (after Python 2 name mapping), with why they are safe.
pub(crate) const SAFE: &[(&str, &str, &str)] = &[
    // PyTorch tensors and parameters (torch._weights_only_unpickler._tensor_rebuild_functions).
    (
        "torch._utils",
        "_rebuild_tensor",
        "rebuilds a tensor over a storage",
    ),
    (
        "torch._utils",
        "_rebuild_tensor_v2",
        "rebuilds a tensor over a storage",
    ),
    (
        "torch._utils",
        "_rebuild_tensor_v3",
        "rebuilds a tensor over a storage",
    ),
    (
        "torch._utils",
        "_rebuild_parameter",
        "wraps a tensor as a Parameter",
    ),
    (
        "torch._utils",
        "_rebuild_parameter_with_state",
        "wraps a tensor as a Parameter",
    ),
    (
        "torch._utils",
        "_rebuild_sparse_tensor",
        "rebuilds a sparse tensor",
    ),
    (
        "torch._utils",
        "_rebuild_sparse_csr_tensor",
        "rebuilds a sparse tensor",
    ),
    (
        "torch._utils",
        "_rebuild_meta_tensor_no_storage",
        "rebuilds a meta tensor",
    ),
    (
        "torch._utils",
        "_rebuild_nested_tensor",
        "rebuilds a nested tensor",
    ),
    (
        "torch._utils",
        "_rebuild_wrapper_subclass",
        "rebuilds a tensor subclass shell",
    ),
    (
        "torch._utils",
        "_rebuild_device_tensor_from_numpy",
        "rebuilds a tensor from an array",
    ),
    (
        "torch._utils",
        "_rebuild_device_tensor_from_cpu_tensor",
        "moves a tensor",
    ),
    (
        "torch._utils",
        "_rebuild_qtensor",
        "rebuilds a quantized tensor",
    ),
    (
        "torch._utils",
        "_rebuild_xla_tensor",
        "rebuilds an XLA tensor",
    ),
    (
        "torch._utils",
        "_rebuild_mtia_tensor",
        "rebuilds an MTIA tensor",
    ),
    (
        "torch._tensor",
        "_rebuild_from_type",
        "rebuilds a tensor subclass (its function argument is classified)",
    ),
    (
        "torch._tensor",
        "_rebuild_from_type_v2",
        "rebuilds a tensor subclass (its function argument is classified)",
    ),
    ("torch.nn.parameter", "Parameter", "tensor wrapper"),
    ("torch.nn.parameter", "Buffer", "tensor wrapper"),
    (
        "torch.nn.parameter",
        "UninitializedParameter",
        "tensor placeholder",
    ),
    ("torch", "Tensor", "tensor class"),
    ("torch._tensor", "Tensor", "tensor class"),
    ("torch", "Size", "shape tuple"),
    ("torch", "device", "device name"),
    (
        "torch.serialization",
        "_get_layout",
        "looks a layout up by name",
    ),
    // Storage types (element types of persistent ids).
    ("torch", "DoubleStorage", "storage type"),
    ("torch", "FloatStorage", "storage type"),
    ("torch", "HalfStorage", "storage type"),
    ("torch", "BFloat16Storage", "storage type"),
    ("torch", "LongStorage", "storage type"),
    ("torch", "IntStorage", "storage type"),
    ("torch", "ShortStorage", "storage type"),
    ("torch", "CharStorage", "storage type"),
    ("torch", "ByteStorage", "storage type"),
    ("torch", "BoolStorage", "storage type"),
    ("torch", "ComplexDoubleStorage", "storage type"),
    ("torch", "ComplexFloatStorage", "storage type"),
    ("torch", "QUInt8Storage", "storage type"),
    ("torch", "QInt8Storage", "storage type"),
    ("torch", "QInt32Storage", "storage type"),
    ("torch", "QUInt4x2Storage", "storage type"),
    ("torch", "QUInt2x4Storage", "storage type"),
    ("torch", "UntypedStorage", "storage type"),
    ("torch", "TypedStorage", "storage type"),
    ("torch.storage", "UntypedStorage", "storage type"),
    ("torch.storage", "TypedStorage", "storage type"),
    ("torch.storage", "_UntypedStorage", "storage type"),
    // dtypes, layouts, memory formats, quantization schemes.
    ("torch", "float32", "dtype"),
    ("torch", "float", "dtype"),
    ("torch", "float64", "dtype"),
    ("torch", "double", "dtype"),
    ("torch", "float16", "dtype"),
    ("torch", "half", "dtype"),
    ("torch", "bfloat16", "dtype"),
    ("torch", "float8_e4m3fn", "dtype"),
    ("torch", "float8_e5m2", "dtype"),
    ("torch", "float8_e4m3fnuz", "dtype"),
    ("torch", "float8_e5m2fnuz", "dtype"),
    ("torch", "uint8", "dtype"),
    ("torch", "uint16", "dtype"),
    ("torch", "uint32", "dtype"),
    ("torch", "uint64", "dtype"),
    ("torch", "int8", "dtype"),
    ("torch", "int16", "dtype"),
    ("torch", "short", "dtype"),
    ("torch", "int32", "dtype"),
    ("torch", "int", "dtype"),
    ("torch", "int64", "dtype"),
    ("torch", "long", "dtype"),
    ("torch", "bool", "dtype"),
    ("torch", "complex32", "dtype"),
    ("torch", "complex64", "dtype"),
    ("torch", "cfloat", "dtype"),
    ("torch", "complex128", "dtype"),
    ("torch", "cdouble", "dtype"),
    ("torch", "quint8", "dtype"),
    ("torch", "qint8", "dtype"),
    ("torch", "qint32", "dtype"),
    ("torch", "quint4x2", "dtype"),
    ("torch", "quint2x4", "dtype"),
    ("torch", "strided", "layout"),
    ("torch", "sparse_coo", "layout"),
    ("torch", "sparse_csr", "layout"),
    ("torch", "sparse_csc", "layout"),
    ("torch", "sparse_bsr", "layout"),
    ("torch", "sparse_bsc", "layout"),
    ("torch", "_mkldnn", "layout"),
    ("torch", "jagged", "layout"),
    ("torch", "contiguous_format", "memory format"),
    ("torch", "channels_last", "memory format"),
    ("torch", "channels_last_3d", "memory format"),
    ("torch", "preserve_format", "memory format"),
    ("torch", "per_tensor_affine", "quantization scheme"),
    ("torch", "per_channel_affine", "quantization scheme"),
    ("torch", "per_tensor_symmetric", "quantization scheme"),
    ("torch", "per_channel_symmetric", "quantization scheme"),
    (
        "torch",
        "per_channel_affine_float_qparams",
        "quantization scheme",
    ),
    // NumPy arrays, dtypes, scalars and random state.
    (
        "numpy.core.multiarray",
        "_reconstruct",
        "rebuilds an ndarray shell (its subtype argument is classified)",
    ),
    (
        "numpy._core.multiarray",
        "_reconstruct",
        "rebuilds an ndarray shell (its subtype argument is classified)",
    ),
    (
        "numpy.core.multiarray",
        "scalar",
        "rebuilds a scalar from bytes",
    ),
    (
        "numpy._core.multiarray",
        "scalar",
        "rebuilds a scalar from bytes",
    ),
    (
        "numpy.core.numeric",
        "_frombuffer",
        "rebuilds an array from a buffer",
    ),
    (
        "numpy._core.numeric",
        "_frombuffer",
        "rebuilds an array from a buffer",
    ),
    ("numpy", "ndarray", "array class"),
    ("numpy", "dtype", "dtype"),
    ("numpy.core.multiarray", "dtype", "dtype"),
    ("numpy._core.multiarray", "dtype", "dtype"),
    ("numpy.ma.core", "_mareconstruct", "rebuilds a masked array"),
    ("numpy.ma.core", "MaskedArray", "masked array class"),
    ("numpy.matrixlib.defmatrix", "matrix", "matrix class"),
    ("numpy", "matrix", "matrix class"),
    (
        "numpy.random._pickle",
        "__randomstate_ctor",
        "rebuilds a RandomState by generator name",
    ),
    (
        "numpy.random._pickle",
        "__generator_ctor",
        "rebuilds a Generator by generator name",
    ),
    (
        "numpy.random._pickle",
        "__bit_generator_ctor",
        "rebuilds a bit generator by name",
    ),
    (
        "numpy.random.bit_generator",
        "__pyx_unpickle_SeedSequence",
        "rebuilds a SeedSequence",
    ),
    (
        "numpy.random.bit_generator",
        "SeedSequence",
        "seed sequence",
    ),
    ("numpy.random._mt19937", "MT19937", "bit generator"),
    ("numpy.random._pcg64", "PCG64", "bit generator"),
    ("numpy.random._pcg64", "PCG64DXSM", "bit generator"),
    ("numpy.random._philox", "Philox", "bit generator"),
    ("numpy.random._sfc64", "SFC64", "bit generator"),
    ("numpy.random.mtrand", "RandomState", "random state"),
    ("numpy.random._generator", "Generator", "random generator"),
    ("numpy", "bool_", "scalar type"),
    ("numpy", "int8", "scalar type"),
    ("numpy", "int16", "scalar type"),
    ("numpy", "int32", "scalar type"),
    ("numpy", "int64", "scalar type"),
    ("numpy", "uint8", "scalar type"),
    ("numpy", "uint16", "scalar type"),
    ("numpy", "uint32", "scalar type"),
    ("numpy", "uint64", "scalar type"),
    ("numpy", "float16", "scalar type"),
    ("numpy", "float32", "scalar type"),
    ("numpy", "float64", "scalar type"),
    ("numpy", "longdouble", "scalar type"),
    ("numpy", "complex64", "scalar type"),
    ("numpy", "complex128", "scalar type"),
    ("numpy", "str_", "scalar type"),
    ("numpy", "bytes_", "scalar type"),
    ("numpy", "object_", "scalar type"),
    ("numpy", "void", "scalar type"),
    ("numpy", "datetime64", "scalar type"),
    ("numpy", "timedelta64", "scalar type"),
    // joblib's array placeholders (their data is read by the stack machine, not by code).
    (
        "joblib.numpy_pickle",
        "NumpyArrayWrapper",
        "array placeholder; raw data follows",
    ),
    (
        "sklearn.externals.joblib.numpy_pickle",
        "NumpyArrayWrapper",
        "array placeholder (old sklearn-vendored joblib)",
    ),
    // Standard-library helpers and value types.
    (
        "copyreg",
        "_reconstructor",
        "rebuilds an instance (its class argument is classified)",
    ),
    (
        "copyreg",
        "__newobj__",
        "cls.__new__(cls) (its class argument is classified)",
    ),
    (
        "copyreg",
        "__newobj_ex__",
        "cls.__new__(cls, *args, **kwargs) (its class argument is classified)",
    ),
    (
        "functools",
        "partial",
        "wraps a callable; the wrapped callable is classified",
    ),
    (
        "_functools",
        "partial",
        "wraps a callable; the wrapped callable is classified",
    ),
    ("_codecs", "encode", "str to bytes (protocol 2 bytes)"),
    ("codecs", "encode", "str to bytes"),
    ("codecs", "decode", "bytes to str"),
    ("collections", "OrderedDict", "dict"),
    (
        "collections",
        "defaultdict",
        "dict; its factory is only called on lookups after load",
    ),
    ("collections", "Counter", "dict"),
    ("collections", "deque", "sequence"),
    ("collections", "UserDict", "dict"),
    ("collections", "UserList", "list"),
    ("collections", "UserString", "str"),
    ("builtins", "set", "container"),
    ("builtins", "frozenset", "container"),
    ("builtins", "list", "container"),
    ("builtins", "dict", "container"),
    ("builtins", "tuple", "container"),
    ("builtins", "bytearray", "bytes"),
    ("builtins", "bytes", "bytes"),
    ("builtins", "str", "text"),
    ("builtins", "int", "number"),
    ("builtins", "float", "number"),
    ("builtins", "bool", "boolean"),
    ("builtins", "complex", "number"),
    ("builtins", "slice", "slice"),
    ("builtins", "range", "range"),
    ("builtins", "object", "base class"),
    ("builtins", "NoneType", "None's type"),
    ("builtins", "Ellipsis", "constant"),
    ("builtins", "NotImplemented", "constant"),
    ("datetime", "datetime", "timestamp"),
    ("datetime", "date", "date"),
    ("datetime", "time", "time"),
    ("datetime", "timedelta", "duration"),
    ("datetime", "timezone", "time zone"),
    ("decimal", "Decimal", "number"),
    ("fractions", "Fraction", "number"),
    ("uuid", "UUID", "identifier"),
    ("uuid", "SafeUUID", "enum"),
    ("argparse", "Namespace", "training arguments"),
    ("types", "SimpleNamespace", "attribute bag"),
    ("pathlib", "Path", "path value (no I/O on construction)"),
    ("pathlib", "PosixPath", "path value"),
    ("pathlib", "WindowsPath", "path value"),
    ("pathlib", "PurePath", "path value"),
    ("pathlib", "PurePosixPath", "path value"),
    ("pathlib", "PureWindowsPath", "path value"),
    (
        "pathlib._local",
        "Path",
        "path value (Python 3.13+ module of the path classes)",
    ),
    (
        "pathlib._local",
        "PosixPath",
        "path value (Python 3.13+ module of the path classes)",
    ),
    (
        "pathlib._local",
        "WindowsPath",
        "path value (Python 3.13+ module of the path classes)",
    ),
    (
        "pathlib._local",
        "PurePath",
        "path value (Python 3.13+ module of the path classes)",
    ),
    (
        "pathlib._local",
        "PurePosixPath",
        "path value (Python 3.13+ module of the path classes)",
    ),
    (
        "pathlib._local",
        "PureWindowsPath",
        "path value (Python 3.13+ module of the path classes)",
    ),
    ("re", "_compile", "compiled regular expression"),
    ("array", "array", "array"),
    ("array", "_array_reconstructor", "array"),
    ("ipaddress", "IPv4Address", "address value"),
    ("ipaddress", "IPv6Address", "address value"),
    ("ipaddress", "IPv4Network", "network value"),
    ("ipaddress", "IPv6Network", "network value"),
];

/// Module prefixes whose every member is a value type.
pub(crate) const SAFE_PREFIXES: &[(&str, &str)] =
    &[("numpy.dtypes", "NumPy 2 dtype classes (Float32DType, …)")];

/// Module prefixes whose classes are safe to *rebuild* from state (`NEWOBJ` + `BUILD`, what
/// `torch.save(model)` writes) but are reported when called with arguments.
pub(crate) const REBUILD_SAFE_PREFIXES: &[(&str, &str)] = &[
    (
        "torch.nn.modules",
        "PyTorch layers: __setstate__ only updates the instance dict",
    ),
    (
        "torch.optim",
        "PyTorch optimizers: __setstate__ only updates the instance dict",
    ),
];

/// Library constructors that real scikit-learn pickles call with arguments while only
/// rebuilding a value (Cython extension types restored from state). Reported as *rebuilt*
/// (`MG103` medium), not as unknown calls: their arguments are numbers and arrays.
pub(crate) const LIBRARY_REBUILDERS: &[(&str, &str, &str)] = &[
    ("sklearn.tree._tree", "Tree", "decision tree arrays"),
    (
        "sklearn.neighbors._kd_tree",
        "newObj",
        "Cython cls.__new__(cls)",
    ),
    (
        "sklearn.neighbors._ball_tree",
        "newObj",
        "Cython cls.__new__(cls)",
    ),
    (
        "sklearn.metrics._dist_metrics",
        "newObj",
        "Cython cls.__new__(cls)",
    ),
    // joblib < 0.10 wrote arrays to sibling files; on load the wrapper opens the file its state
    // names (relative to the pickle) with allow_pickle=True. The sibling is scanned on its own.
    (
        "joblib.numpy_pickle",
        "NDArrayWrapper",
        "joblib < 0.10 array in a sibling .npy named by its state",
    ),
    (
        "joblib.numpy_pickle",
        "ZNDArrayWrapper",
        "joblib < 0.10 array in a sibling zlib file named by its state",
    ),
    (
        "joblib.numpy_pickle_compat",
        "NDArrayWrapper",
        "joblib < 0.10 array in a sibling .npy named by its state",
    ),
    (
        "joblib.numpy_pickle_compat",
        "ZNDArrayWrapper",
        "joblib < 0.10 array in a sibling zlib file named by its state",
    ),
    (
        "sklearn.externals.joblib.numpy_pickle",
        "NDArrayWrapper",
        "old sklearn-vendored joblib sibling-file array",
    ),
    (
        "sklearn.externals.joblib.numpy_pickle",
        "ZNDArrayWrapper",
        "old sklearn-vendored joblib sibling-file array",
    ),
    // pandas values (DataFrames, indexes, timestamps) restore themselves through these.
    (
        "pandas._libs.internals",
        "_unpickle_block",
        "pandas block from an array",
    ),
    (
        "pandas.core.internals.managers",
        "BlockManager",
        "DataFrame block manager",
    ),
    (
        "pandas.core.internals.managers",
        "SingleBlockManager",
        "Series block manager",
    ),
    (
        "pandas.core.indexes.base",
        "_new_Index",
        "cls.__new__(cls, **state) for an Index (its class argument is classified)",
    ),
    (
        "pandas.core.indexes.datetimes",
        "_new_DatetimeIndex",
        "DatetimeIndex from state (its class argument is classified)",
    ),
    (
        "pandas.core.indexes.period",
        "_new_PeriodIndex",
        "PeriodIndex from state (its class argument is classified)",
    ),
    (
        "pandas._libs.tslibs.timestamps",
        "_unpickle_timestamp",
        "Timestamp from integers",
    ),
    (
        "pandas._libs.tslibs.timedeltas",
        "_timedelta_unpickle",
        "Timedelta from integers",
    ),
    ("pandas._libs.tslibs.nattype", "__nat_unpickle", "NaT"),
    ("pandas", "Period", "Period from ordinal and frequency"),
    ("pandas", "Timestamp", "timestamp"),
    ("pandas", "Timedelta", "duration"),
    ("pandas", "Interval", "interval"),
    ("pandas", "StringDtype", "dtype"),
    ("pandas", "CategoricalDtype", "dtype"),
    ("pandas", "IntervalDtype", "dtype"),
    ("pandas", "PeriodDtype", "dtype"),
    ("pandas", "DatetimeTZDtype", "dtype"),
];

/// Modules whose `CamelCase` classes real pickles call with arguments only to rebuild values
/// (Cython extension types, date offsets): treated like [`LIBRARY_REBUILDERS`].
pub(crate) const LIBRARY_REBUILDER_CLASS_MODULES: &[(&str, &str)] = &[
    (
        "sklearn._loss._loss",
        "Cython loss functions (CyHalfBinomialLoss, …)",
    ),
    (
        "pandas._libs.tslibs.offsets",
        "pandas date offsets (Day, MonthEnd, …)",
    ),
];

/// The role of helper callables (see [`Role`]).
pub(crate) const HELPER_ROLES: &[(&str, &str, Role)] = &[
    ("copyreg", "_reconstructor", Role::Rebuilds),
    ("copyreg", "__newobj__", Role::Rebuilds),
    ("copyreg", "__newobj_ex__", Role::Rebuilds),
    ("numpy.core.multiarray", "_reconstruct", Role::Rebuilds),
    ("numpy._core.multiarray", "_reconstruct", Role::Rebuilds),
    (
        "numpy.random._pickle",
        "__bit_generator_ctor",
        Role::Rebuilds,
    ),
    ("numpy.random._pickle", "__randomstate_ctor", Role::Rebuilds),
    ("numpy.random._pickle", "__generator_ctor", Role::Rebuilds),
    ("sklearn.neighbors._kd_tree", "newObj", Role::Rebuilds),
    ("sklearn.neighbors._ball_tree", "newObj", Role::Rebuilds),
    ("sklearn.metrics._dist_metrics", "newObj", Role::Rebuilds),
    ("torch._tensor", "_rebuild_from_type", Role::Calls),
    ("torch._tensor", "_rebuild_from_type_v2", Role::Calls),
    ("functools", "partial", Role::Wraps),
    ("_functools", "partial", Role::Wraps),
    ("pandas.core.indexes.base", "_new_Index", Role::Rebuilds),
    (
        "pandas.core.indexes.datetimes",
        "_new_DatetimeIndex",
        Role::Rebuilds,
    ),
    (
        "pandas.core.indexes.period",
        "_new_PeriodIndex",
        Role::Rebuilds,
    ),
];
