//! Times `scan_file` on one dataset file (for profiling the scanner without the CLI):
//! `cargo run --release -p modelgate-dataset --example scan_bench -- FILE`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scan_bench FILE");
        std::process::exit(2);
    };
    let start = Instant::now();
    match modelgate_dataset::scan_file(
        std::path::Path::new(&path),
        &modelgate_dataset::ScanOptions::default(),
    ) {
        Ok(scan) => {
            let secs = start.elapsed().as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let mb = scan.entry.size as f64 / 1e6;
            println!(
                "{} rows, {:.1} MB, {} findings, {secs:.3} s, {:.1} MB/s",
                scan.entry.rows,
                mb,
                scan.findings.len(),
                mb / secs
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
