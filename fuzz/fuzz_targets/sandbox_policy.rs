//! Sandbox policy files are operator input, but may be generated or copied from elsewhere:
//! parsing and validating any bytes must never panic, and an accepted policy must re-validate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_sandbox::Policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(policy) = Policy::from_yaml(text, None) {
            // Every accepted destination parses into a rule.
            assert_eq!(policy.host_rules().len(), policy.network.allow.len());
        }
    }
});
