//! Runs tests/relay/kamailio.sh (the test relay's start and stop) for the
//! relay test binaries and reads the `KEY=VALUE` lines it prints.

use std::collections::HashMap;
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/relay/kamailio.sh");

/// Runs `kamailio.sh ARGS`; panics with its stderr when it fails.
pub fn kamailio(args: &[&str]) -> HashMap<String, String> {
    let out = Command::new(SCRIPT)
        .args(args)
        .output()
        .expect("run kamailio.sh");
    assert!(
        out.status.success(),
        "kamailio.sh {args:?} failed (is kamailio installed? scripts/install-tools.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
