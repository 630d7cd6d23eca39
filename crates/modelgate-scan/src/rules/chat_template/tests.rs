use modelgate_core::{Limits, Severity};

use super::*;
use crate::context::FindingSink;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../tests/fixtures/chat_templates/", $name)),
        )
    };
}

const BENIGN: &[(&str, &str)] = &[
    fixture!("llama-2-chat.jinja"),
    fixture!("llama-3.1-8b-instruct-tools.jinja"),
    fixture!("llama-3.2-3b-instruct-tools.jinja"),
    fixture!("mistral-nemo-instruct-2407-tools.jinja"),
    fixture!("mixtral-8x7b-instruct-v0.1.jinja"),
    fixture!("mistral-small-3.1-24b-instruct-2503.jinja"),
    fixture!("qwen2.5-instruct-tools.jinja"),
    fixture!("gemma-2-it.jinja"),
    fixture!("gemma-3-it.jinja"),
    fixture!("phi-3.5-mini-instruct.jinja"),
    fixture!("zephyr-7b-beta.jinja"),
    fixture!("deepseek-r1-distill-qwen-32b.jinja"),
    fixture!("chatml-generation.jinja"),
];

fn rules(template: &str) -> Vec<(RuleId, String)> {
    analyze(template)
        .into_iter()
        .map(|h| (h.rule, h.subject))
        .collect()
}

fn unsafe_subjects(template: &str) -> Vec<String> {
    analyze(template)
        .into_iter()
        .filter(|h| h.rule == RuleId::ChatTemplateUnsafe)
        .map(|h| h.subject)
        .collect()
}

#[test]
fn real_templates_produce_nothing() {
    for (name, template) in BENIGN {
        let hits = analyze(template);
        assert!(hits.is_empty(), "{name}: {hits:#?}");
    }
}

#[test]
fn llama_cpp_python_cve_2024_34359_template_is_critical() {
    // The proof of concept from the advisory, with a harmless command.
    let t = r#"{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}{{x()._module.__builtins__['__import__']('os').popen("echo harmless")}}{%endif%}{% endfor %}"#;
    let subjects = unsafe_subjects(t);
    for expected in [
        "__class__",
        "__base__",
        "__subclasses__",
        "__name__",
        "_module",
        "__builtins__",
        "__import__",
    ] {
        assert!(
            subjects.iter().any(|s| s == expected),
            "{expected} missing from {subjects:?}"
        );
    }
}

#[test]
fn classic_ssti_gadgets_are_critical() {
    let cases = [
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ cycler }}",
        "{{ joiner }}",
        "{{ request.application }}",
        "{{ config.items() }}",
        "{{ url_for.__globals__ }}",
        "{% set ns = namespace() %}{{ ns.__init__ }}",
        "{{ ()|attr('__cla' ~ 'ss__') }}",
        "{{ x|attr(name) }}",
        "{{ x[('__cla' + 'ss__')] }}",
        "{{ x['__class__'] }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ '{0[os]}'.format(x) }}",
        "{{ fmt.format(x) }}",
        "{{ messages|map(attribute='__class__')|list }}",
        "{{ messages|selectattr('_private') }}",
        "{{ ['__cla', 'ss__']|join }}",
        "{{ '%s%s'|format('__cla', 'ss__') }}",
        "{{ f.f_globals }}",
        "{{ x.mro() }}",
    ];
    for t in cases {
        let hits = analyze(t);
        assert!(
            hits.iter().any(|h| h.rule == RuleId::ChatTemplateUnsafe),
            "{t}: {hits:#?}"
        );
    }
}

#[test]
fn names_defined_by_the_template_are_not_gadgets() {
    assert!(analyze("{% set config = 1 %}{{ config }}").is_empty());
    assert!(analyze("{% for request in xs %}{{ request }}{% endfor %}").is_empty());
    assert!(analyze("{% macro greet(n) %}hi {{ n }}{% endmacro %}{{ greet('x') }}").is_empty());
}

#[test]
fn unusual_calls_are_medium_and_named() {
    let r = rules(
        "{{ messages|pprint }}{{ foo() }}{{ x.system() }}{{ x|attr('pop') }}{% include 'x' %}{{ '{} x'.format(y) }}",
    );
    let subjects: Vec<&str> = r.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        r.iter()
            .all(|(rule, _)| *rule == RuleId::ChatTemplateUnusual),
        "{r:?}"
    );
    for s in [
        "|pprint",
        "foo()",
        ".system()",
        "attr",
        "include",
        ".format()",
    ] {
        assert!(subjects.contains(&s), "{s} missing from {subjects:?}");
    }
}

#[test]
fn malformed_and_oversized_templates() {
    assert_eq!(
        rules("{% for m in messages %}{{ m }}")[0].0,
        RuleId::ChatTemplateMalformed
    );
    // A 5000-link attribute chain must not overflow the stack when parsed, walked or dropped.
    let deep = format!("{{{{ a{} }}}}", ".b".repeat(5000));
    assert_eq!(rules(&deep)[0].0, RuleId::ChatTemplateMalformed);
    let nested = format!("{}x{}", "{% if a %}".repeat(400), "{% endif %}".repeat(400));
    assert_eq!(rules(&nested)[0].0, RuleId::ChatTemplateMalformed);
    let concat = format!("{{{{ a{} }}}}", " ~ a".repeat(5000));
    assert_eq!(rules(&concat)[0].0, RuleId::ChatTemplateMalformed);
}

#[test]
fn generation_tags_are_blanked_keeping_offsets() {
    let t = "a{%- generation -%}b{% endgeneration %}c";
    let out = blank_generation_tags(t);
    assert_eq!(out.len(), t.len());
    assert!(out.starts_with("a{#") && out.ends_with("#}c"));
    assert_eq!(
        blank_generation_tags("{% if x %}{% generations %}"),
        "{% if x %}{% generations %}"
    );
}

#[test]
fn findings_carry_location_severity_and_evidence() {
    let limits = Limits::default();
    let mut sink = FindingSink::default();
    let mut ctx = Ctx::new(
        &limits,
        Location::file("m.gguf"),
        "m.gguf".into(),
        None,
        &mut sink,
    );
    check(&mut ctx, "{{ lipsum.__globals__ }}", Some(1234));
    let f = &sink.findings;
    assert!(f.iter().all(|f| f.severity == Severity::Critical));
    assert!(
        f.iter().any(|f| f.location.offset == Some(1234 + 3)),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|f| f.evidence.as_deref() == Some("lipsum.__globals__")),
        "{f:#?}"
    );
    let limits = Limits {
        max_template_bytes: 4,
        ..Limits::default()
    };
    let mut sink = FindingSink::default();
    let mut ctx = Ctx::new(
        &limits,
        Location::file("m.gguf"),
        "m.gguf".into(),
        None,
        &mut sink,
    );
    check(&mut ctx, "{{ messages }}", None);
    assert_eq!(sink.findings[0].rule, RuleId::LimitExceeded);
}

#[test]
fn format_field_detection() {
    assert!(format_reaches_attributes("{0.__class__}"));
    assert!(format_reaches_attributes("{x[y]}"));
    assert!(!format_reaches_attributes("{} and {0} and {{0.x}}"));
}
