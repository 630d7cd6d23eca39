//! ## MG403 `chat-template-unsafe`
//!
//! ### What it does
//! Parses a Jinja chat template (from GGUF metadata `tokenizer.chat_template[.<name>]` or a
//! repository's `tokenizer_config.json` / `chat_template.json`) with minijinja's parser — the
//! template is **never rendered** — and walks the syntax tree for server-side template injection
//! gadgets: attribute or item access to names starting with `_` (`__class__`, `__globals__`,
//! `__subclasses__`, `__mro__`, `__init__`, `__builtins__`, `__import__`, `_module`…) or to frame
//! and code internals (`f_globals`, `gi_frame`, `mro`…); references to Jinja/Flask globals that
//! lead to Python objects (`cycler`, `joiner`, `lipsum`, `self`, `config`, `request`, `url_for`,
//! `get_flashed_messages`) unless the template defines the name itself; `|attr(…)` with a
//! non-literal or underscore argument, and attribute-taking filters (`map`, `selectattr`, `sort`,
//! `groupby`…) given underscore attribute names; string building (`~`, `+`, `|format`, `|join`,
//! item subscripts) whose constant parts contain `__`; and `str.format`/`format_map` on strings
//! with `{0.attr}` / `{0[key]}` field access.
//!
//! ### Why is this bad?
//! Loaders render chat templates with Jinja2. llama-cpp-python rendered GGUF templates in a plain
//! (non-sandboxed) `jinja2.Environment`, so a template reaching `__globals__` ran arbitrary code
//! the moment a chat was formatted (CVE-2024-34359, "Llama Drama"). Sandboxed environments block
//! most of these gadgets, but not every consumer uses one, and no legitimate chat template needs
//! Python internals.
//!
//! ### Example
//! ```jinja
//! {{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read() }}
//! {{ ()|attr('__cla' ~ 'ss__') }}
//! ```
//!
//! ### References
//! - CWE-1336: Improper Neutralization of Special Elements Used in a Template Engine.
//! - CVE-2024-34359 / GHSA-56xg-wfcc-g829 (llama-cpp-python `Jinja2ChatFormatter`).
//! - Jinja2 sandbox documentation (`jinja2.sandbox`: unsafe attributes start with `_`).
//!
//! ## MG404 `chat-template-unusual`
//!
//! ### What it does
//! Reports calls to functions, methods and filters beyond those plain chat rendering uses
//! (`raise_exception`, `range`, `namespace`, `strftime_now`, template-defined macros; string
//! methods such as `strip`/`split`/`startswith`/`replace`; dict/list methods such as
//! `items`/`get`/`append`; the standard text filters such as `trim`/`tojson`/`length`/`join`),
//! and `include`/`import`/`extends`/`block` statements.
//!
//! ### Why is this bad?
//! An unfamiliar call is where a sandbox escape hides, and a template that loads other templates
//! depends on what the loader's environment makes available. It is not proof of an attack, so the
//! severity is medium: review the template.
//!
//! ### Example
//! ```jinja
//! {{ messages|attr('pop')() }}   {# a filter and a call chat templates never need #}
//! ```
//!
//! ### References
//! - CWE-1336; Hugging Face transformers `apply_chat_template` (`ImmutableSandboxedEnvironment`).
//!
//! ## MG411 `chat-template-malformed`
//!
//! ### What it does
//! Reports a template that does not parse as Jinja (or is too large or complex to analyse).
//!
//! ### Why is this bad?
//! A template that fails to parse cannot be checked, and loaders may fall back to a default
//! template or to another parser that accepts it differently.
//!
//! ### Example
//! ```jinja
//! {% for m in messages %}{{ m.content }}
//! ```
//!
//! ### References
//! - CWE-20: Improper Input Validation.

use std::collections::{BTreeSet, HashSet};

use minijinja::machinery::{self, Span, Token, ast};
use minijinja::syntax::SyntaxConfig;
use modelgate_core::{Finding, Location, RuleId};

