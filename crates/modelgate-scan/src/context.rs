//! The scanning context handed to every rule: limits, where we are, how deep, and where
//! findings go.

use std::time::Instant;

use modelgate_core::{FileFormat, Finding, Limits, Location, RuleId, Severity};

/// Collects findings for one file, keeping at most `Limits::max_findings_per_file`.
#[derive(Debug, Default)]
pub(crate) struct FindingSink {
    pub(crate) findings: Vec<Finding>,
    pub(crate) dropped: u64,
    /// A more specific format found while scanning the top-level file (a zip that is a torch
    /// checkpoint, a pickle that is a joblib dump).
    pub(crate) refined_format: Option<FileFormat>,
}

/// What a rule needs to know about where it is running, and where it reports.
pub struct Ctx<'a> {
    /// The limits for this scan.
    pub limits: &'a Limits,
    location: Location,
    depth: u32,
    deadline: Option<Instant>,
    sink: &'a mut FindingSink,
    /// The file name (last path component) of the innermost stream, used by rules that care
    /// about well-known names such as `config.json`.
    name: String,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        limits: &'a Limits,
        location: Location,
        name: String,
        deadline: Option<Instant>,
        sink: &'a mut FindingSink,
    ) -> Self {
        Ctx {
            limits,
            location,
            depth: 0,
            deadline,
            sink,
            name,
        }
    }

    /// The location of the stream being scanned (file, and member chain if nested).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The location of the stream being scanned, at byte `offset`.
    pub fn at(&self, offset: u64) -> Location {
        self.location.clone().with_offset(offset)
    }

    /// The last path component of the stream being scanned (`config.json`, `data.pkl`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many containers deep we are (0 for a file on disk).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Names a more specific format for the file being scanned (only at depth 0: a member's
    /// format does not change the file's).
    pub fn refine_format(&mut self, format: FileFormat) {
        if self.depth == 0 {
            self.sink.refined_format = Some(format);
        }
    }

    /// Records a finding.
    pub fn report(&mut self, finding: Finding) {
        if self.sink.findings.len() < self.limits.max_findings_per_file {
            self.sink.findings.push(finding);
        } else {
            self.sink.dropped += 1;
        }
    }

    /// Records a finding of `rule` at its default severity at byte `offset`.
    pub fn report_at(&mut self, rule: RuleId, offset: u64, message: impl Into<String>) {
        let finding = Finding::of(rule, self.at(offset), message);
        self.report(finding);
    }

    /// Reports that analysis stopped at a limit: the file is not fully checked (fails closed).
    pub fn limit_exceeded(&mut self, offset: Option<u64>, what: impl std::fmt::Display) {
        let location = match offset {
            Some(offset) => self.at(offset),
            None => self.location.clone(),
        };
        self.report(Finding::new(
            RuleId::LimitExceeded,
            Severity::High,
            location,
            format!("analysis stopped: {what}; the rest of this stream was not checked"),
        ));
    }

    /// True once the per-file time budget is spent; long-running rules check this and stop with
    /// [`Ctx::limit_exceeded`].
    pub fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// A context for a member `member` nested inside the current stream, one level deeper.
    /// Returns `None` (after reporting `MG002`) when the nesting limit is reached.
    pub fn child(&mut self, member: &str) -> Option<Ctx<'_>> {
        if self.depth + 1 > self.limits.max_nesting_depth {
            let max = self.limits.max_nesting_depth;
            self.limit_exceeded(None, format!("containers nested deeper than {max} levels"));
            return None;
        }
        let name = member.rsplit('/').next().unwrap_or(member).to_owned();
        Some(Ctx {
            limits: self.limits,
            location: self.location.clone().with_member(member),
            depth: self.depth + 1,
            deadline: self.deadline,
            sink: self.sink,
            name,
        })
    }
}

/// Runs `rule` with a fresh context for a stream at `location` named `name`, under default
/// limits, and returns what it reported: the one harness every rule's tests use.
#[cfg(test)]
pub(crate) fn run_rule(
    location: Location,
    name: &str,
    rule: impl FnOnce(&mut Ctx<'_>),
) -> Vec<Finding> {
    let limits = Limits::default();
    let mut sink = FindingSink::default();
    let mut ctx = Ctx::new(&limits, location, name.to_owned(), None, &mut sink);
    rule(&mut ctx);
    sink.findings
}
