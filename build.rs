//! Decodes IANA's registry CSV (assets/service-names-port-numbers.csv) with the `csv` crate
//! into the plain record list the program embeds, so that the program's one-time load only
//! splits text. The decoding is src/knowledge/csv_reader.rs, compiled here and in the program's
//! tests alike; what the rows mean is worked out by the program at load time.

// The record reader in the same file is for the program.
#[allow(dead_code)]
#[path = "src/knowledge/csv_reader.rs"]
mod csv_reader;

use std::path::PathBuf;

const REGISTRY_CSV: &str = "assets/service-names-port-numbers.csv";

fn main() {
    println!("cargo::rerun-if-changed={REGISTRY_CSV}");
    println!("cargo::rerun-if-changed=src/knowledge/csv_reader.rs");
    let csv = match std::fs::read_to_string(REGISTRY_CSV) {
        Ok(csv) => csv,
        Err(e) => fail(&format!("cannot read {REGISTRY_CSV} as UTF-8 text: {e}")),
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        fail("cargo did not set OUT_DIR");
    };
    let out = PathBuf::from(out_dir).join("iana-records.txt");
    if let Err(e) = std::fs::write(&out, csv_reader::encode(&csv)) {
        fail(&format!("cannot write {}: {e}", out.display()));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("build.rs: {message}");
    std::process::exit(1);
}