use crate::Ctx;

/// Most tokens accepted inside one `{{ … }}` or `{% … %}` tag. Long chains (`a.b.b.b…`,
/// `x ~ x ~ x…`) build syntax trees as deep as they are long, and dropping or walking a very deep
/// tree recurses; real chat templates stay far below this.
const MAX_TOKENS_PER_TAG: usize = 1024;
/// Deepest syntax tree walked (statements and expressions together).
const MAX_WALK_DEPTH: u32 = 600;

/// Global functions chat templates use (Hugging Face defines `raise_exception` and
/// `strftime_now`; the rest are Jinja built-ins or loop/macro machinery).
const ALLOWED_FUNCTIONS: &[&str] = &[
    "raise_exception",
    "range",
    "namespace",
    "strftime_now",
    "dict",
    "len",
    "loop",
    "caller",
];

/// Methods on strings, dicts, lists and the loop object that chat templates use.
const ALLOWED_METHODS: &[&str] = &[
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "rsplit",
    "splitlines",
    "startswith",
    "endswith",
    "upper",
    "lower",
    "title",
    "capitalize",
    "replace",
    "count",
    "find",
    "rfind",
    "index",
    "join",
    "isdigit",
    "isalpha",
    "isalnum",
    "isspace",
    "removeprefix",
    "removesuffix",
    "items",
    "keys",
    "values",
    "get",
    "append",
    "extend",
    "pop",
    "insert",
    "update",
    "copy",
    "cycle",
];

/// Jinja built-in filters used for text and data shaping (everything but `attr`).
const ALLOWED_FILTERS: &[&str] = &[
    "abs",
    "batch",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
    "wordwrap",
];

/// Filters whose string arguments name attributes to read.
const ATTRIBUTE_FILTERS: &[&str] = &[
    "attr",
    "map",
    "selectattr",
    "rejectattr",
    "sort",
    "groupby",
    "sum",
    "unique",
    "min",
    "max",
    "join",
    "dictsort",
];

/// Globals that lead to Python objects in Jinja2 (`cycler`, `joiner`, `lipsum` are functions
/// whose `__globals__` reach `os`) or in Flask (`config`, `request`, `url_for`…); `self` is the
/// template reference used to reach the render context.
const GADGET_NAMES: &[&str] = &[
    "cycler",
    "joiner",
    "lipsum",
    "self",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
];

/// Attributes of frames, generators and functions that expose interpreter internals.
const DANGEROUS_ATTRS: &[&str] = &[
    "mro",
    "func_globals",
    "func_code",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_back",
    "f_code",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "cr_code",
    "ag_frame",
    "tb_frame",
    "tb_next",
    "co_code",
    "im_func",
    "im_self",
    "format_map",
];

/// Inspects a Jinja chat template (from GGUF metadata or `tokenizer_config.json`). `offset` is
/// the template's byte offset in the stream, when known.
pub fn check(ctx: &mut Ctx<'_>, template: &str, offset: Option<u64>) {
    let location = match offset {
        Some(offset) => ctx.at(offset),
        None => ctx.location().clone(),
    };
    check_at(ctx, template, &location, None);
}

