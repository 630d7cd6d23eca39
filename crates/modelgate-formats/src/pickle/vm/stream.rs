//! Running a whole stream: one pickle after another, then a known raw layout or trailing
//! bytes.

use modelgate_core::Limits;

use super::{Mode, Node, TORCH_LEGACY_MAGIC, Vm, limit};
use crate::pickle::decompile::Trace;
use crate::pickle::disasm::Decoder;
use crate::pickle::input::Source;
use crate::pickle::{Analysis, ErrorKind, Options, PickleError, PickleSummary};

/// Runs a whole stream: one or several pickles, then any known raw layout or trailing bytes.
pub(crate) fn run<R: Source>(
    reader: R,
    limits: &Limits,
    options: &Options<'_>,
    full: bool,
    trace: Option<Trace>,
) -> Analysis {
    let mode = if full { Mode::Full } else { Mode::Verify };
    let mut vm = Vm::new(limits, mode, options.should_stop);
    vm.trace = trace;
    let mut dec = Decoder::new(reader, limits);
    vm.run_stream(&mut dec);
    vm.out.bytes = dec.offset();
    vm.out
}

/// Like [`run`] but returns the machine, for the decompiler.
pub(crate) fn run_traced<R: Source>(reader: R, limits: &Limits, trace: Trace) -> (Analysis, Trace) {
    let mut vm = Vm::new(limits, Mode::Full, None);
    vm.trace = Some(trace);
    let mut dec = Decoder::new(reader, limits);
    vm.run_stream(&mut dec);
    vm.out.bytes = dec.offset();
    let trace = vm.trace.take().unwrap_or_default();
    (vm.out, trace)
}

impl Vm<'_> {
    pub(super) fn fail(&mut self, e: PickleError) {
        if e.is_limit() {
            if self.out.limit.is_none() {
                self.out.limit = Some(e);
            }
        } else if self.out.error.is_none() {
            self.out.error = Some(e);
        }
    }

    pub(super) fn run_stream<R: Source>(&mut self, dec: &mut Decoder<R>) {
        let mut legacy = false;
        loop {
            let start = dec.offset();
            let index = self.out.pickles.len();
            if index > 0 {
                match dec.input.at_end() {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(_) => {
                        self.fail(PickleError::new(start, ErrorKind::Io("read failed".into())));
                        return;
                    }
                }
                if legacy && index == 5 {
                    self.legacy_storages(dec, start);
                    return;
                }
                let mut peek = [0u8; 64];
                let n = dec.input.peek_into(&mut peek).unwrap_or(0);
                if !crate::pickle::sniff(&peek[..n]) {
                    self.trailing(dec, start);
                    return;
                }
                if index >= self.limits.max_pickles_per_stream {
                    self.fail(limit(start, "pickles per stream"));
                    return;
                }
            }
            if let Some(trace) = self.trace.as_mut() {
                trace.begin_pickle(index, start);
            }
            self.out.pickles.push(PickleSummary {
                start,
                protocol: None,
                stop: None,
            });
            let result = self.run_one(dec);
            let proto = self.proto;
            let saw = self.saw_proto;
            if let Some(p) = self.out.pickles.last_mut() {
                p.protocol = saw.then_some(proto);
            }
            match result {
                Ok(v) => {
                    if let Some(p) = self.out.pickles.last_mut() {
                        p.stop = Some(dec.offset().saturating_sub(1));
                    }
                    if index == 0 && self.mode == Mode::Full {
                        legacy = matches!(self.node(v), Some(Node::Long(l)) if l.value == Some(TORCH_LEGACY_MAGIC));
                        self.legacy = legacy;
                    }
                    if legacy && index == 4 {
                        let keys = self.items_of(v).map(|items| {
                            items
                                .iter()
                                .map(|&k| self.str_of(k).map(str::to_owned))
                                .collect()
                        });
                        self.legacy_keys = keys;
                    }
                    if self.mode != Mode::Full {
                        return;
                    }
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }
}
