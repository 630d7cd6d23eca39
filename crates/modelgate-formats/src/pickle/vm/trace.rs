//! Feeding the decompiler: statements for imports, calls, mutations and results.

use super::{Node, Val, Vm};
use crate::pickle::Usage;

impl Vm<'_> {
    pub(super) fn trace_stop(&mut self, result: Val) {
        if self.trace.is_some() {
            let text = self.render(result);
            if let Some(trace) = self.trace.as_mut() {
                trace.stop(&text);
            }
        }
    }

    pub(super) fn trace_import(&mut self, t: u32) {
        if self.trace.is_none() {
            return;
        }
        let target = self.target(t).cloned();
        if let (Some(trace), Some(target)) = (self.trace.as_mut(), target) {
            trace.import(&target);
        }
    }

    pub(super) fn trace_mutation(&mut self, target: Val, method: &str, items: &[Val]) {
        if self.trace.is_none() {
            return;
        }
        // Only objects built by calls get statements; literals render with their items.
        let var = match self.node(target) {
            Some(Node::Obj { var, .. }) => *var,
            _ => return,
        };
        let rendered: Vec<String> = items.iter().take(16).map(|&v| self.render(v)).collect();
        let line = match method {
            "__setitem__" if rendered.len() == 2 => {
                format!("_var{var}[{}] = {}", rendered[0], rendered[1])
            }
            "update" => {
                let pairs: Vec<String> = rendered.chunks(2).map(|kv| kv.join(": ")).collect();
                format!("_var{var}.update({{{}}})", pairs.join(", "))
            }
            _ => format!("_var{var}.{method}([{}])", rendered.join(", ")),
        };
        if let Some(trace) = self.trace.as_mut() {
            trace.line(line);
        }
    }

    pub(super) fn trace_call(
        &mut self,
        var: u32,
        usage: Usage,
        callee: Val,
        args: Val,
        kwargs: Option<Val>,
    ) {
        let f = self.render(callee);
        let a: Vec<String> = self.items_of(args).map_or_else(
            || vec![format!("*{}", self.render(args))],
            |items| items.iter().take(32).map(|&v| self.render(v)).collect(),
        );
        let kw = kwargs.map(|k| self.render(k));
        let line = match usage {
            Usage::NewObj => {
                let mut parts = vec![f.clone()];
                parts.extend(a);
                format!("_var{var} = {f}.__new__({})", parts.join(", "))
            }
            Usage::NewObjEx => {
                let mut parts = vec![f.clone()];
                parts.extend(a);
                if let Some(kw) = kw {
                    parts.push(format!("**{kw}"));
                }
                format!("_var{var} = {f}.__new__({})", parts.join(", "))
            }
            _ => format!("_var{var} = {f}({})", a.join(", ")),
        };
        if let Some(trace) = self.trace.as_mut() {
            trace.line(line);
        }
    }
}