/// [`check`] with an explicit location and an optional template name (for named templates such
/// as `tool_use`).
pub(crate) fn check_at(ctx: &mut Ctx<'_>, template: &str, location: &Location, name: Option<&str>) {
    let label = match name {
        Some(name) => format!("chat template `{name}`"),
        None => "chat template".to_owned(),
    };
    if template.len() as u64 > ctx.limits.max_template_bytes {
        let max = ctx.limits.max_template_bytes;
        ctx.report(Finding::new(
            RuleId::LimitExceeded,
            RuleId::LimitExceeded.default_severity(),
            location.clone(),
            format!(
                "{label} is {} bytes, over the {max}-byte limit; it was not checked — review it by hand",
                template.len()
            ),
        ));
        return;
    }
    for hit in analyze(template) {
        let rule = hit.rule;
        let message = match rule {
            RuleId::ChatTemplateUnsafe => format!(
                "{label} reaches Python internals via `{}` ({}); rendered outside a sandbox this runs arbitrary code — reject the model",
                hit.subject, hit.detail
            ),
            RuleId::ChatTemplateUnusual => format!(
                "{label} uses `{}` ({}), which plain chat rendering does not need; review the template and render it only in a sandboxed Jinja environment",
                hit.subject, hit.detail
            ),
            _ => format!(
                "{label} cannot be analysed: {}; loaders may fall back to other behaviour — fix or re-obtain the template",
                hit.detail
            ),
        };
        // For binary containers (GGUF) the template's bytes are in the file as-is: point at the
        // offending expression itself.
        let mut at = location.clone();
        if let (Some(base), Some(start)) = (at.offset, hit.start) {
            at.offset = Some(base.saturating_add(start));
        }
        let mut finding = Finding::of(rule, at, message).with_subject(hit.subject);
        if let Some(evidence) = hit.evidence {
            finding = finding.with_evidence(evidence);
        }
        ctx.report(finding);
    }
}

/// One thing the analysis found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Byte offset of the offending expression within the template.
    pub(crate) start: Option<u64>,
    pub(crate) rule: RuleId,
    pub(crate) subject: String,
    pub(crate) detail: String,
    pub(crate) evidence: Option<String>,
}

/// Parses `template` and returns what it finds, deduplicated by rule and subject, in source order.
pub(crate) fn analyze(template: &str) -> Vec<Hit> {
    let source = blank_generation_tags(template);
    if let Some(hit) = too_complex(&source) {
        return vec![hit];
    }
    let ast = match machinery::parse(&source, "chat_template", SyntaxConfig::default()) {
        Ok(ast) => ast,
        Err(e) => {
            let line = e
                .line()
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            return vec![Hit {
                start: None,
                rule: RuleId::ChatTemplateMalformed,
                subject: "syntax".to_owned(),
                detail: format!(
                    "Jinja syntax error{line}: {}",
                    e.detail().unwrap_or("invalid template")
                ),
                evidence: None,
            }];
        }
    };
    let mut walker = Walker {
        source: &source,
        hits: Vec::new(),
        seen: HashSet::new(),
        gadgets: Vec::new(),
        defined: BTreeSet::new(),
        too_deep: false,
    };
    walker.stmt(&ast, 0);
    let gadgets = std::mem::take(&mut walker.gadgets);
    for (name, span) in gadgets {
        if !walker.defined.contains(name) {
            walker.hit(
                RuleId::ChatTemplateUnsafe,
                name,
                "a Jinja/Flask global that leads to Python objects",
                span,
            );
        }
    }
    if walker.too_deep {
        walker.hits.push(Hit {
            start: None,
            rule: RuleId::ChatTemplateMalformed,
            subject: "nesting".to_owned(),
            detail: format!(
                "syntax tree deeper than {MAX_WALK_DEPTH} levels; the rest was not checked"
            ),
            evidence: None,
        });
    }
    walker.hits
}

/// Hugging Face registers a `{% generation %}…{% endgeneration %}` extension tag (assistant-token
/// masks); the parser does not know it, so those tags are blanked out (same length, so spans stay
/// valid) before parsing.
fn blank_generation_tags(template: &str) -> String {
    let mut out = template.to_owned();
    let bytes = template.as_bytes();
    let mut from = 0;
    while let Some(pos) = template.get(from..).and_then(|s| s.find("{%")) {
        let start = from + pos;
        let mut i = start + 2;
        let skip = |i: &mut usize, pred: fn(u8) -> bool| {
            while bytes.get(*i).is_some_and(|&b| pred(b)) {
                *i += 1;
            }
        };
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        skip(&mut i, |b| b.is_ascii_whitespace());
        let word_start = i;
        skip(&mut i, |b| b.is_ascii_alphabetic());
        let word = template.get(word_start..i).unwrap_or("");
        skip(&mut i, |b| b.is_ascii_whitespace());
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if matches!(word, "generation" | "endgeneration") && template.get(i..i + 2) == Some("%}") {
            let end = i + 2;
            let blank = format!("{{#{}#}}", " ".repeat(end - start - 4));
            out.replace_range(start..end, &blank);
            from = end;
        } else {
            from = start + 2;
        }
    }
    out
}

