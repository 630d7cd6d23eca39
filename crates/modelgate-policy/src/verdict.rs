//! The gate's answer: a tree mirroring the policy, each node met or unmet with the evidence that
//! satisfied it or the reasons it is not satisfied, plus rendering for the CLI.

use serde::Serialize;

use crate::config::Stage;

/// Most evidence or reason lines kept per node; the rest are counted in a final line.
pub const MAX_DETAILS: usize = 24;

/// One evaluated requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The policy keyword (`all_of`, `eval`, …), or `precondition`.
    pub kind: &'static str,
    /// What is required, in words.
    pub requirement: String,
    /// The requirement's path in the policy (empty for preconditions).
    pub path: String,
    /// The requirement's line in the policy, when known.
    pub line: Option<u64>,
    /// Whether it is met.
    pub met: bool,
    /// What satisfied it (which signature, log, approval, scan, promotion).
    pub evidence: Vec<String>,
    /// Why it is unmet; on a met node, the pieces that were offered but not counted.
    pub reasons: Vec<String>,
    /// Children of `all_of`/`any_of`, in policy order.
    pub children: Vec<Node>,
}

impl Node {
    pub(crate) fn new(
        kind: &'static str,
        requirement: String,
        path: String,
        line: Option<u64>,
    ) -> Node {
        Node {
            kind,
            requirement,
            path,
            line,
            met: false,
            evidence: Vec::new(),
            reasons: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Unmet leaves (requirements, not compositions) that keep this node from being met: none
    /// when it is met (an unmet alternative of a met `any_of` is not a failure).
    pub fn unmet_leaves(&self) -> usize {
        if self.met {
            0
        } else if self.children.is_empty() {
            1
        } else {
            self.children.iter().map(Node::unmet_leaves).sum()
        }
    }

    /// All leaves under and including this node.
    pub fn leaves(&self) -> usize {
        if self.children.is_empty() {
            1
        } else {
            self.children.iter().map(Node::leaves).sum()
        }
    }

    fn render(&self, depth: usize, out: &mut Vec<String>) {
        let indent = "  ".repeat(depth);
        let tag = if self.met { "[met]" } else { "[UNMET]" };
        let (first, second) = if self.met {
            (&self.evidence, &self.reasons)
        } else {
            (&self.reasons, &self.evidence)
        };
        let mut details = first.iter().chain(second.iter());
        match details.next() {
            Some(d) => out.push(format!("{indent}{tag} {} — {d}", self.requirement)),
            None => out.push(format!("{indent}{tag} {}", self.requirement)),
        }
        let pad = " ".repeat(tag.len() + 1);
        for d in details {
            out.push(format!("{indent}{pad}— {d}"));
        }
        for c in &self.children {
            c.render(depth + 1, out);
        }
    }
}

/// The gate's decision for one artifact and stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The artifact's name.
    pub artifact: String,
    /// Its manifest digest, as given.
    pub manifest_digest: String,
    /// The stage asked for.
    pub stage: Stage,
    /// When the evaluation was made (RFC 3339, from the `now` passed in).
    pub evaluated_at: String,
    /// Whether every precondition and requirement is met.
    pub met: bool,
    /// Checks that hold for every stage: a well-formed digest, not rejected, stage defined.
    pub preconditions: Vec<Node>,
    /// The stage's requirement tree; `None` when the policy does not define the stage.
    pub requirements: Option<Node>,
}

impl Verdict {
    /// Unmet preconditions and requirement leaves.
    pub fn unmet(&self) -> usize {
        self.preconditions.iter().filter(|n| !n.met).count()
            + self.requirements.as_ref().map_or(0, Node::unmet_leaves)
    }

    /// The verdict as indented text, one line per requirement and per further piece of
    /// evidence or reason: `[met] requirement — evidence` / `[UNMET] requirement — reason`.
    pub fn lines(&self) -> Vec<String> {
        let total = self.preconditions.len() + self.requirements.as_ref().map_or(0, Node::leaves);
        let head = if self.met {
            format!("all {total} requirements met")
        } else {
            format!("NOT MET: {} of {total} requirements unmet", self.unmet())
        };
        let mut out = vec![format!(
            "gate {} ({}) → {}: {head}",
            crate::evaluate::clean(&self.artifact),
            crate::evaluate::show_digest(&self.manifest_digest),
            self.stage
        )];
        for p in &self.preconditions {
            p.render(0, &mut out);
        }
        if let Some(r) = &self.requirements {
            r.render(0, &mut out);
        }
        out
    }
}

/// Collects details for a node, keeping at most [`MAX_DETAILS`] and counting the rest.
#[derive(Default)]
pub(crate) struct Details {
    kept: Vec<String>,
    dropped: usize,
}

impl Details {
    pub(crate) fn push(&mut self, s: String) {
        if self.kept.len() < MAX_DETAILS {
            self.kept.push(s);
        } else {
            self.dropped += 1;
        }
    }

    /// Puts `s` first; a kept line falls off the end when the cap is reached.
    pub(crate) fn push_front(&mut self, s: String) {
        self.kept.insert(0, s);
        if self.kept.len() > MAX_DETAILS {
            self.kept.pop();
            self.dropped += 1;
        }
    }

    pub(crate) fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!("… and {} more", self.dropped));
        }
        self.kept
    }
}
