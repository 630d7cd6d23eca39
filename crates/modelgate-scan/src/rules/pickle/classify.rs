//! Classifying a `module.name` a pickle imports: Python 2 name mapping as the unpickler does it
//! (`_compat_pickle`), then allowlist, dunder and attribute-path checks, denylist, and the
//! library tiers.

use super::allowlist::{
    HELPER_ROLES, LIBRARY_REBUILDER_CLASS_MODULES, LIBRARY_REBUILDERS, REBUILD_SAFE_PREFIXES, Role,
    SAFE, SAFE_PREFIXES,
};
use super::denylist::{
    DANGEROUS_FINAL_NAMES, DANGEROUS_MODULES, DANGEROUS_NAMES, DANGEROUS_SUBSTRINGS,
    DANGEROUS_TRAVERSAL_NAMES, DANGEROUS_WHEN_CALLED,
};

/// What a callable is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// On the allowlist: no finding.
    Safe,
    /// Executes code, imports, or does I/O: critical whatever the usage. The text says why.
    Dangerous(String),
    /// Dangerous when called, harmless as a reference.
    DangerousWhenCalled(String),
    /// Safe to rebuild from state, reported when called (`torch.nn.modules.*`).
    RebuildSafe,
    /// A library constructor that only rebuilds values: called → medium.
    LibraryRebuilder,
    /// Not on either list; the text, when present, notes something odd about the name.
    Unknown(Option<String>),
}

impl Class {
    /// `safe`, `dangerous`, … for explain output.
    pub fn label(&self) -> &'static str {
        match self {
            Class::Safe => "safe",
            Class::Dangerous(_) => "dangerous",
            Class::DangerousWhenCalled(_) => "dangerous when called",
            Class::RebuildSafe => "safe to rebuild",
            Class::LibraryRebuilder => "library rebuild",
            Class::Unknown(_) => "unknown",
        }
    }
}