fn too_complex(source: &str) -> Option<Hit> {
    let mut in_tag = 0usize;
    for token in machinery::tokenize(source, false, SyntaxConfig::default()) {
        let Ok((token, _)) = token else {
            // The parser reports syntax errors with a better message.
            return None;
        };
        match token {
            Token::VariableStart | Token::BlockStart => in_tag = 0,
            _ => {
                in_tag += 1;
                if in_tag > MAX_TOKENS_PER_TAG {
                    return Some(Hit {
                        start: None,
                        rule: RuleId::ChatTemplateMalformed,
                        subject: "complexity".to_owned(),
                        detail: format!("a single tag has more than {MAX_TOKENS_PER_TAG} tokens"),
                        evidence: None,
                    });
                }
            }
        }
    }
    None
}

struct Walker<'s> {
    source: &'s str,
    hits: Vec<Hit>,
    seen: HashSet<(RuleId, String)>,
    gadgets: Vec<(&'s str, Span)>,
    defined: BTreeSet<&'s str>,
    too_deep: bool,
}

impl<'s> Walker<'s> {
    fn hit(&mut self, rule: RuleId, subject: &str, detail: &str, span: Span) {
        if !self.seen.insert((rule, subject.to_owned())) {
            return;
        }
        let excerpt = self
            .source
            .get(span.start_offset as usize..span.end_offset as usize)
            .unwrap_or_default();
        self.hits.push(Hit {
            start: Some(u64::from(span.start_offset)),
            rule,
            subject: subject.to_owned(),
            detail: format!(
                "{detail}, template line {}:{}",
                span.start_line,
                span.start_col + 1
            ),
            evidence: (!excerpt.is_empty()).then(|| excerpt.to_owned()),
        });
    }

    fn deeper(&mut self, depth: u32) -> bool {
        if depth > MAX_WALK_DEPTH {
            self.too_deep = true;
            return false;
        }
        true
    }

    fn define(&mut self, target: &ast::Expr<'s>) {
        match target {
            ast::Expr::Var(v) => {
                self.defined.insert(v.id);
            }
            ast::Expr::List(l) => l.items.iter().for_each(|e| self.define(e)),
            ast::Expr::Tuple(t) => t.items.iter().for_each(|e| self.define(e)),
            _ => {}
        }
    }

