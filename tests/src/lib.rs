//! Shared helpers for Quire's end-to-end tests and benchmarks: finding the `quire` binary,
//! making data dirs and groups, and summarising timings.
#![warn(missing_docs)]

pub mod report;
pub mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use quire_store::DeviceId;
use quire_store::storage::DataDir;

/// The `quire` binary built alongside these tests (`QUIRE_BIN` overrides).
pub fn quire_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("QUIRE_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let mut dir = exe
        .parent()
        .expect("the test binary is in a folder")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("quire");
    assert!(
        bin.exists(),
        "`{}` is missing; build it with `cargo build -p quire` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// The device id of the data dir at `root`, as `quire` derives it from `device.key`.
pub fn device_of(root: &Path) -> anyhow::Result<DeviceId> {
    let data = DataDir::open(root)?;
    let secret = data.device_secret()?;
    let public = iroh_base::SecretKey::from_bytes(&secret).public();
    Ok(DeviceId::from_bytes(*public.as_bytes()))
}

/// Median, p99 and max of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Samples taken.
    pub n: usize,
    /// The middle sample.
    pub median_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
}

impl Summary {
    /// Summarises `samples` (at least one).
    pub fn of(samples: &[Duration]) -> Summary {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
        Summary {
            n: ms.len(),
            median_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: ms[ms.len() - 1],
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:.3} ms, p99 {:.3} ms, max {:.3} ms (n={})",
            self.median_ms, self.p99_ms, self.max_ms, self.n
        )
    }
}