/// Python 2 module names the unpickler maps (`_compat_pickle.IMPORT_MAPPING`, the entries that
/// matter for classification).
const IMPORT_MAPPING: &[(&str, &str)] = &[
    ("__builtin__", "builtins"),
    ("exceptions", "builtins"),
    ("copy_reg", "copyreg"),
    ("cPickle", "pickle"),
    ("commands", "subprocess"),
    ("thread", "_thread"),
    ("dummy_thread", "_dummy_thread"),
    ("Queue", "queue"),
    ("SocketServer", "socketserver"),
    ("ConfigParser", "configparser"),
    ("repr", "reprlib"),
    ("_winreg", "winreg"),
    ("xmlrpclib", "xmlrpc.client"),
    ("SimpleXMLRPCServer", "xmlrpc.server"),
    ("DocXMLRPCServer", "xmlrpc.server"),
    ("httplib", "http.client"),
    ("Cookie", "http.cookies"),
    ("cookielib", "http.cookiejar"),
    ("BaseHTTPServer", "http.server"),
    ("SimpleHTTPServer", "http.server"),
    ("CGIHTTPServer", "http.server"),
    ("urlparse", "urllib.parse"),
    ("robotparser", "urllib.robotparser"),
    ("urllib2", "urllib.request"),
    ("anydbm", "dbm"),
    ("whichdb", "dbm"),
    ("dbhash", "dbm.bsd"),
    ("dumbdbm", "dbm.dumb"),
    ("gdbm", "dbm.gnu"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("UserString", "collections"),
    ("StringIO", "io"),
    ("cStringIO", "io"),
    ("_abcoll", "collections.abc"),
    ("test.test_support", "test.support"),
];

/// `_compat_pickle.NAME_MAPPING` entries that change the module of a name.
type NamePair = (&'static str, &'static str);
const NAME_MAPPING: &[(NamePair, NamePair)] = &[
    (("__builtin__", "xrange"), ("builtins", "range")),
    (("__builtin__", "reduce"), ("functools", "reduce")),
    (("__builtin__", "intern"), ("sys", "intern")),
    (("__builtin__", "unichr"), ("builtins", "chr")),
    (("__builtin__", "unicode"), ("builtins", "str")),
    (("__builtin__", "long"), ("builtins", "int")),
    (("__builtin__", "basestring"), ("builtins", "str")),
    (("itertools", "izip"), ("builtins", "zip")),
    (("itertools", "imap"), ("builtins", "map")),
    (("itertools", "ifilter"), ("builtins", "filter")),
    (
        ("UserDict", "IterableUserDict"),
        ("collections", "UserDict"),
    ),
    (("whichdb", "whichdb"), ("dbm", "whichdb")),
    (("_socket", "fromfd"), ("socket", "fromfd")),
    (("exceptions", "StandardError"), ("builtins", "Exception")),
];

/// The name the unpickler resolves: Python 2 names mapped to Python 3. Applied whatever the
/// protocol (`CPython` maps only below protocol 3), so a Python 2 loader is covered too.
pub fn canonical(module: &str, name: &str) -> (String, String) {
    if let Some((_, (m, n))) = NAME_MAPPING
        .iter()
        .find(|((m, n), _)| *m == module && *n == name)
    {
        return ((*m).to_owned(), (*n).to_owned());
    }
    if let Some((_, m)) = IMPORT_MAPPING.iter().find(|(m, _)| *m == module) {
        return ((*m).to_owned(), name.to_owned());
    }
    (module.to_owned(), name.to_owned())
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn is_dunder(segment: &str) -> bool {
    segment.len() > 4 && segment.starts_with("__") && segment.ends_with("__")
}

fn plausible_identifier_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !seg.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// The top-level names of the dangerous modules (`os`, `subprocess`, …): an attribute of that
/// name anywhere in a dotted path reaches the module.
fn dangerous_module_name(segment: &str) -> Option<&'static str> {
    DANGEROUS_MODULES
        .iter()
        .find(|(m, _)| !m.contains('.') && *m == segment)
        .map(|(m, _)| *m)
}

/// Classifies a canonical (already mapped) `module.name`.
pub fn classify(module: &str, name: &str) -> Class {
    if SAFE.iter().any(|(m, n, _)| *m == module && *n == name) {
        return Class::Safe;
    }
    if LIBRARY_REBUILDERS
        .iter()
        .any(|(m, n, _)| *m == module && *n == name)
    {
        return Class::LibraryRebuilder;
    }
    let name_segments: Vec<&str> = name.split('.').collect();
    if let Some(d) = name_segments.iter().find(|s| is_dunder(s)) {
        return Class::Dangerous(format!(
            "the attribute `{d}` reaches interpreter internals (functions' globals, classes' subclasses)"
        ));
    }
    if let Some((_, _, why)) = DANGEROUS_NAMES
        .iter()
        .find(|(m, n, _)| *m == module && *n == name)
    {
        return Class::Dangerous((*why).to_owned());
    }
    let full = format!("{module}.{name}");
    if let Some((m, why)) = DANGEROUS_MODULES.iter().find(|(m, _)| under(&full, m)) {
        return Class::Dangerous(format!("`{m}`: {why}"));
    }
    if let Some((prefix, _, why)) = DANGEROUS_SUBSTRINGS.iter().find(|(p, subs, _)| {
        under(&full, p)
            && full
                .split('.')
                .any(|seg| subs.iter().any(|s| seg.to_ascii_lowercase().contains(s)))
    }) {
        return Class::Dangerous(format!("`{prefix}`: {why}"));
    }
    if name_segments.len() > 1 {
        // A dotted name is resolved attribute by attribute (protocol 4 `_getattribute`).
        for seg in &name_segments[..name_segments.len() - 1] {
            if let Some(m) = dangerous_module_name(seg) {
                return Class::Dangerous(format!(
                    "the dotted name reaches module `{m}` through an attribute"
                ));
            }
        }
        if let Some(seg) = name_segments
            .iter()
            .find(|s| DANGEROUS_FINAL_NAMES.contains(s) || DANGEROUS_TRAVERSAL_NAMES.contains(s))
        {
            return Class::Dangerous(format!(
                "the dotted name reaches `{seg}` through attribute access"
            ));
        }
        if name_segments.first().is_some_and(|first| {
            DANGEROUS_NAMES
                .iter()
                .any(|(m, n, _)| *m == module && n == first)
        }) {
            return Class::Dangerous("an attribute of a dangerous builtin".into());
        }
    }
    let last = name_segments.last().copied().unwrap_or(name);
    if let Some(m) = dangerous_module_name(last) {
        return Class::Dangerous(format!(
            "the name is module `{m}`, re-exported by `{module}`"
        ));
    }
    if DANGEROUS_FINAL_NAMES.contains(&last) {
        return Class::Dangerous(format!(
            "`{last}` re-exported by `{module}` is the code-execution primitive of the same name"
        ));
    }
    if let Some((_, _, why)) = DANGEROUS_WHEN_CALLED
        .iter()
        .find(|(m, n, _)| *m == module && *n == name)
    {
        return Class::DangerousWhenCalled((*why).to_owned());
    }
    if !plausible_identifier_path(module) || !plausible_identifier_path(name) {
        return Class::Unknown(Some(
            "the name contains characters no importable Python name has".into(),
        ));
    }
    if SAFE_PREFIXES.iter().any(|(p, _)| under(module, p)) && name_segments.len() == 1 {
        return Class::Safe;
    }
    if REBUILD_SAFE_PREFIXES.iter().any(|(p, _)| under(module, p)) && name_segments.len() == 1 {
        return Class::RebuildSafe;
    }
    let cython_unpickle = last.starts_with("__pyx_unpickle_");
    let rebuilder_class = name_segments.len() == 1
        && last.starts_with(|c: char| c.is_ascii_uppercase())
        && LIBRARY_REBUILDER_CLASS_MODULES
            .iter()
            .any(|(m, _)| *m == module);
    if cython_unpickle || rebuilder_class {
        return Class::LibraryRebuilder;
    }
    if name_segments.len() > 1 {
        return Class::Unknown(Some("dotted attribute path".into()));
    }
    Class::Unknown(None)
}

/// How a helper treats its first argument.
pub fn role(module: &str, name: &str) -> Option<Role> {
    if name.starts_with("__pyx_unpickle_") {
        return Some(Role::Rebuilds);
    }
    HELPER_ROLES
        .iter()
        .find(|(m, n, _)| *m == module && *n == name)
        .map(|(_, _, r)| *r)
}

/// Callables that deserialize their argument: an embedded pickle passed to one of these runs.
pub fn is_loader(module: &str, name: &str) -> bool {
    let loaders = [
        ("pickle", "loads"),
        ("pickle", "load"),
        ("pickle", "_loads"),
        ("pickle", "_load"),
        ("pickle", "Unpickler"),
        ("pickle", "_Unpickler"),
        ("_pickle", "loads"),
        ("_pickle", "load"),
        ("_pickle", "Unpickler"),
        ("dill", "loads"),
        ("dill", "load"),
        ("cloudpickle", "loads"),
        ("cloudpickle", "load"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("joblib", "load"),
        ("numpy", "load"),
        ("pandas", "read_pickle"),
        ("marshal", "loads"),
        ("shelve", "open"),
    ];
    loaders.iter().any(|(m, n)| *m == module && *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(m: &str, n: &str) -> Class {
        let (m, n) = canonical(m, n);
        classify(&m, &n)
    }

    #[test]
    fn python2_names_map_like_the_unpickler() {
        assert_eq!(
            canonical("__builtin__", "eval"),
            ("builtins".into(), "eval".into())
        );
        assert_eq!(
            canonical("copy_reg", "_reconstructor"),
            ("copyreg".into(), "_reconstructor".into())
        );
        assert_eq!(
            canonical("__builtin__", "reduce"),
            ("functools".into(), "reduce".into())
        );
        assert!(matches!(class("__builtin__", "eval"), Class::Dangerous(_)));
        assert!(matches!(
            class("commands", "getoutput"),
            Class::Dangerous(_)
        ));
        assert_eq!(class("copy_reg", "_reconstructor"), Class::Safe);
        assert_eq!(class("__builtin__", "set"), Class::Safe);
    }

    #[test]
    fn tiers() {
        assert_eq!(class("torch._utils", "_rebuild_tensor_v2"), Class::Safe);
        assert_eq!(class("numpy.dtypes", "Float32DType"), Class::Safe);
        assert!(matches!(class("os", "system"), Class::Dangerous(_)));
        assert!(matches!(class("os.path", "join"), Class::Dangerous(_)));
        assert!(matches!(class("posixpath", "join"), Class::Dangerous(_)));
        assert!(matches!(
            class("torch.serialization", "load"),
            Class::Dangerous(_)
        ));
        assert!(matches!(class("torch", "load"), Class::Dangerous(_)));
        assert!(matches!(
            class("torch._C", "_jit_script_compile"),
            Class::Dangerous(_)
        ));
        assert!(matches!(
            class("torch._C", "import_ir_module"),
            Class::Dangerous(_)
        ));
        assert_eq!(class("torch._C._nn", "gelu"), Class::Unknown(None));
        assert!(matches!(
            class("numpy", "memmap"),
            Class::DangerousWhenCalled(_)
        ));
        assert_eq!(
            class("torch.nn.modules.linear", "Linear"),
            Class::RebuildSafe
        );
        assert_eq!(class("sklearn.tree._tree", "Tree"), Class::LibraryRebuilder);
        assert_eq!(
            class("pandas._libs.tslibs.offsets", "Day"),
            Class::LibraryRebuilder
        );
        assert_eq!(
            class("pandas.core.indexes.base", "_new_Index"),
            Class::LibraryRebuilder
        );
        assert_eq!(class("pathlib._local", "PosixPath"), Class::Safe);
        assert!(matches!(
            class("pathlib._local", "Path.write_text"),
            Class::Dangerous(_)
        ));
        assert_eq!(
            class("joblib.numpy_pickle", "NDArrayWrapper"),
            Class::LibraryRebuilder
        );
        assert!(matches!(class("joblib", "load"), Class::Dangerous(_)));
        assert_eq!(
            class("sklearn._loss._loss", "CyHalfBinomialLoss"),
            Class::LibraryRebuilder
        );
        assert_eq!(
            class("sklearn.linear_model._logistic", "LogisticRegression"),
            Class::Unknown(None)
        );
        assert!(matches!(
            class("mod", "Name with space"),
            Class::Unknown(Some(_))
        ));
    }

    #[test]
    fn attribute_paths_and_reexports() {
        assert!(matches!(
            class("torch", "serialization.os.system"),
            Class::Dangerous(_)
        ));
        assert!(matches!(
            class("collections", "OrderedDict.__init__.__globals__"),
            Class::Dangerous(_)
        ));
        assert!(matches!(
            class("builtins", "getattr.__call__"),
            Class::Dangerous(_)
        ));
        assert!(matches!(class("mylib.utils", "os"), Class::Dangerous(_)));
        assert!(matches!(
            class("mylib.utils", "system"),
            Class::Dangerous(_)
        ));
        assert!(matches!(
            class("mylib", "helpers.subprocess.run"),
            Class::Dangerous(_)
        ));
        assert!(matches!(
            class("torch._utils", "_rebuild_tensor_v2.x"),
            Class::Unknown(Some(_))
        ));
    }
}