    fn stmts(&mut self, stmts: &[ast::Stmt<'s>], depth: u32) {
        for s in stmts {
            self.stmt(s, depth);
        }
    }

    fn stmt(&mut self, stmt: &ast::Stmt<'s>, depth: u32) {
        if !self.deeper(depth) {
            return;
        }
        let d = depth + 1;
        match stmt {
            ast::Stmt::Template(t) => self.stmts(&t.children, d),
            ast::Stmt::EmitExpr(e) => self.expr(&e.expr, d),
            ast::Stmt::EmitRaw(_) | ast::Stmt::Continue(_) | ast::Stmt::Break(_) => {}
            ast::Stmt::ForLoop(f) => {
                self.define(&f.target);
                self.expr(&f.target, d);
                self.expr(&f.iter, d);
                if let Some(filter) = &f.filter_expr {
                    self.expr(filter, d);
                }
                self.stmts(&f.body, d);
                self.stmts(&f.else_body, d);
            }
            ast::Stmt::IfCond(i) => {
                self.expr(&i.expr, d);
                self.stmts(&i.true_body, d);
                self.stmts(&i.false_body, d);
            }
            ast::Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.define(target);
                    self.expr(value, d);
                }
                self.stmts(&w.body, d);
            }
            ast::Stmt::Set(s) => {
                self.define(&s.target);
                self.expr(&s.target, d);
                self.expr(&s.expr, d);
            }
            ast::Stmt::SetBlock(s) => {
                self.define(&s.target);
                self.expr(&s.target, d);
                if let Some(filter) = &s.filter {
                    self.expr(filter, d);
                }
                self.stmts(&s.body, d);
            }
            ast::Stmt::AutoEscape(a) => {
                self.expr(&a.enabled, d);
                self.stmts(&a.body, d);
            }
            ast::Stmt::FilterBlock(f) => {
                self.expr(&f.filter, d);
                self.stmts(&f.body, d);
            }
            ast::Stmt::Block(b) => {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "block",
                    "a template-inheritance block",
                    b.span(),
                );
                self.stmts(&b.body, d);
            }
            ast::Stmt::Import(i) => {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "import",
                    "loads another template",
                    i.span(),
                );
                self.define(&i.name);
                self.expr(&i.expr, d);
            }
            ast::Stmt::FromImport(i) => {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "import",
                    "loads another template",
                    i.span(),
                );
                for (name, alias) in &i.names {
                    self.define(alias.as_ref().unwrap_or(name));
                }
                self.expr(&i.expr, d);
            }
            ast::Stmt::Extends(e) => {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "extends",
                    "loads another template",
                    e.span(),
                );
                self.expr(&e.name, d);
            }
            ast::Stmt::Include(i) => {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "include",
                    "loads another template",
                    i.span(),
                );
                self.expr(&i.name, d);
            }
            ast::Stmt::Macro(m) => {
                self.defined.insert(m.name);
                for arg in &m.args {
                    self.define(arg);
                }
                for default in &m.defaults {
                    self.expr(default, d);
                }
                self.stmts(&m.body, d);
            }
            ast::Stmt::CallBlock(c) => {
                self.call(&c.call, c.call.span(), d);
                for arg in &c.macro_decl.args {
                    self.define(arg);
                }
                self.stmts(&c.macro_decl.body, d);
            }
            ast::Stmt::Do(call) => self.call(&call.call, call.call.span(), d),
        }
    }

    fn args(&mut self, args: &[ast::CallArg<'s>], depth: u32) {
        for arg in args {
            match arg {
                ast::CallArg::Pos(e)
                | ast::CallArg::Kwarg(_, e)
                | ast::CallArg::PosSplat(e)
                | ast::CallArg::KwargSplat(e) => self.expr(e, depth),
            }
        }
    }

    fn expr(&mut self, expr: &ast::Expr<'s>, depth: u32) {
        if !self.deeper(depth) {
            return;
        }
        let d = depth + 1;
        match expr {
            ast::Expr::Var(v) => {
                if GADGET_NAMES.contains(&v.id) {
                    self.gadgets.push((v.id, v.span()));
                }
            }
            ast::Expr::Const(_) => {}
            ast::Expr::Slice(s) => {
                self.expr(&s.expr, d);
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part, d);
                }
            }
            ast::Expr::UnaryOp(u) => self.expr(&u.expr, d),
            ast::Expr::BinOp(b) => {
                if matches!(b.op, ast::BinOpKind::Concat | ast::BinOpKind::Add) {
                    let mut parts = String::new();
                    constants(expr, &mut parts, 0);
                    if parts.contains("__") {
                        self.hit(
                            RuleId::ChatTemplateUnsafe,
                            "string building",
                            "joins strings into an underscore name",
                            b.span(),
                        );
                    }
                }
                self.expr(&b.left, d);
                self.expr(&b.right, d);
            }
            ast::Expr::Compare(c) => {
                self.expr(&c.expr, d);
                for op in &c.ops {
                    self.expr(&op.expr, d);
                }
            }
            ast::Expr::IfExpr(i) => {
                self.expr(&i.test_expr, d);
                self.expr(&i.true_expr, d);
                if let Some(f) = &i.false_expr {
                    self.expr(f, d);
                }
            }
            ast::Expr::Filter(f) => {
                self.filter(f, f.span());
                if let Some(e) = &f.expr {
                    self.expr(e, d);
                }
                self.args(&f.args, d);
            }
            ast::Expr::Test(t) => {
                self.expr(&t.expr, d);
                self.args(&t.args, d);
            }
            ast::Expr::GetAttr(g) => {
                self.attribute(g.name, g.span());
                self.expr(&g.expr, d);
            }
            ast::Expr::GetItem(g) => {
                match &g.subscript_expr {
                    ast::Expr::Const(c) => {
                        if let Some(key) = c.value.as_str() {
                            self.attribute(key, g.span());
                        }
                    }
                    other => {
                        let mut parts = String::new();
                        constants(other, &mut parts, 0);
                        if parts.contains("__") {
                            self.hit(
                                RuleId::ChatTemplateUnsafe,
                                "string building",
                                "subscripts with a computed underscore name",
                                g.span(),
                            );
                        }
                    }
                }
                self.expr(&g.expr, d);
                self.expr(&g.subscript_expr, d);
            }
            ast::Expr::Call(c) => self.call(c, c.span(), d),
            ast::Expr::List(l) => l.items.iter().for_each(|e| self.expr(e, d)),
            ast::Expr::Tuple(t) => t.items.iter().for_each(|e| self.expr(e, d)),
            ast::Expr::Map(m) => {
                for e in m.keys.iter().chain(m.values.iter()) {
                    self.expr(e, d);
                }
            }
        }
    }

    fn attribute(&mut self, name: &str, span: Span) {
        if name.starts_with('_') || DANGEROUS_ATTRS.contains(&name) {
            self.hit(
                RuleId::ChatTemplateUnsafe,
                name,
                "reads a Python-internal attribute",
                span,
            );
        }
    }

    fn filter(&mut self, f: &ast::Filter<'s>, span: Span) {
        let name = f.name;
        let mut const_args = Vec::new();
        let mut non_literal = false;
        for arg in &f.args {
            let (ast::CallArg::Pos(e) | ast::CallArg::Kwarg(_, e)) = arg else {
                non_literal = true;
                continue;
            };
            match e {
                ast::Expr::Const(c) => {
                    if let Some(s) = c.value.as_str() {
                        const_args.push(s.to_owned());
                    }
                }
                _ => non_literal = true,
            }
        }
        if ATTRIBUTE_FILTERS.contains(&name)
            && let Some(bad) = const_args.iter().find(|a| {
                a.split('.')
                    .any(|p| p.starts_with('_') || DANGEROUS_ATTRS.contains(&p))
            })
        {
            let subject = format!("{name}({bad})");
            self.hit(
                RuleId::ChatTemplateUnsafe,
                &subject,
                "reads a Python-internal attribute through a filter",
                span,
            );
            return;
        }
        if name == "attr" {
            if non_literal {
                self.hit(
                    RuleId::ChatTemplateUnsafe,
                    "attr",
                    "reads an attribute whose name is computed",
                    span,
                );
            } else {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "attr",
                    "a filter that reads arbitrary attributes",
                    span,
                );
            }
            return;
        }
        if matches!(name, "format" | "join") {
            let mut parts = String::new();
            for arg in &f.args {
                if let ast::CallArg::Pos(e) | ast::CallArg::Kwarg(_, e) = arg {
                    constants(e, &mut parts, 0);
                }
            }
            if let Some(e) = &f.expr {
                constants(e, &mut parts, 0);
            }
            if parts.contains("__") {
                self.hit(
                    RuleId::ChatTemplateUnsafe,
                    "string building",
                    "formats or joins strings into an underscore name",
                    span,
                );
            }
        }
        if !ALLOWED_FILTERS.contains(&name) {
            let subject = format!("|{name}");
            self.hit(
                RuleId::ChatTemplateUnusual,
                &subject,
                "a filter outside the chat-rendering set",
                span,
            );
        }
    }

    fn call(&mut self, call: &ast::Call<'s>, span: Span, depth: u32) {
        match call.identify_call() {
            ast::CallType::Function(name) => {
                if !ALLOWED_FUNCTIONS.contains(&name)
                    && !self.defined.contains(name)
                    && !GADGET_NAMES.contains(&name)
                {
                    let subject = format!("{name}()");
                    self.hit(
                        RuleId::ChatTemplateUnusual,
                        &subject,
                        "a function outside the chat-rendering set",
                        span,
                    );
                }
            }
            ast::CallType::Method(receiver, name) => {
                if matches!(name, "format" | "format_map") {
                    let field_access = match receiver {
                        ast::Expr::Const(c) => {
                            c.value.as_str().is_some_and(format_reaches_attributes)
                        }
                        _ => true,
                    };
                    if field_access {
                        let subject = format!(".{name}()");
                        self.hit(
                            RuleId::ChatTemplateUnsafe,
                            &subject,
                            "str.format with attribute or item access in its fields",
                            span,
                        );
                    } else {
                        let subject = format!(".{name}()");
                        self.hit(RuleId::ChatTemplateUnusual, &subject, "str.format", span);
                    }
                } else if !ALLOWED_METHODS.contains(&name)
                    && !name.starts_with('_')
                    && !DANGEROUS_ATTRS.contains(&name)
                {
                    let subject = format!(".{name}()");
                    self.hit(
                        RuleId::ChatTemplateUnusual,
                        &subject,
                        "a method outside the chat-rendering set",
                        span,
                    );
                }
            }
            ast::CallType::Block(name) => {
                let subject = format!("self.{name}()");
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    &subject,
                    "renders a template block",
                    span,
                );
            }
            ast::CallType::Object(_) => {
                self.hit(
                    RuleId::ChatTemplateUnusual,
                    "computed call",
                    "calls the result of an expression",
                    span,
                );
            }
        }
        self.expr(&call.expr, depth);
        self.args(&call.args, depth);
    }
}

/// Appends the string constants of `expr` (through concatenation, lists and filters) to `out`.
fn constants(expr: &ast::Expr<'_>, out: &mut String, depth: u32) {
    if depth > MAX_WALK_DEPTH || out.len() > 4096 {
        return;
    }
    let d = depth + 1;
    match expr {
        ast::Expr::Const(c) => {
            if let Some(s) = c.value.as_str() {
                out.push_str(s);
            }
        }
        ast::Expr::BinOp(b) => {
            constants(&b.left, out, d);
            constants(&b.right, out, d);
        }
        ast::Expr::List(l) => l.items.iter().for_each(|e| constants(e, out, d)),
        ast::Expr::Tuple(t) => t.items.iter().for_each(|e| constants(e, out, d)),
        ast::Expr::Filter(f) => {
            if let Some(e) = &f.expr {
                constants(e, out, d);
            }
            for arg in &f.args {
                if let ast::CallArg::Pos(e) = arg {
                    constants(e, out, d);
                }
            }
        }
        _ => {}
    }
}

/// True when a `str.format` template has fields with attribute or item access (`{0.x}`,
/// `{a[k]}`), which read arbitrary attributes of the arguments.
fn format_reaches_attributes(s: &str) -> bool {
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or("");
        if after.starts_with('{') {
            rest = after.get(1..).unwrap_or("");
            continue;
        }
        let field_end = after.find(['}', ':', '!']).unwrap_or(after.len());
        let field = after.get(..field_end).unwrap_or("");
        if field.contains('.') || field.contains('[') {
            return true;
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests;
